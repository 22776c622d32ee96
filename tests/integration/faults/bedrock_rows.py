"""Faults of the Bedrock fallback, reached when the plan refuses (a plan limit: the breaker opens until its reset).

Bedrock's failures never touch the breaker: it says whether the *plan* can be asked, and the plan is still
limited. They reach the developer as the Anthropic errors Claude Code knows (overspill.bedrock.errors), their
messages naming Overspill's Bedrock fallback, since the developer asked Anthropic."""

from tests.integration.faults.matrix import Client, Row

_STAYS_OPEN = "opened by the plan limit, until the plan's reset; Bedrock's failure leaves it as it is"


def _usage(status: int, error_type: str) -> str:
    return (f"route bedrock, status {status}, error_type {error_type}, fallback_reason plan_limit, tokens 0, "
            "the Bedrock model id tried")


ROWS = [
    Row(
        id="bedrock-throttling",
        fault="Bedrock throttles the gateway",
        injected="fake Bedrock answers ThrottlingException (HTTP 429, `x-amzn-ErrorType`)",
        client=Client(429, "rate_limit_error", should_retry=True, route="bedrock",
                      sees="\"Overspill (Bedrock fallback): Amazon Bedrock is throttling this gateway "
                           "(ThrottlingException: …). Claude Code retries on its own; if this persists, ask your "
                           "Overspill admin to raise the Bedrock quotas.\""),
        breaker=_STAYS_OPEN,
        usage=_usage(429, "rate_limit_error"),
    ),
    Row(
        id="bedrock-validation-error",
        fault="Bedrock rejects the request as invalid",
        injected="fake Bedrock answers ValidationException (HTTP 400) with a message naming no beta or field "
                 "(one that does is dropped and retried once: test_fallback.py)",
        client=Client(400, "invalid_request_error", should_retry=False, route="bedrock",
                      sees="\"Overspill (Bedrock fallback): <Bedrock's own message>\" — kept, since Claude Code's "
                           "recoveries match on the wording"),
        breaker=_STAYS_OPEN,
        usage=_usage(400, "invalid_request_error"),
    ),
    Row(
        id="bedrock-access-denied",
        fault="The gateway's role may not invoke the model",
        injected="fake Bedrock answers AccessDeniedException (HTTP 403)",
        client=Client(403, "permission_error", should_retry=False, route="bedrock",
                      sees="\"Overspill (Bedrock fallback): the gateway's access to <model> on Amazon Bedrock failed "
                           "(AccessDeniedException)… Ask your Overspill admin to check the gateway's Bedrock "
                           "credentials, IAM permissions and model access.\" — Bedrock's text (which can name the "
                           "role and account) stays in the logs"),
        breaker=_STAYS_OPEN,
        usage=_usage(403, "permission_error"),
    ),
    Row(
        id="bedrock-expired-credentials",
        fault="Bedrock credentials expired or unknown",
        injected="fake Bedrock answers ExpiredTokenException or UnrecognizedClientException (HTTP 403; one test "
                 "each)",
        client=Client(403, "permission_error", should_retry=False, route="bedrock",
                      sees="as bedrock-access-denied, naming the code; retrying cannot help, so Claude Code stops"),
        breaker=_STAYS_OPEN,
        usage=_usage(403, "permission_error"),
    ),
    Row(
        id="bedrock-timeout",
        fault="Bedrock does not answer in time",
        injected="fake Bedrock waits 3 s before its status line; OVERSPILL_UPSTREAM_READ_TIMEOUT_S 0.5 s (botocore's "
                 "read timeout; the gateway's Bedrock client makes one attempt)",
        client=Client(529, "overloaded_error", should_retry=True, route="bedrock",
                      sees="\"Overspill (Bedrock fallback): Amazon Bedrock could not answer right now (…: Bedrock did "
                           "not answer in time). Claude Code retries on its own.\""),
        breaker=_STAYS_OPEN,
        usage=_usage(529, "overloaded_error"),
    ),
    Row(
        id="bedrock-exception-mid-stream",
        fault="Bedrock's stream fails mid-answer",
        injected="fake Bedrock sends 3 chunk frames, then a `modelStreamErrorException` exception frame",
        client=Client(200, "overloaded_error", route="bedrock",
                      sees="the events so far, then an SSE `error` event \"Overspill (Bedrock fallback): Amazon "
                           "Bedrock could not answer right now (modelStreamErrorException: …)\"; Claude Code "
                           "retries at once without streaming"),
        breaker=_STAYS_OPEN,
        usage="route bedrock, status 200, error_type overloaded_error, fallback_reason plan_limit, the input "
              "tokens of `message_start`",
    ),
    Row(
        id="bedrock-disconnect-mid-stream",
        fault="Bedrock's connection drops mid-answer",
        injected="fake Bedrock closes the socket after 3 chunk frames, without the chunked body's end",
        client=Client(200, "overloaded_error", route="bedrock",
                      sees="the events so far, then an SSE `error` event \"… (ModelStreamErrorException: the stream "
                           "from Bedrock broke)\"; Claude Code retries at once without streaming"),
        breaker=_STAYS_OPEN,
        usage="route bedrock, status 200, error_type overloaded_error, fallback_reason plan_limit, the input "
              "tokens of `message_start`",
    ),
    Row(
        id="bedrock-no-gateway-credentials",
        fault="the gateway's own AWS credentials are missing (botocore fails before reaching Bedrock)",
        injected="a proxy instance started with no AWS credentials anywhere in its environment (botocore's "
                 "NoCredentialsError when it signs the call)",
        client=Client(502, "api_error", should_retry=False, route="bedrock",
                      sees="\"Overspill (Bedrock fallback): the call failed on the gateway's side "
                           "(NoCredentialsError) before reaching Bedrock. Retrying will not help; ask your "
                           "Overspill admin …\""),
        breaker=_STAYS_OPEN,
        usage=_usage(502, "api_error"),
    ),
]
