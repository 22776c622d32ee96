/**
 * The admin API's exports, pricing, model-mapping and audit answers (docs/openapi.json), and the small calls the
 * Exports, Settings and Audit pages make. Money and prices are decimal strings, as the API sends them.
 */
import type { ApiClient } from "./client";
import type { Totals } from "./usage";

// --- exports ---------------------------------------------------------------------------------------------------

export type PeriodKind = "daily" | "monthly";

/** An export's counters: the usage Totals without the `tokens` sum (the CSV has each kind of token apart). */
export type ExportTotals = Omit<Totals, "tokens">;

export interface ExportView {
  kind: PeriodKind;
  /** YYYY-MM-DD (daily) or YYYY-MM (monthly). */
  period: string;
  rows: number;
  events_read: number;
  totals: ExportTotals;
  /** Whether the period had settled when it was read; if not, a later run may find late usage. */
  complete: boolean;
  generated_at: string;
  csv_bytes: number;
  sha256: string;
}

export interface ExportList {
  kind: PeriodKind;
  from: string;
  to: string;
  /** Newest period first. */
  items: ExportView[];
}

export interface ExportRunRequest {
  kind: PeriodKind;
  from: string;
  to: string;
}

export interface ExportRunView {
  kind: PeriodKind;
  from: string;
  to: string;
  events_read: number;
  /** Of the daily files written. */
  totals: ExportTotals;
  /** Each file written, in the order written. */
  written: ExportView[];
}

/** A 15-minute pre-signed link to one export's CSV and its manifest. */
export interface ExportDownload {
  url: string;
  expires_at: string;
  filename: string;
  manifest_url?: string | null;
}

export function listExports(api: ApiClient, kind: PeriodKind, from: string, to: string): Promise<ExportList> {
  return api.get<ExportList>("/exports", { kind, from, to });
}

export function exportDownload(api: ApiClient, kind: PeriodKind, period: string): Promise<ExportDownload> {
  return api.get<ExportDownload>(`/exports/${kind}/${encodeURIComponent(period)}/download`);
}

export function runExport(api: ApiClient, request: ExportRunRequest): Promise<ExportRunView> {
  return api.post<ExportRunView>("/exports", request);
}

// --- pricing ---------------------------------------------------------------------------------------------------

export const PRICE_FIELDS = ["input", "output", "cache_write_5m", "cache_write_1h", "cache_read"] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];

export interface LongContextView {
  /** A request whose input (with cache writes and reads) exceeds this pays the factors on every token. */
  above_input_tokens: number;
  input_factor: string;
  output_factor: string;
}

/** A model's effective prices in USD per million tokens. */
export interface ModelPrice extends Record<PriceField, string> {
  model: string;
  aliases: string[];
  long_context: LongContextView | null;
  bedrock_geography_premium: boolean;
  /** An admin override changes or adds this entry. */
  overridden: boolean;
  source: string;
}

/** The overrides document as stored: model → the fields it changes; geography → multiplier. */
export interface PriceOverrides {
  models: Record<string, unknown>;
  bedrock_multipliers: Record<string, unknown>;
}

export interface PricingView {
  table_as_of: string;
  models: ModelPrice[];
  /** Bedrock price = list price × the multiplier of the geography its model id names. */
  bedrock_multipliers: Record<string, string>;
  overrides: PriceOverrides;
  version: number;
  updated_at: string | null;
  updated_by: string | null;
  /** Every proxy instance applies a change within this many seconds. */
  refresh_s: number;
  /** Set when the stored document is invalid (and so ignored). */
  problem: string | null;
}

/** One model's override: only the fields it changes. */
export interface PriceOverride extends Partial<Record<PriceField, string>> {
  bedrock_geography_premium?: boolean;
  /** null: no long-context tier; absent: the table's. */
  long_context?: { above_input_tokens: number | string; input_factor: string; output_factor: string } | null;
  [other: string]: unknown;
}

export interface PriceOverridesInput {
  version: number;
  models: Record<string, PriceOverride>;
  bedrock_multipliers: Record<string, string>;
}

export function getPricing(api: ApiClient): Promise<PricingView> {
  return api.get<PricingView>("/pricing");
}

export function putPriceOverrides(api: ApiClient, input: PriceOverridesInput): Promise<PricingView> {
  return api.put<PricingView>("/pricing/overrides", input);
}

// --- model mappings --------------------------------------------------------------------------------------------

export type MappingSource = "admin" | "settings" | "built_in";

export interface EffectiveMapping {
  /** The model name a client asks for. */
  model: string;
  /** What Bedrock is called with; null: not available. */
  bedrock_model_id: string | null;
  /** For token counting; null when the id does not say. */
  foundation_model_id: string | null;
  source: MappingSource;
  problem: string | null;
}

export interface ModelMappingsView {
  /** The inference-profile prefix of the built-in mappings. */
  geography: string;
  built_in: Record<string, string>;
  /** OVERSPILL_BEDROCK_MODEL_MAP, set at deploy time. */
  settings: Record<string, string>;
  /** The admins' map, over the settings map. */
  admin: Record<string, string>;
  version: number;
  updated_at: string | null;
  updated_by: string | null;
  effective: EffectiveMapping[];
  refresh_s: number;
  problem: string | null;
}

export interface ModelMappingsInput {
  version: number;
  mappings: Record<string, string>;
}

export function getModelMappings(api: ApiClient): Promise<ModelMappingsView> {
  return api.get<ModelMappingsView>("/model-mappings");
}

export function putModelMappings(api: ApiClient, input: ModelMappingsInput): Promise<ModelMappingsView> {
  return api.put<ModelMappingsView>("/model-mappings", input);
}

// --- audit -----------------------------------------------------------------------------------------------------

export interface AuditEntry {
  entry_id: string;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  request_id: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  next_cursor: string | null;
}

export interface AuditFilters {
  actor?: string;
  target_type?: string;
  target_id?: string;
}

export function listAudit(api: ApiClient, filters: AuditFilters, cursor?: string | null, limit = 50): Promise<AuditPage> {
  return api.get<AuditPage>("/audit", { ...filters, cursor, limit });
}
