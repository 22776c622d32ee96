"""Which paths Overspill serves, and what Anthropic is asked for."""

import pytest

from overspill.proxy.routes import Endpoint, match

KEY = "ak_" + "k" * 43


@pytest.mark.parametrize(("method", "path", "endpoint", "upstream"), [
    ("POST", f"/ak/{KEY}/v1/messages", Endpoint.MESSAGES, "/v1/messages"),
    ("POST", f"/ak/{KEY}/v1/messages/", Endpoint.MESSAGES, "/v1/messages"),
    ("POST", f"/ak/{KEY}/v1/messages/count_tokens", Endpoint.COUNT_TOKENS, "/v1/messages/count_tokens"),
    ("GET", f"/ak/{KEY}/v1/models", Endpoint.MODELS, "/v1/models"),
    ("HEAD", f"/ak/{KEY}", Endpoint.PROBE, "/"),
    ("GET", f"/ak/{KEY}/", Endpoint.PROBE, "/"),
])
def test_served_routes(method, path, endpoint, upstream):
    route = match(method, path)
    assert route is not None
    assert (route.endpoint, route.access_key, route.upstream_path) == (endpoint, KEY, upstream)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"/ak/{KEY}/v1/messages"),
    ("DELETE", f"/ak/{KEY}/v1/messages"),
    ("POST", f"/ak/{KEY}/v1/complete"),
    ("POST", f"/ak/{KEY}/v1/messages/batches"),
    ("POST", f"/ak/{KEY}"),
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    ("POST", f"/ak/{KEY}/../v1/messages"),
])
def test_anything_else_is_not_found(method, path):
    assert match(method, path) is None


def test_bare_v1_path_is_recognised_as_missing_its_key():
    route = match("POST", "/v1/messages")
    assert route is not None and route.access_key is None


def test_empty_key_segment_is_a_missing_key():
    route = match("POST", "/ak//v1/messages")
    assert route is not None and route.access_key == ""
