import { NotAuthorizedException } from "@aws-sdk/client-cognito-identity-provider";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import App, { signInPath } from "./App";
import { ApiClient } from "./api/client";
import { ServicesContext, type Me, type Services } from "./app/context";
import { SessionStore } from "./auth/session";
import { Layout } from "./components/Layout";
import type { RuntimeConfig } from "./config";
import { COGNITO, fakeCognito } from "./test/fixtures";

const CONFIG: RuntimeConfig = { apiBase: "/api", cognito: COGNITO };

const ADMIN: Me = { username: "ada", role: "admin", groups: ["admins"] };
const FINANCE: Me = { username: "fin", role: "finance", groups: ["finance"] };

/** The real SessionStore (localStorage) over a fake Cognito: sign-in always works, refreshes as `refresh` says. */
function cognitoStore(refresh: "works" | "refused" = "works") {
  let issued = 0;
  const { client, sent } = fakeCognito((command) => {
    if (command.name === "GlobalSignOutCommand") return {};
    if (command.input.AuthFlow === "REFRESH_TOKEN_AUTH" && refresh === "refused") {
      throw new NotAuthorizedException({ message: "Refresh Token has been revoked", $metadata: {} });
    }
    issued += 1;
    return { AuthenticationResult: { AccessToken: `access-${issued}`, RefreshToken: "refresh", ExpiresIn: 3600 } };
  });
  return { session: new SessionStore(CONFIG.cognito, window.localStorage, client), sent };
}

type Answer = Response | Error;

/** A global fetch over `answer(method, path)`; an Error rejects as fetch does when the API cannot be reached. */
function stubApi(answer: (method: string, path: string, headers: Headers) => Answer) {
  const calls: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), window.location.origin);
    const method = init.method ?? "GET";
    calls.push(`${method} ${url.pathname}`);
    const result = answer(method, url.pathname, new Headers(init.headers));
    if (result instanceof Error) throw result;
    return result;
  });
  return calls;
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function apiError(status: number, type: string, message: string) {
  return json({ error: { type, message, fields: [] } }, status);
}

/** /api/me answers `me`; the pages' own reads are not what these tests look at. */
function meIs(me: Me) {
  return (_method: string, path: string) => (path === "/api/me" ? json(me) : apiError(404, "not_found", "Not here"));
}

function here(): string {
  return window.location.pathname + window.location.search;
}

function open(url: string, session: SessionStore) {
  window.history.pushState({}, "", url);
  render(<App config={CONFIG} session={session} />);
  return userEvent.setup();
}

