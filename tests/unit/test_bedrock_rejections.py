"""Learning from Bedrock 400s: which beta or field a rejection names, and when it names nothing usable."""

import orjson
import pytest

from overspill.bedrock.rejections import ANY_BETA, Rejection, offending_item
from overspill.bedrock.request import to_bedrock_body

BETA = "beta"
FIELD = "field"


@pytest.mark.parametrize("message, expected", [
    # Bedrock's usual answer names no beta (anthropics/claude-code#49370): retry without any.
    ("invalid beta flag", Rejection(BETA, ANY_BETA)),
    ("The model returned the following errors: invalid beta flag", Rejection(BETA, ANY_BETA)),
    ('{"message":"The model returned the following errors: invalid beta flag"}', Rejection(BETA, ANY_BETA)),
    ("ValidationException: invalid beta flag (request id: 20260113093657329292772LB3fAc6M)",
     Rejection(BETA, ANY_BETA)),
    # Shapes that do name one.
    ("invalid beta flag: foo-2025-01-01", Rejection(BETA, "foo-2025-01-01")),
    ("Invalid beta flag(s): foo, bar", Rejection(BETA, "foo")),
    ("invalid beta flags: ['mcp-servers-2025-12-04', 'x-2025-01-01']", Rejection(BETA, "mcp-servers-2025-12-04")),
    ("anthropic_beta: unsupported value 'foo'", Rejection(BETA, "foo")),
    ("anthropic_beta: prompt-caching-scope-2026-01-05 is not available for this model",
     Rejection(BETA, "prompt-caching-scope-2026-01-05")),
    ("Unexpected value(s) `prompt-caching-scope-2026-01-05`, `structured-outputs-2025-12-15` for the "
     "`anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again without the "
     "header.", Rejection(BETA, "prompt-caching-scope-2026-01-05")),
    # Fields, pydantic style.
    ("context_management: Extra inputs are not permitted", Rejection(FIELD, "context_management")),
    ("The model returned the following errors: reasoning: Extra inputs are not permitted",
     Rejection(FIELD, "reasoning")),
    ("output_config.effort: Extra inputs are not permitted", Rejection(FIELD, "output_config.effort")),
    ("tools.0.custom.defer_loading: Extra inputs are not permitted", Rejection(FIELD, "tools.*.custom.defer_loading")),
    ("400 tools.11.custom.defer_loading: Extra inputs are not permitted",
     Rejection(FIELD, "tools.*.custom.defer_loading")),
    ("messages.27.content.0.text.citations: Extra inputs are not permitted",
     Rejection(FIELD, "messages.*.content.*.text.citations")),
    ("body.context_management: Extra inputs are not permitted", Rejection(FIELD, "context_management")),
    ('{"type":"error","error":{"type":"invalid_request_error","message":"context_management: Extra inputs are not '
     'permitted"}}', Rejection(FIELD, "context_management")),
    ("anthropic_beta: Extra inputs are not permitted", Rejection(FIELD, "anthropic_beta")),
    # Fields, Bedrock's JSON-schema validator.
    ("extraneous key [output_config] is not permitted", Rejection(FIELD, "output_config")),
    ("Malformed input request: #: extraneous key [output_config] is not permitted, please reformat your input and "
     "try again.", Rejection(FIELD, "output_config")),
    ('Malformed input request: #: subject must not be valid against schema {"required":["messages"]}#: extraneous '
     "key [stream] is not permitted, please reformat your input and try again.", Rejection(FIELD, "stream")),
    ("Malformed input request: #/tools/3: extraneous key [defer_loading] is not permitted",
     Rejection(FIELD, "tools.*.defer_loading")),
    # Several errors: the first one named.
    ("messages.1.content.0.text.citations: Extra inputs are not permitted\ncontext_management: Extra inputs are not "
     "permitted", Rejection(FIELD, "messages.*.content.*.text.citations")),
    ("context_management: Extra inputs are not permitted; invalid beta flag", Rejection(FIELD, "context_management")),
])
def test_rejections_name_the_beta_or_field(message, expected):
    assert offending_item(message) == expected


@pytest.mark.parametrize("message", [
    "Input is too long for requested model.",
    "messages.1.content.0: Invalid `signature` in `thinking` block",
    "The provided model identifier is invalid.",
    "anthropic_beta.0: Input should be 'interleaved-thinking-2025-05-14' or 'context-1m-2025-08-07'",
    "x-anthropic-billing-header is a reserved keyword and may not be used in the system prompt.",
    "",
    # Fields no request works without: retrying without them would answer a different question.
    "messages: Extra inputs are not permitted",
    "Malformed input request: #: extraneous key [system] is not permitted",
    "tools: Extra inputs are not permitted",
    "max_tokens: Extra inputs are not permitted",
    "0.foo: Extra inputs are not permitted",
])
def test_nothing_usable_named_means_no_retry(message):
    assert offending_item(message) is None


def test_a_named_field_path_drops_exactly_that_field_from_the_next_body():
    body = {"model": "claude-opus-4-8", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "A", "input_schema": {}, "defer_loading": True},
                      {"name": "B", "input_schema": {}, "defer_loading": False}]}
    rejection = offending_item("tools.1.custom.defer_loading: Extra inputs are not permitted")
    out = orjson.loads(to_bedrock_body(body, None, drop_fields={rejection.name}))
    assert out["tools"] == [{"name": "A", "input_schema": {}}, {"name": "B", "input_schema": {}}]


def test_an_unnamed_beta_rejection_drops_every_beta_from_the_next_body():
    rejection = offending_item("invalid beta flag")
    out = orjson.loads(to_bedrock_body({"max_tokens": 1, "messages": []}, "interleaved-thinking-2025-05-14",
                                       extra_betas=["context-1m-2025-08-07"], drop_betas={rejection.name}))
    assert "anthropic_beta" not in out
