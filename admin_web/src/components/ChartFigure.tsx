/**
 * A chart with its numbers in a real table (canvases are images: screen readers, copy-paste and the e2e tests
 * read the table), and the small pieces the usage pages share: bar options, the colour of "Other".
 */
import type { ChartData, ChartOptions } from "chart.js";
import type { ReactNode } from "react";
import { Chart } from "./Chart";
import { TableWrap } from "./TableWrap";

export interface Column {
  header: string;
  /** Right-aligned, tabular figures. */
  numeric?: boolean;
}

/** One row: the first cell heads it (screen readers announce it with each figure), the rest are data. */
function RowCells({ cells, columns }: { cells: ReactNode[]; columns: Column[] }) {
  return (
    <>
      {cells.map((cell, index) =>
        index === 0 ? (
          <th key={index} scope="row">
            {cell}
          </th>
        ) : (
          <td key={index} className={columns[index]?.numeric ? "num" : undefined}>
            {cell}
          </td>
        ),
      )}
    </>
  );
}

/** A table of figures: `caption` names it (for a chart: the chart's label), `foot` is a totals row. */
export function NumbersTable({
  caption,
  columns,
  rows,
  foot,
}: {
  caption: string;
  columns: Column[];
  rows: { key: string; cells: ReactNode[] }[];
  foot?: ReactNode[];
}) {
  return (
    <TableWrap label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((column, index) => (
              <th key={index} scope="col" className={column.numeric ? "num" : undefined}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key}>
              <RowCells cells={row.cells} columns={columns} />
            </tr>
          ))}
        </tbody>
        {foot && (
          <tfoot>
            <tr>
              <RowCells cells={foot} columns={columns} />
            </tr>
          </tfoot>
        )}
      </table>
    </TableWrap>
  );
}

/** The chart's name where sighted readers look for it (the canvas carries it for screen readers). */
export function ChartTitle({ label }: { label: string }) {
  return <figcaption style={{ fontWeight: 600, margin: "0.25rem 0 0.5rem" }}>{label}</figcaption>;
}

/** A bar chart and, folded away below it, the same numbers as a table captioned with the chart's label. */
export function BarChartFigure({
  label,
  data,
  options,
  height,
  table,
  tableOpen = false,
}: {
  label: string;
  data: ChartData<"bar">;
  options: ChartOptions<"bar">;
  height?: number;
  table: Omit<Parameters<typeof NumbersTable>[0], "caption">;
  /** Start with the table unfolded (a short one that reads better than the chart). */
  tableOpen?: boolean;
}) {
  return (
    <figure className="chart-figure" style={{ margin: "0 0 1rem" }}>
      <ChartTitle label={label} />
      <Chart type="bar" data={data} options={options} label={label} height={height} />
      <details open={tableOpen}>
        <summary>Show as table</summary>
        <NumbersTable caption={label} {...table} />
      </details>
    </figure>
  );
}

/** Bar options: stacked or not, horizontal or not, value ticks in people's units (whole numbers for counts). */
export function barOptions({
  stacked = false,
  horizontal = false,
  format,
  legend = true,
  counts = false,
}: {
  stacked?: boolean;
  horizontal?: boolean;
  format?: (value: number) => string;
  legend?: boolean;
  /** Requests or tokens: no tick at 0.2 of a request. */
  counts?: boolean;
}): ChartOptions<"bar"> {
  const ticks = { ...(format ? { callback: (value: number | string) => format(Number(value)) } : {}), ...(counts ? { precision: 0 } : {}) };
  const valueAxis = { stacked, beginAtZero: true, ticks };
  const categoryAxis = { stacked };
  return {
    indexAxis: horizontal ? "y" : "x",
    scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
    plugins: {
      legend: { display: legend, position: "bottom" },
      tooltip: format
        ? { callbacks: { label: (item) => `${item.dataset.label ?? ""}: ${format(Number(item.parsed[horizontal ? "x" : "y"]))}` } }
        : {},
    },
  };
}

/** The colour of the "Other" series, apart from the palette's named series. */
export const OTHER_COLOUR = "#8c959f";
