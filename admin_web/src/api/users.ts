/**
 * Users, their access keys, Bedrock credentials and breaker, as the admin API has them (docs/openapi.json), with
 * the words a person reads for each code and one small function per operation the user pages call.
 */
import { ApiError, idempotencyKey, type ApiClient } from "./client";

// ---- Users -------------------------------------------------------------------------------------------------

export type RoutingMode = "plan_first" | "bedrock_only" | "plan_only";
export type UserStatus = "active" | "inactive" | "deleted";

/** `short` fits in a select's option; `description` is the full sentence. */
export const ROUTING_MODES: { value: RoutingMode; label: string; short: string; description: string }[] = [
  {
    value: "plan_first",
    label: "Plan first",
    short: "the plan, Bedrock when it is limited",
    description: "The developer's own plan; Bedrock answers when the plan is limited or failing.",
  },
  {
    value: "bedrock_only",
    label: "Bedrock only",
    short: "always Bedrock, never the plan",
    description: "Every request goes to Bedrock; the plan is never used.",
  },
  {
    value: "plan_only",
    label: "Plan only",
    short: "never Bedrock",
    description: "Never falls back: the plan's limits and errors reach Claude Code as they are.",
  },
];

export function routingModeDescription(mode: RoutingMode): string {
  return ROUTING_MODES.find((option) => option.value === mode)?.description ?? "";
}

export const USER_STATUSES: { value: UserStatus; label: string }[] = [
  { value: "active", label: "Active" },
  { value: "inactive", label: "Inactive" },
  { value: "deleted", label: "Deleted" },
];

export function routingModeLabel(mode: RoutingMode): string {
  return ROUTING_MODES.find((option) => option.value === mode)?.label ?? mode;
}

export function userStatusLabel(status: UserStatus): string {
  return USER_STATUSES.find((option) => option.value === status)?.label ?? status;
}

/** UserView */
export interface User {
  user_id: string;
  name: string;
  email: string | null;
  team: string | null;
  cost_center: string | null;
  routing_mode: RoutingMode;
  status: UserStatus;
  /** Monthly budget in USD (a decimal string); null: none. */
  budget_usd: string | null;
  created_at: string;
  updated_at: string;
  /** Send it back with a change: a stale version is refused (409). */
  version: number;
}

export interface UserPage {
  items: User[];
  next_cursor: string | null;
}

/** UserCreate: the optional fields are left out when blank. */
export interface UserCreate {
  name: string;
  email?: string | null;
  team?: string | null;
  cost_center?: string | null;
  routing_mode?: RoutingMode;
  budget_usd?: string | null;
}

/** UserUpdate: only the fields present change; null clears an optional one. */
export interface UserUpdate {
  version: number;
  name?: string;
  email?: string | null;
  team?: string | null;
  cost_center?: string | null;
  routing_mode?: RoutingMode;
  budget_usd?: string | null;
}

export interface UserFilters {
  search?: string;
  team?: string;
  status?: UserStatus | "";
  routing_mode?: RoutingMode | "";
}

export const listUsers = (api: ApiClient, filters: UserFilters, cursor?: string | null) =>
  api.get<UserPage>("/users", { ...filters, cursor });

export const getUser = (api: ApiClient, userId: string) => api.get<User>(`/users/${encodeURIComponent(userId)}`);

/** `key` is the Idempotency-Key of this attempt: the same key for a retried identical request. */
export const createUser = (api: ApiClient, body: UserCreate, key = idempotencyKey()["Idempotency-Key"]) =>
  api.post<User>("/users", body, { "Idempotency-Key": key });

export const updateUser = (api: ApiClient, userId: string, body: UserUpdate) =>
  api.patch<User>(`/users/${encodeURIComponent(userId)}`, body);

export const deactivateUser = (api: ApiClient, userId: string, version: number) =>
  api.post<User>(`/users/${encodeURIComponent(userId)}/deactivate`, { version });

export const reactivateUser = (api: ApiClient, userId: string, version: number) =>
  api.post<User>(`/users/${encodeURIComponent(userId)}/reactivate`, { version });

/** Soft delete: the user stays for usage history, every key is revoked. */
export const deleteUser = (api: ApiClient, userId: string) => api.delete<User>(`/users/${encodeURIComponent(userId)}`);

export interface Team {
  team: string;
  budget_usd: string | null;
  cost_center: string | null;
  members: number;
  version: number;
  updated_at: string | null;
}

export const listTeams = (api: ApiClient) => api.get<{ items: Team[] }>("/teams");

// ---- Access keys -------------------------------------------------------------------------------------------

export type KeyStatus = "active" | "revoked" | "expired";

