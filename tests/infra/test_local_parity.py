"""The local emulator and the CDK app agree: what ``overspill dev`` creates on moto is what a deployment creates.

The local side is provisioned exactly as ``overspill dev`` does it — ``overspill.local.provision.provision`` with the
settings of a run without flags, then the sign-in pool of ``overspill.local.cognito`` and the settings completed with
it — on in-process moto, and read back with the describe calls an operator would use. The other side is the
synthesised CloudFormation of the CDK app (stage dev). Compared, resource by resource:

- DynamoDB (DescribeTable, DescribeTimeToLive): the same set of tables, matched through the setting that names each
  (``OVERSPILL_<X>_TABLE``); each with the same key schema and attribute types, the same global secondary indexes
  (name, key schema with types, projection), the same stream view type (or none), the same TTL attribute (or none)
  and on-demand billing.
- The credentials KMS key (ListAliases, DescribeKey): one alias each, the local one
  ``OVERSPILL_CREDENTIALS_KMS_KEY_ID``, the deployed one on the key whose ARN that setting holds; the same name but
  for the stage the CDK app puts in it (so that stages can share an account); a symmetric encrypt/decrypt key.
- The pepper secret (DescribeSecret, GetSecretValue): the secret ``OVERSPILL_PEPPER_SECRET_ID`` names exists on both
  sides and its value is generated, never typed, at the same length (CloudFormation names the deployed secret, so
  names are not compared).
- The exports bucket (GetBucketVersioning): versioning enabled on both; ``OVERSPILL_EXPORTS_BUCKET`` names it.
- The rollup's failure queue (ListQueues, GetQueueAttributes): one standard queue,
  ``OVERSPILL_ROLLUP_FAILURE_QUEUE_URL`` on both sides. (The export's failure queue is Lambda's dead-letter queue
  for asynchronous runs: a local run has none to send there, so it has no local counterpart.)
- The usage spill queue (the same calls): a standard queue, ``OVERSPILL_USAGE_SPILL_QUEUE_URL`` on both sides,
  whose messages go to a dead-letter queue after the same number of deliveries; the local run has these three
  queues and no other.
- Settings: every setting the local run fills with a resource it created is given, as ``OVERSPILL_<FIELD>``, to the
  deployed functions, pointing at a resource of the same kind; and every ``OVERSPILL_*`` variable a deployed function
  gets is one the local run sets for its functions too.

Not compared, on purpose: names CloudFormation chooses, and what only matters on AWS (retention, encryption at rest,
deletion protection, point-in-time recovery, key rotation). The Cognito pool is compared in test_admin.py
(``test_the_deployed_pool_is_the_one_a_local_run_makes``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import pytest
from moto import mock_aws

from overspill.aws import client
from overspill.config import Settings, env_name
from overspill.local.cognito import ensure_user_pool, jwks_url
from overspill.local.provision import provision
from tests.infra.conftest import Synth
from tests.support.gateway import TEST_AWS_ENV

ADMIN_PASSWORD = "Local-Admin-Passw0rd"  # noqa: S105 - moto's pool, made for this test


@dataclass(frozen=True)
class TableShape:
    keys: tuple[tuple[str, str, str], ...]                      # (attribute, type, HASH|RANGE)
    indexes: tuple[tuple[str, tuple[tuple[str, str, str], ...], str], ...]   # (name, keys, projection), by name
    stream_view_type: str | None
    ttl_attribute: str | None
    billing_mode: str


def _keys(key_schema: list[dict[str, str]], types: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((k["AttributeName"], types[k["AttributeName"]], k["KeyType"]) for k in key_schema)


def _shape(table: dict[str, Any], ttl: str | None, billing_mode: str) -> TableShape:
    """From DescribeTable's Table or a template's AWS::DynamoDB::GlobalTable properties (the same field names)."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    stream = table.get("StreamSpecification") or {}
    return TableShape(
        keys=_keys(table["KeySchema"], types),
        indexes=tuple(sorted((i["IndexName"], _keys(i["KeySchema"], types), i["Projection"]["ProjectionType"])
                             for i in table.get("GlobalSecondaryIndexes", []))),
        stream_view_type=stream.get("StreamViewType") if stream.get("StreamEnabled", True) else None,
        ttl_attribute=ttl,
        billing_mode=billing_mode,
    )


