/** Export files as a table: the page's list of files and what a run wrote show the same columns. */
import type { ReactNode } from "react";
import type { ExportView } from "../../api/admin";
import { TableWrap } from "../../components/TableWrap";
import { formatCount, formatMoney } from "../../lib/format";
import { formatPeriod } from "./periods";

/** A column after the shared ones; `header` may be visually hidden (an action column). */
export interface ExtraColumn {
  header: ReactNode;
  cell(file: ExportView): ReactNode;
}

export function fileKey(file: ExportView): string {
  return `${file.kind}:${file.period}`;
}

export function ExportFilesTable({
  label,
  caption,
  hideCaption = false,
  files,
  extraColumns = [],
}: {
  /** The scrolling wrapper's name. */
  label: string;
  caption: string;
  /** For screen readers only, where the section's heading already names the table. */
  hideCaption?: boolean;
  files: ExportView[];
  extraColumns?: ExtraColumn[];
}) {
  return (
    <TableWrap label={label}>
      <table>
        <caption className={hideCaption ? "visually-hidden" : undefined}>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Period</th>
            <th scope="col">Kind</th>
            <th scope="col" className="num">Rows</th>
            <th scope="col" className="num">Total cost</th>
            <th scope="col">Complete</th>
            {extraColumns.map((column, index) => (
              <th scope="col" key={index}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {files.map((file) => (
            <tr key={fileKey(file)}>
              <th scope="row">{formatPeriod(file.kind, file.period)}</th>
              <td>{file.kind === "daily" ? "Daily" : "Monthly"}</td>
              <td className="num">{formatCount(file.rows)}</td>
              <td className="num">
                {formatMoney(file.totals.cost_usd)}
                {file.totals.unpriced_requests > 0 && (
                  <div className="muted" style={{ fontSize: "0.8rem" }}>
                    + {formatCount(file.totals.unpriced_requests)} unpriced requests
                  </div>
                )}
              </td>
              <td>
                {file.complete ? (
                  <span className="badge ok">Complete</span>
                ) : (
                  <span className="badge warn" title="The period had not settled when it was read: running it again later may find late usage">
                    Not settled
                  </span>
                )}
              </td>
              {extraColumns.map((column, index) => (
                <td key={index}>{column.cell(file)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
