/** Fallback reason codes (overspill.fallback.FallbackReason) in words an admin or finance reader understands. */

export interface ReasonWording {
  label: string;
  explanation: string;
}

const REASONS: Record<string, ReasonWording> = {
  plan_limit: { label: "Plan limit reached", explanation: "The subscription's usage window was used up." },
  throttle: { label: "Throttled by Anthropic", explanation: "A short rate limit without plan limit headers." },
  overloaded: { label: "Anthropic overloaded", explanation: "The plan answered 529 (overloaded)." },
  server_error: { label: "Anthropic server error", explanation: "The plan answered with a 5xx error." },
  unreachable: { label: "Anthropic unreachable", explanation: "The connection failed (refused, DNS or TLS)." },
  timeout: { label: "Anthropic timed out", explanation: "No answer from the plan in time." },
  early_switch: { label: "Plan nearly used up", explanation: "The plan reported use over the early-switch threshold." },
  breaker_open: { label: "Breaker open", explanation: "An earlier failure or limit sent this user to Bedrock for a while." },
  bedrock_only: { label: "Bedrock-only user", explanation: "The user's routing mode sends everything to Bedrock." },
  "": { label: "Reason not recorded", explanation: "Bedrock answered without a recorded reason." },
};

export function reasonWording(code: string): ReasonWording {
  return REASONS[code] ?? { label: code, explanation: "" };
}