@dataclass
class Local:
    settings: Settings
    environment: dict[str, str]       # what `overspill dev` puts in its functions' environment
    tables: dict[str, TableShape]     # by settings field
    aliases: dict[str, dict[str, Any]]    # alias name -> the key's metadata
    pepper: str
    pepper_described: dict[str, Any]
    bucket_versioning: dict[str, Any]
    queues: dict[str, dict[str, str]]     # url -> attributes


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        for name, value in TEST_AWS_ENV.items():
            monkeypatch.setenv(name, value)
        # What `overspill dev` starts from without flags (its environment aside), then what DevServer.start does.
        settings = Settings.from_env({})
        pepper, settings = provision(settings)
        pool = ensure_user_pool(settings, admin_username="admin", admin_password=ADMIN_PASSWORD)
        settings = replace(settings, cognito_user_pool_id=pool.pool_id, cognito_client_ids=pool.client_id,
                           cognito_jwks_url=jwks_url(settings, pool.pool_id),
                           proxy_public_url="http://127.0.0.1:8787")

        dynamodb: Any = client("dynamodb", settings)
        field_of = {getattr(settings, f.name): f.name for f in fields(Settings) if f.name.endswith("_table")}
        tables: dict[str, TableShape] = {}
        for name in dynamodb.list_tables()["TableNames"]:
            assert name in field_of, f"the local run made table {name!r}, which no setting names"
            table = dynamodb.describe_table(TableName=name)["Table"]
            ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            tables[field_of[name]] = _shape(
                table, ttl.get("AttributeName") if ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") else None,
                table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"))

        kms: Any = client("kms", settings)
        aliases = {a["AliasName"]: kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]
                   for a in kms.list_aliases()["Aliases"]
                   if not a["AliasName"].startswith("alias/aws/") and a.get("TargetKeyId")}
        secrets: Any = client("secretsmanager", settings)
        s3: Any = client("s3", settings)
        sqs: Any = client("sqs", settings)
        yield Local(
            settings=settings,
            environment=settings.as_env(),
            tables=tables,
            aliases=aliases,
            pepper=pepper,
            pepper_described=secrets.describe_secret(SecretId=settings.pepper_secret_id),
            bucket_versioning=s3.get_bucket_versioning(Bucket=settings.exports_bucket),
            queues={url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                    for url in sqs.list_queues().get("QueueUrls", [])},
        )


def _our_functions(synth: Synth) -> dict[str, dict[str, Any]]:
    """The functions/<name>/handler.py functions (the CDK's own helpers have other entry points)."""
    return {logical_id: resource for logical_id, resource in synth.resources("AWS::Lambda::Function").items()
            if resource["Properties"].get("Handler") == "handler.handler"}


def _deployed_settings(synth: Synth) -> dict[str, list[Any]]:
    """Every OVERSPILL_* variable of the deployed functions, with each value given to it."""
    found: dict[str, list[Any]] = {}
    for resource in _our_functions(synth).values():
        for name, value in resource["Properties"]["Environment"]["Variables"].items():
            if name.startswith("OVERSPILL_"):
                found.setdefault(name, []).append(value)
    return found


def _referenced(synth: Synth, value: Any) -> tuple[str, dict[str, Any]]:
    """The resource a variable's value refers to (a Ref or a GetAtt of its ARN)."""
    assert isinstance(value, dict) and len(value) == 1, f"expected a reference, got {value!r}"
    logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    return logical_id, synth.json["Resources"][logical_id]


