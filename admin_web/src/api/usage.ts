/**
 * The answers of GET /api/usage/* (as docs/openapi.json describes them) and one small fetch per operation.
 * Money is a decimal string ("12.345678"); days are UTC days ("2026-11-24").
 */
import type { DayRange } from "../components/DateRange";
import type { ApiClient } from "./client";

/** Counters of one slice of usage (a range, a route, a group, a reason). */
export interface Totals {
  requests: number;
  /** Requests answered with a status of 400 or more. */
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  /** Input, output, cache write and cache read tokens together. */
  tokens: number;
  /** Priced requests only. */
  cost_usd: string;
  /** Requests whose model had no price (not in cost_usd). */
  unpriced_requests: number;
}

export interface DayTotals extends Totals {
  day: string;
  bedrock_requests: number;
}

export interface OverviewView {
  from: string;
  to: string;
  totals: Totals;
  by_route: { plan: Totals; bedrock: Totals };
  /** Bedrock requests / all requests; null without requests. */
  fallback_rate: number | null;
  /** One point per day of the range, zeros for days without usage. */
  series: DayTotals[];
}

export type GroupBy = "user" | "team" | "model" | "route";

export interface SeriesPoint {
  day: string;
  requests: number;
  errors: number;
  tokens: number;
  cost_usd: string;
}

export interface SeriesGroupView {
  /** The user id, team (null: no team), model (null: not known) or route ("plan" | "bedrock"). */
  key: string | null;
  /** group_by=user: the user's current name. */
  name?: string | null;
  /** group_by=user: the user's current team. */
  team?: string | null;
  totals: Totals;
  /** Days with usage only, oldest first. */
  points: SeriesPoint[];
}

export interface SeriesView {
  from: string;
  to: string;
  group_by: GroupBy;
  /** Every day of the range. */
  days: string[];
  /** Highest cost first. */
  groups: SeriesGroupView[];
}

export interface TopUser {
  user_id: string;
  /** null: no longer in the users table. */
  name: string | null;
  team: string | null;
  requests: number;
  tokens: number;
  cost_usd: string;
  bedrock_requests: number;
  bedrock_cost_usd: string;
  bedrock_share: number | null;
}

export interface TopUsersView {
  from: string;
  to: string;
  order_by: "cost" | "requests" | "tokens";
  users: TopUser[];
}

export interface ReasonView {
  reason: string;
  totals: Totals;
  /** One per day of the range, zeros included. */
  days: { day: string; requests: number }[];
}

export interface FallbackReasonsView {
  from: string;
  to: string;
  /** Bedrock answers with a fallback reason, all reasons. */
  requests: number;
  /** Most requests first. */
  reasons: ReasonView[];
}

interface BudgetUse {
  budget_usd: string;
  spent_usd: string;
  /** Never below 0. */
  remaining_usd: string;
  /** 0–100 (and beyond when overspent). */
  percent_used: number;
  /** Bedrock is refused until the next month. */
  exhausted: boolean;
}

export interface UserBudgetView extends BudgetUse {
  user_id: string;
  name: string;
  team: string | null;
  status: string;
}

export interface TeamBudgetView extends BudgetUse {
  team: string;
}

export interface BudgetsView {
  month: string;
  /** What budgets count: Bedrock spend only, or plan traffic at the list price too. */
  counts: "bedrock" | "all";
  users: UserBudgetView[];
  teams: TeamBudgetView[];
  /** The month's spend across the organisation, counted as budgets count. */
  spent_usd: string;
  /** The month's cost across the organisation, every route. */
  cost_usd: string;
}

export function fetchOverview(api: ApiClient, range: DayRange): Promise<OverviewView> {
  return api.get<OverviewView>("/usage/overview", { from: range.from, to: range.to });
}

export function fetchFallbackReasons(api: ApiClient, range: DayRange): Promise<FallbackReasonsView> {
  return api.get<FallbackReasonsView>("/usage/fallback-reasons", { from: range.from, to: range.to });
}

export function fetchTopUsers(
  api: ApiClient,
  range: DayRange,
  options: { limit?: number; orderBy?: TopUsersView["order_by"] } = {},
): Promise<TopUsersView> {
  return api.get<TopUsersView>("/usage/top-users", { from: range.from, to: range.to, limit: options.limit, order_by: options.orderBy });
}

export function fetchSeries(api: ApiClient, range: DayRange, options: { groupBy: GroupBy; team?: string; userId?: string }): Promise<SeriesView> {
  return api.get<SeriesView>("/usage/series", {
    from: range.from,
    to: range.to,
    group_by: options.groupBy,
    team: options.team,
    user_id: options.userId,
  });
}

/** `month` is "YYYY-MM" (UTC). */
export function fetchBudgets(api: ApiClient, month: string): Promise<BudgetsView> {
  return api.get<BudgetsView>("/usage/budgets", { month });
}
