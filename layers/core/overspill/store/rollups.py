"""Rollup repository: the sums of usage events (see ``overspill.usage.rollups`` for the rows and keys).

Two writers keep the rows. ``apply`` adds one event as the usage table's stream delivers it, exactly once: a
marker item per event is written in the same transaction as the sums, so a redelivered event changes nothing.
``rebuild`` recomputes whole days from the raw events, for repairs.
"""

from __future__ import annotations

import calendar
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from overspill.observability import logger
from overspill.store.models import UsageEventModel, UsageRollupModel
from overspill.store.usage import to_event
from overspill.usage.events import UsageEvent
from overspill.usage.rollups import COUNTER_FIELDS, ORG_PK, Counters, Kind, RollupKey, keys_for, month_prefix

MARKER_SK = "applied"
# Stream records live 24 h, so a redelivery comes within a day of the write; the margin is for a stream that
# was stuck and caught up later. Counted from the event's own time so that a retried transaction carries
# exactly the same parameters (its ClientRequestToken would otherwise be refused as a mismatch).
MARKER_TTL = timedelta(days=30)
TRANSACTION_ATTEMPTS = 5
MONTH_ATTEMPTS = 8
# A usage event is written up to 15 minutes after its request started and reaches the stream soon after:
# a day is settled (its rows can be rebuilt from the raw events) an hour after it ended.
SETTLE_TIME = timedelta(hours=1)
DAY_KINDS = (Kind.USER_DAY, Kind.TEAM_DAY, Kind.ORG_DAY, Kind.FALLBACK_DAY)
# Idempotency tokens of an event's transactions are UUIDs named by the request id (the API takes at most 36
# characters).
_TOKEN_NAMESPACE = uuid.UUID("6f1b8a52-5d0c-4c47-9a53-0c8f2f6b7e11")
_RETRIED_CODES = {"TransactionConflict"}


class UncountableEvent(ValueError):
    """A usage item that cannot be counted: a required attribute is missing or of the wrong type."""


class RollupRejected(Exception):
    """DynamoDB refused an event's writes as invalid: delivering the same event again cannot succeed."""


class RollupContention(Exception):
    """A month's rows kept changing under a rebuild (live traffic); running it again will do."""


class RebuildRangeError(ValueError):
    """The days asked for cannot be rebuilt (yet); the message names them."""


@dataclass(slots=True)
class RebuildSummary:
    days: int = 0
    events: int = 0
    skipped_events: int = 0          # uncountable items (the stream sent them to the failure queue too)
    day_rows_written: int = 0
    day_rows_deleted: int = 0
    month_rows_written: int = 0
    month_rows_deleted: int = 0

    @property
    def rows_written(self) -> int:
        return self.day_rows_written + self.month_rows_written

    @property
    def rows_deleted(self) -> int:
        return self.day_rows_deleted + self.month_rows_deleted


