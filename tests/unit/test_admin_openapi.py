"""The committed OpenAPI document is the one the code generates, and it states who may call what."""

from __future__ import annotations

import json
from pathlib import Path

from overspill.admin.api import ROLE_EXTENSION
from overspill.admin.openapi import current_document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_docs_openapi_json_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == current_document(), (
        "docs/openapi.json is stale: run `.venv/bin/python -m overspill.admin.openapi docs/openapi.json`")


def test_every_operation_names_its_role_and_only_health_is_open():
    document = json.loads(current_document())
    roles = {(method.upper(), path): operation[ROLE_EXTENSION]
             for path, operations in document["paths"].items() for method, operation in operations.items()}
    assert {op for op, role in roles.items() if role == "none"} == {("GET", "/api/health"), ("GET", "/api/config")}
    assert set(roles.values()) <= {"none", "finance", "admin"}
    # Finance reads usage, pricing and exports — and changes nothing.
    finance = {op for op, role in roles.items() if role == "finance"}
    assert all(method == "GET" for method, _ in finance), finance
    assert all(path.startswith(("/api/usage", "/api/pricing", "/api/model-mappings", "/api/exports", "/api/me"))
               for _, path in finance), finance
