/**
 * The formatters use the viewer's locale (the default of the runtime here: they take no locale to force), so the
 * exact strings are checked where that default is en-US (Node's own default, and this machine's); elsewhere the
 * same cases are checked against Intl with the options the formatter is meant to use.
 */
import {
  addDays,
  formatCompact,
  formatCount,
  formatDateTime,
  formatDay,
  formatMoney,
  formatPercent,
  formatUtc,
  monthStart,
  utcToday,
} from "./format";

const DEFAULT_LOCALE = new Intl.NumberFormat().resolvedOptions().locale;
const EN_US = DEFAULT_LOCALE === "en-US";

function dollars(amount: number, maximumFractionDigits: number): string {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits }).format(amount);
}

/** The viewer's time zone (Node reads TZ again when it changes). */
function inZone(zone: string) {
  vi.stubEnv("TZ", zone);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("formatMoney", () => {
  test.each([
    ["150.5", 150.5],
    ["0", 0],
    ["1234567.891", 1234567.891],
    ["-20.25", -20.25],
    [42, 42],
  ])("%j is dollars to the cent", (value, amount) => {
    expect(formatMoney(value)).toBe(dollars(amount, 2));
  });

  test.each([
    ["0.0042", 0.0042],
    ["0.00421", 0.0042],
    ["-0.005", -0.005],
  ])("a sub-cent amount %j keeps four decimals rather than reading $0.00", (value, amount) => {
    expect(formatMoney(value)).toBe(dollars(amount, 4));
    expect(formatMoney(value)).not.toBe(dollars(0, 2));
  });

  test("precise shows up to four decimals of any amount", () => {
    expect(formatMoney("12.3456", { precise: true })).toBe(dollars(12.3456, 4));
  });

  test.each([null, undefined, "", "n/a", "NaN", "Infinity"])("%j (unknown or none) is a dash", (value) => {
    expect(formatMoney(value)).toBe("—");
  });

  describe.runIf(EN_US)("in en-US", () => {
    test("reads as a person writes dollars", () => {
      expect(formatMoney("150.5")).toBe("$150.50");
      expect(formatMoney("1234567.891")).toBe("$1,234,567.89");
      expect(formatMoney("0")).toBe("$0.00");
      expect(formatMoney("-20.25")).toBe("-$20.25");
      expect(formatMoney("0.0042")).toBe("$0.0042");
      expect(formatMoney("0.005")).toBe("$0.005");
      expect(formatMoney("12.3456", { precise: true })).toBe("$12.3456");
      expect(formatMoney("12.5", { precise: true })).toBe("$12.50");
    });
  });
});

describe("numbers", () => {
  test("null and undefined are a dash", () => {
    for (const format of [formatCount, formatCompact, formatPercent]) {
      expect(format(null)).toBe("—");
      expect(format(undefined)).toBe("—");
    }
  });

  test("counts, compact counts and percentages follow Intl", () => {
    expect(formatCount(1234567.6)).toBe(new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 }).format(1234568));
    expect(formatCompact(1234567)).toBe(new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(1234567));
    expect(formatPercent(0.1234)).toBe(new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 }).format(0.123));
  });

  describe.runIf(EN_US)("in en-US", () => {
    test("read as people write them", () => {
      expect(formatCount(1234567.6)).toBe("1,234,568");
      expect(formatCount(0)).toBe("0");
      expect(formatCompact(1234567)).toBe("1.2M");
      expect(formatCompact(34000)).toBe("34K");
      expect(formatPercent(0.1234)).toBe("12.3%");
      expect(formatPercent(1)).toBe("100%");
    });
  });
});

describe("times", () => {
  test("formatUtc is the instant in UTC, whatever the viewer's zone", () => {
    inZone("America/Los_Angeles");
    expect(formatUtc("2026-11-24T09:30:12.345Z")).toBe("2026-11-24 09:30:12 UTC");
    expect(formatUtc("2026-11-24T10:30:12+01:00")).toBe("2026-11-24 09:30:12 UTC");
    expect(formatUtc(null)).toBe("");
    expect(formatUtc("not a time")).toBe("not a time");
  });

  test("formatDateTime is in the viewer's zone; unknown is a dash, garbage is shown as is", () => {
    inZone("America/New_York");
    const shown = formatDateTime("2026-11-24T09:30:00Z");
    expect(shown).toBe(new Date("2026-11-24T09:30:00Z").toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
    if (EN_US) expect(shown).toBe("Nov 24, 2026, 4:30 AM");
    expect(formatDateTime(undefined)).toBe("—");
    expect(formatDateTime("yesterday-ish")).toBe("yesterday-ish");
  });

  test.each(["Pacific/Honolulu", "Pacific/Kiritimati", "UTC"])("formatDay names the API's UTC day, even in %s", (zone) => {
    inZone(zone);
    const utc = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" });
    expect(formatDay("2026-03-01")).toBe(utc({ day: "numeric", month: "short" }).format(Date.UTC(2026, 2, 1)));
    expect(formatDay("2026-12-31", { year: true })).toBe(utc({ day: "numeric", month: "short", year: "numeric" }).format(Date.UTC(2026, 11, 31)));
    if (EN_US) {
      expect(formatDay("2026-03-01")).toBe("Mar 1");
      expect(formatDay("2026-12-31", { year: true })).toBe("Dec 31, 2026");
    }
  });
});

describe("days", () => {
  test("utcToday is the UTC date, not the local one", () => {
    inZone("Pacific/Kiritimati"); // UTC+14: already the next day locally
    expect(utcToday(new Date("2026-11-24T23:30:00Z"))).toBe("2026-11-24");
    inZone("Pacific/Honolulu"); // UTC-10: still the previous day locally
    expect(utcToday(new Date("2026-11-25T00:30:00Z"))).toBe("2026-11-25");
  });

  test.each([
    ["2026-01-31", 1, "2026-02-01"],
    ["2026-03-01", -1, "2026-02-28"],
    ["2028-03-01", -1, "2028-02-29"],
    ["2026-12-31", 1, "2027-01-01"],
    ["2026-11-24", -29, "2026-10-26"],
    ["2026-03-29", 1, "2026-03-30"],
    ["2026-11-24", 0, "2026-11-24"],
  ])("addDays(%s, %i) is %s", (day, days, expected) => {
    expect(addDays(day, days)).toBe(expected);
  });

  test("addDays does not slip a day in a zone with a daylight-saving change", () => {
    inZone("Europe/London");
    expect(addDays("2026-03-28", 1)).toBe("2026-03-29");
    expect(addDays("2026-03-29", 1)).toBe("2026-03-30");
    inZone("Pacific/Honolulu");
    expect(addDays("2026-10-31", 1)).toBe("2026-11-01");
  });

  test("monthStart is the first of the month", () => {
    expect(monthStart("2026-11-24")).toBe("2026-11-01");
    expect(monthStart("2026-02-01")).toBe("2026-02-01");
  });
});
