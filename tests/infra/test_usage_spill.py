"""The usage spill queue, its dead-letter queue, the usage replay function and what each role may do with them, as
synthesised — and proof, on moto, that the replay's role is enough and all used (infra/components/usage_spill.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.assets import USAGE_REPLAY_CODE_DIR
from overspill.observability import NAMESPACE
from overspill.usage.spill import MAX_RECEIVES
from tests.infra.conftest import SPECS, Synth
from tests.infra.iam_policy import REGION, allows, raw_role_statements, resource_matches, role_statements

FOURTEEN_DAYS = 14 * 24 * 3600
CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


@dataclasses.dataclass(frozen=True)
class Ids:
    queue: str
    dead_letters: str
    function: str
    logs: str
    usage: str
    rollup_queue: str
    export_queue: str


def _ids(synth: Synth) -> Ids:
    spill = synth.stack.usage_spill
    return Ids(queue=synth.logical_id(spill.queue), dead_letters=synth.logical_id(spill.dead_letters),
               function=synth.logical_id(spill.function), logs=synth.logical_id(spill.log_group),
               usage=synth.table_for(next(s for s in SPECS if s.settings_field == "usage_table"))[0],
               rollup_queue=synth.logical_id(synth.stack.rollup.failure_queue),
               export_queue=synth.logical_id(synth.stack.exports.failure_queue))


def _arn(logical_id: str) -> str:
    return f"<{logical_id}.Arn>"


# --- the queues ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("queue", ["queue", "dead_letters"])
def test_both_queues_are_encrypted_kept_14_days_and_tls_only(any_stage, queue):
    queue_id = getattr(_ids(any_stage), queue)
    props = any_stage.json["Resources"][queue_id]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in props  # SQS's key: nothing for the roles to be granted
    assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS
    (policy,) = [p["Properties"] for p in any_stage.resources("AWS::SQS::QueuePolicy").values()
                 if {"Ref": queue_id} in p["Properties"]["Queues"]]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_a_message_goes_to_the_dead_letter_queue_after_the_codes_number_of_deliveries(any_stage):
    ids = _ids(any_stage)
    props = any_stage.json["Resources"][ids.queue]["Properties"]
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [ids.dead_letters, "Arn"]},
                                      "maxReceiveCount": MAX_RECEIVES}
    # At least six times the function's timeout (AWS's guidance for an SQS event source).
    timeout = any_stage.json["Resources"][ids.function]["Properties"]["Timeout"]
    assert props["VisibilityTimeout"] >= 6 * timeout
    assert "RedrivePolicy" not in any_stage.json["Resources"][ids.dead_letters]["Properties"]


def test_prod_keeps_the_queues(prod, dev):
    for synth, policy in ((prod, "Retain"), (dev, "Delete")):
        ids = _ids(synth)
        for queue_id in (ids.queue, ids.dead_letters):
            assert synth.json["Resources"][queue_id]["DeletionPolicy"] == policy


def test_outputs_name_both_queues(any_stage):
    ids = _ids(any_stage)
    outputs = any_stage.json["Outputs"]
    assert outputs["UsageSpillQueueUrl"]["Value"] == {"Ref": ids.queue}
    assert outputs["UsageSpillDeadLetterQueueUrl"]["Value"] == {"Ref": ids.dead_letters}


# --- the replay function and its event source ---------------------------------------------------------------

def test_the_replay_function_is_a_doorway_on_the_core_layer(dev):
    ids = _ids(dev)
    props = dev.json["Resources"][ids.function]["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == ("python3.12", ["arm64"], "handler.handler")
    assert (props["Timeout"], props["MemorySize"]) == (30, 256)
    assert props["Layers"] == [{"Ref": dev.logical_id(dev.stack.proxy.core_layer)}]
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": ids.logs}
    code = dev.asset_dir(ids.function)
    assert sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file()) == ["handler.py"]
    assert (code / "handler.py").read_bytes() == (USAGE_REPLAY_CODE_DIR / "handler.py").read_bytes()


def test_the_replay_is_told_the_usage_table_and_nothing_else(dev, prod):
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        assert synth.environment_of(synth.stack.usage_spill.function) == {
            "POWERTOOLS_SERVICE_NAME": "overspill", "POWERTOOLS_LOG_LEVEL": "INFO",
            "OVERSPILL_STAGE": stage, "OVERSPILL_REGION": {"Ref": "AWS::Region"},
            "OVERSPILL_USAGE_TABLE": {"Ref": _ids(synth).usage},
        }


def test_the_spill_queue_feeds_the_replay_in_batches_with_partial_failures(any_config):
    ids = _ids(any_config)
    _, mapping = any_config.resource_of(any_config.stack.usage_spill.event_source)
    props = mapping["Properties"]
    assert props == {
        "FunctionName": {"Ref": ids.function},
        "EventSourceArn": {"Fn::GetAtt": [ids.queue, "Arn"]},
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 1,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Tags": props["Tags"],
    }
    # Lambda checks the role's access to the queue when it creates the mapping: the policy must exist first.
    role_id = any_config.logical_id(any_config.stack.usage_spill.role)
    role_policy = next(lid for lid, r in any_config.resources("AWS::IAM::Policy").items()
                       if {"Ref": role_id} in r["Properties"]["Roles"])
    assert role_policy in mapping["DependsOn"]


# --- IAM: who may do what with the queue ----------------------------------------------------------------------

def _grants(synth: Synth, function_id: str | None) -> set[tuple[str, str]]:
    return {(action, resource) for s in role_statements(synth, function_id) if not s.conditions
            for action in s.actions for resource in s.resources}


def replay_platform_grants(ids: Ids) -> set[tuple[str, str]]:
    """What Lambda itself does with the replay's role: its logs, and the event source mapping's consuming."""
    logs = {("logs:CreateLogStream", _arn(ids.logs)), ("logs:PutLogEvents", _arn(ids.logs))}
    return logs | {(action, _arn(ids.queue)) for action in CONSUME}


def test_the_replay_role_is_exactly_consume_the_queue_and_put_usage_items(any_config):
    ids = _ids(any_config)
    assert all(not s.conditions for s in role_statements(any_config, ids.function))
    assert _grants(any_config, ids.function) == replay_platform_grants(ids) | {("dynamodb:PutItem", _arn(ids.usage))}
    for statement in raw_role_statements(any_config, ids.function):
        assert not {"NotAction", "NotResource"} & set(statement)
        assert "*" not in str(statement["Action"])


def test_what_the_replay_may_not_do(dev):
    ids = _ids(dev)
    statements = role_statements(dev, ids.function)
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
                   "dynamodb:Scan", "dynamodb:BatchWriteItem"):
        assert not allows(statements, action, _arn(ids.usage)), action
    for queue in (ids.queue, ids.dead_letters, ids.rollup_queue):
        for action in ("sqs:SendMessage", "sqs:PurgeQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"):
            assert not allows(statements, action, _arn(queue)), (action, queue)
    for action in CONSUME:
        assert not allows(statements, action, _arn(ids.dead_letters)), action  # redriving is an operator's call
    other_tables = [dev.table_for(s)[0] for s in SPECS if s.settings_field != "usage_table"]
    assert not any(allows(statements, "dynamodb:PutItem", _arn(t)) for t in other_tables)


def test_the_proxy_may_only_send_to_the_spill_queue(any_config):
    ids = _ids(any_config)
    statements = role_statements(any_config)  # the proxy's role
    sqs_statements = [s for s in statements if any(a.startswith("sqs:") for a in s.actions)]
    assert [(s.sid, s.actions, s.resources, s.conditions) for s in sqs_statements] == [
        ("SpillUsageEvents", frozenset({"sqs:SendMessage"}), (_arn(ids.queue),), {})]
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue", "sqs:GetQueueAttributes",
                   "sqs:ChangeMessageVisibility"):
        assert not allows(statements, action, _arn(ids.queue)), action
    for queue in (ids.dead_letters, ids.rollup_queue, ids.export_queue):
        assert not allows(statements, "sqs:SendMessage", _arn(queue)), queue
    # … and is told the queue's URL (a queue's Ref), which is what SendMessage takes.
    assert any_config.environment["OVERSPILL_USAGE_SPILL_QUEUE_URL"] == {"Ref": ids.queue}


# --- alarms ------------------------------------------------------------------------------------------------------

def _alarm(synth: Synth, name: str) -> dict[str, Any]:
    return synth.resource_of(synth.stack.monitoring.alarms[name])[1]["Properties"]


def test_alarms_watch_the_backlog_the_dead_letters_the_function_and_events_only_logged(any_stage):
    ids = _ids(any_stage)
    topic = {"Ref": any_stage.logical_id(any_stage.stack.monitoring.topic)}
    backlog = _alarm(any_stage, "UsageSpillBacklog")
    assert (backlog["Namespace"], backlog["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert backlog["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [ids.queue, "QueueName"]}}]
    assert (backlog["Statistic"], backlog["Threshold"]) == ("Maximum", 15 * 60)
    dead = _alarm(any_stage, "UsageSpillDeadLetters")
    assert (dead["MetricName"], dead["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [ids.dead_letters, "QueueName"]}}]
    errors = _alarm(any_stage, "UsageReplayErrors")
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/Lambda", "Errors", 0)
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": ids.function}}]
    # The metric the proxy emits when neither DynamoDB nor SQS took an event (overspill.usage.spill).
    unstored = _alarm(any_stage, "UsageUnstored")
    assert (unstored["Namespace"], unstored["MetricName"]) == (NAMESPACE, "UsageUnstored")
    assert unstored["Dimensions"] == [{"Name": "service", "Value": "overspill"}]
    assert (unstored["Statistic"], unstored["Threshold"]) == ("Sum", 0)
    for props in (backlog, dead, errors, unstored):
        assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic]


# --- behaviour: the staged replay on moto, every AWS call recorded ------------------------------------------------

TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
IAM_ACTION = {"DeleteMessageBatch": "DeleteMessage"}  # SQS authorises a batch call as its single action


@dataclasses.dataclass
class Replayed:
    calls: list[tuple[str, str, str, dict[str, Any]]]   # (who, service, operation, params): function | mapping
    names: dict[str, str]                                # physical name or URL -> logical id
    stored: list[str]
    left: int

    def requests(self, who: str) -> set[tuple[str, str]]:
        found = set()
        for caller, service, operation, params in self.calls:
            if caller != who:
                continue
            target = params["TableName"] if service == "dynamodb" else params["QueueUrl"]
            found.add((f"{service}:{IAM_ACTION.get(operation, operation)}", _arn(self.names[target])))
        return found


@pytest.fixture(scope="module")
def replayed(dev: Synth) -> Iterator[Replayed]:
    """Two spilled usage events, one of them spilled twice (SQS delivers at least once), replayed by the staged
    function through the local event source mapping, with the environment the template gives the function."""
    import importlib.util

    import botocore.client
    from moto import mock_aws

    from overspill.aws import client
    from overspill.config import Settings
    from overspill.local.queue_poller import QueuePoller
    from overspill.store.models import bind_models
    from overspill.store.schema import create_table_request
    from overspill.store.usage import UsageRepository
    from overspill.usage.events import TokenUsage, UsageEvent
    from overspill.usage.spill import spill_message

    ids = _ids(dev)
    calls: list[tuple[str, str, str, dict[str, Any]]] = []
    who: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if who:
            calls.append((who[-1], self.meta.service_model.service_name, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        for name, value in TEST_AWS_ENV.items():
            monkeypatch.setenv(name, value)
        settings = Settings(region=REGION, usage_table=ids.usage)
        spec = next(s for s in SPECS if s.settings_field == "usage_table")
        client("dynamodb", settings).create_table(**create_table_request(spec, ids.usage))
        sqs = client("sqs", settings)
        queue_url = sqs.create_queue(QueueName=ids.queue)["QueueUrl"]
        bind_models(settings)
        repository = UsageRepository(retention=timedelta(days=400))
        now = datetime.now(UTC)
        for number in (1, 2, 2):
            event = UsageEvent(request_id=f"req_spilled_{number}", occurred_at=now, user_id="usr_ada",
                               key_prefix="ak_abcdefg", route="plan", endpoint="messages", status=200, streamed=True,
                               duration_ms=900.0, model="claude-sonnet-4-5", tokens=TokenUsage(100, 20))
            sqs.send_message(QueueUrl=queue_url, MessageBody=spill_message(repository.item_image(event)))

        for name in [n for n in os.environ if n.startswith(("OVERSPILL_", "POWERTOOLS_"))]:
            monkeypatch.delenv(name)
        for name, value in dev.environment_of(ids.function).items():
            monkeypatch.setenv(name, REGION if value == {"Ref": "AWS::Region"} else
                               ids.usage if value == {"Ref": ids.usage} else value)
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        path = dev.asset_dir(ids.function) / "handler.py"
        module_spec = importlib.util.spec_from_file_location("infra_test_usage_replay_handler", path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)

        def as_the_function(event: dict[str, Any], context: Any) -> dict[str, Any]:
            who.append("function")
            try:
                return module.handler(event, context)
            finally:
                who.pop()

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        who.append("mapping")  # what Lambda's event source mapping does with the role
        poller = QueuePoller(settings, as_the_function, queue_url, function_name="overspill-usage-replay")
        while poller.poll():
            pass
        who.clear()
        stored = sorted(item.request_id for item in repository.for_user("usr_ada"))
        left = int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
        yield Replayed(calls, {ids.usage: ids.usage, queue_url: ids.queue}, stored, left)


def test_the_replay_stored_each_spilled_event_once(replayed):
    assert replayed.stored == ["req_spilled_1", "req_spilled_2"]
    assert replayed.left == 0  # the duplicate was taken off the queue too
    puts = [params for who, _, operation, params in replayed.calls if operation == "PutItem"]
    assert len(puts) == 3 and all(params["ConditionExpression"] for params in puts)


def test_every_call_of_the_replay_and_its_mapping_is_granted(dev, replayed):
    ids = _ids(dev)
    statements = role_statements(dev, ids.function)
    assert replayed.requests("function") and replayed.requests("mapping")
    for who in ("function", "mapping"):
        for action, resource in replayed.requests(who):
            assert allows(statements, action, resource), f"{who}: {action} on {resource} is not granted"
    assert {service for caller, service, _, _ in replayed.calls if caller == "function"} == {"dynamodb"}


def test_every_grant_of_the_replay_role_is_used(dev, replayed):
    ids = _ids(dev)
    used = replayed.requests("function") | replayed.requests("mapping")
    logs = {("logs:CreateLogStream", _arn(ids.logs)), ("logs:PutLogEvents", _arn(ids.logs))}
    unused = [(action, pattern) for action, pattern in sorted(_grants(dev, ids.function) - logs)
              if not any(a == action and resource_matches(pattern, r) for a, r in used)]
    assert unused == []
