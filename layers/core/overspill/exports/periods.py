"""Which files a date range asks for — a daily file for every date, a monthly file for every calendar month the
range covers whole — and the ranges that are refused because they would write wrong or partial files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Usage events are written after the client's response closed: up to 15 minutes after a request started
# (plus index propagation). A period is final only once this much time has passed since its end.
SETTLING_TIME = timedelta(hours=1)


class ExportRequestError(ValueError):
    """An export cannot run as asked; the message says why and what to ask for instead."""


class PeriodKind(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    label: str          # YYYY-MM-DD (daily) or YYYY-MM (monthly)
    start: datetime     # UTC, inclusive
    end: datetime       # UTC, exclusive

    @classmethod
    def day(cls, day: date) -> Period:
        start = _midnight(day)
        return cls(PeriodKind.DAILY, day.isoformat(), start, start + timedelta(days=1))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        return cls(PeriodKind.MONTHLY, first.strftime("%Y-%m"), _midnight(first), _midnight(_next_month(first)))

    def final_at(self, moment: datetime) -> bool:
        """Whether every usage event of the period must have been written by ``moment``."""
        return moment >= self.end + SETTLING_TIME


@dataclass(frozen=True, slots=True)
class ExportRange:
    """The files one export writes: ``days`` in date order, and the ``months`` the range covers whole."""

    first: date
    last: date
    days: tuple[Period, ...]
    months: tuple[Period, ...]

    def month_of(self, day: date) -> Period | None:
        """The monthly file this day counts in, if the range covers its month whole."""
        label = day.strftime("%Y-%m")
        return next((month for month in self.months if month.label == label), None)


def parse_day(text: str, name: str = "") -> date:
    """A calendar date written YYYY-MM-DD (nothing else: no times, no other notations). ``name`` says which
    date it is in the error message."""
    subject = f"{name} {text!r}" if name else repr(text)
    if not isinstance(text, str) or not _DATE.fullmatch(text.strip()):
        raise ExportRequestError(f"{subject} is not a date written YYYY-MM-DD (e.g. 2026-03-01)")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ExportRequestError(f"{subject} is not a calendar date") from None


def plan_export(first: date, last: date, *, now: datetime, retention_days: int) -> ExportRange:
    """The files for [first, last] (both inclusive, UTC dates), or ExportRequestError when the range is refused."""
    today = now.astimezone(UTC).date()
    if first > last:
        raise ExportRequestError(f"the range is reversed: from {first} is after to {last}; "
                                 f"did you mean from {last} to {first}?")
    if last > today:
        raise ExportRequestError(f"the range ends in the future: {last} is after today ({today}, UTC); "
                                 f"export up to {today} at the latest (today's file is marked incomplete)")
    oldest = oldest_complete_day(now, retention_days)
    if first < oldest:
        raise ExportRequestError(
            f"{first} is older than the raw usage events are kept ({retention_days} days, "
            f"OVERSPILL_USAGE_TTL_DAYS): events before {oldest} may have expired, and exporting them again would "
            f"overwrite the files written while they were whole with smaller ones. The existing files are kept; "
            f"start the range at {oldest} or later")
    days = tuple(Period.day(first + timedelta(days=n)) for n in range((last - first).days + 1))
    months = []
    cursor = date(first.year, first.month, 1)
    while cursor <= last:
        following = _next_month(cursor)
        if cursor >= first and following - timedelta(days=1) <= last:
            months.append(Period.month(cursor.year, cursor.month))
        cursor = following
    return ExportRange(first, last, days, tuple(months))


def oldest_complete_day(now: datetime, retention_days: int) -> date:
    """The oldest day none of whose events can have expired: an event lives ``retention_days`` after it
    occurred, so a day is whole until ``retention_days`` after its first moment."""
    return now.astimezone(UTC).date() - timedelta(days=retention_days - 1)


def previous_day(now: datetime) -> tuple[date, date]:
    yesterday = now.astimezone(UTC).date() - timedelta(days=1)
    return yesterday, yesterday


def previous_month(now: datetime) -> tuple[date, date]:
    last = now.astimezone(UTC).date().replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)
