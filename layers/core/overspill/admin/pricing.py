"""Prices and model mappings, as admins see and change them.

Both are documents in the config table (``price_overrides``, ``bedrock_model_map``) that every proxy instance
re-reads every ``pricing_cache_ttl_s``. A change is checked with exactly the code the proxy uses to read it, so
what the API accepts the proxy can use; it is written only over the version the admin read (two admins
editing at once get a 409, never a silent overwrite) and recorded in the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import Conflict, InvalidInput
from overspill.bedrock.models import (
    DEFAULT_MODEL_IDS,
    MappingError,
    ModelMap,
    UnknownModel,
    checked_mappings,
    parse_model_map,
)
from overspill.config import Settings
from overspill.pricing.overrides import PriceOverrideError, apply_overrides, checked_multipliers, stored_form
from overspill.pricing.prices import ALIASES, BEDROCK_GEOGRAPHY_MULTIPLIERS, LIST_PRICES
from overspill.pricing.table import PriceTable
from overspill.store.config import (
    MODEL_MAP,
    PRICE_OVERRIDES,
    ConfigDocument,
    ConfigRepository,
    StaleVersion,
)

MappingSource = Literal["admin", "settings", "built_in"]


@dataclass(frozen=True, slots=True)
class PricingState:
    table: PriceTable                 # the list prices with the stored overrides applied (when they are valid)
    overridden: frozenset[str]        # table entries the overrides change or add
    models: dict[str, Any]            # the overrides document as stored
    bedrock_multipliers: dict[str, Any]
    document: ConfigDocument
    problem: str | None               # why the stored document is ignored (only a hand edit can make it bad)


@dataclass(frozen=True, slots=True)
class EffectiveMapping:
    model: str
    bedrock_model_id: str | None      # what InvokeModel is called with; None: not offered in this geography
    foundation_model_id: str | None   # what CountTokens is called with; None when the id hides it
    source: MappingSource
    problem: str | None


@dataclass(frozen=True, slots=True)
class MappingState:
    geography: str
    built_in: dict[str, str]
    settings: dict[str, str]
    admin: dict[str, str]
    effective: list[EffectiveMapping]
    document: ConfigDocument
    problem: str | None


class PricingAdmin:
    def __init__(self, settings: Settings, audit: AuditLog) -> None:
        self._settings = settings
        self._audit = audit
        self._config = ConfigRepository()

    @property
    def refresh_s(self) -> float:
        """How long a change may take to reach every proxy instance."""
        return self._settings.pricing_cache_ttl_s

    # --- prices ---------------------------------------------------------------------------------------------

    def pricing(self) -> PricingState:
        return self._pricing_state(self._config.read(PRICE_OVERRIDES))

    def replace_overrides(self, actor: Actor, *, version: int, models: Mapping[str, Any],
                          bedrock_multipliers: Mapping[str, Any]) -> PricingState:
        try:
            apply_overrides(LIST_PRICES, ALIASES, models)
        except PriceOverrideError as error:
            raise _invalid("models", error) from None
        try:
            checked_multipliers(BEDROCK_GEOGRAPHY_MULTIPLIERS, bedrock_multipliers)
        except PriceOverrideError as error:
            raise _invalid("bedrock_multipliers", error) from None
        document = stored_form(models, bedrock_multipliers)
        before = self._read_expecting(PRICE_OVERRIDES, "price overrides", version)
        after = self._write(PRICE_OVERRIDES, "price overrides", document, version, actor)
        self._audit.record(actor, "pricing.update", "pricing", PRICE_OVERRIDES,
                           before=_overrides_view(before), after=_overrides_view(after))
        return self._pricing_state(after)

    def _pricing_state(self, document: ConfigDocument) -> PricingState:
        value = document.value if document.value is not None else {}
        models = value.get("models") if isinstance(value, dict) else None
        multipliers = value.get("bedrock_multipliers") if isinstance(value, dict) else None
        problem = None
        try:
            if not isinstance(value, dict):
                raise PriceOverrideError(f"the document must be an object, got {type(value).__name__}")
            table = PriceTable.load(models, bedrock_multipliers=multipliers)
            overridden = frozenset(ALIASES.get(name, name) for name in models or {})
        except (PriceOverrideError, AttributeError, TypeError) as error:
            # What the proxy does with such a document: ignore it and price at the list prices.
            problem = f"the stored price overrides are invalid and ignored (list prices apply): {error}"
            table, overridden = PriceTable.load(), frozenset()
        return PricingState(table, overridden, models if isinstance(models, dict) else {},
                            multipliers if isinstance(multipliers, dict) else {}, document, problem)

    # --- model mappings -------------------------------------------------------------------------------------

    def mappings(self) -> MappingState:
        return self._mapping_state(self._config.read(MODEL_MAP))

    def replace_mappings(self, actor: Actor, *, version: int, mappings: Mapping[str, str]) -> MappingState:
        try:
            checked = checked_mappings(mappings)
        except MappingError as error:
            raise InvalidInput("mappings" if error.model is None else f"mappings.{error.model}", str(error)) from None
        before = self._read_expecting(MODEL_MAP, "model mappings", version)
        after = self._write(MODEL_MAP, "model mappings", checked, version, actor)
        self._audit.record(actor, "model_mappings.update", "model_mappings", MODEL_MAP,
                           before=_mappings_view(before), after=_mappings_view(after))
        return self._mapping_state(after)

    def _mapping_state(self, document: ConfigDocument) -> MappingState:
        geography = self._settings.bedrock_geography
        settings_map = parse_model_map(self._settings.bedrock_model_map)
        problem = None
        try:
            admin = checked_mappings(document.value if document.value is not None else {})
        except MappingError as error:
            # What the proxy does with such a document: ignore it and use the deployment's mappings.
            problem = f"the stored model mappings are invalid and ignored: {error}"
            admin = {}
        built_in: dict[str, str] = {}
        plain = ModelMap(geography)
        for name in DEFAULT_MODEL_IDS:
            try:
                built_in[name] = plain.resolve(name).invoke_id
            except UnknownModel:
                continue  # not offered with this geography's profiles
        resolver = ModelMap(geography, {**settings_map, **admin})
        effective = []
        for name in sorted({*DEFAULT_MODEL_IDS, *settings_map, *admin}):
            source: MappingSource = "admin" if name in admin else "settings" if name in settings_map else "built_in"
            try:
                resolved = resolver.resolve(name)
            except UnknownModel:
                effective.append(EffectiveMapping(name, None, None, source, f"not offered on Bedrock with "
                                                  f"{geography}. inference profiles; map it to use it"))
                continue
            effective.append(EffectiveMapping(name, resolved.invoke_id, resolved.foundation_id, source, None))
        return MappingState(geography, built_in, settings_map, admin, effective, document, problem)

    # --- both -----------------------------------------------------------------------------------------------

    def _read_expecting(self, name: str, what: str, version: int) -> ConfigDocument:
        """The document about to be replaced, if it is still the version the admin read (for the audit)."""
        current = self._config.read(name)
        if current.version != version:
            raise _stale(what, version, current.version)
        return current

    def _write(self, name: str, what: str, value: Any, version: int, actor: Actor) -> ConfigDocument:
        try:
            return self._config.replace(name, value, expected_version=version,
                                        updated_by=actor.principal.username)
        except StaleVersion as stale:
            raise _stale(what, version, stale.current) from None


def _invalid(prefix: str, error: PriceOverrideError) -> InvalidInput:
    return InvalidInput(".".join((prefix, *error.path)), str(error))


def _stale(what: str, sent: int, current: int) -> Conflict:
    return Conflict(f"The {what} changed since you read them: they are at version {current}, and this change was "
                    f"made to version {sent}. Read them again, reapply your change and send it with the new version.")


def _overrides_view(document: ConfigDocument) -> dict[str, Any]:
    value = document.value if isinstance(document.value, dict) else {}
    return {"version": document.version, "models": value.get("models") or {},
            "bedrock_multipliers": value.get("bedrock_multipliers") or {}}


def _mappings_view(document: ConfigDocument) -> dict[str, Any]:
    return {"version": document.version, "mappings": document.value or {}}
