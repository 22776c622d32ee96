/** A save refused because someone else saved first (409): say so, and offer to load their version. */
import { ApiError } from "../../api/client";

export function isConflict(error: Error | undefined): error is ApiError {
  return error instanceof ApiError && error.status === 409;
}

export function ConflictNotice({ what, error, onReload }: { what: string; error: ApiError; onReload(): void }) {
  return (
    <div className="state state-error" role="alert">
      <p>
        <strong>Someone else changed the {what} since you loaded them.</strong> Nothing was saved. Reload to see their
        change, then make yours again.
      </p>
      <p className="muted">{error.message}</p>
      <button type="button" onClick={onReload}>
        Reload {what}
      </button>
    </div>
  );
}