class RollupRepository:
    def month_by_route(self, pk: str, month: str) -> dict[str, Counters]:
        """A user's or team's month (``pk`` from ``user_pk``/``team_pk``), per route; one strongly consistent
        Query."""
        rows = UsageRollupModel.query(pk, UsageRollupModel.sk.startswith(month_prefix(month)),
                                      consistent_read=True)
        return {row.route: counters_of(row) for row in rows if row.route}

    def period_rows(self, kind: Kind, period: str) -> list[tuple[RollupKey, Counters]]:
        """Every row of one kind for one day or month (all users' days, all teams' months, …): one ``by_period``
        Query, read page by page (eventually consistent, as index reads are)."""
        return self._keyed(UsageRollupModel.by_period.query(f"{kind}#{period}"))

    def day_rows(self, pk: str, start: date, end: date) -> list[tuple[RollupKey, Counters]]:
        """One user's, team's or the organisation's (``ORG_PK``) day rows from ``start`` to ``end`` inclusive:
        one Query of one partition, read page by page."""
        # "$" sorts right after "#": the upper bound takes every row of the last day and none of the next.
        return self._keyed(UsageRollupModel.query(pk, UsageRollupModel.sk.between(f"day#{start}", f"day#{end}$")))

    def fallback_rows(self, start: date, end: date) -> list[tuple[RollupKey, Counters]]:
        """The organisation's ``fallback_day`` rows (Bedrock answers by reason) from ``start`` to ``end``
        inclusive: one Query of the ``org`` partition, read page by page."""
        return self._keyed(UsageRollupModel.query(
            ORG_PK, UsageRollupModel.sk.between(f"fallback#{start}", f"fallback#{end}$")))

    @staticmethod
    def _keyed(rows: Iterable[UsageRollupModel]) -> list[tuple[RollupKey, Counters]]:
        return [(RollupKey(Kind(row.kind), row.period or "", user_id=row.user_id, team=row.team, model=row.model,
                           route=row.route, reason=row.reason), counters_of(row))
                for row in rows if row.kind in Kind.__members__.values()]

    def apply(self, event: UsageEvent) -> bool:
        """Add the event to every row it counts in, in one transaction with its marker. Returns False when the
        event was applied before (its marker exists): nothing changed.

        Raises ``RollupRejected`` when DynamoDB refuses the writes as invalid, and the DynamoDB error itself
        for anything that may pass on a later try (throttling, conflicts that outlasted the retries)."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            # The same token on every delivery of the event (and on botocore's own retries of a call whose answer
            # was lost: DynamoDB then answers success without writing twice); a new one for each retry after a
            # conflict, which must run the transaction again rather than be told its earlier outcome.
            token = str(uuid.uuid5(_TOKEN_NAMESPACE, event.request_id if attempt == 1 else
                                   f"{event.request_id}#{attempt}"))
            try:
                self._transact(event, token)
                return True
            except TransactWriteError as error:
                codes = {reason.code for reason in error.cancellation_reasons if reason is not None}
                if "ConditionalCheckFailed" in codes:
                    return False  # only the marker has a condition
                if error.cause_response_code == "ValidationException" or "ValidationError" in codes:
                    raise RollupRejected(f"DynamoDB refused the rollup of {event.request_id}: "
                                         f"{error.cause_response_message}") from error
                # Another event's transaction was on one of the same rows (the org's day row is on every
                # event's path): back off a random while and try again.
                retried = codes & _RETRIED_CODES or error.cause_response_code == "TransactionInProgressException"
                if not retried or attempt == TRANSACTION_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.025 * 2 ** attempt))  # nosec B311  # retry jitter, not a secret
        raise AssertionError("unreachable")

    def _transact(self, event: UsageEvent, token: str) -> None:
        counters = Counters.of_event(event)
        connection = UsageRollupModel._get_connection().connection
        with TransactWrite(connection=connection, client_request_token=token) as transaction:
            marker = UsageRollupModel(marker_pk(event.request_id), MARKER_SK,
                                      expires_at=event.occurred_at + MARKER_TTL)
            transaction.save(marker, condition=UsageRollupModel.pk.does_not_exist())
            for key in keys_for(event):
                actions = [getattr(UsageRollupModel, name).set(value) for name, value in dimensions(key).items()]
                actions += [getattr(UsageRollupModel, name).add(value)
                            for name, value in counters.as_dict().items()]
                transaction.update(UsageRollupModel(key.pk, key.sk), actions=actions)

    def forget_applied(self, request_ids: Iterable[str]) -> None:
        """Delete these events' markers. Only for the local run, once its stream can no longer deliver them again:
        moto never expires TTL items, and it copies the whole table for every transaction item, so markers kept
        for good would make each rollup slower than the last."""
        with UsageRollupModel.batch_write() as batch:
            for request_id in request_ids:
                batch.delete(UsageRollupModel(marker_pk(request_id), MARKER_SK))

    def rebuild(self, start: date, end: date, *, progress: Callable[[date], None] | None = None,
                now: datetime | None = None, retention: timedelta | None = None) -> RebuildSummary:
        """Recompute the rows of the days ``start``..``end`` (inclusive) from the raw usage events: every
        ``*_day`` row of those days is replaced (rows no event accounts for any more are deleted), then every
        touched month's ``user_month``/``team_month`` rows are recomputed from that month's day rows.

        Days must have ended at least an hour ago (``SETTLE_TIME``): until then the stream may still be
        delivering their events, and a stream write landing between the recount and the replacement would be
        lost. Month rows can still be live (this month's); they are replaced only on the condition that they did
        not change since they were read, and recomputed again when they did. With ``retention`` (the usage
        events' TTL), days whose events may have expired are refused too: their rows would be emptied.

        Markers are left alone. The rebuilt sums come from the raw events alone, whether or not an event's
        marker exists, and a settled day gets no more stream writes: an event that reaches the stream again
        (a redelivery within the stream's 24 hours) still finds its marker and is not added a second time. This
        holds while the stream is caught up; an event still waiting in a stuck stream when its day is rebuilt
        would be counted by the rebuild and then once more when the stream delivers it. The usage table's
        events are read through its ``by_day`` index one page at a time, never a whole day at once; only the
        sums (one per row) are held."""
        check_rebuild_range(start, end, now or datetime.now(UTC), retention=retention)
        summary = RebuildSummary()
        months: set[str] = set()
        for day in _days(start, end):
            self._rebuild_day(day.isoformat(), summary)
            summary.days += 1
            months.add(day.isoformat()[:7])
            if progress is not None:
                progress(day)
        for month in sorted(months):
            self._recompute_month(month, summary)
        return summary

    def _rebuild_day(self, day: str, summary: RebuildSummary) -> None:
        sums: dict[tuple[str, str], tuple[RollupKey, Counters]] = {}
        for item in UsageEventModel.by_day.query(day):
            try:
                event = countable_event(item)
            except UncountableEvent as error:
                summary.skipped_events += 1
                logger.warning("rollup rebuild: a usage event cannot be counted; left out",
                               extra={"request_id": item.request_id, "day": day, "error": str(error)})
                continue
            summary.events += 1
            counters = Counters.of_event(event)
            for key in keys_for(event):
                if key.kind not in DAY_KINDS:
                    continue
                total = sums[(key.pk, key.sk)][1] if (key.pk, key.sk) in sums else Counters()
                total.add(counters)
                # The index is in time order: a row's dimensions are its latest event's (the user's team as it
                # was then), as the stream leaves them.
                sums[(key.pk, key.sk)] = (key, total)
        with UsageRollupModel.batch_write() as batch:
            for key, counters in sums.values():
                batch.save(rollup_row(key, counters))
        summary.day_rows_written += len(sums)
        # Rows of the day that no event accounts for (a corrupted or invented row): gone.
        stale = [row for kind in DAY_KINDS
                 for row in UsageRollupModel.by_period.query(f"{kind}#{day}", attributes_to_get=["pk", "sk"])
                 if (row.pk, row.sk) not in sums]
        with UsageRollupModel.batch_write() as batch:
            for row in stale:
                batch.delete(row)
        summary.day_rows_deleted += len(stale)

    def _recompute_month(self, month: str, summary: RebuildSummary) -> None:
        owners: set[str] = set()
        for day in _days_of_month(month):
            for kind in (Kind.USER_DAY, Kind.TEAM_DAY):
                owners.update(row.pk for row in
                              UsageRollupModel.by_period.query(f"{kind}#{day}", attributes_to_get=["pk"]))
        for kind in (Kind.USER_MONTH, Kind.TEAM_MONTH):
            owners.update(row.pk for row in
                          UsageRollupModel.by_period.query(f"{kind}#{month}", attributes_to_get=["pk"]))
        for pk in sorted(owners):
            self._recompute_owner_month(pk, month, summary)

    def _recompute_owner_month(self, pk: str, month: str, summary: RebuildSummary) -> None:
        """One user's or team's month rows from their day rows (strongly consistent reads of one partition).
        Each row is written on the condition that its request count is still what was read before the day
        rows were: an event applied meanwhile changes both, and the month is read again."""
        for attempt in range(1, MONTH_ATTEMPTS + 1):
            current = {row.sk: row for row in UsageRollupModel.query(
                pk, UsageRollupModel.sk.startswith(month_prefix(month)), consistent_read=True)}
            sums: dict[str, tuple[RollupKey, Counters]] = {}
            for row in UsageRollupModel.query(pk, UsageRollupModel.sk.startswith(f"day#{month}-"),
                                              consistent_read=True):
                key = _month_key(pk, month, row.route)
                total = sums[key.sk][1] if key.sk in sums else Counters()
                total.add(counters_of(row))
                sums[key.sk] = (key, total)
            written = deleted = 0
            try:
                for sk, (key, counters) in sums.items():
                    row = current.get(sk)
                    if row is not None and counters_of(row) == counters and _dimensions_of(row) == dimensions(key):
                        continue
                    rollup_row(key, counters).save(condition=_unchanged_since_read(row))
                    written += 1
                for sk, row in current.items():
                    if sk not in sums:
                        row.delete(condition=_unchanged_since_read(row))
                        deleted += 1
            except (PutError, DeleteError) as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                summary.month_rows_written += written
                summary.month_rows_deleted += deleted
                if attempt == MONTH_ATTEMPTS:
                    raise RollupContention(f"the {month} rows of {pk} kept changing during the rebuild; "
                                           "run it again") from error
                time.sleep(random.uniform(0, 0.05 * 2 ** attempt))  # nosec B311  # retry jitter, not a secret
                continue
            summary.month_rows_written += written
            summary.month_rows_deleted += deleted
            return


def check_rebuild_range(start: date, end: date, now: datetime, *, retention: timedelta | None = None) -> None:
    """Refuse a range that is reversed, in the future, not settled yet (see ``SETTLE_TIME``) or, given the
    events' ``retention``, old enough for some of its events to have expired."""
    if start > end:
        raise RebuildRangeError(f"the range is reversed: {start} comes after {end}")
    today = now.astimezone(UTC).date()
    if retention is not None:
        # An event of day D expires from D + retention on: every event of the first kept day is still there.
        first_kept = (now - retention).astimezone(UTC).date() + timedelta(days=1)
        if start < first_kept:
            raise RebuildRangeError(
                f"{start} is too old: usage events are kept {retention.days} days, so some of its events may be "
                f"gone and rebuilding would lose what the rollups still count (the oldest day is {first_kept})")
    if end > today:
        raise RebuildRangeError(f"{end} is in the future (today is {today} UTC)")
    ended = datetime.combine(end + timedelta(days=1), time_of_day(), UTC)
    if ended > now:
        raise RebuildRangeError(f"{end} has not ended yet (it ends at {ended:%Y-%m-%d %H:%M} UTC)")
    if now - ended < SETTLE_TIME:
        raise RebuildRangeError(
            f"{end} ended less than {SETTLE_TIME.seconds // 3600} hour ago: its last usage events may still be on "
            f"their way through the stream; rebuild it after {ended + SETTLE_TIME:%Y-%m-%d %H:%M} UTC")


def usage_event_from_image(image: dict[str, Any]) -> UsageEvent:
    """The usage event of a usage-table item in DynamoDB JSON (a stream record's ``NewImage``)."""
    if not isinstance(image, dict):
        raise UncountableEvent(f"the record has no item image (got {type(image).__name__})")
    try:
        item = UsageEventModel.from_raw_data(image)
    except Exception as error:  # noqa: BLE001 - reading an image touches nothing else: any failure is the image's
        raise UncountableEvent(f"{type(error).__name__}: {error}") from error
    return countable_event(item)


def countable_event(item: UsageEventModel) -> UsageEvent:
    """The event of a stored item, or ``UncountableEvent`` naming what is missing or malformed."""
    try:
        item.serialize(null_check=True)  # every required attribute is present
    except (ValueError, TypeError) as error:
        raise UncountableEvent(str(error)) from error
    for name in ("status", "input_tokens", "output_tokens", "cache_creation_input_tokens",
                 "cache_read_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens"):
        value = getattr(item, name)
        if value is None and name in ("cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens"):
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UncountableEvent(f"{name} must be a whole number of at least 0, got {value!r}")
    if item.cost_usd is not None and (not item.cost_usd.is_finite() or item.cost_usd < 0):
        raise UncountableEvent(f"cost_usd must be a finite amount of at least 0, got {item.cost_usd}")
    try:
        return to_event(item)
    except Exception as error:  # noqa: BLE001 - as above: a pure conversion of the item
        raise UncountableEvent(f"{type(error).__name__}: {error}") from error


def counters_of(row: UsageRollupModel) -> Counters:
    values = {}
    for name in COUNTER_FIELDS:
        value = getattr(row, name)
        if name == "cost_usd":
            values[name] = value if value is not None else Decimal(0)
        else:
            values[name] = int(value or 0)
    return Counters(**values)


def dimensions(key: RollupKey) -> dict[str, str]:
    """The attributes that say what a row counts (absent ones are not written)."""
    values = {"kind": str(key.kind), "kind_period": key.kind_period, "period": key.period, "user_id": key.user_id,
              "team": key.team, "model": key.model, "route": key.route, "reason": key.reason}
    return {name: value for name, value in values.items() if value is not None}


def rollup_row(key: RollupKey, counters: Counters) -> UsageRollupModel:
    return UsageRollupModel(key.pk, key.sk, **dimensions(key), **counters.as_dict())


def marker_pk(request_id: str) -> str:
    return f"applied#{request_id}"


def _dimensions_of(row: UsageRollupModel) -> dict[str, str]:
    names = ("kind", "kind_period", "period", "user_id", "team", "model", "route", "reason")
    return {name: getattr(row, name) for name in names if getattr(row, name) is not None}


def _month_key(pk: str, month: str, route: str | None) -> RollupKey:
    if pk.startswith("user#"):
        return RollupKey(Kind.USER_MONTH, month, user_id=pk.removeprefix("user#"), route=route)
    return RollupKey(Kind.TEAM_MONTH, month, team=pk.removeprefix("team#") or None, route=route)


def _unchanged_since_read(row: UsageRollupModel | None) -> Condition:
    if row is None:
        return UsageRollupModel.pk.does_not_exist()
    if row.requests is None:
        return UsageRollupModel.requests.does_not_exist()
    # Every event adds 1 to ``requests``: an unchanged count means no event was applied since the read.
    return UsageRollupModel.requests == row.requests


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _days_of_month(month: str) -> Iterator[str]:
    year, number = int(month[:4]), int(month[5:7])
    for day in range(1, calendar.monthrange(year, number)[1] + 1):
        yield f"{month}-{day:02d}"
