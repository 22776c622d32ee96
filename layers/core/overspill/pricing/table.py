"""What a request cost: the price table (with admin overrides) applied to a usage's tokens, in Decimal.

- ``PriceTable.load(overrides)`` builds the table once per instance; ``price_for`` gives the USD-per-MTok
  prices of a model on a route, ``cost_of`` the cost of a usage with a snapshot of exactly those prices.
- Plan traffic is priced at the API list price and flagged ``route: plan`` in the snapshot: plans are not
  billed per token, so the figure is what the API would have cost (what the plan saved).
- Bedrock traffic is priced at the list price times the multiplier of the geography its model id names
  (``us.``/``eu.``/… profiles, ``global.``, a bare in-Region id, or unknown for application profiles). The
  model priced is the one Bedrock ran when its id says (an admin may map a name to another model).
- An unknown model costs ``usd=None, known=False``, never 0: a dashboard must show it as unknown.
- ``[1m]`` on a model name selects the same entry; the entry's long-context tier (if any) applies when the
  request's input, counting cache writes and reads, exceeds its threshold (Anthropic bills the whole request
  at the premium then). Requests cannot exceed 200k input tokens without the 1M window, so the token count alone
  decides.
- Cache writes are priced by TTL when the usage reports the split (``cache_creation_5m_input_tokens`` /
  ``cache_creation_1h_input_tokens``); when it does not, all of ``cache_creation_input_tokens`` at the 5-minute
  rate, and the snapshot says so (an underestimate if some were 1-hour writes).

Money: every price is a Decimal and so is every cost; the sum is exact and rounded once, to COST_PLACES (10)
decimal places, half-even. With the table's prices (at most 4 places per MTok after multipliers) no rounding
happens at all, so costs add up exactly across events. ``format_usd`` rounds for display (2–6 places, half-up).

Not modelled (admins can override prices if they matter): fast mode (``speed: fast``, 2x on Opus 4.8),
``inference_geo: us`` (1.1x on the API for 4.6+ models), the Batch API discount, negotiated or AWS private
pricing, long-context premiums that applied before 2026-03-13 to Opus 4.6 / Sonnet 4.6, server tools
(web search is billed per search).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from types import MappingProxyType
from typing import Any, Literal, Protocol

from overspill.bedrock.models import DEFAULT_MODEL_IDS, foundation_id_of
from overspill.pricing.overrides import apply_overrides, checked_multipliers
from overspill.pricing.prices import (
    ALIASES,
    AS_OF,
    BEDROCK_GEOGRAPHY_MULTIPLIERS,
    IN_REGION,
    LIST_PRICES,
    PRICE_FIELDS,
    UNKNOWN,
    ListPrice,
    LongContextTier,
)

Route = Literal["plan", "bedrock"]
ROUTES: tuple[str, ...] = ("plan", "bedrock")

COST_PLACES = 10
COST_QUANTUM = Decimal(1).scaleb(-COST_PLACES)  # 1E-10 USD
# Enough digits that no product of a token count and a price is ever rounded; errors raise instead of NaN.
_MONEY = Context(prec=60, rounding=ROUND_HALF_EVEN)

_1M_SUFFIX = "[1m]"
# arn:aws:bedrock:<region>:<account>:<kind>/<id>, as in bedrock/models.py.
_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[\w-]*:\d*:(?P<kind>[\w-]+)/(?P<id>.+)$")

UNSPLIT_CACHE_WRITES = "unknown: all cache creation priced at the 5-minute rate"
SPLIT_CACHE_WRITES = "reported"


class TokenCounts(Protocol):
    """The usage fields priced (``overspill.usage.events.TokenUsage`` has them); the TTL split is optional."""

    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


@dataclass(frozen=True, slots=True)
class Price:
    """A model's prices on a route, USD per million tokens, with any Bedrock multiplier already applied."""

    model: str                  # the table entry (dated name where there is one)
    route: str
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    multiplier: Decimal         # 1 on the plan route and for models without a Bedrock geography premium
    geography: str | None       # Bedrock only: profile prefix, "in-region" or "unknown"
    long_context: LongContextTier | None
    source: str

    def per_mtok(self) -> dict[str, Decimal]:
        return {name: getattr(self, name) for name in PRICE_FIELDS}

    def in_tier(self, tier: LongContextTier) -> Price:
        """The prices of a request in a long-context tier: input-side and output factors applied."""
        with localcontext(_MONEY):
            return Price(self.model, self.route, self.input * tier.input_factor, self.output * tier.output_factor,
                         self.cache_write_5m * tier.input_factor, self.cache_write_1h * tier.input_factor,
                         self.cache_read * tier.input_factor, self.multiplier, self.geography, tier, self.source)


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request cost in USD (None when unknown) and the exact prices used, for the usage event."""

    usd: Decimal | None
    known: bool
    snapshot: Mapping[str, Any]   # JSON-ready: str, int, bool and None only (Decimals as fixed-point strings)


class PriceTable:
    """The repository's list prices with admin overrides applied; immutable, built once per instance."""

    def __init__(self, prices: Mapping[str, ListPrice], aliases: Mapping[str, str],
                 bedrock_multipliers: Mapping[str, Decimal]) -> None:
        self.prices: Mapping[str, ListPrice] = MappingProxyType(dict(prices))
        self.aliases: Mapping[str, str] = MappingProxyType(dict(aliases))
        self.bedrock_multipliers: Mapping[str, Decimal] = MappingProxyType(dict(bedrock_multipliers))
        # Bedrock foundation-model id -> table entry, so a call is priced as the model Bedrock actually ran.
        self._by_foundation = {fid: aliases.get(name, name) for name, fid in DEFAULT_MODEL_IDS.items()}

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, *,
             bedrock_multipliers: Mapping[str, Any] | None = None) -> PriceTable:
        """The repository table with admin overrides; raises PriceOverrideError on a bad override."""
        prices = apply_overrides(LIST_PRICES, ALIASES, overrides or {})
        return cls(prices, ALIASES, checked_multipliers(BEDROCK_GEOGRAPHY_MULTIPLIERS, bedrock_multipliers))

    def entry(self, model: str) -> tuple[str, ListPrice] | None:
        """The table entry for a requested model name (alias or dated, with or without ``[1m]``)."""
        base = model[: -len(_1M_SUFFIX)] if model.lower().endswith(_1M_SUFFIX) else model
        name = self.aliases.get(base, base)
        listed = self.prices.get(name)
        return None if listed is None else (name, listed)

    def price_for(self, model: str, route: Route | str, bedrock_model_id: str | None = None) -> Price | None:
        """The prices of ``model`` on ``route`` (None if the table has no price for it)."""
        _check_route(route)
        found = None
        if route == "bedrock" and bedrock_model_id:
            ran = self._by_foundation.get(foundation_id_of(bedrock_model_id) or "")
            if ran is not None and ran in self.prices:
                found = (ran, self.prices[ran])
        found = found or self.entry(model)
        if found is None:
            return None
        name, listed = found
        geography, multiplier = None, Decimal(1)
        if route == "bedrock":
            geography = bedrock_geography(bedrock_model_id)
            if listed.bedrock_geography_premium:
                multiplier = self.bedrock_multipliers.get(geography, self.bedrock_multipliers[UNKNOWN])
        with localcontext(_MONEY):
            return Price(name, route, listed.input * multiplier, listed.output * multiplier,
                         listed.cache_write_5m * multiplier, listed.cache_write_1h * multiplier,
                         listed.cache_read * multiplier, multiplier, geography, listed.long_context, listed.source)

    def cost_of(self, tokens: TokenCounts, model: str | None, route: Route | str,
                bedrock_model_id: str | None = None) -> Cost:
        """The cost of one request's usage, with the snapshot of the prices used (unknown model: usd None)."""
        _check_route(route)
        price = self.price_for(model, route, bedrock_model_id) if model else None
        counts = _counts(tokens)
        if price is None or counts is None:
            reason = ("the usage's token counts are not whole numbers of 0 or more" if price is not None
                      else f"no price for model {model!r} in the price table (as of {AS_OF}) or its overrides")
            return Cost(None, False, {"model": model, "route": route, "bedrock_model_id": bedrock_model_id,
                                      "priced_as": None, "unknown_reason": reason, "table_as_of": AS_OF})
        input_tokens, output_tokens, write_5m, write_1h, read, split = counts
        tier = price.long_context
        long_context = tier is not None and input_tokens + write_5m + write_1h + read > tier.above_input_tokens
        rates = price.in_tier(tier) if tier is not None and long_context else price
        with localcontext(_MONEY):
            micro_usd = (input_tokens * rates.input + output_tokens * rates.output + write_5m * rates.cache_write_5m
                         + write_1h * rates.cache_write_1h + read * rates.cache_read)
            usd = micro_usd.scaleb(-6).quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)
        snapshot = {
            "model": model,
            "route": route,
            "basis": ("plan traffic at the API list price (plans are not billed per token)" if route == "plan"
                      else "Bedrock: API list price x geography multiplier"),
            "bedrock_model_id": bedrock_model_id,
            "priced_as": price.model,
            "geography": price.geography,
            "multiplier": _text(price.multiplier),
            "usd_per_mtok": {name: _text(value) for name, value in rates.per_mtok().items()},
            "long_context": long_context,
            "cache_writes": {"5m": write_5m, "1h": write_1h, "split": split},
            "source": price.source,
            "table_as_of": AS_OF,
        }
        return Cost(usd, True, snapshot)


