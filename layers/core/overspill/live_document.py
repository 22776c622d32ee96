"""A document admins change at run time (price overrides, model mappings), as each instance sees it: re-read at
most every ``ttl_s``; a document that does not parse, or a table that cannot be read, is logged and the last good
value kept — pricing and the Bedrock fallback must go on working."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from overspill.aws import error_code, is_service_failure
from overspill.observability import logger

T = TypeVar("T")


class LiveDocument(Generic[T]):
    def __init__(self, load: Callable[[], Any | None], parse: Callable[[Any | None], T], initial: T, *,
                 ttl_s: float, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._parse = parse
        self._value = initial
        self._ttl_s = ttl_s
        self._what = what            # "price overrides", "admin model mappings": for the log lines
        self._clock = clock
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> T:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl_s:
            with self._lock:
                if self._loaded_at is None or now - self._loaded_at >= self._ttl_s:
                    self._reload()
                    self._loaded_at = now
        return self._value

    def _reload(self) -> None:
        try:
            self._value = self._parse(self._load())
        except (ValueError, AttributeError, TypeError) as error:
            logger.error(f"{self._what} ignored: the stored document is invalid; keeping the last good one",
                         extra={"error": str(error)})
        except Exception as error:  # noqa: BLE001 - an unreachable config table: go on with what we have
            if not is_service_failure(error):
                logger.exception(f"{self._what} could not be read; keeping the last good one")
                return
            logger.warning(f"{self._what} could not be read; keeping the last good one",
                           extra={"error": type(error).__name__, "error_code": error_code(error)})
