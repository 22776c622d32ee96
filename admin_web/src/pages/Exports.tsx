/**
 * Exports: the finance CSVs the bucket holds (daily and monthly), a download link for each, and for admins a
 * form to run the export for a range now.
 */
import { useId, useState } from "react";
import { useSearchParams } from "react-router";
import { exportDownload, listExports, type ExportDownload, type ExportView, type PeriodKind } from "../api/admin";
import { useApiAction, useApiQuery } from "../api/hooks";
import { useIsAdmin } from "../app/context";
import { DateRangePicker, useDateRange } from "../components/DateRange";
import { SelectField } from "../components/Field";
import { Empty, ErrorState, Loaded } from "../components/States";
import { Time } from "../components/Time";
import { browser } from "./exports/browser";
import { ExportFilesTable, fileKey } from "./exports/ExportFilesTable";
import { newestFirst } from "./exports/periods";
import { RunExport } from "./exports/RunExport";

type KindFilter = "all" | PeriodKind;

const KIND_FILTERS: [KindFilter, string][] = [
  ["all", "All"],
  ["daily", "Daily"],
  ["monthly", "Monthly"],
];

function useKindFilter(): [KindFilter, (kind: KindFilter) => void] {
  const [params, setParams] = useSearchParams();
  const value = params.get("kind");
  const kind: KindFilter = value === "daily" || value === "monthly" ? value : "all";
  function setKind(next: KindFilter) {
    const updated = new URLSearchParams(params);
    if (next === "all") updated.delete("kind");
    else updated.set("kind", next);
    setParams(updated, { replace: true });
  }
  return [kind, setKind];
}

export default function Exports() {
  const isAdmin = useIsAdmin();
  const [range, setRange] = useDateRange(30);
  const [kind, setKind] = useKindFilter();
  const listId = useId();
  const reversed = range.from > range.to;

  // The API lists one kind at a time: "all" asks for both and interleaves them.
  const exports = useApiQuery(reversed ? null : `${kind}|${range.from}|${range.to}`, async (api) => {
    const kinds: PeriodKind[] = kind === "all" ? ["daily", "monthly"] : [kind];
    const lists = await Promise.all(kinds.map((each) => listExports(api, each, range.from, range.to)));
    return newestFirst(lists.flatMap((list) => list.items));
  });

  return (
    <>
      <div className="page-header">
        <h1>Exports</h1>
      </div>
      <p className="muted">
        Usage per user, team, model and route as CSV, one file per UTC day and one per month, each with a manifest (row
        count, totals, SHA-256). Download links work for 15 minutes.
      </p>
      <div className="filters">
        <DateRangePicker value={range} onChange={setRange} />
        <SelectField label="Kind" value={kind} onChange={(event) => setKind(event.target.value as KindFilter)}>
          {KIND_FILTERS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </SelectField>
      </div>

      <section aria-labelledby={listId}>
        <h2 id={listId}>Export files</h2>
        {reversed ? null : (
          <Loaded query={exports} loadingLabel="Loading exports…">
            {(items) => (items.length === 0 ? <NoExports kind={kind} isAdmin={isAdmin} /> : <ExportTable items={items} />)}
          </Loaded>
        )}
      </section>

      {isAdmin && <RunExport onWritten={exports.reload} />}
    </>
  );
}

function NoExports({ kind, isAdmin }: { kind: KindFilter; isAdmin: boolean }) {
  const what = kind === "all" ? "exports" : `${kind} exports`;
  return (
    <Empty>
      <p>No {what} in this range.</p>
      <p>
        Exports run on a schedule: each UTC day's file is written at 01:30 UTC the next day, and each month's file at
        02:30 UTC on the 1st of the next month.{" "}
        {isAdmin ? "To export a range now, use “Run an export” below." : "An admin can run an export for a range now."}
      </p>
    </Empty>
  );
}

function ExportTable({ items }: { items: ExportView[] }) {
  const [pendingFile, setPendingFile] = useState<string | null>(null);
  const [link, setLink] = useState<{ item: ExportView; download: ExportDownload }>();
  const download = useApiAction((api, item: ExportView) => exportDownload(api, item.kind, item.period));

  async function start(item: ExportView) {
    setPendingFile(fileKey(item));
    setLink(undefined);
    const answer = await download.run(item);
    setPendingFile(null);
    if (!answer) return;
    setLink({ item, download: answer });
    // The link answers with the CSV as an attachment, so the browser saves it and this page stays.
    browser.open(answer.url);
  }

  return (
    <>
      {download.error && <ErrorState error={download.error} />}
      {link && (
        <div className="banner-info" role="status" style={{ marginBottom: "1rem" }}>
          Downloading <code>{link.download.filename}</code>. If it does not start,{" "}
          <a href={link.download.url} download={link.download.filename}>
            download the CSV
          </a>
          {link.download.manifest_url && (
            <>
              {" "}
              or{" "}
              <a href={link.download.manifest_url} target="_blank" rel="noreferrer">
                open its manifest (JSON)
              </a>
            </>
          )}
          ; the {link.download.manifest_url ? "links work" : "link works"} until <Time iso={link.download.expires_at} />.
        </div>
      )}
      <ExportFilesTable
        label="Export files"
        caption="Exports in the range, newest first"
        hideCaption
        files={items}
        extraColumns={[
          { header: "Generated", cell: (item) => <Time iso={item.generated_at} /> },
          {
            header: <span className="visually-hidden">Download</span>,
            cell: (item) => (
              <button type="button" onClick={() => void start(item)} disabled={pendingFile !== null}>
                {pendingFile === fileKey(item) ? "Preparing…" : "Download"}{" "}
                <span className="visually-hidden">
                  {item.kind} export for {item.period}
                </span>
              </button>
            ),
          },
        ]}
      />
    </>
  );
}
