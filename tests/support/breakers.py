"""The breaker under test: an injectable clock, instances of BreakerService on one real table (moto), and the
deferred writes settled by hand (the proxy runs them after the response)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from overspill.breaker import BreakerService
from overspill.config import Settings
from overspill.local.provision import create_tables
from overspill.store.breakers import BreakerRepository
from overspill.store.models import bind_models
from tests.support.gateway import TEST_AWS_ENV

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
OPEN_RECHECK_S = 30


class Clock:
    def __init__(self) -> None:
        self.now = START
        self.mono = 0.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


@contextmanager
def breaker_table(repository: type[BreakerRepository] = BreakerRepository) -> Iterator[BreakerRepository]:
    """A fresh breakers table on moto (in-process), and a repository of the given class over it."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in TEST_AWS_ENV.items():
            env.setenv(name, value)
        with mock_aws():
            settings = Settings()
            create_tables(settings)
            bind_models(settings)
            yield repository()


def instance(table: BreakerRepository, clock: Clock, **overrides: object) -> BreakerService:
    """One proxy instance's breaker service, with the deployment's defaults unless overridden."""
    options: dict = dict(cache_ttl_s=5, failure_threshold=3, failure_window=timedelta(seconds=60),
                         failure_cooldown=timedelta(seconds=120), probe_lease=timedelta(seconds=60),
                         open_recheck_s=OPEN_RECHECK_S)
    options.update(overrides)
    return BreakerService(table, clock=lambda: clock.now, monotonic=lambda: clock.mono, **options)


def settle(write) -> None:  # noqa: ANN001 - a PendingWrite or None
    """Run the breaker write the proxy defers until after the response."""
    if write is not None:
        write()