def bedrock_geography(model_id: str | None) -> str:
    """Where a Bedrock model id runs: its inference-profile prefix, "in-region" (bare id) or "unknown"."""
    if not model_id:
        return UNKNOWN
    arn = _ARN.match(model_id)
    if arn:
        if arn["kind"] == "foundation-model":
            return IN_REGION
        if arn["kind"] != "inference-profile":
            return UNKNOWN  # application-inference-profile, provisioned-model …: the ARN does not say
        model_id = arn["id"]
    # A profile id has one dot more than the bare id ("us.anthropic.claude-…" vs "anthropic.claude-…").
    head = model_id.split(":", 1)[0]
    return head.split(".", 1)[0].lower() if head.count(".") >= 2 else IN_REGION


def format_usd(amount: Decimal, places: int = 2) -> str:
    """A cost for people: fixed-point, rounded half-up to ``places`` (2–6) decimal places."""
    if not 2 <= places <= 6:
        raise ValueError(f"places must be between 2 and 6, got {places}")
    with localcontext(_MONEY):
        return _text(amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")


def _counts(tokens: TokenCounts) -> tuple[int, int, int, int, int, str] | None:
    values = [getattr(tokens, name, 0) for name in (
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")]
    split = [getattr(tokens, name, None) for name in (
        "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens")]
    if not all(_whole(v) for v in values) or not all(v is None or _whole(v) for v in split):
        return None
    input_tokens, output_tokens, creation, read = values
    split_5m, split_1h = split
    if split_5m is None and split_1h is None:
        return input_tokens, output_tokens, creation, 0, read, UNSPLIT_CACHE_WRITES
    # Anthropic's total is the sum of the two; a part not reported is the rest of the total.
    write_1h = split_1h if split_1h is not None else max(creation - split_5m, 0)
    write_5m = split_5m if split_5m is not None else max(creation - write_1h, 0)
    return input_tokens, output_tokens, write_5m, write_1h, read, SPLIT_CACHE_WRITES


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: Decimal) -> str:
    return format(value, "f")
