import { screen, within, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { AuditEntry } from "../api/admin";
import { renderPage } from "../test/render";
import Audit from "./Audit";

function entry(id: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    entry_id: id, at: "2026-02-14T09:30:00Z", actor: "ada", action: "user.update", target_type: "user",
    target_id: "usr_1", before: { name: "Grace", budget_usd: "100", team: "data" },
    after: { name: "Grace", budget_usd: "150.5", team: "data" }, request_id: "req-1", ...overrides,
  };
}

function rows() {
  return within(screen.getByRole("table")).getAllByRole("row").slice(1);
}

test("shows who changed what, with only the changed fields and the full state in details", async () => {
  renderPage(<Audit />, {
    path: "/audit",
    api: {
      "GET /api/audit": {
        items: [
          entry("e2"),
          entry("e1", { action: "key.revoke", target_type: "key", target_id: "key_9", before: { user_id: "usr_7", status: "active" }, after: { user_id: "usr_7", status: "revoked" } }),
        ],
        next_cursor: null,
      },
    },
  });
  const [first, second] = await waitFor(() => rows());
  expect(within(first).getByText("budget_usd")).toBeInTheDocument();
  expect(first).toHaveTextContent("budget_usd: 100 → 150.5");
  expect(first).not.toHaveTextContent("name:");
  expect(within(first).getByRole("link", { name: "usr_1" })).toHaveAttribute("href", "/users/usr_1");
  expect(within(first).getByText("Before and after").closest("details")).toHaveTextContent('"team": "data"');
  expect(second).toHaveTextContent("status: active → revoked");
  expect(within(second).getByRole("link", { name: "usr_7" })).toHaveAttribute("href", "/users/usr_7");
  expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
});

test("filters from the URL and the form build the query", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Audit />, {
    path: "/audit?actor=ada",
    api: { "GET /api/audit": { items: [entry("e1")], next_cursor: null } },
  });
  await waitFor(() => expect(rows()).toHaveLength(1));
  expect(calls[0].url).toBe("/api/audit?actor=ada&limit=50");
  expect(screen.getByLabelText("Actor")).toHaveValue("ada");
  await user.type(screen.getByLabelText("Target type"), "user");
  await user.type(screen.getByLabelText("Target id"), "usr_1");
  await user.click(screen.getByRole("button", { name: "Apply filters" }));
  await waitFor(() => expect(calls).toHaveLength(2));
  const query = new URL(calls[1].url, "http://x").searchParams;
  expect(Object.fromEntries(query)).toEqual({ actor: "ada", target_type: "user", target_id: "usr_1", limit: "50" });
  expect(screen.getByLabelText("Target id")).toHaveValue("usr_1");
});

test("Load more asks for the next cursor with the same filters and appends", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Audit />, {
    path: "/audit?target_type=user",
    api: {
      "GET /api/audit": (request: Request) =>
        new URL(request.url).searchParams.get("cursor") === "page-2"
          ? { items: [entry("e1", { actor: "grace" })], next_cursor: null }
          : { items: [entry("e3"), entry("e2")], next_cursor: "page-2" },
    },
  });
  await waitFor(() => expect(rows()).toHaveLength(2));
  await user.click(screen.getByRole("button", { name: "Load more" }));
  await waitFor(() => expect(rows()).toHaveLength(3));
  expect(rows()[2]).toHaveTextContent("grace");
  const query = new URL(calls[1].url, "http://x").searchParams;
  expect(query.get("cursor")).toBe("page-2");
  expect(query.get("target_type")).toBe("user");
  expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
});

test("no entries for the filters says so and offers to clear them", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Audit />, {
    path: "/audit?actor=nobody",
    api: { "GET /api/audit": (request: Request) => ({ items: new URL(request.url).searchParams.get("actor") ? [] : [entry("e1")], next_cursor: null }) },
  });
  expect(await screen.findByText("No entries match these filters.")).toBeInTheDocument();
  await user.click(screen.getAllByRole("button", { name: "Clear filters" })[0]);
  await waitFor(() => expect(rows()).toHaveLength(1));
  expect(calls.at(-1)?.url).toBe("/api/audit?limit=50");
});

test("an empty log explains what will appear", async () => {
  renderPage(<Audit />, { path: "/audit", api: { "GET /api/audit": { items: [], next_cursor: null } } });
  expect(await screen.findByText(/Nothing has been changed yet/)).toBeInTheDocument();
});

test("a nested change names the field that changed, not the whole document", async () => {
  renderPage(<Audit />, {
    path: "/audit",
    api: {
      "GET /api/audit": {
        items: [entry("e1", {
          action: "pricing.update", target_type: "pricing", target_id: "price_overrides",
          before: { version: 2, models: {}, bedrock_multipliers: { eu: "1.1" } },
          after: { version: 3, models: { "claude-x": { input: "4.50" } }, bedrock_multipliers: { eu: "1.1" } },
        })],
        next_cursor: null,
      },
    },
  });
  const [row] = await waitFor(() => rows());
  const changes = within(row).getByRole("list");
  expect(changes).toHaveTextContent("models.claude-x.input: — → 4.50");
  expect(changes).toHaveTextContent("version: 2 → 3");
  expect(changes).not.toHaveTextContent("bedrock_multipliers");
  expect(within(row).queryByRole("link")).not.toBeInTheDocument();
});
