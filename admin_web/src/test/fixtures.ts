/** Builders the tests share: the API's usage counters, and a fake Cognito for the real SessionStore. */
import type { CognitoIdentityProviderClient } from "@aws-sdk/client-cognito-identity-provider";
import type { Totals } from "../api/usage";
import type { RuntimeConfig } from "../config";

/** A usage Totals of zeros but for `counts`. */
export function totals(counts: Partial<Totals>): Totals {
  return {
    requests: 0,
    errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_write_5m_tokens: 0,
    cache_write_1h_tokens: 0,
    cache_read_tokens: 0,
    tokens: 0,
    cost_usd: "0",
    unpriced_requests: 0,
    ...counts,
  };
}

/** The user pool the Cognito fakes stand for. */
export const COGNITO: RuntimeConfig["cognito"] = { region: "eu-west-1", userPoolId: "eu-west-1_pool", clientId: "app-client", endpoint: null };

/** A command as the fake Cognito saw it: its class name and input. */
export interface SentCommand {
  name: string;
  input: Record<string, unknown>;
}

/** A Cognito client that records each command in `sent` and answers with `answer` (which may throw, as Cognito refuses). */
export function fakeCognito(answer: (command: SentCommand) => unknown) {
  const sent: SentCommand[] = [];
  const client = {
    send: async (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
      const record = { name: command.constructor.name, input: command.input };
      sent.push(record);
      return answer(record);
    },
  };
  return { client: client as unknown as CognitoIdentityProviderClient, sent };
}
