/**
 * Exact sums of the API's money strings ("12.345678", and Python's "0E-7" form): a totals row in a CSV must agree
 * with the API to the last digit, which float addition does not promise.
 */

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

interface Scaled {
  units: bigint;
  /** Digits after the point. */
  scale: number;
}

function parse(value: string): Scaled {
  const match = DECIMAL.exec(value.trim());
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) throw new RangeError(`not a decimal: ${JSON.stringify(value)}`);
  const [, sign, whole, fraction = "", exponent = "0"] = match;
  let units = BigInt(`${whole}${fraction}` || "0");
  let scale = fraction.length - Number(exponent);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: sign === "-" ? -units : units, scale };
}

function format({ units, scale }: Scaled): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

/** The sum, with as many decimals as the most precise value ("1.5" + "2.25" = "3.75"; none → "0"). */
export function addMoney(values: string[]): string {
  const parsed = values.map(parse);
  const scale = Math.max(0, ...parsed.map((value) => value.scale));
  const units = parsed.reduce((sum, value) => sum + value.units * 10n ** BigInt(scale - value.scale), 0n);
  return format({ units, scale });
}
