"""Injection and abuse get nowhere: each is refused with a clear error, nothing reaches Anthropic (or Bedrock) that
should not, no key leaks into an answer or a log, and no request chooses where the gateway connects.

Requests go as raw bytes over a socket wherever an HTTP client would refuse to send them (CR/LF in a path, ``..``
segments, bytes that are not UTF-8, an absolute-form request target). A request the HTTP parser in front of the
function cannot read (on AWS the Function URL's own front; locally the emulator) is refused there, with that door's
JSON error and nothing of the request echoed; everything else gets the gateway's Anthropic-shaped error.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from overspill.users import RoutingMode
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_bedrock import FakeBedrock
from tests.support.gateway import Developer, LocalGateway, wait_for_usage
from tests.support.raw_http import RawAnswer, request, send_raw

MESSAGE = {"model": "claude-opus-4-8", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
BODY = json.dumps(MESSAGE).encode()
MAX_BODY_BYTES = 1024 * 1024


# One gateway for the module (these tests only read what it does; starting one per test would cost ~2 s each):
# these fixtures stand in for the tier's function-scoped ones of the same names.

@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(anthropic: FakeAnthropic, bedrock: FakeBedrock) -> Iterator[LocalGateway]:
    with LocalGateway(anthropic.url, bedrock.url, max_body_bytes=MAX_BODY_BYTES, upstream_connect_timeout_s=1.0) as gw:
        yield gw


@pytest.fixture(scope="module")
def developer(gateway: LocalGateway) -> Developer:
    return gateway.add_developer("Ada")


@pytest.fixture(autouse=True)
def nothing_received_yet(anthropic: FakeAnthropic, bedrock: FakeBedrock) -> None:
    time.sleep(0.05)  # the previous test's after-response work (usage writes) is done with
    anthropic.clear()
    bedrock.clear()


def assert_gateway_refused(answer: RawAnswer | httpx.Response, status: int, error_type: str) -> str:
    """The gateway's own answer: Anthropic-shaped, with a message a developer can act on."""
    code = answer.status if isinstance(answer, RawAnswer) else answer.status_code
    assert code == status, answer.content if isinstance(answer, httpx.Response) else answer.body
    body = answer.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["error"]["message"].startswith("Overspill")
    return body["error"]["message"]


def assert_door_refused(answer: RawAnswer, status: int) -> None:
    """The HTTP front's own answer (the Function URL on AWS, the emulator locally): the status, a JSON error."""
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"Message"}


def assert_not_echoed(key: str, *texts: bytes | str) -> None:
    """Nothing of the key past its display prefix: no 8 characters in a row of it from the 4th on."""
    for text in texts:
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for start in range(3, len(key) - 7):
            assert key[start:start + 8] not in text, f"key characters {start}..{start + 8} leaked"


def path_of(developer: Developer, suffix: str = "/v1/messages") -> bytes:
    return f"/ak/{developer.key}{suffix}".encode()


# --- CRLF and path traversal in the key segment ------------------------------------------------------------------

@pytest.mark.parametrize("cut", [b"\r\nX-Injected: 1\r\n", b"\r\n\r\n", b"\r", b"\n"])
def test_raw_crlf_in_the_key_segment_is_refused_at_the_door_echoing_nothing(gateway, developer, anthropic, cut):
    key = developer.key.encode()
    answer = send_raw(gateway.url, request("POST", b"/ak/" + key[:20] + cut + key[20:] + b"/v1/messages", BODY))
    assert_door_refused(answer, 400)
    assert_not_echoed(developer.key, answer.body, str(answer.headers))
    assert anthropic.received == []


@pytest.mark.parametrize("injected", ["%0d%0aX-Injected:%201", "%0D%0A%0D%0A", "%0a", "%0d"])
def test_encoded_crlf_in_the_key_segment_is_a_rejected_key(gateway, developer, anthropic, injected):
    answer = send_raw(gateway.url, request("POST", f"/ak/{developer.key}{injected}/v1/messages".encode(), BODY))
    assert_gateway_refused(answer, 401, "authentication_error")
    assert_not_echoed(developer.key, answer.body)
    assert "x-injected" not in answer.headers
    assert anthropic.received == []


