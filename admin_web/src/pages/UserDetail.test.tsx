import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { BudgetsView, SeriesView } from "../api/usage";
import type { AccessKey, BreakerView, IssuedKey } from "../api/users";
import { utcToday } from "../lib/format";
import { totals } from "../test/fixtures";
import { renderPage, type FakeRoutes } from "../test/render";
import { aUser, apiError, installDialogPolyfill } from "./user/testing";
import UserDetail from "./UserDetail";

beforeAll(installDialogPolyfill);

const activeKey: AccessKey = {
  key_id: "key_1",
  user_id: "usr_1",
  prefix: "ak_live_ab",
  status: "active",
  created_at: "2026-11-02T08:00:00Z",
  expires_at: null,
  revoked_at: null,
  last_used_at: "2026-11-20T12:00:00Z",
};

const closedBreaker: BreakerView = {
  user_id: "usr_1",
  state: "closed",
  open_until: null,
  reason: null,
  last_status: null,
  trips: 0,
  updated_at: null,
  probe_until: null,
  history: [],
  revision: 0,
};

const openBreaker: BreakerView = {
  ...closedBreaker,
  state: "open",
  open_until: "2026-11-24T14:00:00Z",
  reason: "plan_limit",
  last_status: 429,
  trips: 3,
  updated_at: "2026-11-24T09:00:00Z",
  revision: 6,
  history: [{ state: "open", at: "2026-11-24T09:00:00Z", reason: "plan_limit", open_until: "2026-11-24T14:00:00Z", last_status: 429 }],
};

const budgets: BudgetsView = {
  month: utcToday().slice(0, 7),
  counts: "bedrock",
  users: [
    { user_id: "usr_1", name: "Ada Lovelace", team: "data", status: "active", budget_usd: "150.5", spent_usd: "120.4", remaining_usd: "30.1", percent_used: 80, exhausted: false },
  ],
  spent_usd: "300",
  cost_usd: "900",
  teams: [],
};

const series: SeriesView = {
  from: "2026-11-01",
  to: "2026-11-03",
  group_by: "model",
  days: ["2026-11-01", "2026-11-02", "2026-11-03"],
  groups: [
    {
      key: "claude-sonnet-4-5",
      totals: totals({ requests: 1200, tokens: 3400000, cost_usd: "42.5" }),
      points: [{ day: "2026-11-02", requests: 1200, errors: 0, tokens: 3400000, cost_usd: "42.5" }],
    },
  ],
};

function routes(overrides: FakeRoutes = {}): FakeRoutes {
  return {
    "GET /api/users/usr_1": aUser(),
    "GET /api/teams": { items: [] },
    "GET /api/usage/budgets": budgets,
    "GET /api/users/usr_1/keys": { items: [activeKey] },
    "GET /api/users/usr_1/bedrock-credentials": apiError(404, "not_found", "User usr_1 has no Bedrock credentials of their own."),
    "GET /api/users/usr_1/breaker": closedBreaker,
    "GET /api/usage/series": series,
    ...overrides,
  };
}

function renderUser(overrides: FakeRoutes = {}, role: "admin" | "finance" = "admin") {
  return renderPage(<UserDetail />, { path: "/users/usr_1", route: "/users/:userId", role, api: routes(overrides) });
}

function section(name: string) {
  return within(screen.getByRole("region", { name }));
}

test("shows the user by name with a status badge, their profile, and this month's spend against the budget", async () => {
  const { calls } = renderUser();

  expect(await screen.findByRole("heading", { level: 1, name: "Ada Lovelace" })).toBeInTheDocument();
  expect(screen.getByText("Active")).toHaveClass("badge");
  for (const name of ["Profile", "Budget", "Access keys", "Bedrock credentials", "Breaker", "Usage by model"]) {
    expect(screen.getByRole("heading", { level: 2, name })).toBeInTheDocument();
  }
  const profile = section("Profile");
  expect(profile.getByText("ada@example.com")).toBeInTheDocument();
  expect(profile.getByText("CC-42")).toBeInTheDocument();
  expect(profile.getByText("Plan first")).toBeInTheDocument();

  const meter = await screen.findByRole("meter", { name: "Budget used this month" });
  expect(meter).toHaveAttribute("aria-valuenow", "80");
  expect(meter).toHaveClass("warn");
  expect(section("Budget").getByText("$120.40")).toBeInTheDocument();
  expect(calls.find((call) => call.path === "/api/usage/budgets")!.url).toBe(`/api/usage/budgets?month=${utcToday().slice(0, 7)}`);
  expect(section("Bedrock credentials").getByText("None — the gateway's own role answers this user's fallback")).toBeInTheDocument();
});

