"""The price table an instance uses: the repository's prices with the admins' overrides, re-read now and then.

Overrides live in the config table (``price_overrides``: ``{"models": {...}, "bedrock_multipliers": {...}}``).
A bad document (which the admin API refuses, so only a hand edit makes one) is logged and the last good
table kept: a typo must not stop cost recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from overspill.live_document import LiveDocument
from overspill.pricing.table import Cost, PriceTable
from overspill.usage.events import UsageEvent

# The event already names these; the snapshot keeps only what it adds.
_DUPLICATED_IN_EVENT = ("model", "route", "bedrock_model_id")


class PriceBook:
    def __init__(self, load_overrides: Callable[[], Any | None], *, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._table = LiveDocument(load_overrides, _price_table, PriceTable.load(), ttl_s=ttl_s,
                                   what="price overrides", clock=clock)

    def table(self) -> PriceTable:
        return self._table.current()

    def price(self, event: UsageEvent) -> None:
        """Set the event's cost (USD, exact), whether it is known, and the snapshot of the prices used."""
        cost = cost_of_event(self.table(), event)
        event.cost_usd, event.cost_known = cost.usd, cost.known
        event.price_snapshot = {k: v for k, v in cost.snapshot.items() if k not in _DUPLICATED_IN_EVENT} or None


def cost_of_event(table: PriceTable, event: UsageEvent) -> Cost:
    tokens = event.tokens
    if not (tokens.input_tokens or tokens.output_tokens or tokens.cache_creation_input_tokens
            or tokens.cache_read_input_tokens):
        # Nothing was used (a refusal, an error before any token): free whatever the model, and not "unknown".
        return Cost(Decimal(0), True, {})
    return table.cost_of(tokens, event.model, event.route, event.bedrock_model_id)


def _price_table(document: Any | None) -> PriceTable:
    document = document or {}
    return PriceTable.load(document.get("models"), bedrock_multipliers=document.get("bedrock_multipliers"))