@pytest.mark.parametrize(("target", "status"), [
    ("/ak/../v1/messages", 401),
    ("/ak/%2e%2e/v1/messages", 401),
    ("/ak/%2E%2E%2Fv1/messages", 404),
    ("/ak/..%2f{key}/v1/messages", 401),
    ("/ak/{key}/../v1/messages", 404),
    ("/ak/{key}/./v1/messages", 404),
    ("/ak/{key}//v1/messages", 404),
    ("/ak/{key}%2fv1%2fmessages", 404),
    ("/ak/{key}/v1/messages/..%2f..%2fv1%2fmodels", 404),
    ("/ak/{key}/v1/messages/../../../v1/models", 404),
    ("/ak/{key}/../../ak/{key}/v1/messages", 404),
])
def test_path_traversal_in_the_key_segment_never_reaches_anthropic(gateway, developer, anthropic, target, status):
    answer = send_raw(gateway.url, request("POST", target.format(key=developer.key).encode(), BODY))
    assert_gateway_refused(answer, status, {401: "authentication_error", 404: "not_found_error"}[status])
    assert_not_echoed(developer.key, answer.body)
    assert anthropic.received == []


def test_a_base_url_missing_its_ak_segment_does_not_echo_the_key(gateway, developer, anthropic):
    answer = send_raw(gateway.url, request("POST", f"/{developer.key}/v1/messages".encode(), BODY))
    message = assert_gateway_refused(answer, 404, "not_found_error")
    assert developer.prefix in message
    assert_not_echoed(developer.key, answer.body)
    assert anthropic.received == []


# --- what reaches Anthropic: headers ------------------------------------------------------------------------------

def test_anthropic_gets_the_developers_headers_and_credentials_and_nothing_hop_by_hop_or_forged(
        gateway, developer, anthropic):
    sent = (b"Connection: close, x-hop-listed", b"Keep-Alive: timeout=5", b"X-Hop-Listed: secret",
            b"Proxy-Authorization: Basic Zm9vOmJhcg==", b"Proxy-Connection: keep-alive", b"TE: trailers",
            b"Trailer: x-checksum", b"Upgrade: h2c", b"X-Forwarded-For: 6.6.6.6",
            b"X-Forwarded-Host: attacker.example", b"X-Forwarded-Proto: http",
            b"Forwarded: for=6.6.6.6;host=attacker.example", b"Via: 1.1 attacker", b"X-Amzn-Trace-Id: Root=1-forged",
            b"Accept-Encoding: gzip, br", b"Authorization: Bearer sk-ant-oat01-developer",
            b"Anthropic-Version: 2023-06-01", b"Anthropic-Beta: claude-code-20250219",
            b"X-Claude-Code-Session-Id: s-1", b"User-Agent: claude-cli/2.1.197 (external, sdk-cli)")
    answer = send_raw(gateway.url, request("POST", path_of(developer, "/v1/messages?beta=true"), BODY, sent))
    assert answer.status == 200 and answer.headers["x-overspill-route"] == "plan"

    received, = anthropic.received
    headers = {name.lower(): value for name, value in received.headers}
    assert len(headers) == len(received.headers)  # no header sent twice
    assert headers == {
        "host": urlsplit(anthropic.url).netloc,  # where the gateway connects, whatever Host the client sent
        "content-length": str(len(BODY)),
        "x-api-key": "sk-ant-api03-secret",      # the developer's own credentials go on, unchanged
        "authorization": "Bearer sk-ant-oat01-developer",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219",
        "x-claude-code-session-id": "s-1",
        "user-agent": "claude-cli/2.1.197 (external, sdk-cli)",
        "content-type": "application/json",
        "accept-encoding": "identity",
    }
    assert (received.path, received.body) == ("/v1/messages?beta=true", BODY)


@pytest.mark.parametrize("header", [
    b"X-Custom: a\r\n injected: b",           # an obsolete line folding: the value holds CR LF
    b"X-Custom: nul\x00byte",
    b"X-Custom: \xff\xfe\xc3",                # not UTF-8
    "X-Custom: café".encode(),                # UTF-8, but not ASCII
    b"X-Custom: bell\x07",
])
def test_header_values_http_cannot_carry_are_refused_and_do_not_trip_the_breaker(
        gateway, developer, anthropic, bedrock, header):
    answer = send_raw(gateway.url, request("POST", path_of(developer), BODY, (header,)))
    message = assert_gateway_refused(answer, 400, "invalid_request_error")
    assert "'x-custom'" in message
    assert anthropic.received == [] and bedrock.received == []
    # Refused as the client's mistake, not taken for the plan being down: the next request goes to the plan.
    again = httpx.post(developer.base_url(gateway) + "/v1/messages", content=BODY,
                       headers={"x-api-key": "k", "content-type": "application/json"}, timeout=10)
    assert again.status_code == 200 and again.headers["x-overspill-route"] == "plan"
    event = wait_for_usage(gateway, answer.headers["x-overspill-request-id"])
    assert (event.status, event.error_type, event.route) == (400, "invalid_request_error", "plan")