test("a user without a budget says so", async () => {
  const { calls } = renderUser({ "GET /api/users/usr_1": aUser({ budget_usd: null }) });
  await screen.findByRole("heading", { level: 1, name: "Ada Lovelace" });
  expect(section("Budget").getByText("No budget")).toBeInTheDocument();
  expect(calls.some((call) => call.path === "/api/usage/budgets")).toBe(false);
});

test("a user that does not exist says so, with a way back to Users", async () => {
  renderUser({ "GET /api/users/usr_1": apiError(404, "not_found", "There is no user usr_1.") });
  expect(await screen.findByRole("heading", { level: 1, name: "No such user" })).toBeInTheDocument();
  expect(screen.getByRole("link", { name: "Back to Users" })).toHaveAttribute("href", "/users");
  expect(screen.queryByRole("heading", { level: 2, name: "Access keys" })).not.toBeInTheDocument();
});

test("issuing a key shows the export line once; after Done it is gone from the page", async () => {
  const user = userEvent.setup();
  const exportLine = "export ANTHROPIC_BASE_URL=https://gw.example.com/ak/ak_live_secretvalue123";
  const issued: IssuedKey = { ...activeKey, key_id: "key_2", prefix: "ak_live_se", key: "ak_live_secretvalue123", base_url: "https://gw.example.com/ak/ak_live_secretvalue123", export_line: exportLine };
  const { calls } = renderUser({ "POST /api/users/usr_1/keys": { status: 201, body: issued } });
  const keys = await screen.findByRole("region", { name: "Access keys" });

  await user.selectOptions(within(keys).getByLabelText("Key expires after"), "90");
  await user.click(within(keys).getByRole("button", { name: "Issue key" }));

  expect(await screen.findByRole("heading", { name: "New key — copy it now, it is shown only once" })).toBeInTheDocument();
  expect(screen.getByTestId("issued-export")).toHaveTextContent(exportLine);
  expect(screen.getByTestId("issued-export")).toHaveClass("secret");
  expect(screen.getByRole("button", { name: "Copy" })).toBeInTheDocument();
  const post = calls.find((call) => call.method === "POST")!;
  expect(post.body).toEqual({ expires_in_days: 90 });
  expect(post.headers.get("Idempotency-Key")).toBeTruthy();

  await user.click(screen.getByRole("button", { name: "Done" }));

  expect(screen.queryByTestId("issued-export")).not.toBeInTheDocument();
  expect(document.body.textContent).not.toContain("ak_live_secretvalue123");
  expect(within(keys).getByRole("button", { name: "Issue key" })).toBeInTheDocument();
});

test("revoking a key asks first; Cancel sends nothing, confirming revokes it and reloads the list", async () => {
  const user = userEvent.setup();
  let revoked = false;
  const { calls } = renderUser({
    "GET /api/users/usr_1/keys": () => ({ items: [revoked ? { ...activeKey, status: "revoked", revoked_at: "2026-11-24T10:00:00Z" } : activeKey] }),
    "POST /api/users/usr_1/keys/key_1/revoke": () => {
      revoked = true;
      return { ...activeKey, status: "revoked", revoked_at: "2026-11-24T10:00:00Z" };
    },
  });
  const keys = within(await screen.findByRole("region", { name: "Access keys" }));
  const row = (await keys.findByText("ak_live_ab…")).closest("tr")!;

  await user.click(within(row).getByRole("button", { name: "Revoke" }));
  const dialog = screen.getByRole("dialog", { name: "Revoke key ak_live_ab…?" });
  expect(dialog).toHaveAttribute("open");
  await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
  expect(calls.some((call) => call.method === "POST")).toBe(false);

  await user.click(within(row).getByRole("button", { name: "Revoke" }));
  await user.click(within(screen.getByRole("dialog", { name: "Revoke key ak_live_ab…?" })).getByRole("button", { name: "Revoke key" }));

  const revokedTexts = await keys.findAllByText("Revoked");
  expect(revokedTexts.some((element) => element.classList.contains("badge"))).toBe(true);
  expect(calls.filter((call) => call.method === "POST").map((call) => call.path)).toEqual(["/api/users/usr_1/keys/key_1/revoke"]);
  expect(calls.filter((call) => call.path === "/api/users/usr_1/keys" && call.method === "GET")).toHaveLength(2);
  expect(keys.queryByRole("button", { name: "Revoke" })).not.toBeInTheDocument();
});

