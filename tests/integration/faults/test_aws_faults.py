"""The AWS rows of the fault matrix (aws_rows.py): DynamoDB, SQS, KMS and Secrets Manager failing under the real
proxy, injected at the botocore level in front of moto (tests/support/aws_faults.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from overspill.aws import client
from overspill.breaker import Breaker, BreakerState
from overspill.local.dev import load_function
from overspill.local.queue_poller import QueuePoller
from overspill.store.breakers import BreakerRepository
from overspill.usage.spill import read_spill_message
from tests.integration.faults.matrix import check_client, row
from tests.support.aws_faults import CONNECTION_REFUSED
from tests.support.fake_anthropic import Scenario
from tests.support.gateway import LocalGateway, wait_for_usage
from tests.support.logs import log_records, wait_for_logs

# One retry per AWS call (botocore's backoff: up to 1 s), so that a fault that lasts costs a test about a second.
MAX_ATTEMPTS = 2
PROMPT = "reply with: the secret plan for the launch"
PLAN_CREDENTIAL = "sk-ant-api03-fault-matrix-credential"


@pytest.fixture
def gateway(aws, anthropic, bedrock) -> Iterator[LocalGateway]:
    """The integration gateway, made after the fault injector (its clients must see it), reading the breaker on
    every request (no per-instance copy hides a read) and keeping keys cached as in production."""
    with LocalGateway(anthropic.url, bedrock.url, key_cache_ttl_s=30, breaker_cache_ttl_s=0,
                      upstream_connect_timeout_s=1.0, aws_max_attempts=MAX_ATTEMPTS) as gw:
        yield gw


def ask(developer, gateway, *, text: str = PROMPT) -> httpx.Response:
    body = {"model": "claude-opus-4-8", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": text}]}
    return httpx.post(developer.base_url(gateway) + "/v1/messages?beta=true", json=body, timeout=30,
                      headers={"x-api-key": PLAN_CREDENTIAL, "anthropic-version": "2023-06-01"})


def error_type(response: httpx.Response) -> str | None:
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()["error"]["type"]
    return None


def assert_no_secret_in(text: str, developer) -> None:
    assert developer.key not in text and PLAN_CREDENTIAL not in text and "secret plan" not in text


def request_id(response: httpx.Response) -> str:
    return response.headers["x-overspill-request-id"]


def no_usage_for(gateway, developer) -> bool:
    return gateway.usage.for_user(developer.user_id) == []


# --- the usage spill queue and its replay ---------------------------------------------------------------------

def spilled(gateway, aws, request_id_: str, timeout_s: float = 5.0) -> str:
    """The body of the spill message of this request (left on the queue, visible), once the proxy has sent it."""
    deadline = time.monotonic() + timeout_s
    with aws.lifted("sqs"):
        sqs = client("sqs", gateway.settings)
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=gateway.settings.usage_spill_queue_url,
                                               MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", []):
                if read_spill_message(message["Body"])["request_id"] == {"S": request_id_}:
                    return message["Body"]
            time.sleep(0.05)
    raise AssertionError(f"no spill message for {request_id_} within {timeout_s}s")


def queue_depth(gateway, url: str) -> int:
    attributes = client("sqs", gateway.settings).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def replay(gateway, monkeypatch) -> QueuePoller:
    """The usage_replay function, loaded as Lambda (or ``overspill dev``) loads it, on the spill queue: one poll."""
    for name, value in gateway.settings.as_env().items():
        monkeypatch.setenv(name, value)
    poller = QueuePoller(gateway.settings, load_function("usage_replay"), gateway.settings.usage_spill_queue_url,
                         function_name="overspill-usage-replay")
    poller.poll()
    return poller


def stream_events_for(gateway, request_id_: str) -> list[str]:
    """The usage table's stream records of one request id (INSERT, MODIFY, …), oldest first."""
    settings = gateway.settings
    arn = client("dynamodb", settings).describe_table(TableName=settings.usage_table)["Table"]["LatestStreamArn"]
    streams = client("dynamodbstreams", settings)
    names = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        names += [r["eventName"] for r in records if r["dynamodb"]["Keys"]["request_id"]["S"] == request_id_]
    return names


def assert_replayed_once(gateway, monkeypatch, response: httpx.Response, body: str) -> None:
    """Once AWS is healthy again: the replay stores the spilled event; a second delivery of the same message
    changes nothing."""
    rid = request_id(response)
    assert gateway.usage.get(rid) is None  # only the queue has it
    first = replay(gateway, monkeypatch)
    assert (first.handled, first.failed) == (1, 0)
    event = gateway.usage.get(rid)
    assert event is not None and event.route == response.headers["x-overspill-route"]
    assert event.status == response.status_code and event.tokens.output_tokens > 0
    # SQS delivers at least once: the same message again is a duplicate, taken off the queue, not written again.
    client("sqs", gateway.settings).send_message(QueueUrl=gateway.settings.usage_spill_queue_url, MessageBody=body)
    second = replay(gateway, monkeypatch)
    assert (second.handled, second.failed) == (1, 0)
    assert gateway.usage.get(rid) == event
    assert stream_events_for(gateway, rid) == ["INSERT"]
    assert queue_depth(gateway, gateway.settings.usage_spill_queue_url) == 0


