"""Monthly budgets through the real proxy: the month rollups (moto) decide whether Bedrock may answer."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from overspill.budgets import BudgetService, next_month_start
from overspill.pricing.table import format_usd
from overspill.store.models import UsageRollupModel
from overspill.store.rollups import RollupRepository
from overspill.store.teams import TeamRepository
from overspill.store.users import UserRepository
from overspill.usage.rollups import Kind, RollupKey
from overspill.users import RoutingMode
from tests.integration.test_fallback import ask, plan_limit_until
from tests.support.emf import emf_records
from tests.support.gateway import LocalGateway, wait_for_usage


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def spent(*, usd: str, user_id: str | None = None, team: str | None = None, route: str = "bedrock",
          month: str | None = None) -> None:
    """What the rollup function would have written: a user's (or team's) month on one route."""
    kind = Kind.USER_MONTH if user_id else Kind.TEAM_MONTH
    key = RollupKey(kind, month or this_month(), user_id=user_id, team=team, route=route)
    UsageRollupModel(key.pk, key.sk, kind=str(kind), kind_period=key.kind_period, period=key.period,
                     user_id=user_id, team=team, route=route, requests=1, cost_usd=Decimal(usd)).save()


def refused_for_budget(response) -> dict:
    assert response.status_code == 429, response.text
    assert response.headers["x-should-retry"] == "false"
    assert response.headers["x-overspill-refusal"] == "budget_exhausted"
    body = response.json()
    assert body["error"]["type"] == "rate_limit_error"
    return body


def test_used_up_budget_refuses_the_fallback_and_names_budget_spend_and_reset(gateway, anthropic, bedrock):
    developer = gateway.add_developer("Ada", budget_usd=Decimal("10"))
    spent(user_id=developer.user_id, usd="10.00")  # exactly at the limit: used up
    anthropic.enqueue(plan_limit_until(600))

    response = ask(developer, gateway)

    message = refused_for_budget(response)["error"]["message"]
    reset = next_month_start(datetime.now(UTC))
    assert "monthly Bedrock budget of $10.00 is used up ($10.00 spent" in message
    assert f"{reset:%Y-%m-%d} 00:00 UTC" in message and "admin" in message
    assert bedrock.received == []
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.error_type, event.route, event.fallback_reason) == \
        (429, "budget_exhausted", "bedrock", "plan_limit")


def test_plan_keeps_working_for_a_plan_first_developer_over_budget(gateway, anthropic, bedrock):
    developer = gateway.add_developer("Ada", budget_usd=Decimal("10"))
    spent(user_id=developer.user_id, usd="250")

    response = ask(developer, gateway)

    assert response.status_code == 200 and response.headers["x-overspill-route"] == "plan"
    assert bedrock.received == []


def test_just_under_the_budget_still_falls_back(gateway, anthropic, bedrock):
    developer = gateway.add_developer("Ada", budget_usd=Decimal("10"))
    spent(user_id=developer.user_id, usd="9.9999999999")
    anthropic.enqueue(plan_limit_until(600))

    response = ask(developer, gateway)

    assert response.status_code == 200 and response.headers["x-overspill-route"] == "bedrock"


def test_bedrock_only_traffic_is_refused_once_the_budget_is_used_up(gateway, anthropic, bedrock):
    developer = gateway.add_developer("Ada", routing_mode=RoutingMode.BEDROCK_ONLY, budget_usd=Decimal("5"))
    spent(user_id=developer.user_id, usd="5.01")

    response = ask(developer, gateway, stream=False)

    assert "budget of $5.00 is used up ($5.01 spent" in refused_for_budget(response)["error"]["message"]
    assert anthropic.received == [] and bedrock.received == []


def test_team_budget_refuses_even_when_the_user_has_none(gateway, anthropic, bedrock):
    TeamRepository().put("platform", budget_usd=Decimal("100"))
    developer = gateway.add_developer("Ada", team="platform")
    other = gateway.add_developer("Grace", team="platform", budget_usd=Decimal("1000"))
    spent(team="platform", usd="100.50")

    for who in (developer, other):
        anthropic.enqueue(plan_limit_until(600))
        message = refused_for_budget(ask(who, gateway))["error"]["message"]
        assert "your team 'platform''s monthly Bedrock budget of $100.00 is used up ($100.50 spent" in message


def test_user_and_team_budgets_together_the_first_used_up_refuses(gateway, anthropic, bedrock):
    TeamRepository().put("platform", budget_usd=Decimal("100"))
    developer = gateway.add_developer("Ada", team="platform", budget_usd=Decimal("20"))
    spent(team="platform", usd="50")
    spent(user_id=developer.user_id, usd="20")
    anthropic.enqueue(plan_limit_until(600))

    message = refused_for_budget(ask(developer, gateway))["error"]["message"]

    assert "your monthly Bedrock budget of $20.00" in message


def test_plan_spend_at_list_price_counts_only_when_configured(anthropic, bedrock):
    for counts, expect_refusal in (("bedrock", False), ("all", True)):
        with LocalGateway(anthropic.url, bedrock.url, budget_counts=counts) as gateway:
            developer = gateway.add_developer("Ada", budget_usd=Decimal("10"))
            spent(user_id=developer.user_id, usd="30", route="plan")
            anthropic.enqueue(plan_limit_until(600))
            response = ask(developer, gateway)
            if expect_refusal:
                assert "monthly usage budget of $10.00" in refused_for_budget(response)["error"]["message"]
            else:
                assert response.status_code == 200 and response.headers["x-overspill-route"] == "bedrock"


def test_concurrent_requests_overshoot_by_at_most_those_in_flight(gateway, anthropic, bedrock):
    """No rollup runs here: only the instance's own accounting can stop the requests after the first wave."""
    developer = gateway.add_developer("Ada", routing_mode=RoutingMode.BEDROCK_ONLY, budget_usd=Decimal("0.000001"))
    in_flight = 6
    with ThreadPoolExecutor(in_flight) as pool:
        first_wave = list(pool.map(lambda _: ask(developer, gateway), range(in_flight)))
    assert [r.status_code for r in first_wave] == [200] * in_flight  # all started under the budget
    costs = [wait_for_usage(gateway, r.headers["x-overspill-request-id"]).cost_usd for r in first_wave]
    assert all(cost > Decimal("0.000001") for cost in costs)
    time.sleep(1.0)  # each request's cost joins the instance's figure just after its usage event is written

    response = ask(developer, gateway)

    message = refused_for_budget(response)["error"]["message"]
    assert f"budget of $0.000001 is used up (${format_usd(sum(costs), 6)} spent" in message
    assert len(bedrock.received) == in_flight


