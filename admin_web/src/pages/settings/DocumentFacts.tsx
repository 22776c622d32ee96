/** Who last changed a settings document and when; how soon the proxies apply it. */
import type { ReactNode } from "react";
import { Time } from "../../components/Time";

export function DocumentFacts({ version, updatedBy, updatedAt, refreshSeconds, children }: {
  version: number;
  updatedBy: string | null;
  updatedAt: string | null;
  refreshSeconds: number;
  children?: ReactNode;
}) {
  return (
    <dl className="props">
      {children}
      <dt>Version</dt>
      <dd>{version === 0 ? "0 (never changed)" : version}</dd>
      <dt>Last changed</dt>
      <dd>
        {updatedAt ? (
          <>
            <Time iso={updatedAt} /> by {updatedBy ?? "unknown"}
          </>
        ) : (
          "Never"
        )}
      </dd>
      <dt>Changes apply</dt>
      <dd>On every proxy within {Math.round(refreshSeconds)} seconds of saving</dd>
    </dl>
  );
}
