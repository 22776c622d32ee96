"""The rollup function, the mapping that feeds it the usage stream, and its failure queue, as synthesised."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.assets import ROLLUP_CODE_DIR
from overspill.config import ENV_PREFIX, Settings, env_name
from overspill.store.models import UsageEventModel
from tests.infra.conftest import SPECS, Synth, event_filter_matches

FOURTEEN_DAYS = 14 * 24 * 3600


def _function(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.rollup.function)


def _table_id(synth: Synth, settings_field: str) -> str:
    return synth.table_for(next(s for s in SPECS if s.settings_field == settings_field))[0]


def _queue_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.rollup.failure_queue)


def test_function_runtime_handler_and_limits(any_stage):
    props = _function(any_stage)[1]["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["Timeout"] == 60
    assert props["MemorySize"] == 256
    assert "DeadLetterConfig" not in props  # invoked by the stream mapping, never asynchronously


def test_the_core_layer_is_the_proxys_own(any_stage):
    """One layer version for every function: the same overspill package wherever it runs."""
    core = any_stage.logical_id(any_stage.stack.proxy.core_layer)
    assert _function(any_stage)[1]["Properties"]["Layers"] == [{"Ref": core}]
    assert (any_stage.asset_dir(core) / "python" / "overspill" / "usage" / "rollup_stream.py").is_file()


def test_the_code_asset_is_the_doorway_and_nothing_else(dev):
    code = dev.asset_dir(_function(dev)[0])
    files = sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file())
    assert files == ["handler.py"]
    assert (code / "handler.py").read_bytes() == (ROLLUP_CODE_DIR / "handler.py").read_bytes()


def test_environment_names_exactly_what_the_code_reads(dev, prod):
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        env = synth.environment_of(synth.stack.rollup.function)
        assert env == {
            "POWERTOOLS_SERVICE_NAME": "overspill",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "OVERSPILL_STAGE": stage,
            "OVERSPILL_REGION": {"Ref": "AWS::Region"},
            "OVERSPILL_ROLLUPS_TABLE": {"Ref": _table_id(synth, "rollups_table")},
            # A queue's Ref is its URL, which is what SendMessage takes.
            "OVERSPILL_ROLLUP_FAILURE_QUEUE_URL": {"Ref": _queue_id(synth)},
        }


def test_settings_accept_the_environment(any_config):
    env = any_config.environment_of(any_config.stack.rollup.function)
    assert {k for k in env if k.startswith(ENV_PREFIX)} <= {env_name(f) for f in Settings.__dataclass_fields__}
    settings = Settings.from_env({k: v if isinstance(v, str) else f"resolved-{k.lower()}" for k, v in env.items()})
    assert settings.rollups_table == "resolved-overspill_rollups_table"
    assert settings.rollup_failure_queue_url == "resolved-overspill_rollup_failure_queue_url"


def _mapping(synth: Synth) -> dict[str, Any]:
    _, mapping = synth.resource_of(synth.stack.rollup.event_source)
    return mapping


def test_the_usage_stream_feeds_the_function_in_batches_with_partial_failures(any_config):
    mapping = _mapping(any_config)
    props = mapping["Properties"]
    usage_id = _table_id(any_config, "usage_table")
    assert props == {
        "FunctionName": {"Ref": _function(any_config)[0]},
        "EventSourceArn": {"Fn::GetAtt": [usage_id, "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 2,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRetryAttempts": 5,
        "MaximumRecordAgeInSeconds": 12 * 3600,
        "ParallelizationFactor": any_config.config.rollup_parallelization_factor,
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]}, separators=(",", ":"))}]},
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [_queue_id(any_config), "Arn"]}}},
        "Tags": props["Tags"],
    }
    # Lambda checks the role's access to the stream when it creates the mapping: the policy must exist first.
    role_policy = next(lid for lid, r in any_config.resources("AWS::IAM::Policy").items()
                       if {"Ref": any_config.logical_id(any_config.stack.rollup.role)} in r["Properties"]["Roles"])
    assert role_policy in mapping["DependsOn"]


def test_parallelization_comes_from_context(dev, custom):
    assert _mapping(dev)["Properties"]["ParallelizationFactor"] == 1
    assert _mapping(custom)["Properties"]["ParallelizationFactor"] == 4  # -c rollupParallelizationFactor=4


def test_the_stream_the_mapping_reads_is_the_one_the_code_expects(dev):
    """NEW_IMAGE (the code reads ``dynamodb.NewImage``) on the table the usage events are written to."""
    _, table = dev.table_for(next(s for s in SPECS if s.settings_field == "usage_table"))
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert UsageEventModel.Meta.settings_field == "usage_table"
    # The stream record's age limit leaves time to read a given-up record again before the stream drops it.
    assert _mapping(dev)["Properties"]["MaximumRecordAgeInSeconds"] < 24 * 3600


@pytest.mark.parametrize(("event_name", "invokes"), [("INSERT", True), ("REMOVE", False), ("MODIFY", False)])
def test_only_new_usage_events_invoke_the_function(dev, event_name, invokes):
    """TTL expiry (REMOVE) must never subtract from the rollups, nor cost an invocation."""
    (criteria,) = _mapping(dev)["Properties"]["FilterCriteria"]["Filters"]
    pattern = json.loads(criteria["Pattern"])
    record = {"eventID": "1", "eventName": event_name, "eventSource": "aws:dynamodb",
              "dynamodb": {"Keys": {"request_id": {"S": "req_1"}}, "StreamViewType": "NEW_IMAGE"}}
    assert event_filter_matches(pattern, record) is invokes


def test_the_failure_queue_is_encrypted_kept_14_days_and_tls_only(any_stage):
    queue_id, queue = any_stage.resource_of(any_stage.stack.rollup.failure_queue)
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue["Properties"]  # SQS's key: nothing for the role or Lambda to be granted
    assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    policies = [p["Properties"] for p in any_stage.resources("AWS::SQS::QueuePolicy").values()
                if {"Ref": queue_id} in p["Properties"]["Queues"]]
    (policy,) = policies
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_one_queue_gets_both_kinds_of_failure(dev):
    """The code's poison records and Lambda's given-up batches go to the same queue (see the component)."""
    queue_id = _queue_id(dev)
    assert _mapping(dev)["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]}
    assert dev.environment_of(dev.stack.rollup.function)["OVERSPILL_ROLLUP_FAILURE_QUEUE_URL"] == {"Ref": queue_id}
    assert dev.json["Outputs"]["RollupFailureQueueUrl"]["Value"] == {"Ref": queue_id}


def test_logs_go_to_its_own_group_with_retention(dev, prod):
    for synth, days in ((dev, 30), (prod, 365)):
        group_id, group = synth.resource_of(synth.stack.rollup.log_group)
        assert group["Properties"]["RetentionInDays"] == days
        assert _function(synth)[1]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}
