"""What a usage event says about who to charge and what it cost, through the real proxy (moto + fakes)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from overspill.pricing.table import PriceTable
from overspill.store.config import PRICE_OVERRIDES, ConfigRepository
from overspill.store.models import UsageEventModel
from overspill.usage.events import TokenUsage
from tests.integration.test_fallback import ask, plan_limit_until
from tests.support.fake_anthropic import Scenario
from tests.support.gateway import LocalGateway, wait_for_usage

USAGE = {"input_tokens": 1200, "output_tokens": 340, "cache_creation_input_tokens": 5000,
         "cache_creation_1h_input_tokens": 2000, "cache_read_input_tokens": 70000}


def test_plan_request_records_the_user_as_they_were_and_its_list_price(gateway, anthropic):
    developer = gateway.add_developer("Zoë Ångström", team="platform", cost_center="CC-42")
    anthropic.enqueue(Scenario.stream(text="ok", usage=USAGE))

    response = ask(developer, gateway, model="claude-sonnet-4-5")

    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.user_name, event.team, event.cost_center) == ("Zoë Ångström", "platform", "CC-42")
    assert event.route == "plan"
    assert (event.tokens.cache_creation_5m_input_tokens, event.tokens.cache_creation_1h_input_tokens) == (3000, 2000)
    # Sonnet 4.5 list prices per MTok: 3 in, 15 out, 3.75 5m write, 6 1h write, 0.30 read.
    expected = (Decimal(1200) * 3 + Decimal(340) * 15 + Decimal(3000) * Decimal("3.75") + Decimal(2000) * 6
                + Decimal(70000) * Decimal("0.30")) / 1_000_000
    assert event.cost_usd == expected and event.cost_known
    assert event.price_snapshot["cache_writes"] == {"5m": 3000, "1h": 2000, "split": "reported"}
    assert event.price_snapshot["usd_per_mtok"]["input"] == "3"
    assert event.price_snapshot["basis"].startswith("plan traffic at the API list price")


def test_bedrock_request_is_priced_as_the_model_bedrock_ran_with_its_geography(gateway, developer, anthropic,
                                                                                bedrock):
    anthropic.enqueue(plan_limit_until(600))
    response = ask(developer, gateway, model="claude-sonnet-4-5")

    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert event.route == "bedrock" and event.bedrock_model_id.startswith("us.anthropic.claude-sonnet-4-5")
    expected = PriceTable.load().cost_of(event.tokens, "claude-sonnet-4-5", "bedrock", event.bedrock_model_id)
    assert event.cost_usd == expected.usd > 0
    assert (event.price_snapshot["geography"], event.price_snapshot["multiplier"]) == ("us", "1.10")


def test_an_unknown_model_is_recorded_as_unpriced_never_as_free(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.stream(text="ok", model="claude-made-up-9"))
    response = ask(developer, gateway, model="claude-made-up-9")

    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert event.tokens.output_tokens > 0
    assert event.cost_usd is None and event.cost_known is False
    assert "no price for model 'claude-made-up-9'" in event.price_snapshot["unknown_reason"]


def test_a_refused_request_costs_nothing_and_is_not_flagged_unknown(anthropic):
    with LocalGateway(anthropic.url, max_body_bytes=500) as gateway:
        developer = gateway.add_developer("Ada")
        response = ask(developer, gateway, model="claude-unpriced-1", text="x" * 1000)
        assert response.status_code == 413
        event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
        assert (event.status, event.cost_usd, event.cost_known) == (413, 0, True)


def test_a_very_long_model_name_is_refused_and_never_reaches_the_rollup_keys(gateway, developer, anthropic):
    response = ask(developer, gateway, model="x" * 5000)
    assert response.status_code == 400 and "5,000 characters" in response.json()["error"]["message"]
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.model, event.error_type) == (400, None, "invalid_request_error")
    assert anthropic.received == []


def test_admin_price_override_applies_to_new_requests(anthropic):
    with LocalGateway(anthropic.url, pricing_cache_ttl_s=0) as gateway:
        developer = gateway.add_developer("Ada")
        ConfigRepository().put(PRICE_OVERRIDES, {"models": {"claude-sonnet-4-5": {"input": "1", "output": "2"}}})
        anthropic.enqueue(Scenario.stream(text="ok", usage={"input_tokens": 100_000, "output_tokens": 100_000}))
        response = ask(developer, gateway, model="claude-sonnet-4-5")
        event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
        assert event.cost_usd == Decimal("0.3")  # 0.1 M at $1 + 0.1 M at $2 (list: $3 and $15)
        assert event.price_snapshot["source"].startswith("admin override of input, output")


def test_a_broken_override_document_keeps_the_repository_prices(anthropic, captured_logs):
    with LocalGateway(anthropic.url, pricing_cache_ttl_s=0) as gateway:
        developer = gateway.add_developer("Ada")
        ConfigRepository().put(PRICE_OVERRIDES, {"models": {"claude-sonnet-4-5": {"input": "-1"}}})
        anthropic.enqueue(Scenario.stream(text="ok", usage={"input_tokens": 100_000, "output_tokens": 0}))
        response = ask(developer, gateway, model="claude-sonnet-4-5")
        event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
        assert event.cost_usd == Decimal("0.3")  # the list price, $3 per M
        assert "price overrides ignored" in captured_logs.getvalue()


def test_usage_is_written_once_per_request_with_its_expiry(gateway, developer, anthropic):
    response = ask(developer, gateway)
    request_id = response.headers["x-overspill-request-id"]
    event = wait_for_usage(gateway, request_id)

    assert gateway.usage.record(event) is False  # the same request id again: no second event
    item = UsageEventModel.get(request_id)
    assert abs(item.expires_at - (event.occurred_at + timedelta(days=400))) < timedelta(seconds=1)


def test_money_survives_dynamodb_exactly(gateway, developer, anthropic):
    response = ask(developer, gateway)
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    event.request_id, event.cost_usd = "req-exact", Decimal("0.1234567891")
    gateway.usage.record(event)
    assert gateway.usage.get("req-exact").cost_usd == Decimal("0.1234567891")


def test_token_usage_reads_the_ttl_split_and_prices_unsplit_writes_as_5_minutes():
    usage = TokenUsage()
    usage.merge({"input_tokens": 5, "cache_creation_input_tokens": 100})
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (100, 0)
    usage.merge({"cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60}})
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) == (40, 60)
    usage.merge({"cache_creation": {"ephemeral_1h_input_tokens": True}})  # not a count: ignored
    assert usage.cache_creation_1h_input_tokens == 60
