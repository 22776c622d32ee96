import { fireEvent, screen, within, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ExportList, ExportRunView, ExportView } from "../api/admin";
import { renderPage } from "../test/render";
import Exports from "./Exports";
import { browser } from "./exports/browser";

const totals = {
  requests: 120, errors: 1, input_tokens: 50_000, output_tokens: 9_000, cache_write_5m_tokens: 0,
  cache_write_1h_tokens: 0, cache_read_tokens: 1_000, cost_usd: "12.3400000000", unpriced_requests: 0,
};

function exportView(kind: "daily" | "monthly", period: string, overrides: Partial<ExportView> = {}): ExportView {
  return {
    kind, period, rows: 42, events_read: 120, totals, complete: true, generated_at: "2026-02-15T01:31:00Z",
    csv_bytes: 2048, sha256: "ab".repeat(32), ...overrides,
  };
}

function listing(request: Request, items: Record<string, ExportView[]>): ExportList {
  const query = new URL(request.url).searchParams;
  const kind = (query.get("kind") ?? "daily") as "daily" | "monthly";
  return { kind, from: query.get("from") ?? "", to: query.get("to") ?? "", items: items[kind] ?? [] };
}

const routes = {
  "GET /api/exports": (request: Request) =>
    listing(request, {
      daily: [exportView("daily", "2026-02-14"), exportView("daily", "2026-02-13", { complete: false })],
      monthly: [exportView("monthly", "2026-01", { rows: 900, totals: { ...totals, cost_usd: "400.5" } })],
    }),
};

afterEach(() => vi.restoreAllMocks());

test("lists daily and monthly exports for the range in the URL, newest first", async () => {
  const { calls } = renderPage(<Exports />, { path: "/exports?from=2026-01-01&to=2026-02-14", api: routes });
  const table = await screen.findByRole("table");
  const rows = within(table).getAllByRole("row").slice(1);
  expect(rows).toHaveLength(3);
  expect(rows[0]).toHaveTextContent("Daily");
  expect(rows[2]).toHaveTextContent("Monthly");
  expect(rows[2]).toHaveTextContent("$400.50");
  expect(within(rows[1]).getByText("Not settled")).toBeInTheDocument();
  const urls = calls.map((call) => call.url);
  expect(urls).toContain("/api/exports?kind=daily&from=2026-01-01&to=2026-02-14");
  expect(urls).toContain("/api/exports?kind=monthly&from=2026-01-01&to=2026-02-14");
});

test("the Kind filter asks for one kind only", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Exports />, { path: "/exports?from=2026-01-01&to=2026-02-14", api: routes });
  await screen.findByRole("table");
  await user.selectOptions(screen.getByLabelText("Kind"), "monthly");
  await screen.findByText("Monthly", { selector: "td" });
  await waitFor(() => expect(screen.getAllByRole("row")).toHaveLength(2));
  expect(calls.at(-1)?.url).toBe("/api/exports?kind=monthly&from=2026-01-01&to=2026-02-14");
});

test("an empty range explains that exports run on a schedule", async () => {
  renderPage(<Exports />, { path: "/exports", api: { "GET /api/exports": (request: Request) => listing(request, {}) } });
  expect(await screen.findByText(/Exports run on a schedule/)).toBeInTheDocument();
});

test("Download asks for the link and sends the browser to it, offering the manifest", async () => {
  const user = userEvent.setup();
  const open = vi.spyOn(browser, "open").mockImplementation(() => undefined);
  const { calls } = renderPage(<Exports />, {
    path: "/exports?from=2026-01-01&to=2026-02-14",
    api: {
      ...routes,
      "GET /api/exports/daily/2026-02-14/download": {
        url: "https://bucket.example/usage-2026-02-14.csv?X-Amz-Signature=abc",
        expires_at: "2026-02-15T10:15:00Z",
        filename: "usage-2026-02-14.csv",
        manifest_url: "https://bucket.example/manifest.json?X-Amz-Signature=def",
      },
    },
  });
  await user.click(await screen.findByRole("button", { name: "Download daily export for 2026-02-14" }));
  await waitFor(() => expect(open).toHaveBeenCalledWith("https://bucket.example/usage-2026-02-14.csv?X-Amz-Signature=abc"));
  expect(calls.some((call) => call.url === "/api/exports/daily/2026-02-14/download")).toBe(true);
  expect(screen.getByRole("link", { name: /manifest/ })).toHaveAttribute("href", "https://bucket.example/manifest.json?X-Amz-Signature=def");
});

