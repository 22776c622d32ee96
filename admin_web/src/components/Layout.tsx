/** The frame of every signed-in page: navigation by role, who is signed in, sign-out, the API-down banner. */
import { Suspense } from "react";
import { NavLink, Outlet, useLocation } from "react-router";
import { useServices, type Role } from "../app/context";
import { PageErrorBoundary } from "./PageErrorBoundary";
import { Loading } from "./States";

interface NavItem {
  to: string;
  label: string;
  roles: Role[];
}

export const NAV: NavItem[] = [
  { to: "/", label: "Overview", roles: ["admin", "finance"] },
  { to: "/users", label: "Users", roles: ["admin"] },
  { to: "/usage", label: "Usage", roles: ["admin", "finance"] },
  { to: "/exports", label: "Exports", roles: ["admin", "finance"] },
  { to: "/settings", label: "Settings", roles: ["admin", "finance"] },
  { to: "/audit", label: "Audit log", roles: ["admin"] },
];

export function Layout() {
  const { me, signOut, apiDown } = useServices();
  const location = useLocation();
  const items = NAV.filter((item) => me && item.roles.includes(me.role));
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Overspill</span>
        <nav aria-label="Main">
          <ul>
            {items.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} end={item.to === "/"}>
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          {me && (
            <span>
              {me.username} <span className="badge">{me.role}</span>
            </span>
          )}
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {apiDown && (
        <div className="banner banner-error" role="alert">
          <strong>The admin API is unavailable.</strong> {apiDown}
        </div>
      )}
      <main id="main" tabIndex={-1}>
        {/* Keyed by page: leaving a failed page clears its error. */}
        <PageErrorBoundary key={location.pathname}>
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </PageErrorBoundary>
      </main>
    </div>
  );
}