/** AccessKeyView: never the key itself, only its prefix. */
export interface AccessKey {
  key_id: string;
  user_id: string;
  prefix: string;
  status: KeyStatus;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** IssuedKey: the key is in this answer only (null when the answer replays an earlier request). */
export interface IssuedKey extends AccessKey {
  key: string | null;
  base_url: string | null;
  /** `export ANTHROPIC_BASE_URL=…`, ready to paste into a shell. */
  export_line: string | null;
  /** After a rotation: the old key and when it stops. */
  previous?: AccessKey | null;
}

export interface IssueKey {
  /** null: no expiry (1 to 3650). */
  expires_in_days?: number | null;
}

export interface RotateKey {
  /** How long the old key keeps working (0 to 30 days); null: the deployment's default. */
  grace_seconds?: number | null;
  expires_in_days?: number | null;
}

const keysPath = (userId: string) => `/users/${encodeURIComponent(userId)}/keys`;

export const listKeys = (api: ApiClient, userId: string) => api.get<{ items: AccessKey[] }>(keysPath(userId));

export const issueKey = (api: ApiClient, userId: string, body: IssueKey, key: string) =>
  api.post<IssuedKey>(keysPath(userId), body, { "Idempotency-Key": key });

export const rotateKey = (api: ApiClient, userId: string, keyId: string, body: RotateKey, key: string) =>
  api.post<IssuedKey>(`${keysPath(userId)}/${encodeURIComponent(keyId)}/rotate`, body, { "Idempotency-Key": key });

export const revokeKey = (api: ApiClient, userId: string, keyId: string) =>
  api.post<AccessKey>(`${keysPath(userId)}/${encodeURIComponent(keyId)}/revoke`);

// ---- Bedrock credentials -----------------------------------------------------------------------------------

export type CredentialKind = "api_key" | "access_key";

export const CREDENTIAL_KINDS: { value: CredentialKind; label: string }[] = [
  { value: "api_key", label: "Bedrock API key" },
  { value: "access_key", label: "IAM access key pair" },
];

export function credentialKindLabel(kind: CredentialKind): string {
  return CREDENTIAL_KINDS.find((option) => option.value === kind)?.label ?? kind;
}

/** CredentialsView: masked, the secret never comes back. */
export interface CredentialsView {
  user_id: string;
  kind: CredentialKind;
  region: string | null;
  /** What may be shown of the secret (`AKIA…WXYZ`, `…abcd`). */
  hint: string;
  updated_at: string;
}

/** CredentialsInput: secrets are write-only. */
export interface CredentialsInput {
  kind: CredentialKind;
  api_key?: string | null;
  access_key_id?: string | null;
  secret_access_key?: string | null;
  session_token?: string | null;
  /** null: the deployment's Bedrock region. */
  region?: string | null;
}

export interface CredentialsTest {
  ok: boolean;
  /** Whose authority the call used. */
  credentials: "user" | "role";
  model_id: string | null;
  /** Bedrock's HTTP status (null when it could not be reached). */
  status: number | null;
  code: string | null;
  message: string;
  latency_ms: number;
}

const credentialsPath = (userId: string) => `/users/${encodeURIComponent(userId)}/bedrock-credentials`;

/** The user's own credentials, or null when they have none (the API answers 404: the gateway's role serves them). */
export async function getCredentials(api: ApiClient, userId: string): Promise<CredentialsView | null> {
  try {
    return await api.get<CredentialsView>(credentialsPath(userId));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export const putCredentials = (api: ApiClient, userId: string, body: CredentialsInput) =>
  api.put<CredentialsView>(credentialsPath(userId), body);

export const deleteCredentials = (api: ApiClient, userId: string) => api.delete<void>(credentialsPath(userId));

export const testCredentials = (api: ApiClient, userId: string) =>
  api.post<CredentialsTest>(`${credentialsPath(userId)}/test`);

// ---- Breaker -----------------------------------------------------------------------------------------------

export type BreakerState = "closed" | "open" | "half_open";

export const BREAKER_STATES: Record<BreakerState, { label: string; description: string }> = {
  closed: { label: "Closed", description: "The plan answers; Bedrock only when the plan is limited." },
  open: { label: "Open", description: "Bedrock answers until the plan is tried again." },
  half_open: { label: "Half-open", description: "One request is testing whether the plan answers again." },
};

/** Why a breaker changed: the fallback reasons that open it, and the ways it closes again. */
const BREAKER_REASONS: Record<string, string> = {
  plan_limit: "The plan's usage limit was reached",
  throttle: "Anthropic throttled the plan (429 without a plan limit)",
  overloaded: "Anthropic was overloaded (529)",
  server_error: "Anthropic answered with server errors (5xx)",
  unreachable: "Anthropic could not be reached",
  timeout: "Anthropic did not answer in time",
  early_switch: "The plan was nearly used up (switched early)",
  breaker_open: "The breaker was already open",
  bedrock_only: "The user's routing mode is Bedrock only",
  probe: "Testing the plan with one request",
  probe_answered: "The plan answered the test request",
  admin_reset: "Reset by an admin",
};

export function breakerReasonLabel(reason: string | null | undefined): string {
  if (!reason) return "—";
  return BREAKER_REASONS[reason] ?? reason;
}

export interface BreakerTransition {
  /** The state entered. */
  state: BreakerState;
  at: string;
  reason: string | null;
  open_until: string | null;
  last_status: number | null;
}

export interface BreakerView {
  user_id: string;
  state: BreakerState;
  /** While open: when the plan is tried again. */
  open_until: string | null;
  /** Why it last opened. */
  reason: string | null;
  /** The plan's HTTP status when it last opened. */
  last_status: number | null;
  /** Times it has opened, ever. */
  trips: number;
  updated_at: string | null;
  /** While half-open: when the probing request's lease ends. */
  probe_until: string | null;
  /** The last 20 transitions, newest first. */
  history: BreakerTransition[];
  revision: number;
}

export const getBreaker = (api: ApiClient, userId: string) =>
  api.get<BreakerView>(`/users/${encodeURIComponent(userId)}/breaker`);

export const resetBreaker = (api: ApiClient, userId: string) =>
  api.post<BreakerView>(`/users/${encodeURIComponent(userId)}/breaker/reset`);
