"""Admins set, view, test and delete a user's own Bedrock credentials; the secret never comes back out — not in
an answer, not in the audit log, not in the logs."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from overspill.credentials.store import BedrockCredentialRepository
from overspill.credentials.vault import CredentialVault
from tests.support.admin import AdminHarness
from tests.support.fake_bedrock import FakeBedrock, Scenario

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQtdmFsdWUtMTIzNDU2Nzg5MA=="


@pytest.fixture
def bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        yield fake


@pytest.fixture
def admin(bedrock: FakeBedrock) -> Iterator[AdminHarness]:
    with AdminHarness(bedrock_endpoint_url=bedrock.url) as harness:
        yield harness


@pytest.fixture
def user_id(admin: AdminHarness) -> str:
    return admin.call("POST", "/api/users", json={"name": "Grace"}).json()["user_id"]


def test_an_access_key_pair_is_stored_encrypted_and_shown_masked(admin: AdminHarness, user_id: str,
                                                                 captured_logs: io.StringIO):
    path = f"/api/users/{user_id}/bedrock-credentials"
    response = admin.call("PUT", path, json={"kind": "access_key", "access_key_id": ACCESS_KEY_ID,
                                             "secret_access_key": SECRET, "region": "eu-west-1"})
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in ("kind", "region", "hint")} == \
        {"kind": "access_key", "region": "eu-west-1", "hint": "AKIA…MPLE"}
    assert admin.call("GET", path).json() == response.json()
    stored = BedrockCredentialRepository(CredentialVault(admin.settings)).get(user_id)
    assert stored is not None and SECRET.encode() not in stored.ciphertext
    [entry] = admin.audit(target_type="credentials")
    assert entry["action"] == "credentials.set" and entry["after"]["hint"] == "AKIA…MPLE"
    seen = response.text + admin.call("GET", "/api/audit").text + captured_logs.getvalue()
    assert SECRET not in seen and ACCESS_KEY_ID not in seen


def test_a_test_call_signs_with_the_users_own_key_pair_and_reports_success(
        admin: AdminHarness, user_id: str, bedrock: FakeBedrock, captured_logs: io.StringIO):
    # A key pair rather than an API key: botocore sends bearer tokens over HTTPS only, and this fake is HTTP
    # (tests/integration/test_credentials_clients.py covers API keys on the wire, over TLS).
    path = f"/api/users/{user_id}/bedrock-credentials"
    body = {"kind": "access_key", "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET}
    assert admin.call("PUT", path, json=body).status_code == 200
    result = admin.call("POST", f"{path}/test")
    assert result.status_code == 200, result.text
    assert result.json()["ok"] is True and result.json()["credentials"] == "user"
    [call] = bedrock.requests_for("count-tokens")
    authorization = {k.lower(): v for k, v in call.headers}["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert SECRET not in result.text + captured_logs.getvalue()


def test_a_refused_test_call_is_reported_not_raised(admin: AdminHarness, user_id: str, bedrock: FakeBedrock):
    path = f"/api/users/{user_id}/bedrock-credentials"
    admin.call("PUT", path, json={"kind": "access_key", "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET})
    bedrock.enqueue(Scenario.error("AccessDeniedException", "You don't have access to the model.",
                                   route="count-tokens"))
    result = admin.call("POST", f"{path}/test").json()
    assert (result["ok"], result["status"], result["code"]) == (False, 403, "AccessDeniedException")


def test_without_own_credentials_the_test_uses_the_role(admin: AdminHarness, user_id: str):
    result = admin.call("POST", f"/api/users/{user_id}/bedrock-credentials/test").json()
    assert result["credentials"] == "role" and result["ok"] is True


def test_delete_then_view_is_a_404_and_deleting_again_too(admin: AdminHarness, user_id: str):
    path = f"/api/users/{user_id}/bedrock-credentials"
    admin.call("PUT", path, json={"kind": "api_key", "api_key": API_KEY})
    assert admin.call("DELETE", path).status_code == 204
    assert admin.call("GET", path).status_code == 404
    assert admin.call("DELETE", path).status_code == 404
    assert [e["action"] for e in admin.audit(target_type="credentials")] == ["credentials.delete", "credentials.set"]


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "password", "api_key": API_KEY}, "kind"),
    ({"kind": "api_key"}, "api_key"),
    ({"kind": "api_key", "api_key": "short"}, "api_key"),
    ({"kind": "api_key", "api_key": "has spaces in it and is long enough"}, "api_key"),
    ({"kind": "access_key", "access_key_id": "NOTAKEY", "secret_access_key": SECRET}, "access_key_id"),
    ({"kind": "access_key", "access_key_id": ACCESS_KEY_ID, "secret_access_key": "tooshort"}, "secret_access_key"),
    ({"kind": "access_key", "access_key_id": "ASIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET}, "session_token"),
    ({"kind": "api_key", "api_key": API_KEY, "region": "mars-1"}, "region"),
    ({"kind": "api_key", "api_key": API_KEY, "extra": 1}, "extra"),
])
def test_malformed_credentials_are_refused_naming_the_field_without_echoing_the_secret(
        admin: AdminHarness, user_id: str, body: dict, field: str, captured_logs: io.StringIO):
    response = admin.call("PUT", f"/api/users/{user_id}/bedrock-credentials", json=body)
    assert response.status_code == 422, response.text
    assert any(field in f["field"] for f in response.json()["error"]["fields"]), response.json()
    assert admin.call("GET", f"/api/users/{user_id}/bedrock-credentials").status_code == 404
    for secret in (SECRET, API_KEY, "tooshort", "has spaces in it"):
        assert secret not in response.text + captured_logs.getvalue()
    assert admin.audit(target_type="credentials") == []
