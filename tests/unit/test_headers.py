"""Headers crossing the gateway: credentials and betas go on; hop-by-hop and infrastructure ones stop."""

import pytest

from overspill.proxy.headers import to_client, to_upstream, unsendable


def test_client_headers_reach_anthropic_including_credentials():
    sent = [
        ("x-api-key", "sk-ant-api03-secret"), ("authorization", "Bearer sk-ant-oat01-x"),
        ("anthropic-version", "2023-06-01"), ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
        ("x-claude-code-session-id", "s-1"), ("user-agent", "claude-cli/2.1.197 (external, sdk-cli)"),
        ("x-stainless-retry-count", "0"), ("content-type", "application/json"),
    ]
    assert to_upstream(sent)[:-1] == sent


def test_hop_by_hop_host_length_and_infrastructure_headers_stop():
    sent = [
        ("host", "gw.example"), ("content-length", "10"), ("connection", "keep-alive, x-custom"),
        ("keep-alive", "timeout=5"), ("transfer-encoding", "chunked"), ("te", "trailers"),
        ("x-custom", "listed in connection"), ("x-forwarded-for", "1.2.3.4"),
        ("x-amzn-trace-id", "Root=1"), ("accept-encoding", "gzip, br"), ("x-api-key", "k"),
        ("forwarded", "for=1.2.3.4;host=evil.example"), ("via", "1.1 abc.cloudfront.net (CloudFront)"),
        ("proxy-authorization", "Basic x"), ("proxy-connection", "keep-alive"), ("upgrade", "h2c"),
        ("trailer", "x-checksum"), ("x-forwarded-host", "evil.example"),
    ]
    assert to_upstream(sent) == [("x-api-key", "k"), ("accept-encoding", "identity")]


@pytest.mark.parametrize(("name", "value"), [
    ("x-custom", "a\r\nx-injected: 1"), ("x-custom", "a\nb"), ("x-custom", "a\rb"), ("x-custom", "nul\x00byte"),
    ("x-custom", "caf\u00e9"), ("x-custom", "\xff\xfe"), ("x-custom", "bell\x07"), ("x-custom", "del\x7f"),
    ("x bad", "v"), ("x:colon", "v"), ("x-caf\u00e9", "v"), ("", "v"),
])
def test_headers_http_cannot_carry_are_named(name, value):
    assert unsendable(to_upstream([("x-api-key", "k"), (name, value)])) == name


def test_ordinary_headers_and_dropped_ones_pass():
    sent = [("user-agent", "claude-cli/2.1.197 (external, sdk-cli)"), ("x-stainless-arch", "x64"),
            ("anthropic-beta", "a,b"), ("x-tab", "a\tb"), ("x-empty", ""),
            ("x-amzn-weird", "not\r\nforwarded"), ("connection", "close")]
    assert unsendable(to_upstream(sent)) is None


def test_useful_answer_headers_return_to_the_client():
    received = [
        ("content-type", "text/event-stream; charset=utf-8"), ("request-id", "req_1"),
        ("anthropic-ratelimit-unified-status", "allowed"), ("retry-after", "3"),
        ("set-cookie", "__cf_bm=x"), ("cf-ray", "abc"), ("server", "cloudflare"), ("content-length", "5"),
    ]
    assert to_client(received) == {
        "content-type": "text/event-stream; charset=utf-8", "request-id": "req_1",
        "anthropic-ratelimit-unified-status": "allowed", "retry-after": "3",
    }
