/** How much of the traffic the plan carried and how much fell to Bedrock: requests, tokens and cost side by side. */
import type { ChartData } from "chart.js";
import { useMemo } from "react";
import type { OverviewView, Totals } from "../../api/usage";
import { PALETTE } from "../../components/Chart";
import { BarChartFigure, barOptions } from "../../components/ChartFigure";
import { formatCount, formatMoney, formatPercent } from "../../lib/format";
import { share } from "./Tiles";

const LABEL = "Plan and Bedrock share";
const OPTIONS = barOptions({ stacked: true, horizontal: true, format: (value) => formatPercent(value) });

interface Measure {
  name: string;
  of(totals: Totals): number;
  format(totals: Totals): string;
}

const MEASURES: Measure[] = [
  { name: "Requests", of: (totals) => totals.requests, format: (totals) => formatCount(totals.requests) },
  { name: "Tokens", of: (totals) => totals.tokens, format: (totals) => formatCount(totals.tokens) },
  { name: "Cost", of: (totals) => Number(totals.cost_usd), format: (totals) => formatMoney(totals.cost_usd) },
];

export function PlanAndBedrock({ overview }: { overview: OverviewView }) {
  const { plan, bedrock } = overview.by_route;
  const data = useMemo<ChartData<"bar">>(() => {
    const shares = MEASURES.map((measure) => {
      const whole = measure.of(plan) + measure.of(bedrock);
      return { plan: share(measure.of(plan), whole) ?? 0, bedrock: share(measure.of(bedrock), whole) ?? 0 };
    });
    return {
      labels: MEASURES.map((measure) => measure.name),
      datasets: [
        { label: "Plan", data: shares.map((part) => part.plan), backgroundColor: PALETTE[0] },
        { label: "Bedrock", data: shares.map((part) => part.bedrock), backgroundColor: PALETTE[1] },
      ],
    };
  }, [plan, bedrock]);

  return (
    <>
      <BarChartFigure
        label={LABEL}
        data={data}
        options={OPTIONS}
        height={180}
        tableOpen
        table={{
          columns: [{ header: "Measure" }, { header: "Plan", numeric: true }, { header: "Bedrock", numeric: true }, { header: "Bedrock share", numeric: true }],
          rows: MEASURES.map((measure) => ({
            key: measure.name,
            cells: [
              measure.name,
              measure.format(plan),
              measure.format(bedrock),
              formatPercent(share(measure.of(bedrock), measure.of(plan) + measure.of(bedrock))),
            ],
          })),
        }}
      />
      <p className="muted">Plan cost is plan traffic at the API list price (what the subscription covered); Bedrock cost is what Bedrock charges.</p>
    </>
  );
}
