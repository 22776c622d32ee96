"""The export function's event: a schedule (``{"kind": "daily"}``: the previous UTC day; ``{"kind": "monthly"}``:
the previous calendar month, with its days) or an on-demand range (``{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}``).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from overspill.config import Settings
from overspill.exports.periods import ExportRequestError, previous_day, previous_month
from overspill.exports.service import Exporter
from overspill.observability import logger


class ScheduledExport(BaseModel):
    """EventBridge schedule target input."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["daily", "monthly"]

    def range_at(self, now: datetime) -> tuple[str, str]:
        first, last = previous_day(now) if self.kind == "daily" else previous_month(now)
        return first.isoformat(), last.isoformat()


class OnDemandExport(BaseModel):
    """An operator's invocation: both days inclusive, UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Checked as dates by the exporter, whose messages say what is wrong with which date.
    first: str = Field(alias="from")
    last: str = Field(alias="to")

    def range_at(self, now: datetime) -> tuple[str, str]:
        return self.first, self.last


_EXPORT_EVENT: TypeAdapter[ScheduledExport | OnDemandExport] = TypeAdapter(ScheduledExport | OnDemandExport)
_EXPECTED = '{"kind": "daily"}, {"kind": "monthly"} or {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}'


def parse_event(event: Any) -> ScheduledExport | OnDemandExport:
    try:
        return _EXPORT_EVENT.validate_python(event)
    except ValidationError:
        shown = sorted(event) if isinstance(event, dict) else type(event).__name__
        raise ExportRequestError(f"an export event is {_EXPECTED}; got {shown}") from None


_exporter: Exporter | None = None
_lock = threading.Lock()


def instance_exporter() -> Exporter:
    global _exporter
    if _exporter is None:
        with _lock:
            if _exporter is None:
                _exporter = Exporter(Settings.from_env())
    return _exporter


def handle_export_event(event: Any, exporter: Exporter | None = None) -> dict[str, Any]:
    """Run the export the event asks for; returns its summary. A refused request raises ExportRequestError
    (the invocation fails with its message; nothing is written)."""
    exporter = exporter or instance_exporter()
    try:
        request = parse_event(event)
        first, last = request.range_at(exporter.now())
        export = exporter.plan(first, last)
    except ExportRequestError as error:
        logger.warning("export refused", extra={"reason": str(error)})
        raise
    started = time.perf_counter()
    summary = exporter.run(export)
    result = summary.as_dict()
    logger.info("export written", extra={
        "from": result["from"], "to": result["to"], "files": len(result["files"]),
        "rows": sum(f["rows"] for f in result["files"] if f["kind"] == "daily"),
        "events_read": result["events_read"], "cost_usd": result["totals"]["cost_usd"],
        "incomplete": [f["period"] for f in result["files"] if not f["complete"]],
        "duration_s": round(time.perf_counter() - started, 3),
    })
    return result
