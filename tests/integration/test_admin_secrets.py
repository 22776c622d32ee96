"""Secrets stay secret: after keys are issued and rotated and Bedrock credentials set and tested, no answer of
any read operation (every GET of the OpenAPI document), no audit entry and no log line holds a key or a secret."""

from __future__ import annotations

import io
import json

from overspill.admin.openapi import current_document
from tests.support.admin import AdminHarness

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////wEaDHxOverspillSessionTokenSecret"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQtdmFsdWUtMTIzNDU2Nzg5MA=="


def test_no_read_no_audit_entry_and_no_log_line_shows_a_key_or_secret(admin: AdminHarness,
                                                                      captured_logs: io.StringIO):
    user = admin.call("POST", "/api/users", json={"name": "Kim", "team": "platform"}).json()
    uid = user["user_id"]
    first = admin.call("POST", f"/api/users/{uid}/keys").json()
    rotated = admin.call("POST", f"/api/users/{uid}/keys/{first['key_id']}/rotate").json()
    keys = [first["key"], rotated["key"]]
    credentials = f"/api/users/{uid}/bedrock-credentials"
    assert admin.call("PUT", credentials, json={
        "kind": "access_key", "access_key_id": "ASIAIOSFODNN7EXAMPLE", "secret_access_key": SECRET,
        "session_token": SESSION_TOKEN}).status_code == 200
    admin.call("POST", f"{credentials}/test")
    assert admin.call("PUT", credentials, json={"kind": "api_key", "api_key": API_KEY}).status_code == 200

    answers = []
    document = json.loads(current_document())
    for path, operations in document["paths"].items():
        if "get" not in operations:
            continue
        url = path.replace("{user_id}", uid).replace("{key_id}", first["key_id"]) \
                  .replace("{kind}", "daily").replace("{period}", "2026-11-01")
        answers.append(admin.call("GET", url).text)
    seen = "\n".join(answers) + admin.call("GET", "/api/audit", params={"limit": 200}).text + captured_logs.getvalue()

    for secret in (*keys, SECRET, SESSION_TOKEN, API_KEY):
        assert secret not in seen
    for key in keys:
        assert key[10:20] not in seen  # not even a part beyond the display prefix
    assert first["prefix"] in seen     # the prefix is what lists show instead
