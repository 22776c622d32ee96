"""Whatever the events and however the stream delivers them — batches twice, in any order, records failing and
delivered again — every rollup row equals the exact sum of its events."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType

from overspill.config import Settings
from overspill.local.provision import create_tables
from overspill.store.models import bind_models
from overspill.store.rollups import RollupRepository
from overspill.usage.events import TokenUsage, UsageEvent
from overspill.usage.rollup_stream import FailureQueue, RollupStream
from tests.integration.test_rollup_function import (
    expected_rows,
    markers,
    record_usage,
    sequence_number,
    stored_rows,
    stream_records,
)
from tests.support.gateway import TEST_AWS_ENV

MONTH_END = datetime(2026, 1, 30, tzinfo=UTC)  # three days: Jan 30, Jan 31, Feb 1
USERS = ("usr_ada", "usr_bob", "usr_cy")


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch):
    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def _moto_sums_below_a_millionth(monkeypatch):
    """moto 5.2 writes a sum below 1e-6 as ``1E-7`` and then cannot add to it (``int('1E-7')``); DynamoDB has no
    such trouble. Its sums are made plain decimals here so that tiny costs can be tested at all."""
    def add(self: DynamoType, other: DynamoType) -> DynamoType:
        if not (self.is_number() and other.is_number()):
            return original(self, other)
        return DynamoType({"N": format(Decimal(self.value) + Decimal(other.value), "f")})

    original = DynamoType.__add__
    monkeypatch.setattr(DynamoType, "__add__", add)


def token_usage() -> st.SearchStrategy[TokenUsage]:
    def build(input_tokens, output_tokens, cache_write, one_hour, cache_read) -> TokenUsage:
        return TokenUsage(input_tokens, output_tokens, cache_write, cache_read,
                          None if one_hour is None else cache_write - min(one_hour, cache_write),
                          None if one_hour is None else min(one_hour, cache_write))
    counts = st.integers(min_value=0, max_value=2_000_000)
    return st.builds(build, counts, counts, counts, st.none() | counts, counts)


@st.composite
def usage_events(draw) -> list[UsageEvent]:
    count = draw(st.integers(min_value=1, max_value=9))
    # A user's team is fixed within a run: a user_day row keeps the team of its latest event.
    teams = {user: draw(st.sampled_from(["platform", "data", None])) for user in USERS}
    events = []
    for number in range(count):
        user = draw(st.sampled_from(USERS))
        route = draw(st.sampled_from(["plan", "bedrock"]))
        cost = draw(st.none() | st.decimals(min_value=0, max_value=100, places=10, allow_nan=False))
        events.append(UsageEvent(
            request_id=f"req-{number:04d}",
            occurred_at=MONTH_END + timedelta(seconds=draw(st.integers(min_value=0, max_value=3 * 86400 - 1))),
            user_id=user,
            key_prefix="ak_abcdefg", route=route, endpoint="messages",
            status=draw(st.sampled_from([200, 200, 200, 400, 429, 500, 529])),
            streamed=draw(st.booleans()), duration_ms=draw(st.floats(min_value=0, max_value=900_000)),
            model=draw(st.sampled_from(["claude-opus-4-8", "claude-haiku-4-5-20251001", None])),
            team=teams[user],
            fallback_reason=draw(st.sampled_from(["plan_limit", "overloaded", None])) if route == "bedrock" else None,
            tokens=draw(token_usage()), cost_usd=cost, cost_known=cost is not None,
        ))
    return events


@st.composite
def deliveries(draw, records: int) -> dict[str, Any]:
    """How the stream hands the records over: batch boundaries, which batches come twice, the order within each
    delivery, and which records fail (before or after their write landed) the first time they are tried."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=max(records - 1, 1)), max_size=4)))
    return {
        "cuts": [c for c in cuts if c < records],
        "twice": draw(st.sets(st.integers(min_value=0, max_value=4))),
        "shuffle_seed": draw(st.integers(min_value=0, max_value=2**16)),
        "fail_before": draw(st.sets(st.integers(min_value=0, max_value=records - 1), max_size=3)),
        "fail_after": draw(st.sets(st.integers(min_value=0, max_value=records - 1), max_size=3)),
    }


class FlakyRollups(RollupRepository):
    """Fails chosen events once: before writing (throttled) or after (the answer was lost on the way back)."""

    def __init__(self, fail_before: set[str], fail_after: set[str]) -> None:
        self.fail_before, self.fail_after = set(fail_before), set(fail_after)

    def apply(self, event: UsageEvent) -> bool:
        if event.request_id in self.fail_before:
            self.fail_before.discard(event.request_id)
            raise ConnectionError("throttled (simulated)")
        applied = super().apply(event)
        if event.request_id in self.fail_after:
            self.fail_after.discard(event.request_id)
            raise TimeoutError("read timeout after the write (simulated)")
        return applied


def deliver_like_lambda(stream: RollupStream, batch: list[dict[str, Any]], rng: random.Random) -> None:
    """Invoke until the batch is through, each time from the first reported failure, as the event source mapping
    does."""
    pending = batch
    for _ in range(20):
        shuffled = pending[:]
        rng.shuffle(shuffled)
        failures = stream.process({"Records": shuffled})["batchItemFailures"]
        if not failures:
            return
        failed = {f["itemIdentifier"] for f in failures}
        pending = pending[min(i for i, record in enumerate(pending) if sequence_number(record) in failed):]
    raise AssertionError("the batch never went through")


@contextmanager
def fresh_aws() -> Iterator[Settings]:
    with mock_aws():
        settings = Settings()
        create_tables(settings)
        bind_models(settings)
        yield settings


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(events=usage_events(), data=st.data())
def test_rollups_equal_the_exact_sums_of_the_events_whatever_the_delivery(events, data):
    with fresh_aws() as aws:
        records = stream_records(aws, record_usage(events))
        assert len(records) == len(events)
        plan = data.draw(deliveries(len(records)))
        ids = [record["dynamodb"]["Keys"]["request_id"]["S"] for record in records]
        stream = RollupStream(FlakyRollups({ids[i] for i in plan["fail_before"]}, {ids[i] for i in plan["fail_after"]}),
                              FailureQueue(None, None))
        rng = random.Random(plan["shuffle_seed"])
        bounds = [0, *plan["cuts"], len(records)]
        for index, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
            deliver_like_lambda(stream, records[start:end], rng)
            if index in plan["twice"]:
                deliver_like_lambda(stream, records[start:end], rng)

        assert stored_rows() == expected_rows(events)
        assert markers() == set(ids)
