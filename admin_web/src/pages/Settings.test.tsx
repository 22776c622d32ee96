import { screen, within, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ModelMappingsView, PricingView } from "../api/admin";
import { renderPage } from "../test/render";
import Settings from "./Settings";

function pricing(overrides: Partial<PricingView> = {}): PricingView {
  return {
    table_as_of: "2026-01-15",
    models: [
      {
        model: "claude-opus-4-8", aliases: ["claude-opus-4"], input: "4.50", output: "25", cache_write_5m: "6.25",
        cache_write_1h: "10", cache_read: "0.5", long_context: null, bedrock_geography_premium: true, overridden: true,
        source: "admin override of input; otherwise Anthropic list price",
      },
      {
        model: "claude-sonnet-4-6", aliases: [], input: "3", output: "15", cache_write_5m: "3.75", cache_write_1h: "6",
        cache_read: "0.3", long_context: { above_input_tokens: 200000, input_factor: "2", output_factor: "1.5" },
        bedrock_geography_premium: true, overridden: false, source: "Anthropic list price",
      },
    ],
    bedrock_multipliers: { eu: "1.1", global: "1", us: "1.1" },
    overrides: { models: { "claude-opus-4-8": { input: "4.50" } }, bedrock_multipliers: {} },
    version: 3,
    updated_at: "2026-02-01T10:00:00Z",
    updated_by: "ada",
    refresh_s: 300,
    problem: null,
    ...overrides,
  };
}

function mappings(overrides: Partial<ModelMappingsView> = {}): ModelMappingsView {
  return {
    geography: "us",
    built_in: { "claude-sonnet-4-6": "us.anthropic.claude-sonnet-4-6-v1:0" },
    settings: {},
    admin: { "claude-opus-5": "us.anthropic.claude-opus-5-v1:0" },
    version: 7,
    updated_at: "2026-02-02T09:00:00Z",
    updated_by: "grace",
    effective: [
      { model: "claude-opus-5", bedrock_model_id: "us.anthropic.claude-opus-5-v1:0", foundation_model_id: "anthropic.claude-opus-5-v1:0", source: "admin", problem: null },
      { model: "claude-sonnet-4-6", bedrock_model_id: "us.anthropic.claude-sonnet-4-6-v1:0", foundation_model_id: "anthropic.claude-sonnet-4-6-v1:0", source: "built_in", problem: null },
    ],
    refresh_s: 300,
    problem: null,
    ...overrides,
  };
}

const reads = { "GET /api/pricing": pricing(), "GET /api/model-mappings": mappings() };

function section(name: string) {
  return screen.getByRole("region", { name });
}

test("shows each model's effective prices, their source and the multipliers", async () => {
  renderPage(<Settings />, { api: reads });
  const prices = await screen.findByRole("table", { name: /Effective prices/ });
  const opus = within(prices).getByRole("row", { name: /claude-opus-4-8/ });
  expect(opus).toHaveTextContent("$4.50");
  expect(opus).toHaveTextContent("Override");
  expect(within(prices).getByRole("row", { name: /claude-sonnet-4-6/ })).toHaveTextContent("Built-in");
  expect(screen.getByRole("table", { name: /Bedrock geography multipliers/ })).toHaveTextContent("×1.1");
  expect(within(section("Pricing")).getByText("ada", { exact: false })).toBeInTheDocument();
  const effective = await screen.findByRole("table", { name: /Which Bedrock model/ });
  expect(within(effective).getByRole("row", { name: /claude-opus-5/ })).toHaveTextContent("Admin map");
});

test("finance sees prices and mappings with no edit controls at all", async () => {
  renderPage(<Settings />, { role: "finance", api: reads });
  await screen.findByRole("table", { name: /Effective prices/ });
  await screen.findByRole("table", { name: /Which Bedrock model/ });
  expect(screen.queryByRole("button", { name: /Save/ })).not.toBeInTheDocument();
  expect(screen.queryByRole("button", { name: /Override|Edit|Change|Remove|Add/ })).not.toBeInTheDocument();
  expect(screen.queryByRole("textbox")).not.toBeInTheDocument();
  expect(screen.queryByRole("combobox")).not.toBeInTheDocument();
});

test("the pricing editor sends the version it read with the overrides from the form", async () => {
  const user = userEvent.setup();
  const saved = pricing({ version: 4 });
  const { calls } = renderPage(<Settings />, { api: { ...reads, "PUT /api/pricing/overrides": saved } });
  await user.click(await screen.findByRole("button", { name: "Override for claude-sonnet-4-6" }));
  const sonnet = screen.getByRole("group", { name: "claude-sonnet-4-6" });
  expect(within(sonnet).getByLabelText("Input")).toHaveFocus();
  await user.type(within(sonnet).getByLabelText("Output"), "14.5");
  await user.selectOptions(within(sonnet).getByLabelText("Long-context pricing"), "none");
  const opus = screen.getByRole("group", { name: "claude-opus-4-8" });
  await user.clear(within(opus).getByLabelText("Input"));
  await user.type(within(opus).getByLabelText("Input"), "4");
  await user.click(screen.getByRole("button", { name: "Save pricing" }));
  expect(await screen.findByText(/Saved version 4/)).toBeInTheDocument();
  const put = calls.find((call) => call.method === "PUT");
  expect(put?.path).toBe("/api/pricing/overrides");
  expect(put?.body).toEqual({
    version: 3,
    models: { "claude-opus-4-8": { input: "4" }, "claude-sonnet-4-6": { output: "14.5", long_context: null } },
    bedrock_multipliers: {},
  });
});

