import { InvalidPasswordException, NotAuthorizedException } from "@aws-sdk/client-cognito-identity-provider";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import App from "../App";
import { SessionStore } from "../auth/session";
import type { RuntimeConfig } from "../config";
import { COGNITO, fakeCognito, type SentCommand } from "../test/fixtures";
import { safeNext } from "./SignIn";

const CONFIG: RuntimeConfig = { apiBase: "/api", cognito: COGNITO };

/** The real SessionStore (tokens in localStorage) over a Cognito that answers with `answer`. */
function storeWith(answer: (command: SentCommand) => unknown) {
  const { client, sent } = fakeCognito(answer);
  return { session: new SessionStore(CONFIG.cognito, window.localStorage, client), sent };
}

const TOKENS = { AuthenticationResult: { AccessToken: "access-1", RefreshToken: "refresh-1", ExpiresIn: 3600 } };

/** The admin API: /api/me says who is signed in; the pages' other reads answer 404 (not what these tests look at). */
function stubApi(me = { username: "ada", role: "admin", groups: ["admins"] }) {
  const calls: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const path = new URL(String(input), window.location.origin).pathname;
    calls.push(path);
    if (path === "/api/me") return new Response(JSON.stringify(me), { status: 200, headers: { "Content-Type": "application/json" } });
    return new Response(JSON.stringify({ error: { type: "not_found", message: "Not here", fields: [] } }), { status: 404 });
  });
  return calls;
}

function here(): string {
  return window.location.pathname + window.location.search;
}

function openSignIn(url: string, session: SessionStore) {
  window.history.pushState({}, "", url);
  render(<App config={CONFIG} session={session} />);
  return userEvent.setup();
}

