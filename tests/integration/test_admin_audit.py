"""Every change leaves an audit entry: each mutating operation of the OpenAPI document is carried out once, and
the audit log gains an entry naming the actor, the action and the target. The log itself has no way to be
changed: no operation under /api/audit other than GET."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from overspill.admin.openapi import current_document
from tests.support.admin import AdminHarness

DOCUMENT = json.loads(current_document())
MUTATIONS = {(method.upper(), path) for path, operations in DOCUMENT["paths"].items()
             for method in operations if method != "get"}
# Operations that change nothing (a test call to Bedrock): no entry expected.
NOT_MUTATIONS = {("POST", "/api/users/{user_id}/bedrock-credentials/test")}


def test_every_mutation_leaves_an_audit_entry(admin: AdminHarness):
    uid = admin.call("POST", "/api/users", json={"name": "Audited"}).json()["user_id"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    user = f"/api/users/{uid}"
    pricing = admin.call("GET", "/api/pricing").json()
    mappings = admin.call("GET", "/api/model-mappings").json()
    steps: list[tuple[str, str, dict | None, str]] = [
        ("PATCH", "/api/users/{user_id}", {"version": 1, "team": "audit"}, "user.update"),
        ("POST", "/api/users/{user_id}/deactivate", None, "user.deactivate"),
        ("POST", "/api/users/{user_id}/reactivate", None, "user.reactivate"),
        ("POST", "/api/users/{user_id}/keys", None, "key.issue"),
        ("POST", "/api/users/{user_id}/keys/{key_id}/rotate", {"grace_seconds": 60}, "key.rotate"),
        ("POST", "/api/users/{user_id}/keys/{key_id}/revoke", None, "key.revoke"),
        ("PUT", "/api/users/{user_id}/bedrock-credentials",
         {"kind": "access_key", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
          "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "credentials.set"),
        ("DELETE", "/api/users/{user_id}/bedrock-credentials", None, "credentials.delete"),
        ("POST", "/api/users/{user_id}/breaker/reset", None, "breaker.reset"),
        ("PUT", "/api/teams", {"team": "audit", "version": 0, "budget_usd": "100"}, "team.update"),
        ("PUT", "/api/pricing/overrides", {"version": pricing["version"], "models": {"claude-audit-1": {
            "input": "1", "output": "2", "cache_write_5m": "1.25", "cache_write_1h": "2", "cache_read": "0.1"}}},
         "pricing.update"),
        ("PUT", "/api/model-mappings", {"version": mappings["version"],
                                        "mappings": {"claude-audit-1": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}},
         "model_mappings.update"),
        ("POST", "/api/exports", {"kind": "daily", "from": yesterday, "to": yesterday}, "export.run"),
        ("DELETE", "/api/users/{user_id}", None, "user.delete"),
    ]
    covered = {(method, path) for method, path, _, _ in steps} | {("POST", "/api/users")} | NOT_MUTATIONS
    assert covered == MUTATIONS, f"a mutating operation has no audit check: {MUTATIONS - covered}"

    key_id = None
    for method, path, body, action in steps:
        before = len(admin.audit())
        url = path.replace("{user_id}", uid).replace("{key_id}", key_id or "")
        response = admin.call(method, url, json=body) if body is not None else admin.call(method, url)
        assert response.status_code < 300, (method, path, response.text)
        if action == "key.issue":
            key_id = response.json()["key_id"]
        entries = admin.audit()
        new = entries[:len(entries) - before]
        assert action in [e["action"] for e in new], f"{method} {path} left no {action} entry"
        assert {e["actor"] for e in new} == {"alice"}
    actions = [e["action"] for e in admin.audit()]
    assert actions[-1] == "user.create" and user  # the first change is there too, oldest last


def test_the_audit_log_cannot_be_changed_through_the_api(admin: AdminHarness):
    assert {method for method, path in MUTATIONS if path.startswith("/api/audit")} == set()
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = admin.call(method, "/api/audit", json={})
        assert response.status_code == 405 and response.headers["allow"] == "GET"
