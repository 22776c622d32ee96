"""Deployment configuration from CDK context: defaults, conversion, and errors that name the key."""

from __future__ import annotations

import json

import pytest

from infra.app import build_app, cdk_json_context
from infra.config import CONTEXT_KEYS, ConfigError, DeployConfig


def test_cdk_json_defaults_are_the_documented_defaults():
    context = cdk_json_context()
    assert set(CONTEXT_KEYS) <= set(context)
    assert DeployConfig.from_context(context) == DeployConfig()
    config = DeployConfig()
    assert (config.stage, config.bedrock_region, config.proxy_memory_mb, config.usage_retention_days,
            config.anthropic_url) == ("dev", "us-east-1", 1024, 400, "https://api.anthropic.com")
    assert (config.bedrock_geography, config.bedrock_model_map, config.bedrock_model_map_json) == ("us", (), "")
    assert context["bedrockModelMap"] == {}  # a JSON object in cdk.json, so operators see its shape
    assert (config.export_memory_mb, config.rollup_parallelization_factor,
            config.exports_noncurrent_version_days) == (512, 1, 90)


def test_cdk_json_runs_the_app_from_the_venv():
    import json
    from pathlib import Path

    cdk_json = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    assert cdk_json["app"] == ".venv/bin/python -m infra.app"


def test_values_from_the_command_line_are_strings():
    config = DeployConfig.from_context({"stage": "qa", "proxyMemoryMb": "2048", "usageRetentionDays": "30",
                                        "logLevel": "debug"})
    assert (config.stage, config.proxy_memory_mb, config.usage_retention_days, config.log_level) == (
        "qa", 2048, 30, "DEBUG")
    assert not config.is_production


def test_processing_and_export_values_from_the_command_line():
    config = DeployConfig.from_context({"exportMemoryMb": "1024", "rollupParallelizationFactor": "4",
                                        "exportsNoncurrentVersionDays": " 30 "})
    assert (config.export_memory_mb, config.rollup_parallelization_factor,
            config.exports_noncurrent_version_days) == (1024, 4, 30)
    assert DeployConfig.from_context({"rollupParallelizationFactor": 10}).rollup_parallelization_factor == 10


@pytest.mark.parametrize(("key", "value", "says"), [
    ("exportMemoryMb", 127, "from 128 to 10240"),
    ("exportMemoryMb", "10241", "from 128 to 10240"),
    ("exportMemoryMb", "512MB", "whole number"),
    ("exportMemoryMb", True, "whole number"),
    ("rollupParallelizationFactor", 0, "from 1 to 10"),
    ("rollupParallelizationFactor", "11", "from 1 to 10"),
    ("rollupParallelizationFactor", 1.5, "whole number"),
    ("exportsNoncurrentVersionDays", 0, "from 1 to 3650"),
    ("exportsNoncurrentVersionDays", "3651", "from 1 to 3650"),
    ("exportsNoncurrentVersionDays", "-1", "whole number"),
])
def test_bad_processing_and_export_values_are_refused_naming_the_key(key, value, says):
    with pytest.raises(ConfigError, match=f"{key}.*{says}"):
        DeployConfig.from_context({key: value})


def test_missing_values_take_defaults():
    assert DeployConfig.from_context({}) == DeployConfig()
    assert DeployConfig.from_context({"stage": ""}) == DeployConfig()


@pytest.mark.parametrize("stage", ["Prod", "my_stage", "1dev", "dev-", "-dev", "a" * 17, "dev stage", "dév"])
def test_bad_stage_names_are_refused(stage):
    with pytest.raises(ConfigError, match="'stage'"):
        DeployConfig.from_context({"stage": stage})


@pytest.mark.parametrize("memory", ["lots", "1.5", 64, 127, 10_241, "20000", True, -1, "-128"])
def test_bad_memory_sizes_are_refused(memory):
    with pytest.raises(ConfigError, match="proxyMemoryMb"):
        DeployConfig.from_context({"proxyMemoryMb": memory})


@pytest.mark.parametrize(("key", "value"), [
    ("bedrockRegion", "virginia"),
    ("bedrockRegion", "US-EAST-1"),
    ("usageRetentionDays", 0),
    ("usageRetentionDays", "forever"),
    ("anthropicUrl", "http://api.anthropic.com"),
    ("anthropicUrl", "api.anthropic.com"),
    ("anthropicUrl", "https://api.anthropic.com/?x=1"),
    ("logLevel", "LOUD"),
    ("stage", 7),
    ("bedrockGeography", "mars"),
    ("bedrockGeography", "us-east-1"),
    ("bedrockGeography", 1),
    ("bedrockModelMap", "not json"),
    ("bedrockModelMap", '["a", "b"]'),
    ("bedrockModelMap", ["a", "b"]),
    ("bedrockModelMap", '{"claude-x": 7}'),
    ("bedrockModelMap", '{"claude-x": "us.anthropic.claude x"}'),
    ("bedrockModelMap", '{"": "us.anthropic.claude-x-v1:0"}'),
    ("bedrockModelMap", 42),
])
def test_other_bad_values_are_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        DeployConfig.from_context({key: value})


def test_the_app_refuses_bad_context_before_building_anything():
    with pytest.raises(ConfigError, match="proxyMemoryMb"):
        build_app({"proxyMemoryMb": "64"})


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        DeployConfig().stage = "prod"  # type: ignore[misc]


def test_geography_is_case_insensitive():
    assert DeployConfig.from_context({"bedrockGeography": " EU "}).bedrock_geography == "eu"


