"""The rollup function's work: a batch of the usage table's DynamoDB Streams records in, a partial batch response
out (Powertools' batch processing; the function is configured with ``ReportBatchItemFailures``).

Each new usage event (INSERT) is added to its rollups exactly once (``RollupRepository.apply``). A record that
can never be counted ("poison": unreadable, a required field missing or ill-typed, refused by DynamoDB) goes to
the failure queue and counts as handled, so it cannot hold up the stream for the 24 hours it keeps records. Any
other error is reported as a batch item failure: Lambda delivers the batch again from that record, and the
markers make the records before it that were already applied no-ops.
"""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from overspill.observability import emit_counts, logger
from overspill.store.rollups import RollupRejected, RollupRepository, UncountableEvent, usage_event_from_image


class FailureQueue:
    """Where records that can never be counted go (an SQS queue), with what is needed to replay them by hand.
    Usage events hold no secrets and no prompt text, so the whole item goes along."""

    def __init__(self, sqs: Any, queue_url: str | None) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def put(self, document: dict[str, Any]) -> None:
        if self._queue_url is None:
            return  # no queue configured (a bare local run): the error log is all there is
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=orjson.dumps(document).decode())


class RollupStream:
    def __init__(self, rollups: RollupRepository, failures: FailureQueue) -> None:
        self._rollups = rollups
        self._failures = failures

    def process(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Apply one Lambda DynamoDB Streams event; returns ``{"batchItemFailures": [...]}``."""
        if not event.get("Records"):
            return {"batchItemFailures": []}  # Lambda never sends an empty batch; the local poller warms up with one
        batch = _Batch(self._rollups, self._failures)
        # A processor per batch: it keeps per-batch state, and the local run may share one instance.
        # Not raising when every record failed: the response says so, and Lambda retries from the first.
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        try:
            return process_partial_response(event=event, record_handler=batch.handle, processor=processor,
                                            context=context)
        finally:
            batch.emit_metrics()


class _NotAttempted(Exception):
    """A record after one that failed: Lambda redelivers from the failed one, so this one is left for then."""


class _Batch:
    def __init__(self, rollups: RollupRepository, failures: FailureQueue) -> None:
        self._rollups = rollups
        self._failures = failures
        self.failed = False
        self.applied = self.duplicates = self.poison = self.retried = 0

    def handle(self, record: DynamoDBRecord) -> None:
        raw = record.raw_event
        if self.failed:
            # Everything from the first failure on is delivered again anyway; trying it now would only add load
            # to a table that is probably throttling.
            self.retried += 1
            raise _NotAttempted(raw.get("eventID"))
        if raw.get("eventName") != "INSERT":
            # REMOVE is the TTL expiring a raw event: what it counted stays counted, so nothing is subtracted.
            # MODIFY never happens (events are written once, conditionally); if it did, adding again would
            # double-count.
            if raw.get("eventName") != "REMOVE":
                logger.warning("rollup: ignored an unexpected stream record",
                               extra={"event_name": raw.get("eventName"), "event_id": raw.get("eventID")})
            return
        stream = raw.get("dynamodb") or {}
        try:
            applied = self._rollups.apply(usage_event_from_image(stream.get("NewImage")))
        except (UncountableEvent, RollupRejected) as error:
            self._set_aside(raw, error)
            return
        except Exception as error:
            self.failed = True
            self.retried += 1
            logger.warning("rollup: a usage record failed; the batch is delivered again from it",
                           extra={"event_id": raw.get("eventID"), "sequence_number": stream.get("SequenceNumber"),
                                  "error": f"{type(error).__name__}: {error}"})
            raise
        if applied:
            self.applied += 1
        else:
            self.duplicates += 1

    def _set_aside(self, raw: dict[str, Any], error: Exception) -> None:
        stream = raw.get("dynamodb") or {}
        reason = f"{type(error).__name__}: {error}"
        logger.error("rollup: a usage record can never be counted; sent to the failure queue",
                     extra={"event_id": raw.get("eventID"), "sequence_number": stream.get("SequenceNumber"),
                            "keys": stream.get("Keys"), "error": reason})
        try:
            self._failures.put({
                "eventID": raw.get("eventID"), "eventName": raw.get("eventName"),
                "eventSourceARN": raw.get("eventSourceARN"), "sequenceNumber": stream.get("SequenceNumber"),
                "keys": stream.get("Keys"), "error": reason, "newImage": stream.get("NewImage"),
            })
        except Exception:
            # The record must not be lost: without the queue it stays in the stream and is retried from here.
            self.failed = True
            self.retried += 1
            raise
        self.poison += 1

    def emit_metrics(self) -> None:
        emit_counts(RollupEventsApplied=self.applied, RollupDuplicatesSkipped=self.duplicates,
                    RollupPoisonRecords=self.poison, RollupRecordsRetried=self.retried)
