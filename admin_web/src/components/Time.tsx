import { formatDateTime, formatUtc } from "../lib/format";

/** A timestamp in the viewer's zone, with UTC on hover (and to assistive technology via dateTime). */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={formatUtc(iso)}>
      {formatDateTime(iso)}
    </time>
  );
}
