"""An export run: read each day of the range once, write its daily file, and the monthly file of every month
the range covers whole once that month's last day has been read.

Each event is read once and counted into its day and (when exported) its month; only the groups are held.
Files are written CSV first, manifest second, so a manifest always describes a CSV that is already there.
Re-running a range writes the same bytes (the manifests differ only in ``generated_at``) unless events
arrived since: that is how late events get into the files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from overspill.config import Settings
from overspill.exports.destinations import Destination, ExportsBucket
from overspill.exports.files import CSV_CONTENT_TYPE, MANIFEST_CONTENT_TYPE, ExportFile, render, totals_document
from overspill.exports.periods import ExportRange, Period, PeriodKind, parse_day, plan_export
from overspill.exports.rows import PeriodUsage
from overspill.exports.source import DayEvents
from overspill.usage.events import UsageEvent
from overspill.usage.rollups import Counters


class EventSource(Protocol):
    table: str

    def on(self, day: date) -> Iterable[UsageEvent]: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ExportSummary:
    first: date
    last: date
    files: list[ExportFile] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)

    @property
    def events_read(self) -> int:
        return sum(f.events for f in self.files if f.period.kind is PeriodKind.DAILY)

    def totals(self) -> Counters:
        total = Counters()
        for file in self.files:
            if file.period.kind is PeriodKind.DAILY:
                total.add(file.totals)
        return total

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: what the Lambda returns and the command prints (no names, only keys and counts)."""
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "destinations": self.destinations,
            "events_read": self.events_read,
            "totals": totals_document(self.totals()),
            "files": [{
                "kind": str(f.period.kind), "period": f.period.label, "csv_key": f.csv_key,
                "manifest_key": f.manifest_key, "rows": f.row_count, "events": f.events, "complete": f.complete,
                "sha256": f.sha256, "cost_usd": totals_document(f.totals)["cost_usd"],
            } for f in self.files],
        }


class Exporter:
    def __init__(self, settings: Settings, *, source: EventSource | None = None,
                 bucket: Destination | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._source = source
        self._bucket = bucket
        self._clock = clock

    @property
    def source(self) -> EventSource:
        if self._source is None:  # clients are made on first use: a refused request needs none
            self._source = DayEvents(self.settings)
        return self._source

    @property
    def bucket(self) -> Destination:
        if self._bucket is None:
            self._bucket = ExportsBucket(self.settings)
        return self._bucket

    def now(self) -> datetime:
        return self._clock()

    def plan(self, first: str | date, last: str | date) -> ExportRange:
        """The files for the range, or ExportRequestError (nothing read, nothing written)."""
        first_day = first if isinstance(first, date) else parse_day(first, "from")
        last_day = last if isinstance(last, date) else parse_day(last, "to")
        return plan_export(first_day, last_day, now=self._clock(), retention_days=self.settings.usage_ttl_days)

    def run(self, export: ExportRange, *, also_to: Sequence[Destination] = (),
            on_day_done: Callable[[Period], None] | None = None) -> ExportSummary:
        destinations = [self.bucket, *also_to]
        summary = ExportSummary(export.first, export.last, destinations=[d.describe() for d in destinations])
        for file in self._files(export, on_day_done):
            for destination in destinations:
                destination.put(file.csv_key, file.csv, CSV_CONTENT_TYPE)
                destination.put(file.manifest_key, file.manifest, MANIFEST_CONTENT_TYPE)
            summary.files.append(file)
        return summary

    def _files(self, export: ExportRange, on_day_done: Callable[[Period], None] | None) -> Iterator[ExportFile]:
        month: tuple[PeriodUsage, datetime] | None = None   # the month being summed, and when its reading began
        for day in export.days:
            read_started_at = self._clock()
            # Days come in order and a month is exported only when the range covers it whole, so the month
            # starts on its first day and ends with its last.
            if month is None and (month_period := export.month_of(day.start.date())) is not None:
                month = (PeriodUsage(month_period), read_started_at)
            usage = PeriodUsage(day)
            month_usage = month[0] if month is not None else None
            for event in self.source.on(day.start.date()):
                usage.add(event)
                if month_usage is not None:
                    month_usage.add(event)
            yield self._render(usage, read_started_at)
            if month is not None and month[0].period.end == day.end:
                yield self._render(*month)
                month = None
            if on_day_done is not None:
                on_day_done(day)

    def _render(self, usage: PeriodUsage, read_started_at: datetime) -> ExportFile:
        return render(usage, usage_table=self.source.table, read_started_at=read_started_at,
                      generated_at=self._clock())
