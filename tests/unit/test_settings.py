"""Settings from OVERSPILL_* variables, validated at start-up with messages naming the variable."""

import pytest

from overspill.config import Settings, SettingsError


def test_defaults_and_environment():
    settings = Settings.from_env({"OVERSPILL_PORT": "9000", "OVERSPILL_KEY_CACHE_TTL_S": "2.5",
                                  "OVERSPILL_ANTHROPIC_URL": "http://127.0.0.1:1/"})
    assert settings.port == 9000 and settings.key_cache_ttl_s == 2.5
    assert settings.anthropic_base == "http://127.0.0.1:1"
    assert settings.max_body_bytes == 32 * 1024 * 1024


def test_flags_override_environment():
    assert Settings.from_env({"OVERSPILL_PORT": "9000"}, port=9001).port == 9001


def test_round_trip_through_environment():
    settings = Settings(port=1234, anthropic_url="http://x:1")
    assert Settings.from_env(settings.as_env()) == settings


@pytest.mark.parametrize(("env", "named"), [
    ({"OVERSPILL_PORT": "eighty"}, "OVERSPILL_PORT"),
    ({"OVERSPILL_PORT": "70000"}, "OVERSPILL_PORT"),
    ({"OVERSPILL_ANTHROPIC_URL": "api.anthropic.com"}, "OVERSPILL_ANTHROPIC_URL"),
    ({"OVERSPILL_MAX_BODY_BYTES": "0"}, "OVERSPILL_MAX_BODY_BYTES"),
    ({"OVERSPILL_KEY_FAILURE_LIMIT": "-1"}, "OVERSPILL_KEY_FAILURE_LIMIT"),
    ({"OVERSPILL_KEY_FAILURE_WINDOW_S": "0"}, "OVERSPILL_KEY_FAILURE_WINDOW_S"),
])
def test_bad_settings_name_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_throttling_rejected_keys_is_off_unless_asked_for():
    assert Settings().key_failure_limit == 0
    settings = Settings.from_env({"OVERSPILL_KEY_FAILURE_LIMIT": "20", "OVERSPILL_KEY_FAILURE_WINDOW_S": "120"})
    assert (settings.key_failure_limit, settings.key_failure_window_s) == (20, 120.0)
