/** Status words with a colour that agrees with them (the colour is never the only signal: the word is there). */
import {
  BREAKER_STATES,
  userStatusLabel,
  type BreakerState,
  type KeyStatus,
  type UserStatus,
} from "../../api/users";

const USER_TONES: Record<UserStatus, string> = { active: "ok", inactive: "warn", deleted: "muted" };
const KEY_TONES: Record<KeyStatus, string> = { active: "ok", revoked: "danger", expired: "muted" };
const KEY_LABELS: Record<KeyStatus, string> = { active: "Active", revoked: "Revoked", expired: "Expired" };
const BREAKER_TONES: Record<BreakerState, string> = { closed: "ok", open: "danger", half_open: "warn" };

export function UserStatusBadge({ status }: { status: UserStatus }) {
  return <span className={`badge ${USER_TONES[status] ?? "muted"}`}>{userStatusLabel(status)}</span>;
}

export function KeyStatusBadge({ status }: { status: KeyStatus }) {
  return <span className={`badge ${KEY_TONES[status] ?? "muted"}`}>{KEY_LABELS[status] ?? status}</span>;
}

export function BreakerBadge({ state }: { state: BreakerState }) {
  return <span className={`badge ${BREAKER_TONES[state] ?? "muted"}`}>{BREAKER_STATES[state]?.label ?? state}</span>;
}
