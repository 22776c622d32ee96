import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import type { BudgetsView, FallbackReasonsView, OverviewView, TopUsersView } from "../api/usage";
import { addDays, utcToday } from "../lib/format";
import { totals } from "../test/fixtures";
import { renderPage, type FakeRoutes } from "../test/render";
import Overview from "./Overview";

const FROM = "2026-11-01";
const TO = "2026-11-03";
const PATH = `/?from=${FROM}&to=${TO}`;
const MONTH = utcToday().slice(0, 7);

const OVERVIEW: OverviewView = {
  from: FROM,
  to: TO,
  totals: totals({ requests: 12840, errors: 37, input_tokens: 9_000_000, output_tokens: 2_213_550, cache_read_tokens: 37_000_000, tokens: 48_213_550, cost_usd: "1234.567891", unpriced_requests: 3 }),
  by_route: {
    plan: totals({ requests: 11556, tokens: 43_000_000, cost_usd: "802.467891" }),
    bedrock: totals({ requests: 1284, tokens: 5_213_550, cost_usd: "432.1" }),
  },
  fallback_rate: 0.1,
  series: [
    { ...totals({ requests: 4000, tokens: 15_000_000, cost_usd: "400.5" }), day: "2026-11-01", bedrock_requests: 400 },
    { ...totals({ requests: 0 }), day: "2026-11-02", bedrock_requests: 0 },
    { ...totals({ requests: 8840, tokens: 33_213_550, cost_usd: "834.067891" }), day: "2026-11-03", bedrock_requests: 884 },
  ],
};

const REASONS: FallbackReasonsView = {
  from: FROM,
  to: TO,
  requests: 1284,
  reasons: [
    {
      reason: "plan_limit",
      totals: totals({ requests: 1000, cost_usd: "350.1" }),
      days: [
        { day: "2026-11-01", requests: 300 },
        { day: "2026-11-02", requests: 0 },
        { day: "2026-11-03", requests: 700 },
      ],
    },
    {
      reason: "overloaded",
      totals: totals({ requests: 284, cost_usd: "82" }),
      days: [
        { day: "2026-11-01", requests: 100 },
        { day: "2026-11-02", requests: 0 },
        { day: "2026-11-03", requests: 184 },
      ],
    },
  ],
};

const TOP_USERS: TopUsersView = {
  from: FROM,
  to: TO,
  order_by: "cost",
  users: [
    { user_id: "usr_ada", name: "Ada Lovelace", team: "platform", requests: 5210, tokens: 20_400_000, cost_usd: "612.3", bedrock_requests: 521, bedrock_cost_usd: "200", bedrock_share: 0.1 },
    { user_id: "usr_gone", name: null, team: null, requests: 40, tokens: 90_000, cost_usd: "1.25", bedrock_requests: 0, bedrock_cost_usd: "0", bedrock_share: 0 },
  ],
};

const BUDGETS: BudgetsView = {
  month: MONTH,
  counts: "bedrock",
  spent_usd: "432.1",
  cost_usd: "1234.567891",
  users: [
    { user_id: "usr_low", name: "Lin Low", team: "data", status: "active", budget_usd: "100", spent_usd: "10", remaining_usd: "90", percent_used: 10, exhausted: false },
    { user_id: "usr_over", name: "Olu Over", team: null, status: "active", budget_usd: "50", spent_usd: "61.2", remaining_usd: "0", percent_used: 122.4, exhausted: true },
    { user_id: "usr_near", name: "Nia Near", team: "data", status: "inactive", budget_usd: "200", spent_usd: "170", remaining_usd: "30", percent_used: 85, exhausted: false },
  ],
  teams: [{ team: "platform", budget_usd: "1000", spent_usd: "250", remaining_usd: "750", percent_used: 25, exhausted: false }],
};

function api(overrides: FakeRoutes = {}): FakeRoutes {
  return {
    "GET /api/usage/overview": OVERVIEW,
    "GET /api/usage/fallback-reasons": REASONS,
    "GET /api/usage/top-users": TOP_USERS,
    "GET /api/usage/budgets": BUDGETS,
    ...overrides,
  };
}

function tile(name: string) {
  return screen.getByRole("group", { name });
}

function section(name: string) {
  return screen.getByRole("region", { name });
}

/** The text of each cell of a table's row whose header cell reads `rowHeader`. */
function rowOf(table: HTMLElement, rowHeader: string | RegExp): string[] {
  const header = within(table).getByRole("rowheader", { name: rowHeader });
  return Array.from(header.closest("tr")!.children).map((cell) => cell.textContent ?? "");
}

