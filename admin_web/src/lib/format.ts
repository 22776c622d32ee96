/** Numbers, money and times for people: the viewer's locale and time zone, UTC on hover. */

const money = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const smallMoney = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
const tinyMoney = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumSignificantDigits: 2 });
const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

/** The API's money is a decimal string ("150.5"); null means unknown or none. */
export function formatMoney(value: string | number | null | undefined, options: { precise?: boolean } = {}): string {
  if (value === null || value === undefined || value === "") return "—";
  const amount = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(amount)) return "—";
  // Sub-cent amounts (a single request's cost) keep four decimals rather than showing $0.00; below a hundredth
  // of a cent (one short Haiku request: $0.000008) two significant digits.
  if (amount !== 0 && Math.abs(amount) < 0.0001) return tinyMoney.format(amount);
  return (options.precise || (amount !== 0 && Math.abs(amount) < 0.01) ? smallMoney : money).format(amount);
}

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : count.format(value);
}

/** 1.2M, 34K: for axes and tiles, with the exact count in a title. */
export function formatCompact(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : compact.format(value);
}

export function formatPercent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? "—" : percent.format(ratio);
}

/** A timestamp in the viewer's zone ("24 Nov 2026, 09:30"). */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The same instant in UTC, for the hover title ("2026-11-24 09:30:12 UTC"). */
export function formatUtc(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A calendar day of the API ("2026-11-24", a UTC day) for axes and tables ("24 Nov"). */
export function formatDay(day: string, options: { year?: boolean } = {}): string {
  const [year, month, dayOfMonth] = day.split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, dayOfMonth));
  return date.toLocaleDateString(undefined, { day: "numeric", month: "short", ...(options.year ? { year: "numeric" } : {}), timeZone: "UTC" });
}

/** Today as the API's UTC day. */
export function utcToday(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

export function monthStart(day: string): string {
  return `${day.slice(0, 7)}-01`;
}
