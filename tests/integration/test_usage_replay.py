"""The usage replay function on the spill queue (moto): what it refuses and leaves for the dead-letter queue.
What it stores, and that it stores it once, is in the fault matrix (tests/integration/faults/test_aws_faults.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from overspill.aws import client
from overspill.local.dev import load_function
from overspill.local.queue_poller import QueuePoller
from overspill.store.usage import UsageRepository
from overspill.usage.events import TokenUsage, UsageEvent
from overspill.usage.spill import UnreadableSpill, read_spill_message, spill_message
from tests.support.gateway import LocalGateway


@pytest.fixture
def spill(monkeypatch) -> Iterator[tuple[LocalGateway, QueuePoller]]:
    """The local resources (the spill queue among them) and the replay function as ``overspill dev`` runs it."""
    with LocalGateway("http://127.0.0.1:9") as gateway:
        for name, value in gateway.settings.as_env().items():
            monkeypatch.setenv(name, value)
        yield gateway, QueuePoller(gateway.settings, load_function("usage_replay"),
                                   gateway.settings.usage_spill_queue_url, function_name="overspill-usage-replay")


def _event(request_id: str) -> UsageEvent:
    return UsageEvent(request_id=request_id, occurred_at=datetime.now(UTC), user_id="usr_ada", key_prefix="ak_abcdefg",
                      route="bedrock", endpoint="messages", status=200, streamed=True, duration_ms=12.5,
                      model="claude-sonnet-4-5", fallback_reason="plan_limit", tokens=TokenUsage(10, 2))


def _send(gateway: LocalGateway, body: str) -> None:
    client("sqs", gateway.settings).send_message(QueueUrl=gateway.settings.usage_spill_queue_url, MessageBody=body)


def _invisible(gateway: LocalGateway) -> int:
    attributes = client("sqs", gateway.settings).get_queue_attributes(
        QueueUrl=gateway.settings.usage_spill_queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


@pytest.mark.parametrize("body", [
    "not json", json.dumps({"format": "something/else", "item": {"request_id": {"S": "r"}}}),
    json.dumps({"format": "overspill.usage-event/1"}), json.dumps([1, 2]),
])
def test_only_spill_messages_are_read(body):
    with pytest.raises(UnreadableSpill):
        read_spill_message(body)


def test_a_message_that_is_no_usage_event_is_reported_failed_and_left_for_the_dead_letter_queue(spill, captured_logs):
    gateway, poller = spill
    repository = UsageRepository(retention=timedelta(days=400))
    incomplete = repository.item_image(_event("req_incomplete"))
    del incomplete["user_id"]
    _send(gateway, "{not json")
    _send(gateway, spill_message(incomplete))
    _send(gateway, spill_message(repository.item_image(_event("req_good"))))

    assert poller.poll() == 3
    assert (poller.handled, poller.failed) == (1, 2)
    assert _invisible(gateway) == 2  # back after the visibility timeout; after MAX_RECEIVES, to the dead letters
    assert gateway.usage.get("req_good") is not None and gateway.usage.get("req_incomplete") is None
    errors = [json.loads(line) for line in captured_logs.getvalue().splitlines() if '"level":"ERROR"' in line]
    assert len(errors) == 2 and all("not a usage event" in e["message"] and e["message_id"] for e in errors)


def test_stopping_the_local_run_replays_what_was_spilled_just_before(spill):
    gateway, _ = spill
    poller = QueuePoller(gateway.settings, load_function("usage_replay"), gateway.settings.usage_spill_queue_url,
                         function_name="overspill-usage-replay", interval_s=60)
    poller.start()
    _send(gateway, spill_message(UsageRepository(retention=timedelta(days=400)).item_image(_event("req_late"))))
    poller.stop()  # the local queue is not kept across a restart: the last round takes it
    assert (poller.handled, poller.failed) == (1, 0)
    assert gateway.usage.get("req_late") is not None


def test_a_round_that_cannot_reach_the_queue_is_logged_and_stop_still_returns(spill, captured_logs):
    gateway, _ = spill
    poller = QueuePoller(gateway.settings, load_function("usage_replay"), gateway.settings.usage_spill_queue_url,
                         function_name="overspill-usage-replay", interval_s=60)
    poller.start()
    client("sqs", gateway.settings).delete_queue(QueueUrl=gateway.settings.usage_spill_queue_url)
    poller.stop()
    warnings = [json.loads(line) for line in captured_logs.getvalue().splitlines() if "polling failed" in line]
    assert [(w["message"], w["function"]) for w in warnings] == [("queue poller: polling failed",
                                                                 "overspill-usage-replay")]
    assert "QueueDoesNotExist" in warnings[0]["error"]