# --- DynamoDB: the access-key lookup fails closed ------------------------------------------------------------

def _assert_key_check_unavailable(response: httpx.Response, expected, developer, gateway, captured_logs) -> None:
    check_client(expected.client, response.status_code, response.headers, error_type(response))
    message = response.json()["error"]["message"]
    assert "could not check your access key" in message and "retry" in message and "not with your key" in message
    warning = next(r for r in log_records(captured_logs) if r["message"].startswith("access key could not be"))
    assert warning["level"] == "WARNING" and warning["key_prefix"] == developer.prefix
    assert_no_secret_in(captured_logs.getvalue(), developer)


def test_dynamodb_key_lookup_throttled(gateway, developer, aws, anthropic, captured_logs):
    expected = row("dynamodb-key-lookup-throttled")
    # Whatever read the lookup makes (a GetItem or a Query by the key's hash), on the access-keys table.
    fault = aws.fail("dynamodb", table=gateway.settings.access_keys_table, error="ThrottlingException")
    response = ask(developer, gateway)

    _assert_key_check_unavailable(response, expected, developer, gateway, captured_logs)
    assert fault.calls == MAX_ATTEMPTS  # botocore retried it before the gateway gave up
    assert anthropic.received == [] and no_usage_for(gateway, developer)
    warning = next(r for r in log_records(captured_logs) if r["message"].startswith("access key could not be"))
    assert warning["error_code"] == "ThrottlingException"

    aws.clear()  # the failure was not cached: the next request looks the key up and is answered
    again = ask(developer, gateway)
    assert (again.status_code, again.headers["x-overspill-route"]) == (200, "plan")


def test_dynamodb_key_lookup_unreachable(gateway, developer, aws, anthropic, captured_logs):
    expected = row("dynamodb-key-lookup-unreachable")
    fault = aws.fail("dynamodb", error=CONNECTION_REFUSED)
    response = ask(developer, gateway)

    _assert_key_check_unavailable(response, expected, developer, gateway, captured_logs)
    assert fault.calls == MAX_ATTEMPTS
    assert anthropic.received == []
    aws.clear()
    assert no_usage_for(gateway, developer)


# --- DynamoDB: the breaker read fails open to the plan -------------------------------------------------------

def test_dynamodb_breaker_read_throttled(gateway, developer, aws, anthropic, bedrock, captured_logs):
    expected = row("dynamodb-breaker-read-throttled")
    now = datetime.now(UTC)
    stored = Breaker(developer.user_id, state=BreakerState.OPEN, open_until=now + timedelta(hours=1),
                     reason="plan_limit", last_status=429, trips=1, updated_at=now, revision=1)
    assert BreakerRepository().replace(stored, expected_revision=0)
    fault = aws.fail("dynamodb", "GetItem", table=gateway.settings.breakers_table,
                     error="ProvisionedThroughputExceededException")
    response = ask(developer, gateway)

    check_client(expected.client, response.status_code, response.headers, error_type(response))
    assert "message_stop" in response.text
    assert len(anthropic.received) == 1 and bedrock.received == []  # open in the table, yet the plan answered
    assert fault.calls == MAX_ATTEMPTS
    warning = next(r for r in log_records(captured_logs) if r["message"].startswith("breaker state unreadable"))
    assert warning["level"] == "WARNING" and warning["route"] == "plan"
    assert warning["error_code"] == "ProvisionedThroughputExceededException"
    event = wait_for_usage(gateway, request_id(response))
    assert (event.route, event.status) == ("plan", 200)
    aws.clear()
    assert BreakerRepository().get(developer.user_id, consistent=True) == stored  # left as it was


