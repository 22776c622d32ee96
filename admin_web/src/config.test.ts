import { ConfigError, loadConfig, type RuntimeConfig } from "./config";

const GOOD: RuntimeConfig = {
  apiBase: "/api",
  cognito: { region: "eu-west-1", userPoolId: "eu-west-1_pool", clientId: "app-client", endpoint: "http://127.0.0.1:9229" },
};

/** A fetch that answers /config.json with `response` and records how it was asked. */
function serving(response: Response | Error) {
  const requests: { url: string; init?: RequestInit }[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push({ url: String(input), init });
    if (response instanceof Error) throw response;
    return response;
  };
  return { fetchImpl: fetchImpl as typeof fetch, requests };
}

function jsonResponse(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

test("a good /config.json is read fresh on every load (never from the HTTP cache)", async () => {
  const { fetchImpl, requests } = serving(jsonResponse(GOOD));

  expect(await loadConfig(fetchImpl)).toEqual(GOOD);
  expect(requests).toEqual([{ url: "/config.json", init: { cache: "no-store" } }]);
});

test.each([
  ["absent", { region: "eu-west-1", userPoolId: "eu-west-1_pool", clientId: "app-client" }],
  ["null", { region: "eu-west-1", userPoolId: "eu-west-1_pool", clientId: "app-client", endpoint: null }],
])("an endpoint that is %s means AWS's own (null)", async (_, cognito) => {
  const { fetchImpl } = serving(jsonResponse({ apiBase: "https://api.example.com/api", cognito }));

  expect(await loadConfig(fetchImpl)).toEqual({
    apiBase: "https://api.example.com/api",
    cognito: { region: "eu-west-1", userPoolId: "eu-west-1_pool", clientId: "app-client", endpoint: null },
  });
});

async function refusal(fetchImpl: typeof fetch): Promise<ConfigError> {
  try {
    await loadConfig(fetchImpl);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("loadConfig accepted it");
}

test("a 404 says the deployment is incomplete", async () => {
  const error = await refusal(serving(new Response("Not Found", { status: 404 })).fetchImpl);
  expect(error.message).toBe("/config.json answered 404: the deployment is incomplete.");
});

test("an HTML page (a SPA fallback) instead of JSON says so", async () => {
  const error = await refusal(serving(new Response("<!doctype html><html></html>", { status: 200 })).fetchImpl);
  expect(error.message).toBe("/config.json is not JSON: the deployment is incomplete.");
});

test("an unreachable server says so", async () => {
  const error = await refusal(serving(new TypeError("Failed to fetch")).fetchImpl);
  expect(error.message).toBe("The dashboard cannot reach its server to read /config.json.");
});

test.each([
  ["no apiBase", { cognito: GOOD.cognito }],
  ["no cognito", { apiBase: "/api" }],
  ["no clientId", { apiBase: "/api", cognito: { region: "eu-west-1", userPoolId: "eu-west-1_pool" } }],
  ["no userPoolId", { apiBase: "/api", cognito: { region: "eu-west-1", clientId: "app-client" } }],
  ["no region", { apiBase: "/api", cognito: { userPoolId: "eu-west-1_pool", clientId: "app-client" } }],
  ["an endpoint that is not a string", { apiBase: "/api", cognito: { ...GOOD.cognito, endpoint: 9229 } }],
  ["a JSON array", [GOOD]],
  ["JSON null", null],
])("a file with %s is refused", async (_, body) => {
  const error = await refusal(serving(jsonResponse(body)).fetchImpl);
  expect(error.message).toBe("/config.json lacks apiBase or the Cognito settings.");
});
