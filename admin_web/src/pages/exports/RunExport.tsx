/** Admins only: run the export for a range now (the same files the schedule writes) and show what it wrote. */
import { useId, useState, type FormEvent } from "react";
import { runExport, type ExportRunRequest, type ExportRunView, type PeriodKind } from "../../api/admin";
import { useApiAction } from "../../api/hooks";
import { Field, FormError, SelectField, fieldError } from "../../components/Field";
import { addDays, formatCount, formatDay, formatMoney, utcToday } from "../../lib/format";
import { ExportFilesTable } from "./ExportFilesTable";

export function RunExport({ onWritten }: { onWritten(): void }) {
  const headingId = useId();
  // Yesterday: the newest day that has ended (today's file would be incomplete).
  const today = utcToday();
  const yesterday = addDays(today, -1);
  const [kind, setKind] = useState<PeriodKind>("daily");
  const [from, setFrom] = useState(yesterday);
  const [to, setTo] = useState(yesterday);
  const [result, setResult] = useState<ExportRunView>();
  const action = useApiAction((api, request: ExportRunRequest) => runExport(api, request));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setResult(undefined);
    const answer = await action.run({ kind, from, to });
    if (answer) {
      setResult(answer);
      onWritten();
    }
  }

  return (
    <section aria-labelledby={headingId} className="panel">
      <h2 id={headingId}>Run an export</h2>
      <p className="muted">
        Writes the same files as the schedule for a range of UTC days (both ends included), replacing any there are.
        A daily run covers at most 31 days and also writes the monthly file of every month it covers whole; a monthly
        run covers whole months, at most 12. Long exports may take a minute: keep this page open until it answers.
      </p>
      {/* noValidate: the API's reasons (a future or reversed range, too long) are clearer than the browser's. */}
      <form onSubmit={submit} noValidate>
        <div className="form-row">
          <SelectField label="Export kind" value={kind} onChange={(event) => setKind(event.target.value as PeriodKind)} error={fieldError(action.error, "kind")}>
            <option value="daily">Daily files</option>
            <option value="monthly">Monthly files</option>
          </SelectField>
          <Field
            label="From"
            type="date"
            value={from}
            max={today}
            required
            onChange={(event) => setFrom(event.target.value)}
            error={fieldError(action.error, "from")}
            hint={kind === "monthly" ? "The first day of a month" : undefined}
          />
          <Field
            label="To"
            type="date"
            value={to}
            max={today}
            required
            onChange={(event) => setTo(event.target.value)}
            error={fieldError(action.error, "to")}
            hint={kind === "monthly" ? "The last day of a month" : undefined}
          />
        </div>
        <FormError error={action.error} fields={["kind", "from", "to"]} />
        <div className="actions">
          <button type="submit" className="primary" disabled={action.pending}>
            {action.pending ? "Running export…" : "Run export"}
          </button>
          {action.pending && (
            <span role="status" className="muted">
              Reading the usage events and writing the files; this may take a minute.
            </span>
          )}
        </div>
      </form>
      {result && <RunResult result={result} />}
    </section>
  );
}

function RunResult({ result }: { result: ExportRunView }) {
  const unsettled = result.written.filter((file) => !file.complete);
  return (
    <div className="banner-ok" role="status" style={{ marginTop: "1rem" }}>
      <p style={{ marginTop: 0 }}>
        Exported {formatDay(result.from, { year: true })} to {formatDay(result.to, { year: true })}: read{" "}
        {formatCount(result.events_read)} usage events and wrote {formatCount(result.written.length)}{" "}
        {result.written.length === 1 ? "file" : "files"}, costing {formatMoney(result.totals.cost_usd)} in total
        {result.totals.unpriced_requests > 0 && ` (plus ${formatCount(result.totals.unpriced_requests)} requests without a price)`}.
      </p>
      {unsettled.length > 0 && (
        <p>
          {unsettled.length === 1 ? "One period had" : `${unsettled.length} periods had`} not settled yet; running it again later
          may find late usage.
        </p>
      )}
      {result.written.length > 0 && (
        <ExportFilesTable label="Files written" caption="Files written" files={result.written} />
      )}
    </div>
  );
}
