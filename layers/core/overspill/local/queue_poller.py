"""The local run's SQS event source mapping: receives from a queue on moto and invokes a real function with
Lambda-shaped SQS batches, deleting the messages the function handled and leaving the ones it reported as failed
(``ReportBatchItemFailures``) to come back after the visibility timeout — and, after the queue's
``maxReceiveCount`` deliveries, to go to its dead-letter queue, as on AWS.

moto keeps the messages but runs no event source mapping, so ``overspill dev`` runs this beside the proxy for the
usage spill queue (the usage_replay function), as it runs ``StreamPoller`` for the usage stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from overspill.aws import client
from overspill.config import Settings
from overspill.local.function_url import LocalContext
from overspill.local.poller import Poller
from overspill.observability import logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_BATCH = 10  # SQS's ReceiveMessage limit


class QueuePoller(Poller):
    def __init__(self, settings: Settings, handler: Handler, queue_url: str, *, function_name: str,
                 interval_s: float = 1.0, batch_size: int = MAX_BATCH) -> None:
        super().__init__(thread_name=f"{function_name}-queue", interval_s=interval_s, log_name="queue poller",
                         log_extra={"function": function_name})
        self._handler = handler
        self._queue_url = queue_url
        self._function_name = function_name
        self._batch_size = min(batch_size, MAX_BATCH)
        self._region = settings.region
        self._sqs: Any = client("sqs", settings)
        self._queue_arn = ""
        self.handled = 0   # messages the function took (and that were deleted)
        self.failed = 0    # deliveries the function reported as failed (or failed as a whole)

    def start(self) -> None:
        self._queue_arn = self._arn()
        super().start()

    def _round(self) -> None:
        for _ in range(100):  # batch after batch while there are messages (bounded: a stop waits for this)
            if not self.poll():
                return

    def poll(self) -> int:
        """Receive one batch, invoke the function with it and delete what it handled; returns how many messages
        were received."""
        if not self._queue_arn:
            self._queue_arn = self._arn()
        messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=self._batch_size,
                                             WaitTimeSeconds=0, AttributeNames=["All"],
                                             MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        records = [self._lambda_record(message) for message in messages]
        failed = self._failed_ids(records, self._invoke(records))
        done = [r for r in records if r["messageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)])
        self.handled += len(done)
        self.failed += len(records) - len(done)
        return len(records)

    def _invoke(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return self._handler({"Records": records}, LocalContext(self._function_name))
        except Exception as error:  # noqa: BLE001 - a function error fails the whole batch, as on Lambda
            logger.warning("queue poller: the function failed", extra={
                "function": self._function_name, "error": f"{type(error).__name__}: {error}"})
            return None

    @staticmethod
    def _failed_ids(records: list[dict[str, Any]], response: dict[str, Any] | None) -> set[str]:
        """The messages to leave on the queue, as Lambda reads ``batchItemFailures``."""
        every = {record["messageId"] for record in records}
        if response is None:
            return every
        failed = {failure.get("itemIdentifier") for failure in response.get("batchItemFailures") or []}
        # An identifier that is not in the batch makes Lambda treat the whole batch as failed.
        return every if failed - every else failed

    def _lambda_record(self, message: dict[str, Any]) -> dict[str, Any]:
        """A received message as Lambda's SQS event source hands it over."""
        return {
            "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }

    def _arn(self) -> str:
        return self._sqs.get_queue_attributes(QueueUrl=self._queue_url,
                                              AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
