"""The authorisation matrix: every operation of the admin API (read from its own OpenAPI document, so a new
endpoint cannot be forgotten) × every kind of caller gives the expected status.

no token / expired / bad signature / another pool's token → 401; finance → 403 on admin operations; the right
role gets past the door (whatever the operation then says about these placeholder inputs, never 401/403/5xx).
The door comes before validation: a caller without the right learns nothing about an operation's inputs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from overspill.admin.api import ROLE_EXTENSION
from overspill.admin.openapi import current_document
from tests.support.admin import AdminHarness

DOCUMENT = json.loads(current_document())
OPERATIONS = sorted((method.upper(), path, operation[ROLE_EXTENSION])
                    for path, operations in DOCUMENT["paths"].items() for method, operation in operations.items())
CALLERS = ("none", "expired", "bad_signature", "other_pool", "finance", "admin")
PLACEHOLDERS = {"user_id": "usr_matrix", "key_id": "key_matrix", "kind": "daily", "period": "2026-11-01"}


@pytest.fixture(scope="module")
def harness() -> Iterator[AdminHarness]:
    with AdminHarness() as admin:
        yield admin


def expected(role: str, caller: str) -> str:
    if role == "none":
        return "allowed"
    if caller in ("none", "expired", "bad_signature", "other_pool"):
        return "401"
    if caller == "finance" and role == "admin":
        return "403"
    return "allowed"


@pytest.mark.parametrize(("method", "path", "role"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_for_every_caller(harness: AdminHarness, method: str, path: str, role: str):
    tokens = harness.issuer.kinds()
    url = path.format(**{name: PLACEHOLDERS.get(name, "x") for name in _path_params(path)})
    outcomes = {}
    for caller in CALLERS:
        response = harness.call(method, url, token=tokens[caller] or None)
        status = response.status_code
        outcomes[caller] = str(status) if status in (401, 403) or status >= 500 else "allowed"
        if status in (401, 403):
            kind = {401: "authentication_error", 403: "permission_error"}[status]
            assert response.json()["error"]["type"] == kind
    assert outcomes == {caller: expected(role, caller) for caller in CALLERS}


def test_a_forbidden_caller_with_a_bad_body_gets_403_not_a_validation_error(harness: AdminHarness):
    response = harness.call("POST", "/api/users", token=harness.finance_token, json={"name": 42, "junk": True})
    assert response.status_code == 403


def test_a_signed_in_user_in_no_group_is_refused_everywhere_but_health(harness: AdminHarness):
    nobody = harness.issuer.token("nemo", ())
    assert harness.call("GET", "/api/usage/overview", token=nobody).status_code == 403
    assert harness.call("GET", "/api/health", token=nobody).status_code == 200


def test_an_id_token_is_not_accepted_as_an_access_token(harness: AdminHarness):
    response = harness.call("GET", "/api/me", token=harness.issuer.token(token_use="id"))
    assert response.status_code == 401 and "access token" in response.json()["error"]["message"]


def test_cors_is_closed_unless_the_dashboard_origin_is_configured(harness: AdminHarness):
    response = harness.call("GET", "/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    with AdminHarness(admin_cors_origin="https://admin.example.com") as other:
        allowed = other.call("GET", "/api/me", headers={"Origin": "https://admin.example.com"})
        assert allowed.headers["access-control-allow-origin"] == "https://admin.example.com"
        # The browser's preflight carries no token and is answered by the function itself.
        preflight = other.call("OPTIONS", "/api/users", token=None, headers={
            "Origin": "https://admin.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == "https://admin.example.com"
        assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
