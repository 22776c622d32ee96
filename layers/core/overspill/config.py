"""Settings: one object, read once from ``OVERSPILL_*`` environment variables and validated at start-up.

A stdlib dataclass rather than pydantic-settings: the proxy reads these on every cold start, and
pydantic-settings alone costs ~200 ms of import time there (see docs/decisions.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "OVERSPILL_"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str = "local"
    region: str = "us-east-1"
    # Endpoint for every AWS service (moto server in local runs); None means the real AWS endpoints.
    aws_endpoint_url: str | None = None

    users_table: str = "overspill-users"
    access_keys_table: str = "overspill-access-keys"
    usage_table: str = "overspill-usage-events"
    breakers_table: str = "overspill-breakers"
    credentials_table: str = "overspill-bedrock-credentials"
    rollups_table: str = "overspill-usage-rollups"
    teams_table: str = "overspill-teams"
    config_table: str = "overspill-config"
    audit_table: str = "overspill-audit"
    idempotency_table: str = "overspill-idempotency"
    exports_bucket: str = "overspill-exports"
    # Where the rollup function puts stream records it can never apply (an SQS queue URL); None = log only.
    rollup_failure_queue_url: str | None = None
    # Where the proxy puts a usage event DynamoDB would not take (an SQS queue URL, drained back into the usage
    # table by the usage_replay function); None = the event is logged at ERROR level only.
    usage_spill_queue_url: str | None = None
    # Attempts per AWS call (DynamoDB, SQS, KMS, Secrets Manager) before the caller sees the error: botocore's
    # standard retries, with exponential backoff and jitter between them (about 1 + 2 + 4 s at most for 4).
    aws_max_attempts: int = 4
    pepper_secret_id: str = "overspill/access-key-pepper"
    # KMS key (id, ARN or alias) under which per-user Bedrock credentials are encrypted.
    credentials_kms_key_id: str = "alias/overspill-credentials"
    credentials_cache_ttl_s: float = 300.0

    anthropic_url: str = "https://api.anthropic.com"
    upstream_connect_timeout_s: float = 5.0
    # Long enough for a slow extended-thinking stream, yet under Lambda's 15-minute limit so that a stalled
    # upstream ends in an error the client sees and a usage event, not in Lambda killing the function.
    upstream_read_timeout_s: float = 840.0
    upstream_max_connections: int = 200
    # A streaming plan request whose response has not started within this falls back (Claude Code warns
    # after ~20 s of silence). Non-streaming requests wait for the whole answer, so they get the read timeout.
    plan_first_byte_timeout_s: float = 15.0

    # The Bedrock fallback. The region and endpoint of bedrock-runtime; the geography prefix of inference
    # profiles (us, eu, apac, jp, au, global); extra model mappings as a JSON object.
    bedrock_region: str = "us-east-1"
    bedrock_endpoint_url: str | None = None
    bedrock_geography: str = "us"
    bedrock_model_map: str = "{}"
    # Betas / body fields never sent to Bedrock (comma lists), on top of what its 400s teach each instance.
    bedrock_drop_betas: str = ""
    bedrock_drop_fields: str = ""
    bedrock_connect_timeout_s: float = 5.0

    # The plan-limit breaker. A throttle (429 without plan headers) opens it for retry-after, else this long;
    # this many failures (5xx, 529, timeouts) within the window open it for the cooldown; a half-open probe
    # holds its lease this long.
    breaker_throttle_open_s: float = 30.0
    breaker_failure_threshold: int = 3
    breaker_failure_window_s: float = 60.0
    breaker_failure_cooldown_s: float = 120.0
    breaker_probe_lease_s: float = 60.0
    breaker_cache_ttl_s: float = 5.0
    breaker_open_recheck_s: float = 30.0   # an instance re-reads an "open" breaker this often (an admin may reset it)
    # Switch to Bedrock before the plan refuses, when a plan answer reports utilisation at or above this
    # fraction (0–1). Unset: off.
    early_switch_utilization: float | None = None

    key_cache_ttl_s: float = 30.0
    key_cache_size: int = 10_000
    key_last_used_interval_s: float = 300.0
    # After this many requests with a rejected access key from one source address (an IPv6 /64) within the window,
    # the source is answered 429 without a key lookup until the window ends. Counted per instance. 0: off.
    key_failure_limit: int = 0
    key_failure_window_s: float = 60.0
    max_body_bytes: int = 32 * 1024 * 1024
    usage_ttl_days: int = 400

    # Budgets: what counts against a monthly budget ("bedrock": Bedrock spend only; "all": plan traffic at
    # list price too), and how long an instance may trust a month's spend it read (at most 60 s).
    budget_counts: str = "bedrock"
    budget_cache_ttl_s: float = 60.0
    # Admin price overrides are re-read this often by each instance.
    pricing_cache_ttl_s: float = 300.0

    # The admin API. Cognito access tokens are verified in the function: the pool, the app clients whose
    # tokens it accepts (comma list), and where the pool's signing keys are (None: the pool's own URL).
    cognito_user_pool_id: str | None = None
    cognito_client_ids: str = ""
    cognito_jwks_url: str | None = None
    # The dashboard's origin, for CORS; None: no cross-origin access (the dashboard is served same-origin).
    admin_cors_origin: str | None = None
    # Where developers reach the proxy: the start of the ANTHROPIC_BASE_URL handed out with each new key.
    proxy_public_url: str | None = None
    # After a rotation the old key keeps working this long, so a developer can switch without an outage.
    key_rotation_grace_s: float = 86_400.0
    # The longest range an admin usage query or an on-demand export may cover.
    admin_max_range_days: int = 366

    # Local run only.
    host: str = "127.0.0.1"
    port: int = 8787
    state_dir: str = ".overspill"

    def __post_init__(self) -> None:
        for url_field in ("anthropic_url", "aws_endpoint_url", "bedrock_endpoint_url", "cognito_jwks_url",
                          "admin_cors_origin", "proxy_public_url"):
            value = getattr(self, url_field)
            if value is None:
                continue
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError(f"{env_name(url_field)} must be an http(s) URL, got {value!r}")
        for positive in ("upstream_connect_timeout_s", "upstream_read_timeout_s", "max_body_bytes",
                         "key_cache_size", "usage_ttl_days", "upstream_max_connections",
                         "breaker_failure_threshold", "breaker_failure_window_s", "breaker_probe_lease_s",
                         "bedrock_connect_timeout_s", "admin_max_range_days", "aws_max_attempts"):
            if getattr(self, positive) <= 0:
                raise SettingsError(f"{env_name(positive)} must be greater than 0")
        if self.key_failure_limit < 0 or self.key_failure_window_s <= 0:
            raise SettingsError(f"{env_name('key_failure_limit')} must not be negative and "
                                f"{env_name('key_failure_window_s')} must be greater than 0")
        if self.key_cache_ttl_s < 0 or self.key_last_used_interval_s < 0:
            raise SettingsError("cache and interval settings must not be negative")
        if self.early_switch_utilization is not None and not 0 < self.early_switch_utilization <= 1:
            raise SettingsError(f"{env_name('early_switch_utilization')} must be a fraction in (0, 1]")
        if self.budget_counts not in ("bedrock", "all"):
            raise SettingsError(f"{env_name('budget_counts')} must be 'bedrock' or 'all', got {self.budget_counts!r}")
        if not 0 <= self.budget_cache_ttl_s <= 60:
            raise SettingsError(f"{env_name('budget_cache_ttl_s')} must be between 0 and 60 seconds")
        if self.key_rotation_grace_s < 0:
            raise SettingsError(f"{env_name('key_rotation_grace_s')} must not be negative")
        if self.pricing_cache_ttl_s < 0:
            raise SettingsError(f"{env_name('pricing_cache_ttl_s')} must not be negative")
        if self.breaker_open_recheck_s < 0:
            raise SettingsError(f"{env_name('breaker_open_recheck_s')} must not be negative")
        if not 0 < self.port < 65536:
            raise SettingsError(f"{env_name('port')} must be a TCP port, got {self.port}")

    @property
    def anthropic_base(self) -> str:
        return self.anthropic_url.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``OVERSPILL_*`` variables; explicit overrides (e.g. CLI flags) win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(env_name(f.name))
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def as_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in another process (e.g. a Lambda)."""
        return {env_name(f.name): str(getattr(self, f.name))
                for f in fields(self) if getattr(self, f.name) is not None}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _convert(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        raise SettingsError(f"{env_name(name)} must be a number, got {raw!r}") from None
    return raw


