/** Routes, and the services every page shares (API client, session, who is signed in, API reachability). */
import { lazy, startTransition, Suspense, useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation, useNavigate } from "react-router";
import { ApiClient, ApiError } from "./api/client";
import { ServicesContext, useServices, type Me, type Services } from "./app/context";
import { SessionStore } from "./auth/session";
import { Layout } from "./components/Layout";
import { RequireRole } from "./components/RequireRole";
import { ErrorState, Loading } from "./components/States";
import type { RuntimeConfig } from "./config";
import SignIn from "./pages/SignIn";

// Each page is its own chunk: the first load is the frame and the sign-in page; charts come with the pages that draw them.
const Overview = lazy(() => import("./pages/Overview"));
const Users = lazy(() => import("./pages/Users"));
const UserDetail = lazy(() => import("./pages/UserDetail"));
const Usage = lazy(() => import("./pages/Usage"));
const Exports = lazy(() => import("./pages/Exports"));
const Settings = lazy(() => import("./pages/Settings"));
const Audit = lazy(() => import("./pages/Audit"));
const NotFound = lazy(() => import("./pages/NotFound"));

export function signInPath(location: { pathname: string; search: string }, expired = false): string {
  const params = new URLSearchParams();
  const here = location.pathname + location.search;
  if (here !== "/" && !location.pathname.startsWith("/sign-in")) params.set("next", here);
  if (expired) params.set("expired", "1");
  const query = params.toString();
  return query ? `/sign-in?${query}` : "/sign-in";
}

function ServicesProvider({ config, children, session }: { config: RuntimeConfig; children: ReactNode; session?: SessionStore }) {
  const navigate = useNavigate();
  const location = useLocation();
  const [me, setMe] = useState<Me | null>(null);
  const [apiDown, setApiDown] = useState<string | null>(null);
  const [expired, setExpired] = useState(false);
  const store = useMemo(() => session ?? new SessionStore(config.cognito), [config, session]);
  const api = useMemo(
    () =>
      new ApiClient(config.apiBase, store, {
        onSessionExpired: () => setExpired(true),
        onReachability: (reachable, message) => setApiDown(reachable ? null : (message ?? "Try again shortly.")),
      }),
    [config, store],
  );

  useEffect(() => {
    if (!expired) return;
    setExpired(false);
    setMe(null);
    if (!location.pathname.startsWith("/sign-in")) navigate(signInPath(location, true), { replace: true });
  }, [expired, location, navigate]);

  const signOut = useCallback(async () => {
    await store.signOut();
    // With the navigation, in one transition: otherwise the page re-renders signed out first and sends the next
    // person to sign in back to this user's page (?next=).
    startTransition(() => {
      setMe(null);
      navigate("/sign-in", { replace: true });
    });
  }, [store, navigate]);

  const services: Services = { config, api, session: store, me, setMe, signOut, apiDown };
  return <ServicesContext.Provider value={services}>{children}</ServicesContext.Provider>;
}

/** Signed-in pages: no session → sign in (and back here after); a session → who is this, from /api/me. */
function RequireSignIn({ children }: { children: ReactNode }) {
  const { session, me, setMe, api, signOut } = useServices();
  const location = useLocation();
  const [error, setError] = useState<Error | null>(null);
  const [attempt, setAttempt] = useState(0);
  const hasSession = session.current() !== null;

  useEffect(() => {
    if (!hasSession || me) return;
    let current = true;
    setError(null);
    api.get<Me>("/me").then(
      (answer) => current && setMe(answer),
      (caught: Error) => current && setError(caught),
    );
    return () => {
      current = false;
    };
  }, [hasSession, me, api, setMe, attempt]);

  if (!hasSession) return <Navigate to={signInPath(location)} replace />;
  if (error instanceof ApiError && error.status === 403) {
    return (
      <main id="main" className="narrow">
        <h1>No access</h1>
        <p>You are signed in, but your account is in neither the admins nor the finance group. Ask an admin to add you.</p>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </main>
    );
  }
  if (error) {
    return (
      <main id="main" className="narrow">
        <ErrorState error={error} onRetry={() => setAttempt((value) => value + 1)} />
      </main>
    );
  }
  if (!me) return <Loading label="Signing in…" />;
  return <>{children}</>;
}

export function AppRoutes() {
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/sign-in" element={<SignIn />} />
        <Route
          element={
            <RequireSignIn>
              <Layout />
            </RequireSignIn>
          }
        >
          <Route index element={<Overview />} />
          <Route path="users" element={<RequireRole role="admin"><Users /></RequireRole>} />
          <Route path="users/:userId" element={<RequireRole role="admin"><UserDetail /></RequireRole>} />
          <Route path="usage" element={<Usage />} />
          <Route path="exports" element={<Exports />} />
          <Route path="settings" element={<Settings />} />
          <Route path="audit" element={<RequireRole role="admin"><Audit /></RequireRole>} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </Suspense>
  );
}

export default function App({ config, session }: { config: RuntimeConfig; session?: SessionStore }) {
  return (
    <BrowserRouter>
      <ServicesProvider config={config} session={session}>
        <AppRoutes />
      </ServicesProvider>
    </BrowserRouter>
  );
}