test("rotating a key sends the chosen grace period and shows the new key the same way", async () => {
  const user = userEvent.setup();
  const issued: IssuedKey = {
    ...activeKey,
    key_id: "key_3",
    prefix: "ak_live_ne",
    key: "ak_live_newsecret",
    base_url: "https://gw.example.com/ak/ak_live_newsecret",
    export_line: "export ANTHROPIC_BASE_URL=https://gw.example.com/ak/ak_live_newsecret",
    previous: { ...activeKey, expires_at: "2026-11-25T10:00:00Z" },
  };
  const { calls } = renderUser({ "POST /api/users/usr_1/keys/key_1/rotate": { status: 201, body: issued } });
  const row = (await screen.findByText("ak_live_ab…")).closest("tr")!;

  await user.click(within(row).getByRole("button", { name: "Rotate" }));
  const dialog = within(screen.getByRole("dialog", { name: "Rotate key ak_live_ab…?" }));
  expect(dialog.getByText(/keeps working for a grace period/)).toBeInTheDocument();
  await user.selectOptions(dialog.getByLabelText("The old key keeps working for"), "3600");
  await user.click(dialog.getByRole("button", { name: "Rotate key" }));

  expect(await screen.findByTestId("issued-export")).toHaveTextContent("ak_live_newsecret");
  const post = calls.find((call) => call.method === "POST")!;
  expect(post.body).toEqual({ grace_seconds: 3600 });
  expect(post.headers.get("Idempotency-Key")).toBeTruthy();
  expect(screen.getByRole("region", { name: "New key — copy it now, it is shown only once" })).toHaveTextContent(/previous key ak_live_ab… keeps working until/);
});

test("saving credentials sends the secret once, clears it from the form and never shows it", async () => {
  const user = userEvent.setup();
  let saved = false;
  const { calls } = renderUser({
    "GET /api/users/usr_1/bedrock-credentials": () =>
      saved ? { user_id: "usr_1", kind: "access_key", region: "eu-west-1", hint: "AKIA…WXYZ", updated_at: "2026-11-24T10:00:00Z" } : apiError(404, "not_found", "none"),
    "PUT /api/users/usr_1/bedrock-credentials": () => {
      saved = true;
      return { user_id: "usr_1", kind: "access_key", region: "eu-west-1", hint: "AKIA…WXYZ", updated_at: "2026-11-24T10:00:00Z" };
    },
  });
  const credentials = within(await screen.findByRole("region", { name: "Bedrock credentials" }));

  await user.selectOptions(credentials.getByLabelText("Credential type"), "access_key");
  expect(credentials.queryByLabelText("API key")).not.toBeInTheDocument();
  await user.type(credentials.getByLabelText("Access key ID"), "AKIAEXAMPLEWXYZ");
  await user.type(credentials.getByLabelText("Secret access key"), "very-secret-value");
  await user.type(credentials.getByLabelText("Region"), "eu-west-1");
  expect(credentials.getByLabelText("Secret access key")).toHaveAttribute("type", "password");
  await user.click(credentials.getByRole("button", { name: "Save credentials" }));

  expect(await credentials.findByText("AKIA…WXYZ")).toBeInTheDocument();
  const put = calls.find((call) => call.method === "PUT")!;
  expect(put.body).toEqual({ kind: "access_key", access_key_id: "AKIAEXAMPLEWXYZ", secret_access_key: "very-secret-value", session_token: null, region: "eu-west-1" });
  expect(credentials.getByLabelText("Secret access key")).toHaveValue("");
  expect(document.body.innerHTML).not.toContain("very-secret-value");
  expect(credentials.getByText("IAM access key pair", { selector: "dd" })).toBeInTheDocument();
});

