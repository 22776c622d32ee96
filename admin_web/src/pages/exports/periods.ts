/** Export periods for people: a daily file's day, a monthly file's month. */
import type { ExportView, PeriodKind } from "../../api/admin";
import { formatDay } from "../../lib/format";

export function formatPeriod(kind: PeriodKind, period: string): string {
  if (kind === "daily") return formatDay(period, { year: true });
  const [year, month] = period.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, 1)).toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
}

/** The last day a period covers, so days and months interleave by when they ended. */
function periodEnd(item: ExportView): string {
  if (item.kind === "daily") return item.period;
  const [year, month] = item.period.split("-").map(Number);
  return new Date(Date.UTC(year, month, 0)).toISOString().slice(0, 10);
}

/** Newest first; a month comes just before its last day (it was written after it). */
export function newestFirst(items: ExportView[]): ExportView[] {
  return [...items].sort((a, b) => {
    const byEnd = periodEnd(b).localeCompare(periodEnd(a));
    if (byEnd !== 0) return byEnd;
    return a.kind === b.kind ? 0 : a.kind === "monthly" ? -1 : 1;
  });
}
