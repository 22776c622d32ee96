"""Which Bedrock model answers: the default table, geographies, [1m], admin overrides, and clear refusals."""

import json

import pytest

from overspill.bedrock.models import (
    CONTEXT_1M_BETA,
    DEFAULT_MODEL_IDS,
    GEOGRAPHIES,
    AdminMappings,
    MappingError,
    ModelMap,
    ResolvedModel,
    UnknownModel,
    checked_mappings,
    foundation_id_of,
    parse_model_map,
)
from overspill.config import SettingsError
from overspill.errors import GatewayError


@pytest.mark.parametrize("requested, foundation", [
    ("claude-sonnet-4-5-20250929", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("claude-haiku-4-5-20251001", "anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("claude-opus-4-5-20251101", "anthropic.claude-opus-4-5-20251101-v1:0"),
    ("claude-opus-4-1-20250805", "anthropic.claude-opus-4-1-20250805-v1:0"),
    ("claude-opus-4-6", "anthropic.claude-opus-4-6-v1"),
    ("claude-sonnet-4-6", "anthropic.claude-sonnet-4-6"),
    ("claude-opus-4-7", "anthropic.claude-opus-4-7"),
    ("claude-opus-4-8", "anthropic.claude-opus-4-8"),
    ("claude-sonnet-4-5", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("claude-haiku-4-5", "anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("claude-opus-4-5", "anthropic.claude-opus-4-5-20251101-v1:0"),
])
def test_known_models_resolve_to_a_us_inference_profile_and_the_bare_id(requested, foundation):
    assert ModelMap().resolve(requested) == ResolvedModel(requested, f"us.{foundation}", foundation, ())


@pytest.mark.parametrize("geography", GEOGRAPHIES)
def test_the_geography_is_the_inference_profile_prefix(geography):
    resolved = ModelMap(geography).resolve("claude-sonnet-4-5-20250929")
    assert resolved.invoke_id == f"{geography}.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert resolved.foundation_id == "anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize("geography", ["US", "us-east-1", "", "apac."])
def test_an_unknown_geography_is_a_settings_error_naming_the_choices(geography):
    with pytest.raises(SettingsError, match="OVERSPILL_BEDROCK_GEOGRAPHY.*us, eu, apac, jp, au, global"):
        ModelMap(geography)


def test_1m_suffix_adds_the_1m_context_beta_and_keeps_the_requested_name():
    resolved = ModelMap().resolve("claude-sonnet-4-5-20250929[1m]")
    assert resolved == ResolvedModel("claude-sonnet-4-5-20250929[1m]", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                     "anthropic.claude-sonnet-4-5-20250929-v1:0", (CONTEXT_1M_BETA,))
    assert ModelMap().resolve("claude-opus-4-8[1M]").extra_betas == ("context-1m-2025-08-07",)


def test_opus_4_1_has_only_a_us_profile():
    assert ModelMap("us").resolve("claude-opus-4-1").invoke_id == "us.anthropic.claude-opus-4-1-20250805-v1:0"
    with pytest.raises(UnknownModel, match=r"only with the us\. inference profile.*eu\. profiles"):
        ModelMap("eu").resolve("claude-opus-4-1-20250805")


def test_overrides_are_used_as_given_and_win_over_the_table():
    models = ModelMap("us", {
        "claude-opus-4-8": "global.anthropic.claude-opus-4-8",
        "claude-foo": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
        "claude-bar": "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-bar-v1:0",
        "claude-baz": "anthropic.claude-baz-v2:0",
    })
    assert models.resolve("claude-opus-4-8") == ResolvedModel(
        "claude-opus-4-8", "global.anthropic.claude-opus-4-8", "anthropic.claude-opus-4-8", ())
    foo = models.resolve("claude-foo[1m]")
    assert foo.invoke_id == "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    assert foo.foundation_id is None  # an application profile hides the model: no CountTokens
    assert foo.extra_betas == (CONTEXT_1M_BETA,)
    assert models.resolve("claude-bar").foundation_id == "anthropic.claude-bar-v1:0"
    assert models.resolve("claude-baz").invoke_id == models.resolve("claude-baz").foundation_id == (
        "anthropic.claude-baz-v2:0")
    assert models.resolve("claude-sonnet-4-6").invoke_id == "us.anthropic.claude-sonnet-4-6"  # table still used


def test_an_override_for_the_exact_1m_name_wins_over_the_base_name():
    models = ModelMap("us", {"claude-x": "us.anthropic.claude-x-v1:0", "claude-x[1m]": "us.anthropic.claude-x-1m"})
    assert models.resolve("claude-x[1m]").invoke_id == "us.anthropic.claude-x-1m"
    assert models.resolve("claude-x").invoke_id == "us.anthropic.claude-x-v1:0"


@pytest.mark.parametrize("model_id, foundation", [
    ("us.anthropic.claude-opus-4-8", "anthropic.claude-opus-4-8"),
    ("apac.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("anthropic.claude-opus-4-6-v1", "anthropic.claude-opus-4-6-v1"),
    ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
     "anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-opus-4-8",
     "anthropic.claude-opus-4-8"),
    ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz", None),
])
def test_foundation_id_is_found_inside_profile_ids_and_arns(model_id, foundation):
    assert foundation_id_of(model_id) == foundation


def test_unknown_model_is_a_400_that_names_the_model_and_how_to_map_it():
    with pytest.raises(UnknownModel) as caught:
        ModelMap().resolve("claude-foo-9")
    error = caught.value
    assert isinstance(error, GatewayError)
    assert (error.status, error.error_type, error.should_retry, error.model) == (
        400, "invalid_request_error", False, "claude-foo-9")
    assert error.message.startswith("Overspill (Bedrock fallback): ")
    assert "'claude-foo-9'" in error.message and "OVERSPILL_BEDROCK_MODEL_MAP" in error.message
    example = error.message.split("e.g. ", 1)[1].rstrip(".")
    assert json.loads(example) == {"claude-foo-9": "us.anthropic.claude-foo-9-v1:0"}


def test_unknown_model_is_never_substituted_even_when_close_to_a_known_one():
    for name in ("claude-opus-4-8-20990101", "Claude-Opus-4-8", "opus", "us.anthropic.claude-opus-4-8"):
        with pytest.raises(UnknownModel):
            ModelMap().resolve(name)


def test_default_table_has_only_bare_anthropic_ids():
    assert all(v.startswith("anthropic.claude-") for v in DEFAULT_MODEL_IDS.values())


# --- OVERSPILL_BEDROCK_MODEL_MAP ---------------------------------------------------------------------------------


def test_model_map_parses_a_json_object():
    assert parse_model_map('{"claude-foo": "us.anthropic.claude-foo-v1:0"}') == {
        "claude-foo": "us.anthropic.claude-foo-v1:0"}
    assert parse_model_map("") == {} and parse_model_map("  ") == {} and parse_model_map(None) == {}


@pytest.mark.parametrize("text, complaint", [
    ("{claude-foo: x}", "not valid JSON"),
    ('["claude-foo"]', "must be a JSON object.*list"),
    ('{"claude-foo": 3}', "'claude-foo' must be a non-empty string"),
    ('{"claude-foo": ""}', "'claude-foo' must be a non-empty string"),
    ('{"claude-foo": "us.anthropic. x"}', "without spaces"),
    ('{"": "us.anthropic.x"}', "model names must be non-empty"),
    ('{"claude-foo": "opus"}', "must be a Bedrock model id, inference-profile id or ARN"),
    ('{"claude-foo": "US.Anthropic.Claude-Foo"}', "lower-case"),
    ('{"claude-foo": "arn:aws:s3:::bucket/key"}', "must be a Bedrock model id"),
    ('{"claude-foo": "arn:aws:bedrock:us-east-1:123456789012:agent/abc"}', "must be a Bedrock model id"),
    ('{"claude-foo\\u0000": "us.anthropic.claude-foo-v1:0"}', "printable characters"),
    ('{"%s": "us.anthropic.claude-foo-v1:0"}' % ("c" * 201), "at most 200"),
])
def test_model_map_errors_name_the_setting_and_the_problem(text, complaint):
    with pytest.raises(SettingsError, match=f"OVERSPILL_BEDROCK_MODEL_MAP.*{complaint}"):
        parse_model_map(text)


def test_overrides_given_directly_are_checked_too():
    with pytest.raises(SettingsError):
        ModelMap("us", {"claude-foo": ""})


@pytest.mark.parametrize("target", [
    "anthropic.claude-x-v1:0",
    "us.anthropic.claude-x-v1:0",
    "global.anthropic.claude-opus-4-8",
    "anthropic.claude-v2:1:18k",
    "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-x-v1:0",
    "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-x-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
    "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:provisioned-model/abc123",
])
def test_model_ids_inference_profiles_and_their_arns_are_accepted(target):
    assert checked_mappings({"claude-x": target}) == {"claude-x": target}


def test_a_bad_mapping_names_the_model_it_is_keyed_by():
    with pytest.raises(MappingError) as refused:
        checked_mappings({"claude-ok": "us.anthropic.claude-ok-v1:0", "claude-bad": "us.anthropic.claude bad"})
    assert refused.value.model == "claude-bad"
    assert "OVERSPILL_" not in str(refused.value)   # the admin API says where the map came from


# --- the admins' map, re-read at run time ---------------------------------------------------------------------

class Documents:
    """What the config table holds, as the proxy's loader would read it; counts the reads."""

    def __init__(self, *documents) -> None:
        self.documents, self.reads = list(documents), 0

    def __call__(self):
        self.reads += 1
        document = self.documents[min(self.reads, len(self.documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return document


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_admin_mappings_win_over_the_deployments_and_the_table():
    admin = AdminMappings(Documents({"claude-next": "global.anthropic.claude-next-v2:0",
                                     "claude-opus-4-8": "global.anthropic.claude-opus-4-8"}), ttl_s=60)
    models = ModelMap("us", {"claude-next": "us.anthropic.claude-next-v1:0", "claude-other": "anthropic.claude-o-v1"},
                      admin=admin)
    assert models.resolve("claude-next").invoke_id == "global.anthropic.claude-next-v2:0"
    assert models.resolve("claude-opus-4-8[1m]").invoke_id == "global.anthropic.claude-opus-4-8"
    assert models.resolve("claude-other").invoke_id == "anthropic.claude-o-v1"
    assert models.resolve("claude-sonnet-4-6").invoke_id == "us.anthropic.claude-sonnet-4-6"


def test_the_admin_map_is_read_at_most_once_per_ttl_and_then_again():
    documents, clock = Documents(None, {"claude-new": "us.anthropic.claude-new-v1:0"}), Clock()
    models = ModelMap("us", admin=AdminMappings(documents, ttl_s=30, clock=clock))
    for _ in range(3):
        with pytest.raises(UnknownModel):
            models.resolve("claude-new")
    assert documents.reads == 1

    clock.now += 29.9
    with pytest.raises(UnknownModel):
        models.resolve("claude-new")
    clock.now += 0.1
    assert models.resolve("claude-new").invoke_id == "us.anthropic.claude-new-v1:0"
    assert documents.reads == 2


@pytest.mark.parametrize("bad", [
    {"claude-new": "us.anthropic.claude new"},
    ["claude-new"],
    ConnectionError("the config table is unreachable"),
])
def test_a_bad_or_unreadable_admin_map_keeps_the_last_good_one(bad, captured_logs):
    documents, clock = Documents({"claude-new": "us.anthropic.claude-new-v1:0"}, bad), Clock()
    models = ModelMap("us", admin=AdminMappings(documents, ttl_s=30, clock=clock))
    assert models.resolve("claude-new").invoke_id == "us.anthropic.claude-new-v1:0"
    clock.now += 30
    assert models.resolve("claude-new").invoke_id == "us.anthropic.claude-new-v1:0"
    assert documents.reads == 2
    assert "keeping the last good one" in captured_logs.getvalue()
