/** A date range kept in the URL (?from=&to=, UTC days as the API counts them): reloads and shared links keep it. */
import { useSearchParams } from "react-router";
import { addDays, monthStart, utcToday } from "../lib/format";

export interface DayRange {
  from: string;
  to: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function defaultRange(days = 30, today = utcToday()): DayRange {
  return { from: addDays(today, -(days - 1)), to: today };
}

export function useDateRange(days = 30): [DayRange, (range: DayRange) => void] {
  const [params, setParams] = useSearchParams();
  const fallback = defaultRange(days);
  const from = params.get("from");
  const to = params.get("to");
  const range = from && to && DAY.test(from) && DAY.test(to) ? { from, to } : fallback;
  function setRange(next: DayRange) {
    const updated = new URLSearchParams(params);
    updated.set("from", next.from);
    updated.set("to", next.to);
    setParams(updated, { replace: true });
  }
  return [range, setRange];
}

export function DateRangePicker({ value, onChange }: { value: DayRange; onChange(range: DayRange): void }) {
  const today = utcToday();
  const presets: [string, DayRange][] = [
    ["Last 7 days", defaultRange(7, today)],
    ["Last 30 days", defaultRange(30, today)],
    ["This month", { from: monthStart(today), to: today }],
    ["Last 90 days", defaultRange(90, today)],
  ];
  const reversed = value.from > value.to;
  return (
    <fieldset className="date-range">
      <legend>Date range (UTC days)</legend>
      <label>
        From
        <input type="date" value={value.from} max={today} onChange={(event) => event.target.value && onChange({ ...value, from: event.target.value })} />
      </label>
      <label>
        To
        <input type="date" value={value.to} max={today} onChange={(event) => event.target.value && onChange({ ...value, to: event.target.value })} />
      </label>
      <div className="presets" role="group" aria-label="Quick ranges">
        {presets.map(([label, range]) => (
          <button
            key={label}
            type="button"
            aria-pressed={range.from === value.from && range.to === value.to}
            onClick={() => onChange(range)}
          >
            {label}
          </button>
        ))}
      </div>
      {reversed && (
        <p className="field-error" role="alert">
          The start is after the end.
        </p>
      )}
    </fieldset>
  );
}
