"""The rollup and export functions' roles: exactly what their code does, plus what Lambda does with the role on the
function's behalf — and proof that it is enough and all used.

The static tests read the synthesised policies and evaluate them (tests/infra/iam_policy.py). The behavioural
test runs the real handlers, loaded from their staged code assets, on moto, with the environment the template
gives each function (every reference resolved to a resource created under its logical id), and records every
AWS call: each must be granted, and each grant of the code's own business must be used.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import SPECS, Synth, event_filter_matches
from tests.infra.iam_policy import (
    INLINE_POLICY_LIMIT,
    REGION,
    allows,
    raw_role_statements,
    rendered_policy_size,
    resource_matches,
    role_statements,
)

# TransactWriteItems is authorised per action it holds (DynamoDB developer guide, "Using IAM with transactions").
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}
TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def _ids(synth: Synth) -> dict[str, str]:
    """Logical ids of what the two roles are about."""
    stack = synth.stack
    tables = {spec.settings_field: synth.table_for(spec)[0] for spec in SPECS}
    return {
        "rollup": synth.logical_id(stack.rollup.function),
        "rollup_logs": synth.logical_id(stack.rollup.log_group),
        "rollup_queue": synth.logical_id(stack.rollup.failure_queue),
        "export": synth.logical_id(stack.exports.function),
        "export_logs": synth.logical_id(stack.exports.log_group),
        "export_queue": synth.logical_id(stack.exports.failure_queue),
        "bucket": synth.logical_id(stack.exports.bucket),
        "usage": tables["usage_table"],
        "rollups": tables["rollups_table"],
    }


def _grants(synth: Synth, function_id: str) -> set[tuple[str, str]]:
    statements = role_statements(synth, function_id)
    assert all(not s.conditions for s in statements), "no condition is written on these roles"
    return {(action, resource) for s in statements for action in s.actions for resource in s.resources}


def _logs(group_id: str) -> set[tuple[str, str]]:
    return {("logs:CreateLogStream", f"<{group_id}.Arn>"), ("logs:PutLogEvents", f"<{group_id}.Arn>")}


def rollup_platform_grants(ids: dict[str, str]) -> set[tuple[str, str]]:
    """What Lambda itself does with the rollup's role: its logs, and the event source mapping — reading the
    stream (Lambda's documented permissions; ListStreams has no resource type in IAM) and sending the batches it
    gave up on to the on-failure destination."""
    stream = f"<{ids['usage']}.StreamArn>"
    return _logs(ids["rollup_logs"]) | {
        ("dynamodb:DescribeStream", stream), ("dynamodb:GetRecords", stream), ("dynamodb:GetShardIterator", stream),
        ("dynamodb:ListStreams", "*"),
        ("sqs:SendMessage", f"<{ids['rollup_queue']}.Arn>"),
    }


def export_platform_grants(ids: dict[str, str]) -> set[tuple[str, str]]:
    """What Lambda itself does with the export's role: its logs, and the dead-letter queue of failed runs."""
    return _logs(ids["export_logs"]) | {("sqs:SendMessage", f"<{ids['export_queue']}.Arn>")}


def test_rollup_role_is_exactly_what_the_rollup_and_its_stream_need(any_config):
    ids = _ids(any_config)
    assert _grants(any_config, ids["rollup"]) == rollup_platform_grants(ids) | {
        # One TransactWriteItems per event: a conditional Put of its marker and an Update (ADD) per row.
        ("dynamodb:PutItem", f"<{ids['rollups']}.Arn>"),
        ("dynamodb:UpdateItem", f"<{ids['rollups']}.Arn>"),
        # Poison records (the same queue as the mapping's destination).
        ("sqs:SendMessage", f"<{ids['rollup_queue']}.Arn>"),
    }


def test_export_role_is_exactly_what_the_export_needs(any_config):
    ids = _ids(any_config)
    bucket = f"<{ids['bucket']}.Arn>"
    assert _grants(any_config, ids["export"]) == export_platform_grants(ids) | {
        ("dynamodb:Query", f"<{ids['usage']}.Arn>/index/by_day"),
        ("s3:PutObject", f"{bucket}/usage/*"),
        ("s3:PutObject", f"{bucket}/manifests/*"),
    }


@pytest.mark.parametrize("function", ["rollup", "export"])
def test_roles_are_for_lambda_only_with_no_managed_policies(any_stage, function):
    function_id = _ids(any_stage)[function]
    role_id = any_stage.json["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = any_stage.json["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    assert not role.get("ManagedPolicyArns") and not role.get("Policies")
    # Each function has a role of its own: nothing the proxy may do leaks to them, nor theirs to each other.
    roles = {any_stage.json["Resources"][_ids(any_stage)[f]]["Properties"]["Role"]["Fn::GetAtt"][0]
             for f in ("rollup", "export")} | {any_stage.function[1]["Properties"]["Role"]["Fn::GetAtt"][0]}
    assert len(roles) == 3


@pytest.mark.parametrize("function", ["rollup", "export"])
def test_no_wildcards_but_the_documented_ones(any_config, function):
    ids = _ids(any_config)
    raw = raw_role_statements(any_config, ids[function])
    assert raw
    for statement in raw:
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    allowed_wildcards = {
        "rollup": {"*"},  # ListStreams only (see rollup_platform_grants)
        "export": {f"<{ids['bucket']}.Arn>/usage/*", f"<{ids['bucket']}.Arn>/manifests/*"},  # the files it writes
    }[function]
    for action, resource in _grants(any_config, ids[function]):
        assert "*" not in action and "?" not in action, action
        assert "?" not in resource
        if "*" in resource:
            assert resource in allowed_wildcards, resource
            if resource == "*":
                assert action == "dynamodb:ListStreams"


def test_what_the_rollup_may_not_do(dev):
    ids = _ids(dev)
    statements = role_statements(dev, ids["rollup"])
    rollups, usage = f"<{ids['rollups']}.Arn>", f"<{ids['usage']}.Arn>"
    for action in ("dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query",
                   "dynamodb:Scan", "dynamodb:BatchWriteItem"):
        assert not allows(statements, action, rollups), action
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:DeleteItem"):
        assert not allows(statements, action, usage), action  # it reads the usage table's stream, not the table
    assert not allows(statements, "dynamodb:GetRecords", f"<{ids['rollups']}.StreamArn>")
    queue = f"<{ids['rollup_queue']}.Arn>"
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue", "sqs:GetQueueAttributes"):
        assert not allows(statements, action, queue), action
    assert not allows(statements, "sqs:SendMessage", f"<{ids['export_queue']}.Arn>")


def test_what_the_export_may_not_do(dev):
    ids = _ids(dev)
    statements = role_statements(dev, ids["export"])
    usage, bucket = f"<{ids['usage']}.Arn>", f"<{ids['bucket']}.Arn>"
    assert allows(statements, "dynamodb:Query", f"{usage}/index/by_day")
    assert not allows(statements, "dynamodb:Query", usage)  # the table itself: no
    assert not allows(statements, "dynamodb:Query", f"{usage}/index/by_user")
    for action in ("dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"):
        assert not allows(statements, action, usage) and not allows(statements, action, f"{usage}/index/by_day")
    assert allows(statements, "s3:PutObject", f"{bucket}/usage/daily/dt=2026-03-14/usage-2026-03-14.csv")
    assert allows(statements, "s3:PutObject", f"{bucket}/manifests/monthly/month=2026-02.json")
    for key in ("athena-results/x.csv", "usage", "other/usage/x.csv", "x"):
        assert not allows(statements, "s3:PutObject", f"{bucket}/{key}"), key
    for action in ("s3:GetObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:DeleteObjectVersion"):
        assert not allows(statements, action, f"{bucket}/usage/daily/dt=2026-03-14/usage-2026-03-14.csv"), action
    assert not allows(statements, "s3:ListBucket", bucket)


@pytest.mark.parametrize("function", ["rollup", "export"])
def test_policies_fit_iam_size_limits(any_config, function):
    assert rendered_policy_size(any_config, _ids(any_config)[function]) < INLINE_POLICY_LIMIT


# --- Behaviour: the real handlers on moto, every AWS call recorded.

@dataclasses.dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]


@dataclasses.dataclass
class Ran:
    calls: list[Call]
    logical_ids: dict[str, str]        # physical name (or queue URL) -> logical id
    rollup_responses: list[dict[str, Any]]
    poison_messages: list[dict[str, Any]]
    markers: set[str]
    export_results: list[dict[str, Any]]
    keys: set[str]
    previous_month: str
    yesterday: str

    def of(self, function: str) -> list[Call]:
        return [c for c in self.calls if c.function == function]


def _load_handler(path: Path, name: str) -> Any:
    """The handler of a staged code asset, imported as Lambda imports it."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _resolve(env: dict[str, Any], physical: dict[str, str]) -> dict[str, str]:
    """The environment a deployed function gets: references replaced by what they resolve to."""
    resolved = {}
    for name, value in env.items():
        if isinstance(value, str):
            resolved[name] = value
        elif value == {"Ref": "AWS::Region"}:
            resolved[name] = REGION
        else:
            assert set(value) == {"Ref"} and value["Ref"] in physical, f"{name}={value} refers to nothing created"
            resolved[name] = physical[value["Ref"]]
    return resolved


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as the event source mapping hands it to the function."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    return {"eventID": record["eventID"], "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"), "eventSource": "aws:dynamodb", "awsRegion": REGION,
            "dynamodb": stream, "eventSourceARN": stream_arn}


def _stream_records(dynamodb: Any, streams: Any, table: str) -> list[dict[str, Any]]:
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=100)
            if not page["Records"]:
                break
            records += [_lambda_record(r, arn) for r in page["Records"]]
            iterator = page.get("NextShardIterator")
    return records


def _usage_event(number: int, at: datetime, **overrides: Any):
    from overspill.usage.events import TokenUsage, UsageEvent

    values: dict[str, Any] = dict(
        request_id=f"req_{number:04d}", occurred_at=at, user_id="usr_ada", key_prefix="ak_abcdefg", route="plan",
        endpoint="messages", status=200, streamed=True, duration_ms=900.0, model="claude-sonnet-4-5",
        tokens=TokenUsage(1000, 200, 300, 4000, 100, 200), user_name="Ada", team="platform", cost_center="CC-1",
        cost_usd=Decimal("0.0123456789"), price_snapshot={"input_per_mtok": "3"})
    values.update(overrides)
    return UsageEvent(**values)


@pytest.fixture(scope="module")
def ran(dev: Synth) -> Iterator[Ran]:
    """Everything the two functions do on an ordinary day:

    - rollup: a batch of three new usage events (applied), one of them delivered again (a no-op by its marker),
      and a poison record (an item missing a required attribute: sent to the failure queue);
    - export: an on-demand run for yesterday, then the two schedules' own inputs as the template gives them
      (yesterday, and last month with its days).
    """
    import botocore.client
    from moto import mock_aws

    from overspill.aws import client
    from overspill.config import Settings
    from overspill.exports import invocation
    from overspill.local.function_url import LocalContext
    from overspill.store.models import bind_models
    from overspill.store.schema import create_table_request
    from overspill.store.usage import UsageRepository

    ids = _ids(dev)
    calls: list[Call] = []
    current: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if current:
            calls.append(Call(current[0], self.meta.service_model.service_name, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        for name, value in TEST_AWS_ENV.items():
            monkeypatch.setenv(name, value)
        setup = Settings(region=REGION)
        dynamodb, s3, sqs = (client(service, setup) for service in ("dynamodb", "s3", "sqs"))
        # Every resource the functions' environments refer to, named after its logical id.
        physical: dict[str, str] = {}
        for spec in SPECS:
            logical_id = dev.table_for(spec)[0]
            dynamodb.create_table(**create_table_request(spec, logical_id))
            physical[logical_id] = logical_id
        physical[ids["bucket"]] = ids["bucket"].lower()
        s3.create_bucket(Bucket=physical[ids["bucket"]])
        s3.put_bucket_versioning(Bucket=physical[ids["bucket"]], VersioningConfiguration={"Status": "Enabled"})
        for queue in ("rollup_queue", "export_queue"):
            physical[ids[queue]] = sqs.create_queue(QueueName=ids[queue])["QueueUrl"]

        # Usage events as the proxy writes them: yesterday (two users, both routes) and in the previous month.
        now = datetime.now(UTC)
        yesterday = datetime.combine(now.date() - timedelta(days=1), time(10), UTC)
        previous_month_day = now.date().replace(day=1) - timedelta(days=15)
        events = [
            _usage_event(1, yesterday),
            _usage_event(2, yesterday + timedelta(hours=1), user_id="usr_bob", user_name="Bob, Jr.", team=None,
                         route="bedrock", fallback_reason="plan_limit", model="claude-unknown-9",
                         cost_usd=None, cost_known=False),
            _usage_event(3, datetime.combine(previous_month_day, time(9), UTC)),
        ]
        bind_models(Settings(region=REGION, usage_table=dev.table_for(
            next(s for s in SPECS if s.settings_field == "usage_table"))[0]))
        usage = UsageRepository(retention=timedelta(days=dev.config.usage_retention_days))
        for event in events:
            assert usage.record(event)
        records = _stream_records(dynamodb, client("dynamodbstreams", setup), physical[ids["usage"]])
        # Lambda applies the mapping's filter before the function sees anything.
        mapping = dev.resource_of(dev.stack.rollup.event_source)[1]["Properties"]
        (criteria,) = mapping["FilterCriteria"]["Filters"]
        inserts = [r for r in records if event_filter_matches(json.loads(criteria["Pattern"]), r)]
        assert len(inserts) == 3
        poison = json.loads(json.dumps(inserts[0]))
        poison["eventID"] = "poison-1"
        poison["dynamodb"]["SequenceNumber"] = "9" * 21
        poison["dynamodb"]["NewImage"]["request_id"] = {"S": "req_poison"}
        del poison["dynamodb"]["NewImage"]["user_id"]

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)

        def run(function: str, handler_name: str, events_in: list[Any]) -> list[Any]:
            function_id = ids[function]
            for name in [n for n in os.environ if n.startswith(("OVERSPILL_", "POWERTOOLS_"))]:
                monkeypatch.delenv(name)
            for name, value in _resolve(dev.environment_of(function_id), physical).items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
            handler = _load_handler(dev.asset_dir(function_id) / "handler.py", handler_name)
            results = []
            current.append(function)
            try:
                for event in events_in:
                    results.append(handler(event, LocalContext(f"overspill-{function}")))
            finally:
                current.clear()
            return results

        rollup_responses = run("rollup", "infra_test_rollup_handler",
                               [{"Records": inserts}, {"Records": inserts[:1]}, {"Records": [poison]}])
        monkeypatch.setattr(invocation, "_exporter", None)  # a fresh instance, as on a cold start
        day = yesterday.date().isoformat()
        scheduled = [json.loads(s["Properties"]["Target"]["Input"])
                     for s in dev.resources("AWS::Scheduler::Schedule").values()]
        export_results = run("export", "infra_test_export_handler", [{"from": day, "to": day}, *scheduled])
        monkeypatch.setattr(invocation, "_exporter", None)

        messages = sqs.receive_message(QueueUrl=physical[ids["rollup_queue"]], MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        rows = dynamodb.scan(TableName=physical[ids["rollups"]])["Items"]
        listed = s3.list_objects_v2(Bucket=physical[ids["bucket"]]).get("Contents", [])
        yield Ran(
            calls=calls,
            logical_ids={value: key for key, value in physical.items()},
            rollup_responses=rollup_responses,
            poison_messages=[json.loads(m["Body"]) for m in messages],
            markers={r["pk"]["S"].removeprefix("applied#") for r in rows if r["pk"]["S"].startswith("applied#")},
            export_results=export_results,
            keys={o["Key"] for o in listed},
            previous_month=previous_month_day.strftime("%Y-%m"),
            yesterday=day,
        )


def _requests(call: Call, ran: Ran) -> list[tuple[str, str]]:
    """(action, resource) IAM evaluates for one recorded call (resources rendered as in the template)."""
    names = ran.logical_ids
    if call.service == "dynamodb":
        if call.operation == "TransactWriteItems":
            requests = []
            for item in call.params["TransactItems"]:
                ((kind, body),) = item.items()
                requests.append((f"dynamodb:{TRANSACT_ACTIONS[kind]}", f"<{names[body['TableName']]}.Arn>"))
            return requests
        resource = f"<{names[call.params['TableName']]}.Arn>"
        if "IndexName" in call.params:
            resource += f"/index/{call.params['IndexName']}"
        return [(f"dynamodb:{call.operation}", resource)]
    if call.service == "sqs":
        return [(f"sqs:{call.operation}", f"<{names[call.params['QueueUrl']]}.Arn>")]
    if call.service == "s3":
        return [(f"s3:{call.operation}", f"<{names[call.params['Bucket']]}.Arn>/{call.params['Key']}")]
    raise AssertionError(f"unexpected AWS call {call.service}:{call.operation}")


def test_the_handlers_did_what_the_scenario_says(ran):
    """Guard the guard: the calls below come from real work, of every kind the roles are for."""
    assert ran.rollup_responses == [{"batchItemFailures": []}] * 3
    assert ran.markers == {"req_0001", "req_0002", "req_0003"}
    assert [m["eventID"] for m in ran.poison_messages] == ["poison-1"]
    transactions = [c for c in ran.of("rollup") if c.operation == "TransactWriteItems"]
    assert len(transactions) == 4  # three events, and the duplicate that its marker's condition refused
    for transaction in transactions:
        kinds = [next(iter(item)) for item in transaction.params["TransactItems"]]
        assert kinds[0] == "Put" and set(kinds[1:]) == {"Update"}
        assert transaction.params["TransactItems"][0]["Put"]["ConditionExpression"]
    assert [c.operation for c in ran.of("rollup") if c.service == "sqs"] == ["SendMessage"]

    daily, monthly = f"dt={ran.yesterday}", f"month={ran.previous_month}"
    assert {f"usage/daily/{daily}/usage-{ran.yesterday}.csv", f"manifests/daily/{daily}.json",
            f"usage/monthly/{monthly}/usage-{ran.previous_month}.csv",
            f"manifests/monthly/{monthly}.json"} <= ran.keys
    assert all(key.startswith(("usage/", "manifests/")) for key in ran.keys)
    on_demand = ran.export_results[0]
    assert (on_demand["from"], on_demand["to"], on_demand["events_read"]) == (ran.yesterday, ran.yesterday, 2)
    queries = [c for c in ran.of("export") if c.operation == "Query"]
    assert queries and all(c.params["IndexName"] == "by_day" for c in queries)
    assert {c.operation for c in ran.of("export")} == {"Query", "PutObject"}


@pytest.mark.parametrize("function", ["rollup", "export"])
def test_every_aws_call_of_the_function_is_granted(dev, ran, function):
    statements = role_statements(dev, _ids(dev)[function])
    assert ran.of(function)
    for call in ran.of(function):
        for action, resource in _requests(call, ran):
            assert allows(statements, action, resource), f"{function}: {action} on {resource} is not granted"


@pytest.mark.parametrize("function", ["rollup", "export"])
def test_every_grant_of_the_codes_business_is_used(dev, ran, function):
    """Each (action, resource pattern) granted is used by some call — but those Lambda uses itself (logs, the
    stream mapping, dead-letter queues), which are listed, exactly, as the platform's grants."""
    ids = _ids(dev)
    platform = {"rollup": rollup_platform_grants, "export": export_platform_grants}[function](ids)
    grants = _grants(dev, ids[function])
    assert platform <= grants
    used = {request for call in ran.of(function) for request in _requests(call, ran)}
    unused = [(action, pattern) for action, pattern in sorted(grants - platform)
              if not any(a == action and resource_matches(pattern, r) for a, r in used)]
    assert unused == []
    # And the code's own use of a platform grant is still a grant it needs (the rollup's poison records).
    if function == "rollup":
        assert ("sqs:SendMessage", f"<{ids['rollup_queue']}.Arn>") in used


def test_each_function_touches_only_what_its_environment_names(dev, ran):
    for function in ("rollup", "export"):
        named = {value["Ref"] for value in dev.environment_of(_ids(dev)[function]).values()
                 if isinstance(value, dict) and value.get("Ref", "").startswith(("Data", "Rollup", "Exports"))}
        touched = {resource.split(">")[0].removeprefix("<").removesuffix(".Arn")
                   for call in ran.of(function) for _, resource in _requests(call, ran)}
        assert touched <= named, (function, touched - named)

