"""AWS calls counted through botocore's own event system: while an ``AwsCallLog`` is active, every botocore session
made gets one more built-in handler (``before-parameter-build``) that records each API call — service, operation
and, for DynamoDB, the table. pynamodb's per-model sessions and ``overspill.aws.client`` come from such sessions, so
start the log before the gateway is built."""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from botocore.handlers import BUILTIN_HANDLERS


class AwsCall(NamedTuple):
    service: str
    operation: str
    table: str | None


class AwsCallLog:
    def __init__(self) -> None:
        self._calls: list[AwsCall] = []
        self._lock = threading.Lock()
        self._entry = ("before-parameter-build", self._record)

    def __enter__(self) -> AwsCallLog:
        BUILTIN_HANDLERS.append(self._entry)
        return self

    def __exit__(self, *exc: object) -> None:
        BUILTIN_HANDLERS.remove(self._entry)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        call = AwsCall(model.service_model.service_name, model.name, params.get("TableName"))
        with self._lock:
            self._calls.append(call)

    def take(self) -> list[AwsCall]:
        """The calls recorded since the last take, in order."""
        with self._lock:
            calls, self._calls = self._calls, []
        return calls
