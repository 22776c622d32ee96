"""Create what the CDK app would create — tables (with TTL and streams), the pepper secret, the credentials
key, the exports bucket, the rollup's failure queue and the usage spill queue with its dead-letter queue — on
moto."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from overspill.aws import client
from overspill.config import Settings
from overspill.pepper import new_pepper
from overspill.store.schema import all_table_specs, create_table_request
from overspill.usage.spill import MAX_RECEIVES

ROLLUP_FAILURE_QUEUE = "overspill-rollup-failures"
USAGE_SPILL_QUEUE = "overspill-usage-spill"
USAGE_SPILL_DEAD_LETTERS = "overspill-usage-spill-dead-letters"
# A failed replay is delivered again this much later (the deployed queue waits longer: six function timeouts).
LOCAL_SPILL_VISIBILITY_S = 10


def provision(settings: Settings, *, pepper: str | None = None) -> tuple[str, Settings]:
    """Make every resource exist (idempotent). Returns the pepper in use and the settings completed with
    what only exists once created (the queues' URLs)."""
    create_tables(settings)
    ensure_kms_key(settings)
    ensure_bucket(settings)
    queue_url = ensure_queue(settings, ROLLUP_FAILURE_QUEUE)
    spill_url = ensure_spill_queue(settings)
    return ensure_pepper(settings, pepper), replace(settings, rollup_failure_queue_url=queue_url,
                                                    usage_spill_queue_url=spill_url)


def ensure_bucket(settings: Settings) -> None:
    s3: Any = client("s3", settings)
    try:
        s3.head_bucket(Bucket=settings.exports_bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=settings.exports_bucket)
        s3.put_bucket_versioning(Bucket=settings.exports_bucket, VersioningConfiguration={"Status": "Enabled"})


def ensure_queue(settings: Settings, name: str, attributes: dict[str, str] | None = None) -> str:
    sqs: Any = client("sqs", settings)
    return sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]  # idempotent for the same


def ensure_spill_queue(settings: Settings) -> str:
    """The usage spill queue, whose messages go to its dead-letter queue after MAX_RECEIVES deliveries."""
    sqs: Any = client("sqs", settings)
    dead_letters = ensure_queue(settings, USAGE_SPILL_DEAD_LETTERS)
    arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = orjson.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVES}).decode()
    return ensure_queue(settings, USAGE_SPILL_QUEUE, {"RedrivePolicy": redrive,
                                                      "VisibilityTimeout": str(LOCAL_SPILL_VISIBILITY_S)})


def create_tables(settings: Settings) -> None:
    dynamodb = client("dynamodb", settings)
    existing = set(dynamodb.list_tables()["TableNames"])
    for spec in all_table_specs():
        name = getattr(settings, spec.settings_field)
        if name in existing:
            continue
        dynamodb.create_table(**create_table_request(spec, name))
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute})


def ensure_pepper(settings: Settings, pepper: str | None = None) -> str:
    secrets: Any = client("secretsmanager", settings)
    try:
        return secrets.get_secret_value(SecretId=settings.pepper_secret_id)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException:
        value = pepper or new_pepper()
        secrets.create_secret(Name=settings.pepper_secret_id, SecretString=value,
                              Description="Overspill access-key pepper (HMAC key)")
        return value


def ensure_kms_key(settings: Settings) -> str:
    """The key that encrypts stored Bedrock credentials (an alias, as the CDK app creates it)."""
    kms: Any = client("kms", settings)
    alias = settings.credentials_kms_key_id
    if not alias.startswith("alias/"):
        return alias  # a key id or ARN: it exists or it does not, as on AWS
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias and entry.get("TargetKeyId"):
                return entry["TargetKeyId"]
    key_id = kms.create_key(Description="Overspill Bedrock credentials (local)")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id
