"""The fault matrix: one row per injected fault, what the client sees, what the breaker does, what usage keeps.

Each row is the single source for both its test and its line in ``docs/reliability.md``: a test takes its row
by id (``row("plan-529")``) and asserts the row's client-facing fields through :func:`check_client`, then the
breaker and usage outcomes its prose states. ``python -m tests.integration.faults.matrix docs/reliability.md``
rewrites the document; ``test_reliability_doc.py`` fails when the document and the rows differ, and when a row
has no test of that name (or a test no row).

Rows live in one module per area (``plan_rows``, ``bedrock_rows``, ``client_rows``, ``aws_rows``), each a list
named ``ROWS``.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AREAS = (
    ("plan_rows", "Plan upstream (Anthropic)"),
    ("bedrock_rows", "Bedrock"),
    ("aws_rows", "AWS dependencies (DynamoDB, KMS, Secrets Manager, SQS)"),
    ("client_rows", "Client"),
)


@dataclass(frozen=True, slots=True)
class Client:
    """What the developer's client sees first. ``status`` is the HTTP status of the response it receives."""

    status: int
    error_type: str | None = None       # Anthropic error type (JSON body or SSE ``error`` event); None: no error
    should_retry: bool | None = None    # the ``x-should-retry`` header; None: not sent by the gateway
    route: str | None = None            # ``x-overspill-route``: "plan", "bedrock"; None: answered before routing
    sees: str = ""                      # the rest, in words (e.g. "the whole answer, streamed")


@dataclass(frozen=True, slots=True)
class Row:
    id: str            # the test is ``test_<id with - as _>`` in one of this package's test modules
    fault: str         # what goes wrong, as an operator would name it
    injected: str      # how the test makes it happen for real
    client: Client
    breaker: str       # what the breaker does (prose; the test asserts it)
    usage: str         # what the usage table keeps (prose; the test asserts it)

    @property
    def test_name(self) -> str:
        return "test_" + self.id.replace("-", "_")


def all_rows() -> list[tuple[str, list[Row]]]:
    sections = []
    for module_name, title in AREAS:
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ModuleNotFoundError as missing:
            if missing.name != f"{__package__}.{module_name}":
                raise
            continue
        sections.append((title, list(module.ROWS)))
    return sections


def row(row_id: str) -> Row:
    for _, rows in all_rows():
        for candidate in rows:
            if candidate.id == row_id:
                return candidate
    raise KeyError(f"no fault-matrix row {row_id!r}")


def check_client(expected: Client, status: int, headers: Any, error_type: str | None = None) -> None:
    """Assert what the client saw against the row. ``headers`` is any mapping with case-insensitive ``get``
    (httpx.Headers); ``error_type`` is the error the client read from the body or the stream (None: none)."""
    assert status == expected.status, f"status {status}, the matrix says {expected.status}"
    assert error_type == expected.error_type, f"error type {error_type!r}, the matrix says {expected.error_type!r}"
    retry = headers.get("x-should-retry")
    wanted_retry = None if expected.should_retry is None else ("true" if expected.should_retry else "false")
    assert retry == wanted_retry, f"x-should-retry {retry!r}, the matrix says {wanted_retry!r}"
    assert headers.get("x-overspill-route") == expected.route, (
        f"route {headers.get('x-overspill-route')!r}, the matrix says {expected.route!r}")


_INTRO = """# Reliability: the fault matrix

Overspill sits between every developer and their work. This page says, for each fault we inject, what the
developer's client sees, what the per-user breaker does, and what the usage table keeps. **Every row is a
test** of the same name under `tests/integration/faults/`, and this page is generated from the rows those tests
assert (`python -m tests.integration.faults.matrix docs/reliability.md`; a test fails when it is stale).

How to read the client column: the HTTP status the client receives, the Anthropic error type it reads (from the
JSON body, or from an SSE `error` event when the stream had already started), `x-should-retry` (Claude Code and
the SDKs retry on `true`, stop on `false`; "—" means the gateway did not set it), and `x-overspill-route`
(`plan`, `bedrock`, or "—" when the gateway answered before choosing a route). A status of 200 with an error type
means the stream began and then carried an `error` event: Claude Code retries such a request at once without
streaming (PROTOCOL.md §2).

The breaker's states: *closed* (the plan is tried), *open until T* (Bedrock until T, then one probe to the plan),
*counted* (a failure counted toward opening for the cooldown; the request itself falls back).
"""


def render() -> str:
    lines = [_INTRO]
    for title, rows in all_rows():
        lines += [f"## {title}", "",
                  "| fault | injected by | client sees | breaker | usage | test |",
                  "|---|---|---|---|---|---|"]
        for r in rows:
            c = r.client
            seen = [str(c.status), c.error_type or "no error",
                    "retry: " + ("—" if c.should_retry is None else ("true" if c.should_retry else "false")),
                    "route: " + (c.route or "—")]
            client = " · ".join(seen) + (f"; {c.sees}" if c.sees else "")
            lines.append(f"| {_cell(r.fault)} | {_cell(r.injected)} | {_cell(client)} | {_cell(r.breaker)} | "
                         f"{_cell(r.usage)} | `{r.test_name}` |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if target is None:
        sys.stdout.write(render())
    else:
        target.write_text(render())
