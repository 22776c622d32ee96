"""Settings and fixtures for every test tier."""

import io
import logging
import os
from collections.abc import Iterator

import pytest

# EMF metric lines are printed on stdout; tests that check metrics switch them back on themselves.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from tests.support.moto_atomic import make_writes_atomic  # noqa: E402

make_writes_atomic()  # moto in-process, as DynamoDB: a conditional write's check and write happen as one


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the overspill logger writes during the test, formatted as in production (JSON lines)."""
    from overspill.observability import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