test("a missing export's download shows the API's reason and goes nowhere", async () => {
  const user = userEvent.setup();
  const open = vi.spyOn(browser, "open").mockImplementation(() => undefined);
  renderPage(<Exports />, {
    path: "/exports?from=2026-01-01&to=2026-02-14",
    api: {
      ...routes,
      "GET /api/exports/monthly/2026-01/download": { status: 404, body: { error: { type: "not_found", message: "There is no monthly export for 2026-01", fields: [] } } },
    },
  });
  await user.click(await screen.findByRole("button", { name: "Download monthly export for 2026-01" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("There is no monthly export for 2026-01");
  expect(open).not.toHaveBeenCalled();
});

test("finance can download but sees no Run an export section", async () => {
  renderPage(<Exports />, { path: "/exports?from=2026-01-01&to=2026-02-14", role: "finance", api: routes });
  await screen.findByRole("table");
  expect(screen.getAllByRole("button", { name: /^Download/ })).toHaveLength(3);
  expect(screen.queryByRole("heading", { name: "Run an export" })).not.toBeInTheDocument();
  expect(screen.queryByRole("button", { name: "Run export" })).not.toBeInTheDocument();
});

test("running a reversed range shows the API's message next to the field it names", async () => {
  const user = userEvent.setup();
  const { calls } = renderPage(<Exports />, {
    path: "/exports?from=2026-01-01&to=2026-02-14",
    api: {
      ...routes,
      "POST /api/exports": {
        status: 422,
        body: { error: { type: "invalid_request", message: "The request is not valid: to: the range ends before it starts", fields: [{ field: "to", message: "the range ends before it starts" }] } },
      },
    },
  });
  const section = screen.getByRole("region", { name: "Run an export" });
  fireEvent.change(within(section).getByLabelText("From"), { target: { value: "2026-02-10" } });
  fireEvent.change(within(section).getByLabelText("To"), { target: { value: "2026-02-01" } });
  await user.click(within(section).getByRole("button", { name: "Run export" }));
  const to = within(section).getByLabelText("To");
  await waitFor(() => expect(to).toHaveAccessibleDescription("the range ends before it starts"));
  expect(to).toHaveAttribute("aria-invalid", "true");
  expect(within(section).getByLabelText("From")).not.toHaveAttribute("aria-invalid");
  expect(calls.find((call) => call.method === "POST")?.body).toEqual({ kind: "daily", from: "2026-02-10", to: "2026-02-01" });
});

test("a run shows what it wrote and refreshes the list", async () => {
  const user = userEvent.setup();
  const run: ExportRunView = {
    kind: "daily", from: "2026-02-14", to: "2026-02-14", events_read: 120, totals,
    written: [exportView("daily", "2026-02-14", { rows: 7 })],
  };
  const { calls } = renderPage(<Exports />, { path: "/exports?from=2026-01-01&to=2026-02-14", api: { ...routes, "POST /api/exports": { status: 201, body: run } } });
  await screen.findByRole("table");
  const listsBefore = calls.filter((call) => call.method === "GET").length;
  const section = screen.getByRole("region", { name: "Run an export" });
  fireEvent.change(within(section).getByLabelText("From"), { target: { value: "2026-02-14" } });
  fireEvent.change(within(section).getByLabelText("To"), { target: { value: "2026-02-14" } });
  await user.click(within(section).getByRole("button", { name: "Run export" }));
  expect(await within(section).findByText(/wrote 1 file/)).toBeInTheDocument();
  expect(within(section).getByRole("table", { name: "Files written" })).toHaveTextContent("$12.34");
  await waitFor(() => expect(calls.filter((call) => call.method === "GET").length).toBeGreaterThan(listsBefore));
});
