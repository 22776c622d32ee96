"""The rollup function (functions/rollup/handler.py) with Lambda-shaped DynamoDB Streams events read from moto's
stream of the usage table: sums exactly once, partial failures reported, poison records set aside."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from moto import mock_aws
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from overspill.aws import client
from overspill.config import Settings
from overspill.local.dev import load_function
from overspill.local.provision import provision
from overspill.local.stream_poller import StreamPoller
from overspill.store.models import UsageEventModel, UsageRollupModel, bind_models
from overspill.store.rollups import RollupRepository, counters_of, dimensions
from overspill.store.usage import UsageRepository
from overspill.usage.events import TokenUsage, UsageEvent
from overspill.usage.rollups import Counters, keys_for
from tests.support.emf import emf_records
from tests.support.fake_anthropic import Scenario
from tests.support.gateway import TEST_AWS_ENV, wait_for_usage

AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
DIMENSIONS = ("kind", "kind_period", "period", "user_id", "team", "model", "route", "reason")


# --- helpers shared with the other rollup tests -------------------------------------------------------------

def usage_event(number: int, **overrides: Any) -> UsageEvent:
    values: dict[str, Any] = dict(
        request_id=f"req-{number:05d}", occurred_at=AT + timedelta(minutes=number), user_id="usr_ada",
        key_prefix="ak_abcdefg", route="plan", endpoint="messages", status=200, streamed=True, duration_ms=850.0,
        model="claude-opus-4-8", team="platform", cost_usd=Decimal("0.0123456789"),
        tokens=TokenUsage(input_tokens=12, output_tokens=340, cache_creation_input_tokens=2000,
                          cache_read_input_tokens=30_000, cache_creation_1h_input_tokens=500))
    values.update(overrides)
    return UsageEvent(**values)


def expected_rows(events: list[UsageEvent]) -> dict[tuple[str, str], dict[str, Any]]:
    """The exact sums: every row each event counts in, with the event's counters added once."""
    sums: dict[tuple[str, str], tuple[dict[str, str], Counters]] = {}
    for event in events:
        for key in keys_for(event):
            _, total = sums.setdefault((key.pk, key.sk), (dimensions(key), Counters()))
            total.add(Counters.of_event(event))
    return {row: {**names, **total.as_dict()} for row, (names, total) in sums.items()}


def stored_rows() -> dict[tuple[str, str], dict[str, Any]]:
    """Every rollup row in the table (markers left out), as dimensions + counters."""
    rows = {}
    for row in UsageRollupModel.scan():
        if row.pk.startswith("applied#"):
            continue
        names = {name: getattr(row, name) for name in DIMENSIONS if getattr(row, name) is not None}
        rows[(row.pk, row.sk)] = {**names, **counters_of(row).as_dict()}
    return rows


def markers() -> set[str]:
    return {row.pk.removeprefix("applied#") for row in UsageRollupModel.scan() if row.pk.startswith("applied#")}


def stream_records(settings: Settings, write: Callable[[], None]) -> list[dict[str, Any]]:
    """The Lambda-shaped records of what ``write`` does to the usage table, read from its stream."""
    captured: list[dict[str, Any]] = []

    def capture(event: dict[str, Any], context: Any) -> dict[str, Any]:
        captured.extend(event["Records"])
        return {"batchItemFailures": []}

    poller = StreamPoller(settings, capture)
    poller.open()
    write()
    poller.poll()
    return captured


def record_usage(events: list[UsageEvent]) -> Callable[[], None]:
    def write() -> None:
        usage = UsageRepository(retention=timedelta(days=400))
        for event in events:
            assert usage.record(event)
    return write