def test_dynamodb_unreachable_on_a_warm_instance(gateway, developer, aws, anthropic, captured_logs, monkeypatch):
    expected = row("dynamodb-unreachable-on-a-warm-instance")
    first = ask(developer, gateway, text="hello")  # the instance now has the key cached
    assert first.status_code == 200
    wait_for_usage(gateway, request_id(first))  # and that request is done with DynamoDB
    fault = aws.fail("dynamodb", error=CONNECTION_REFUSED)
    response = ask(developer, gateway)

    check_client(expected.client, response.status_code, response.headers, error_type(response))
    assert "message_stop" in response.text
    body = spilled(gateway, aws, request_id(response))
    assert fault.calls >= 2 * MAX_ATTEMPTS  # the breaker read and the usage write, each retried
    assert wait_for_logs(captured_logs, lambda r: r["message"].startswith(
        "usage write failed; the event went to the usage spill queue"))  # logged just after the send
    assert any(r["message"].startswith("breaker state unreadable") for r in log_records(captured_logs))
    aws.clear()  # DynamoDB is back
    assert_replayed_once(gateway, monkeypatch, response, body)
    assert_no_secret_in(body, developer)


# --- DynamoDB: the usage write is retried, then spilled to SQS, then replayed ----------------------------------

def test_dynamodb_usage_write_throttled(gateway, developer, aws, captured_logs, monkeypatch):
    expected = row("dynamodb-usage-write-throttled")
    fault = aws.fail("dynamodb", "PutItem", table=gateway.settings.usage_table, error="ThrottlingException")
    response = ask(developer, gateway)

    check_client(expected.client, response.status_code, response.headers, error_type(response))
    assert "message_stop" in response.text
    body = spilled(gateway, aws, request_id(response))
    assert fault.calls == MAX_ATTEMPTS  # retried with botocore's backoff before it was spilled
    # The warning follows the send: the message can be on the queue a moment before it is logged.
    warning = wait_for_logs(captured_logs, lambda r: r["message"].startswith("usage write failed"))[0]
    assert warning["level"] == "WARNING" and warning["error_code"] == "ThrottlingException"
    image = read_spill_message(body)
    assert image["key_prefix"] == {"S": developer.prefix}
    assert_no_secret_in(body, developer)
    assert BreakerRepository().get(developer.user_id, consistent=True).state is BreakerState.CLOSED

    aws.clear()  # DynamoDB is back
    assert_replayed_once(gateway, monkeypatch, response, body)


def test_dynamodb_usage_write_throttled_once(gateway, developer, aws):
    expected = row("dynamodb-usage-write-throttled-once")
    fault = aws.fail("dynamodb", "PutItem", table=gateway.settings.usage_table,
                     error="ProvisionedThroughputExceededException", times=1)
    response = ask(developer, gateway)

    check_client(expected.client, response.status_code, response.headers, error_type(response))
    event = wait_for_usage(gateway, request_id(response))
    assert (event.route, event.status) == ("plan", 200) and fault.calls == 1
    assert queue_depth(gateway, gateway.settings.usage_spill_queue_url) == 0
    assert BreakerRepository().get(developer.user_id, consistent=True).state is BreakerState.CLOSED


def test_dynamodb_and_sqs_unavailable_on_the_usage_write(gateway, developer, aws, captured_logs, monkeypatch):
    expected = row("dynamodb-and-sqs-unavailable-on-the-usage-write")
    aws.fail("dynamodb", "PutItem", table=gateway.settings.usage_table, error="InternalServerError")
    sends = aws.fail("sqs", "SendMessage", error=CONNECTION_REFUSED)
    response = ask(developer, gateway)

    check_client(expected.client, response.status_code, response.headers, error_type(response))
    (record,) = wait_for_logs(captured_logs, lambda r: r["level"] == "ERROR")
    assert record["message"].startswith("USAGE EVENT NOT STORED") and "Send spill_message" in record["message"]
    assert record["request_id"] == request_id(response) and record["spill_error"] == "EndpointConnectionError"
    assert sends.calls == MAX_ATTEMPTS
    assert_no_secret_in(captured_logs.getvalue(), developer)
    aws.clear()
    assert queue_depth(gateway, gateway.settings.usage_spill_queue_url) == 0

    # What an operator does (docs/operations.md): send the logged message to the spill queue; the replay stores it.
    client("sqs", gateway.settings).send_message(QueueUrl=gateway.settings.usage_spill_queue_url,
                                                 MessageBody=record["spill_message"])
    assert_replayed_once(gateway, monkeypatch, response, record["spill_message"])


# --- DynamoDB: the budget check on the fallback ----------------------------------------------------------------

def test_dynamodb_budget_read_throttled(gateway, aws, anthropic, bedrock, captured_logs):
    expected = row("dynamodb-budget-read-throttled")
    developer = gateway.add_developer("Grace", budget_usd=Decimal("100"))
    fault = aws.fail("dynamodb", "Query", table=gateway.settings.rollups_table, error="ThrottlingException")
    anthropic.enqueue(Scenario.plan_limit(int(time.time() + 600)))
    response = ask(developer, gateway)

    check_client(expected.client, response.status_code, response.headers, error_type(response))
    assert "message_stop" in response.text and len(bedrock.received) == 1
    assert fault.calls == MAX_ATTEMPTS
    warning = next(r for r in log_records(captured_logs) if r["message"].startswith("budget not checked"))
    assert warning["level"] == "WARNING" and warning["error_code"] == "ThrottlingException"
    event = wait_for_usage(gateway, request_id(response))
    assert (event.route, event.fallback_reason) == ("bedrock", "plan_limit") and event.cost_usd > 0
    aws.clear()
    breaker = BreakerRepository().get(developer.user_id, consistent=True)
    assert breaker.state is BreakerState.OPEN and breaker.reason == "plan_limit"


