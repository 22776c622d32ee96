"""What an operator reads while DynamoDB is failing: the gateway goes on answering, and the writes and re-reads it
can do without (a breaker write, the price overrides' refresh) are logged as one WARNING with the AWS error code —
no ERROR, no traceback — so that an outage does not bury the lines that matter under stack traces."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from overspill.live_document import LiveDocument
from overspill.pricing.book import PriceBook
from overspill.store.config import PRICE_OVERRIDES, ConfigRepository
from tests.support.aws_faults import CONNECTION_REFUSED
from tests.support.fake_anthropic import Scenario
from tests.support.gateway import LocalGateway, wait_for_usage
from tests.support.logs import log_records, wait_for_logs


@pytest.fixture
def gateway(aws, anthropic, bedrock) -> Iterator[LocalGateway]:
    with LocalGateway(anthropic.url, bedrock.url, breaker_cache_ttl_s=0, aws_max_attempts=2) as gw:
        yield gw


def warning_once(captured_logs, message: str) -> dict[str, Any]:
    (record,) = wait_for_logs(captured_logs, lambda r: r["message"] == message)
    return record


def test_a_breaker_write_refused_by_dynamodb_is_one_warning_and_the_answer_still_comes(
        gateway, developer, aws, anthropic, bedrock, captured_logs):
    anthropic.enqueue(Scenario.plan_limit(int(time.time() + 3600)))
    fault = aws.fail("dynamodb", table=gateway.settings.breakers_table, operation="UpdateItem",
                     error="ThrottlingException")
    fault_put = aws.fail("dynamodb", table=gateway.settings.breakers_table, operation="PutItem",
                         error="ThrottlingException")
    response = httpx.post(developer.base_url(gateway) + "/v1/messages", timeout=30,
                          json={"model": "claude-opus-4-8", "max_tokens": 10,
                                "messages": [{"role": "user", "content": "hi"}]},
                          headers={"x-api-key": "sk-ant-api03-outage", "anthropic-version": "2023-06-01"})

    assert response.status_code == 200 and response.headers["x-overspill-route"] == "bedrock"
    wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert fault.calls + fault_put.calls >= 1  # the breaker's opening was tried, and refused
    warning = warning_once(captured_logs, "breaker write failed")
    assert (warning["level"], warning["error_code"]) == ("WARNING", "ThrottlingException")
    assert "exception" not in warning
    assert [r for r in log_records(captured_logs) if r["level"] == "ERROR"] == []


def test_price_overrides_unreadable_keep_the_last_good_prices_with_one_warning_per_refresh(
        gateway, aws, captured_logs):
    book = PriceBook(lambda: ConfigRepository().get(PRICE_OVERRIDES), ttl_s=0)  # as the proxy builds it
    before = book.table()
    aws.fail("dynamodb", table=gateway.settings.config_table, error=CONNECTION_REFUSED)

    assert book.table() == before  # the last good prices go on pricing requests
    warning = warning_once(captured_logs, "price overrides could not be read; keeping the last good one")
    assert (warning["level"], warning["error"]) == ("WARNING", "GetError")  # pynamodb's, around the refused connection
    assert "exception" not in warning
    assert [r for r in log_records(captured_logs) if r["level"] == "ERROR"] == []


def test_a_programming_error_while_refreshing_still_logs_its_traceback(captured_logs):
    def broken_loader() -> None:
        raise KeyError("a bug, not an outage")

    document = LiveDocument(broken_loader, lambda raw: raw, "initial", ttl_s=0, what="test document")
    assert document.current() == "initial"
    (record,) = [r for r in log_records(captured_logs) if r["message"].startswith("test document could not be read")]
    assert record["level"] == "ERROR" and "KeyError" in record["exception"]
