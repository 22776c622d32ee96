"""Deployment configuration: CDK context in, one validated, frozen object out.

Every value has a default in cdk.json and can be overridden per deploy (``cdk deploy -c stage=prod``).
Values given with ``-c`` arrive as strings; they are converted and checked here, with errors that name the
context key, so a typo fails at synth rather than half-way through a deployment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PRODUCTION_STAGES = frozenset({"prod", "production"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Lowercase so names derived from it (stack, tags) are valid everywhere; short so they stay readable.
_STAGE = re.compile(r"[a-z][a-z0-9-]{0,15}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
LAMBDA_MEMORY_MB = (128, 10_240)


class ConfigError(ValueError):
    """A context value is missing or malformed; the message names the context key."""


@dataclass(frozen=True, slots=True)
class DeployConfig:
    stage: str = "dev"
    bedrock_region: str = "us-east-1"
    proxy_memory_mb: int = 1024
    usage_retention_days: int = 400
    anthropic_url: str = "https://api.anthropic.com"
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not isinstance(self.stage, str) or not _STAGE.fullmatch(self.stage) or self.stage.endswith("-"):
            raise ConfigError(
                f"context 'stage' must be 1-16 characters of lowercase letters, digits and '-', starting with "
                f"a letter and not ending with '-' (it names the stack Overspill-<stage>); got {self.stage!r}")
        if not isinstance(self.bedrock_region, str) or not _REGION.fullmatch(self.bedrock_region):
            raise ConfigError(f"context 'bedrockRegion' must be an AWS region such as 'us-east-1'; "
                              f"got {self.bedrock_region!r}")
        low, high = LAMBDA_MEMORY_MB
        if not low <= self.proxy_memory_mb <= high:
            raise ConfigError(f"context 'proxyMemoryMb' must be a whole number of MB from {low} to {high} "
                              f"(Lambda's limits); got {self.proxy_memory_mb}")
        if not 1 <= self.usage_retention_days <= 3650:
            raise ConfigError(f"context 'usageRetentionDays' must be from 1 to 3650 days; "
                              f"got {self.usage_retention_days}")
        parts = urlsplit(self.anthropic_url) if isinstance(self.anthropic_url, str) else None
        if parts is None or parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"context 'anthropicUrl' must be an https URL without query or fragment "
                              f"(e.g. https://api.anthropic.com); got {self.anthropic_url!r}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"context 'logLevel' must be one of {', '.join(LOG_LEVELS)}; "
                              f"got {self.log_level!r}")

    @property
    def is_production(self) -> bool:
        """Production-like stages keep their data: deletion protection, RETAIN, point-in-time recovery."""
        return self.stage in PRODUCTION_STAGES

    @property
    def stack_name(self) -> str:
        return f"Overspill-{self.stage}"

    @property
    def log_retention_days(self) -> int:
        return 365 if self.is_production else 30

    @classmethod
    def from_context(cls, context: Callable[[str], Any] | Mapping[str, Any]) -> DeployConfig:
        """Read from a CDK node's ``try_get_context`` (or a plain mapping, for tests)."""
        get = context.get if isinstance(context, Mapping) else context
        values: dict[str, Any] = {}
        for key, (field_name, convert) in _CONTEXT_KEYS.items():
            raw = get(key)
            if raw is None or raw == "":
                continue
            values[field_name] = convert(key, raw)
        return cls(**values)


def _text(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"context {key!r} must be a string; got {raw!r}")
    return raw.strip()


def _integer(key: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"context {key!r} must be a whole number; got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
        return int(raw)
    raise ConfigError(f"context {key!r} must be a whole number; got {raw!r}")


def _upper(key: str, raw: Any) -> str:
    return _text(key, raw).upper()


_CONTEXT_KEYS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "stage": ("stage", _text),
    "bedrockRegion": ("bedrock_region", _text),
    "proxyMemoryMb": ("proxy_memory_mb", _integer),
    "usageRetentionDays": ("usage_retention_days", _integer),
    "anthropicUrl": ("anthropic_url", _text),
    "logLevel": ("log_level", _upper),
}
CONTEXT_KEYS = tuple(_CONTEXT_KEYS)
