/**
 * Renders a page inside the real providers (router, services, ApiClient) with a fake `fetch` that answers the
 * admin API's shapes, so component tests exercise the page's real requests and error handling.
 */
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { ApiClient } from "../api/client";
import { ServicesContext, type Me, type Role, type Services } from "../app/context";
import type { SessionStore } from "../auth/session";
import type { RuntimeConfig } from "../config";

export type FakeAnswer = unknown | { status: number; body?: unknown };
/** "METHOD /api/path" (no query) → a JSON body, `{status, body}`, or a function of the request. */
export type FakeRoutes = Record<string, FakeAnswer | ((request: Request) => FakeAnswer | Promise<FakeAnswer>)>;

export const TEST_CONFIG: RuntimeConfig = {
  apiBase: "/api",
  cognito: { region: "us-east-1", userPoolId: "us-east-1_test", clientId: "client", endpoint: null },
};

function isAnswer(value: unknown): value is { status: number; body?: unknown } {
  return typeof value === "object" && value !== null && "status" in value && typeof (value as { status: unknown }).status === "number" && Object.keys(value).every((key) => key === "status" || key === "body");
}

/** A fetch over `routes`; every request is recorded in `calls` (method, path with query, parsed JSON body). */
export function fakeFetch(routes: FakeRoutes) {
  const calls: { method: string; url: string; path: string; body: unknown; headers: Headers }[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(new URL(String(input), "http://dashboard.test"), init);
    const url = new URL(request.url);
    const text = init?.body ? String(init.body) : "";
    calls.push({ method: request.method, url: url.pathname + url.search, path: url.pathname, body: text ? JSON.parse(text) : undefined, headers: request.headers });
    const key = `${request.method} ${url.pathname}`;
    if (!(key in routes)) {
      return new Response(JSON.stringify({ error: { type: "not_found", message: `no fake for ${key}`, fields: [] } }), { status: 404 });
    }
    let answer = routes[key];
    if (typeof answer === "function") answer = await (answer as (request: Request) => FakeAnswer)(request);
    const { status, body } = isAnswer(answer) ? answer : { status: 200, body: answer };
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { fetchImpl: fetchImpl as typeof fetch, calls };
}

export function fakeSession(): SessionStore {
  return {
    current: () => ({ username: "tester", userPoolId: "p", clientId: "c", accessToken: "token", refreshToken: "r", expiresAt: Date.now() + 3_600_000 }),
    accessToken: async () => "token",
    clear: () => undefined,
    signOut: async () => undefined,
  } as unknown as SessionStore;
}

export function renderPage(
  page: ReactElement,
  options: { path?: string; route?: string; role?: Role; api?: FakeRoutes } = {},
): RenderResult & { calls: ReturnType<typeof fakeFetch>["calls"]; events: { expired: number; down: (string | null)[] } } {
  const { fetchImpl, calls } = fakeFetch(options.api ?? {});
  const events = { expired: 0, down: [] as (string | null)[] };
  const session = fakeSession();
  const api = new ApiClient(TEST_CONFIG.apiBase, session, {
    onSessionExpired: () => void (events.expired += 1),
    onReachability: (reachable, message) => void events.down.push(reachable ? null : (message ?? "down")),
  }, fetchImpl);
  const me: Me = { username: "tester", role: options.role ?? "admin", groups: [options.role === "finance" ? "finance" : "admins"] };
  const services: Services = { config: TEST_CONFIG, api, session, me, setMe: () => undefined, signOut: async () => undefined, apiDown: null };
  const result = render(
    <ServicesContext.Provider value={services}>
      <MemoryRouter initialEntries={[options.path ?? "/"]}>
        <Routes>
          <Route path={options.route ?? "*"} element={page} />
        </Routes>
      </MemoryRouter>
    </ServicesContext.Provider>,
  );
  return { ...result, calls, events };
}
