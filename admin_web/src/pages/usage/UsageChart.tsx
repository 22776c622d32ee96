/** Stacked bars per day of the top groups (and "Other"), in the measure chosen, with the numbers as a table. */
import type { ChartData } from "chart.js";
import { useMemo } from "react";
import type { SeriesView } from "../../api/usage";
import { PALETTE } from "../../components/Chart";
import { BarChartFigure, barOptions, OTHER_COLOUR } from "../../components/ChartFigure";
import { formatCompact, formatCount, formatDay, formatMoney } from "../../lib/format";
import { chartLabel, chartSeries, CHART_GROUPS, type Measure } from "./model";

const FORMATS: Record<Measure, { axis(value: number): string; cell(value: number): string }> = {
  cost: { axis: (value) => formatMoney(value), cell: (value) => formatMoney(value) },
  requests: { axis: formatCompact, cell: formatCount },
  tokens: { axis: formatCompact, cell: formatCount },
};

export function UsageChart({ view, measure }: { view: SeriesView; measure: Measure }) {
  const series = useMemo(() => chartSeries(view, measure), [view, measure]);
  const data = useMemo<ChartData<"bar">>(
    () => ({
      labels: view.days.map((day) => formatDay(day)),
      datasets: series.map((entry, index) => ({
        label: entry.label,
        data: entry.values,
        backgroundColor: entry.other ? OTHER_COLOUR : PALETTE[index % PALETTE.length],
      })),
    }),
    [view, series],
  );
  const options = useMemo(() => barOptions({ stacked: true, format: FORMATS[measure].axis, counts: measure !== "cost" }), [measure]);
  const format = FORMATS[measure].cell;
  const other = series.find((entry) => entry.other)?.other;

  return (
    <>
      <BarChartFigure
        label={chartLabel(measure, view.group_by)}
        data={data}
        options={options}
        height={300}
        table={{
          columns: [{ header: "Day" }, ...series.map((entry) => ({ header: entry.label, numeric: true })), { header: "All", numeric: true }],
          rows: view.days.map((day, index) => ({
            key: day,
            cells: [
              formatDay(day, { year: true }),
              ...series.map((entry) => format(entry.values[index])),
              format(series.reduce((sum, entry) => sum + entry.values[index], 0)),
            ],
          })),
        }}
      />
      {other !== undefined && (
        <p className="muted">
          The top {CHART_GROUPS} by {measure} are drawn on their own; "Other" sums the remaining {other}. The table below lists every {view.group_by}.
        </p>
      )}
    </>
  );
}
