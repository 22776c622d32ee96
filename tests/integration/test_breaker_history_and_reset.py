"""What an admin sees of a breaker (its last transitions) and what a reset does to proxy instances that hold a
copy saying "open": injectable clocks, the real repository on moto (the history must survive DynamoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from overspill.breaker import HISTORY_LIMIT, BreakerState, Route, reset
from overspill.config import Settings, SettingsError
from overspill.fallback import FallbackReason, FallbackSignal
from overspill.store.breakers import BreakerRepository
from tests.support.breakers import OPEN_RECHECK_S, Clock, breaker_table, instance, settle

RECHECK_S = OPEN_RECHECK_S


class CountingRepository(BreakerRepository):
    """The real repository, counting its DynamoDB calls (the request path's budget is part of the behaviour)."""

    def __init__(self) -> None:
        self.gets = self.writes = 0

    def get(self, user_id, *, consistent=False):
        self.gets += 1
        return super().get(user_id, consistent=consistent)

    def replace(self, new, *, expected_revision):
        self.writes += 1
        return super().replace(new, expected_revision=expected_revision)


@pytest.fixture
def table() -> Iterator[CountingRepository]:
    with breaker_table(CountingRepository) as repository:
        yield repository


@pytest.fixture
def clock() -> Clock:
    return Clock()


def plan_limit(clock, seconds=3600) -> FallbackSignal:
    return FallbackSignal(FallbackReason.PLAN_LIMIT, 429, clock.now + timedelta(seconds=seconds))


def admin_reset(table, user_id, clock) -> None:
    """What the admin API's reset writes (overspill.admin.breakers), from another process."""
    seen = BreakerRepository().get(user_id, consistent=True)
    assert BreakerRepository().replace(reset(seen, clock.now), expected_revision=seen.revision)


def cycle(breakers, clock, seconds=60) -> None:
    """Open on a plan limit, probe once it lifts, close on the probe's good answer: three transitions."""
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, seconds)))
    clock.advance(seconds + 1)
    probe = breakers.decide("u1")
    assert probe.route is Route.PROBE
    settle(breakers.plan_answered(probe))


# -- history ------------------------------------------------------------------------------------------------

def test_open_probe_and_close_are_each_recorded_in_the_write_that_makes_them(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 60)))
    opened_at = clock.now
    clock.advance(61)
    probe = breakers.decide("u1")
    settle(breakers.plan_answered(probe))

    history = table.get("u1", consistent=True).history
    assert [(t.state, t.reason, t.last_status) for t in history] == [
        (BreakerState.OPEN, "plan_limit", 429),
        (BreakerState.HALF_OPEN, "probe", None),
        (BreakerState.CLOSED, "probe_answered", None),
    ]
    assert history[0].at == opened_at and history[0].open_until == opened_at + timedelta(seconds=60)
    assert history[1].at == history[2].at == clock.now
    assert table.writes == 3  # one write per transition: the history costs no extra call


def test_a_failed_probe_is_recorded_as_a_reopening_with_its_reason(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 60)))
    clock.advance(61)
    probe = breakers.decide("u1")
    settle(breakers.plan_failed(probe, FallbackSignal(FallbackReason.OVERLOADED, 529)))

    last = table.get("u1", consistent=True).history[-1]
    assert (last.state, last.reason, last.last_status) == (BreakerState.OPEN, "overloaded", 529)
    assert last.open_until == clock.now + timedelta(seconds=120)


def test_history_keeps_only_the_latest_twenty_transitions(table, clock):
    breakers = instance(table, clock)
    for _ in range(8):  # 24 transitions
        cycle(breakers, clock)
    stored = table.get("u1", consistent=True)
    assert len(stored.history) == HISTORY_LIMIT == 20
    assert stored.history[-1].state is BreakerState.CLOSED and stored.history[-1].at == clock.now
    # the four oldest went: the kept ones start with the second cycle's probe
    assert [t.state for t in stored.history[:3]] == [BreakerState.HALF_OPEN, BreakerState.CLOSED,
                                                      BreakerState.OPEN]
    assert [t.at for t in stored.history] == sorted(t.at for t in stored.history)
    assert stored.trips == 8 and stored.revision == 24


def test_a_reset_closes_the_breaker_and_says_an_admin_did_it(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock)))
    clock.advance(5)
    admin_reset(table, "u1", clock)
    stored = table.get("u1", consistent=True)
    assert (stored.state, stored.open_until, stored.revision) == (BreakerState.CLOSED, None, 2)
    assert [(t.state, t.reason) for t in stored.history] == [(BreakerState.OPEN, "plan_limit"),
                                                              (BreakerState.CLOSED, "admin_reset")]
    assert stored.reason == "plan_limit"  # why it last opened stays readable


# -- a reset reaches instances holding an "open" copy ----------------------------------------------------------

def test_an_instance_holding_an_open_copy_follows_a_reset_after_the_recheck_interval_not_before(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 3600)))
    assert breakers.decide("u1").route is Route.BEDROCK
    admin_reset(table, "u1", clock)

    clock.advance(RECHECK_S - 1)
    assert breakers.decide("u1").route is Route.BEDROCK  # its copy is younger than the interval
    clock.advance(1)
    assert breakers.decide("u1").route is Route.PLAN     # re-read: the admin closed it, ~59 minutes early


def test_an_open_copy_is_read_once_per_recheck_interval_and_not_in_between(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 3600)))
    reads = table.gets
    for _ in range(RECHECK_S - 1):
        clock.advance(1)
        assert breakers.decide("u1").route is Route.BEDROCK
    assert table.gets == reads
    clock.advance(1)
    assert breakers.decide("u1").route is Route.BEDROCK  # still open in DynamoDB: stays on Bedrock
    assert table.gets == reads + 1


def test_a_recheck_interval_of_zero_reads_an_open_breaker_on_every_request(table, clock):
    breakers = instance(table, clock, open_recheck_s=0)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 3600)))
    reads = table.gets
    for _ in range(3):
        assert breakers.decide("u1").route is Route.BEDROCK
    assert table.gets == reads + 3


def test_an_opening_waiting_for_its_write_is_not_undone_by_a_recheck(table, clock):
    # A long Bedrock answer delays the opening's write; until then DynamoDB still says "closed".
    breakers = instance(table, clock)
    write = breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 3600))
    reads = table.gets
    clock.advance(RECHECK_S * 3)
    assert breakers.decide("u1").route is Route.BEDROCK  # not back to the limited plan
    assert table.gets == reads
    write()
    assert table.get("u1", consistent=True).state is BreakerState.OPEN


def test_the_recheck_interval_defaults_to_30_seconds_and_refuses_negatives():
    assert Settings().breaker_open_recheck_s == 30
    assert Settings.from_env({"OVERSPILL_BREAKER_OPEN_RECHECK_S": "0"}).breaker_open_recheck_s == 0
    with pytest.raises(SettingsError, match="OVERSPILL_BREAKER_OPEN_RECHECK_S"):
        Settings.from_env({"OVERSPILL_BREAKER_OPEN_RECHECK_S": "-1"})
