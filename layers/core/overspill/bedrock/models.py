"""Which Bedrock model answers a requested Anthropic model name.

Bedrock serves Claude on demand only through inference profiles: the foundation-model id with a geography
prefix (``us.anthropic.claude-…``); a bare id fails with "on-demand throughput isn't supported". CountTokens is
the opposite: it wants the bare id. So a resolution carries both.

An unknown model is a clear 400 naming the setting that maps it, never a silent substitute: a developer who
asked for Opus must not get Haiku because the table is old.

Mappings come from three places, the later winning: the default table (for the configured geography), the
deployment's ``OVERSPILL_BEDROCK_MODEL_MAP``, and the admins' map in the config table (``bedrock_model_map``),
which each instance re-reads now and then (:class:`AdminMappings`) so that a change needs no redeploy.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from overspill.config import SettingsError
from overspill.errors import GatewayError
from overspill.live_document import LiveDocument

GEOGRAPHIES = ("us", "eu", "apac", "jp", "au", "global")
MODEL_MAP_SETTING = "OVERSPILL_BEDROCK_MODEL_MAP"
GEOGRAPHY_SETTING = "OVERSPILL_BEDROCK_GEOGRAPHY"

CONTEXT_1M_BETA = "context-1m-2025-08-07"
_1M_SUFFIX = "[1m]"

# Anthropic model name -> Bedrock foundation-model id (bare, without the inference-profile prefix).
DEFAULT_MODEL_IDS: Mapping[str, str] = MappingProxyType({
    "claude-sonnet-4-5-20250929": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-haiku-4-5-20251001": "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-haiku-4-5": "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-opus-4-5-20251101": "anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-opus-4-5": "anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-opus-4-1-20250805": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-opus-4-1": "anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-opus-4-6": "anthropic.claude-opus-4-6-v1",
    "claude-sonnet-4-6": "anthropic.claude-sonnet-4-6",
    "claude-opus-4-7": "anthropic.claude-opus-4-7",
    "claude-opus-4-8": "anthropic.claude-opus-4-8",
})

# Foundation models offered in only some geographies (PROTOCOL §4); the others are assumed everywhere and a
# region without them answers with Bedrock's own clear 400.
_GEOGRAPHY_LIMITS: Mapping[str, frozenset[str]] = MappingProxyType({
    "anthropic.claude-opus-4-1-20250805-v1:0": frozenset({"us"}),
})

_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[\w-]*:\d*:(?P<kind>[\w-]+)/(?P<id>.+)$")

MAX_NAME_CHARS = 200
MAX_TARGET_CHARS = 1000
# What a mapping may name, checked up front so that a typo is refused when it is made rather than becoming a
# Bedrock 400 in some developer's session: a model id ("anthropic.claude-x-v1:0"), an inference-profile id
# ("us.anthropic.claude-x-v1:0"), or the ARN of something Bedrock invokes.
_BEDROCK_ID = re.compile(r"^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,3}(:[a-z0-9-]{1,63}){0,2}$")
_INVOCABLE_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]*:(\d{12})?:"
    r"(foundation-model|inference-profile|application-inference-profile|provisioned-model|imported-model|"
    r"custom-model-deployment)/[A-Za-z0-9][A-Za-z0-9._:/-]*$")
_TARGET_EXAMPLES = ("anthropic.claude-x-v1:0, us.anthropic.claude-x-v1:0 or "
                    "arn:aws:bedrock:<region>:<account>:inference-profile/…")


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    requested: str                      # exactly what the client asked for, e.g. "claude-opus-4-8[1m]"
    invoke_id: str                      # for InvokeModel*: an inference-profile id, or an override as given
    foundation_id: str | None           # bare id for CountTokens; None when an override hides it (app profile)
    extra_betas: tuple[str, ...] = ()   # betas the name itself asks for ("[1m]" -> context-1m)


class UnknownModel(GatewayError):
    """No Bedrock model for the requested name: a 400 the developer sees, telling the admin how to map it."""

    def __init__(self, model: str, reason: str | None = None) -> None:
        name = _split_1m(model)[0] or "claude-foo"
        example = f'{{{orjson.dumps(name).decode()}: {orjson.dumps(f"us.anthropic.{name}-v1:0").decode()}}}'
        why = reason or f"no Bedrock model is mapped for {model!r}"
        super().__init__(
            400,
            f"Overspill (Bedrock fallback): {why}, so this request cannot fall back to Bedrock. Ask your Overspill "
            f"admin to map it, in the admin API's model mappings or in {MODEL_MAP_SETTING}, from the model name "
            f"to a Bedrock model id, inference-profile id or ARN, e.g. {example}.",
            should_retry=False,
        )
        self.model = model


class MappingError(ValueError):
    """A model mapping the gateway cannot use. ``model`` is the requested name it is keyed by (None: the map
    itself is wrong); the message says what is allowed, without naming where the map came from."""

    def __init__(self, model: str | None, message: str) -> None:
        super().__init__(message)
        self.model = model


class AdminMappings(LiveDocument[Mapping[str, str]]):
    """The admins' model map from the config table, re-read at most every ``ttl_s`` (like the price book).

    A bad document (the admin API refuses one, so only a hand edit makes it) or an unreachable table is logged
    and the last good map kept: Bedrock fallback must go on working."""

    def __init__(self, load: Callable[[], Any | None], *, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(load, lambda document: MappingProxyType(checked_mappings(document or {})),
                         MappingProxyType({}), ttl_s=ttl_s, what="admin model mappings", clock=clock)


class ModelMap:
    """Resolves requested model names: admin mappings (read at run time), then the deployment's overrides, then
    the default table with a geography prefix."""

    def __init__(self, geography: str = "us", overrides: Mapping[str, str] | None = None, *,
                 admin: AdminMappings | None = None) -> None:
        if geography not in GEOGRAPHIES:
            raise SettingsError(
                f"{GEOGRAPHY_SETTING} must be one of {', '.join(GEOGRAPHIES)} (the Bedrock inference-profile "
                f"prefix), got {geography!r}")
        self.geography = geography
        try:
            self.overrides: Mapping[str, str] = MappingProxyType(checked_mappings(dict(overrides or {})))
        except MappingError as error:
            raise SettingsError(f"{MODEL_MAP_SETTING}: {error}") from None
        self._admin = admin
        self._merged: tuple[Mapping[str, str], Mapping[str, str]] | None = None

    def mappings(self) -> Mapping[str, str]:
        """Every explicit mapping in force now: the deployment's, with the admins' over them."""
        if self._admin is None:
            return self.overrides
        admin = self._admin.current()
        merged = self._merged
        if merged is None or merged[0] is not admin:  # the admin map is a new object only when it was re-read
            merged = (admin, MappingProxyType({**self.overrides, **admin}))
            self._merged = merged
        return merged[1]

    def resolve(self, requested: str) -> ResolvedModel:
        base, one_m = _split_1m(requested)
        extra = (CONTEXT_1M_BETA,) if one_m else ()
        mappings = self.mappings()
        # An override keyed by the exact name (even with "[1m]") wins over one keyed by the base name.
        override = mappings.get(requested) or mappings.get(base)
        if override is not None:
            return ResolvedModel(requested, override, foundation_id_of(override), extra)
        foundation = DEFAULT_MODEL_IDS.get(base)
        if foundation is None:
            raise UnknownModel(requested)
        allowed = _GEOGRAPHY_LIMITS.get(foundation)
        if allowed is not None and self.geography not in allowed:
            prefixes = ", ".join(f"{g}." for g in sorted(allowed))
            raise UnknownModel(requested, f"{base!r} is offered on Bedrock only with the {prefixes} inference "
                                          f"profile and this gateway uses {self.geography}. profiles")
        return ResolvedModel(requested, f"{self.geography}.{foundation}", foundation, extra)


def foundation_id_of(model_id: str) -> str | None:
    """The bare foundation-model id inside a Bedrock id, inference-profile id or ARN (None if it has none)."""
    arn = _ARN.match(model_id)
    if arn:
        if arn["kind"] == "foundation-model":
            return arn["id"]
        if arn["kind"] == "inference-profile":
            return _strip_profile_prefix(arn["id"])
        return None  # application-inference-profile, provisioned-model …: the ARN does not say
    return _strip_profile_prefix(model_id)


def parse_model_map(json_text: str | None) -> dict[str, str]:
    """``OVERSPILL_BEDROCK_MODEL_MAP``: a JSON object from requested model name to Bedrock id ("" means none)."""
    if json_text is None or not json_text.strip():
        return {}
    try:
        value = orjson.loads(json_text)
    except orjson.JSONDecodeError as e:
        raise SettingsError(f"{MODEL_MAP_SETTING} is not valid JSON ({e}); expected an object such as "
                            f'{{"claude-foo": "us.anthropic.claude-foo-v1:0"}}') from None
    if not isinstance(value, dict):
        raise SettingsError(f"{MODEL_MAP_SETTING} must be a JSON object from model name to Bedrock model id, "
                            f"got a JSON {type(value).__name__}")
    try:
        return checked_mappings(value)
    except MappingError as error:
        raise SettingsError(f"{MODEL_MAP_SETTING}: {error}") from None


def checked_mappings(mapping: Any) -> dict[str, str]:
    """A model map every source shares the rules of; raises MappingError naming the first bad entry."""
    if not isinstance(mapping, Mapping):
        raise MappingError(None, f"a model map must be an object from model name to Bedrock model id, got "
                                 f"{type(mapping).__name__}")
    for name, target in mapping.items():
        if (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS
                or any(unicodedata.category(c).startswith("C") for c in name)):
            raise MappingError(None if not isinstance(name, str) else name,
                               f"model names must be non-empty strings of at most {MAX_NAME_CHARS} printable "
                               f"characters, got {_shown(name)}")
        if not isinstance(target, str) or not target.strip():
            raise MappingError(name, f"the Bedrock id for {name!r} must be a non-empty string, got {_shown(target)}")
        if len(target) > MAX_TARGET_CHARS or not (_BEDROCK_ID.match(target) or _INVOCABLE_ARN.match(target)):
            raise MappingError(name, f"the Bedrock id for {name!r} must be a Bedrock model id, inference-profile id "
                                     f"or ARN, lower-case without spaces (e.g. {_TARGET_EXAMPLES}), got "
                                     f"{_shown(target)}")
    return dict(mapping)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}… ({len(str(value))} characters)"


def _split_1m(requested: str) -> tuple[str, bool]:
    if requested.lower().endswith(_1M_SUFFIX):
        return requested[: -len(_1M_SUFFIX)], True
    return requested, False


def _strip_profile_prefix(model_id: str) -> str:
    # "us.anthropic.claude-x-v1:0" -> "anthropic.claude-x-v1:0": a profile id has one dot more than the bare id,
    # whose only dot separates the provider from the model (the version after ":" may not contain dots either).
    head = model_id.split(":", 1)[0]
    if head.count(".") >= 2:
        return model_id.split(".", 1)[1]
    return model_id
