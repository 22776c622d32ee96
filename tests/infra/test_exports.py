"""The finance exports as synthesised: the bucket, the export function, its schedules and its failure queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.assets import EXPORT_CODE_DIR
from infra.components.exports import LAYOUTS, FileLayout, written_prefixes
from overspill.config import ENV_PREFIX, Settings, env_name
from overspill.exports.files import csv_key, manifest_key
from overspill.exports.invocation import parse_event
from overspill.exports.periods import SETTLING_TIME, Period, PeriodKind
from tests.infra.conftest import SPECS, Synth
from tests.infra.iam_policy import role_statements_of_role

FOURTEEN_DAYS = 14 * 24 * 3600


def _function(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.exports.function)


def _usage_id(synth: Synth) -> str:
    return synth.table_for(next(s for s in SPECS if s.settings_field == "usage_table"))[0]


def _bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.exports.bucket)


def _queue_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.exports.failure_queue)


# --- Where the files go: read off the exporter's own code.

def test_the_layout_is_the_exporters_own():
    """Written out, so that a change in the code is a reviewed change here (and in the Glue tables)."""
    assert LAYOUTS[PeriodKind.DAILY] == FileLayout(PeriodKind.DAILY, "usage/daily/", "dt", "yyyy-MM-dd", "DAYS",
                                                   "manifests/daily/")
    assert LAYOUTS[PeriodKind.MONTHLY] == FileLayout(PeriodKind.MONTHLY, "usage/monthly/", "month", "yyyy-MM",
                                                     "MONTHS", "manifests/monthly/")
    assert written_prefixes() == ("manifests/", "usage/")
    for period in (Period.day(datetime(2026, 3, 14).date()), Period.month(2026, 2)):
        layout = LAYOUTS[period.kind]
        folder = layout.location_template("b").removeprefix("s3://b/").replace(f"${{{layout.partition}}}",
                                                                                period.label)
        assert csv_key(period).startswith(folder) and "/" not in csv_key(period).removeprefix(folder)
        assert manifest_key(period).startswith(layout.manifest_prefix)


# --- The function.

def test_function_runtime_handler_and_limits(any_config):
    props = _function(any_config)[1]["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["Timeout"] == 900  # a month of events in one run
    assert props["MemorySize"] == any_config.config.export_memory_mb


def test_memory_comes_from_context(dev, custom):
    assert _function(dev)[1]["Properties"]["MemorySize"] == 512
    assert _function(custom)[1]["Properties"]["MemorySize"] == 1024  # -c exportMemoryMb=1024


def test_the_core_layer_is_the_proxys_own(any_stage):
    core = any_stage.logical_id(any_stage.stack.proxy.core_layer)
    assert _function(any_stage)[1]["Properties"]["Layers"] == [{"Ref": core}]
    assert (any_stage.asset_dir(core) / "python" / "overspill" / "exports" / "invocation.py").is_file()


def test_the_code_asset_is_the_doorway_and_nothing_else(dev):
    code = dev.asset_dir(_function(dev)[0])
    assert sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file()) == ["handler.py"]
    assert (code / "handler.py").read_bytes() == (EXPORT_CODE_DIR / "handler.py").read_bytes()


def test_environment_names_exactly_what_the_code_reads(dev, prod, custom):
    for synth in (dev, prod, custom):
        env = synth.environment_of(synth.stack.exports.function)
        assert env == {
            "POWERTOOLS_SERVICE_NAME": "overspill",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "OVERSPILL_STAGE": synth.config.stage,
            "OVERSPILL_REGION": {"Ref": "AWS::Region"},
            "OVERSPILL_USAGE_TABLE": {"Ref": _usage_id(synth)},
            "OVERSPILL_EXPORTS_BUCKET": {"Ref": _bucket(synth)[0]},
            # The exporter refuses ranges older than the events are kept: the table's own TTL.
            "OVERSPILL_USAGE_TTL_DAYS": str(synth.config.usage_retention_days),
        }
        assert env["OVERSPILL_USAGE_TTL_DAYS"] == synth.environment["OVERSPILL_USAGE_TTL_DAYS"]  # the proxy's
        assert {k for k in env if k.startswith(ENV_PREFIX)} <= {env_name(f) for f in Settings.__dataclass_fields__}
        Settings.from_env({k: v if isinstance(v, str) else f"resolved-{k.lower()}" for k, v in env.items()})


def test_failed_runs_are_retried_then_queued(any_stage):
    function_id, function = _function(any_stage)
    assert function["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [_queue_id(any_stage), "Arn"]}}
    _, config = any_stage.only("AWS::Lambda::EventInvokeConfig")
    assert config["Properties"] == {"FunctionName": {"Ref": function_id}, "Qualifier": "$LATEST",
                                    "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 6 * 3600}


def test_logs_go_to_its_own_group_with_retention(dev, prod):
    for synth, days in ((dev, 30), (prod, 365)):
        group_id, group = synth.resource_of(synth.stack.exports.log_group)
        assert group["Properties"]["RetentionInDays"] == days
        assert _function(synth)[1]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}


# --- The schedules.

def _schedules(synth: Synth) -> dict[str, dict[str, Any]]:
    """Schedule properties by the kind their input asks for."""
    found = {}
    for schedule in synth.resources("AWS::Scheduler::Schedule").values():
        props = schedule["Properties"]
        found[json.loads(props["Target"]["Input"])["kind"]] = props
    assert len(found) == len(synth.resources("AWS::Scheduler::Schedule")) == 2
    return found


@pytest.mark.parametrize(("kind", "expression"), [("daily", "cron(30 1 * * ? *)"), ("monthly", "cron(30 2 1 * ? *)")])
def test_schedules_run_in_utc_with_their_input(any_stage, kind, expression):
    props = _schedules(any_stage)[kind]
    function_id, _ = _function(any_stage)
    assert props["ScheduleExpression"] == expression
    assert props["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["State"] == "ENABLED"
    assert "GroupName" not in props  # the default group, which the role's trust condition names
    target = props["Target"]
    assert json.loads(target["Input"]) == {"kind": kind}
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [_queue_id(any_stage), "Arn"]}}


@pytest.mark.parametrize(("kind", "runs_at", "expected"), [
    ("daily", datetime(2026, 3, 14, 1, 30, tzinfo=UTC), ("2026-03-13", "2026-03-13")),
    ("daily", datetime(2026, 3, 1, 1, 30, tzinfo=UTC), ("2026-02-28", "2026-02-28")),
    ("monthly", datetime(2026, 3, 1, 2, 30, tzinfo=UTC), ("2026-02-01", "2026-02-28")),
    ("monthly", datetime(2026, 1, 1, 2, 30, tzinfo=UTC), ("2025-12-01", "2025-12-31")),
])
def test_each_schedule_exports_the_period_that_just_settled(dev, kind, runs_at, expected):
    """The function's own parser reads the schedule's input; at the scheduled time the period it asks for has
    settled (its files are final, not marked incomplete)."""
    props = _schedules(dev)[kind]
    minute, hour, day = props["ScheduleExpression"].removeprefix("cron(").split()[:3]
    assert (runs_at.minute, runs_at.hour) == (int(minute), int(hour)) and day in ("*", str(runs_at.day))
    request = parse_event(json.loads(props["Target"]["Input"]))
    first, last = request.range_at(runs_at)
    assert (first, last) == expected
    period_end = datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1)
    assert runs_at >= period_end + SETTLING_TIME


def test_the_scheduler_may_invoke_the_export_function_and_send_to_its_queue_only(any_stage):
    function_id, _ = _function(any_stage)
    role_ids = {s["Target"]["RoleArn"]["Fn::GetAtt"][0] for s in _schedules(any_stage).values()}
    (role_id,) = role_ids
    role = any_stage.json["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert not role.get("ManagedPolicyArns")
    statements = role_statements_of_role(any_stage, role_id)
    grants = {(action, resource) for s in statements for action in s.actions for resource in s.resources}
    function_arn = f"<{function_id}.Arn>"
    # CDK's grantInvoke adds the function's qualifiers (``:*``); the function has no versions or aliases.
    assert grants == {("lambda:InvokeFunction", function_arn), ("lambda:InvokeFunction", f"{function_arn}:*"),
                      ("sqs:SendMessage", f"<{_queue_id(any_stage)}.Arn>")}
    assert all(not s.conditions for s in statements)


def test_the_failure_queue_is_encrypted_kept_14_days_and_tls_only(any_stage):
    queue_id, queue = any_stage.resource_of(any_stage.stack.exports.failure_queue)
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue["Properties"]  # SQS's own key: the scheduler needs no KMS grant
    assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    (policy,) = [p["Properties"] for p in any_stage.resources("AWS::SQS::QueuePolicy").values()
                 if {"Ref": queue_id} in p["Properties"]["Queues"]]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert any_stage.json["Outputs"]["ExportFailureQueueUrl"]["Value"] == {"Ref": queue_id}


# --- The bucket.

def test_bucket_is_private_encrypted_versioned_and_tls_only(any_stage):
    bucket_id, bucket = _bucket(any_stage)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}  # no ACLs
    # S3-managed keys: readers need no KMS grant, and the function only s3:PutObject.
    assert props["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "BucketName" not in props  # generated: one per stage and account, no name clashes
    assert "WebsiteConfiguration" not in props and "CorsConfiguration" not in props
    (policy,) = [p["Properties"] for p in any_stage.resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    statements = policy["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} for s in statements)  # grants nothing
    conditions = [s["Condition"] for s in statements]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_bucket_lifecycle(any_config):
    rules = {r["Id"]: r for r in _bucket(any_config)[1]["Properties"]["LifecycleConfiguration"]["Rules"]}
    days = any_config.config.exports_noncurrent_version_days
    assert rules == {
        # A re-run replaces a file; the replaced version is kept this long.
        "ExpireReplacedVersions": {"Id": "ExpireReplacedVersions", "Status": "Enabled",
                                   "NoncurrentVersionExpiration": {"NoncurrentDays": days},
                                   "ExpiredObjectDeleteMarker": True},
        "AbortIncompleteUploads": {"Id": "AbortIncompleteUploads", "Status": "Enabled",
                                   "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        "ExpireAthenaResults": {"Id": "ExpireAthenaResults", "Status": "Enabled", "Prefix": "athena-results/",
                                "ExpirationInDays": 30},
    }
    # No rule ever expires the current version of an export file.
    assert all("ExpirationInDays" not in r or r.get("Prefix") == "athena-results/" for r in rules.values())


def test_noncurrent_retention_comes_from_context(dev, custom):
    def days(synth):
        rules = _bucket(synth)[1]["Properties"]["LifecycleConfiguration"]["Rules"]
        return next(r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules
                    if "NoncurrentVersionExpiration" in r)
    assert (days(dev), days(custom)) == (90, 30)  # -c exportsNoncurrentVersionDays=30


def test_prod_keeps_the_bucket_dev_deletes_it_without_custom_resources(prod, dev):
    assert (_bucket(prod)[1]["DeletionPolicy"], _bucket(prod)[1]["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert (_bucket(dev)[1]["DeletionPolicy"], _bucket(dev)[1]["UpdateReplacePolicy"]) == ("Delete", "Delete")
    # No auto-delete: the one custom resource is the dashboard's deployment (CloudFormation deletes a dev bucket
    # once it is empty).
    for synth in (prod, dev):
        types = {r["Type"] for r in synth.json["Resources"].values()}
        assert {t for t in types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"} <= {
            "Custom::CDKBucketDeployment"}
        assert "aws-cdk:auto-delete-objects" not in json.dumps(_bucket(synth)[1])


def test_the_bucket_is_an_output_the_cli_finds(any_stage):
    assert any_stage.json["Outputs"]["ExportsBucketName"]["Value"] == {"Ref": _bucket(any_stage)[0]}
    assert any_stage.json["Outputs"]["ExportFunctionName"]["Value"] == {"Ref": _function(any_stage)[0]}
