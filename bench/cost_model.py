"""AWS cost per million Claude Code requests through Overspill, from measured per-request figures.

Pure arithmetic: ``Inputs`` holds what was measured (bench/lambda_costs.py fills it) and what is assumed (each
with where the assumption comes from); ``line_items`` turns them into dollars, each item with its formula
written out with the numbers in it, so the rendered page shows the arithmetic. The model tokens are not in it:
plan traffic is paid through each developer's plan, and Bedrock's tokens are billed by Bedrock per token
(docs/deploy.md has that formula).
"""

from __future__ import annotations

from dataclasses import dataclass

# us-east-1 list prices, as published on this date (the same as docs/deploy.md's estimate). Not re-checked
# against AWS's pricing pages by this run: check them for your Region and date.
PRICES_AS_OF = "2025-08-01"
REGION = "us-east-1"
LAMBDA_ARM64_PER_GB_S = 0.0000133334       # Lambda duration, arm64, first 7.5 billion GB-s a month
LAMBDA_PER_REQUEST = 0.20 / 1_000_000       # Lambda requests
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000  # on-demand write request unit (1 KB; 2 in a transaction)
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000   # on-demand read request unit (4 KB strong; half eventual)
DYNAMODB_PER_GB_MONTH = 0.25                # storage, Standard table class
KMS_PER_REQUEST = 0.03 / 10_000             # symmetric-key API requests
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000    # API calls
LOGS_PER_GB_INGESTED = 0.50                 # CloudWatch Logs, Standard class
DATA_OUT_PER_GB = 0.09                      # data transfer out to the internet, first 10 TB a month
# Not per request, so not below: custom metrics ($0.30 per metric-month; EMF creates one per name and dimension
# values seen), alarms, dashboards, the KMS keys and the secret themselves ($1 and $0.40 a month): see
# docs/deploy.md. Response streaming is charged only past 6 MB per response.

GB = 1024 ** 3
MILLION = 1_000_000


@dataclass(frozen=True)
class PathCost:
    """What one request on a path costs in DynamoDB and KMS, as counted (bench/aws_calls.py)."""

    read_units: float           # read request units per request
    write_units: float          # write request units per request: the tables' own
    index_write_units: float    # and their global secondary indexes'
    kms_calls: float = 0.0


@dataclass(frozen=True)
class Inputs:
    requests: int = MILLION
    memory_mb: int = 1024                 # the proxy's memory (infra/config.py proxy_memory_mb)
    answer_s: float = 15.0                # Lambda bills the streamed answer's wall time (docs/deploy.md, "t")
    gateway_s: float = 0.0                # the function's own billed time on top of the answer (measured)
    cold_start_fraction: float = 5_000 / 420_000  # new instances per request (docs/deploy.md: ~5,000 a month)
    init_s: float = 0.0                   # a cold start's billed init: runtime, imports, first build (measured)
    fallback_fraction: float = 0.10       # requests answered by Bedrock (docs/deploy.md, "f")
    plan: PathCost = PathCost(0, 0, 0)    # a plan request at Claude Code's pace (measured)
    bedrock: PathCost = PathCost(0, 0, 0)  # a Bedrock request with the breaker open (measured)
    rollup_plan_write_units: float = 0.0     # the rollup's writes for a plan event (measured), indexes included
    rollup_bedrock_write_units: float = 0.0  # and for a Bedrock event (its fallback row too)
    rollup_memory_mb: int = 256           # infra/components/rollup.py MEMORY_MB
    rollup_s_per_event: float = 0.020     # 3.11 ms of its own (bench/rollup.py) + ~15 ms of transaction, assumed
    rollup_events_per_invocation: float = 2.0  # a 2 s batching window at a team's pace (docs/deploy.md)
    secrets_calls_per_cold_start: float = 1.0  # the pepper, once per instance (counted)
    log_bytes: float = 0.0                # the proxy's own log output per request (measured)
    platform_log_bytes: float = 400.0     # Lambda's START/END/REPORT lines (docs/deploy.md: ~0.4 KB)
    stored_bytes: float = 0.0             # DynamoDB storage one usage event takes, with its indexes (measured)
    request_body_bytes: float = 150_000   # Claude Code's request body, sent on to Anthropic (docs/deploy.md)
    answer_bytes: float = 20_000          # the streamed answer back to the developer (docs/deploy.md)


