import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import { useLocation } from "react-router";
import type { SeriesGroupView, SeriesView } from "../api/usage";
import { addDays, utcToday } from "../lib/format";
import { totals } from "../test/fixtures";
import { renderPage, type FakeRoutes } from "../test/render";
import Usage from "./Usage";

const FROM = "2026-11-01";
const TO = "2026-11-03";
const DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"];

function group(key: string | null, counts: { requests: number; errors?: number; tokens: number; cost_usd: string }, extra: Partial<SeriesGroupView> = {}): SeriesGroupView {
  // All of it on the last day keeps the per-day numbers easy to check.
  return {
    key,
    totals: totals(counts),
    points: [{ day: "2026-11-03", requests: counts.requests, errors: counts.errors ?? 0, tokens: counts.tokens, cost_usd: counts.cost_usd }],
    ...extra,
  };
}

const BY_USER: SeriesView = {
  from: FROM,
  to: TO,
  group_by: "user",
  days: DAYS,
  groups: [
    {
      key: "usr_ada",
      name: "Ada Lovelace",
      team: "platform",
      totals: totals({ requests: 5210, errors: 12, tokens: 20_400_000, cost_usd: "612.345678" }),
      points: [
        { day: "2026-11-01", requests: 2000, errors: 2, tokens: 8_000_000, cost_usd: "240.5" },
        { day: "2026-11-03", requests: 3210, errors: 10, tokens: 12_400_000, cost_usd: "371.845678" },
      ],
    },
    group("usr_grace", { requests: 1200, errors: 0, tokens: 3_500_000, cost_usd: "98.1" }, { name: "Grace Hopper", team: null }),
    group("usr_gone", { requests: 3, tokens: 9000, cost_usd: "0.004" }, { name: null, team: null }),
  ],
};

function seriesRoute(answers: Partial<Record<string, SeriesView>> = {}): FakeRoutes {
  return {
    "GET /api/usage/series": (request: Request) => {
      const groupBy = new URL(request.url).searchParams.get("group_by") ?? "user";
      return answers[groupBy] ?? { ...BY_USER, group_by: groupBy, groups: [] };
    },
  };
}

function Where() {
  const location = useLocation();
  return <output data-testid="location">{location.search}</output>;
}

function renderUsage(options: { path?: string; role?: "admin" | "finance"; api?: FakeRoutes } = {}) {
  return renderPage(
    <>
      <Usage />
      <Where />
    </>,
    { path: options.path ?? `/usage?from=${FROM}&to=${TO}`, role: options.role, api: options.api ?? seriesRoute({ user: BY_USER }) },
  );
}

function rowOf(table: HTMLElement, rowHeader: string): string[] {
  const header = within(table).getByRole("rowheader", { name: rowHeader });
  return Array.from(header.closest("tr")!.children).map((cell) => cell.textContent ?? "");
}

function searchParams(): URLSearchParams {
  return new URLSearchParams(screen.getByTestId("location").textContent ?? "");
}

test("one row per user with name and team, figures for people, and a totals row", async () => {
  renderUsage();
  expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Usage");
  const table = await screen.findByRole("table", { name: "Usage by user" });
  expect(within(table).getAllByRole("columnheader").map((cell) => cell.textContent)).toEqual(["User", "Team", "Requests", "Errors", "Tokens", "Cost (USD)"]);
  expect(rowOf(table, "Ada Lovelace")).toEqual(["Ada Lovelace", "platform", "5,210", "12", "20,400,000", "$612.35"]);
  expect(rowOf(table, "Grace Hopper")).toEqual(["Grace Hopper", "No team", "1,200", "0", "3,500,000", "$98.10"]);
  expect(rowOf(table, "usr_gone")).toEqual(["usr_gone", "No team", "3", "0", "9,000", "$0.004"]);
  expect(rowOf(table, "Total")).toEqual(["Total", "", "6,413", "12", "23,909,000", "$710.45"]);
  expect(within(table).getByRole("link", { name: "Ada Lovelace" })).toHaveAttribute("href", "/users/usr_ada");
});

