/** Why Bedrock answered: requests per reason and day (stacked), and each reason's totals in words. */
import type { ChartData } from "chart.js";
import { useMemo } from "react";
import type { FallbackReasonsView } from "../../api/usage";
import { PALETTE } from "../../components/Chart";
import { BarChartFigure, barOptions, NumbersTable } from "../../components/ChartFigure";
import { Empty } from "../../components/States";
import { formatCompact, formatCount, formatDay, formatMoney, formatPercent } from "../../lib/format";
import { addMoney } from "../usage/money";
import { reasonWording } from "./reasons";
import { share } from "./Tiles";

const OPTIONS = barOptions({ stacked: true, format: formatCompact });

export function FallbackReasons({ view }: { view: FallbackReasonsView }) {
  const { reasons } = view;
  // Every reason carries one entry per day of the range; the first one gives the axis.
  const days = useMemo(() => reasons[0]?.days.map((entry) => entry.day) ?? [], [reasons]);
  const data = useMemo<ChartData<"bar">>(
    () => ({
      labels: days.map((day) => formatDay(day)),
      datasets: reasons.map((reason, index) => ({
        label: reasonWording(reason.reason).label,
        data: reason.days.map((entry) => entry.requests),
        backgroundColor: PALETTE[index % PALETTE.length],
      })),
    }),
    [days, reasons],
  );

  if (view.requests === 0 || reasons.length === 0) {
    return (
      <Empty>
        <p>No fallbacks in this range: the plan answered every request. Choose a longer range to look further back.</p>
      </Empty>
    );
  }

  return (
    <>
      <BarChartFigure
        label="Fallback reasons per day"
        data={data}
        options={OPTIONS}
        table={{
          columns: [{ header: "Day" }, ...reasons.map((reason) => ({ header: reasonWording(reason.reason).label, numeric: true })), { header: "All reasons", numeric: true }],
          rows: days.map((day, index) => ({
            key: day,
            cells: [
              formatDay(day, { year: true }),
              ...reasons.map((reason) => formatCount(reason.days[index]?.requests ?? 0)),
              formatCount(reasons.reduce((sum, reason) => sum + (reason.days[index]?.requests ?? 0), 0)),
            ],
          })),
        }}
      />
      <NumbersTable
        caption="Fallback requests by reason"
        columns={[{ header: "Reason" }, { header: "Requests", numeric: true }, { header: "Share of fallbacks", numeric: true }, { header: "Bedrock cost", numeric: true }]}
        rows={reasons.map((reason) => {
          const wording = reasonWording(reason.reason);
          return {
            key: reason.reason,
            cells: [
              <>
                {wording.label}
                {wording.explanation && (
                  <>
                    <br />
                    <small className="muted" style={{ fontWeight: "normal" }}>
                      {wording.explanation}
                    </small>
                  </>
                )}
              </>,
              formatCount(reason.totals.requests),
              formatPercent(share(reason.totals.requests, view.requests)),
              formatMoney(reason.totals.cost_usd),
            ],
          };
        })}
        foot={["All reasons", formatCount(view.requests), formatPercent(view.requests > 0 ? 1 : null), formatMoney(addMoney(reasons.map((reason) => reason.totals.cost_usd)))]}
      />
    </>
  );
}
