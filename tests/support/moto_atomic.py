"""DynamoDB applies each write — its condition check and the write itself — atomically per item. moto in-process
checks a condition and then writes, in Python, so two threads can both pass the same check (seen under load: two
breaker probes taken at once). ``make_writes_atomic()`` serialises moto's DynamoDB writes, as DynamoDB does them,
so that the races tests look for are the gateway's, not moto's."""

from __future__ import annotations

import functools
import threading

from moto.dynamodb.models import DynamoDBBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_lock = threading.RLock()


def make_writes_atomic() -> None:
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_overspill_atomic", False):
            continue

        @functools.wraps(original)
        def atomic(self, *args, __original=original, **kwargs):  # noqa: ANN001, ANN202
            with _lock:
                return __original(self, *args, **kwargs)

        atomic._overspill_atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)
