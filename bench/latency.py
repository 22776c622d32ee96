"""What the latency benches share: Claude Code's recorded streaming request, and percentiles as reported."""

from __future__ import annotations

import json

from tests.support.claude_code_fixtures import load_all

FIXTURE = next(f for f in load_all() if f.name == "opus-default-stream")
BODY = json.dumps({**json.loads(FIXTURE.body), "stream": True}, separators=(",", ":")).encode()
HEADERS = {k: v for k, v in FIXTURE.headers.items() if k.lower() != "accept-encoding"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