test("a refused secret is cleared too, with the API's message beside its field", async () => {
  const user = userEvent.setup();
  renderUser({
    "PUT /api/users/usr_1/bedrock-credentials": apiError(422, "invalid_request", "The request is not valid: api_key: is not a Bedrock API key.", [
      { field: "api_key", message: "is not a Bedrock API key" },
    ]),
  });
  const credentials = within(await screen.findByRole("region", { name: "Bedrock credentials" }));

  await user.type(credentials.getByLabelText("API key"), "bedrock-key-typo");
  await user.click(credentials.getByRole("button", { name: "Save credentials" }));

  expect(await credentials.findByText("is not a Bedrock API key")).toBeInTheDocument();
  expect(credentials.getByLabelText("API key")).toHaveValue("");
  expect(credentials.getByLabelText("API key")).toHaveAccessibleDescription("is not a Bedrock API key");
  expect(document.body.innerHTML).not.toContain("bedrock-key-typo");
});

test("testing credentials shows whether Bedrock accepted them, with the model and latency", async () => {
  const user = userEvent.setup();
  renderUser({
    "POST /api/users/usr_1/bedrock-credentials/test": { ok: false, credentials: "role", model_id: "anthropic.claude-sonnet-4-5", status: 403, code: "AccessDeniedException", message: "Bedrock refused the role", latency_ms: 231 },
  });
  const credentials = within(await screen.findByRole("region", { name: "Bedrock credentials" }));
  await user.click(credentials.getByRole("button", { name: "Test credentials" }));
  expect(await credentials.findByText("Test failed")).toBeInTheDocument();
  expect(credentials.getByText(/Bedrock refused the role/)).toBeInTheDocument();
  expect(credentials.getByText("anthropic.claude-sonnet-4-5")).toBeInTheDocument();
  expect(credentials.getByText("231 ms")).toBeInTheDocument();
});

test("an open breaker shows why and until when, and can be reset after confirming", async () => {
  const user = userEvent.setup();
  let reset = false;
  const { calls } = renderUser({
    "GET /api/users/usr_1/breaker": () => (reset ? { ...closedBreaker, trips: 3 } : openBreaker),
    "POST /api/users/usr_1/breaker/reset": () => {
      reset = true;
      return { ...closedBreaker, trips: 3 };
    },
  });
  const breaker = within(await screen.findByRole("region", { name: "Breaker" }));

  expect(await breaker.findAllByText("Open")).not.toHaveLength(0);
  expect(breaker.getAllByText("The plan's usage limit was reached").length).toBeGreaterThan(0);
  expect(breaker.getAllByText("429").length).toBeGreaterThan(0);
  const until = breaker.getAllByTitle("2026-11-24 14:00:00 UTC")[0];
  expect(until.tagName).toBe("TIME");
  expect(breaker.getByRole("table", { name: "Last transitions" })).toBeInTheDocument();

  await user.click(breaker.getByRole("button", { name: "Reset breaker" }));
  expect(calls.some((call) => call.method === "POST")).toBe(false);
  await user.click(within(screen.getByRole("dialog", { name: "Reset the breaker?" })).getByRole("button", { name: "Reset breaker" }));

  expect(await breaker.findByText("Closed")).toBeInTheDocument();
  expect(calls.filter((call) => call.method === "POST").map((call) => call.path)).toEqual(["/api/users/usr_1/breaker/reset"]);
  expect(breaker.queryByRole("button", { name: "Reset breaker" })).not.toBeInTheDocument();
});

test("a change someone else made first (409) says so and offers to reload", async () => {
  const user = userEvent.setup();
  let version = 3;
  const { calls } = renderUser({
    "GET /api/users/usr_1": () => aUser({ version, team: version > 3 ? "platform" : "data" }),
    "PATCH /api/users/usr_1": () => {
      version = 4;
      return apiError(409, "conflict", "User usr_1 changed since version 3 (now 4).");
    },
  });
  const profile = within(await screen.findByRole("region", { name: "Profile" }));

  await user.click(profile.getByRole("button", { name: "Edit" }));
  await user.clear(profile.getByLabelText("Team"));
  await user.type(profile.getByLabelText("Team"), "research");
  await user.clear(profile.getByLabelText("Monthly budget (USD)"));
  await user.click(profile.getByRole("button", { name: "Save changes" }));

  expect(await profile.findByText(/Someone else changed this user/)).toBeInTheDocument();
  // Only what changed, with the version that was read; a cleared budget is sent as null (no budget).
  expect(calls.find((call) => call.method === "PATCH")!.body).toEqual({ version: 3, team: "research", budget_usd: null });

  await user.click(profile.getByRole("button", { name: "Reload the user" }));
  expect(await profile.findByText("platform")).toBeInTheDocument();
  expect(profile.queryByText(/Someone else changed this user/)).not.toBeInTheDocument();
});