test("the chart is cost per day by user, its numbers in a table of the same name", async () => {
  renderUsage();
  expect(await screen.findByRole("img", { name: "Cost per day by user" })).toBeInTheDocument();
  const perDay = screen.getByRole("table", { name: "Cost per day by user" });
  expect(within(perDay).getAllByRole("columnheader").map((cell) => cell.textContent)).toEqual(["Day", "Ada Lovelace", "Grace Hopper", "usr_gone", "All"]);
  expect(rowOf(perDay, "Nov 1, 2026")).toEqual(["Nov 1, 2026", "$240.50", "$0.00", "$0.00", "$240.50"]);
  expect(rowOf(perDay, "Nov 3, 2026")).toEqual(["Nov 3, 2026", "$371.85", "$98.10", "$0.004", "$469.95"]);
});

test("past eight groups the chart sums the rest as Other; the measure switches to requests", async () => {
  const user = userEvent.setup();
  const many: SeriesView = {
    ...BY_USER,
    group_by: "model",
    groups: Array.from({ length: 11 }, (_, index) => group(`model-${index + 1}`, { requests: 100 + index, tokens: 1000, cost_usd: String(50 - index) })),
  };
  renderUsage({ path: `/usage?from=${FROM}&to=${TO}&group_by=model`, api: seriesRoute({ model: many }) });
  const perDay = await screen.findByRole("table", { name: "Cost per day by model" });
  const headers = within(perDay).getAllByRole("columnheader").map((cell) => cell.textContent);
  expect(headers).toEqual(["Day", ...Array.from({ length: 8 }, (_, index) => `model-${index + 1}`), "Other", "All"]);
  // model-9, -10 and -11 cost 42 + 41 + 40.
  expect(rowOf(perDay, "Nov 3, 2026")[9]).toBe("$123.00");
  expect(screen.getByText(/"Other" sums the remaining 3/)).toBeInTheDocument();
  // The table below still lists every model.
  expect(within(screen.getByRole("table", { name: "Usage by model" })).getAllByRole("row")).toHaveLength(1 + 11 + 1);

  await user.selectOptions(screen.getByLabelText("Measure"), "requests");
  const byRequests = await screen.findByRole("table", { name: "Requests per day by model" });
  // Ranked by requests now: the cheapest models make the most requests.
  expect(within(byRequests).getAllByRole("columnheader")[1]).toHaveTextContent("model-11");
  expect(searchParams().get("measure")).toBe("requests");
});

test("grouping by team asks the API for teams and keeps the grouping in the URL", async () => {
  const user = userEvent.setup();
  const byTeam: SeriesView = {
    ...BY_USER,
    group_by: "team",
    groups: [group("platform", { requests: 5210, tokens: 20_400_000, cost_usd: "612.345678" }), group(null, { requests: 1203, tokens: 3_509_000, cost_usd: "98.104" })],
  };
  const { calls } = renderUsage({ api: seriesRoute({ user: BY_USER, team: byTeam }) });
  await screen.findByRole("table", { name: "Usage by user" });
  expect(calls.map((call) => call.url)).toEqual([`/api/usage/series?from=${FROM}&to=${TO}&group_by=user`]);

  await user.selectOptions(screen.getByLabelText("Group by"), "team");
  const table = await screen.findByRole("table", { name: "Usage by team" });
  expect(calls.at(-1)?.url).toBe(`/api/usage/series?from=${FROM}&to=${TO}&group_by=team`);
  expect(within(table).getAllByRole("columnheader").map((cell) => cell.textContent)).toEqual(["Team", "Requests", "Errors", "Tokens", "Cost (USD)"]);
  expect(rowOf(table, "No team")).toEqual(["No team", "1,203", "0", "3,509,000", "$98.10"]);
  expect(screen.getByRole("img", { name: "Cost per day by team" })).toBeInTheDocument();
  expect(searchParams().get("group_by")).toBe("team");
  expect(searchParams().get("from")).toBe(FROM);
  expect(searchParams().get("to")).toBe(TO);

  // A new range keeps the grouping.
  await user.click(screen.getByRole("button", { name: "Last 7 days" }));
  const today = utcToday();
  await waitFor(() => expect(calls.at(-1)?.url).toBe(`/api/usage/series?from=${addDays(today, -6)}&to=${today}&group_by=team`));
  await screen.findByRole("table", { name: "Usage by team" });
});

