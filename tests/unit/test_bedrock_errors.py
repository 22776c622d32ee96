"""Bedrock failures become the Anthropic errors that make Claude Code retry, recover, or stop and explain."""

import orjson
import pytest
from botocore.exceptions import ClientError, EventStreamError

from overspill.bedrock.errors import PREFIX, BedrockFailure
from overspill.errors import GatewayError

SECRET_BEARING = ("User: arn:aws:sts::123456789012:assumed-role/overspill-proxy/i-0abc is not authorized to perform: "
                  "bedrock:InvokeModelWithResponseStream; AKIAIOSFODNN7EXAMPLE")


@pytest.mark.parametrize("code, status, error_type, should_retry", [
    ("ThrottlingException", 429, "rate_limit_error", True),
    ("throttlingException", 429, "rate_limit_error", True),
    ("Throttling", 429, "rate_limit_error", True),
    ("ServiceQuotaExceededException", 429, "rate_limit_error", True),
    ("ServiceUnavailableException", 529, "overloaded_error", True),
    ("serviceUnavailableException", 529, "overloaded_error", True),
    ("ModelTimeoutException", 529, "overloaded_error", True),
    ("modelTimeoutException", 529, "overloaded_error", True),
    ("InternalServerException", 529, "overloaded_error", True),
    ("internalServerException", 529, "overloaded_error", True),
    ("InternalServerError", 529, "overloaded_error", True),
    ("modelStreamErrorException", 529, "overloaded_error", True),
    ("ModelStreamError", 529, "overloaded_error", True),
    ("ModelNotReadyException", 529, "overloaded_error", True),
    ("ValidationException", 400, "invalid_request_error", False),
    ("validationException", 400, "invalid_request_error", False),
    ("AccessDeniedException", 403, "permission_error", False),
    ("UnrecognizedClientException", 403, "permission_error", False),
    ("ExpiredTokenException", 403, "permission_error", False),
    ("InvalidSignatureException", 403, "permission_error", False),
    ("ResourceNotFoundException", 403, "permission_error", False),
    ("NoCredentials", 403, "permission_error", False),
    ("ModelErrorException", 502, "api_error", True),
    ("SomethingNewException", 502, "api_error", True),
    ("", 502, "api_error", True),
    (None, 502, "api_error", True),
])
def test_error_codes_map_to_anthropic_errors(code, status, error_type, should_retry):
    failure = BedrockFailure.from_code(code, "Some detail.")
    assert (failure.status, failure.error_type, failure.should_retry) == (status, error_type, should_retry)
    assert failure.message.startswith("Overspill (Bedrock fallback): ")
    assert isinstance(failure, GatewayError)
    assert failure.headers()["x-should-retry"] == ("true" if should_retry else "false")


def test_validation_errors_keep_bedrocks_wording_for_claude_codes_recoveries():
    message = "messages.1.content.0: Invalid `signature` in `thinking` block"
    failure = BedrockFailure.from_code("ValidationException", message)
    assert failure.message == PREFIX + message


def test_input_too_long_uses_anthropics_prompt_is_too_long_wording():
    failure = BedrockFailure.from_code("ValidationException", "Input is too long for requested model.")
    assert failure.message.startswith(PREFIX + "prompt is too long")
    assert "Input is too long for requested model." in failure.message


def test_a_model_mapping_mistake_points_at_the_admin():
    failure = BedrockFailure.from_code("ValidationException", "The provided model identifier is invalid.")
    assert "The provided model identifier is invalid." in failure.message
    assert "OVERSPILL_BEDROCK_MODEL_MAP" in failure.message


@pytest.mark.parametrize("code", ["AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException",
                                  "InvalidSignatureException", "ResourceNotFoundException"])
def test_access_failures_tell_the_developer_to_ask_the_admin_without_leaking_details(code):
    failure = BedrockFailure.from_code(code, SECRET_BEARING, model="us.anthropic.claude-opus-4-8")
    assert "Overspill admin" in failure.message and code in failure.message
    assert "us.anthropic.claude-opus-4-8" in failure.message
    for secret in ("arn:aws", "123456789012", "AKIA", "assumed-role"):
        assert secret not in failure.message


def test_unknown_codes_show_the_code_but_not_the_text():
    failure = BedrockFailure.from_code("WeirdException", SECRET_BEARING)
    assert "WeirdException" in failure.message and "123456789012" not in failure.message


def test_throttling_and_overload_say_what_bedrock_said():
    throttled = BedrockFailure.from_code("ThrottlingException", "Too many tokens per day")
    assert "Too many tokens per day" in throttled.message
    assert "Model is busy" in BedrockFailure.from_code("modelStreamErrorException", "Model is busy").message


def test_long_messages_are_cut_and_flattened():
    failure = BedrockFailure.from_code("ValidationException", "bad\n\n" + "x" * 5000)
    assert "\n" not in failure.message and len(failure.message) < 600


def test_from_botocore_client_error():
    error = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Too many requests"},
                         "ResponseMetadata": {"HTTPStatusCode": 429}}, "InvokeModelWithResponseStream")
    failure = BedrockFailure.from_error(error)
    assert (failure.status, failure.code) == (429, "ThrottlingException")
    assert "Too many requests" in failure.message


def test_from_botocore_event_stream_error():
    error = EventStreamError({"Error": {"Code": "modelStreamErrorException", "Message": "stream broke"}},
                             "InvokeModelWithResponseStream")
    failure = BedrockFailure.from_error(error)
    assert (failure.status, failure.error_type, failure.code) == (529, "overloaded_error", "modelStreamErrorException")


def test_from_an_error_without_a_response():
    failure = BedrockFailure.from_error(TimeoutError("read timed out"))
    assert (failure.status, failure.error_type) == (502, "api_error")
    assert "TimeoutError" in failure.message


def test_failure_as_body_and_as_sse_event():
    failure = BedrockFailure.from_code("ThrottlingException", "slow down")
    body = orjson.loads(failure.body("req_1"))
    assert body == {"type": "error", "error": {"type": "rate_limit_error", "message": failure.message},
                    "request_id": "req_1"}
    sse = failure.sse()
    assert sse.startswith(b"event: error\ndata: ")
    assert orjson.loads(sse.split(b"data: ", 1)[1])["error"] == {"type": "rate_limit_error", "message": failure.message}
