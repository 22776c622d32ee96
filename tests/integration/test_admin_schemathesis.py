"""schemathesis against the admin API's own OpenAPI document: generated requests for every operation (valid
and invalid), sent as an admin to the real function on loopback. No 5xx, and every answer keeps to the
documented statuses, content types and schemas.

Bounded: a fixed number of examples per operation, derandomised, so the run takes the same time every time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from overspill.admin.openapi import current_document
from tests.support.admin import AdminHarness

schema = schemathesis.openapi.from_dict(json.loads(current_document()))
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def harness() -> Iterator[AdminHarness]:
    with AdminHarness() as admin:
        # Something to find: a user with a key, so reads of real ids are among the cases too.
        user = admin.call("POST", "/api/users", json={"name": "Seed", "team": "platform"}).json()
        admin.call("POST", f"/api/users/{user['user_id']}/keys")
        yield admin


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_admin_api_keeps_to_its_openapi_document(case, harness: AdminHarness):
    # positive_data_acceptance is left out: schema-valid input may still be refused by rules a schema cannot state
    # (a range that ends before it starts, a month 00, a stale version), and those 422s are tested one by one.
    case.call_and_validate(base_url=harness.url, headers={"Authorization": f"Bearer {harness.admin_token}"},
                           excluded_checks=[positive_data_acceptance])