def _deployed_tables(synth: Synth) -> dict[str, TableShape]:
    """Every table of the template, by the setting that names it to the functions (each must be named)."""
    by_id: dict[str, str] = {}
    for name, values in _deployed_settings(synth).items():
        if not name.endswith("_TABLE"):
            continue
        field = name.removeprefix("OVERSPILL_").lower()
        for value in values:
            logical_id, resource = _referenced(synth, value)
            assert resource["Type"] == "AWS::DynamoDB::GlobalTable", f"{name} names a {resource['Type']}"
            assert by_id.setdefault(logical_id, field) == field, f"{logical_id} is named by two settings"
    tables = synth.resources("AWS::DynamoDB::GlobalTable")
    unnamed = sorted(set(tables) - set(by_id))
    assert not unnamed, f"tables no function is told about: {unnamed}"
    shapes = {}
    for logical_id, resource in tables.items():
        props = resource["Properties"]
        ttl = props.get("TimeToLiveSpecification") or {}
        shapes[by_id[logical_id]] = _shape(props, ttl.get("AttributeName") if ttl.get("Enabled") else None,
                                           props.get("BillingMode", "PROVISIONED"))
    return shapes


def test_the_same_tables_exist_locally_and_deployed(local, dev):
    assert local.tables, "the local run made no tables"
    assert sorted(_deployed_tables(dev)) == sorted(local.tables)


def test_each_table_has_the_same_keys_indexes_stream_and_ttl(local, dev):
    deployed = _deployed_tables(dev)
    differences = {field: {"local": shape, "deployed": deployed.get(field)}
                   for field, shape in local.tables.items() if deployed.get(field) != shape}
    assert differences == {}
    # Guard the guard: the comparison above covered every feature it claims to.
    shapes = list(local.tables.values())
    assert any(s.stream_view_type for s in shapes) and any(s.ttl_attribute for s in shapes)
    assert any(len(s.keys) == 2 for s in shapes) and any(index for s in shapes for index in s.indexes)
    assert {s.billing_mode for s in shapes} == {"PAY_PER_REQUEST"}


def test_a_table_that_drifted_would_be_caught(local, dev):
    """The shapes are compared field by field: a change to any of them makes the tables differ."""
    field, shape = next((f, s) for f, s in local.tables.items() if s.indexes and s.stream_view_type)
    deployed = _deployed_tables(dev)[field]
    assert deployed == shape
    index_name, index_keys, _ = shape.indexes[0]
    (key_name, _, kind), *other_keys = shape.keys
    drifts = {
        "key type": replace(shape, keys=((key_name, "N", kind), *other_keys)),
        "ttl": replace(shape, ttl_attribute="other"),
        "stream": replace(shape, stream_view_type=None),
        "index removed": replace(shape, indexes=shape.indexes[1:]),
        "projection": replace(shape, indexes=((index_name, index_keys, "INCLUDE"), *shape.indexes[1:])),
        "billing": replace(shape, billing_mode="PROVISIONED"),
    }
    assert [what for what, drifted in drifts.items() if drifted == deployed] == []


def test_the_credentials_key_has_the_same_alias_but_for_the_stage(local, dev):
    stage = dev.config.stage
    ((local_alias, local_key),) = local.aliases.items()
    assert local_alias == local.settings.credentials_kms_key_id
    # A key of our own (not an AWS-managed one), symmetric, enabled: what the Encryption SDK seals with.
    assert local_key["KeyManager"] == "CUSTOMER" and local_key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert local_key["Enabled"]

    (alias,) = dev.resources("AWS::KMS::Alias").values()
    deployed_alias = alias["Properties"]["AliasName"]
    assert deployed_alias.replace(f"-{stage}-", "-", 1) == local_alias
    assert deployed_alias == f"alias/overspill-{stage}-credentials"
    key_ids = {_referenced(dev, v)[0] for v in _deployed_settings(dev)[env_name("credentials_kms_key_id")]}
    assert key_ids == {alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]}
    key = dev.json["Resources"][key_ids.pop()]["Properties"]
    assert key.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    assert key.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT" and key.get("Enabled", True)


def test_the_pepper_secret_is_generated_at_the_same_length(local, dev):
    assert local.pepper_described["Name"] == local.settings.pepper_secret_id
    secrets = {_referenced(dev, v)[0] for v in _deployed_settings(dev)[env_name("pepper_secret_id")]}
    assert len(secrets) == 1
    deployed = dev.json["Resources"][secrets.pop()]
    assert deployed["Type"] == "AWS::SecretsManager::Secret"
    generated = deployed["Properties"]["GenerateSecretString"]
    assert "SecretString" not in deployed["Properties"], "the deployed pepper must be generated, not in the template"
    assert len(local.pepper) == generated["PasswordLength"]
    assert generated.get("ExcludeCharacters", "") == "" and not generated.get("IncludeSpace", False)


