"""Admin overrides of the price table, checked up front with errors that name the model and the field.

An override is a mapping from model name to the fields it changes, e.g.
``{"claude-opus-4-8": {"input": "4.50", "output": "22.50"}}``. A name in the table (dated or its undated alias:
both share one entry) changes only the fields given; a new name adds a model and must give all five prices.
Numbers may be strings, ints, Decimals or JSON numbers (read as Decimal by ``parse_overrides``; a float is
taken by its shortest repr, i.e. as typed). Prices are USD per million tokens and may be 0, never negative.

Every error carries ``path``: where in the overrides the problem is (``("claude-x", "input")``), so the admin API
can name the field (``models.claude-x.input``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from overspill.pricing.prices import PRICE_FIELDS, ListPrice, LongContextTier

BEDROCK_PREMIUM_FIELD = "bedrock_geography_premium"
LONG_CONTEXT_FIELD = "long_context"
OVERRIDE_FIELDS = (*PRICE_FIELDS, BEDROCK_PREMIUM_FIELD, LONG_CONTEXT_FIELD)
LONG_CONTEXT_FIELDS = ("above_input_tokens", "input_factor", "output_factor")

_EXAMPLE = '{"claude-opus-4-8": {"input": "5", "output": "25"}}'

MAX_NAME_CHARS = 200
# Far above any real price, yet small enough that no cost computed from it can overflow or lose exactness.
MAX_PRICE = Decimal(100_000)        # USD per million tokens
MAX_FACTOR = Decimal(100)           # Bedrock multipliers and long-context factors
MAX_PLACES = 10
_MAX_TOKENS = 1_000_000_000
_GEOGRAPHY = re.compile(r"^[a-z][a-z0-9-]{0,31}$")   # "us", "global", "us-gov", "in-region"


class PriceOverrideError(ValueError):
    """An override the table cannot take; the message names the model, the field and what is allowed."""

    def __init__(self, message: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path   # into the overrides: (model,), (model, field), (model, "long_context", field)


def parse_overrides(json_text: str | None) -> dict[str, Any]:
    """Price overrides from JSON text (numbers read as Decimal, never float); empty text means none."""
    if json_text is None or not json_text.strip():
        return {}
    try:
        value = json.loads(json_text, parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise PriceOverrideError(f"price overrides are not valid JSON ({e}); expected an object such as "
                                 f"{_EXAMPLE}") from None
    if not isinstance(value, dict):
        raise PriceOverrideError(f"price overrides must be a JSON object from model name to prices, got a JSON "
                                 f"{type(value).__name__}; e.g. {_EXAMPLE}")
    return value


def apply_overrides(prices: Mapping[str, ListPrice], aliases: Mapping[str, str],
                    overrides: Mapping[str, Any]) -> dict[str, ListPrice]:
    """The table with the overrides applied; raises PriceOverrideError naming the first problem found."""
    if not isinstance(overrides, Mapping):
        raise PriceOverrideError(f"price overrides must be a mapping from model name to prices, got "
                                 f"{type(overrides).__name__}; e.g. {_EXAMPLE}")
    result = dict(prices)
    given_as: dict[str, str] = {}
    for name, fields in overrides.items():
        _check_name(name)
        canonical = aliases.get(name, name)
        if canonical in given_as:
            raise PriceOverrideError(f"price overrides name both {given_as[canonical]!r} and {name!r}, which are "
                                     f"one model ({canonical!r}); override it once", (name,))
        given_as[canonical] = name
        if not isinstance(fields, Mapping):
            raise PriceOverrideError(f"price override for {name!r} must be an object of fields "
                                     f"({', '.join(OVERRIDE_FIELDS)}), got {type(fields).__name__}", (name,))
        unknown = [str(f) for f in fields if f not in OVERRIDE_FIELDS]
        if unknown:
            raise PriceOverrideError(f"price override for {name!r}: unknown field(s) {', '.join(map(repr, unknown))}"
                                     f"; allowed: {', '.join(OVERRIDE_FIELDS)}", (name, unknown[0]))
        base = result.get(canonical)
        if base is None:
            missing = [f for f in PRICE_FIELDS if f not in fields]
            if missing:
                raise PriceOverrideError(f"price override for {name!r}: the model is not in the price table, so "
                                         f"all of {', '.join(PRICE_FIELDS)} are needed (missing: "
                                         f"{', '.join(missing)})", (name, missing[0]))
        result[canonical] = _overridden(name, base, fields)
    return result


def checked_multipliers(defaults: Mapping[str, Decimal], overrides: Mapping[str, Any] | None) -> dict[str, Decimal]:
    """Bedrock geography multipliers with admin changes merged in (keys: profile prefixes, in-region, unknown)."""
    merged = dict(defaults)
    if overrides is None:
        return merged
    if not isinstance(overrides, Mapping):
        raise PriceOverrideError(f"Bedrock geography multipliers must be a mapping from geography to a number, "
                                 f"got {type(overrides).__name__}")
    for geography, value in overrides.items():
        if not isinstance(geography, str) or not _GEOGRAPHY.match(geography):
            raise PriceOverrideError(f"Bedrock geography multipliers: geographies are lower-case profile prefixes "
                                     f"such as 'us' or 'global' (or 'in-region', 'unknown'), got {geography!r}",
                                     (str(geography),))
        merged[geography] = to_decimal(value, f"Bedrock geography multiplier for {geography!r}", positive=True,
                                       at_most=MAX_FACTOR, path=(geography,))
    return merged


def to_decimal(value: Any, what: str, *, positive: bool = False, at_most: Decimal = MAX_PRICE,
               path: tuple[str, ...] = ()) -> Decimal:
    """A finite, non-negative (or positive) Decimal from a str, int, Decimal or float; never a bool."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr is the shortest string that reads back as this float: what the admin typed, not 2**-n noise.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    else:
        number = None
    if number is None or not number.is_finite():
        raise PriceOverrideError(f"{what} must be a number, e.g. \"3.75\", got {_shown(value)}", path)
    if number < 0 or (positive and number == 0):
        least = "greater than 0" if positive else "zero or more"
        raise PriceOverrideError(f"{what} must be {least}, got {_shown(value)}", path)
    if number > at_most or -number.normalize().as_tuple().exponent > MAX_PLACES:
        raise PriceOverrideError(f"{what} must be at most {at_most} with at most {MAX_PLACES} decimal places, "
                                 f"got {_shown(value)}", path)
    return number


