"""Faults of the plan upstream (Anthropic), for a plan_first developer unless the row says plan_only."""

from tests.integration.faults.matrix import Client, Row

_FELL_BACK = "the whole answer from Bedrock, streamed as Anthropic would have sent it; the plan's error never shows"
_COUNTED = ("counted: the request falls back; the 3rd counted failure within 60 s opens it for 120 s "
            "(OVERSPILL_BREAKER_FAILURE_THRESHOLD / _WINDOW_S / _COOLDOWN_S)")
_NOT_CONSULTED = "not consulted or written: plan_only developers never fall back"

ROWS = [
    Row(
        id="plan-429-plan-limit",
        fault="Plan limit reached: 429 with `anthropic-ratelimit-unified-status: rejected`",
        injected="fake Anthropic answers 429 with the unified rate-limit headers, reset in an hour",
        client=Client(200, route="bedrock", sees=_FELL_BACK + " (`x-overspill-fallback-reason: plan_limit`)"),
        breaker="opens until the plan's reset (`anthropic-ratelimit-unified-reset`); later requests go straight "
                "to Bedrock without asking the plan",
        usage="route bedrock, status 200, fallback_reason plan_limit, the Bedrock model id, Bedrock's tokens",
    ),
    Row(
        id="plan-429-throttle",
        fault="Short throttle: 429 without plan headers",
        injected="fake Anthropic answers 429 with only `retry-after: 3` (no `anthropic-ratelimit-unified-*`)",
        client=Client(200, route="bedrock", sees=_FELL_BACK + " (fallback reason throttle)"),
        breaker="opens for `retry-after` seconds (without it, OVERSPILL_BREAKER_THROTTLE_OPEN_S, 30 s)",
        usage="route bedrock, status 200, fallback_reason throttle, Bedrock's tokens",
    ),
    Row(
        id="plan-529",
        fault="Anthropic overloaded: 529 `overloaded_error`",
        injected="fake Anthropic answers 529 with Anthropic's error body",
        client=Client(200, route="bedrock", sees=_FELL_BACK + " (fallback reason overloaded)"),
        breaker=_COUNTED,
        usage="route bedrock, status 200, fallback_reason overloaded, Bedrock's tokens",
    ),
    Row(
        id="plan-5xx",
        fault="Anthropic server error: 500, 502 or 503",
        injected="fake Anthropic answers the status with an `api_error` body (one test per status)",
        client=Client(200, route="bedrock", sees=_FELL_BACK + " (fallback reason server_error)"),
        breaker=_COUNTED,
        usage="route bedrock, status 200, fallback_reason server_error, Bedrock's tokens",
    ),
    Row(
        id="plan-connection-refused",
        fault="Anthropic unreachable: connection refused",
        injected="the plan URL is a loopback port nothing listens on (the kernel answers RST)",
        client=Client(200, route="bedrock", sees=_FELL_BACK + " (fallback reason unreachable)"),
        breaker=_COUNTED,
        usage="route bedrock, status 200, fallback_reason unreachable, Bedrock's tokens",
    ),
    Row(
        id="plan-connect-timeout",
        fault="Anthropic unreachable: connect timeout",
        injected="the plan URL is a listener that never accepts, its accept queue full, so the kernel drops the "
                 "SYN; OVERSPILL_UPSTREAM_CONNECT_TIMEOUT_S 0.3 s",
        client=Client(200, route="bedrock", sees=_FELL_BACK + " after the connect timeout (fallback reason timeout)"),
        breaker=_COUNTED,
        usage="route bedrock, status 200, fallback_reason timeout, Bedrock's tokens",
    ),
    Row(
        id="plan-read-timeout-before-first-byte",
        fault="Anthropic accepts the request but sends no response headers in time",
        injected="fake Anthropic waits 3 s before its status line; OVERSPILL_PLAN_FIRST_BYTE_TIMEOUT_S 0.3 s; "
                 "OVERSPILL_UPSTREAM_READ_TIMEOUT_S 5 s streaming, 0.5 s not (one test each)",
        client=Client(200, route="bedrock",
                      sees="the answer from Bedrock (fallback reason timeout): a stream after the first-byte timeout "
                           "(default 15 s, before Claude Code's ~20 s stall warning); a non-streaming request only "
                           "after the read timeout (default 840 s), since a non-streamed answer's headers come only "
                           "once the whole message is written"),
        breaker=_COUNTED,
        usage="route bedrock, status 200, fallback_reason timeout, Bedrock's tokens",
    ),
    Row(
        id="plan-disconnect-mid-stream",
        fault="Anthropic's connection drops mid-stream",
        injected="fake Anthropic closes the socket after 4 events, without the chunked body's end",
        client=Client(200, "api_error", route="plan",
                      sees="the events so far, then an SSE `error` event saying the connection to Anthropic broke "
                           "mid-answer; Claude Code retries at once without streaming"),
        breaker="untouched (closed): the plan had answered, and a started answer never falls back",
        usage="route plan, status 200, error_type api_error, the input tokens of `message_start`, "
              "client_disconnected false",
    ),
    Row(
        id="plan-disconnect-mid-body",
        fault="Anthropic's connection drops in the middle of a non-streamed (JSON) answer",
        injected="fake Anthropic sends the headers and half of the JSON body, then closes the socket",
        client=Client(200, route="plan",
                      sees="the start of the body, then the response ends without its last chunk (httpx: "
                           "RemoteProtocolError; the SDK raises APIConnectionError, which Claude Code retries)"),
        breaker="untouched (closed): the plan had answered",
        usage="route plan, status 200, error_type api_error (the answer broke), tokens 0 (a cut JSON body has "
              "no usage), client_disconnected false",
    ),
    Row(
        id="plan-sse-error-mid-stream",
        fault="Anthropic sends `event: error` mid-stream",
        injected="fake Anthropic streams 3 events, then an `overloaded_error` event, then ends the stream",
        client=Client(200, "overloaded_error", route="plan",
                      sees="Anthropic's events and its error event byte for byte (its wording unchanged); Claude "
                           "Code retries at once without streaming"),
        breaker="untouched (closed): the plan had answered",
        usage="route plan, status 200, error_type overloaded_error, the input tokens of `message_start`",
    ),
    Row(
        id="plan-malformed-sse",
        fault="Anthropic sends malformed SSE",
        injected="fake Anthropic streams raw bytes: a good `message_start`, an event whose JSON is cut, a "
                 "`message_delta` with invalid UTF-8, one whose data is not JSON, a good `message_delta`, "
                 "`message_stop`",
        client=Client(200, route="plan",
                      sees="exactly the bytes Anthropic sent (plan bytes are never rewritten); a strict SDK fails "
                           "on the broken event and Claude Code retries; the gateway serves the next request as usual"),
        breaker="untouched (closed): the plan answered",
        usage="route plan, status 200, no error; tokens from the well-formed `message_start` and `message_delta` "
              "(malformed events are skipped, never guessed at)",
    ),
    Row(
        id="plan-large-answer",
        fault="A very large answer",
        injected="fake Anthropic streams 16 MB of text in 4,096 deltas of 4 KB, with 2,500,000 output tokens "
                 "in its final `message_delta`",
        client=Client(200, route="plan", sees="the whole answer, byte for byte, streamed as it arrives"),
        breaker="untouched (closed)",
        usage="route plan, status 200, the input and output tokens Anthropic reported, stop_reason end_turn "
              "(the gateway keeps one event's worth of bytes, not the answer: see client-slow-reader)",
    ),
    Row(
        id="plan-only-429-plan-limit",
        fault="Plan limit reached, for a plan_only developer",
        injected="as plan-429-plan-limit, for a developer whose routing mode is plan_only",
        client=Client(429, "rate_limit_error", route="plan",
                      sees="the plan's own 429: its body, `retry-after` and rate-limit headers unchanged"),
        breaker=_NOT_CONSULTED,
        usage="route plan, status 429, error_type rate_limit_error, no fallback_reason, tokens 0",
    ),
    Row(
        id="plan-only-connection-refused",
        fault="Anthropic unreachable (connection refused), for a plan_only developer",
        injected="as plan-connection-refused, for a plan_only developer",
        client=Client(502, "api_error", should_retry=True, route="plan",
                      sees="\"Overspill could not reach Anthropic (<host>: connection failed)…; retrying may work\""),
        breaker=_NOT_CONSULTED,
        usage="route plan, status 502, error_type api_error, no fallback_reason",
    ),
    Row(
        id="plan-only-connect-timeout",
        fault="Anthropic unreachable (connect timeout), for a plan_only developer",
        injected="as plan-connect-timeout, for a plan_only developer",
        client=Client(504, "api_error", should_retry=True, route="plan",
                      sees="\"Overspill got no answer in time from Anthropic (<host>: connect timeout)…; retrying "
                           "may work\""),
        breaker=_NOT_CONSULTED,
        usage="route plan, status 504, error_type api_error, no fallback_reason",
    ),
    Row(
        id="plan-only-read-timeout",
        fault="Anthropic sends no response headers in time, for a plan_only developer",
        injected="as plan-read-timeout-before-first-byte (streaming), for a plan_only developer",
        client=Client(504, "api_error", should_retry=True, route="plan",
                      sees="\"Overspill got no answer in time from Anthropic (<host>: read timeout)…\" after the read "
                           "timeout: with no fallback allowed, the first-byte timeout does not apply"),
        breaker=_NOT_CONSULTED,
        usage="route plan, status 504, error_type api_error, no fallback_reason",
    ),
]