def test_the_exports_bucket_is_versioned_on_both_sides(local, dev):
    assert local.bucket_versioning.get("Status") == "Enabled"
    buckets = {_referenced(dev, v)[0] for v in _deployed_settings(dev)[env_name("exports_bucket")]}
    assert len(buckets) == 1
    bucket = dev.json["Resources"][buckets.pop()]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}


def test_the_rollup_failure_queue_is_one_standard_queue_on_both_sides(local, dev):
    attributes = local.queues[local.settings.rollup_failure_queue_url]
    assert attributes.get("FifoQueue", "false") == "false" and "RedrivePolicy" not in attributes
    queues = {_referenced(dev, v)[0] for v in _deployed_settings(dev)[env_name("rollup_failure_queue_url")]}
    assert len(queues) == 1
    queue = dev.json["Resources"][queues.pop()]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert not queue["Properties"].get("FifoQueue", False)


def test_the_usage_spill_queue_has_the_same_dead_letter_queue_on_both_sides(local, dev):
    attributes = local.queues[local.settings.usage_spill_queue_url]
    assert attributes.get("FifoQueue", "false") == "false"
    redrive = json.loads(attributes["RedrivePolicy"])
    (dead_letters,) = [url for url, a in local.queues.items() if a["QueueArn"] == redrive["deadLetterTargetArn"]]
    assert set(local.queues) == {local.settings.rollup_failure_queue_url, local.settings.usage_spill_queue_url,
                                 dead_letters}
    assert "RedrivePolicy" not in local.queues[dead_letters]

    queues = {_referenced(dev, v)[0] for v in _deployed_settings(dev)[env_name("usage_spill_queue_url")]}
    assert len(queues) == 1
    queue = dev.json["Resources"][queues.pop()]
    assert queue["Type"] == "AWS::SQS::Queue" and not queue["Properties"].get("FifoQueue", False)
    deployed = queue["Properties"]["RedrivePolicy"]
    assert deployed["maxReceiveCount"] == int(redrive["maxReceiveCount"])
    target_id = deployed["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert dev.json["Resources"][target_id]["Type"] == "AWS::SQS::Queue"
    assert "RedrivePolicy" not in dev.json["Resources"][target_id]["Properties"]


# The settings a local run fills with a resource it created (or its sign-in made), and what kind of resource the
# deployed functions are given for each.
RESOURCE_SETTINGS = {
    **{f.name: "AWS::DynamoDB::GlobalTable" for f in fields(Settings) if f.name.endswith("_table")},
    "exports_bucket": "AWS::S3::Bucket",
    "pepper_secret_id": "AWS::SecretsManager::Secret",
    "credentials_kms_key_id": "AWS::KMS::Key",
    "rollup_failure_queue_url": "AWS::SQS::Queue",
    "usage_spill_queue_url": "AWS::SQS::Queue",
    "cognito_user_pool_id": "AWS::Cognito::UserPool",
    "cognito_client_ids": "AWS::Cognito::UserPoolClient",
}


def test_every_resource_setting_of_the_local_run_points_the_deployed_functions_at_the_same_kind(local, dev):
    deployed = _deployed_settings(dev)
    missing = sorted(env_name(f) for f in RESOURCE_SETTINGS if env_name(f) not in deployed)
    assert missing == []
    for field, kind in RESOURCE_SETTINGS.items():
        assert env_name(field) in local.environment, f"the local run does not set {env_name(field)}"
        for value in deployed[env_name(field)]:
            logical_id, resource = _referenced(dev, value)
            assert resource["Type"] == kind, f"{env_name(field)} names {logical_id}, a {resource['Type']}"


def test_every_variable_of_a_deployed_function_is_one_the_local_run_sets(local, dev):
    deployed = set(_deployed_settings(dev))
    assert deployed, "no OVERSPILL_* variables found"
    assert sorted(deployed - set(local.environment)) == []
