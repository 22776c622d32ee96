"""Code and infrastructure agree: every table the models describe is deployed exactly as described.

Each table is found the way the proxy finds it — through its OVERSPILL_* variable — and read back from the
rendered CloudFormation into a TableSpec, which must equal ``all_table_specs()``. It is also compared with
``create_table_request`` (what the local emulator creates), to catch a translation bug in either direction.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from overspill.store.schema import IndexSpec, KeyAttr, TableSpec, create_table_request
from tests.infra.conftest import SPECS, spec_id


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[KeyAttr, KeyAttr | None]:
    kinds = [k["KeyType"] for k in key_schema]
    assert kinds in (["HASH"], ["HASH", "RANGE"]), f"unexpected key schema {key_schema}"
    by_kind = {k["KeyType"]: KeyAttr(k["AttributeName"], types[k["AttributeName"]]) for k in key_schema}
    return by_kind["HASH"], by_kind.get("RANGE")


def rendered_spec(props: dict[str, Any], spec: TableSpec) -> TableSpec:
    """Read a rendered AWS::DynamoDB::GlobalTable back into a TableSpec (names taken from ``spec``)."""
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    partition, sort = _keys(props["KeySchema"], types)
    indexes = []
    for index in props.get("GlobalSecondaryIndexes", []):
        index_partition, index_sort = _keys(index["KeySchema"], types)
        indexes.append(IndexSpec(index["IndexName"], index_partition, index_sort,
                                 index["Projection"]["ProjectionType"]))
    ttl = props.get("TimeToLiveSpecification")
    return TableSpec(
        settings_field=spec.settings_field,
        default_name=spec.default_name,
        partition_key=partition,
        sort_key=sort,
        indexes=tuple(indexes),
        ttl_attribute=ttl["AttributeName"] if ttl and ttl.get("Enabled") else None,
        stream_view_type=props.get("StreamSpecification", {}).get("StreamViewType"),
    )


def differences(props: dict[str, Any], spec: TableSpec) -> list[str]:
    """Every way the rendered table differs from the spec and from ``create_table_request(spec)``."""
    found: list[str] = []
    rendered = rendered_spec(props, spec)
    for field in dataclasses.fields(TableSpec):
        want, got = getattr(spec, field.name), getattr(rendered, field.name)
        if field.name == "indexes":
            want, got = sorted(want, key=lambda i: i.name), sorted(got, key=lambda i: i.name)
        if want != got:
            found.append(f"{field.name}: spec {want!r}, template {got!r}")

    request = create_table_request(spec, "any-name")
    if props["KeySchema"] != request["KeySchema"]:
        found.append(f"KeySchema: request {request['KeySchema']}, template {props['KeySchema']}")
    by_name = sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    if by_name != request["AttributeDefinitions"]:
        found.append(f"AttributeDefinitions: request {request['AttributeDefinitions']}, template {by_name}")
    if props.get("BillingMode") != request["BillingMode"]:
        found.append(f"BillingMode: request {request['BillingMode']}, template {props.get('BillingMode')}")
    want_indexes = {i["IndexName"]: (i["KeySchema"], i["Projection"])
                    for i in request.get("GlobalSecondaryIndexes", [])}
    got_indexes = {i["IndexName"]: (i["KeySchema"], i["Projection"])
                   for i in props.get("GlobalSecondaryIndexes", [])}
    if want_indexes != got_indexes:
        found.append(f"GlobalSecondaryIndexes: request {want_indexes}, template {got_indexes}")
    want_stream = request.get("StreamSpecification")
    got_stream = props.get("StreamSpecification")
    if (want_stream and want_stream["StreamViewType"]) != (got_stream and got_stream["StreamViewType"]):
        found.append(f"StreamSpecification: request {want_stream}, template {got_stream}")
    return found


def test_one_table_per_model_and_no_others(any_stage):
    assert len(SPECS) >= 3
    assert len(any_stage.resources("AWS::DynamoDB::GlobalTable")) == len(SPECS)
    assert any_stage.resources("AWS::DynamoDB::Table") == {}
    referenced = {any_stage.table_for(spec)[0] for spec in SPECS}
    assert len(referenced) == len(SPECS), "two settings fields point at the same table"


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_table_is_deployed_exactly_as_the_model_describes(any_stage, spec):
    _, table = any_stage.table_for(spec)
    assert differences(table["Properties"], spec) == []


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_table_is_on_demand_with_an_aws_key(any_stage, spec):
    props = any_stage.table_for(spec)[1]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "WriteProvisionedThroughputSettings" not in props
    sse = props.get("SSESpecification", {"SSEEnabled": False})
    # AWS-owned (SSEEnabled false) or AWS-managed (KMS, no key of ours): nothing to manage or pay for.
    assert sse.get("SSEEnabled") is False or (sse.get("SSEType") == "KMS" and "KMSMasterKeyId" not in sse)
    for replica in props["Replicas"]:
        assert "KMSMasterKeyId" not in replica.get("SSESpecification", {})


def test_the_specs_exercise_every_feature_the_translation_handles():
    """Guard the guard: if no model had a stream, TTL, sort-keyed or keys-only index, the checks above
    would prove nothing about those translations."""
    assert any(s.stream_view_type for s in SPECS)
    assert any(s.ttl_attribute for s in SPECS)
    assert any(i.sort_key for s in SPECS for i in s.indexes)
    assert {i.projection for s in SPECS for i in s.indexes} >= {"ALL", "KEYS_ONLY"}


def _mutations(spec: TableSpec) -> dict[str, TableSpec]:
    extra = IndexSpec("by_extra", KeyAttr("extra", "S"), None, "ALL")
    changed = {
        "partition key renamed": dataclasses.replace(spec, partition_key=KeyAttr("other", "S")),
        "partition key type": dataclasses.replace(spec, partition_key=KeyAttr(spec.partition_key.name, "N")),
        "sort key added": dataclasses.replace(spec, sort_key=KeyAttr("added_sort", "S")),
        "index added": dataclasses.replace(spec, indexes=(*spec.indexes, extra)),
        "ttl changed": dataclasses.replace(spec, ttl_attribute="other_ttl"),
        "stream changed": dataclasses.replace(
            spec, stream_view_type=None if spec.stream_view_type else "NEW_AND_OLD_IMAGES"),
    }
    if spec.indexes:
        first = spec.indexes[0]
        flipped = "ALL" if first.projection == "KEYS_ONLY" else "KEYS_ONLY"
        changed["index projection"] = dataclasses.replace(
            spec, indexes=(dataclasses.replace(first, projection=flipped), *spec.indexes[1:]))
        changed["index removed"] = dataclasses.replace(spec, indexes=spec.indexes[1:])
    return changed


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_a_model_change_the_infra_did_not_follow_is_caught(dev, spec):
    """The comparison above is sensitive: a spec that differs from what was deployed is reported."""
    props = dev.table_for(spec)[1]["Properties"]
    for what, changed in _mutations(spec).items():
        assert differences(props, changed), f"not detected: {what}"


# Logical ids of deployed stateful resources. A new logical id makes CloudFormation create a new resource
# and delete (dev) or orphan (prod) the old one: every usage event, or — for the pepper — every issued key,
# would be lost. Add new tables here; never change an entry.
STABLE_LOGICAL_IDS = {
    "users_table": "DataUsersTableA308CF66",
    "access_keys_table": "DataAccessKeysTable479B4026",
    "usage_table": "DataUsageTable202A59A5",
    "breakers_table": "DataBreakersTable70C129E6",
    "credentials_table": "DataCredentialsTable7585EB66",
    "rollups_table": "DataRollupsTableEB91494D",
    "teams_table": "DataTeamsTable9AB576DA",
    "config_table": "DataConfigTable6430BC6B",
    "audit_table": "DataAuditTableD7A94F1A",
    "idempotency_table": "DataIdempotencyTable36C198C8",
}
PEPPER_LOGICAL_ID = "DataAccessKeyPepperBCF76882"
# A new key would leave every stored Bedrock credential sealed under the old one.
CREDENTIALS_KEY_LOGICAL_ID = "DataCredentialsKey6A4CD215"


def test_stateful_resources_keep_their_logical_ids(dev):
    for spec in SPECS:
        if spec.settings_field in STABLE_LOGICAL_IDS:
            assert dev.table_for(spec)[0] == STABLE_LOGICAL_IDS[spec.settings_field]
    assert dev.environment["OVERSPILL_PEPPER_SECRET_ID"] == {"Ref": PEPPER_LOGICAL_ID}
    assert dev.environment["OVERSPILL_CREDENTIALS_KMS_KEY_ID"] == {"Fn::GetAtt": [CREDENTIALS_KEY_LOGICAL_ID, "Arn"]}
    assert set(STABLE_LOGICAL_IDS) == {spec.settings_field for spec in SPECS}, "add the new table's id above"
