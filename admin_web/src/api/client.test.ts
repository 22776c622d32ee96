import { NotAuthorizedException, type CognitoIdentityProviderClient } from "@aws-sdk/client-cognito-identity-provider";
import { act, renderHook, waitFor } from "@testing-library/react";
import { createElement, type ReactNode } from "react";
import { ServicesContext, type Services } from "../app/context";
import { SessionExpiredError, SessionStore } from "../auth/session";
import type { RuntimeConfig } from "../config";
import { ApiClient, ApiError, ApiUnavailableError, idempotencyKey, withQuery } from "./client";
import { useApiAction, useApiQuery } from "./hooks";

const CONFIG: RuntimeConfig = {
  apiBase: "/api",
  cognito: { region: "eu-west-1", userPoolId: "eu-west-1_pool", clientId: "app-client", endpoint: null },
};

/** A real SessionStore over an in-memory storage and a Cognito that hands out access-1, access-2, … on refresh. */
async function signedIn(options: { refreshFails?: boolean } = {}) {
  const storage = new Map<string, string>();
  const storageApi = {
    getItem: (key: string) => storage.get(key) ?? null,
    setItem: (key: string, value: string) => void storage.set(key, value),
    removeItem: (key: string) => void storage.delete(key),
  } as Storage;
  const cognitoCalls: string[] = [];
  let issued = 0;
  const cognito = {
    send: async (command: { input: { AuthFlow?: string } }) => {
      cognitoCalls.push(command.input.AuthFlow ?? "other");
      if (command.input.AuthFlow === "REFRESH_TOKEN_AUTH" && options.refreshFails) {
        throw new NotAuthorizedException({ message: "Refresh Token has been revoked", $metadata: {} });
      }
      issued += 1;
      return { AuthenticationResult: { AccessToken: `access-${issued}`, RefreshToken: "refresh", ExpiresIn: 3600 } };
    },
  } as unknown as CognitoIdentityProviderClient;
  const session = new SessionStore(CONFIG.cognito, storageApi, cognito);
  await session.signIn("ada", "pw");
  cognitoCalls.length = 0;
  return { session, storage, cognitoCalls };
}

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A fetch answering each call in turn from `answers` (a Response, or an Error to reject with). */
function scriptedFetch(...answers: (Response | Error)[]) {
  const calls: Call[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({ url: String(input), method: init.method ?? "GET", headers: { ...(init.headers as Record<string, string>) }, body: init.body as string | undefined });
    const answer = answers.shift();
    if (!answer) throw new Error(`unexpected call to ${String(input)}`);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetchImpl: fetchImpl as typeof fetch, calls };
}

function json(status: number, body: unknown, statusText = "") {
  return new Response(JSON.stringify(body), { status, statusText, headers: { "Content-Type": "application/json" } });
}

function apiError(status: number, type: string, message: string, fields: { field: string; message: string }[] = []) {
  return json(status, { error: { type, message, fields } });
}