test("deactivating asks first and sends the version read", async () => {
  const user = userEvent.setup();
  const { calls } = renderUser({ "POST /api/users/usr_1/deactivate": aUser({ status: "inactive", version: 4 }) });
  const profile = within(await screen.findByRole("region", { name: "Profile" }));

  await user.click(profile.getByRole("button", { name: "Deactivate" }));
  expect(calls.some((call) => call.method === "POST")).toBe(false);
  await user.click(within(screen.getByRole("dialog", { name: "Deactivate Ada Lovelace?" })).getByRole("button", { name: "Deactivate" }));

  await waitFor(() => expect(calls.filter((call) => call.method === "POST")).toHaveLength(1));
  expect(calls.find((call) => call.method === "POST")!.body).toEqual({ version: 3 });
});

test("usage by model asks for this user's series and shows its numbers in a table named like the chart", async () => {
  const { calls } = renderUser();
  const usage = within(await screen.findByRole("region", { name: "Usage by model" }));

  const table = await usage.findByRole("table", { name: "Cost per day by model" });
  expect(usage.getByRole("img", { name: "Cost per day by model" })).toBeInTheDocument();
  const row = within(table).getByRole("rowheader", { name: "claude-sonnet-4-5" }).closest("tr")!;
  expect(within(row).getAllByText("$42.50")).toHaveLength(2); // the total, and the one day with usage
  expect(within(row).getByText("1,200")).toBeInTheDocument();
  const request = new URL(calls.find((call) => call.path === "/api/usage/series")!.url, "http://x");
  expect(request.searchParams.get("group_by")).toBe("model");
  expect(request.searchParams.get("user_id")).toBe("usr_1");
  expect(request.searchParams.get("from")).toMatch(/^\d{4}-\d{2}-\d{2}$/);
});

test("finance sees no control that changes the user", async () => {
  renderUser({ "GET /api/users/usr_1/breaker": openBreaker }, "finance");
  await screen.findByRole("heading", { level: 1, name: "Ada Lovelace" });
  await screen.findByText("ak_live_ab…");
  await screen.findAllByText("The plan's usage limit was reached");
  for (const name of ["Edit", "Deactivate", "Delete user", "Issue key", "Revoke", "Rotate", "Save credentials", "Test credentials", "Reset breaker"]) {
    expect(screen.queryByRole("button", { name })).not.toBeInTheDocument();
  }
});

test("deleting the user asks first, then leaves their page for Users", async () => {
  const user = userEvent.setup();
  const { calls } = renderUser({ "DELETE /api/users/usr_1": aUser({ status: "deleted", version: 4 }) });
  const profile = within(await screen.findByRole("region", { name: "Profile" }));

  await user.click(profile.getByRole("button", { name: "Delete user" }));
  const dialog = within(screen.getByRole("dialog", { name: "Delete Ada Lovelace?" }));
  expect(dialog.getByText(/Every access key of theirs is revoked/)).toBeInTheDocument();
  expect(calls.some((call) => call.method === "DELETE")).toBe(false);
  await user.click(dialog.getByRole("button", { name: "Delete user" }));

  // The test's router has only the user route: leaving for /users empties it.
  await waitFor(() => expect(screen.queryByRole("heading", { level: 1 })).not.toBeInTheDocument());
  expect(calls.filter((call) => call.method === "DELETE").map((call) => call.path)).toEqual(["/api/users/usr_1"]);
});

test("a deleted user's page is a record: no controls, and it says what deletion did", async () => {
  renderUser({ "GET /api/users/usr_1": aUser({ status: "deleted" }) });
  await screen.findByRole("heading", { level: 1, name: "Ada Lovelace" });
  expect(screen.getByText(/This user was deleted/)).toBeInTheDocument();
  await screen.findByText("ak_live_ab…");
  for (const name of ["Edit", "Reactivate", "Delete user", "Issue key", "Revoke", "Save credentials"]) {
    expect(screen.queryByRole("button", { name })).not.toBeInTheDocument();
  }
});
