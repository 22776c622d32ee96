import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useLocation } from "react-router";
import type { User, UserPage } from "../api/users";
import { renderPage, type FakeRoutes } from "../test/render";
import { aUser, apiError } from "./user/testing";
import Users from "./Users";

/** Where the page's links and navigation lead (the route "*" keeps the page rendered after it navigates). */
function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function renderUsers(path: string, api: FakeRoutes) {
  return renderPage(
    <>
      <Users />
      <Where />
    </>,
    { path, route: "*", role: "admin", api: { "GET /api/teams": { items: [{ team: "data", budget_usd: null, cost_center: null, members: 2, version: 0, updated_at: null }] }, ...api } },
  );
}

const page = (items: User[], next_cursor: string | null = null): UserPage => ({ items, next_cursor });

test("lists users with a link to each, their status and budget; the filters in the URL go to the API", async () => {
  const { calls } = renderUsers("/users?status=inactive&team=data", {
    "GET /api/users": page([aUser({ status: "inactive", budget_usd: null, routing_mode: "bedrock_only" })]),
  });

  const link = await screen.findByRole("link", { name: "Ada Lovelace" });
  expect(link).toHaveAttribute("href", "/users/usr_1");
  const row = link.closest("tr")!;
  expect(within(row).getByText("Inactive")).toBeInTheDocument();
  expect(within(row).getByText("Bedrock only")).toBeInTheDocument();
  expect(within(row).getByText("None")).toBeInTheDocument();
  expect(within(row).getByText("ada@example.com")).toBeInTheDocument();

  const request = new URL(calls.find((call) => call.path === "/api/users")!.url, "http://x");
  expect(request.searchParams.get("status")).toBe("inactive");
  expect(request.searchParams.get("team")).toBe("data");
  expect(screen.getByLabelText("Status")).toHaveValue("inactive");
  expect(screen.getByLabelText("Team")).toHaveValue("data");
});

test("a search is sent to the API and kept in the URL; another routing mode narrows it further", async () => {
  const user = userEvent.setup();
  const { calls } = renderUsers("/users", { "GET /api/users": page([aUser()]) });
  await screen.findByRole("link", { name: "Ada Lovelace" });

  await user.type(screen.getByLabelText("Search"), "ada");
  await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("/users?search=ada"));
  await user.selectOptions(screen.getByLabelText("Routing mode"), "plan_only");

  await waitFor(() => expect(calls.some((call) => call.url === "/api/users?search=ada&routing_mode=plan_only")).toBe(true));
  // One request per settled search, not one per key typed.
  expect(calls.filter((call) => /search=(a|ad)(&|$)/.test(call.url))).toHaveLength(0);
  expect(screen.getByTestId("where")).toHaveTextContent("/users?search=ada&routing_mode=plan_only");
});

test("no users at all invites creating the first; no match under filters says so and offers to clear them", async () => {
  const user = userEvent.setup();
  const first = renderUsers("/users", { "GET /api/users": page([]) });
  expect(await screen.findByText("No users yet — create the first")).toBeInTheDocument();
  await user.click(screen.getByRole("button", { name: "Create the first user" }));
  expect(screen.getByRole("heading", { level: 2, name: "New user" })).toBeInTheDocument();
  first.unmount();

  renderUsers("/users?search=zed", { "GET /api/users": page([]) });
  expect(await screen.findByText("No users match")).toBeInTheDocument();
  expect(screen.queryByText("No users yet — create the first")).not.toBeInTheDocument();
  await user.click(screen.getAllByRole("button", { name: "Clear filters" })[0]);
  await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent(/^\/users$/));
});

test("Load more asks for the next page with the cursor and adds it below", async () => {
  const user = userEvent.setup();
  renderUsers("/users", {
    "GET /api/users": (request: Request) =>
      new URL(request.url).searchParams.get("cursor") === "c2"
        ? page([aUser({ user_id: "usr_2", name: "Grace Hopper" })])
        : page([aUser()], "c2"),
  });
  await screen.findByRole("link", { name: "Ada Lovelace" });

  await user.click(screen.getByRole("button", { name: "Load more" }));

  expect(await screen.findByRole("link", { name: "Grace Hopper" })).toBeInTheDocument();
  expect(screen.getByRole("link", { name: "Ada Lovelace" })).toBeInTheDocument();
  expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
});