@dataclass(frozen=True)
class LineItem:
    service: str
    what: str
    formula: str
    usd: float


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _n(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) or abs(value) >= 1000 else f"{value:,.4g}"


def _price(value: float) -> str:
    return "$" + f"{value:.10f}".rstrip("0")


def line_items(inputs: Inputs) -> list[LineItem]:
    """Dollars for ``inputs.requests`` requests, item by item, each with its arithmetic."""
    n = inputs.requests
    gb = inputs.memory_mb / 1024
    f = inputs.fallback_fraction
    items: list[LineItem] = []

    billed_s = inputs.answer_s + inputs.gateway_s
    gb_s = n * billed_s * gb
    items.append(LineItem(
        "Lambda", "proxy duration (the answer streams through it)",
        f"{_n(n)} × ({_n(inputs.answer_s)} s + {inputs.gateway_s * 1000:.1f} ms) × {gb:g} GB = {_n(gb_s)} GB-s "
        f"× {_price(LAMBDA_ARM64_PER_GB_S)}", gb_s * LAMBDA_ARM64_PER_GB_S))
    cold = n * inputs.cold_start_fraction
    init_gb_s = cold * inputs.init_s * gb
    items.append(LineItem(
        "Lambda", "proxy cold starts (init is billed)",
        f"{_n(n)} × {inputs.cold_start_fraction:.2%} = {_n(round(cold))} cold starts × {inputs.init_s * 1000:.0f} ms × "
        f"{gb:g} GB = {_n(init_gb_s)} GB-s × {_price(LAMBDA_ARM64_PER_GB_S)}", init_gb_s * LAMBDA_ARM64_PER_GB_S))
    rollup_invocations = n / inputs.rollup_events_per_invocation
    items.append(LineItem(
        "Lambda", "requests: proxy + rollup",
        f"({_n(n)} + {_n(n)} / {_n(inputs.rollup_events_per_invocation)}) × ${LAMBDA_PER_REQUEST * MILLION:.2f}/M",
        (n + rollup_invocations) * LAMBDA_PER_REQUEST))
    rollup_gb_s = n * inputs.rollup_s_per_event * inputs.rollup_memory_mb / 1024
    items.append(LineItem(
        "Lambda", "rollup duration",
        f"{_n(n)} × {inputs.rollup_s_per_event * 1000:g} ms × {inputs.rollup_memory_mb / 1024:g} GB = "
        f"{_n(rollup_gb_s)} GB-s × {_price(LAMBDA_ARM64_PER_GB_S)}", rollup_gb_s * LAMBDA_ARM64_PER_GB_S))

    plan, bedrock = inputs.plan, inputs.bedrock
    proxy_writes = (1 - f) * (plan.write_units + plan.index_write_units) + f * (
        bedrock.write_units + bedrock.index_write_units)
    items.append(LineItem(
        "DynamoDB", "proxy writes (usage event + its indexes, key last-used)",
        f"{_n(n)} × ({1 - f:g} × {_n(plan.write_units + plan.index_write_units)} + {f:g} × "
        f"{_n(bedrock.write_units + bedrock.index_write_units)}) WRU = {_n(n * proxy_writes)} WRU × "
        f"${DYNAMODB_PER_WRITE_UNIT * MILLION:g}/M", n * proxy_writes * DYNAMODB_PER_WRITE_UNIT))
    rollup_writes = (1 - f) * inputs.rollup_plan_write_units + f * inputs.rollup_bedrock_write_units
    items.append(LineItem(
        "DynamoDB", "rollup writes (one transaction per event + index)",
        f"{_n(n)} × ({1 - f:g} × {_n(inputs.rollup_plan_write_units)} + {f:g} × "
        f"{_n(inputs.rollup_bedrock_write_units)}) WRU = {_n(n * rollup_writes)} WRU × "
        f"${DYNAMODB_PER_WRITE_UNIT * MILLION:g}/M", n * rollup_writes * DYNAMODB_PER_WRITE_UNIT))
    reads = (1 - f) * plan.read_units + f * bedrock.read_units
    items.append(LineItem(
        "DynamoDB", "proxy reads (key, user, breaker re-reads)",
        f"{_n(n)} × ({1 - f:g} × {plan.read_units:.3g} + {f:g} × {bedrock.read_units:.3g}) RRU = "
        f"{_n(round(n * reads))} RRU × ${DYNAMODB_PER_READ_UNIT * MILLION:g}/M", n * reads * DYNAMODB_PER_READ_UNIT))

    kms = (1 - f) * plan.kms_calls + f * bedrock.kms_calls
    items.append(LineItem(
        "KMS", "Decrypt of stored Bedrock credentials",
        f"{_n(n)} × {kms:.3g} calls × ${KMS_PER_REQUEST * 10_000:g}/10k", n * kms * KMS_PER_REQUEST))
    secrets = cold * inputs.secrets_calls_per_cold_start
    items.append(LineItem(
        "Secrets Manager", "the pepper, once per instance",
        f"{_n(round(cold))} cold starts × {_n(inputs.secrets_calls_per_cold_start)} × "
        f"${SECRETS_MANAGER_PER_CALL * 10_000:g}/10k", secrets * SECRETS_MANAGER_PER_CALL))

    log_gb = n * (inputs.log_bytes + inputs.platform_log_bytes) / GB
    items.append(LineItem(
        "CloudWatch", "logs ingested (request log + EMF metrics + Lambda's lines)",
        f"{_n(n)} × ({_n(round(inputs.log_bytes))} B + {_n(inputs.platform_log_bytes)} B) = {log_gb:.3f} GB × "
        f"${LOGS_PER_GB_INGESTED:.2f}", log_gb * LOGS_PER_GB_INGESTED))
    out_gb = n * (inputs.request_body_bytes + inputs.answer_bytes) / GB
    items.append(LineItem(
        "Data transfer", "out to the internet: bodies to Anthropic, answers to developers",
        f"{_n(n)} × ({_n(inputs.request_body_bytes)} B + {_n(inputs.answer_bytes)} B) = {out_gb:.1f} GB × "
        f"${DATA_OUT_PER_GB:.2f} (before AWS's 100 GB a month free)", out_gb * DATA_OUT_PER_GB))
    return items


