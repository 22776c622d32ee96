"""The price table kept in the repository: what each mapped model costs, and where each number came from.

Prices are Anthropic's API list prices in USD per million tokens (MTok). Plan traffic is priced at them too
(it is not billed per token; finance sees what the plans saved) and Bedrock traffic at them times a
geography multiplier (below). Numbers are written as strings and read as ``Decimal``: never a float.

Sources, read on 2026-11-24 through stored copies of the pages (the live pages could not be fetched from here):

- [A] https://platform.claude.com/docs/en/about-claude/pricing, "Model pricing" table: base input, 5m cache
  writes, 1h cache writes, cache hits & refreshes, output. Rows for Opus 4.8, 4.7, 4.6, 4.5 and 4.1 read from a
  copy that already lists Claude Fable 5.1 (so from September 2026 or later); rows for Sonnet 4.6, Sonnet 4.5
  and Haiku 4.5 from a copy marked "last verified 2026-08-07" and from the earlier official page (Opus 4.6 …
  Haiku 4.5). A third-party table re-checked against the live page on 2026-10-24 reports these rows unchanged.
  Every cache price on the page is the documented ratio of base input: 5m write 1.25×, 1h write 2×, read 0.1×.
- [B] The same page, "Long context pricing": Claude 4.6 and later models include the full 1M-token context at
  standard prices (since 2026-03-13). Sonnet 4.5 (and 4) with the ``context-1m-2025-08-07`` beta: a request
  whose input (input + cache writes + cache reads) exceeds 200k tokens pays 2× on input ($6) and 1.5× on output
  ($22.50) on every token, cache multipliers on top. That section was removed from the page on 2026-03-31
  together with the 1M option for Sonnet 4.5 (now listed with a 200k window), so this tier is *last documented
  2026-03-30*; it cannot trigger unless Anthropic still serves such a request.
- [C] The same page, cloud platform pricing: "Starting with Claude Sonnet 4.5, Haiku 4.5 and Opus 4.5, Bedrock
  offers global and regional endpoints … regional endpoints include a 10% premium over global." And AWS,
  https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html: global cross-Region
  inference "offers approximately 10% savings on both input and output token pricing compared to geographic
  cross-Region inference", priced by the source Region.

Not confirmed (so BEDROCK_GEOGRAPHY_MULTIPLIERS are settings, not facts): the AWS price list itself
(aws.amazon.com/bedrock/pricing) per Region; that the 10% also applies to cache writes and reads (assumed: the
premium is stated without exceptions); that an in-Region call (bare foundation-model id) costs what a
geographic profile costs; that the Sonnet 4.5 long-context tier applies on Bedrock as on the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

AS_OF = "2026-11-24"
ANTHROPIC_PRICING_URL = "https://platform.claude.com/docs/en/about-claude/pricing"
AWS_GLOBAL_CRIS_URL = "https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html"

# Bedrock geographies that are not an inference-profile prefix.
IN_REGION = "in-region"   # a bare foundation-model id or ARN: served in the client's Region
UNKNOWN = "unknown"       # an application-inference-profile or provisioned-model ARN: the id does not say


@dataclass(frozen=True, slots=True)
class LongContextTier:
    """Premium prices for a whole request whose input exceeds a threshold (Anthropic's long-context pricing)."""

    above_input_tokens: int   # input + cache writes + cache reads; strictly more than this triggers the tier
    input_factor: Decimal     # on input, both cache writes and cache reads
    output_factor: Decimal


@dataclass(frozen=True, slots=True)
class ListPrice:
    """One entry of the table: list prices in USD per MTok and how Bedrock treats the model."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    # Bedrock charges a premium outside global profiles for this model (Sonnet 4.5 / Haiku 4.5 / Opus 4.5 on).
    bedrock_geography_premium: bool
    long_context: LongContextTier | None
    source: str


PRICE_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def _listed(input_: str, output: str, write_5m: str, write_1h: str, read: str, *, premium: bool = True,
            long_context: LongContextTier | None = None, source: str) -> ListPrice:
    return ListPrice(Decimal(input_), Decimal(output), Decimal(write_5m), Decimal(write_1h), Decimal(read),
                     premium, long_context, source)


_PAGE = f"[A] {ANTHROPIC_PRICING_URL} (Model pricing), read {AS_OF}"
_SONNET_4_5_LONG_CONTEXT = LongContextTier(200_000, Decimal("2"), Decimal("1.5"))

# Keyed by the dated model name where Anthropic has one; ALIASES below point the undated names at it.
LIST_PRICES: Mapping[str, ListPrice] = MappingProxyType({
    "claude-opus-4-8": _listed("5", "25", "6.25", "10", "0.50", source=_PAGE),
    "claude-opus-4-7": _listed("5", "25", "6.25", "10", "0.50", source=_PAGE),
    "claude-opus-4-6": _listed("5", "25", "6.25", "10", "0.50", source=_PAGE),
    "claude-opus-4-5-20251101": _listed("5", "25", "6.25", "10", "0.50", source=_PAGE),
    # Retired on the API except on Bedrock and Google Cloud; predates Bedrock's regional premium and is offered
    # there only through the us. profile (bedrock/models.py).
    "claude-opus-4-1-20250805": _listed("15", "75", "18.75", "30", "1.50", premium=False,
                                        source=_PAGE + "; no Bedrock regional premium (predates it, [C])"),
    "claude-sonnet-4-6": _listed("3", "15", "3.75", "6", "0.30", source=_PAGE),
    "claude-sonnet-4-5-20250929": _listed(
        "3", "15", "3.75", "6", "0.30", long_context=_SONNET_4_5_LONG_CONTEXT,
        source=_PAGE + "; long context >200k input: 2x input, 1.5x output, last documented 2026-03-30 [B]"),
    "claude-haiku-4-5-20251001": _listed("1", "5", "1.25", "2", "0.10", source=_PAGE),
})

ALIASES: Mapping[str, str] = MappingProxyType({
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
})

# Bedrock price = list price x the multiplier of the geography the call used, for models with
# ``bedrock_geography_premium`` (others: 1). Keys are inference-profile prefixes plus IN_REGION and UNKNOWN;
# a prefix not listed here gets UNKNOWN's multiplier. UNKNOWN assumes the premium: an estimate that errs high
# rather than low. Source: [C] (10% premium over global); the per-Region AWS price list is not confirmed.
BEDROCK_GEOGRAPHY_MULTIPLIERS: Mapping[str, Decimal] = MappingProxyType({
    "global": Decimal("1.00"),
    "us": Decimal("1.10"),
    "eu": Decimal("1.10"),
    "apac": Decimal("1.10"),
    "jp": Decimal("1.10"),
    "au": Decimal("1.10"),
    IN_REGION: Decimal("1.10"),
    UNKNOWN: Decimal("1.10"),
})
