"""The overspill logger's records as a test captured them (the ``captured_logs`` fixture: JSON lines, as in
production)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]


def log_records(captured: io.StringIO) -> list[Record]:
    return [json.loads(line) for line in captured.getvalue().splitlines() if line.startswith("{")]


def wait_for_logs(captured: io.StringIO, wanted: Callable[[Record], bool], timeout_s: float = 5.0) -> list[Record]:
    """The records ``wanted`` accepts, once there is one (much is logged after the response has gone out);
    empty when none came in time."""
    deadline = time.monotonic() + timeout_s
    while not (found := [r for r in log_records(captured) if wanted(r)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found
