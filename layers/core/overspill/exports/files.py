"""The bytes of an export and where they go: one CSV per period and a JSON manifest describing it.

Layout (Hive-style partitions, so Athena/Glue read ``usage/daily/`` and ``usage/monthly/`` as tables; the
manifests live outside those prefixes, or Athena would read them as CSV rows)::

    usage/daily/dt=YYYY-MM-DD/usage-YYYY-MM-DD.csv      manifests/daily/dt=YYYY-MM-DD.json
    usage/monthly/month=YYYY-MM/usage-YYYY-MM.csv       manifests/monthly/month=YYYY-MM.json

The CSV is RFC 4180 (``\\r\\n``, minimal quoting), UTF-8 without a BOM, with a header row; numbers are plain
digits and cost is fixed-point with 10 decimals. The same rows always give the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from overspill.exports.periods import Period, PeriodKind
from overspill.exports.rows import PeriodUsage, UsageRow
from overspill.usage.rollups import Counters

# Spelled out (not derived from Counters) because finance's queries depend on this order, never on ours.
VALUE_COLUMNS = ("requests", "errors", "input_tokens", "output_tokens", "cache_write_5m_tokens",
                 "cache_write_1h_tokens", "cache_read_tokens", "cost_usd", "unpriced_requests")
KEY_COLUMNS = ("user_id", "user_name", "team", "cost_center", "model", "route")
_PERIOD_COLUMN = {PeriodKind.DAILY: "date", PeriodKind.MONTHLY: "month"}
_PARTITION = {PeriodKind.DAILY: "dt", PeriodKind.MONTHLY: "month"}
_COST_QUANTUM = Decimal("1E-10")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
MANIFEST_CONTENT_TYPE = "application/json"


def columns(kind: PeriodKind) -> tuple[str, ...]:
    return (_PERIOD_COLUMN[kind], *KEY_COLUMNS, *VALUE_COLUMNS)


def csv_key(period: Period) -> str:
    return f"usage/{period.kind}/{_PARTITION[period.kind]}={period.label}/usage-{period.label}.csv"


def manifest_key(period: Period) -> str:
    return f"manifests/{period.kind}/{_PARTITION[period.kind]}={period.label}.json"


def format_usd(amount: Decimal) -> str:
    """Fixed-point, exactly 10 decimals, never an exponent (``Decimal`` all the way, never a float)."""
    return format(amount.quantize(_COST_QUANTUM, rounding=ROUND_HALF_EVEN), "f")


def render_csv(kind: PeriodKind, rows: list[UsageRow]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns(kind))
    for row in rows:
        writer.writerow((row.period, row.user_id, row.user_name or "", row.team, row.cost_center or "", row.model,
                         row.route, *_values(row.counters)))
    return buffer.getvalue().encode("utf-8")


def _values(counters: Counters) -> list[str | int]:
    return [format_usd(counters.cost_usd) if name == "cost_usd" else getattr(counters, name)
            for name in VALUE_COLUMNS]


def totals_document(counters: Counters) -> dict[str, int | str]:
    """The totals as JSON: counts as numbers, money as a string (JSON numbers are floats to most readers)."""
    return dict(zip(VALUE_COLUMNS, _values(counters), strict=True))


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One period's CSV and manifest, rendered and ready to write."""

    period: Period
    csv_key: str
    csv: bytes
    manifest_key: str
    manifest: bytes
    row_count: int
    events: int
    totals: Counters
    complete: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.csv).hexdigest()


def render(usage: PeriodUsage, *, usage_table: str, read_started_at: datetime, generated_at: datetime) -> ExportFile:
    """The period's files. ``complete`` says whether the period had settled when its events were first read:
    a later export of the same period may still find late events before then."""
    period = usage.period
    rows = usage.rows()
    totals = usage.totals()
    body = render_csv(period.kind, rows)
    complete = period.final_at(read_started_at)
    document: dict[str, Any] = {
        "kind": str(period.kind),
        "period": period.label,
        "csv_key": csv_key(period),
        "columns": list(columns(period.kind)),
        "row_count": len(rows),
        "totals": totals_document(totals),
        "csv_sha256": hashlib.sha256(body).hexdigest(),
        "csv_bytes": len(body),
        "generated_at": _iso(generated_at),
        "source": {
            "usage_table": usage_table,
            "from": _iso(period.start),
            "to": _iso(period.end),          # exclusive
            "events_read": usage.events,
        },
        "complete": complete,
    }
    manifest = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return ExportFile(period, csv_key(period), body, manifest_key(period), manifest, len(rows), usage.events,
                      totals, complete)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
