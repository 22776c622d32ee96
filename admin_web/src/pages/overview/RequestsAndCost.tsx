/** Requests per day (plan and Bedrock stacked) and cost per day, from the overview's one point per day. */
import type { ChartData } from "chart.js";
import { useMemo } from "react";
import type { OverviewView } from "../../api/usage";
import { PALETTE } from "../../components/Chart";
import { BarChartFigure, barOptions } from "../../components/ChartFigure";
import { formatCompact, formatCount, formatDay, formatMoney } from "../../lib/format";

const REQUEST_OPTIONS = barOptions({ stacked: true, format: formatCompact, counts: true });
const COST_OPTIONS = barOptions({ format: (value) => formatMoney(value), legend: false });

export function RequestsAndCost({ overview }: { overview: OverviewView }) {
  const days = overview.series;
  const requests = useMemo<ChartData<"bar">>(
    () => ({
      labels: days.map((point) => formatDay(point.day)),
      datasets: [
        { label: "Plan", data: days.map((point) => point.requests - point.bedrock_requests), backgroundColor: PALETTE[0] },
        { label: "Bedrock", data: days.map((point) => point.bedrock_requests), backgroundColor: PALETTE[1] },
      ],
    }),
    [days],
  );
  const cost = useMemo<ChartData<"bar">>(
    () => ({
      labels: days.map((point) => formatDay(point.day)),
      datasets: [{ label: "Cost", data: days.map((point) => Number(point.cost_usd)), backgroundColor: PALETTE[2] }],
    }),
    [days],
  );

  return (
    <div className="grid-2">
      <BarChartFigure
        label="Requests per day"
        data={requests}
        options={REQUEST_OPTIONS}
        table={{
          columns: [{ header: "Day" }, { header: "Plan", numeric: true }, { header: "Bedrock", numeric: true }, { header: "All requests", numeric: true }],
          rows: days.map((point) => ({
            key: point.day,
            cells: [
              formatDay(point.day, { year: true }),
              formatCount(point.requests - point.bedrock_requests),
              formatCount(point.bedrock_requests),
              formatCount(point.requests),
            ],
          })),
          foot: [
            "Total",
            formatCount(overview.by_route.plan.requests),
            formatCount(overview.by_route.bedrock.requests),
            formatCount(overview.totals.requests),
          ],
        }}
      />
      <BarChartFigure
        label="Cost per day"
        data={cost}
        options={COST_OPTIONS}
        table={{
          columns: [{ header: "Day" }, { header: "Cost", numeric: true }],
          rows: days.map((point) => ({ key: point.day, cells: [formatDay(point.day, { year: true }), formatMoney(point.cost_usd)] })),
          foot: ["Total", formatMoney(overview.totals.cost_usd)],
        }}
      />
    </div>
  );
}
