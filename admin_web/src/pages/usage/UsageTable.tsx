/** One row per group with a totals row; the CSV download writes exactly these rows and columns. */
import { Link } from "react-router";
import type { SeriesView } from "../../api/usage";
import { useIsAdmin } from "../../app/context";
import { NumbersTable } from "../../components/ChartFigure";
import { formatCount, formatMoney } from "../../lib/format";
import { NO_TEAM, tableCaption, tableHeaders, totalsRow, usageRows, type UsageRow } from "./model";

function Name({ row }: { row: UsageRow }) {
  const isAdmin = useIsAdmin();
  // Finance has no user pages: the name alone.
  if (!isAdmin || !row.userId) return <>{row.name}</>;
  return <Link to={`/users/${encodeURIComponent(row.userId)}`}>{row.name}</Link>;
}

export function UsageTable({ view }: { view: SeriesView }) {
  const rows = usageRows(view);
  const total = totalsRow(rows);
  const isUser = view.group_by === "user";
  const headers = tableHeaders(view.group_by);
  const figures = (row: Omit<UsageRow, "id" | "name">) => [formatCount(row.requests), formatCount(row.errors), formatCount(row.tokens), formatMoney(row.cost)];

  return (
    <NumbersTable
      caption={tableCaption(view.group_by)}
      columns={headers.map((header, index) => ({ header, numeric: index >= (isUser ? 2 : 1) }))}
      rows={rows.map((row) => ({
        key: row.id,
        cells: [<Name row={row} />, ...(isUser ? [row.team ?? <span className="muted">{NO_TEAM}</span>] : []), ...figures(row)],
      }))}
      foot={["Total", ...(isUser ? [""] : []), ...figures(total)]}
    />
  );
}