# --- KMS: the user's own Bedrock credentials cannot be opened ------------------------------------------------

STORED_KEY_ID = "AKIAOVERSPILLFAULTS1"


def _store_credentials(gateway, user_id: str) -> None:
    from overspill.credentials.domain import BedrockCredentials
    from overspill.credentials.store import BedrockCredentialRepository
    from overspill.credentials.vault import CredentialVault

    credentials = BedrockCredentials.from_access_key(STORED_KEY_ID, "kmsFaultBedrockSecret/Key+0000000000000000"[:40])
    BedrockCredentialRepository(CredentialVault(gateway.settings)).put(user_id, credentials)


def _assert_kms_unavailable(expected, response: httpx.Response, gateway, developer, bedrock, captured_logs) -> None:
    check_client(expected.client, response.status_code, response.headers, error_type(response))
    message = response.json()["error"]["message"]
    assert "KMS" in message and "retrying should work" in message and "kms_unreachable" in message
    assert bedrock.received == []
    event = wait_for_usage(gateway, request_id(response))
    assert (event.status, event.route, event.fallback_reason) == (503, "bedrock", "plan_limit")
    breaker = BreakerRepository().get(developer.user_id, consistent=True)
    assert breaker.state is BreakerState.OPEN and breaker.reason == "plan_limit"
    assert "kmsFaultBedrockSecret" not in captured_logs.getvalue() + response.text
    assert_no_secret_in(captured_logs.getvalue(), developer)


def test_kms_unreachable(gateway, developer, aws, anthropic, bedrock, captured_logs):
    expected = row("kms-unreachable")
    _store_credentials(gateway, developer.user_id)
    fault = aws.fail("kms", error=CONNECTION_REFUSED)
    anthropic.enqueue(Scenario.plan_limit(int(time.time() + 600)))
    response = ask(developer, gateway)

    _assert_kms_unavailable(expected, response, gateway, developer, bedrock, captured_logs)
    assert fault.calls == MAX_ATTEMPTS
    aws.clear()  # KMS is back: the next request (the breaker sends it to Bedrock) opens the credentials
    again = ask(developer, gateway)
    assert (again.status_code, again.headers["x-overspill-route"]) == (200, "bedrock")
    assert len(bedrock.received) == 1 and STORED_KEY_ID in bedrock.last_request().header("authorization")


def test_kms_throttled(gateway, developer, aws, anthropic, bedrock, captured_logs):
    expected = row("kms-throttled")
    _store_credentials(gateway, developer.user_id)
    fault = aws.fail("kms", "Decrypt", error="ThrottlingException")
    anthropic.enqueue(Scenario.plan_limit(int(time.time() + 600)))
    response = ask(developer, gateway)

    _assert_kms_unavailable(expected, response, gateway, developer, bedrock, captured_logs)
    assert fault.calls == MAX_ATTEMPTS


# --- Secrets Manager: the pepper at cold start ---------------------------------------------------------------

def test_secrets_manager_unavailable_at_cold_start(gateway, developer, aws, anthropic, captured_logs):
    expected = row("secrets-manager-unavailable-at-cold-start")
    # The gateway's proxy is a fresh instance: it has not read the pepper yet (it reads it on first use).
    fault = aws.fail("secrets-manager", "GetSecretValue", error=CONNECTION_REFUSED)
    response = ask(developer, gateway)

    _assert_key_check_unavailable(response, expected, developer, gateway, captured_logs)
    assert fault.calls == MAX_ATTEMPTS and anthropic.received == []
    warning = next(r for r in log_records(captured_logs) if r["message"].startswith("access key could not be"))
    assert warning["step"] == "pepper"
    assert ask(developer, gateway).status_code == 503  # still failing: tried again, not a cached failure
    assert fault.calls == 2 * MAX_ATTEMPTS

    aws.clear()  # Secrets Manager is back: the same instance reads the secret and answers
    again = ask(developer, gateway)
    assert (again.status_code, again.headers["x-overspill-route"]) == (200, "plan")
    wait_for_usage(gateway, request_id(again))
    assert [e.request_id for e in gateway.usage.for_user(developer.user_id)] == [request_id(again)]
