"""What one usage event adds to the rollups: the rows it counts in and the sums it adds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from overspill.usage.events import TokenUsage, UsageEvent
from overspill.usage.rollups import Counters, Kind, keys_for

AT = datetime(2026, 1, 31, 23, 59, 30, tzinfo=UTC)


def event(**overrides) -> UsageEvent:
    values = dict(request_id="req-1", occurred_at=AT, user_id="usr_ada", key_prefix="ak_abcdefg", route="plan",
                  endpoint="messages", status=200, streamed=True, duration_ms=120.0, model="claude-opus-4-8",
                  team="platform", cost_usd=Decimal("0.0123456789"),
                  tokens=TokenUsage(input_tokens=10, output_tokens=20, cache_creation_input_tokens=300,
                                    cache_read_input_tokens=4000, cache_creation_1h_input_tokens=100))
    values.update(overrides)
    return UsageEvent(**values)


def rows(e: UsageEvent) -> dict[Kind, tuple[str, str]]:
    return {key.kind: (key.pk, key.sk) for key in keys_for(e)}


def test_a_plan_request_counts_for_its_user_team_and_the_organisation_on_its_utc_day_and_month():
    assert rows(event()) == {
        Kind.USER_DAY: ("user#usr_ada", "day#2026-01-31#model#claude-opus-4-8#route#plan"),
        Kind.USER_MONTH: ("user#usr_ada", "month#2026-01#route#plan"),
        Kind.TEAM_DAY: ("team#platform", "day#2026-01-31#route#plan"),
        Kind.TEAM_MONTH: ("team#platform", "month#2026-01#route#plan"),
        Kind.ORG_DAY: ("org", "day#2026-01-31#route#plan"),
    }
    assert {key.kind_period for key in keys_for(event())} == {
        "user_day#2026-01-31", "user_month#2026-01", "team_day#2026-01-31", "team_month#2026-01",
        "org_day#2026-01-31"}


def test_a_bedrock_answer_also_counts_under_its_fallback_reason():
    keys = keys_for(event(route="bedrock", fallback_reason="plan_limit"))
    fallback = [key for key in keys if key.kind is Kind.FALLBACK_DAY]
    assert [(key.pk, key.sk, key.reason) for key in fallback] == [
        ("org", "fallback#2026-01-31#plan_limit", "plan_limit")]
    assert all(key.route == "bedrock" for key in keys if key.kind is not Kind.FALLBACK_DAY)


def test_a_plan_answer_with_a_reason_is_no_fallback():
    assert Kind.FALLBACK_DAY not in rows(event(route="plan", fallback_reason="plan_limit"))


def test_a_user_without_a_team_counts_under_the_empty_team_so_teams_add_up_to_the_organisation():
    keys = {key.kind: key for key in keys_for(event(team=None))}
    assert (keys[Kind.TEAM_DAY].pk, keys[Kind.TEAM_DAY].team) == ("team#", None)
    assert keys[Kind.TEAM_MONTH].pk == "team#"


def test_a_request_without_a_model_still_counts():
    assert rows(event(model=None))[Kind.USER_DAY] == ("user#usr_ada", "day#2026-01-31#model##route#plan")


def test_counters_of_a_priced_request_split_cache_writes_by_ttl():
    assert Counters.of_event(event()) == Counters(
        requests=1, errors=0, input_tokens=10, output_tokens=20, cache_write_5m_tokens=200,
        cache_write_1h_tokens=100, cache_read_tokens=4000, cost_usd=Decimal("0.0123456789"), unpriced_requests=0)


def test_cache_writes_without_a_ttl_split_count_as_five_minute_writes():
    counters = Counters.of_event(event(tokens=TokenUsage(cache_creation_input_tokens=300)))
    assert (counters.cache_write_5m_tokens, counters.cache_write_1h_tokens) == (300, 0)


def test_an_error_answer_counts_as_a_request_and_an_error():
    for status in (400, 429, 500, 529):
        counters = Counters.of_event(event(status=status))
        assert (counters.requests, counters.errors) == (1, 1)
    assert Counters.of_event(event(status=200)).errors == 0


def test_an_unpriced_model_counts_apart_and_adds_no_cost():
    counters = Counters.of_event(event(cost_usd=None, cost_known=False))
    assert (counters.cost_usd, counters.unpriced_requests, counters.requests) == (Decimal(0), 1, 1)


def test_sums_of_money_stay_exact():
    total = Counters()
    for _ in range(10):
        total.add(Counters.of_event(event(cost_usd=Decimal("0.1"))))
    assert total.cost_usd == Decimal("1") and str(total.cost_usd) == "1.0"
    assert total.requests == 10 and total.cache_read_tokens == 40_000