test("the tiles show the range's totals in people's units", async () => {
  renderPage(<Overview />, { path: PATH, api: api() });
  await screen.findByRole("group", { name: "Spend" });
  expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Overview");
  expect(tile("Spend")).toHaveTextContent("$1,234.57");
  expect(tile("Spend")).toHaveTextContent("Bedrock $432.10");
  expect(tile("Spend")).toHaveTextContent("3 unpriced requests not included");
  expect(tile("Requests")).toHaveTextContent("12,840");
  expect(tile("Requests")).toHaveTextContent("37 answered with an error");
  expect(tile("Tokens")).toHaveTextContent("48.2M");
  expect(within(tile("Tokens")).getByTitle("48,213,550 tokens")).toBeInTheDocument();
  expect(tile("Bedrock share of requests")).toHaveTextContent("10%");
  expect(tile("Bedrock share of requests")).toHaveTextContent("1,284 of 12,840");
  expect(tile("Fallback rate")).toHaveTextContent("10%");
});

test("requests per day split plan from Bedrock, with the numbers in tables captioned like the charts", async () => {
  renderPage(<Overview />, { path: PATH, api: api() });
  const requestsAndCost = await screen.findByRole("region", { name: "Requests and cost" });
  expect(within(requestsAndCost).getByRole("img", { name: "Requests per day" })).toBeInTheDocument();
  expect(within(requestsAndCost).getByRole("img", { name: "Cost per day" })).toBeInTheDocument();

  const requests = within(requestsAndCost).getByRole("table", { name: "Requests per day" });
  expect(rowOf(requests, "Nov 1, 2026")).toEqual(["Nov 1, 2026", "3,600", "400", "4,000"]);
  expect(rowOf(requests, "Nov 3, 2026")).toEqual(["Nov 3, 2026", "7,956", "884", "8,840"]);
  expect(rowOf(requests, "Total")).toEqual(["Total", "11,556", "1,284", "12,840"]);
  const cost = within(requestsAndCost).getByRole("table", { name: "Cost per day" });
  expect(rowOf(cost, "Nov 1, 2026")).toEqual(["Nov 1, 2026", "$400.50"]);
  expect(rowOf(cost, "Nov 2, 2026")).toEqual(["Nov 2, 2026", "$0.00"]);

  const split = within(section("Plan and Bedrock")).getByRole("table", { name: "Plan and Bedrock share" });
  expect(rowOf(split, "Requests")).toEqual(["Requests", "11,556", "1,284", "10%"]);
  expect(rowOf(split, "Cost")).toEqual(["Cost", "$802.47", "$432.10", "35%"]);
});

test("fallback reasons are told in words, per day and in total", async () => {
  renderPage(<Overview />, { path: PATH, api: api() });
  const reasons = await screen.findByRole("region", { name: "Fallback reasons" });
  await within(reasons).findByRole("img", { name: "Fallback reasons per day" });
  const perDay = within(reasons).getByRole("table", { name: "Fallback reasons per day" });
  expect(within(perDay).getAllByRole("columnheader").map((cell) => cell.textContent)).toEqual(["Day", "Plan limit reached", "Anthropic overloaded", "All reasons"]);
  expect(rowOf(perDay, "Nov 3, 2026")).toEqual(["Nov 3, 2026", "700", "184", "884"]);
  const byReason = within(reasons).getByRole("table", { name: "Fallback requests by reason" });
  expect(rowOf(byReason, /Plan limit reached/)).toEqual([
    "Plan limit reachedThe subscription's usage window was used up.",
    "1,000",
    "77.9%",
    "$350.10",
  ]);
  expect(rowOf(byReason, "All reasons")).toEqual(["All reasons", "1,284", "100%", "$432.10"]);
});

test("admins reach a top user's page from the name; a user no longer on file shows by id", async () => {
  renderPage(<Overview />, { path: PATH, api: api(), role: "admin" });
  const top = await screen.findByRole("region", { name: "Top users" });
  const table = await within(top).findByRole("table", { name: "Top users by cost" });
  expect(within(top).getByRole("img", { name: "Top users by cost" })).toBeInTheDocument();
  expect(within(table).getByRole("link", { name: "Ada Lovelace" })).toHaveAttribute("href", "/users/usr_ada");
  expect(rowOf(table, "Ada Lovelace")).toEqual(["Ada Lovelace", "platform", "5,210", "20,400,000", "$612.30", "10%"]);
  expect(rowOf(table, "usr_gone")).toEqual(["usr_gone", "No team", "40", "90,000", "$1.25", "0%"]);
});

