/**
 * The usage series as the page shows it: one row per group with people's names for the API's keys, a totals row,
 * the same table as CSV cells, and the per-day series of the chart (the top groups, the rest as "Other").
 */
import type { GroupBy, SeriesGroupView, SeriesView } from "../../api/usage";
import type { CsvCell } from "../../lib/csv";
import { addMoney } from "./money";

export const GROUPS: { value: GroupBy; label: string }[] = [
  { value: "user", label: "User" },
  { value: "team", label: "Team" },
  { value: "model", label: "Model" },
  { value: "route", label: "Route" },
];

export type Measure = "cost" | "requests" | "tokens";

export const MEASURES: { value: Measure; label: string }[] = [
  { value: "cost", label: "Cost" },
  { value: "requests", label: "Requests" },
  { value: "tokens", label: "Tokens" },
];

/** How many groups the chart draws on their own; the rest are summed as "Other" (the palette has 8 colours). */
export const CHART_GROUPS = 8;

export function parseGroupBy(value: string | null): GroupBy {
  return GROUPS.some((group) => group.value === value) ? (value as GroupBy) : "user";
}

export function parseMeasure(value: string | null): Measure {
  return MEASURES.some((measure) => measure.value === value) ? (value as Measure) : "cost";
}

export function chartLabel(measure: Measure, groupBy: GroupBy): string {
  return `${MEASURES.find((entry) => entry.value === measure)!.label} per day by ${groupBy}`;
}

export function tableCaption(groupBy: GroupBy): string {
  return `Usage by ${groupBy}`;
}

export function csvFilename(view: Pick<SeriesView, "group_by" | "from" | "to">): string {
  return `overspill-usage-${view.group_by}-${view.from}-to-${view.to}.csv`;
}

export const NO_TEAM = "No team";

const ROUTE_NAMES: Record<string, string> = { plan: "Plan", bedrock: "Bedrock" };

/** What a person calls the group: the user's name, "No team", "Unknown model", "Plan". */
export function groupName(group: SeriesGroupView, groupBy: GroupBy): string {
  switch (groupBy) {
    case "user":
      // A user no longer on file keeps their usage: shown by id.
      return group.name ?? group.key ?? "Unknown user";
    case "team":
      return group.key ?? NO_TEAM;
    case "model":
      return group.key ?? "Unknown model";
    case "route":
      return group.key === null ? "Unknown route" : (ROUTE_NAMES[group.key] ?? group.key);
  }
}

export interface UsageRow {
  /** Stable across renders (the API key, or a marker for null). */
  id: string;
  name: string;
  /** group_by=user: the user's id (for the link) and current team (null: none). */
  userId?: string;
  team?: string | null;
  requests: number;
  errors: number;
  tokens: number;
  /** The API's exact decimal string. */
  cost: string;
}

export function usageRows(view: SeriesView): UsageRow[] {
  return view.groups.map((group) => ({
    id: group.key ?? "\u2205",
    name: groupName(group, view.group_by),
    ...(view.group_by === "user" ? { userId: group.key ?? undefined, team: group.team ?? null } : {}),
    requests: group.totals.requests,
    errors: group.totals.errors,
    tokens: group.totals.tokens,
    cost: group.totals.cost_usd,
  }));
}

export function totalsRow(rows: UsageRow[]): Omit<UsageRow, "id" | "name" | "userId" | "team"> {
  return {
    requests: rows.reduce((sum, row) => sum + row.requests, 0),
    errors: rows.reduce((sum, row) => sum + row.errors, 0),
    tokens: rows.reduce((sum, row) => sum + row.tokens, 0),
    cost: addMoney(rows.map((row) => row.cost)),
  };
}

export function tableHeaders(groupBy: GroupBy): string[] {
  const first = groupBy === "user" ? ["User", "Team"] : [GROUPS.find((group) => group.value === groupBy)!.label];
  return [...first, "Requests", "Errors", "Tokens", "Cost (USD)"];
}

/** The table on screen as CSV cells: raw counts and the API's money strings, so a spreadsheet can add them up. */
export function csvTable(view: SeriesView): CsvCell[][] {
  const rows = usageRows(view);
  const isUser = view.group_by === "user";
  const total = totalsRow(rows);
  return [
    tableHeaders(view.group_by),
    ...rows.map((row) => [row.name, ...(isUser ? [row.team ?? NO_TEAM] : []), row.requests, row.errors, row.tokens, row.cost]),
    ["Total", ...(isUser ? [""] : []), total.requests, total.errors, total.tokens, total.cost],
  ];
}

export interface ChartSeries {
  label: string;
  /** One value per day of `view.days`. */
  values: number[];
  /** "Other": how many groups it sums. */
  other?: number;
}

function measureOf(measure: Measure, point: { requests: number; tokens: number; cost_usd: string }): number {
  return measure === "cost" ? Number(point.cost_usd) : point[measure];
}

/** The top groups by `measure` per day, and everyone else summed as "Other". */
export function chartSeries(view: SeriesView, measure: Measure): ChartSeries[] {
  const dayIndex = new Map(view.days.map((day, index) => [day, index]));
  const perDay = (group: SeriesGroupView) => {
    const values = view.days.map(() => 0);
    for (const point of group.points) {
      const index = dayIndex.get(point.day);
      if (index !== undefined) values[index] += measureOf(measure, point);
    }
    return values;
  };
  const ranked = [...view.groups].sort((a, b) => measureOf(measure, b.totals) - measureOf(measure, a.totals));
  const shown = ranked.slice(0, CHART_GROUPS).map((group) => ({ label: groupName(group, view.group_by), values: perDay(group) }));
  const rest = ranked.slice(CHART_GROUPS);
  if (rest.length === 0) return shown;
  const other = view.days.map(() => 0);
  for (const group of rest) perDay(group).forEach((value, index) => (other[index] += value));
  return [...shown, { label: "Other", values: other, other: rest.length }];
}
