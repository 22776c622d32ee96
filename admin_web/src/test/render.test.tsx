import { screen } from "@testing-library/react";
import { useApiQuery } from "../api/hooks";
import { Loaded } from "../components/States";
import { renderPage } from "./render";

function Probe() {
  const query = useApiQuery("me", (api) => api.get<{ username: string }>("/me"));
  return <Loaded query={query}>{(me) => <p>hello {me.username}</p>}</Loaded>;
}

test("the fake API answers the page's request with the bearer token", async () => {
  const { calls } = renderPage(<Probe />, { api: { "GET /api/me": { username: "ada" } } });
  expect(await screen.findByText("hello ada")).toBeInTheDocument();
  expect(calls[0].headers.get("Authorization")).toBe("Bearer token");
});

test("an API refusal is shown as the API's message with a retry", async () => {
  renderPage(<Probe />, { api: { "GET /api/me": { status: 404, body: { error: { type: "not_found", message: "No such user", fields: [] } } } } });
  expect(await screen.findByRole("alert")).toHaveTextContent("No such user");
  expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
});