async function signIn(user: ReturnType<typeof userEvent.setup>, username: string, password: string) {
  await user.type(screen.getByLabelText("Username"), username);
  await user.type(screen.getByLabelText("Password"), password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
}

afterEach(() => {
  vi.unstubAllGlobals();
});

test("signing in lands on the page named by next, and the dashboard knows who signed in", async () => {
  const apiCalls = stubApi();
  const { session, sent } = storeWith(() => TOKENS);
  const user = openSignIn("/sign-in?next=%2Fusage%3Ffrom%3D2026-11-01%26to%3D2026-11-07", session);

  expect(screen.getByRole("heading", { level: 1, name: "Overspill admin" })).toBeInTheDocument();
  await signIn(user, "  ada  ", "correct horse battery");

  expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
  expect(here()).toBe("/usage?from=2026-11-01&to=2026-11-07");
  expect(screen.getByText("ada")).toBeInTheDocument();
  expect(sent).toEqual([
    {
      name: "InitiateAuthCommand",
      input: { AuthFlow: "USER_PASSWORD_AUTH", ClientId: "app-client", AuthParameters: { USERNAME: "ada", PASSWORD: "correct horse battery" } },
    },
  ]);
  expect(apiCalls).toContain("/api/me");
  // The tokens are in storage, never in the address bar.
  expect(window.location.href).not.toContain("access-1");
});

test.each([
  ["another site, protocol-relative", "//evil.example/phish"],
  ["another site, absolute", "https://evil.example/phish"],
  ["a javascript: URL", "javascript:alert(1)"],
  ["the sign-in page itself", "/sign-in?next=/users"],
])("a next of %s lands on the overview instead", async (_, next) => {
  stubApi();
  const { session } = storeWith(() => TOKENS);
  const user = openSignIn(`/sign-in?next=${encodeURIComponent(next)}`, session);

  await signIn(user, "ada", "pw");

  expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
  expect(here()).toBe("/");
});

test("safeNext keeps this app's paths and refuses the rest", () => {
  expect(safeNext("/users/usr_1?tab=keys")).toBe("/users/usr_1?tab=keys");
  expect(safeNext(null)).toBe("/");
  expect(safeNext("")).toBe("/");
  expect(safeNext("users")).toBe("/");
  expect(safeNext("//evil.example")).toBe("/");
  expect(safeNext("https://evil.example")).toBe("/");
  expect(safeNext("/sign-in")).toBe("/");
});

test("a first sign-in chooses a new password: a mismatch is caught here, then the new password signs in", async () => {
  stubApi();
  const { session, sent } = storeWith((command) =>
    command.name === "InitiateAuthCommand" ? { ChallengeName: "NEW_PASSWORD_REQUIRED", Session: "challenge-session" } : TOKENS,
  );
  const user = openSignIn("/sign-in?next=%2Fexports", session);

  await signIn(user, "ada", "Temporary-1");
  const form = await screen.findByRole("form", { name: "Choose a new password" });
  expect(form).toBeInTheDocument();
  expect(screen.queryByLabelText("Password")).not.toBeInTheDocument();

  await user.type(screen.getByLabelText("New password"), "A-new-Password-2026");
  await user.type(screen.getByLabelText("Repeat the new password"), "A-new-Password-2062");
  await user.click(screen.getByRole("button", { name: "Set password and sign in" }));
  expect(screen.getByRole("alert")).toHaveTextContent("The two passwords differ.");
  expect(sent).toHaveLength(1);

  await user.clear(screen.getByLabelText("Repeat the new password"));
  await user.type(screen.getByLabelText("Repeat the new password"), "A-new-Password-2026");
  await user.click(screen.getByRole("button", { name: "Set password and sign in" }));

  expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
  expect(here()).toBe("/exports");
  expect(sent[1]).toEqual({
    name: "RespondToAuthChallengeCommand",
    input: {
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      ClientId: "app-client",
      Session: "challenge-session",
      ChallengeResponses: { USERNAME: "ada", NEW_PASSWORD: "A-new-Password-2026" },
    },
  });
});

test("a new password Cognito refuses shows Cognito's rule and stays on the step", async () => {
  stubApi();
  const rule = "Password does not conform to policy: Password must have uppercase characters";
  const { session } = storeWith((command) => {
    if (command.name === "InitiateAuthCommand") return { ChallengeName: "NEW_PASSWORD_REQUIRED", Session: "challenge-session" };
    throw new InvalidPasswordException({ message: rule, $metadata: {} });
  });
  const user = openSignIn("/sign-in", session);

  await signIn(user, "ada", "Temporary-1");
  await user.type(await screen.findByLabelText("New password"), "all-lowercase-2026");
  await user.type(screen.getByLabelText("Repeat the new password"), "all-lowercase-2026");
  await user.click(screen.getByRole("button", { name: "Set password and sign in" }));

  expect(await screen.findByRole("alert")).toHaveTextContent(rule);
  expect(screen.getByRole("form", { name: "Choose a new password" })).toBeInTheDocument();
  expect(here()).toBe("/sign-in");
});

test("a wrong password says so and stays on the sign-in page, signed out", async () => {
  const apiCalls = stubApi();
  const { session } = storeWith(() => {
    throw new NotAuthorizedException({ message: "Incorrect username or password.", $metadata: {} });
  });
  const user = openSignIn("/sign-in?next=%2Fusers", session);

  await signIn(user, "ada", "wrong");

  expect(await screen.findByRole("alert")).toHaveTextContent("Incorrect username or password.");
  expect(screen.getByRole("button", { name: "Sign in" })).toBeEnabled();
  expect(here()).toBe("/sign-in?next=%2Fusers");
  expect(session.current()).toBeNull();
  expect(apiCalls).toEqual([]);
});

test("empty fields are caught before asking Cognito", async () => {
  stubApi();
  const { session, sent } = storeWith(() => TOKENS);
  const user = openSignIn("/sign-in", session);

  await user.type(screen.getByLabelText("Username"), "ada");
  await user.click(screen.getByRole("button", { name: "Sign in" }));

  expect(screen.getByRole("alert")).toHaveTextContent("Enter your username and password.");
  expect(sent).toEqual([]);
});

test("after an expired session the page says why the user is here again", async () => {
  stubApi();
  const { session } = storeWith(() => TOKENS);
  openSignIn("/sign-in?next=%2Fusage&expired=1", session);

  expect(screen.getByRole("status")).toHaveTextContent("Your session has ended. Sign in again to continue where you were.");
});

test("without expired=1 there is no such note", () => {
  stubApi();
  const { session } = storeWith(() => TOKENS);
  openSignIn("/sign-in?next=%2Fusage", session);

  expect(screen.queryByText(/Your session has ended/)).not.toBeInTheDocument();
});

test("someone already signed in who opens the sign-in page goes straight to next", async () => {
  stubApi();
  const { session } = storeWith(() => TOKENS);
  await session.signIn("ada", "pw");
  openSignIn("/sign-in?next=%2Fsettings", session);

  expect(await screen.findByRole("navigation", { name: "Main" })).toBeInTheDocument();
  await waitFor(() => expect(here()).toBe("/settings"));
});