async function signIn(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByLabelText("Username"), "ada");
  await user.type(screen.getByLabelText("Password"), "correct horse battery");
  await user.click(screen.getByRole("button", { name: "Sign in" }));
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("signing in", () => {
  test("without a session a page sends the user to sign in, with the page as next, asking the API nothing", async () => {
    const calls = stubApi(meIs(ADMIN));
    const { session } = cognitoStore();
    open("/usage?from=2026-11-01&to=2026-11-07", session);

    expect(await screen.findByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(here()).toBe(`/sign-in?next=${encodeURIComponent("/usage?from=2026-11-01&to=2026-11-07")}`);
    expect(calls).toEqual([]);
  });

  test("the overview itself needs no next", async () => {
    stubApi(meIs(ADMIN));
    const { session } = cognitoStore();
    open("/", session);

    expect(await screen.findByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(here()).toBe("/sign-in");
  });

  test("signInPath keeps the page and its query, and marks an expiry", () => {
    expect(signInPath({ pathname: "/users", search: "?search=ada" })).toBe("/sign-in?next=%2Fusers%3Fsearch%3Dada");
    expect(signInPath({ pathname: "/users", search: "" }, true)).toBe("/sign-in?next=%2Fusers&expired=1");
    expect(signInPath({ pathname: "/", search: "" }, true)).toBe("/sign-in?expired=1");
    expect(signInPath({ pathname: "/sign-in", search: "?next=%2Fusers" })).toBe("/sign-in");
  });
});

describe("an expired session", () => {
  test.each([
    ["Cognito refuses the refresh", "refused" as const],
    ["the API refuses even the refreshed token", "works" as const],
  ])("when %s: back to sign-in with next and expired=1, and after signing in, back to the page", async (_, refresh) => {
    let apiAcceptsTokens = false;
    stubApi((_method, path) => {
      if (path !== "/api/me") return apiError(404, "not_found", "Not here");
      return apiAcceptsTokens ? json(ADMIN) : apiError(401, "authentication_error", "The access token is not valid");
    });
    const { session, sent } = cognitoStore(refresh);
    await session.signIn("ada", "old password");
    const user = open("/usage?from=2026-11-01&to=2026-11-07", session);

    expect(await screen.findByText("Your session has ended. Sign in again to continue where you were.")).toBeInTheDocument();
    expect(here()).toBe(`/sign-in?next=${encodeURIComponent("/usage?from=2026-11-01&to=2026-11-07")}&expired=1`);
    expect(session.current()).toBeNull();
    expect(sent.filter((command) => command.input.AuthFlow === "REFRESH_TOKEN_AUTH")).toHaveLength(1);

    apiAcceptsTokens = true;
    await signIn(user);

    expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
    expect(here()).toBe("/usage?from=2026-11-01&to=2026-11-07");
    expect(screen.queryByText(/Your session has ended/)).not.toBeInTheDocument();
  });
});

describe("an unreachable API", () => {
  test("reaching no API says so with a way to try again, not a blank page; once back, the page loads", async () => {
    let reachable = false;
    const calls = stubApi((method, path) => (reachable ? meIs(ADMIN)(method, path) : new TypeError("Failed to fetch")));
    const { session } = cognitoStore();
    await session.signIn("ada", "pw");
    const user = open("/settings", session);

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The admin API cannot be reached.");
    expect(here()).toBe("/settings");
    // Offline is not a sign-out: the session stays.
    expect(session.current()).not.toBeNull();

    reachable = true;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(calls.filter((call) => call === "GET /api/me")).toHaveLength(2);
  });

  test("a 503 from the API is told as unavailable too", async () => {
    stubApi(() => apiError(503, "unavailable", "The pool's signing keys cannot be reached; try again"));
    const { session } = cognitoStore();
    await session.signIn("ada", "pw");
    open("/", session);

    expect(await screen.findByRole("alert")).toHaveTextContent("The pool's signing keys cannot be reached; try again");
  });

  function renderLayout(apiDown: string | null) {
    const session = cognitoStore().session;
    const services: Services = {
      config: CONFIG,
      api: new ApiClient("/api", session, { onSessionExpired: () => undefined, onReachability: () => undefined }),
      session,
      me: ADMIN,
      setMe: () => undefined,
      signOut: async () => undefined,
      apiDown,
    };
    render(
      <ServicesContext.Provider value={services}>
        <MemoryRouter>
          <Routes>
            <Route element={<Layout />}>
              <Route index element={<h1>Overview</h1>} />
            </Route>
          </Routes>
        </MemoryRouter>
      </ServicesContext.Provider>,
    );
  }

  test("the frame shows a banner (role alert) while the API is down, above the page", () => {
    renderLayout("The admin API cannot be reached. Check your connection; the page will work again once it is back.");

    const banner = screen.getByRole("alert");
    expect(banner).toHaveTextContent("The admin API is unavailable. The admin API cannot be reached.");
    expect(screen.getByRole("heading", { level: 1, name: "Overview" })).toBeInTheDocument();
  });

  test("no banner while the API answers", () => {
    renderLayout(null);

    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});

describe("roles", () => {
  function navLinks() {
    return within(screen.getByRole("navigation", { name: "Main" }))
      .getAllByRole("link")
      .map((link) => link.textContent);
  }

  test("an admin's navigation has every page", async () => {
    stubApi(meIs(ADMIN));
    const { session } = cognitoStore();
    await session.signIn("ada", "pw");
    open("/", session);

    await screen.findByRole("navigation", { name: "Main" });
    expect(navLinks()).toEqual(["Overview", "Users", "Usage", "Exports", "Settings", "Audit log"]);
    expect(screen.getByText("ada")).toBeInTheDocument();
  });

  test("finance sees no Users or Audit log links, and /users is not available to them", async () => {
    stubApi(meIs(FINANCE));
    const { session } = cognitoStore();
    await session.signIn("fin", "pw");
    open("/users", session);

    expect(await screen.findByRole("heading", { level: 1, name: "Not available" })).toBeInTheDocument();
    expect(screen.getByText("This page is for admins only.")).toBeInTheDocument();
    expect(navLinks()).toEqual(["Overview", "Usage", "Exports", "Settings"]);
  });

  test.each(["/audit", "/users/usr_1"])("finance opening %s directly is told it is not available", async (path) => {
    stubApi(meIs(FINANCE));
    const { session } = cognitoStore();
    await session.signIn("fin", "pw");
    open(path, session);

    expect(await screen.findByRole("heading", { level: 1, name: "Not available" })).toBeInTheDocument();
  });

  test("signed in but in neither group (/api/me 403): a No access page that can sign out", async () => {
    stubApi((_method, path) => (path === "/api/me" ? apiError(403, "permission_error", "Not in the admins or finance group") : apiError(404, "not_found", "Not here")));
    const { session, sent } = cognitoStore();
    await session.signIn("nobody", "pw");
    const user = open("/", session);

    expect(await screen.findByRole("heading", { level: 1, name: "No access" })).toBeInTheDocument();
    expect(screen.queryByRole("navigation", { name: "Main" })).not.toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(here()).toBe("/sign-in");
    expect(session.current()).toBeNull();
    expect(sent.at(-1)).toEqual({ name: "GlobalSignOutCommand", input: { AccessToken: "access-1" } });
  });

});

describe("the frame", () => {
  test("signing out ends the session and shows the sign-in page", async () => {
    stubApi(meIs(ADMIN));
    const { session, sent } = cognitoStore();
    await session.signIn("ada", "pw");
    const user = open("/exports", session);

    await user.click(await screen.findByRole("button", { name: "Sign out" }));

    expect(await screen.findByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(window.location.pathname).toBe("/sign-in");
    expect(window.localStorage.length).toBe(0);
    expect(sent.at(-1)).toEqual({ name: "GlobalSignOutCommand", input: { AccessToken: "access-1" } });
  });

  test("an unknown address inside the app is a page-not-found with a way home", async () => {
    stubApi(meIs(ADMIN));
    const { session } = cognitoStore();
    await session.signIn("ada", "pw");
    open("/no-such-page", session);

    expect(await screen.findByRole("heading", { level: 1, name: "Page not found" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Go to the overview" })).toHaveAttribute("href", "/");
  });

  test("every API call carries the signed-in user's token", async () => {
    const tokens: (string | null)[] = [];
    stubApi((method, path, headers) => {
      tokens.push(headers.get("Authorization"));
      return meIs(ADMIN)(method, path);
    });
    const { session } = cognitoStore();
    await session.signIn("ada", "pw");
    open("/", session);

    await screen.findByRole("navigation", { name: "Main" });
    await waitFor(() => expect(tokens.length).toBeGreaterThan(0));
    expect(new Set(tokens)).toEqual(new Set(["Bearer access-1"]));
  });
});