@pytest.mark.parametrize("query", [b"beta=true&a=\x00", b"a=\x01", b"a=b\x7f", b"beta=\xff\xfe", b"a=\xc3\xa9"])
def test_a_query_string_a_url_cannot_carry_is_refused(gateway, developer, anthropic, bedrock, query):
    answer = send_raw(gateway.url, request("POST", path_of(developer, "/v1/messages?") + query, BODY))
    assert "query string" in assert_gateway_refused(answer, 400, "invalid_request_error")
    assert anthropic.received == [] and bedrock.received == []


def test_an_encoded_crlf_in_the_query_reaches_anthropic_still_encoded(gateway, developer, anthropic):
    query = b"beta=true%0d%0aX-Injected:%201"
    assert send_raw(gateway.url, request("POST", path_of(developer, "/v1/messages?") + query, BODY)).status == 200
    received, = anthropic.received
    assert received.path == "/v1/messages?" + query.decode()
    assert received.header("x-injected") is None


# --- bodies -------------------------------------------------------------------------------------------------------

def test_a_chunked_body_over_the_limit_is_a_413(gateway, developer, anthropic):
    big = json.dumps({**MESSAGE, "messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]}).encode()
    piece = 64 * 1024
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + piece]), big[i:i + piece]) for i in range(0, len(big), piece))
    answer = send_raw(gateway.url, request("POST", path_of(developer), chunked + b"0\r\n\r\n",
                                         framing=b"Transfer-Encoding: chunked"))
    assert "limit" in assert_gateway_refused(answer, 413, "request_too_large")
    assert anthropic.received == []
    event = wait_for_usage(gateway, answer.headers["x-overspill-request-id"])
    assert (event.status, event.error_type) == (413, "request_too_large")


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3"])
def test_a_content_length_that_is_not_a_length_is_refused_at_once(gateway, developer, anthropic, length):
    started = time.monotonic()
    answer = send_raw(gateway.url, request("POST", path_of(developer), BODY, framing=b"content-length: " + length))
    assert_door_refused(answer, 400)
    assert time.monotonic() - started < 2  # not left waiting for the client to close
    assert anthropic.received == []


@pytest.mark.parametrize("body", [
    b"[" * 100_000,
    b'{"model":"claude-opus-4-8","messages":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"model":"claude-opus-4-8","a":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
])
def test_deeply_nested_json_is_a_400_and_the_gateway_keeps_serving(gateway, developer, anthropic, body):
    answer = send_raw(gateway.url, request("POST", path_of(developer), body))
    assert "not valid JSON" in assert_gateway_refused(answer, 400, "invalid_request_error")
    assert anthropic.received == []
    assert send_raw(gateway.url, request("POST", path_of(developer), BODY)).status == 200


@pytest.mark.parametrize("body", [
    b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"user","content":"\xff\xfe"}]}',
    b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"user","content":"\xed\xa0\x80"}]}',
    b'{"model":"claude-opus-4-8\x00","max_tokens":5,"messages":[]}',
    b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[]}\x00',
])
def test_invalid_utf8_and_nul_bytes_in_the_body_are_400(gateway, developer, anthropic, body):
    answer = send_raw(gateway.url, request("POST", path_of(developer), body))
    assert_gateway_refused(answer, 400, "invalid_request_error")
    assert anthropic.received == []


@pytest.mark.parametrize(("target", "status"), [
    (b"/ak/{key}\xff\xfe/v1/messages", 401),
    (b"/ak/\xff\xfe{key}/v1/messages", 401),
    (b"/ak/{key}\x00/v1/messages", 401),
    (b"/ak/{key}%00/v1/messages", 401),
    (b"/ak/{key}/v1/messages\xc3\x28", 404),
    (b"/ak/{key}/v1/messages%00", 404),
])
def test_invalid_utf8_and_nul_bytes_in_the_path_never_reach_anthropic(gateway, developer, anthropic, target,
                                                                       status):
    answer = send_raw(gateway.url, request("POST", target.replace(b"{key}", developer.key.encode()), BODY))
    assert_gateway_refused(answer, status, {401: "authentication_error", 404: "not_found_error"}[status])
    assert_not_echoed(developer.key, answer.body)
    assert anthropic.received == []


def test_an_absurdly_long_model_name_is_refused_before_any_upstream(gateway, developer, anthropic, bedrock):
    body = json.dumps({**MESSAGE, "model": "claude-" + "x" * 100_000}).encode()
    answer = send_raw(gateway.url, request("POST", path_of(developer), body))
    assert "100,007 characters" in assert_gateway_refused(answer, 400, "invalid_request_error")
    assert anthropic.received == [] and bedrock.received == []
    event = wait_for_usage(gateway, answer.headers["x-overspill-request-id"])
    assert (event.status, event.error_type, event.model) == (400, "invalid_request_error", None)


