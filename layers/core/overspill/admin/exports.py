"""Finance exports through the admin API: which files the exports bucket holds (read from their manifests, never
from the CSVs), a short-lived download link for one, and an on-demand run of the export function's own code.

A run here is the scheduled export's run (:class:`overspill.exports.service.Exporter`), so it writes the same
bytes; it is kept short (a month of days, a year of months) because it runs inside an API request."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import InvalidInput, NotFound
from overspill.admin.schemas import MONTH_PATTERN, checked_range
from overspill.config import Settings
from overspill.exports.destinations import ExportsBucket
from overspill.exports.files import csv_key, manifest_key
from overspill.exports.periods import ExportRequestError, Period, PeriodKind, parse_day
from overspill.exports.service import Exporter, ExportSummary
from overspill.observability import logger

DOWNLOAD_LIFETIME = timedelta(minutes=15)
LIST_MAX_DAYS = 366        # a year of daily files: one listing and a few hundred small reads
LIST_MAX_MONTHS = 36
RUN_MAX_DAYS = 31          # a run reads every event of its range within one API request
RUN_MAX_MONTHS = 12
_MANIFEST_READERS = 8      # manifests are read in parallel: a year of them in about a second


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One export as its manifest describes it."""

    kind: PeriodKind
    period: str
    csv_key: str
    rows: int
    events_read: int
    totals: dict[str, Any]       # the CSV's value columns summed: counts, and cost_usd as an exact decimal
    complete: bool
    generated_at: datetime
    csv_bytes: int
    sha256: str

    @classmethod
    def from_manifest(cls, body: bytes) -> ExportRecord:
        document = json.loads(body)
        totals = dict(document["totals"])
        totals["cost_usd"] = Decimal(totals["cost_usd"])
        return cls(
            kind=PeriodKind(document["kind"]), period=document["period"], csv_key=document["csv_key"],
            rows=int(document["row_count"]), events_read=int(document["source"]["events_read"]), totals=totals,
            complete=bool(document["complete"]),
            generated_at=datetime.fromisoformat(document["generated_at"].replace("Z", "+00:00")),
            csv_bytes=int(document["csv_bytes"]), sha256=document["csv_sha256"],
        )


@dataclass(frozen=True, slots=True)
class ExportListing:
    kind: PeriodKind
    first: date
    last: date
    items: list[ExportRecord]   # newest period first


@dataclass(frozen=True, slots=True)
class DownloadLink:
    url: str
    expires_at: datetime
    filename: str
    manifest_url: str


@dataclass(frozen=True, slots=True)
class ExportRun:
    kind: PeriodKind
    first: date
    last: date
    summary: ExportSummary
    written: list[ExportRecord]   # in the order written: each day, and a month after its last day


