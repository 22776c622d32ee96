"""The usage event: one per answered /v1/messages request, written after the client's response closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class TokenUsage:
    """Anthropic's usage block, merged from message_start and the last message_delta (or a JSON answer)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def merge(self, usage: dict) -> None:
        # Later blocks carry cumulative counts: the latest non-null value of each field wins.
        for name in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, name, value)


@dataclass(slots=True)
class UsageEvent:
    request_id: str
    occurred_at: datetime
    user_id: str
    key_prefix: str
    route: str
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