async function fillNewUser(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByRole("button", { name: "New user" }));
  const form = within(screen.getByRole("region", { name: "New user" }));
  await user.type(form.getByLabelText("Name"), "Grace Hopper");
  await user.type(form.getByLabelText("Email"), "grace@example");
  await user.type(form.getByLabelText("Team"), "platform");
  await user.selectOptions(form.getByLabelText("Routing mode"), "bedrock_only");
  await user.type(form.getByLabelText("Monthly budget (USD)"), "-5");
  return form;
}

test("creating a user sends the API's body with an Idempotency-Key, then opens the new user", async () => {
  const user = userEvent.setup();
  const { calls } = renderUsers("/users", {
    "GET /api/users": page([]),
    "POST /api/users": { status: 201, body: aUser({ user_id: "usr_new", name: "Grace Hopper" }) },
  });
  const form = await fillNewUser(user);
  await user.clear(form.getByLabelText("Email"));
  await user.type(form.getByLabelText("Email"), "grace@example.com");
  await user.clear(form.getByLabelText("Monthly budget (USD)"));
  await user.type(form.getByLabelText("Monthly budget (USD)"), "150.5");

  await user.click(form.getByRole("button", { name: "Create user" }));

  await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("/users/usr_new"));
  const posts = calls.filter((call) => call.method === "POST");
  expect(posts).toHaveLength(1);
  // The blank cost centre is left out, not sent as "".
  expect(posts[0].body).toEqual({ name: "Grace Hopper", email: "grace@example.com", team: "platform", routing_mode: "bedrock_only", budget_usd: "150.5" });
  expect(posts[0].headers.get("Idempotency-Key")).toMatch(/^[0-9a-f-]{36}$/);
});

test("the API's field errors appear beside Email and Monthly budget; a retry reuses the key only for the same request", async () => {
  const user = userEvent.setup();
  let attempts = 0;
  const { calls } = renderUsers("/users", {
    "GET /api/users": page([]),
    "POST /api/users": () =>
      ++attempts <= 2
        ? apiError(422, "invalid_request", "The request is not valid: email: not an email; budget_usd: must be 0 or more.", [
            { field: "email", message: "not an email address" },
            { field: "budget_usd", message: "must be 0 or more" },
          ])
        : { status: 201, body: aUser({ user_id: "usr_new" }) },
  });
  const form = await fillNewUser(user);

  await user.click(form.getByRole("button", { name: "Create user" }));

  expect(await form.findByText("not an email address")).toBeInTheDocument();
  expect(form.getByLabelText("Email")).toHaveAccessibleDescription("not an email address");
  expect(form.getByLabelText("Monthly budget (USD)")).toHaveAccessibleDescription(expect.stringContaining("must be 0 or more"));
  expect(form.getByLabelText("Email")).toHaveAttribute("aria-invalid", "true");
  expect(screen.getByTestId("where")).toHaveTextContent(/^\/users$/);

  // The same request again (a second click, a retry): the same key, so the API could never make two users.
  await user.click(form.getByRole("button", { name: "Create user" }));
  await waitFor(() => expect(calls.filter((call) => call.method === "POST")).toHaveLength(2));
  // A corrected request is a new attempt: a new key (the API refuses a key reused for another body).
  await user.clear(form.getByLabelText("Monthly budget (USD)"));
  await user.click(form.getByRole("button", { name: "Create user" }));
  await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("/users/usr_new"));

  const keys = calls.filter((call) => call.method === "POST").map((call) => call.headers.get("Idempotency-Key"));
  expect(keys[0]).toBe(keys[1]);
  expect(keys[2]).not.toBe(keys[1]);
  expect(calls.filter((call) => call.method === "POST")[2].body).not.toHaveProperty("budget_usd");
});
