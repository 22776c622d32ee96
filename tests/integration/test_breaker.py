"""The breaker over time (an injectable clock) and under concurrency (instances racing for one probe),
on a real DynamoDB table (moto)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from overspill.breaker import BreakerService, BreakerState, Route
from overspill.fallback import FallbackReason, FallbackSignal
from overspill.store.breakers import BreakerRepository
from tests.support.breakers import START, Clock, breaker_table, instance, settle


class AtomicWrites(BreakerRepository):
    """DynamoDB applies a conditional write atomically per item. moto in-process checks the condition and then writes,
    in Python, so two threads can both pass the check (seen in CI: two probes). Writes are serialised here, as
    DynamoDB does them, so that the race under test is ours, not moto's."""

    _lock = threading.Lock()

    def replace(self, new, *, expected_revision: int) -> bool:
        with self._lock:
            return super().replace(new, expected_revision=expected_revision)


@pytest.fixture
def table():
    with breaker_table(AtomicWrites) as repository:
        yield repository


@pytest.fixture
def clock():
    return Clock()


def plan_limit(clock, seconds=3600) -> FallbackSignal:
    return FallbackSignal(FallbackReason.PLAN_LIMIT, 429, clock.now + timedelta(seconds=seconds))


def test_plan_limit_opens_until_the_reset_then_one_probe_closes_it(table, clock):
    breakers = instance(table, clock)
    first = breakers.decide("u1")
    assert first.route is Route.PLAN
    settle(breakers.plan_failed(first, plan_limit(clock)))
    stored = table.get("u1", consistent=True)
    assert (stored.state, stored.reason, stored.last_status, stored.trips) == (BreakerState.OPEN, "plan_limit", 429, 1)
    assert stored.open_until == START + timedelta(seconds=3600)

    clock.advance(3599)
    assert breakers.decide("u1").route is Route.BEDROCK
    clock.advance(2)
    probe = breakers.decide("u1")
    assert probe.route is Route.PROBE
    assert table.get("u1", consistent=True).state is BreakerState.HALF_OPEN
    assert breakers.decide("u1").route is Route.BEDROCK  # while the probe is out, others stay on Bedrock
    settle(breakers.plan_answered(probe))
    assert table.get("u1", consistent=True).state is BreakerState.CLOSED
    assert breakers.decide("u1").route is Route.PLAN


def test_failed_probe_reopens(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 60)))
    clock.advance(61)
    probe = breakers.decide("u1")
    assert probe.route is Route.PROBE
    settle(breakers.plan_failed(probe, plan_limit(clock, 1800)))
    stored = table.get("u1", consistent=True)
    assert stored.state is BreakerState.OPEN and stored.open_until == clock.now + timedelta(seconds=1800)
    assert stored.trips == 2


def test_probe_lease_expires_if_the_prober_vanished(table, clock):
    breakers = instance(table, clock)
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 10)))
    clock.advance(11)
    assert breakers.decide("u1").route is Route.PROBE  # ... and that instance died
    clock.advance(30)
    assert breakers.decide("u1").route is Route.BEDROCK
    clock.advance(31)
    assert breakers.decide("u1").route is Route.PROBE


def test_repeated_failures_within_the_window_open_for_the_cooldown(table, clock):
    breakers = instance(table, clock)
    server_error = FallbackSignal(FallbackReason.SERVER_ERROR, 503)
    for _ in range(2):
        settle(breakers.plan_failed(breakers.decide("u1"), server_error))
        clock.advance(10)
    assert table.get("u1", consistent=True).state is BreakerState.CLOSED  # no write below the threshold
    settle(breakers.plan_failed(breakers.decide("u1"), FallbackSignal(FallbackReason.OVERLOADED, 529)))
    stored = table.get("u1", consistent=True)
    assert (stored.state, stored.reason, stored.failures) == (BreakerState.OPEN, "overloaded", 3)
    assert stored.open_until == clock.now + timedelta(seconds=120)


def test_failures_spread_beyond_the_window_do_not_open(table, clock):
    breakers = instance(table, clock)
    for _ in range(5):
        settle(breakers.plan_failed(breakers.decide("u1"), FallbackSignal(FallbackReason.TIMEOUT, None)))
        clock.advance(31)
    assert table.get("u1", consistent=True).state is BreakerState.CLOSED


def test_a_good_answer_resets_the_failure_count(table, clock):
    breakers = instance(table, clock)
    for _ in range(2):
        settle(breakers.plan_failed(breakers.decide("u1"), FallbackSignal(FallbackReason.SERVER_ERROR, 500)))
    settle(breakers.plan_answered(breakers.decide("u1")))
    settle(breakers.plan_failed(breakers.decide("u1"), FallbackSignal(FallbackReason.SERVER_ERROR, 500)))
    assert table.get("u1", consistent=True).state is BreakerState.CLOSED


def test_reads_and_writes(table, clock):
    calls = {"get": 0, "replace": 0}
    real_get, real_replace = table.get, table.replace

    def get(*a, **k):
        calls["get"] += 1
        return real_get(*a, **k)

    def replace(*a, **k):
        calls["replace"] += 1
        return real_replace(*a, **k)

    table.get, table.replace = get, replace
    breakers = instance(table, clock)
    for _ in range(10):
        breakers.decide("u1")  # closed, cached for 5 s: one read
    assert calls == {"get": 1, "replace": 0}
    settle(breakers.plan_failed(breakers.decide("u1"), plan_limit(clock, 600)))
    assert calls["replace"] == 1
    for _ in range(10):
        clock.advance(10)
        assert breakers.decide("u1").route is Route.BEDROCK  # open: served from this instance's copy ...
    assert calls == {"get": 1 + 3, "replace": 1}  # ... re-read every 30 s, in case an admin reset it


def test_instances_racing_after_the_reset_send_exactly_one_probe(table, clock):
    opener = instance(table, clock)
    settle(opener.plan_failed(opener.decide("u1"), plan_limit(clock, 60)))
    instances = [instance(table, clock) for _ in range(8)]
    for each in instances:
        each.decide("u1")  # every instance has seen it open
    clock.advance(61)
    routes: list[Route] = []
    barrier = threading.Barrier(len(instances))

    def race(each: BreakerService) -> None:
        barrier.wait()
        routes.append(each.decide("u1").route)

    threads = [threading.Thread(target=race, args=(each,)) for each in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(routes).count(Route.PROBE) == 1
    assert routes.count(Route.BEDROCK) == len(instances) - 1


def test_an_instance_opening_with_a_stale_copy_still_opens(table, clock):
    a, b = instance(table, clock), instance(table, clock)
    seen_by_b = b.decide("u1")
    settle(a.plan_failed(a.decide("u1"), plan_limit(clock, 60)))
    settle(b.plan_failed(seen_by_b, plan_limit(clock, 7200)))  # b's copy is stale: it must re-read and extend
    stored = table.get("u1", consistent=True)
    assert stored.open_until == clock.now + timedelta(seconds=7200)


def test_opening_takes_effect_here_at_once_and_is_written_after_the_response(table, clock):
    breakers = instance(table, clock)
    write = breakers.plan_failed(breakers.decide("u1"), plan_limit(clock))
    assert breakers.decide("u1").route is Route.BEDROCK  # this instance follows it before any write
    assert table.get("u1", consistent=True).state is BreakerState.CLOSED
    write()  # the proxy runs it once the developer's response has ended
    assert table.get("u1", consistent=True).state is BreakerState.OPEN
