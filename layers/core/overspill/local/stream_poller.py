"""The local run's event source mapping: reads the usage table's DynamoDB stream on moto and invokes the real
rollup function with Lambda-shaped batches, retrying from the first reported failure as Lambda does.

moto records stream changes but fires no triggers, so ``overspill dev`` runs this beside the proxy.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from overspill.aws import client
from overspill.config import Settings
from overspill.local.function_url import LocalContext
from overspill.local.poller import Poller
from overspill.observability import logger
from overspill.store.rollups import RollupRepository

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class StreamPoller(Poller):
    def __init__(self, settings: Settings, handler: Handler, *, interval_s: float = 0.5, batch_size: int = 100,
                 max_attempts: int = 5, backoff_s: float = 0.2, function_name: str = "overspill-rollup",
                 forget_markers: bool = False) -> None:
        super().__init__(thread_name="rollup-stream", interval_s=interval_s, log_name="rollup stream")
        self._settings = settings
        self._handler = handler
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._function_name = function_name
        self._forget_markers = forget_markers
        self._streams: Any = client("dynamodbstreams", settings)
        self._stream_arn = ""
        self._iterators: dict[str, str | None] = {}   # shard id -> next iterator (None: the shard is closed)
        self._shards_seen_at = 0.0
        self._shard_closed = False
        self.delivered = 0   # records the function accepted (applied, duplicate, ignored or set aside)
        self.skipped = 0     # records given up on after max_attempts

    def start(self) -> None:
        """``open`` the stream, then poll it in the background."""
        self.open()
        super().start()

    def open(self) -> None:
        """Take every shard's LATEST position now: anything already in the table (restored state) was counted
        before."""
        dynamodb: Any = client("dynamodb", self._settings)
        self._stream_arn = dynamodb.describe_table(TableName=self._settings.usage_table)["Table"]["LatestStreamArn"]
        for shard_id in self._shard_ids():
            self._iterators[shard_id] = self._iterator(shard_id, "LATEST")
        self._shards_seen_at = time.monotonic()
        # Lambda's init phase: the function binds its tables now, not in the middle of the proxy's first requests.
        self._invoke([])

    def _round(self) -> None:
        self.poll()

    def poll(self) -> int:
        """One round over every shard; returns how many records were read."""
        self._discover_shards()
        read = 0
        for shard_id, iterator in list(self._iterators.items()):
            while iterator is not None:
                page = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
                records = page["Records"]
                iterator = page.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                self._shard_closed = self._shard_closed or iterator is None
                if not records:
                    break
                read += len(records)
                self._deliver([self._lambda_record(record) for record in records])
        return read

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        self._deliver_until_done(records)
        if self._forget_markers:
            # The stream moves past these records for good (and a restart starts from LATEST): their markers
            # have done their work, and moto would otherwise keep them (and copy them) forever.
            RollupRepository().forget_applied(record["dynamodb"]["Keys"]["request_id"]["S"]
                                              for record in records if record["eventName"] == "INSERT")

    def _deliver_until_done(self, records: list[dict[str, Any]]) -> None:
        pending = records
        for attempt in range(1, self._max_attempts + 1):
            failed_from = self._first_failure(pending, self._invoke(pending))
            if failed_from is None:
                self.delivered += len(pending)
                return
            self.delivered += failed_from
            pending = pending[failed_from:]
            if attempt < self._max_attempts:
                time.sleep(min(self._backoff_s * 2 ** (attempt - 1), 5.0))
        self.skipped += len(pending)
        logger.error("rollup stream: records still failing after retries; skipped (rebuild their days)",
                     extra={"records": len(pending), "attempts": self._max_attempts,
                            "first_sequence_number": pending[0]["dynamodb"]["SequenceNumber"]})

    def _invoke(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return self._handler({"Records": records}, LocalContext(self._function_name))
        except Exception as error:  # noqa: BLE001 - a function error fails the whole batch, as on Lambda
            logger.warning("rollup stream: the function failed", extra={"error": f"{type(error).__name__}: {error}"})
            return None

    @staticmethod
    def _first_failure(records: list[dict[str, Any]], response: dict[str, Any] | None) -> int | None:
        """Index of the record to deliver again from, as Lambda reads ``batchItemFailures``; None: all done."""
        if response is None:
            return 0
        failures = response.get("batchItemFailures") or []
        if not failures:
            return None
        positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(records)}
        indexes = [positions.get(failure.get("itemIdentifier")) for failure in failures]
        # An identifier that is not in the batch makes Lambda retry the whole batch.
        return 0 if None in indexes else min(indexes)  # type: ignore[type-var]

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda's event source mapping hands it over."""
        stream = dict(record["dynamodb"])
        created = stream.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            stream["ApproximateCreationDateTime"] = int(created.timestamp())
        for image in ("Keys", "NewImage", "OldImage"):
            if image in stream:
                stream[image] = {name: _base64_binaries(value) for name, value in stream[image].items()}
        return {
            "eventID": record["eventID"], "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"), "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", self._settings.region), "dynamodb": stream,
            "eventSourceARN": self._stream_arn,
        }

    def _discover_shards(self) -> None:
        # DynamoDB closes shards and opens new ones (every few hours); a new shard holds only records written
        # since. Looked for when a shard closed, and once a minute.
        if not self._shard_closed and time.monotonic() - self._shards_seen_at < 60:
            return
        self._shard_closed = False
        self._shards_seen_at = time.monotonic()
        for shard_id in self._shard_ids():
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._iterator(shard_id, "TRIM_HORIZON")

    def _shard_ids(self) -> list[str]:
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        return [shard["ShardId"] for shard in shards]

    def _iterator(self, shard_id: str, kind: str) -> str:
        return self._streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=shard_id,
                                                ShardIteratorType=kind)["ShardIterator"]


def _base64_binaries(value: dict[str, Any]) -> dict[str, Any]:
    # botocore decodes binary attributes to bytes; Lambda events carry them base64-encoded, as on the wire.
    if "B" in value:
        return {"B": base64.b64encode(value["B"]).decode()}
    if "BS" in value:
        return {"BS": [base64.b64encode(item).decode() for item in value["BS"]]}
    if "L" in value:
        return {"L": [_base64_binaries(item) for item in value["L"]]}
    if "M" in value:
        return {"M": {name: _base64_binaries(item) for name, item in value["M"].items()}}
    return value