test("finance sees top users and budgets as plain names, without links to user pages", async () => {
  renderPage(<Overview />, { path: PATH, api: api(), role: "finance" });
  const table = await within(section("Top users")).findByRole("table", { name: "Top users by cost" });
  expect(within(table).getByText("Ada Lovelace")).toBeInTheDocument();
  expect(within(table).queryByRole("link")).toBeNull();
  await within(section("Budgets this month")).findByRole("table", { name: "User budgets" });
  expect(within(section("Budgets this month")).queryByRole("link")).toBeNull();
});

test("the page asks for the range in the URL, and again when the range changes", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Overview />, { path: PATH, api: api() });
  await screen.findByRole("group", { name: "Spend" });
  const urls = () => calls.map((call) => call.url);
  expect(urls()).toEqual(
    expect.arrayContaining([
      `/api/usage/overview?from=${FROM}&to=${TO}`,
      `/api/usage/fallback-reasons?from=${FROM}&to=${TO}`,
      `/api/usage/top-users?from=${FROM}&to=${TO}&limit=10&order_by=cost`,
      `/api/usage/budgets?month=${MONTH}`,
    ]),
  );

  await user.click(screen.getByRole("button", { name: "Last 7 days" }));
  const weekAgo = addDays(utcToday(), -6);
  await waitFor(() => expect(urls()).toContain(`/api/usage/overview?from=${weekAgo}&to=${utcToday()}`));
  expect(urls()).toContain(`/api/usage/top-users?from=${weekAgo}&to=${utcToday()}&limit=10&order_by=cost`);

  fireEvent.change(screen.getByLabelText("From"), { target: { value: "2026-10-01" } });
  await waitFor(() => expect(urls()).toContain(`/api/usage/fallback-reasons?from=2026-10-01&to=${utcToday()}`));
  for (const name of ["Requests and cost", "Fallback reasons", "Top users"]) {
    await waitFor(() => expect(section(name)).not.toHaveAttribute("aria-busy"));
  }
  // Budgets follow the month, not the range: asked once.
  expect(urls().filter((url) => url.startsWith("/api/usage/budgets"))).toHaveLength(1);
});

test("a reversed range asks nothing and says what to do", async () => {
  const { calls } = renderPage(<Overview />, { path: "/?from=2026-11-05&to=2026-11-01", api: api() });
  expect(await screen.findByText("Choose a start day on or before the end day to see usage.")).toBeInTheDocument();
  expect(screen.getByText("The start is after the end.")).toBeInTheDocument();
  await within(section("Budgets this month")).findByRole("table", { name: "User budgets" });
  expect(calls.map((call) => call.path)).toEqual(["/api/usage/budgets"]);
});

test("a range without usage says so in each section instead of drawing empty charts", async () => {
  const days = ["2026-11-01", "2026-11-02", "2026-11-03"];
  renderPage(<Overview />, {
    path: PATH,
    api: api({
      "GET /api/usage/overview": {
        from: FROM,
        to: TO,
        totals: totals({}),
        by_route: { plan: totals({}), bedrock: totals({}) },
        fallback_rate: null,
        series: days.map((day) => ({ ...totals({}), day, bedrock_requests: 0 })),
      } satisfies OverviewView,
      "GET /api/usage/fallback-reasons": { from: FROM, to: TO, requests: 0, reasons: [] } satisfies FallbackReasonsView,
      "GET /api/usage/top-users": { from: FROM, to: TO, order_by: "cost", users: [] } satisfies TopUsersView,
      "GET /api/usage/budgets": { ...BUDGETS, users: [], teams: [], spent_usd: "0", cost_usd: "0" } satisfies BudgetsView,
    }),
  });
  await screen.findByRole("group", { name: "Spend" });
  expect(tile("Spend")).toHaveTextContent("$0.00");
  expect(tile("Fallback rate")).toHaveTextContent("—");
  expect(within(section("Requests and cost")).getByText(/No requests in this range/)).toBeInTheDocument();
  expect(within(section("Requests and cost")).queryByRole("img")).toBeNull();
  expect(within(section("Plan and Bedrock")).getByText(/No requests in this range/)).toBeInTheDocument();
  expect(await within(section("Fallback reasons")).findByText(/No fallbacks in this range/)).toBeInTheDocument();
  expect(await within(section("Top users")).findByText(/No one used Overspill in this range/)).toBeInTheDocument();
  expect(await within(section("Budgets this month")).findByText(/No user or team has a monthly budget/)).toBeInTheDocument();
});

