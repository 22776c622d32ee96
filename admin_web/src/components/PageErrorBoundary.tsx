/**
 * A page that fails to render shows why, inside the frame, instead of blanking the app. The common case in
 * production is a tab left open across a deployment: its page chunks are gone and a reload fetches the new ones.
 */
import { Component, type ReactNode } from "react";

function isChunkLoadFailure(error: Error): boolean {
  return /dynamically imported module|Importing a module script failed|error loading dynamically imported/i.test(error.message);
}

export class PageErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    const updated = isChunkLoadFailure(error);
    return (
      <div className="state state-error" role="alert">
        <p>
          {updated
            ? "The dashboard was updated since this tab opened: reload the page to get the new version."
            : "This page could not be shown because of an error in the dashboard. Reload the page; if it persists, tell the Overspill operators."}
        </p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload the page
        </button>
      </div>
    );
  }
}