@pytest.mark.parametrize("raw", [
    {"claude-x": "us.anthropic.claude-x-v1:0", "claude-a[1m]": "anthropic.claude-a-v1:0"},
    '{"claude-x": "us.anthropic.claude-x-v1:0", "claude-a[1m]": "anthropic.claude-a-v1:0"}',
])
def test_model_map_from_cdk_json_or_the_command_line(raw):
    """cdk.json gives an object; ``-c bedrockModelMap='{…}'`` gives a string. Both mean the same."""
    config = DeployConfig.from_context({"bedrockModelMap": raw})
    assert config.bedrock_model_map == (("claude-a[1m]", "anthropic.claude-a-v1:0"),
                                        ("claude-x", "us.anthropic.claude-x-v1:0"))
    assert config.model_overrides == {"claude-x": "us.anthropic.claude-x-v1:0",
                                      "claude-a[1m]": "anthropic.claude-a-v1:0"}
    # What the proxy receives parses, with the proxy's own parser, to the same mapping.
    from overspill.bedrock.models import parse_model_map

    assert parse_model_map(config.bedrock_model_map_json) == config.model_overrides
    assert DeployConfig.from_context({"bedrockModelMap": {}}) == DeployConfig()
    assert DeployConfig.from_context({"bedrockModelMap": "{}"}) == DeployConfig()


@pytest.mark.parametrize("target", [
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
    "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123",
])
def test_model_map_targets_that_cannot_be_granted_exactly_are_refused(target):
    """The models behind an application profile or a provisioned model are unknown at synth: no exact grant."""
    with pytest.raises(ConfigError, match="bedrockModelMap.*cannot be known"):
        DeployConfig.from_context({"bedrockModelMap": {"claude-x": target}})


def test_a_model_map_given_directly_is_checked_too():
    with pytest.raises(ConfigError, match="bedrockModelMap"):
        DeployConfig(bedrock_model_map=(("claude-x", "us.anthropic.claude x"),))
    with pytest.raises(ConfigError, match="bedrockModelMap"):
        DeployConfig(bedrock_model_map={"claude-x": "y"})  # type: ignore[arg-type]


def test_a_model_map_too_large_for_the_environment_is_refused():
    from infra.config import MODEL_MAP_MAX_CHARS

    mapping = {f"claude-model-{i}": f"us.anthropic.claude-model-{i}-v1:0" for i in range(60)}
    assert len(json.dumps(mapping)) > MODEL_MAP_MAX_CHARS
    with pytest.raises(ConfigError, match="bedrockModelMap.*4 KB"):
        DeployConfig.from_context({"bedrockModelMap": mapping})


def test_monitoring_values_default_and_come_from_the_command_line():
    assert (DeployConfig().alarm_email, DeployConfig().fallback_alarm_percent) == ("", 50)
    config = DeployConfig.from_context({"alarmEmail": " ops@example.com ", "fallbackAlarmPercent": "25"})
    assert (config.alarm_email, config.fallback_alarm_percent) == ("ops@example.com", 25)


@pytest.mark.parametrize(("key", "value", "says"), [
    ("alarmEmail", "ops", "one email address"),
    ("alarmEmail", "ops@example", "one email address"),
    ("alarmEmail", "a@example.com,b@example.com", "one email address"),
    ("alarmEmail", "Ops <ops@example.com>", "one email address"),
    ("alarmEmail", 7, "must be a string"),
    ("fallbackAlarmPercent", 0, "from 1 to 100"),
    ("fallbackAlarmPercent", "101", "from 1 to 100"),
    ("fallbackAlarmPercent", "50%", "whole number"),
])
def test_bad_monitoring_values_are_refused_naming_the_key(key, value, says):
    with pytest.raises(ConfigError, match=f"{key}.*{says}"):
        DeployConfig.from_context({key: value})


def test_key_failure_throttle_is_off_by_default_and_comes_from_the_command_line():
    assert (DeployConfig().key_failure_limit, DeployConfig().key_failure_window_s) == (0, 60)
    config = DeployConfig.from_context({"keyFailureLimit": "20", "keyFailureWindowSeconds": " 120 "})
    assert (config.key_failure_limit, config.key_failure_window_s) == (20, 120)
    config = DeployConfig.from_context({"keyFailureLimit": 10_000, "keyFailureWindowSeconds": 3600})
    assert (config.key_failure_limit, config.key_failure_window_s) == (10_000, 3600)


@pytest.mark.parametrize(("key", "value", "says"), [
    ("keyFailureLimit", "-1", "whole number"),
    ("keyFailureLimit", -1, "from 0 to 10000"),
    ("keyFailureLimit", "10001", "from 0 to 10000"),
    ("keyFailureLimit", "many", "whole number"),
    ("keyFailureLimit", 2.5, "whole number"),
    ("keyFailureLimit", True, "whole number"),
    ("keyFailureWindowSeconds", 0, "from 1 to 3600"),
    ("keyFailureWindowSeconds", "3601", "from 1 to 3600"),
    ("keyFailureWindowSeconds", "-60", "whole number"),
    ("keyFailureWindowSeconds", "60s", "whole number"),
    ("keyFailureWindowSeconds", "1.5", "whole number"),
])
def test_bad_key_failure_throttle_values_are_refused_naming_the_key(key, value, says):
    with pytest.raises(ConfigError, match=f"{key}.*{says}"):
        DeployConfig.from_context({key: value})


def test_key_failure_throttle_values_given_directly_are_checked_too():
    with pytest.raises(ConfigError, match="keyFailureLimit"):
        DeployConfig(key_failure_limit=-1)
    with pytest.raises(ConfigError, match="keyFailureWindowSeconds"):
        DeployConfig(key_failure_window_s=60.5)  # type: ignore[arg-type]
