"""Structured logs and EMF metrics (Powertools). Never log access keys (only their prefix), credentials or
prompt text; metrics carry counts, timings and low-cardinality dimensions only (no user ids)."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "Overspill"

logger = Logger(service="overspill")


def emit_request_metrics(*, route: str, fallback_reason: str | None, status: int, streamed: bool,
                         ttfb_ms: float | None, duration_ms: float, overhead_ms: float | None,
                         input_tokens: int, output_tokens: int, cache_read_tokens: int, cache_write_tokens: int,
                         client_disconnected: bool, cost_usd: float | None = None) -> None:
    """One EMF record per answered Messages request. Ephemeral (no shared state): the local emulator
    finishes many requests at once on different threads."""
    metrics = EphemeralMetrics(namespace=NAMESPACE, service="overspill")
    metrics.add_dimension(name="route", value=route)
    metrics.add_dimension(name="fallback_reason", value=fallback_reason or "none")
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1 if status >= 500 else 0)
    metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1 if 400 <= status < 500 else 0)
    metrics.add_metric(name="ClientDisconnects", unit=MetricUnit.Count, value=1 if client_disconnected else 0)
    metrics.add_metric(name="Streamed", unit=MetricUnit.Count, value=1 if streamed else 0)
    if ttfb_ms is not None:
        metrics.add_metric(name="TimeToFirstByte", unit=MetricUnit.Milliseconds, value=round(ttfb_ms, 3))
    metrics.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=round(duration_ms, 3))
    if overhead_ms is not None:
        metrics.add_metric(name="GatewayOverhead", unit=MetricUnit.Milliseconds, value=round(overhead_ms, 3))
    metrics.add_metric(name="InputTokens", unit=MetricUnit.Count, value=input_tokens)
    metrics.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=output_tokens)
    metrics.add_metric(name="CacheReadTokens", unit=MetricUnit.Count, value=cache_read_tokens)
    metrics.add_metric(name="CacheWriteTokens", unit=MetricUnit.Count, value=cache_write_tokens)
    # A metric, not money: the exact figure is in the usage event; this one feeds dashboards and alarms.
    if cost_usd is not None:
        metrics.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=cost_usd)
    metrics.add_metric(name="UnpricedRequests", unit=MetricUnit.Count, value=0 if cost_usd is not None else 1)
    metrics.flush_metrics()


def emit_counts(dimensions: dict[str, str] | None = None, **counts: int) -> None:
    """One EMF record of counts (name → value), under the given dimensions."""
    metrics = EphemeralMetrics(namespace=NAMESPACE, service="overspill")
    for name, value in (dimensions or {}).items():
        metrics.add_dimension(name=name, value=value)
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()


def emit_breaker_opened(reason: str) -> None:
    emit_counts({"reason": reason}, BreakerOpened=1)


def emit_budget_threshold(*, scope: str, threshold_percent: int) -> None:
    """A budget (scope ``user`` or ``team``) reached 80 % or 100 % of its month; once per instance and month."""
    emit_counts({"scope": scope, "threshold": str(threshold_percent)}, BudgetThresholdReached=1)
