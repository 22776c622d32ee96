/**
 * CSV for spreadsheets (RFC 4180): quoted where needed, CRLF line ends, and text that a spreadsheet would run as
 * a formula defused — a user's name is typed by people, and "=HYPERLINK(…)" must arrive as text.
 */

/** A number, or text; money stays the API's exact decimal string ("12.345678"). null/undefined: an empty cell. */
export type CsvCell = string | number | null | undefined;

// What Excel, LibreOffice and Google Sheets treat as the start of a formula (OWASP "CSV injection").
const FORMULA_START = /^[=+\-@\t\r]/;
// A plain decimal ("-12.5") is a number to a spreadsheet, not a formula: it keeps its sign and stays numeric.
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : value;
  if (typeof value === "string" && FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows of cells → one CSV document, every record (the last too) ended by CRLF. */
export function toCsv(rows: CsvCell[][]): string {
  return rows.map((row) => row.map(csvCell).join(",") + "\r\n").join("");
}

/**
 * Saves `csv` as `filename` from the page itself (no server round trip). The byte order mark makes Excel read
 * the file as UTF-8, so names with accents survive.
 */
export function downloadCsv(filename: string, csv: string): void {
  const blob = new Blob(["\uFEFF", csv], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked after the click has been handled: some browsers start the download asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
