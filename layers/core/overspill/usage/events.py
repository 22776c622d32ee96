"""The usage event: one per answered /v1/messages request, written after the client's response closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class TokenUsage:
    """Anthropic's usage block, merged from message_start and the last message_delta (or a JSON answer)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    # The cache writes split by TTL, when the answer gives it (``usage.cache_creation``); None = not reported.
    cache_creation_5m_input_tokens: int | None = None
    cache_creation_1h_input_tokens: int | None = None

    def merge(self, usage: dict) -> None:
        # Later blocks carry cumulative counts: the latest non-null value of each field wins.
        for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = usage.get(name)
            if _count(value):
                setattr(self, name, value)
        split = usage.get("cache_creation")
        if isinstance(split, dict):
            for source, name in (("ephemeral_5m_input_tokens", "cache_creation_5m_input_tokens"),
                                 ("ephemeral_1h_input_tokens", "cache_creation_1h_input_tokens")):
                value = split.get(source)
                if _count(value):
                    setattr(self, name, value)

    @property
    def cache_write_1h_tokens(self) -> int:
        """Cache writes at the 1-hour TTL (0 when the split was not reported)."""
        return min(self.cache_creation_1h_input_tokens or 0, self.cache_creation_input_tokens)

    @property
    def cache_write_5m_tokens(self) -> int:
        """Cache writes at the 5-minute TTL: the rest of the total (all of it when the split was not
        reported, which is also how they are priced)."""
        return self.cache_creation_input_tokens - self.cache_write_1h_tokens


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(slots=True)
class UsageEvent:
    request_id: str
    occurred_at: datetime
    user_id: str
    key_prefix: str
    route: str                                  # plan | bedrock
    endpoint: str
    status: int
    streamed: bool
    duration_ms: float
    session_id: str | None = None
    model: str | None = None
    fallback_reason: str | None = None
    bedrock_model_id: str | None = None
    stop_reason: str | None = None
    error_type: str | None = None
    tokens: TokenUsage = field(default_factory=TokenUsage)
    ttfb_ms: float | None = None
    overhead_ms: float | None = None
    client_disconnected: bool = False
    upstream_request_id: str | None = None
    # Who to charge, as the user was at the time of the request (a later rename or move keeps history).
    user_name: str | None = None
    team: str | None = None
    cost_center: str | None = None
    # USD at the API list price (plan) or the Bedrock price; None when the model has no price (flagged).
    cost_usd: Decimal | None = None
    cost_known: bool = True
    price_snapshot: dict[str, Any] | None = None