def test_budget_thresholds_emit_a_metric_once_at_80_and_at_100_percent(gateway, anthropic, bedrock, capfd,
                                                                        monkeypatch, captured_logs):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    developer = gateway.add_developer("Ada", budget_usd=Decimal("10"))
    spent(user_id=developer.user_id, usd="8.50")
    for _ in range(2):
        anthropic.enqueue(plan_limit_until(600))
        assert ask(developer, gateway).status_code == 200
    UsageRollupModel.get(f"user#{developer.user_id}", f"month#{this_month()}#route#bedrock").update(
        actions=[UsageRollupModel.cost_usd.set(Decimal("10"))])
    time.sleep(5.1)  # past the near-limit cache (5 s at 80 % or more)
    anthropic.enqueue(plan_limit_until(600))
    refused_for_budget(ask(developer, gateway))

    records = emf_records(capfd.readouterr().out)
    metrics = [(r["scope"], r["threshold"]) for r in records if "BudgetThresholdReached" in r]
    logged = [(r["budget_scope"], str(r["threshold_percent"])) for r in map(json.loads, captured_logs.getvalue()
                                                                              .splitlines())
              if r["message"] == "budget threshold reached"]
    assert logged == [("user", "80"), ("user", "100")]  # each crossing once, in order
    # Each metric is printed by the server thread that crossed the threshold; under load pytest's fd capture has
    # been seen to miss such a line (the 80 % one, while its log line arrived). The last crossing's metric must be
    # there, and no metric that is not a logged crossing, nor any twice.
    assert ("user", "100") in metrics and set(metrics) <= set(logged) and len(metrics) == len(set(metrics))
    assert developer.user_id not in json.dumps(records)


# --- The service on its own: month rollover and caching, with the real rollups table (moto).

class Clock:
    def __init__(self, wall: datetime) -> None:
        self.wall, self.mono = wall, 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


@pytest.fixture
def ada(gateway):
    return UserRepository().create("Ada", team="platform", budget_usd=Decimal("10"))


def test_month_rollover_in_utc_starts_a_fresh_budget(ada):
    clock = Clock(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    spent(user_id=ada.user_id, usd="12", month="2026-11")
    service = BudgetService(RollupRepository(), TeamRepository(), clock=clock.now, monotonic=clock.monotonic)

    with pytest.raises(Exception, match=r"resets on 2026-12-01 00:00 UTC"):
        service.check(ada)
    clock.wall = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
    service.check(ada)  # December: nothing spent yet


def test_spend_is_cached_at_most_60_seconds_and_5_near_the_limit(ada):
    clock = Clock(datetime(2026, 11, 15, 12, tzinfo=UTC))
    spent(user_id=ada.user_id, usd="1", month="2026-11")
    service = BudgetService(RollupRepository(), TeamRepository(), clock=clock.now, monotonic=clock.monotonic,
                            cache_ttl_s=600)  # asks for more than the 60 s allowed
    assert service.states(ada)[0].spent_usd == Decimal("1")
    spent(user_id=ada.user_id, usd="8.5", month="2026-11")
    clock.mono += 59
    assert service.states(ada)[0].spent_usd == Decimal("1")
    clock.mono += 1.5
    assert service.states(ada)[0].spent_usd == Decimal("8.5")   # re-read after 60 s; now at 85 %
    spent(user_id=ada.user_id, usd="10", month="2026-11")
    clock.mono += 5.1
    assert service.states(ada)[0].spent_usd == Decimal("10")    # near the limit: re-read after 5 s


def test_next_month_start_rolls_over_the_year():
    assert next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_month_start(datetime(2026, 1, 31, 12, tzinfo=UTC)) == datetime(2026, 2, 1, tzinfo=UTC)


def test_unknown_budget_counting_setting_is_refused():
    with pytest.raises(ValueError, match="'bedrock' or 'all'"):
        BudgetService(RollupRepository(), TeamRepository(), counts="plan")