async function client(fetchImpl: typeof fetch, options: { refreshFails?: boolean } = {}) {
  const signedInSession = await signedIn(options);
  const events = { expired: 0, reachability: [] as [boolean, string | undefined][] };
  const api = new ApiClient(CONFIG.apiBase, signedInSession.session, {
    onSessionExpired: () => void (events.expired += 1),
    onReachability: (reachable, message) => void events.reachability.push([reachable, message]),
  }, fetchImpl);
  return { api, events, ...signedInSession };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("requests", () => {
  test("a GET carries the bearer token, the query, and no body", async () => {
    const { fetchImpl, calls } = scriptedFetch(json(200, { items: [], next_cursor: null }));
    const { api } = await client(fetchImpl);

    expect(await api.get("/users", { search: "ada lovelace", status: "", team: undefined, cursor: null, limit: 50 })).toEqual({ items: [], next_cursor: null });
    expect(calls).toEqual([{ url: "/api/users?search=ada+lovelace&limit=50", method: "GET", headers: { Authorization: "Bearer access-1" }, body: undefined }]);
  });

  test("a POST sends JSON with its content type and the caller's headers (an Idempotency-Key)", async () => {
    const { fetchImpl, calls } = scriptedFetch(json(201, { user_id: "usr_1" }));
    const { api } = await client(fetchImpl);
    const key = idempotencyKey();

    await api.post("/users", { email: "ada@example.com", budget_usd: "150.5" }, key);

    expect(key["Idempotency-Key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(idempotencyKey()["Idempotency-Key"]).not.toBe(key["Idempotency-Key"]);
    expect(calls[0]).toEqual({
      url: "/api/users",
      method: "POST",
      headers: { Authorization: "Bearer access-1", "Content-Type": "application/json", "Idempotency-Key": key["Idempotency-Key"] },
      body: JSON.stringify({ email: "ada@example.com", budget_usd: "150.5" }),
    });
  });

  test("PUT, PATCH and DELETE use their methods; a 204 answers undefined", async () => {
    const { fetchImpl, calls } = scriptedFetch(json(200, {}), json(200, {}), new Response(null, { status: 204 }));
    const { api } = await client(fetchImpl);

    await api.put("/teams", { team: "data", version: 1 });
    await api.patch("/users/usr_1", { version: 3, team: "data" });
    expect(await api.delete("/users/usr_1")).toBeUndefined();
    expect(calls.map((call) => `${call.method} ${call.url}`)).toEqual(["PUT /api/teams", "PATCH /api/users/usr_1", "DELETE /api/users/usr_1"]);
    expect(calls[2].body).toBeUndefined();
  });
});

describe("refusals", () => {
  test("the API's error body becomes an ApiError with its fields, nested names included", async () => {
    const { fetchImpl } = scriptedFetch(
      apiError(422, "invalid_request", "The request is not valid: email: string should match pattern", [
        { field: "email", message: "string should match pattern" },
        { field: "budget.monthly_usd", message: "must be at least 0" },
      ]),
    );
    const { api, events } = await client(fetchImpl);

    const error = await caught(api.post("/users", { email: "nope" }));

    expect(error).toBeInstanceOf(ApiError);
    const refusal = error as ApiError;
    expect([refusal.status, refusal.type, refusal.message]).toEqual([422, "invalid_request", "The request is not valid: email: string should match pattern"]);
    expect(refusal.fieldMessage("email")).toBe("string should match pattern");
    expect(refusal.fieldMessage("monthly_usd")).toBe("must be at least 0");
    expect(refusal.fieldMessage("team")).toBeUndefined();
    // A refusal still means the API was reached.
    expect(events.reachability).toEqual([[true, undefined]]);
  });

  test("a refusal without our error body (a proxy's HTML page) is described by its status", async () => {
    const { fetchImpl } = scriptedFetch(new Response("<html>Bad gateway</html>", { status: 500, statusText: "Internal Server Error" }));
    const { api } = await client(fetchImpl);

    const error = (await caught(api.get("/users"))) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.message, error.fields]).toEqual([500, "The admin API answered 500 Internal Server Error", []]);
  });
});

describe("an expired session", () => {
  test("a 401 forces one refresh and retries with the new token", async () => {
    const { fetchImpl, calls } = scriptedFetch(apiError(401, "authentication_error", "The access token has expired"), json(200, { username: "ada" }));
    const { api, events, cognitoCalls } = await client(fetchImpl);

    expect(await api.get("/me")).toEqual({ username: "ada" });
    expect(calls.map((call) => call.headers.Authorization)).toEqual(["Bearer access-1", "Bearer access-2"]);
    expect(cognitoCalls).toEqual(["REFRESH_TOKEN_AUTH"]);
    expect(events.expired).toBe(0);
  });

  test("two 401s clear the session and report it expired once", async () => {
    const { fetchImpl, calls } = scriptedFetch(apiError(401, "authentication_error", "Bad token"), apiError(401, "authentication_error", "Bad token"));
    const { api, events, session, storage } = await client(fetchImpl);

    const error = (await caught(api.get("/me"))) as ApiError;

    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(401);
    expect(calls).toHaveLength(2);
    expect(events.expired).toBe(1);
    expect(session.current()).toBeNull();
    expect(storage.size).toBe(0);
  });

  test("a 401 whose refresh Cognito refuses reports the session expired, without a second request", async () => {
    const { fetchImpl, calls } = scriptedFetch(apiError(401, "authentication_error", "Bad token"));
    const { api, events, session } = await client(fetchImpl, { refreshFails: true });

    expect(await caught(api.get("/me"))).toBeInstanceOf(SessionExpiredError);
    expect(calls).toHaveLength(1);
    expect(events.expired).toBe(1);
    expect(session.current()).toBeNull();
  });

  test("no session at all: expired, and nothing is sent", async () => {
    const { fetchImpl, calls } = scriptedFetch();
    const { api, events, session } = await client(fetchImpl);
    session.clear();

    expect(await caught(api.get("/me"))).toBeInstanceOf(SessionExpiredError);
    expect(calls).toEqual([]);
    expect(events.expired).toBe(1);
  });
});

describe("an unreachable API", () => {
  test("fetch failing is ApiUnavailableError, reported unreachable; the next success reports it back", async () => {
    const { fetchImpl } = scriptedFetch(new TypeError("Failed to fetch"), json(200, { ok: true }));
    const { api, events } = await client(fetchImpl);

    const error = await caught(api.get("/usage/overview"));
    expect(error).toBeInstanceOf(ApiUnavailableError);
    expect((error as Error).message).toMatch(/admin API cannot be reached/);
    expect(events.reachability).toEqual([[false, (error as Error).message]]);

    await api.get("/usage/overview");
    expect(events.reachability.at(-1)).toEqual([true, undefined]);
  });

  test.each([502, 503, 504])("a %i is ApiUnavailableError with the API's message, not a refusal", async (status) => {
    const { fetchImpl } = scriptedFetch(apiError(status, "unavailable", "The pool's signing keys cannot be reached; try again"));
    const { api, events } = await client(fetchImpl);

    const error = await caught(api.get("/me"));
    expect(error).toBeInstanceOf(ApiUnavailableError);
    expect(error).not.toBeInstanceOf(ApiError);
    expect((error as Error).message).toBe("The pool's signing keys cannot be reached; try again");
    expect(events.reachability).toEqual([[false, "The pool's signing keys cannot be reached; try again"]]);
  });
});

describe("withQuery", () => {
  test("drops empty values, keeps zero and false, and encodes the rest", () => {
    expect(withQuery("/api/audit", { actor: "", target: undefined, cursor: null, limit: 0, mine: false, search: "a&b=c" })).toBe(
      "/api/audit?limit=0&mine=false&search=a%26b%3Dc",
    );
  });

  test("a query with nothing left adds no '?'", () => {
    expect(withQuery("/api/users", { search: "", cursor: null })).toBe("/api/users");
    expect(withQuery("/api/users", undefined)).toBe("/api/users");
  });
});

describe("hooks", () => {
  function wrapperFor(api: ApiClient) {
    const services = { api } as Services;
    return ({ children }: { children: ReactNode }) => createElement(ServicesContext.Provider, { value: services }, children);
  }

  function deferred<T>() {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((done) => (resolve = done));
    return { promise, resolve };
  }

  test("useApiQuery: loading, then data; reload asks again", async () => {
    const api = {} as ApiClient;
    let answer = 0;
    const load = vi.fn(async () => ++answer);
    const { result } = renderHook(() => useApiQuery("users", load), { wrapper: wrapperFor(api) });

    expect(result.current.loading).toBe(true);
    await waitFor(() => expect(result.current.data).toBe(1));
    expect(load).toHaveBeenCalledWith(api);

    act(() => result.current.reload());
    await waitFor(() => expect(result.current.data).toBe(2));
    expect(result.current.loading).toBe(false);
  });

  test("useApiQuery: the newest key's answer wins over an older one arriving late", async () => {
    const answers: Record<string, ReturnType<typeof deferred<string>>> = { a: deferred(), b: deferred() };
    const { result, rerender } = renderHook(({ key }) => useApiQuery(key, () => answers[key].promise), {
      wrapper: wrapperFor({} as ApiClient),
      initialProps: { key: "a" },
    });

    rerender({ key: "b" });
    await act(async () => answers.b.resolve("answer for b"));
    await act(async () => answers.a.resolve("late answer for a"));

    expect(result.current.data).toBe("answer for b");
  });

  test("useApiQuery: a failure is the error; a null key loads nothing", async () => {
    const failure = new ApiError(404, "not_found", "No such user");
    const { result } = renderHook(() => useApiQuery("user", () => Promise.reject(failure)), { wrapper: wrapperFor({} as ApiClient) });
    await waitFor(() => expect(result.current.error).toBe(failure));
    expect(result.current.loading).toBe(false);

    const load = vi.fn();
    const idle = renderHook(() => useApiQuery(null, load), { wrapper: wrapperFor({} as ApiClient) });
    expect(idle.result.current.loading).toBe(false);
    expect(load).not.toHaveBeenCalled();
  });

  test("useApiAction: pending while running, the answer returned; a failure kept as error and cleared on request", async () => {
    const api = {} as ApiClient;
    const answer = deferred<string>();
    const action = vi.fn((_api: ApiClient, id: string) => (id === "bad" ? Promise.reject(new ApiError(409, "conflict", "Stale version")) : answer.promise));
    const { result } = renderHook(() => useApiAction(action), { wrapper: wrapperFor(api) });

    let running!: Promise<string | undefined>;
    act(() => {
      running = result.current.run("usr_1");
    });
    expect(result.current.pending).toBe(true);
    await act(async () => answer.resolve("done"));
    expect(await running).toBe("done");
    expect(action).toHaveBeenCalledWith(api, "usr_1");
    expect(result.current.pending).toBe(false);

    let failed: string | undefined = "not yet";
    await act(async () => {
      failed = await result.current.run("bad");
    });
    expect(failed).toBeUndefined();
    expect(result.current.error?.message).toBe("Stale version");
    act(() => result.current.clearError());
    expect(result.current.error).toBeUndefined();
  });
});
