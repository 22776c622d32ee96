"""What the local run's event source mappings (``QueuePoller``, ``StreamPoller``) share: a round every
``interval_s`` on a background thread, and a last one when they stop."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any

from overspill.observability import logger


class Poller(ABC):
    """Runs ``_round`` in the background until ``stop``, then once more. A round that raises is logged as
    ``"<log_name>: polling failed"`` (with ``log_extra``), and the next one runs as planned."""

    def __init__(self, *, thread_name: str, interval_s: float, log_name: str,
                 log_extra: dict[str, Any] | None = None) -> None:
        self._thread_name = thread_name
        self._interval_s = interval_s
        self._failure_message = f"{log_name}: polling failed"
        self._log_extra = log_extra or {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop polling after a last round over what the source holds now."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._round_safely()
        # The last round, before ``overspill dev`` saves its state: the local queues are not kept across a
        # restart, and the saved rollups must match the saved events.
        self._round_safely()

    def _round_safely(self) -> None:
        try:
            self._round()
        except Exception as error:  # noqa: BLE001 - the poller must outlive a hiccup of the emulator
            logger.warning(self._failure_message, extra={**self._log_extra,
                                                         "error": f"{type(error).__name__}: {error}"})

    @abstractmethod
    def _round(self) -> None:
        """Read what the source holds and invoke the function with it."""
