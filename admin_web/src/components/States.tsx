/** Loading, empty and error states: every page shows one of these rather than nothing. */
import type { ReactNode } from "react";
import { ApiError, ApiUnavailableError } from "../api/client";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function describeError(error: Error): string {
  if (error instanceof ApiUnavailableError) return error.message;
  if (error instanceof ApiError) {
    if (error.status === 403) return "Your role does not allow this.";
    return error.message;
  }
  return "Something went wrong in the dashboard. Reload the page; if it persists, tell the Overspill operators.";
}

export function ErrorState({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p>{describeError(error)}</p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Loading / error / content for one query, so pages cannot forget a state. */
export function Loaded<T>({
  query,
  children,
  loadingLabel,
}: {
  query: { data: T | undefined; error: Error | undefined; loading: boolean; reload(): void };
  children: (data: T) => ReactNode;
  loadingLabel?: string;
}) {
  if (query.error) return <ErrorState error={query.error} onRetry={query.reload} />;
  if (query.data === undefined) return <Loading label={loadingLabel} />;
  return <>{children(query.data)}</>;
}
