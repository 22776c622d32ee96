"""The usage_replay function's work: a batch of usage spill queue messages in (SQS), a partial batch response out
(Powertools' batch processing; the event source mapping is configured with ``ReportBatchItemFailures``).

Each message carries a usage-table item the proxy could not write (``overspill.usage.spill``). It is written with
the proxy's own condition (no item with that request id yet), so a message delivered twice, or an event whose first
write did succeed after all, is stored once. A message that fails (DynamoDB still unavailable, or a message that is
not a usage event) is reported as failed: SQS delivers it again after the visibility timeout, and moves it to the
dead-letter queue after ``MAX_RECEIVES`` deliveries.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from overspill.aws import error_code
from overspill.observability import emit_counts, logger
from overspill.store.rollups import UncountableEvent, usage_event_from_image
from overspill.store.usage import UsageRepository
from overspill.usage.spill import UnreadableSpill, read_spill_message


class UsageReplay:
    def __init__(self, usage: UsageRepository) -> None:
        self._usage = usage

    def process(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Store one Lambda SQS event's messages; returns ``{"batchItemFailures": [...]}``."""
        if not event.get("Records"):
            return {"batchItemFailures": []}
        batch = _Batch(self._usage)
        # A processor per batch (it keeps per-batch state). Not raising when every message failed: the response
        # says so, and SQS delivers each again, as it would after a function error.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        try:
            return process_partial_response(event=event, record_handler=batch.handle, processor=processor,
                                            context=context)
        finally:
            batch.emit_metrics()


class _Batch:
    def __init__(self, usage: UsageRepository) -> None:
        self._usage = usage
        self.stored = self.duplicates = self.failed = 0

    def handle(self, record: SQSRecord) -> None:
        try:
            image = read_spill_message(record.body)
            event = usage_event_from_image(image)
        except (UnreadableSpill, UncountableEvent) as error:
            self.failed += 1
            # Never a usage event: it will end in the dead-letter queue. Its body holds no secret (a spill message
            # is a usage item), but it is not ours to echo: the message id finds it there.
            logger.error("usage replay: a message on the spill queue is not a usage event",
                         extra={"message_id": record.message_id, "error": f"{type(error).__name__}: {error}"})
            raise
        try:
            stored = self._usage.record_image(image)
        except Exception as error:
            self.failed += 1
            logger.warning("usage replay: the usage table refused the write; the message is delivered again",
                           extra={"message_id": record.message_id, "request_id": event.request_id,
                                  "error": type(error).__name__, "error_code": error_code(error)})
            raise
        if stored:
            self.stored += 1
            logger.info("usage replay: stored a spilled usage event", extra={"request_id": event.request_id})
        else:
            self.duplicates += 1

    def emit_metrics(self) -> None:
        emit_counts(UsageReplayed=self.stored, UsageReplayDuplicates=self.duplicates,
                    UsageReplayFailures=self.failed)
