"""Prices and model mappings in the admin API (moto + the real admin function on loopback), and a mapping
change reaching a running proxy (the real proxy, fake Bedrock) without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from overspill.store.config import MODEL_MAP, PRICE_OVERRIDES, ConfigRepository, StaleVersion
from overspill.users import RoutingMode
from tests.support.admin import AdminHarness
from tests.support.gateway import LocalGateway

OPUS_CHEAPER = {"claude-opus-4-8": {"input": "4.50", "output": 20}}
NEW_MODEL = {"claude-sonnet-5": {"input": "2", "output": "10", "cache_write_5m": "2.5", "cache_write_1h": "4",
                                 "cache_read": "0.2"}}


def prices_of(view: dict) -> dict[str, dict]:
    return {entry["model"]: entry for entry in view["models"]}


def effective(view: dict) -> dict[str, dict]:
    return {entry["model"]: entry for entry in view["effective"]}


def put_overrides(admin: AdminHarness, version: int, models: dict, multipliers: dict | None = None, **kwargs):
    body = {"version": version, "models": models}
    if multipliers is not None:
        body["bedrock_multipliers"] = multipliers
    return admin.call("PUT", "/api/pricing/overrides", json=body, **kwargs)


def refused_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert fields, response.text
    return fields[0]["field"]


# --- prices ---------------------------------------------------------------------------------------------------

def test_finance_sees_every_models_list_price_and_the_bedrock_multipliers(admin):
    response = admin.call("GET", "/api/pricing", token=admin.finance_token)

    assert response.status_code == 200, response.text
    view = response.json()
    prices = prices_of(view)
    opus = prices["claude-opus-4-8"]
    assert {k: opus[k] for k in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")} == {
        "input": "5", "output": "25", "cache_write_5m": "6.25", "cache_write_1h": "10", "cache_read": "0.50"}
    assert (opus["overridden"], opus["long_context"], opus["bedrock_geography_premium"]) == (False, None, True)
    sonnet = prices["claude-sonnet-4-5-20250929"]
    assert sonnet["aliases"] == ["claude-sonnet-4-5"]
    assert sonnet["long_context"] == {"above_input_tokens": 200000, "input_factor": "2", "output_factor": "1.5"}
    assert prices["claude-opus-4-1-20250805"]["bedrock_geography_premium"] is False
    assert view["bedrock_multipliers"]["global"] == "1.00" and view["bedrock_multipliers"]["us"] == "1.10"
    assert (view["overrides"], view["version"], view["updated_by"], view["problem"]) == (
        {"models": {}, "bedrock_multipliers": {}}, 0, None, None)
    assert view["refresh_s"] == admin.settings.pricing_cache_ttl_s


def test_an_override_changes_the_effective_prices_and_is_audited(admin):
    response = put_overrides(admin, 0, {**OPUS_CHEAPER, **NEW_MODEL}, {"eu": "1.15"})

    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["version"], view["updated_by"]) == (1, "alice")
    prices = prices_of(view)
    opus = prices["claude-opus-4-8"]
    assert (opus["input"], opus["output"], opus["cache_read"], opus["overridden"]) == ("4.50", "20", "0.50", True)
    assert opus["source"].startswith("admin override of input, output")
    assert prices["claude-sonnet-5"]["cache_write_1h"] == "4" and prices["claude-sonnet-5"]["overridden"] is True
    assert prices["claude-opus-4-7"]["overridden"] is False
    assert view["bedrock_multipliers"]["eu"] == "1.15"
    # Stored as sent, with every number as text: money is never a float.
    assert view["overrides"] == {"models": {"claude-opus-4-8": {"input": "4.50", "output": "20"}, **NEW_MODEL},
                                 "bedrock_multipliers": {"eu": "1.15"}}

    again = admin.call("GET", "/api/pricing", token=admin.finance_token).json()
    assert again["version"] == 1 and again["overrides"] == view["overrides"] and again["updated_at"]
    [entry] = admin.audit(target_type="pricing")
    assert (entry["action"], entry["actor"], entry["target_id"]) == ("pricing.update", "alice", PRICE_OVERRIDES)
    assert entry["before"] == {"version": 0, "models": {}, "bedrock_multipliers": {}}
    assert entry["after"] == {"version": 1, **view["overrides"]}


def test_clearing_the_overrides_restores_the_list_prices(admin):
    put_overrides(admin, 0, OPUS_CHEAPER)
    response = put_overrides(admin, 1, {})
    assert response.status_code == 200, response.text
    assert prices_of(response.json())["claude-opus-4-8"]["input"] == "5"
    assert [e["after"]["version"] for e in admin.audit(target_type="pricing")] == [2, 1]


def test_a_price_change_made_to_a_stale_version_is_refused_and_changes_nothing(admin):
    assert put_overrides(admin, 0, OPUS_CHEAPER).status_code == 200
    for version in (0, 2):  # what another admin read before the first change; a version that never was
        response = put_overrides(admin, version, {"claude-opus-4-8": {"input": "1"}})
        assert response.status_code == 409, response.text
        assert response.json()["error"]["type"] == "conflict" and "version 1" in response.json()["error"]["message"]
    view = admin.call("GET", "/api/pricing").json()
    assert view["version"] == 1 and prices_of(view)["claude-opus-4-8"]["input"] == "4.50"
    assert len(admin.audit(target_type="pricing")) == 1


def test_of_two_writes_made_to_the_same_version_only_the_first_lands(admin):
    """Two admins who read version 1 and save at the same moment: both pass the API's early check, and the
    conditional write still refuses the second."""
    config = ConfigRepository()
    first = config.replace(MODEL_MAP, {"claude-a": "us.anthropic.claude-a-v1:0"}, expected_version=0,
                           updated_by="alice")
    with pytest.raises(StaleVersion) as refused:
        config.replace(MODEL_MAP, {"claude-b": "us.anthropic.claude-b-v1:0"}, expected_version=0, updated_by="bob")
    assert (first.version, refused.value.current) == (1, 1)
    assert config.read(MODEL_MAP).value == {"claude-a": "us.anthropic.claude-a-v1:0"}


def test_finance_cannot_change_prices_or_mappings(admin):
    response = put_overrides(admin, 0, OPUS_CHEAPER, token=admin.finance_token)
    assert response.status_code == 403
    response = admin.call("PUT", "/api/model-mappings", token=admin.finance_token,
                          json={"version": 0, "mappings": {"claude-x": "us.anthropic.claude-x-v1:0"}})
    assert response.status_code == 403
    assert admin.call("GET", "/api/pricing").json()["version"] == 0
    assert admin.call("GET", "/api/model-mappings").json()["version"] == 0
    assert admin.call("GET", "/api/pricing", token=None).status_code == 401


def test_a_hand_edited_broken_document_is_shown_as_ignored_and_can_be_replaced(admin):
    ConfigRepository().put(PRICE_OVERRIDES, {"models": {"claude-opus-4-8": {"input": "-1"}}})
    view = admin.call("GET", "/api/pricing").json()
    assert "invalid and ignored" in view["problem"] and "'input' must be zero or more" in view["problem"]
    assert prices_of(view)["claude-opus-4-8"]["input"] == "5"   # what the proxy charges: the list price
    assert view["overrides"]["models"] == {"claude-opus-4-8": {"input": "-1"}}

    fixed = put_overrides(admin, view["version"], OPUS_CHEAPER)
    assert fixed.status_code == 200 and fixed.json()["problem"] is None


# --- model mappings -------------------------------------------------------------------------------------------

def test_mappings_show_built_in_deployment_and_admin_layers_and_the_result():
    deployment = '{"claude-next": "eu.anthropic.claude-next-v1:0", "claude-direct": "anthropic.claude-direct-v1:0"}'
    with AdminHarness(bedrock_geography="eu", bedrock_model_map=deployment) as admin:
        before = admin.call("GET", "/api/model-mappings", token=admin.finance_token)
        assert before.status_code == 200, before.text
        view = before.json()
        assert view["geography"] == "eu" and view["built_in"]["claude-opus-4-8"] == "eu.anthropic.claude-opus-4-8"
        assert "claude-opus-4-1" not in view["built_in"]   # offered on Bedrock with us. profiles only
        assert effective(view)["claude-opus-4-1"]["bedrock_model_id"] is None
        assert "not offered" in effective(view)["claude-opus-4-1"]["problem"]
        assert view["settings"]["claude-next"] == "eu.anthropic.claude-next-v1:0"
        assert (view["admin"], view["version"]) == ({}, 0)

        arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123"
        response = admin.call("PUT", "/api/model-mappings", json={"version": 0, "mappings": {
            "claude-next": "global.anthropic.claude-next-v2:0", "claude-team": arn,
            "claude-opus-4-1": "us.anthropic.claude-opus-4-1-20250805-v1:0"}})

        assert response.status_code == 200, response.text
        view = response.json()
        assert (view["version"], view["updated_by"]) == (1, "alice")
        rows = effective(view)
        assert rows["claude-next"] == {"model": "claude-next", "bedrock_model_id": "global.anthropic.claude-next-v2:0",
                                       "foundation_model_id": "anthropic.claude-next-v2:0", "source": "admin",
                                       "problem": None}
        assert rows["claude-direct"]["source"] == "settings"
        assert rows["claude-opus-4-8"]["source"] == "built_in"
        assert rows["claude-opus-4-1"]["bedrock_model_id"] == "us.anthropic.claude-opus-4-1-20250805-v1:0"
        assert rows["claude-team"]["bedrock_model_id"] == arn and rows["claude-team"]["foundation_model_id"] is None
        [entry] = admin.audit(target_type="model_mappings")
        assert (entry["action"], entry["target_id"], entry["before"]) == (
            "model_mappings.update", MODEL_MAP, {"version": 0, "mappings": {}})
        assert entry["after"] == {"version": 1, "mappings": view["admin"]}


def ask_bedrock(developer, gateway, model: str) -> httpx.Response:
    return httpx.post(developer.base_url(gateway) + "/v1/messages", timeout=30, json={
        "model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "sk-ant-api03-dev", "anthropic-version": "2023-06-01"})


def test_a_mapping_change_reaches_the_running_proxy_without_a_restart(anthropic, bedrock):
    ttl = 0.3
    with (LocalGateway(anthropic.url, bedrock.url, pricing_cache_ttl_s=ttl) as gateway,
          AdminHarness() as admin):   # one moto: the admin API writes the table the proxy reads
        developer = gateway.add_developer("Bo", routing_mode=RoutingMode.BEDROCK_ONLY)
        refused = ask_bedrock(developer, gateway, "claude-opus-5")
        assert refused.status_code == 400 and "claude-opus-5" in refused.json()["error"]["message"]

        mapped = admin.call("PUT", "/api/model-mappings", json={
            "version": 0, "mappings": {"claude-opus-5": "us.anthropic.claude-opus-5-v1:0"}})
        assert mapped.status_code == 200, mapped.text
        time.sleep(ttl + 0.1)
        answered = ask_bedrock(developer, gateway, "claude-opus-5")
        assert answered.status_code == 200, answered.text
        assert bedrock.last_request().model_id == "us.anthropic.claude-opus-5-v1:0"

        remapped = admin.call("PUT", "/api/model-mappings", json={
            "version": 1, "mappings": {"claude-opus-5": "global.anthropic.claude-opus-5-v1:0",
                                       "claude-opus-4-8": "global.anthropic.claude-opus-4-8"}})
        assert remapped.status_code == 200, remapped.text
        time.sleep(ttl + 0.1)
        assert ask_bedrock(developer, gateway, "claude-opus-5").status_code == 200
        assert bedrock.last_request().model_id == "global.anthropic.claude-opus-5-v1:0"
        assert ask_bedrock(developer, gateway, "claude-opus-4-8").status_code == 200   # over the built-in us.
        assert bedrock.last_request().model_id == "global.anthropic.claude-opus-4-8"


def test_a_broken_stored_map_is_logged_and_the_last_good_one_kept(anthropic, bedrock, captured_logs):
    ttl = 0.2
    with LocalGateway(anthropic.url, bedrock.url, pricing_cache_ttl_s=ttl) as gateway:
        developer = gateway.add_developer("Bo", routing_mode=RoutingMode.BEDROCK_ONLY)
        ConfigRepository().put(MODEL_MAP, {"claude-opus-5": "us.anthropic.claude-opus-5-v1:0"})
        assert ask_bedrock(developer, gateway, "claude-opus-5").status_code == 200

        ConfigRepository().put(MODEL_MAP, {"claude-opus-5": "us.anthropic.claude opus"})   # a hand edit
        time.sleep(ttl + 0.1)
        assert ask_bedrock(developer, gateway, "claude-opus-5").status_code == 200
        assert bedrock.last_request().model_id == "us.anthropic.claude-opus-5-v1:0"
        assert "admin model mappings ignored" in captured_logs.getvalue()


# --- bad input ------------------------------------------------------------------------------------------------
# Each bad change is refused naming the field, and leaves the stored documents (version 1) as they were. One
# harness for all of them (nothing changes): kept last in the module, since a harness started while it runs
# would share its moto state.
@pytest.fixture(scope="module")
def seeded_admin() -> Iterator[AdminHarness]:
    with AdminHarness() as harness:
        assert put_overrides(harness, 0, OPUS_CHEAPER).status_code == 200
        assert harness.call("PUT", "/api/model-mappings", json={
            "version": 0, "mappings": {"claude-next": "us.anthropic.claude-next-v1:0"}}).status_code == 200
        yield harness


LONG_NAME = "claude-" + "x" * 200


@pytest.mark.parametrize("body, field", [
    ({"version": 1, "models": {}, "currency": "EUR"}, "currency"),
    ({"version": 1, "models": {"claude-opus-4-8": {"inputs": "1"}}}, "models.claude-opus-4-8.inputs"),
    ({"version": 1, "models": {"claude-opus-4-8": {"input": "-0.01"}}}, "models.claude-opus-4-8.input"),
    ({"version": 1, "models": {"claude-opus-4-8": {"input": -3}}}, "models.claude-opus-4-8.input"),
    ({"version": 1, "models": {"claude-opus-4-8": {"output": "cheap"}}}, "models.claude-opus-4-8.output"),
    ({"version": 1, "models": {"claude-opus-4-8": {"output": True}}}, "models.claude-opus-4-8.output"),
    ({"version": 1, "models": {"claude-opus-4-8": {"output": "1e400"}}}, "models.claude-opus-4-8.output"),
    ({"version": 1, "models": {"claude-opus-4-8": "5"}}, "models.claude-opus-4-8"),
    ({"version": 1, "models": ["claude-opus-4-8"]}, "models"),
    ({"version": 1, "models": {"claude-opus-4-8": {"bedrock_geography_premium": "yes"}}},
     "models.claude-opus-4-8.bedrock_geography_premium"),
    ({"version": 1, "models": {"claude-opus-4-8": {"long_context": {"above_input_tokens": 1, "input_factor": 0,
                                                                      "output_factor": 1}}}},
     "models.claude-opus-4-8.long_context.input_factor"),
    ({"version": 1, "models": {"claude-new-1": {"input": "1", "output": "5"}}}, "models.claude-new-1.cache_write_5m"),
    ({"version": 1, "models": {LONG_NAME: {"input": "1"}}}, f"models.{LONG_NAME}"),
    ({"version": 1, "models": {"claude-\u0007bell": {"input": "1"}}}, "models.claude-\u0007bell"),
    ({"version": 1, "models": {}, "bedrock_multipliers": {"eu": "-1.1"}}, "bedrock_multipliers.eu"),
    ({"version": 1, "models": {}, "bedrock_multipliers": {"EU": "1.1"}}, "bedrock_multipliers.EU"),
    ({"version": "1", "models": {}}, "version"),
    ({"version": True, "models": {}}, "version"),
    ({"models": {}}, "version"),
])
def test_bad_price_overrides_are_refused_naming_the_field(seeded_admin, body, field):
    response = seeded_admin.call("PUT", "/api/pricing/overrides", json=body)

    assert refused_field(response) == field
    view = seeded_admin.call("GET", "/api/pricing").json()
    assert view["version"] == 1 and view["overrides"]["models"] == {"claude-opus-4-8": {"input": "4.50",
                                                                                         "output": "20"}}
    assert len(seeded_admin.audit(target_type="pricing")) == 1


@pytest.mark.parametrize("body, field", [
    ({"version": 1, "mappings": {}, "geography": "eu"}, "geography"),
    ({"version": 1, "mappings": {LONG_NAME: "us.anthropic.claude-x-v1:0"}}, f"mappings.{LONG_NAME}"),
    ({"version": 1, "mappings": {"claude-\u200bx": "us.anthropic.claude-x-v1:0"}}, "mappings.claude-\u200bx"),
    ({"version": 1, "mappings": {"claude-x": "us.anthropic.claude x"}}, "mappings.claude-x"),
    ({"version": 1, "mappings": {"claude-x": "opus"}}, "mappings.claude-x"),
    ({"version": 1, "mappings": {"claude-x": ""}}, "mappings.claude-x"),
    ({"version": 1, "mappings": {"claude-x": "arn:aws:s3:::bucket/key"}}, "mappings.claude-x"),
    ({"version": 1, "mappings": {"claude-x": 7}}, "mappings.claude-x"),
    ({"version": 1, "mappings": ["claude-x"]}, "mappings"),
    ({"version": 1}, "mappings"),
    ({"version": -1, "mappings": {}}, "version"),
])
def test_bad_model_mappings_are_refused_naming_the_field(seeded_admin, body, field):
    response = seeded_admin.call("PUT", "/api/model-mappings", json=body)

    assert refused_field(response) == field
    view = seeded_admin.call("GET", "/api/model-mappings").json()
    assert view["version"] == 1 and view["admin"] == {"claude-next": "us.anthropic.claude-next-v1:0"}
    assert len(seeded_admin.audit(target_type="model_mappings")) == 1


def test_a_mapping_change_made_to_a_stale_version_is_refused(seeded_admin):
    response = seeded_admin.call("PUT", "/api/model-mappings", json={"version": 0, "mappings": {}})
    assert response.status_code == 409 and response.json()["error"]["type"] == "conflict"
    assert seeded_admin.call("GET", "/api/model-mappings").json()["admin"] == {
        "claude-next": "us.anthropic.claude-next-v1:0"}
