"""API Gateway REST (v1) events read as the same request a Function URL delivers; unreadable events get a 400."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from overspill.local.function_url import function_url_event
from overspill.proxy import function_url
from overspill.proxy.request import ProxyRequest
from tests.support.rest_events import rest_proxy_event

CONTEXT = SimpleNamespace(aws_request_id="lambda-req-1")
KEY = "ak_" + "k" * 43
BODY = json.dumps({"model": "claude-opus-4-8", "max_tokens": 64000, "stream": True,
                   "messages": [{"role": "user", "content": "héllo <script>../../etc/passwd</script>"}]}).encode()
CLAUDE_CODE_HEADERS = [
    ("Content-Type", "application/json"), ("X-Api-Key", "sk-ant-api03-secret"),
    ("anthropic-version", "2023-06-01"), ("anthropic-beta", "claude-code-20250219,context-1m-2025-08-07"),
    ("X-Claude-Code-Session-Id", "4b0c6f2e-sess"), ("User-Agent", "claude-cli/2.1.197 (external, sdk-cli)"),
]


def comparable(request: ProxyRequest) -> dict:
    """What the pipeline acts on; the request id and arrival times are per invocation."""
    return {"method": request.method, "path": request.path, "query": request.query,
            "headers": dict(request.headers), "body": request.body, "source_ip": request.source_ip}


def read(event: dict) -> ProxyRequest:
    return function_url.to_request(event, CONTEXT)


def test_claude_code_message_via_rest_api_reads_like_the_same_request_via_the_function_url():
    args = ("POST", f"/ak/{KEY}/v1/messages", "beta=true", CLAUDE_CODE_HEADERS, BODY)
    via_rest = read(rest_proxy_event(*args, source_ip="198.51.100.7"))
    via_url = read(function_url_event(*args, source_ip="198.51.100.7"))

    rest, url = comparable(via_rest), comparable(via_url)
    # API Gateway adds its own host and forwarding headers (dropped before Anthropic by overspill.proxy.headers).
    added = {"host", "x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
    assert {k: v for k, v in rest.pop("headers").items() if k not in added} == url.pop("headers")
    assert rest == url
    assert (via_rest.path, via_rest.query, via_rest.body) == (f"/ak/{KEY}/v1/messages", "beta=true", BODY)
    assert via_rest.header("x-api-key") == "sk-ant-api03-secret"
    assert via_rest.request_id == "lambda-req-1"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_never_reaches_the_route(stage):
    event = rest_proxy_event("GET", f"/ak/{KEY}/v1/models", "limit=1000", [], b"", stage=stage)
    assert event["requestContext"]["path"] == f"/{stage}/ak/{KEY}/v1/models"
    assert read(event).path == f"/ak/{KEY}/v1/models"


def test_only_the_request_context_path_is_enough_and_loses_its_stage():
    event = rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "", [], b"{}", stage="prod")
    del event["path"], event["resource"], event["pathParameters"]
    assert read(event).path == f"/ak/{KEY}/v1/messages"


def test_a_custom_domain_base_path_does_not_reach_the_route():
    event = rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "", [], b"{}", base_path="/claude")
    assert event["path"] == f"/claude/ak/{KEY}/v1/messages"
    assert read(event).path == f"/ak/{KEY}/v1/messages"


def test_the_root_method_reads_as_the_root_path():
    event = rest_proxy_event("HEAD", "/", "", [], b"")
    assert (event["resource"], event["pathParameters"]) == ("/", None)
    assert (read(event).method, read(event).path) == ("HEAD", "/")


def test_repeated_headers_are_joined_as_function_urls_join_them():
    headers = [("anthropic-beta", "claude-code-20250219"), ("Anthropic-Beta", "oauth-2025-04-20"),
               ("Cookie", "a=1"), ("Cookie", "b=2"), ("x-api-key", "k")]
    via_rest = read(rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "", headers, b"{}"))
    via_url = read(function_url_event("POST", f"/ak/{KEY}/v1/messages", "", headers, b"{}"))
    assert via_rest.header("anthropic-beta") == "claude-code-20250219,oauth-2025-04-20"
    assert via_rest.header("cookie") == "a=1; b=2" == via_url.header("cookie")
    assert via_rest.header("anthropic-beta") == via_url.header("anthropic-beta")


def test_single_value_headers_are_enough_when_the_multi_value_form_is_absent():
    event = rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "", CLAUDE_CODE_HEADERS, BODY)
    event["multiValueHeaders"] = None
    request = read(event)
    assert request.header("x-api-key") == "sk-ant-api03-secret"
    assert request.header("x-claude-code-session-id") == "4b0c6f2e-sess"


def test_the_query_string_is_rebuilt_with_every_value_encoded():
    event = rest_proxy_event("GET", f"/ak/{KEY}/v1/models", "limit=1000&tag=a b&tag=c%26d&empty=", [], b"")
    assert read(event).query == "limit=1000&tag=a%20b&tag=c%26d&empty="
    event["multiValueQueryStringParameters"] = None
    assert read(event).query == "limit=1000&tag=c%26d&empty="  # only the last value without the multi form


def test_no_query_reads_as_an_empty_one():
    assert read(rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "", [], b"{}")).query == ""


def test_a_base64_body_arrives_byte_for_byte():
    raw = bytes(range(256)) + BODY
    assert read(rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "", [], raw, binary=True)).body == raw


def test_a_function_url_event_without_version_still_reads_as_a_function_url_event():
    event = {"rawPath": f"/ak/{KEY}/v1/messages", "rawQueryString": "beta=true", "headers": {"x-api-key": "k"},
             "body": "{}", "isBase64Encoded": False,
             "requestContext": {"http": {"method": "POST", "sourceIp": "192.0.2.1"}, "requestId": "r1"}}
    request = read(event)
    assert (request.method, request.path, request.query, request.source_ip) == (
        "POST", f"/ak/{KEY}/v1/messages", "beta=true", "192.0.2.1")


def _bad(change):
    def make() -> dict:
        event = rest_proxy_event("POST", f"/ak/{KEY}/v1/messages", "beta=true", CLAUDE_CODE_HEADERS, BODY)
        change(event)
        return event
    return make


UNREADABLE = {
    "httpMethod": _bad(lambda e: e.update(httpMethod=5)),
    "body": _bad(lambda e: e.update(body={"model": "x"})),
    "isBase64Encoded": _bad(lambda e: e.update(isBase64Encoded="yes")),
    "multiValueHeaders": _bad(lambda e: e["multiValueHeaders"].update({"X-Api-Key": "not-a-list"})),
    "headers": _bad(lambda e: e.update(multiValueHeaders=None, headers={"x-api-key": ["k"]})),
    "multiValueQueryStringParameters": _bad(lambda e: e.update(multiValueQueryStringParameters={"beta": "true"})),
    "requestContext": _bad(lambda e: e.update(requestContext="prod")),
    "path": _bad(lambda e: [e.pop(k) for k in ("path", "resource", "pathParameters", "requestContext")]),
    "pathParameters": _bad(lambda e: e.update(pathParameters=["ak"])),
}


def _base64_garbage() -> dict:
    event = _bad(lambda e: None)()
    event.update(body="not base64 at all!", isBase64Encoded=True)
    return event


def _function_url_with_bad_base64() -> dict:
    event = function_url_event("POST", f"/ak/{KEY}/v1/messages", "", [("content-type", "application/json")], BODY)
    event.update(body="@@@", isBase64Encoded=True)
    return event


def _function_url_with_list_headers() -> dict:
    event = function_url_event("POST", f"/ak/{KEY}/v1/messages", "", [], BODY)
    event["headers"] = [["x-api-key", "k"]]
    return event


UNREADABLE.update({
    "body (base64)": _base64_garbage,
    "body (Function URL base64)": _function_url_with_bad_base64,
    "headers (Function URL)": _function_url_with_list_headers,
    "event": lambda: ["not", "an", "event"],
})


def never_built():
    raise AssertionError("the proxy was built for an event that cannot be read")


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_an_unreadable_event_gets_a_400_naming_the_field_not_a_crash(case):
    response = function_url.handle(UNREADABLE[case](), CONTEXT, never_built)

    field = case.split(" ")[0]
    assert response["statusCode"] == 400
    assert response["headers"]["x-should-retry"] == "false"
    assert response["headers"]["x-overspill-request-id"] == "lambda-req-1"
    error = json.loads(response["body"])
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert f"'{field}'" in error["error"]["message"]
    assert "sk-ant-api03-secret" not in response["body"].decode() and KEY not in response["body"].decode()


def test_an_unreadable_event_is_logged_by_field_without_its_contents(captured_logs):
    event = _base64_garbage()
    function_url.handle(event, CONTEXT, never_built)
    logged = captured_logs.getvalue()
    assert '"field":"body"' in logged.replace(" ", "")
    assert "sk-ant-api03-secret" not in logged and KEY not in logged