test("a range the API refuses is shown once, as the API's message, with a retry", async () => {
  const user = userEvent.setup();
  const refusal = { status: 422, body: { error: { type: "invalid_request", message: "The range is too long: at most 366 days.", fields: [{ field: "from", message: "at most 366 days" }] } } };
  const { calls } = renderPage(<Overview />, {
    path: "/?from=2024-01-01&to=2026-11-03",
    api: api({ "GET /api/usage/overview": refusal, "GET /api/usage/fallback-reasons": refusal, "GET /api/usage/top-users": refusal }),
  });
  const alert = await screen.findByRole("alert");
  expect(alert).toHaveTextContent("The range is too long: at most 366 days.");
  expect(screen.queryByRole("region", { name: "Top users" })).toBeNull();
  const before = calls.filter((call) => call.path === "/api/usage/overview").length;
  await user.click(within(alert).getByRole("button", { name: "Try again" }));
  await waitFor(() => expect(calls.filter((call) => call.path === "/api/usage/overview").length).toBe(before + 1));
  expect(screen.getAllByRole("alert")).toHaveLength(1);
});

test("one section failing leaves the others, with its own retry", async () => {
  const user = userEvent.setup();
  let failing = true;
  renderPage(<Overview />, {
    path: PATH,
    api: api({
      "GET /api/usage/top-users": () =>
        failing ? { status: 500, body: { error: { type: "internal", message: "Overspill failed (request id req-42).", fields: [] } } } : TOP_USERS,
    }),
  });
  const top = await screen.findByRole("region", { name: "Top users" });
  expect(await within(top).findByRole("alert")).toHaveTextContent("Overspill failed (request id req-42).");
  expect(tile("Spend")).toHaveTextContent("$1,234.57");
  failing = false;
  await user.click(within(top).getByRole("button", { name: "Try again" }));
  expect(await within(top).findByRole("table", { name: "Top users by cost" })).toBeInTheDocument();
});

test("budgets of this month come most used first, with meters that warn at 80% and turn red past 100%", async () => {
  renderPage(<Overview />, { path: PATH, api: api() });
  const budgets = await screen.findByRole("region", { name: "Budgets this month" });
  const users = await within(budgets).findByRole("table", { name: "User budgets" });
  const names = within(users).getAllByRole("rowheader").map((cell) => cell.textContent);
  expect(names).toEqual(["Olu Over Bedrock refused", "Nia Near inactive", "Lin Low"]);
  expect(within(users).getByRole("meter", { name: "Budget used by Olu Over" })).toHaveClass("meter", "over");
  expect(within(users).getByRole("meter", { name: "Budget used by Nia Near" })).toHaveClass("meter", "warn");
  const low = within(users).getByRole("meter", { name: "Budget used by Lin Low" });
  expect(low).not.toHaveClass("warn");
  expect(low).not.toHaveClass("over");
  expect(low).toHaveAttribute("aria-valuetext", "10% of $100.00");
  expect(rowOf(users, "Olu Over Bedrock refused")).toEqual(["Olu Over Bedrock refused", "No team", "122.4%", "$61.20", "$50.00", "$0.00"]);
  expect(rowOf(within(budgets).getByRole("table", { name: "Team budgets" }), "platform")).toEqual(["platform", "25%", "$250.00", "$1,000.00", "$750.00"]);
  expect(budgets).toHaveTextContent("$432.10 spent as budgets count ($1,234.57 on every route)");
});

test.each(["admin", "finance"] as const)("axe finds nothing to fix on the page for %s", async (role) => {
  const { container } = renderPage(<Overview />, { path: PATH, api: api(), role });
  await within(await screen.findByRole("region", { name: "Budgets this month" })).findByRole("table", { name: "User budgets" });
  await screen.findByRole("table", { name: "Top users by cost" });
  await screen.findByRole("table", { name: "Fallback reasons per day" });
  // jsdom draws nothing, so colour contrast cannot be judged here.
  const results = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  expect(results.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`)).toEqual([]);
});

test("the fallback rate leaves out Bedrock-only users, whose requests go to Bedrock by choice", async () => {
  const byChoice: FallbackReasonsView = {
    ...REASONS,
    reasons: [REASONS.reasons[0], { ...REASONS.reasons[1], reason: "bedrock_only" }],
  };
  renderPage(<Overview />, { path: PATH, api: api({ "GET /api/usage/fallback-reasons": byChoice }) });
  await screen.findByRole("group", { name: "Spend" });
  // (1,284 − 284) of (12,840 − 284): 1,000 of 12,556 plan requests fell back.
  await waitFor(() => expect(tile("Fallback rate")).toHaveTextContent("8%"));
  expect(tile("Fallback rate")).toHaveTextContent("284 Bedrock-only requests left out");
  expect(tile("Bedrock share of requests")).toHaveTextContent("10%");
});