test("an unknown model is named as such", async () => {
  const byModel: SeriesView = { ...BY_USER, group_by: "model", groups: [group("claude-sonnet-4-5", { requests: 10, tokens: 100, cost_usd: "1" }), group(null, { requests: 2, tokens: 20, cost_usd: "0" })] };
  renderUsage({ path: `/usage?from=${FROM}&to=${TO}&group_by=model`, api: seriesRoute({ model: byModel }) });
  const table = await screen.findByRole("table", { name: "Usage by model" });
  expect(rowOf(table, "Unknown model")).toEqual(["Unknown model", "2", "0", "20", "$0.00"]);
  expect(rowOf(table, "claude-sonnet-4-5")[1]).toBe("10");
});

test("the team filter narrows the request, and the API's word on a bad team shows beside the field", async () => {
  const user = userEvent.setup();
  const { calls } = renderUsage({
    api: {
      "GET /api/usage/series": (request: Request) => {
        const team = new URL(request.url).searchParams.get("team");
        if (team === "#ops") {
          return { status: 422, body: { error: { type: "invalid_request", message: "The request is not valid: team: string should match pattern", fields: [{ field: "team", message: "Use letters, digits, spaces and . _ / & + -" }] } } };
        }
        return team ? { ...BY_USER, groups: BY_USER.groups.filter((entry) => entry.team === team) } : BY_USER;
      },
    },
  });
  await screen.findByRole("table", { name: "Usage by user" });
  const teamInput = screen.getByRole("textbox", { name: "Team" });
  await user.type(teamInput, "platform{Enter}");
  await waitFor(() => expect(calls.at(-1)?.url).toBe(`/api/usage/series?from=${FROM}&to=${TO}&group_by=user&team=platform`));
  await waitFor(() => expect(screen.queryByRole("rowheader", { name: "Grace Hopper" })).toBeNull());
  expect(searchParams().get("team")).toBe("platform");

  await user.clear(teamInput);
  await user.type(teamInput, "#ops");
  await user.click(screen.getByRole("button", { name: "Apply" }));
  expect(await screen.findByText("Use letters, digits, spaces and . _ / & + -")).toBeInTheDocument();
  expect(teamInput).toHaveAttribute("aria-invalid", "true");
  expect(screen.getByText("Correct the team filter above to see usage.")).toBeInTheDocument();

  await user.click(screen.getByRole("button", { name: "Clear team" }));
  await waitFor(() => expect(calls.at(-1)?.url).toBe(`/api/usage/series?from=${FROM}&to=${TO}&group_by=user`));
  expect(await screen.findByRole("rowheader", { name: "Grace Hopper" })).toBeInTheDocument();
  expect(teamInput).toHaveValue("");
});

test("a range without usage says so and what to try", async () => {
  renderUsage({ api: seriesRoute({}) });
  expect(await screen.findByText("No usage in this range. Choose a longer range above.")).toBeInTheDocument();
  expect(screen.queryByRole("button", { name: "Download CSV" })).toBeNull();
});

test("a reversed range is not asked for", async () => {
  const { calls } = renderUsage({ path: "/usage?from=2026-11-05&to=2026-11-01" });
  expect(await screen.findByText("Choose a start day on or before the end day to see usage.")).toBeInTheDocument();
  expect(calls).toHaveLength(0);
});

