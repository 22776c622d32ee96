/** What this user spent per model per day, as a stacked bar chart with its numbers in a table. */
import { useMemo } from "react";
import type { ChartData, ChartOptions } from "chart.js";
import { useApiQuery } from "../../api/hooks";
import { fetchSeries, type SeriesView } from "../../api/usage";
import { Chart, PALETTE } from "../../components/Chart";
import { NumbersTable } from "../../components/ChartFigure";
import { DateRangePicker, useDateRange } from "../../components/DateRange";
import { Empty, Loaded } from "../../components/States";
import { formatCount, formatDay, formatMoney } from "../../lib/format";

const LABEL = "Cost per day by model";

const modelName = (key: string | null) => key ?? "Unknown model";

export function UsageSection({ userId }: { userId: string }) {
  const [range, setRange] = useDateRange(30);
  const valid = range.from <= range.to;
  const series = useApiQuery(valid ? `series:${userId}:${range.from}:${range.to}` : null, (api) => fetchSeries(api, range, { groupBy: "model", userId }));

  return (
    <section className="panel" aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage by model</h2>
      <DateRangePicker value={range} onChange={setRange} />
      {valid && (
        <Loaded query={series} loadingLabel="Loading usage…">
          {(view) =>
            view.groups.length === 0 ? (
              <Empty>
                <p>No usage by this user in this range.</p>
              </Empty>
            ) : (
              <ModelUsage view={view} />
            )
          }
        </Loaded>
      )}
    </section>
  );
}

function ModelUsage({ view }: { view: SeriesView }) {
  // Cost per model per day: every day of the range for the chart's axis, days with usage only for the table.
  const costs = useMemo(
    () =>
      view.groups.map((group) => {
        const byDay = new Map(group.points.map((point) => [point.day, Number(point.cost_usd)]));
        return view.days.map((day) => byDay.get(day) ?? 0);
      }),
    [view],
  );
  const usedDays = view.days.filter((day) => view.groups.some((group) => group.points.some((point) => point.day === day)));

  const data = useMemo<ChartData<"bar">>(
    () => ({
      labels: view.days.map((day) => formatDay(day)),
      datasets: view.groups.map((group, index) => ({
        label: modelName(group.key),
        data: costs[index],
        backgroundColor: PALETTE[index % PALETTE.length],
      })),
    }),
    [view, costs],
  );
  const options = useMemo<ChartOptions<"bar">>(
    () => ({
      scales: {
        x: { stacked: true },
        y: { stacked: true, ticks: { callback: (value) => formatMoney(Number(value)) } },
      },
      plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${formatMoney(item.parsed.y)}` } } },
    }),
    [],
  );

  return (
    <>
      <Chart type="bar" data={data} options={options} label={LABEL} />
      {/* The chart's numbers, for people who cannot see the canvas: totals first, then each day with usage. */}
      <NumbersTable
        caption={LABEL}
        columns={[
          { header: "Model" },
          { header: "Requests", numeric: true },
          { header: "Tokens", numeric: true },
          { header: "Cost", numeric: true },
          ...usedDays.map((day) => ({ header: formatDay(day), numeric: true })),
        ]}
        rows={view.groups.map((group, index) => ({
          key: group.key ?? "unknown",
          cells: [
            modelName(group.key),
            formatCount(group.totals.requests),
            formatCount(group.totals.tokens),
            <>
              {formatMoney(group.totals.cost_usd)}
              {group.totals.unpriced_requests > 0 && (
                <small className="muted" title="Requests whose model had no price are not in the cost">
                  {" "}
                  (+{formatCount(group.totals.unpriced_requests)} unpriced)
                </small>
              )}
            </>,
            ...usedDays.map((day) => formatMoney(costs[index][view.days.indexOf(day)])),
          ],
        }))}
      />
      {usedDays.length < view.days.length && <p className="muted">Days without usage are left out of the table.</p>}
    </>
  );
}