test("removing an override and adding a multiplier are sent too", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Settings />, { api: { ...reads, "PUT /api/pricing/overrides": pricing({ version: 4 }) } });
  await user.click(await screen.findByRole("button", { name: "Remove override for claude-opus-4-8" }));
  await user.click(screen.getByRole("button", { name: "Add a multiplier" }));
  await user.type(screen.getByLabelText("Geography"), "eu");
  await user.type(screen.getByLabelText("Multiplier"), "1.15");
  await user.click(screen.getByRole("button", { name: "Save pricing" }));
  await screen.findByText(/Saved version 4/);
  expect(calls.find((call) => call.method === "PUT")?.body).toEqual({ version: 3, models: {}, bedrock_multipliers: { eu: "1.15" } });
});

test("a stale version (409) says someone else changed it and reloads on request", async () => {
  const user = userEvent.setup();
  let version = 3;
  const { calls } = renderPage(<Settings />, {
    api: {
      ...reads,
      "GET /api/pricing": () => pricing({ version }),
      "PUT /api/pricing/overrides": () => {
        version = 5;
        return { status: 409, body: { error: { type: "conflict", message: "The price overrides changed since you read them: they are at version 5", fields: [] } } };
      },
    },
  });
  const opus = await screen.findByRole("group", { name: "claude-opus-4-8" });
  await user.type(within(opus).getByLabelText("Output"), "20");
  await user.click(screen.getByRole("button", { name: "Save pricing" }));
  const alert = await screen.findByRole("alert");
  expect(alert).toHaveTextContent("Someone else changed the prices");
  await user.click(within(alert).getByRole("button", { name: "Reload prices" }));
  await waitFor(() => expect(within(section("Pricing")).getByText("5")).toBeInTheDocument());
  expect(within(screen.getByRole("group", { name: "claude-opus-4-8" })).getByLabelText("Output")).toHaveValue("");
  expect(calls.filter((call) => call.url === "/api/pricing")).toHaveLength(2);
});

test("the API's field errors appear next to the price they name", async () => {
  const user = userEvent.setup();
  renderPage(<Settings />, {
    api: {
      ...reads,
      "PUT /api/pricing/overrides": {
        status: 422,
        body: { error: { type: "invalid_request", message: "price override for 'claude-opus-4-8': 'output' must be zero or more, got '-1'", fields: [{ field: "models.claude-opus-4-8.output", message: "'output' must be zero or more, got '-1'" }] } },
      },
    },
  });
  const opus = await screen.findByRole("group", { name: "claude-opus-4-8" });
  await user.type(within(opus).getByLabelText("Output"), "-1");
  await user.click(screen.getByRole("button", { name: "Save pricing" }));
  await waitFor(() => expect(within(opus).getByLabelText("Output")).toHaveAccessibleDescription("'output' must be zero or more, got '-1'"));
  expect(within(opus).getByLabelText("Input")).not.toHaveAttribute("aria-invalid");
  expect(screen.getByText("Please correct the fields marked below.")).toBeInTheDocument();
});

test("admins change the admin model map with the version read", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Settings />, { api: { ...reads, "PUT /api/model-mappings": mappings({ version: 8 }) } });
  await user.click(await screen.findByRole("button", { name: "Change the mapping of claude-sonnet-4-6" }));
  const editor = screen.getByRole("region", { name: "Edit admin mappings" });
  const targets = within(editor).getAllByLabelText("Bedrock model id");
  expect(targets[1]).toHaveFocus();
  await user.clear(targets[1]);
  await user.type(targets[1], "eu.anthropic.claude-sonnet-4-6-v1:0");
  await user.click(within(editor).getByRole("button", { name: "Remove the mapping of claude-opus-5" }));
  await user.click(within(editor).getByRole("button", { name: "Save model mappings" }));
  expect(await screen.findByText(/Saved version 8/)).toBeInTheDocument();
  expect(calls.find((call) => call.method === "PUT")?.body).toEqual({ version: 7, mappings: { "claude-sonnet-4-6": "eu.anthropic.claude-sonnet-4-6-v1:0" } });
});

test("a model mapping refused by the API shows its reason beside the mapping", async () => {
  const user = userEvent.setup();
  renderPage(<Settings />, {
    api: {
      ...reads,
      "PUT /api/model-mappings": { status: 422, body: { error: { type: "invalid_request", message: "not a Bedrock model id", fields: [{ field: "mappings.claude-opus-5", message: "not a Bedrock model id" }] } } },
    },
  });
  const editor = await screen.findByRole("region", { name: "Edit admin mappings" });
  const target = within(editor).getByLabelText("Bedrock model id");
  await user.clear(target);
  await user.type(target, "opus");
  await user.click(within(editor).getByRole("button", { name: "Save model mappings" }));
  await waitFor(() => expect(target).toHaveAccessibleDescription("not a Bedrock model id"));
});
