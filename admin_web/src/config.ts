/** The runtime settings in `/config.json`: written by the CDK deployment and by `overspill dev`. */
export interface RuntimeConfig {
  apiBase: string;
  cognito: {
    region: string;
    userPoolId: string;
    clientId: string;
    /** The cognito-idp endpoint; null: AWS's own for the region. */
    endpoint: string | null;
  };
}

export class ConfigError extends Error {}

function isRuntimeConfig(value: unknown): value is RuntimeConfig {
  if (typeof value !== "object" || value === null) return false;
  const config = value as Record<string, unknown>;
  const cognito = config.cognito as Record<string, unknown> | undefined;
  return (
    typeof config.apiBase === "string" &&
    typeof cognito === "object" &&
    cognito !== null &&
    typeof cognito.region === "string" &&
    typeof cognito.userPoolId === "string" &&
    typeof cognito.clientId === "string" &&
    (cognito.endpoint === null || cognito.endpoint === undefined || typeof cognito.endpoint === "string")
  );
}

/** Fetched on every load, never cached: a new deployment (or a restarted local run) may name a new pool. */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  let response: Response;
  try {
    response = await fetchImpl("/config.json", { cache: "no-store" });
  } catch {
    throw new ConfigError("The dashboard cannot reach its server to read /config.json.");
  }
  if (!response.ok) throw new ConfigError(`/config.json answered ${response.status}: the deployment is incomplete.`);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ConfigError("/config.json is not JSON: the deployment is incomplete.");
  }
  if (!isRuntimeConfig(body)) throw new ConfigError("/config.json lacks apiBase or the Cognito settings.");
  return { ...body, cognito: { ...body.cognito, endpoint: body.cognito.endpoint ?? null } };
}