def _check_name(name: Any) -> None:
    if (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS
            or any(c.isspace() or unicodedata.category(c).startswith("C") for c in name)):
        raise PriceOverrideError(f"price overrides: model names must be non-empty strings of at most "
                                 f"{MAX_NAME_CHARS} printable characters without spaces, got {_shown(name)}",
                                 (str(name),))
    if name.lower().endswith("[1m]"):
        raise PriceOverrideError(f"price overrides: give {name[:-4]!r} without '[1m]': the suffix asks for the "
                                 f"1M context window and is priced from the model's entry (its long_context)",
                                 (name,))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}… ({len(str(value))} characters)"


def _overridden(name: str, base: ListPrice | None, fields: Mapping[str, Any]) -> ListPrice:
    prices = {f: to_decimal(fields[f], f"price override for {name!r}: {f!r}", path=(name, f))
              for f in PRICE_FIELDS if f in fields}
    premium = fields.get(BEDROCK_PREMIUM_FIELD, True if base is None else base.bedrock_geography_premium)
    if not isinstance(premium, bool):
        raise PriceOverrideError(f"price override for {name!r}: {BEDROCK_PREMIUM_FIELD!r} must be true or false, "
                                 f"got {premium!r}", (name, BEDROCK_PREMIUM_FIELD))
    long_context = base.long_context if base is not None else None
    if LONG_CONTEXT_FIELD in fields:
        long_context = _long_context(name, fields[LONG_CONTEXT_FIELD])
    changed = ", ".join(f for f in OVERRIDE_FIELDS if f in fields)
    if base is None:
        return ListPrice(**prices, bedrock_geography_premium=premium, long_context=long_context,
                         source=f"admin override (a model not in the table: {changed})")
    return replace(base, **prices, bedrock_geography_premium=premium, long_context=long_context,
                   source=f"admin override of {changed}; otherwise {base.source}")


def _long_context(name: str, value: Any) -> LongContextTier | None:
    what = f"price override for {name!r}: {LONG_CONTEXT_FIELD!r}"
    path = (name, LONG_CONTEXT_FIELD)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PriceOverrideError(f"{what} must be null (no long-context tier) or an object with "
                                 f"{', '.join(LONG_CONTEXT_FIELDS)}, got {value!r}", path)
    unknown = [str(f) for f in value if f not in LONG_CONTEXT_FIELDS]
    missing = [f for f in LONG_CONTEXT_FIELDS if f not in value]
    if unknown or missing:
        raise PriceOverrideError(f"{what} needs exactly {', '.join(LONG_CONTEXT_FIELDS)}"
                                 + (f"; unknown: {', '.join(map(repr, unknown))}" if unknown else "")
                                 + (f"; missing: {', '.join(missing)}" if missing else ""),
                                 (*path, (unknown or missing)[0]))
    threshold = value["above_input_tokens"]
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= _MAX_TOKENS:
        raise PriceOverrideError(f"{what}: 'above_input_tokens' must be a whole number of tokens above 0 (at most "
                                 f"{_MAX_TOKENS:,}), got {threshold!r}", (*path, "above_input_tokens"))
    return LongContextTier(threshold,
                           to_decimal(value["input_factor"], f"{what}: 'input_factor'", positive=True,
                                      at_most=MAX_FACTOR, path=(*path, "input_factor")),
                           to_decimal(value["output_factor"], f"{what}: 'output_factor'", positive=True,
                                      at_most=MAX_FACTOR, path=(*path, "output_factor")))


def stored_form(models: Mapping[str, Any], bedrock_multipliers: Mapping[str, Any]) -> dict[str, Any]:
    """Checked overrides as they are stored: every number as fixed-point text, so money is never a float.
    Call it on overrides the table has accepted (``PriceTable.load``); it raises PriceOverrideError otherwise."""
    def text(value: Any, what: str, **limits: Any) -> str:
        return format(to_decimal(value, what, **limits), "f")

    stored: dict[str, Any] = {}
    for name, fields in models.items():
        entry: dict[str, Any] = {}
        for field, value in fields.items():
            if field in PRICE_FIELDS:
                entry[field] = text(value, field)
            elif field == LONG_CONTEXT_FIELD and value is not None:
                entry[field] = {"above_input_tokens": value["above_input_tokens"],
                                **{f: text(value[f], f, positive=True, at_most=MAX_FACTOR)
                                   for f in ("input_factor", "output_factor")}}
            else:
                entry[field] = value
        stored[name] = entry
    return {"models": stored,
            "bedrock_multipliers": {g: text(v, g, positive=True, at_most=MAX_FACTOR)
                                    for g, v in bedrock_multipliers.items()}}
