"""Usage that DynamoDB would not take: kept in the usage spill queue (SQS) until the replay stores it.

The usage write runs after the developer's response has ended, so waiting costs them nothing. botocore retries it
(``Settings.aws_max_attempts`` attempts, exponential backoff with jitter between them); if DynamoDB still refuses
(throttled, failing, unreachable), the item that would have been written goes to the spill queue as it is, and the
usage_replay function (``overspill.usage.replay``) writes it into the usage table with the same condition as the
proxy's own write: stored once, however often SQS delivers it. The rollup then counts it from the table's stream
as any other event (and budgets see it there).

If SQS fails too, the event is logged at ERROR level, with the message body ready to be sent to the queue by hand
(docs/operations.md, "Usage spill queue"). A usage event holds no secret and no prompt text: ids, the access key's
display prefix, the model, counts, timings, cost and who to charge — so the whole item may go to a queue or a log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson

from overspill.aws import error_code
from overspill.observability import emit_counts, logger
from overspill.store.usage import UsageRepository
from overspill.usage.events import UsageEvent

# What a spill message says it is, so that a reader can refuse anything else (and a later format be told apart).
SPILL_FORMAT = "overspill.usage-event/1"
# Deliveries of a spill message before SQS moves it to the dead-letter queue: enough to outlast a DynamoDB
# incident of about half an hour at the deployed visibility timeout (infra/components/usage_spill.py).
MAX_RECEIVES = 10


class UnreadableSpill(ValueError):
    """A message on the spill queue that is not a usage event this code wrote."""


def spill_message(image: dict[str, Any]) -> str:
    return orjson.dumps({"format": SPILL_FORMAT, "item": image}).decode()


def read_spill_message(body: str) -> dict[str, Any]:
    """The item image a spill message carries (DynamoDB JSON); raises :class:`UnreadableSpill`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise UnreadableSpill(f"not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != SPILL_FORMAT:
        raise UnreadableSpill(f"not a {SPILL_FORMAT} message")
    image = document.get("item")
    if not isinstance(image, dict) or not image:
        raise UnreadableSpill("the message has no item")
    return image


class SpillQueue:
    """The usage spill queue. The SQS client is made on first use: an instance that never spills never pays for
    it (cold start)."""

    def __init__(self, sqs: Callable[[], Any], queue_url: str | None) -> None:
        self._make_client = sqs
        self._queue_url = queue_url
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self._queue_url is not None

    def send(self, body: str) -> None:
        if self._queue_url is None:
            raise RuntimeError("no usage spill queue is configured (OVERSPILL_USAGE_SPILL_QUEUE_URL)")
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)


class UsageRecorder:
    """The proxy's usage write: DynamoDB, else the spill queue, else an ERROR log. Never raises: it runs after
    the response, where an exception would only lose the event."""

    def __init__(self, repository: UsageRepository, spill: SpillQueue) -> None:
        self._repository = repository
        self._spill = spill

    def record(self, event: UsageEvent) -> bool:
        """True when the event is kept (stored, already stored, or spilled); False when only the log has it."""
        try:
            self._repository.record(event)
            return True
        except Exception as error:  # noqa: BLE001 - any failure after botocore's retries: keep the event elsewhere
            write_error = error
        body = spill_message(self._repository.item_image(event))
        facts = {"request_id": event.request_id, "user_id": event.user_id, "error": type(write_error).__name__,
                 "error_code": error_code(write_error)}
        try:
            self._spill.send(body)
        except Exception as spill_error:  # noqa: BLE001 - the last resort below must always run
            emit_counts(UsageUnstored=1)
            logger.error(
                "USAGE EVENT NOT STORED: DynamoDB refused the usage write and the usage spill queue could not take "
                "it either. Send spill_message as the body of a message to the usage spill queue (the replay "
                "stores it once; docs/operations.md, Usage spill queue).",
                extra={**facts, "spill_error": type(spill_error).__name__, "spill_error_code": error_code(spill_error),
                       "spill_message": body})
            return False
        emit_counts(UsageSpilled=1)
        logger.warning("usage write failed; the event went to the usage spill queue (the replay stores it)",
                       extra=facts)
        return True

