/** A page section the e2e tests (and screen-reader users) find by its heading; `busy` while newer numbers load. */
import { useId, type ReactNode } from "react";

export function Section({ title, children, actions, busy }: { title: string; children: ReactNode; actions?: ReactNode; busy?: boolean }) {
  const headingId = useId();
  return (
    <section className="panel" aria-labelledby={headingId} aria-busy={busy || undefined}>
      <div className="page-header" style={{ marginBottom: "0.5rem" }}>
        <h2 id={headingId} style={{ margin: 0 }}>
          {title}
        </h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
