/** What an audit entry changed: the leaf fields whose value differs between before and after. */

export interface Change {
  /** Dotted path into the entry's state ("budget_usd", "models.claude-x.input"). */
  path: string;
  /** undefined: the field was absent (created, or removed on that side). */
  before: unknown;
  after: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Leaves by dotted path. Lists are leaves (their parts rarely make sense alone); an empty object has none, so
 * `{models: {}}` → `{models: {x: {input: "4.5"}}}` reads as one added price, not as "{} → …" besides.
 */
function leaves(value: unknown, prefix: string, into: Map<string, unknown>): Map<string, unknown> {
  if (isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) leaves(child, prefix ? `${prefix}.${key}` : key, into);
  } else if (prefix) {
    into.set(prefix, value);
  }
  return into;
}

export function changesOf(before: Record<string, unknown> | null, after: Record<string, unknown> | null): Change[] {
  const old = leaves(before ?? {}, "", new Map());
  const now = leaves(after ?? {}, "", new Map());
  const paths = [...new Set([...old.keys(), ...now.keys()])];
  return paths
    .filter((path) => JSON.stringify(old.get(path)) !== JSON.stringify(now.get(path)))
    .map((path) => ({ path, before: old.get(path), after: now.get(path) }));
}

/** A value in one short line: strings as they are, everything else as JSON, long ones cut. */
export function shortValue(value: unknown, limit = 60): string {
  if (value === undefined) return "—";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}
