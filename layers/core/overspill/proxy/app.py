"""Wiring: one Proxy per instance, built on first use from Settings and reused across invocations."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from overspill.auth import Authenticator
from overspill.aws import client
from overspill.bedrock.models import AdminMappings, ModelMap, parse_model_map
from overspill.bedrock.request import split_betas
from overspill.breaker import BreakerService
from overspill.budgets import BudgetService
from overspill.config import Settings
from overspill.credentials.clients import BedrockClients
from overspill.credentials.store import BedrockCredentialRepository
from overspill.credentials.vault import CredentialVault
from overspill.pepper import PepperProvider
from overspill.pricing.book import PriceBook
from overspill.proxy import function_url
from overspill.proxy.abuse import FailedKeyThrottle
from overspill.proxy.pipeline import Proxy
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.breakers import BreakerRepository
from overspill.store.config import MODEL_MAP, PRICE_OVERRIDES, ConfigRepository
from overspill.store.models import bind_models, warm_connections
from overspill.store.rollups import RollupRepository
from overspill.store.teams import TeamRepository
from overspill.store.usage import UsageRepository
from overspill.store.users import UserRepository
from overspill.upstream.anthropic import AnthropicUpstream
from overspill.upstream.bedrock import BedrockUpstream
from overspill.usage.spill import SpillQueue, UsageRecorder


def build_proxy(settings: Settings) -> Proxy:
    bind_models(settings)
    warm_connections()
    pepper = PepperProvider(client("secretsmanager", settings), settings.pepper_secret_id)
    authenticator = Authenticator(
        AccessKeyRepository(), UserRepository(), pepper,
        cache_ttl_s=settings.key_cache_ttl_s, cache_size=settings.key_cache_size,
        last_used_interval_s=settings.key_last_used_interval_s,
    )
    breakers = BreakerService(
        BreakerRepository(), cache_ttl_s=settings.breaker_cache_ttl_s,
        failure_threshold=settings.breaker_failure_threshold,
        failure_window=timedelta(seconds=settings.breaker_failure_window_s),
        failure_cooldown=timedelta(seconds=settings.breaker_failure_cooldown_s),
        probe_lease=timedelta(seconds=settings.breaker_probe_lease_s),
        open_recheck_s=settings.breaker_open_recheck_s,
    )
    vault = CredentialVault(settings)
    bedrock = BedrockUpstream(
        BedrockClients(settings, BedrockCredentialRepository(vault), vault),
        # The admins' mappings are re-read as often as their price overrides: a change needs no redeploy.
        ModelMap(settings.bedrock_geography, parse_model_map(settings.bedrock_model_map),
                 admin=AdminMappings(lambda: ConfigRepository().get(MODEL_MAP), ttl_s=settings.pricing_cache_ttl_s)),
        drop_betas=frozenset(split_betas(settings.bedrock_drop_betas)),
        drop_fields=frozenset(split_betas(settings.bedrock_drop_fields)),
    )
    # DynamoDB, else the usage spill queue (drained by the usage_replay function), else an ERROR log.
    usage = UsageRecorder(UsageRepository(retention=timedelta(days=settings.usage_ttl_days)),
                          SpillQueue(lambda: client("sqs", settings), settings.usage_spill_queue_url))
    return Proxy(authenticator, AnthropicUpstream(settings), usage,
                 max_body_bytes=settings.max_body_bytes, breakers=breakers, bedrock=bedrock,
                 throttle_open=timedelta(seconds=settings.breaker_throttle_open_s),
                 early_switch_utilization=settings.early_switch_utilization,
                 plan_first_byte_timeout_s=settings.plan_first_byte_timeout_s,
                 prices=PriceBook(lambda: ConfigRepository().get(PRICE_OVERRIDES), ttl_s=settings.pricing_cache_ttl_s),
                 budgets=BudgetService(RollupRepository(), TeamRepository(), counts=settings.budget_counts,
                                       cache_ttl_s=settings.budget_cache_ttl_s),
                 key_failures=FailedKeyThrottle(settings.key_failure_limit, settings.key_failure_window_s)
                 if settings.key_failure_limit else None)


_proxy: Proxy | None = None
_lock = threading.Lock()


def instance_proxy() -> Proxy:
    global _proxy
    if _proxy is None:
        with _lock:
            if _proxy is None:
                _proxy = build_proxy(Settings.from_env())
    return _proxy


def handle_function_url_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Function URL and API Gateway REST events alike (function_url reads both; an unreadable one gets a 400).
    return function_url.handle(event, context, instance_proxy)