def storage_per_month(inputs: Inputs) -> LineItem:
    """What a million requests' usage events cost each month they are kept (usageRetentionDays: 400 days)."""
    stored_gb = inputs.requests * inputs.stored_bytes / GB
    return LineItem("DynamoDB", "storage of the usage events, per month kept",
                    f"{_n(inputs.requests)} × {_n(round(inputs.stored_bytes))} B = {stored_gb:.2f} GB × "
                    f"${DYNAMODB_PER_GB_MONTH}/GB-month", stored_gb * DYNAMODB_PER_GB_MONTH)


def total(items: list[LineItem]) -> float:
    return sum(item.usd for item in items)


def stored_bytes(item_bytes: float, index_bytes: float, items: int = 3) -> float:
    """DynamoDB's storage for an item and its index copies: their bytes plus 100 bytes of overhead each."""
    return item_bytes + index_bytes + 100 * items


def render(inputs: Inputs) -> list[str]:
    """Markdown lines: the table of items with their arithmetic, the total, the storage line."""
    items = line_items(inputs)
    lines = [
        f"Prices: {REGION} list prices as of {PRICES_AS_OF} (arm64 Lambda, DynamoDB on-demand); free tiers left out. "
        "Per million `/v1/messages` requests, without the model tokens:",
        "",
        "| service | what | arithmetic | USD per million requests |",
        "|---|---|---|---|",
        *[f"| {i.service} | {i.what} | {i.formula} | {_usd(i.usd)} |" for i in items],
        f"| **total** | | | **{_usd(total(items))}** |",
        "",
    ]
    storage = storage_per_month(inputs)
    lines.append(f"Plus, while the events are kept: {storage.what}: {storage.formula} = **{_usd(storage.usd)}** per "
                 "month per million requests (~13 months at the default 400 days).")
    return lines
