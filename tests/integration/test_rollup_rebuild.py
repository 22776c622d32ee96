"""Rebuilding rollups from the raw usage events: the same rows the stream produced, repairs of damaged days and
their months, and refusals of days that cannot be rebuilt (yet)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from moto import mock_aws

from overspill.config import Settings
from overspill.local.provision import create_tables
from overspill.store.models import UsageRollupModel, bind_models
from overspill.store.rollups import RebuildRangeError, RollupRepository
from overspill.usage.events import UsageEvent
from overspill.usage.rollup_stream import FailureQueue, RollupStream
from overspill.usage.rollups import Kind, RollupKey
from tests.integration.test_rollup_function import (
    expected_rows,
    record_usage,
    stored_rows,
    stream_records,
    usage_event,
)
from tests.support.gateway import TEST_AWS_ENV

JAN_30 = datetime(2026, 1, 30, tzinfo=UTC)
NOW = datetime(2026, 2, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch) -> Iterator[Settings]:
    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        settings = Settings()
        create_tables(settings)
        bind_models(settings)
        yield settings


def three_days_of_usage() -> list[UsageEvent]:
    """Jan 30 to Feb 1: two users (one without a team), both routes, an unpriced model, errors."""
    events = []
    for number in range(36):
        user, team = ("usr_ada", "platform") if number % 3 else ("usr_bob", None)
        bedrock = number % 4 == 0
        events.append(usage_event(
            number, occurred_at=JAN_30 + timedelta(hours=2 * number, minutes=7), user_id=user, team=team,
            route="bedrock" if bedrock else "plan", fallback_reason="plan_limit" if bedrock else None,
            model="claude-haiku-4-5-20251001" if number % 5 == 0 else "claude-opus-4-8",
            status=500 if number % 7 == 0 else 200,
            cost_usd=None if number % 11 == 0 else Decimal("0.0000001234") * (number + 1),
            cost_known=number % 11 != 0))
    return events


def stream_apply(settings: Settings, events: list[UsageEvent]) -> None:
    records = stream_records(settings, record_usage(events))
    response = RollupStream(RollupRepository(), FailureQueue(None, None)).process({"Records": records})
    assert response == {"batchItemFailures": []}


def rebuild(first: date, last: date, now: datetime = NOW):
    return RollupRepository().rebuild(first, last, now=now)


def test_a_rebuild_gives_exactly_the_rows_the_stream_gave(aws):
    events = three_days_of_usage()
    stream_apply(aws, events)
    from_stream = stored_rows()
    assert from_stream == expected_rows(events)

    days_seen: list[date] = []
    summary = RollupRepository().rebuild(date(2026, 1, 30), date(2026, 2, 1), progress=days_seen.append, now=NOW)
    assert stored_rows() == from_stream
    assert days_seen == [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)]
    assert (summary.days, summary.events, summary.skipped_events) == (3, 36, 0)
    assert summary.day_rows_deleted == summary.month_rows_written == summary.month_rows_deleted == 0
    assert summary.day_rows_written == len([row for row in from_stream if "#month#" not in row[1]
                                            and not row[1].startswith("month#")])


def test_a_rebuild_repairs_a_corrupted_a_missing_and_an_invented_row(aws):
    events = three_days_of_usage()
    stream_apply(aws, events)
    ada_day = RollupKey(Kind.USER_DAY, "2026-01-31", user_id="usr_ada", model="claude-opus-4-8", route="plan")
    UsageRollupModel(ada_day.pk, ada_day.sk).update(actions=[UsageRollupModel.requests.add(5),
                                                             UsageRollupModel.cost_usd.add(Decimal("9.99"))])
    UsageRollupModel("org", "day#2026-01-31#route#plan").delete()
    ghost = RollupKey(Kind.TEAM_DAY, "2026-01-31", team="ghosts", route="plan")
    UsageRollupModel(ghost.pk, ghost.sk, kind=str(ghost.kind), kind_period=ghost.kind_period, period="2026-01-31",
                     team="ghosts", route="plan", requests=3, cost_usd=Decimal("1")).save()
    ghost_month = RollupKey(Kind.TEAM_MONTH, "2026-01", team="ghosts", route="plan")
    UsageRollupModel(ghost_month.pk, ghost_month.sk, kind=str(ghost_month.kind), kind_period=ghost_month.kind_period,
                     period="2026-01", team="ghosts", route="plan", requests=3, cost_usd=Decimal("1")).save()
    assert stored_rows() != expected_rows(events)

    summary = rebuild(date(2026, 1, 31), date(2026, 1, 31))
    assert stored_rows() == expected_rows(events)
    assert summary.day_rows_deleted == 1 and summary.month_rows_deleted == 1
    assert RollupRepository().month_by_route("team#ghosts", "2026-01") == {}


def test_a_rebuild_recomputes_the_months_of_its_days_from_all_their_day_rows(aws):
    events = three_days_of_usage()
    stream_apply(aws, events)
    month = RollupKey(Kind.USER_MONTH, "2026-01", user_id="usr_ada", route="plan")
    UsageRollupModel(month.pk, month.sk).update(actions=[UsageRollupModel.output_tokens.set(1)])
    UsageRollupModel("team#", "month#2026-01#route#bedrock").delete()

    summary = rebuild(date(2026, 1, 31), date(2026, 1, 31))
    # The month holds Jan 30 (not rebuilt) as well as Jan 31.
    assert stored_rows() == expected_rows(events)
    assert summary.month_rows_written == 2
    january = RollupRepository().month_by_route("user#usr_ada", "2026-01")
    assert january["plan"].requests == sum(1 for e in events if e.user_id == "usr_ada" and e.route == "plan"
                                           and e.occurred_at.month == 1)


def test_an_event_applied_while_its_month_is_recomputed_is_not_lost(aws, monkeypatch):
    events = three_days_of_usage()
    stream_apply(aws, events)
    late = usage_event(900, occurred_at=datetime(2026, 2, 3, 11, 0, tzinfo=UTC), user_id="usr_ada", team="platform")
    month = RollupKey(Kind.USER_MONTH, "2026-02", user_id="usr_ada", route="plan")
    UsageRollupModel(month.pk, month.sk).update(actions=[UsageRollupModel.output_tokens.set(1)])  # to be repaired
    original_query = UsageRollupModel.query
    pending = [late]

    def query(hash_key, range_key_condition=None, *args, **kwargs):
        rows = original_query(hash_key, range_key_condition, *args, **kwargs)
        prefix = range_key_condition.values[1].value["S"] if range_key_condition is not None else ""
        yield from rows
        if pending and hash_key == "user#usr_ada" and prefix == "day#2026-02-":
            # The stream applies an event of today after the rebuild read the day rows, before it writes the month.
            RollupRepository().apply(pending.pop())

    monkeypatch.setattr(UsageRollupModel, "query", query)
    rebuild(date(2026, 2, 1), date(2026, 2, 1))
    monkeypatch.undo()
    assert not pending
    assert stored_rows() == expected_rows([*events, late])


def test_days_are_rebuilt_only_once_they_have_settled(aws):
    with pytest.raises(RebuildRangeError, match="reversed: 2026-02-01 comes after 2026-01-30"):
        rebuild(date(2026, 2, 1), date(2026, 1, 30))
    with pytest.raises(RebuildRangeError, match="2026-02-04 is in the future"):
        rebuild(date(2026, 2, 1), date(2026, 2, 4))
    with pytest.raises(RebuildRangeError, match="2026-02-03 has not ended yet"):
        rebuild(date(2026, 2, 3), date(2026, 2, 3))
    half_past_midnight = datetime(2026, 2, 4, 0, 30, tzinfo=UTC)
    with pytest.raises(RebuildRangeError, match="2026-02-03 ended less than 1 hour ago.*after 2026-02-04 01:00 UTC"):
        rebuild(date(2026, 2, 1), date(2026, 2, 3), now=half_past_midnight)
    assert rebuild(date(2026, 2, 3), date(2026, 2, 3), now=datetime(2026, 2, 4, 1, 0, tzinfo=UTC)).days == 1


def test_days_whose_events_may_have_expired_are_refused_not_emptied(aws):
    events = three_days_of_usage()
    stream_apply(aws, events)
    with pytest.raises(RebuildRangeError, match="2026-01-30 is too old: usage events are kept 4 days"):
        RollupRepository().rebuild(date(2026, 1, 30), date(2026, 1, 31), now=NOW, retention=timedelta(days=4))
    assert stored_rows() == expected_rows(events)
    summary = RollupRepository().rebuild(date(2026, 1, 31), date(2026, 1, 31), now=NOW, retention=timedelta(days=4))
    assert summary.events == 12


def test_rebuilding_a_day_without_usage_changes_nothing(aws):
    events = three_days_of_usage()
    stream_apply(aws, events)
    summary = rebuild(date(2026, 1, 29), date(2026, 1, 29))
    assert (summary.events, summary.day_rows_written, summary.day_rows_deleted) == (0, 0, 0)
    assert stored_rows() == expected_rows(events)
