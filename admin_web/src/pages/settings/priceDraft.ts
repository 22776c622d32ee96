/**
 * The price-overrides form's state and its translation to and from the API's document. Every field of
 * PriceOverridesInput has an input (the five prices, the Bedrock premium, the long-context tier), so admins never
 * edit JSON; a field the form does not know (only in a stored document the API already flags as invalid) is kept
 * and sent back as it was, so saving never drops it silently.
 */
import { PRICE_FIELDS, type PriceField, type PriceOverride, type PriceOverrides, type PriceOverridesInput } from "../../api/admin";

export type Choice = "keep" | "yes" | "no";
export type LongContextChoice = "keep" | "none" | "custom";

export interface OverrideDraft {
  /** Stable across edits, for React keys and focus. */
  id: string;
  model: string;
  /** "" keeps the table's price. */
  prices: Record<PriceField, string>;
  premium: Choice;
  longContext: LongContextChoice;
  aboveInputTokens: string;
  inputFactor: string;
  outputFactor: string;
  /** Stored fields the form has no input for, sent back unchanged. */
  extra: Record<string, unknown>;
}

export interface MultiplierDraft {
  id: string;
  geography: string;
  multiplier: string;
}

export interface PriceDraft {
  overrides: OverrideDraft[];
  multipliers: MultiplierDraft[];
}

export const PRICE_LABELS: Record<PriceField, string> = {
  input: "Input",
  output: "Output",
  cache_write_5m: "Cache write 5m",
  cache_write_1h: "Cache write 1h",
  cache_read: "Cache read",
};

let counter = 0;
export function draftId(): string {
  counter += 1;
  return `draft-${counter}`;
}

function text(value: unknown): string {
  return value === null || value === undefined ? "" : String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function emptyOverride(model: string): OverrideDraft {
  return {
    id: draftId(),
    model,
    prices: { input: "", output: "", cache_write_5m: "", cache_write_1h: "", cache_read: "" },
    premium: "keep",
    longContext: "keep",
    aboveInputTokens: "",
    inputFactor: "",
    outputFactor: "",
    extra: {},
  };
}

export function overrideDraft(model: string, stored: unknown): OverrideDraft {
  const draft = emptyOverride(model);
  if (!isObject(stored)) return draft;
  for (const [field, value] of Object.entries(stored)) {
    if ((PRICE_FIELDS as readonly string[]).includes(field)) {
      draft.prices[field as PriceField] = text(value);
    } else if (field === "bedrock_geography_premium" && typeof value === "boolean") {
      draft.premium = value ? "yes" : "no";
    } else if (field === "long_context" && value === null) {
      draft.longContext = "none";
    } else if (field === "long_context" && isObject(value)) {
      draft.longContext = "custom";
      draft.aboveInputTokens = text(value.above_input_tokens);
      draft.inputFactor = text(value.input_factor);
      draft.outputFactor = text(value.output_factor);
    } else {
      draft.extra[field] = value;
    }
  }
  return draft;
}

export function priceDraft(stored: PriceOverrides): PriceDraft {
  return {
    overrides: Object.entries(stored.models ?? {}).map(([model, fields]) => overrideDraft(model, fields)),
    multipliers: Object.entries(stored.bedrock_multipliers ?? {}).map(([geography, multiplier]) => ({
      id: draftId(),
      geography,
      multiplier: text(multiplier),
    })),
  };
}

export function overrideInput(draft: OverrideDraft): PriceOverride {
  const result: PriceOverride = { ...draft.extra };
  for (const field of PRICE_FIELDS) {
    const value = draft.prices[field].trim();
    if (value) result[field] = value;
  }
  if (draft.premium !== "keep") result.bedrock_geography_premium = draft.premium === "yes";
  if (draft.longContext === "none") result.long_context = null;
  if (draft.longContext === "custom") {
    const threshold = draft.aboveInputTokens.trim().replace(/[,_\s]/g, "");
    result.long_context = {
      // The API wants a whole number here; anything else goes as typed so its message names the problem.
      above_input_tokens: /^\d+$/.test(threshold) ? Number(threshold) : draft.aboveInputTokens,
      input_factor: draft.inputFactor.trim(),
      output_factor: draft.outputFactor.trim(),
    };
  }
  return result;
}

export function overridesInput(draft: PriceDraft, version: number): PriceOverridesInput {
  return {
    version,
    models: Object.fromEntries(draft.overrides.map((override) => [override.model, overrideInput(override)])),
    bedrock_multipliers: Object.fromEntries(
      draft.multipliers.filter((row) => row.geography.trim() || row.multiplier.trim()).map((row) => [row.geography.trim(), row.multiplier.trim()]),
    ),
  };
}

/** Whether the form would send something other than what is stored. */
export function changed(draft: PriceDraft, stored: PriceOverrides): boolean {
  const now = overridesInput(draft, 0);
  const before = overridesInput(priceDraft(stored), 0);
  return JSON.stringify(now) !== JSON.stringify(before);
}
