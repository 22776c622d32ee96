/** A save refused because someone else saved first (409 on a stale version): say so, and offer to load their version. */
import { ApiError } from "../api/client";

export function isConflict(error: Error | undefined): error is ApiError {
  return error instanceof ApiError && error.status === 409;
}

/** `what` names the thing as the sentence needs it ("the prices", "this user"); `reloadLabel` is the button's text. */
export function ConflictNotice({ what, reloadLabel, error, onReload }: { what: string; reloadLabel: string; error: ApiError; onReload(): void }) {
  return (
    <div className="state state-error" role="alert">
      <p>
        <strong>Someone else changed {what} in the meantime.</strong> Nothing was saved. Reload to see their change, then
        make yours again.
      </p>
      <p className="muted">{error.message}</p>
      <button type="button" onClick={onReload}>
        {reloadLabel}
      </button>
    </div>
  );
}
