/**
 * Test support for the user pages. jsdom has <dialog> but not showModal()/close(): ConfirmButton needs them, so
 * tests stand them in with the `open` attribute (a closed dialog stays display:none, as in a browser).
 */
import type { User } from "../../api/users";

export function installDialogPolyfill(): void {
  const prototype = HTMLDialogElement.prototype as HTMLDialogElement & { __polyfilled?: boolean };
  if (prototype.__polyfilled) return;
  prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.setAttribute("open", "");
  };
  prototype.close = function close(this: HTMLDialogElement) {
    this.removeAttribute("open");
  };
  prototype.__polyfilled = true;
}

export function aUser(overrides: Partial<User> = {}): User {
  return {
    user_id: "usr_1",
    name: "Ada Lovelace",
    email: "ada@example.com",
    team: "data",
    cost_center: "CC-42",
    routing_mode: "plan_first",
    status: "active",
    budget_usd: "150.5",
    created_at: "2026-11-01T09:30:00Z",
    updated_at: "2026-11-20T10:00:00Z",
    version: 3,
    ...overrides,
  };
}

/** The API's error body. */
export function apiError(status: number, type: string, message: string, fields: { field: string; message: string }[] = []) {
  return { status, body: { error: { type, message, fields } } };
}