# --- no SSRF: where the gateway connects is configuration ---------------------------------------------------------

class Listener:
    """A loopback port that would be the attacker's target: it records every connection made to it."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def attacker() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def test_no_header_path_or_body_chooses_where_the_gateway_connects(gateway, developer, anthropic, attacker):
    target = attacker.address
    key = developer.key
    body_naming_it = json.dumps({**MESSAGE, "base_url": f"http://{target}", "url": f"http://{target}/v1/messages",
                                 "metadata": {"user_id": f"http://{target}"}}).encode()
    sent = [
        request("POST", path_of(developer), BODY, (f"X-Forwarded-Host: {target}".encode(),
                                                   b"X-Forwarded-Proto: http", f"Forwarded: host={target}".encode(),
                                                   f"X-Original-URL: http://{target}/".encode())),
        request("POST", f"http://{target}/ak/{key}/v1/messages?beta=true".encode(), BODY),
        request("POST", f"/ak/{key}/v1/messages?beta=true&url=http://{target}/&@{target}".encode(), BODY),
        request("POST", path_of(developer), body_naming_it),
    ]
    sent[0] = sent[0].replace(b"Host: gateway.example", f"Host: {target}".encode())
    for data in sent:
        answer = send_raw(gateway.url, data)
        assert answer.status == 200 and answer.headers["x-overspill-route"] == "plan", answer.body
    # The cloud metadata address as a request target is just an unknown path.
    answer = send_raw(gateway.url, request("POST", b"http://169.254.169.254/latest/meta-data/iam/", BODY))
    assert_gateway_refused(answer, 404, "not_found_error")

    assert [r.route_path for r in anthropic.received] == ["/v1/messages"] * 4
    assert anthropic.received[1].path == "/v1/messages?beta=true"  # the absolute-form target's path, served here
    assert anthropic.received[3].body == body_naming_it             # forwarded unchanged, not acted on
    assert attacker.connections == 0


def test_the_bedrock_route_connects_only_to_its_configured_endpoint(gateway, anthropic, bedrock, attacker):
    developer = gateway.add_developer("Bea", routing_mode=RoutingMode.BEDROCK_ONLY)
    for model in (f"http://{attacker.address}/x", f"//{attacker.address}/x", f"../../{attacker.address}",
                  f"claude-opus-4-8@{attacker.address}", "claude-opus-4-8"):
        answer = send_raw(gateway.url, request("POST", path_of(developer),
                                               json.dumps({**MESSAGE, "model": model}).encode(),
                                               (f"Host: {attacker.address}".encode(),)))
        assert answer.status < 500, answer.body
    assert attacker.connections == 0 and anthropic.received == []
    assert bedrock.received  # it went where it is configured to go


# --- keys in paths never reach logs -------------------------------------------------------------------------------

def test_keys_in_paths_reach_no_log_line_beyond_their_prefix(gateway, developer, anthropic, captured_logs, capfd):
    unknown = "ak_" + "Kq7vP2xYz9" * 4 + "Ab3"
    malformed = "ak_" + "Mx8wQ1rT5u" * 4 + "!"
    for key in (developer.key, unknown, malformed):
        for target, body in ((f"/ak/{key}/v1/messages", BODY), (f"/ak/{key}/v1/messages", b"{not json"),
                             (f"/ak/{key}/v1/messages/count_tokens", BODY), (f"/ak/{key}/v1/files", BODY),
                             (f"/{key}/v1/messages", BODY), (f"http://gateway.example/ak/{key}/v1/messages", BODY),
                             (f"/ak/{key}/../v1/messages", BODY)):
            send_raw(gateway.url, request("POST", target.encode(), body))
        send_raw(gateway.url, request("GET", f"/ak/{key}/v1/models".encode()))
        send_raw(gateway.url, request("HEAD", f"/ak/{key}".encode()))
        send_raw(gateway.url, request("POST", f"/ak/{key[:12]}\r\n{key[12:]}/v1/messages".encode(), BODY))
    time.sleep(0.5)  # usage events and their log lines are written after each response
    captured = capfd.readouterr()
    text = captured_logs.getvalue() + captured.out + captured.err
    assert "request finished" in text and "request refused" in text
    assert developer.prefix in text  # the prefix is there, to tell keys apart
    for key in (developer.key, unknown, malformed):
        assert_not_echoed(key, text)