def sequence_number(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


@pytest.fixture
def aws(monkeypatch) -> Iterator[Settings]:
    """moto with everything the CDK app creates, and the environment a deployed rollup function would have."""
    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        _, settings = provision(Settings())
        bind_models(settings)
        for name, value in settings.as_env().items():
            monkeypatch.setenv(name, value)
        yield settings


@pytest.fixture
def rollup() -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """The real handler, loaded as Lambda loads it, invoked with a DynamoDB Streams event."""
    from overspill.local.function_url import LocalContext

    handler = load_function("rollup")
    return lambda records: handler({"Records": records}, LocalContext("overspill-rollup"))


def failure_queue_messages(settings: Settings) -> list[dict[str, Any]]:
    sqs = client("sqs", settings)
    messages = sqs.receive_message(QueueUrl=settings.rollup_failure_queue_url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


# --- tests ------------------------------------------------------------------------------------------------------

def test_new_usage_events_add_up_in_every_rollup_row(aws, rollup):
    events = [usage_event(1), usage_event(2, model="claude-haiku-4-5", status=529, cost_usd=None, cost_known=False),
              usage_event(3, route="bedrock", fallback_reason="plan_limit", user_id="usr_bob", team=None)]
    records = stream_records(aws, record_usage(events))
    assert [r["eventName"] for r in records] == ["INSERT"] * 3
    assert all(r["eventSource"] == "aws:dynamodb" and r["eventSourceARN"].startswith("arn:aws:dynamodb:")
               and r["dynamodb"]["StreamViewType"] == "NEW_IMAGE" for r in records)

    assert rollup(records) == {"batchItemFailures": []}
    assert stored_rows() == expected_rows(events)
    assert markers() == {e.request_id for e in events}


def test_a_failing_record_is_reported_by_its_sequence_number_and_counted_once_after_the_retry(
        aws, rollup, monkeypatch):
    events = [usage_event(n) for n in range(1, 5)]
    records = stream_records(aws, record_usage(events))
    real_apply = RollupRepository.apply
    throttled = {"req-00002"}

    def throttled_once(self, event):
        if event.request_id in throttled:
            throttled.discard(event.request_id)
            raise RuntimeError("ProvisionedThroughputExceededException (simulated)")
        return real_apply(self, event)

    monkeypatch.setattr(RollupRepository, "apply", throttled_once)
    response = rollup(records)
    # The failed record and everything after it: Lambda delivers the batch again from the lowest one.
    assert response["batchItemFailures"][0] == {"itemIdentifier": sequence_number(records[1])}
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {sequence_number(r) for r in records[1:]}
    assert markers() == {"req-00001"}

    # Lambda's retry: the batch again from the failed record; then once more in full (a replayed shard).
    assert rollup(records[1:]) == {"batchItemFailures": []}
    assert rollup(records) == {"batchItemFailures": []}
    assert stored_rows() == expected_rows(events)


def test_a_malformed_record_goes_to_the_failure_queue_and_the_rest_of_the_batch_is_applied(aws, rollup):
    events = [usage_event(n) for n in range(1, 4)]
    records = stream_records(aws, record_usage(events))
    broken = json.loads(json.dumps(records[1]))
    del broken["dynamodb"]["NewImage"]["user_id"]
    unreadable = json.loads(json.dumps(records[2]))
    unreadable["dynamodb"]["NewImage"]["input_tokens"] = {"S": "lots"}

    assert rollup([records[0], broken, unreadable]) == {"batchItemFailures": []}
    assert stored_rows() == expected_rows(events[:1])

    queued = {message["sequenceNumber"]: message for message in failure_queue_messages(aws)}
    assert set(queued) == {sequence_number(broken), sequence_number(unreadable)}
    missing = queued[sequence_number(broken)]
    assert missing["eventID"] == broken["eventID"]
    assert missing["keys"] == {"request_id": {"S": "req-00002"}}
    assert "user_id" in missing["error"]
    assert missing["newImage"] == broken["dynamodb"]["NewImage"]
    assert "input_tokens" in queued[sequence_number(unreadable)]["error"]


def test_ttl_expiry_of_raw_events_never_subtracts_from_the_rollups(aws, rollup):
    events = [usage_event(1), usage_event(2)]
    rollup(stream_records(aws, record_usage(events)))
    before = stored_rows()

    def expire() -> None:  # what DynamoDB's TTL does after 400 days: a REMOVE record without a new image
        for event in events:
            UsageEventModel(event.request_id).delete()

    removals = stream_records(aws, expire)
    assert [r["eventName"] for r in removals] == ["REMOVE", "REMOVE"]
    assert rollup(removals) == {"batchItemFailures": []}
    assert stored_rows() == before


def test_a_batch_delivered_twice_is_counted_once_and_reported_as_duplicates(aws, rollup, monkeypatch, capfd):
    events = [usage_event(n, user_id=f"usr_{n % 2}") for n in range(1, 7)]
    records = stream_records(aws, record_usage(events))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capfd.readouterr()

    assert rollup(records) == {"batchItemFailures": []}
    assert rollup(list(reversed(records))) == {"batchItemFailures": []}
    assert stored_rows() == expected_rows(events)

    emitted = emf_records(capfd.readouterr().out)
    counts = [tuple(m[name] for name in ("RollupEventsApplied", "RollupDuplicatesSkipped", "RollupPoisonRecords"))
              for m in emitted]
    assert counts == [([6.0], [0.0], [0.0]), ([0.0], [6.0], [0.0])]


def test_money_adds_up_exactly_in_the_emulator():
    """moto's ADD on a number is decimal arithmetic, as DynamoDB's: ten times $0.1 is exactly $1."""
    with mock_aws():
        dynamodb = client("dynamodb", Settings())
        dynamodb.create_table(TableName="sums", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        for _ in range(10):
            dynamodb.update_item(TableName="sums", Key={"pk": {"S": "a"}}, UpdateExpression="ADD c :v",
                                 ExpressionAttributeValues={":v": {"N": "0.1"}})
        total = dynamodb.get_item(TableName="sums", Key={"pk": {"S": "a"}})["Item"]["c"]["N"]
    assert Decimal(total) == Decimal(1)


def test_requests_through_the_real_proxy_roll_up_per_user_and_model(gateway, developer, anthropic, monkeypatch):
    for name, value in gateway.settings.as_env().items():
        monkeypatch.setenv(name, value)
    anthropic.enqueue(Scenario.error(529, "overloaded_error", "Overloaded"))      # answered by Bedrock
    anthropic.enqueue(Scenario.error(400, "invalid_request_error", "max_tokens: too large"))
    bodies = [{"model": "claude-opus-4-8", "max_tokens": 50, "stream": True,
               "messages": [{"role": "user", "content": "reply with: one"}]},
              {"model": "claude-haiku-4-5-20251001", "max_tokens": 50,
               "messages": [{"role": "user", "content": "reply with: two"}]},
              {"model": "claude-opus-4-8", "max_tokens": 50, "stream": True,
               "messages": [{"role": "user", "content": "reply with: three"}]},
              {"model": "claude-opus-4-8", "max_tokens": 50, "stream": True,
               "messages": [{"role": "user", "content": "reply with: four"}]}]
    request_ids: list[str] = []

    def send() -> None:
        for body in bodies:
            response = httpx.post(developer.base_url(gateway) + "/v1/messages", content=orjson.dumps(body),
                                  headers={"x-api-key": "sk-ant-api03-dev", "content-type": "application/json"},
                                  timeout=10)
            request_ids.append(response.headers["x-overspill-request-id"])
        for request_id in request_ids:
            wait_for_usage(gateway, request_id)

    records = stream_records(gateway.settings, send)
    events = [gateway.usage.get(request_id) for request_id in request_ids]
    assert len(records) == len(events) == 4
    assert [(e.route, e.status) for e in events] == [("bedrock", 200), ("plan", 400), ("plan", 200), ("plan", 200)]

    handler = load_function("rollup")
    from overspill.local.function_url import LocalContext

    assert handler({"Records": records}, LocalContext("overspill-rollup")) == {"batchItemFailures": []}
    rows = stored_rows()
    assert rows == expected_rows(events)
    month = events[0].occurred_at.strftime("%Y-%m")
    by_route = RollupRepository().month_by_route(f"user#{developer.user_id}", month)
    assert (by_route["plan"].requests, by_route["plan"].errors, by_route["bedrock"].requests) == (3, 1, 1)
    assert by_route["bedrock"].cost_usd == events[0].cost_usd > 0
    assert sum(c.output_tokens for c in by_route.values()) == sum(e.tokens.output_tokens for e in events) > 0
    day = events[0].occurred_at.strftime("%Y-%m-%d")
    assert rows[("org", f"fallback#{day}#overloaded")]["requests"] == 1


def test_the_local_run_delivers_the_stream_again_from_the_first_reported_failure_like_lambda(aws):
    deliveries: list[list[str]] = []
    fail_once = {"req-00003"}

    def function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ids = [r["dynamodb"]["Keys"]["request_id"]["S"] for r in event["Records"]]
        deliveries.append(ids)
        failed = [r for r in event["Records"] if r["dynamodb"]["Keys"]["request_id"]["S"] in fail_once]
        fail_once.difference_update(ids)
        return {"batchItemFailures": [{"itemIdentifier": sequence_number(r)} for r in failed]}

    poller = StreamPoller(aws, function, backoff_s=0.01)
    poller.open()
    record_usage([usage_event(n) for n in range(1, 6)])()
    assert poller.poll() == 5
    assert deliveries == [[], [f"req-{n:05d}" for n in range(1, 6)], [f"req-{n:05d}" for n in range(3, 6)]]
    assert (poller.delivered, poller.skipped) == (5, 0)


def test_the_local_run_gives_up_on_a_record_that_keeps_failing_and_carries_on(aws, captured_logs):
    attempts: list[int] = []

    def function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not event["Records"]:
            return {"batchItemFailures": []}
        attempts.append(len(event["Records"]))
        raise RuntimeError("the function crashed")

    poller = StreamPoller(aws, function, backoff_s=0.01, max_attempts=3)
    poller.open()
    record_usage([usage_event(1), usage_event(2)])()
    poller.poll()
    assert attempts == [2, 2, 2] and (poller.delivered, poller.skipped) == (0, 2)
    assert "records still failing after retries; skipped" in captured_logs.getvalue()

    record_usage([usage_event(3)])()
    poller.poll()
    assert attempts[-1] == 1  # the stream moved on


def test_the_local_run_forgets_markers_once_their_records_are_through(aws):
    poller = StreamPoller(aws, load_function("rollup"), forget_markers=True)
    poller.open()
    events = [usage_event(1), usage_event(2)]
    record_usage(events)()
    poller.poll()
    assert stored_rows() == expected_rows(events)
    assert markers() == set()


def test_stopping_the_local_run_delivers_what_the_stream_holds_now(aws):
    poller = StreamPoller(aws, load_function("rollup"), interval_s=60)
    poller.start()
    events = [usage_event(1), usage_event(2)]
    record_usage(events)()
    poller.stop()  # so that the saved rollups match the saved events
    assert poller.delivered == 2
    assert stored_rows() == expected_rows(events)


def transaction_error(code: str, reasons: list[str | None] | None = None) -> TransactWriteError:
    cause = VerboseClientError({"Error": {"Code": code, "Message": f"{code} (simulated)"}}, "TransactWriteItems",
                               cancellation_reasons=[CancellationReason(code=r) if r else None for r in reasons or []])
    return TransactWriteError("Failed to write transaction items", cause)


def test_conflicting_transactions_are_tried_again_with_a_new_token_and_counted_once(aws, rollup, monkeypatch):
    records = stream_records(aws, record_usage([usage_event(1)]))
    real = RollupRepository._transact
    tokens: list[str] = []

    def conflicting_twice(self, event, token):
        tokens.append(token)
        if len(tokens) <= 2:
            raise transaction_error("TransactionCanceledException", [None, "TransactionConflict", None])
        return real(self, event, token)

    monkeypatch.setattr(RollupRepository, "_transact", conflicting_twice)
    monkeypatch.setattr("overspill.store.rollups.time.sleep", lambda seconds: None)
    assert rollup(records) == {"batchItemFailures": []}
    assert len(set(tokens)) == 3 and all(len(token) == 36 for token in tokens)
    assert stored_rows() == expected_rows([usage_event(1)])


def test_a_conflict_that_outlasts_the_retries_is_reported_for_redelivery(aws, rollup, monkeypatch):
    records = stream_records(aws, record_usage([usage_event(1)]))

    def always_conflicting(self, event, token):
        raise transaction_error("TransactionCanceledException", ["TransactionConflict"])

    monkeypatch.setattr(RollupRepository, "_transact", always_conflicting)
    monkeypatch.setattr("overspill.store.rollups.time.sleep", lambda seconds: None)
    assert rollup(records) == {"batchItemFailures": [{"itemIdentifier": sequence_number(records[0])}]}
    assert failure_queue_messages(aws) == []


def test_an_event_dynamodb_refuses_as_invalid_goes_to_the_failure_queue(aws, rollup, monkeypatch):
    records = stream_records(aws, record_usage([usage_event(1)]))

    def refused(self, event, token):
        raise transaction_error("ValidationException")

    monkeypatch.setattr(RollupRepository, "_transact", refused)
    assert rollup(records) == {"batchItemFailures": []}
    [message] = failure_queue_messages(aws)
    assert message["error"].startswith("RollupRejected: DynamoDB refused the rollup of req-00001")