test("the API's refusal is shown as its message, with a retry that asks again", async () => {
  const user = userEvent.setup();
  let refuse = true;
  const { calls } = renderUsage({
    path: "/usage?from=2024-01-01&to=2026-11-03",
    api: {
      "GET /api/usage/series": () =>
        refuse ? { status: 422, body: { error: { type: "invalid_request", message: "The range is too long: at most 366 days.", fields: [{ field: "from", message: "at most 366 days" }] } } } : BY_USER,
    },
  });
  const alert = await screen.findByRole("alert");
  expect(alert).toHaveTextContent("The range is too long: at most 366 days.");
  refuse = false;
  await user.click(within(alert).getByRole("button", { name: "Try again" }));
  expect(await screen.findByRole("table", { name: "Usage by user" })).toBeInTheDocument();
  expect(calls).toHaveLength(2);
});

test("finance sees the same table without links to user pages", async () => {
  renderUsage({ role: "finance" });
  const table = await screen.findByRole("table", { name: "Usage by user" });
  expect(within(table).getByRole("rowheader", { name: "Ada Lovelace" })).toBeInTheDocument();
  expect(within(table).queryByRole("link")).toBeNull();
});

/** jsdom's Blob has no text(); FileReader reads it. */
function blobText(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.onerror = () => reject(reader.error);
    reader.readAsText(blob);
  });
}

test("Download CSV saves the table on screen, tricky names quoted and formulas defused", async () => {
  const user = userEvent.setup();
  const tricky: SeriesView = {
    ...BY_USER,
    groups: [
      group("usr_1", { requests: 10, errors: 1, tokens: 1000, cost_usd: "12.345678" }, { name: "Smith, Jo", team: "data" }),
      group("usr_2", { requests: 5, tokens: 500, cost_usd: "0.5" }, { name: 'Ada "the Countess"', team: null }),
      group("usr_3", { requests: 2, tokens: 200, cost_usd: "0.000001" }, { name: "Line\nBreak", team: "+ops" }),
      group("usr_4", { requests: 1, tokens: 100, cost_usd: "0" }, { name: '=HYPERLINK("http://evil.test")', team: "-1" }),
    ],
  };
  renderUsage({ api: seriesRoute({ user: tricky }) });
  await screen.findByRole("table", { name: "Usage by user" });

  let saved: Blob | undefined;
  const created = vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
    saved = blob as Blob;
    return "blob:usage";
  });
  const revoked = vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
  const downloads: string[] = [];
  const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
    downloads.push(this.download);
  });
  try {
    await user.click(screen.getByRole("button", { name: "Download CSV" }));
    expect(downloads).toEqual([`overspill-usage-user-${FROM}-to-${TO}.csv`]);
    const text = (await blobText(saved!)).replace(/^\uFEFF/, "");
    expect(text).toBe(
      [
        "User,Team,Requests,Errors,Tokens,Cost (USD)",
        '"Smith, Jo",data,10,1,1000,12.345678',
        '"Ada ""the Countess""",No team,5,0,500,0.5',
        '"Line\nBreak",\'+ops,2,0,200,0.000001',
        '"\'=HYPERLINK(""http://evil.test"")",-1,1,0,100,0',
        "Total,,18,1,1800,12.845679",
        "",
      ].join("\r\n"),
    );
  } finally {
    created.mockRestore();
    revoked.mockRestore();
    click.mockRestore();
  }
});

test.each(["admin", "finance"] as const)("axe finds nothing to fix on the page for %s", async (role) => {
  const { container } = renderUsage({ role });
  await screen.findByRole("table", { name: "Usage by user" });
  // jsdom draws nothing, so colour contrast cannot be judged here.
  const results = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  expect(results.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`)).toEqual([]);
});
