/**
 * The admin API's client: the bearer token on every call, the one error body turned into ApiError (with the
 * fields at fault), an expired session reported once, and an unreachable API told apart from a refusal.
 */
import { SessionExpiredError, type SessionStore } from "../auth/session";

export interface FieldProblem {
  field: string;
  message: string;
}

/** The API refused: `status`, its `type` and a message for a person; `fields` names the inputs at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }

  /** The message for one field (`email`, or a nested `budget_usd`), if the API named it. */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((problem) => problem.field === field || problem.field.endsWith(`.${field}`))?.message;
  }
}

/** The API cannot be reached, or answered that a dependency is down (502/503/504): a banner, not a blank page. */
export class ApiUnavailableError extends Error {}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiEvents {
  /** The session cannot be renewed: send the user to sign in, then back. */
  onSessionExpired(): void;
  /** Whether the last call reached the API (drives the "API unreachable" banner). */
  onReachability(reachable: boolean, message?: string): void;
}

export function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { type?: string; message?: string; fields?: FieldProblem[] } };
    if (body.error?.message) {
      return new ApiError(response.status, body.error.type ?? "error", body.error.message, body.error.fields ?? []);
    }
  } catch {
    // not our error body (a proxy's HTML page, say): described by its status below
  }
  return new ApiError(response.status, "error", `The admin API answered ${response.status} ${response.statusText}`.trim());
}

export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly session: SessionStore,
    private readonly events: ApiEvents,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>("POST", path, { body, headers });
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, { body });
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path, {});
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    let response = await this.send(method, path, options, false);
    if (response.status === 401) {
      // The token may have been refused just before its expiry: one forced refresh, then give up.
      response = await this.send(method, path, options, true);
      if (response.status === 401) {
        this.session.clear();
        this.events.onSessionExpired();
        throw await errorFrom(response);
      }
    }
    if ([502, 503, 504].includes(response.status)) {
      const error = await errorFrom(response);
      this.events.onReachability(false, error.message);
      throw new ApiUnavailableError(error.message);
    }
    this.events.onReachability(true);
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, options: RequestOptions, forceRefresh: boolean): Promise<Response> {
    let token: string;
    try {
      token = await this.session.accessToken({ forceRefresh });
    } catch (error) {
      if (error instanceof SessionExpiredError) {
        this.events.onSessionExpired();
        throw error;
      }
      // Offline, throttled or timed out while renewing the session: the session stands, try again shortly.
      const message = "The sign-in service cannot be reached to renew your session. Try again shortly.";
      this.events.onReachability(false, message);
      throw new ApiUnavailableError(message);
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    try {
      return await this.fetchImpl(withQuery(`${this.base}${path}`, options.query), { method, headers, body });
    } catch {
      const message = "The admin API cannot be reached. Check your connection, then try again.";
      this.events.onReachability(false, message);
      throw new ApiUnavailableError(message);
    }
  }
}

/** A fresh Idempotency-Key for one create: a retried click never makes a second user or key. */
export function idempotencyKey(): { "Idempotency-Key": string } {
  return { "Idempotency-Key": crypto.randomUUID() };
}
