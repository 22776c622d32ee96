"""Streaming an answer back as it arrives, reading usage on the way, and finishing after the client is done.

A ``Relay`` is the response body handed to the runtime (Lambda or the local emulator): an iterable of byte
chunks with a ``close()`` that the runtime calls once the response has ended (WSGI-style) — completed,
failed, or abandoned by a client that went away. ``close()`` is where usage is recorded, so the write never
delays the developer's answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from overspill.errors import sse_error_event
from overspill.observability import logger
from overspill.upstream.base import UpstreamBroken
from overspill.usage.tap import AnswerTap


@dataclass(slots=True)
class RelayOutcome:
    tap: AnswerTap | None
    first_byte_at: float | None = None     # perf_counter when the first byte was handed to the client
    ended_at: float | None = None
    completed: bool = False                # the whole answer went out
    client_disconnected: bool = False      # the runtime stopped taking bytes before the end
    upstream_broken: str | None = None     # why the upstream failed mid-answer


class Relay:
    def __init__(
        self,
        chunks: Iterator[bytes],
        *,
        tap: AnswerTap | None,
        on_close: Callable[[RelayOutcome], None],
        release: Callable[[], None] | None = None,
        sse: bool = False,
    ) -> None:
        self._chunks = chunks
        self._on_close = on_close
        self._release = release
        self._sse = sse
        self._closed = False
        self._stream: Iterator[bytes] | None = None
        self.outcome = RelayOutcome(tap=tap)

    def __iter__(self) -> Iterator[bytes]:
        if self._stream is None:
            self._stream = self._relay()
        return self._stream

    def _relay(self) -> Iterator[bytes]:
        outcome = self.outcome
        tap = outcome.tap
        try:
            for chunk in self._chunks:
                if not chunk:
                    continue
                if tap is not None:
                    tap.feed(chunk)
                if outcome.first_byte_at is None:
                    outcome.first_byte_at = time.perf_counter()
                yield chunk
        except Exception as error:  # noqa: BLE001 - UpstreamBroken, or a failure no upstream foresaw
            if isinstance(error, UpstreamBroken):
                upstream, reason = error.upstream, error.reason
            else:  # still an answer that broke, not a client that left: say so to the client and in usage
                logger.exception("the answer failed mid-way")
                upstream, reason = "the upstream", type(error).__name__
            outcome.upstream_broken = reason
            if tap is not None:
                tap.error_type = "api_error"  # the usage event says the answer broke, whatever its status
            if not self._sse:
                raise  # a JSON body cannot be mended: the runtime reports a truncated response
            # Claude Code answers an SSE error by retrying at once without streaming: a clean recovery.
            yield sse_error_event(
                "api_error",
                f"Overspill: the connection to {upstream} broke mid-answer ({reason}). "
                "Retrying the request should work.",
            )
        outcome.completed = outcome.upstream_broken is None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._stream is not None:
            self._stream.close()  # a client that left: stop where we are
        outcome = self.outcome
        outcome.ended_at = time.perf_counter()
        outcome.client_disconnected = not outcome.completed and outcome.upstream_broken is None
        if self._release is not None:
            try:
                self._release()  # cancels the upstream call if the client left early
            except Exception:  # noqa: BLE001 - releasing must never break the close
                logger.exception("releasing the upstream answer failed")
        if outcome.tap is not None:
            outcome.tap.finish()
        try:
            self._on_close(outcome)
        except Exception:  # noqa: BLE001 - usage problems are logged, never raised into the runtime
            logger.exception("finishing the request failed")