class ExportAdmin:
    def __init__(self, settings: Settings, audit: AuditLog) -> None:
        self.settings = settings
        self._audit = audit
        self._exporter = Exporter(settings)   # makes its clients on first use
        self._bucket: ExportsBucket | None = None

    @property
    def bucket(self) -> ExportsBucket:
        if self._bucket is None:
            self._bucket = ExportsBucket(self.settings)
        return self._bucket

    def today(self) -> date:
        return self._exporter.now().astimezone(UTC).date()

    # --- reading ----------------------------------------------------------------------------------------

    def list(self, kind: PeriodKind, first: date | None = None, last: date | None = None) -> ExportListing:
        """The exports of ``kind`` whose period lies in [first, last] (a monthly one: whose month does);
        by default the last 30 days or the last 12 months."""
        last = last or self.today()
        if kind is PeriodKind.DAILY:
            first = first or last - timedelta(days=29)
            checked_range(first, last, max_days=LIST_MAX_DAYS)
            periods = (Period.day(first), Period.day(last))
        else:
            first = first or _add_months(last.replace(day=1), -11)
            checked_range(first, last, max_days=100 * 366)   # reversed and future only: months are counted next
            months = _months_between(first, last)
            if months > LIST_MAX_MONTHS:
                raise InvalidInput("to", f"the range covers {months} months; at most {LIST_MAX_MONTHS} are allowed")
            periods = (Period.month(first.year, first.month), Period.month(last.year, last.month))
        # "manifests/daily/dt=2026-02-14" sorts just before that day's manifest and after the day before's.
        start, end = manifest_key(periods[0]), manifest_key(periods[1])
        keys = self.bucket.keys_between(start.rsplit("/", 1)[0] + "/", start.removesuffix(".json"), end)
        with ThreadPoolExecutor(max_workers=_MANIFEST_READERS) as pool:
            bodies = list(pool.map(self.bucket.read, keys))
        items = [record for key, body in zip(keys, bodies, strict=True)
                 if body is not None and (record := _record(key, body)) is not None]
        items.reverse()
        return ExportListing(kind, first, last, items)

    def download(self, kind: PeriodKind, period: str) -> DownloadLink:
        """Links to one export's CSV and manifest, good for :data:`DOWNLOAD_LIFETIME`; NotFound if there is none."""
        target = _period(kind, period)
        # The manifest is written after its CSV: with it present, the CSV is complete.
        if not self.bucket.exists(manifest_key(target)):
            raise NotFound(f"There is no {kind} export for {period}; an admin can run one with POST /api/exports.")
        data_key = csv_key(target)
        filename = data_key.rsplit("/", 1)[-1]
        # Stated from before signing, so the link works at least until then.
        expires_at = datetime.now(UTC).replace(microsecond=0) + DOWNLOAD_LIFETIME
        seconds = int(DOWNLOAD_LIFETIME.total_seconds())
        return DownloadLink(
            url=self.bucket.download_url(data_key, expires_in=seconds, filename=filename),
            expires_at=expires_at, filename=filename,
            manifest_url=self.bucket.download_url(manifest_key(target), expires_in=seconds,
                                                  filename=filename.removesuffix(".csv") + ".manifest.json"))

    # --- running ----------------------------------------------------------------------------------------

    def run(self, actor: Actor, kind: PeriodKind, first: str, last: str) -> ExportRun:
        """Export [first, last] as the export function would; InvalidInput naming ``from``/``to`` for a range
        it refuses or that is too long to run within a request (nothing is read or written then)."""
        first_day = _day(first, "from")
        last_day = _day(last, "to")
        try:
            export = self._exporter.plan(first_day, last_day)
        except ExportRequestError as error:
            # The exporter refuses, in this order: a reversed range, one ending in the future, one reaching back
            # beyond the events' retention; only the last is about where the range starts.
            field = "to" if first_day > last_day or last_day > self.today() else "from"
            raise InvalidInput(field, str(error)) from None
        if kind is PeriodKind.DAILY:
            if len(export.days) > RUN_MAX_DAYS:
                raise InvalidInput("to", f"the range covers {len(export.days)} days; a daily export runs at most "
                                         f"{RUN_MAX_DAYS} at a time (run longer ranges in parts)")
        else:
            if first_day.day != 1:
                raise InvalidInput("from", f"a monthly export starts on the first day of a month, e.g. "
                                           f"{first_day.replace(day=1)}")
            if _add_months(last_day.replace(day=1), 1) - timedelta(days=1) != last_day:
                raise InvalidInput("to", f"a monthly export ends on the last day of a month, e.g. "
                                         f"{_add_months(last_day.replace(day=1), 1) - timedelta(days=1)}")
            if len(export.months) > RUN_MAX_MONTHS:
                raise InvalidInput("to", f"the range covers {len(export.months)} months; a monthly export runs "
                                         f"at most {RUN_MAX_MONTHS} at a time (run longer ranges in parts)")
        summary = self._exporter.run(export)
        written = [ExportRecord.from_manifest(file.manifest) for file in summary.files]
        self._audit.record(actor, "export.run", "export", f"{kind}:{first_day}..{last_day}",
                           after=_audit_view(kind, summary))
        return ExportRun(kind, first_day, last_day, summary, written)


def _record(key: str, body: bytes) -> ExportRecord | None:
    try:
        return ExportRecord.from_manifest(body)
    except (ValueError, KeyError, TypeError, ArithmeticError):
        # Written only by the exporter; one unreadable manifest must not hide the others.
        logger.warning("export manifest unreadable", extra={"key": key})
        return None


def _audit_view(kind: PeriodKind, summary: ExportSummary) -> dict[str, Any]:
    result = summary.as_dict()
    files = result["files"]
    return {
        "kind": str(kind), "from": result["from"], "to": result["to"], "events_read": result["events_read"],
        "daily_files": sum(1 for f in files if f["kind"] == "daily"),
        "monthly_files": [f["period"] for f in files if f["kind"] == "monthly"],
        "cost_usd": result["totals"]["cost_usd"],
        "incomplete": [f"{f['kind']}:{f['period']}" for f in files if not f["complete"]],
    }


def _day(text: str, field: str) -> date:
    try:
        return parse_day(text, field)
    except ExportRequestError as error:
        raise InvalidInput(field, str(error)) from None


def _period(kind: PeriodKind, label: str) -> Period:
    if kind is PeriodKind.DAILY:
        try:
            return Period.day(parse_day(label))
        except ExportRequestError:
            raise InvalidInput("period", f"a daily export's period is a date written YYYY-MM-DD (e.g. 2026-02-14); "
                                         f"got {label!r}") from None
    if not MONTH_PATTERN.fullmatch(label):
        raise InvalidInput("period", f"a monthly export's period is a month written YYYY-MM (e.g. 2026-02); "
                                     f"got {label!r}")
    return Period.month(int(label[:4]), int(label[5:]))


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _months_between(first: date, last: date) -> int:
    """How many calendar months [first, last] touches."""
    return (last.year - first.year) * 12 + last.month - first.month + 1
