"""Does the time a 401 takes tell an unknown access key from a revoked, expired or malformed one?

The real proxy (``LocalGateway``: moto in-process, the Function URL emulator on loopback) answers POST
/ak/<key>/v1/messages for each class of bad key, one keep-alive connection, requests interleaved in a shuffled order
each round so that drift (other processes, GC, moto's tables growing) lands on every class alike. Two phases:

- cold: every request brings a key this instance has never seen (a fresh one of its class each time), so each pays
  the key lookup — one DynamoDB GetItem by the key's HMAC;
- warm: one key per class, asked again and again: each answer comes from the instance's key cache.

Each class is compared with unknown keys: the Hodges–Lehmann shift (the median of all pairwise differences) with its
95 % confidence interval, and a two-sided Mann–Whitney U test; a difference counts as measurable when p < 0.05 after a
Bonferroni correction over every comparison made. The DynamoDB reads each class caused are counted (botocore hooks on
the proxy's clients) alongside.

Run alone: ``python -m bench.key_timing`` (about 15 s).
"""

from __future__ import annotations

import json
import math
import random
import secrets
import statistics
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.latency import percentile
from overspill.keys import generate_key
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.models import ALL_MODELS
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.gateway import LocalGateway

CLASSES = ("unknown", "revoked", "expired", "malformed")
REFERENCE = "unknown"
ALPHA = 0.05
BODY = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "hello"}]}).encode()
HEADERS = {"content-type": "application/json", "x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01"}
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


def _malformed(index: int) -> str:
    """A key that cannot be one Overspill issued, in the shapes a typo or a guess takes; unique per index."""
    token = secrets.token_urlsafe(32)
    shapes = (f"ak_{token[:12]}",                    # cut short
              f"sk-ant-api03-{token}",               # an Anthropic API key pasted in its place
              f"ak_{token[:-1]}!",                    # a character keys never hold
              f"AK_{token}")                          # the wrong prefix
    return shapes[index % len(shapes)]


class _ReadCounter:
    """DynamoDB reads made by the proxy's own clients (pynamodb's, created when the proxy was built)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        for model in ALL_MODELS:
            connection = model._get_connection().connection
            connection.client.meta.events.register("before-parameter-build", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        if model.name in DYNAMODB_READS:
            with self._lock:
                self.count += 1


def _bad_keys(gateway: LocalGateway, count: int) -> dict[str, list[str]]:
    """``count`` keys of each class, every one distinct; revoked and expired ones really issued first."""
    repository = AccessKeyRepository()
    owner = gateway.add_developer("Former")
    revoked, expired = [], []
    past = datetime.now(UTC) - timedelta(minutes=5)
    for _ in range(count):
        key = generate_key(gateway.pepper)
        repository.add(owner.user_id, key)
        repository.revoke(key.key_hash)
        revoked.append(key.plain)
        key = generate_key(gateway.pepper)
        repository.add(owner.user_id, key, expires_at=past)
        expired.append(key.plain)
    return {
        "unknown": [generate_key(gateway.pepper).plain for _ in range(count)],  # well formed, never stored
        "revoked": revoked,
        "expired": expired,
        "malformed": [_malformed(index) for index in range(count)],
    }


def _ask(client: httpx.Client, url: str, key: str) -> float:
    started = time.perf_counter()
    response = client.post(f"{url}/ak/{key}/v1/messages", content=BODY, headers=HEADERS)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 401 or response.json()["error"]["type"] != "authentication_error":
        raise AssertionError(f"expected a 401 for a bad key, got {response.status_code}: {response.text[:200]}")
    return elapsed


def _phase(client: httpx.Client, url: str, keys: dict[str, list[str]], rounds: int, reads: _ReadCounter,
           shuffle: random.Random) -> tuple[dict[str, list[float]], dict[str, int]]:
    samples: dict[str, list[float]] = {name: [] for name in CLASSES}
    read_counts: Counter[str] = Counter()
    for index in range(rounds):
        order = list(CLASSES)
        shuffle.shuffle(order)
        for name in order:
            before = reads.count
            samples[name].append(_ask(client, url, keys[name][index % len(keys[name])]))
            read_counts[name] += reads.count - before
    return samples, dict(read_counts)


def run(cold_rounds: int = 200, warm_rounds: int = 300, seed: int | None = None) -> dict[str, Any]:
    """Times of the 401 for each class of bad key, cold and warm, with each class compared to unknown keys."""
    shuffle = random.Random(seed)
    started = time.perf_counter()
    with FakeAnthropic() as fake, LocalGateway(fake.url, key_cache_ttl_s=600, key_failure_limit=0) as gateway:
        keys = _bad_keys(gateway, cold_rounds + 1)
        cold_keys = {name: values[1:] for name, values in keys.items()}
        warm_keys = {name: values[:1] for name, values in keys.items()}
        reads = _ReadCounter()
        reads.install()
        with httpx.Client(timeout=10) as client:
            for _ in range(30):  # the connection, the pepper, first-call paths: not part of any sample
                _ask(client, gateway.url, generate_key(gateway.pepper).plain)
            for key in (values[0] for values in warm_keys.values()):
                _ask(client, gateway.url, key)  # each warm key's one lookup, before the warm phase
            cold, cold_reads = _phase(client, gateway.url, cold_keys, cold_rounds, reads, shuffle)
            warm, warm_reads = _phase(client, gateway.url, warm_keys, warm_rounds, reads, shuffle)
    phases = {"cold": (cold, cold_reads), "warm": (warm, warm_reads)}
    comparisons = len(phases) * (len(CLASSES) - 1)
    results: dict[str, Any] = {"phases": {}, "alpha": ALPHA, "comparisons": comparisons,
                               "seconds": time.perf_counter() - started}
    for phase, (samples, read_counts) in phases.items():
        rows = []
        for name in CLASSES:
            values = samples[name]
            row = {"class": name, "n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
                   "reads_per_request": read_counts.get(name, 0) / len(values)}
            if name != REFERENCE:
                shift, low, high = hodges_lehmann(values, samples[REFERENCE])
                p = mann_whitney_p(values, samples[REFERENCE])
                row.update(shift=shift, ci_low=low, ci_high=high, p=p, measurable=p < ALPHA / comparisons)
            rows.append(row)
        results["phases"][phase] = rows
    return results


def hodges_lehmann(sample: list[float], reference: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """How much ``sample`` is shifted from ``reference``: the median of all pairwise differences, with a
    distribution-free confidence interval (order statistics of those differences, from the Mann–Whitney null)."""
    differences = sorted(a - b for a in sample for b in reference)
    n, m = len(sample), len(reference)
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    k = max(0, math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12)))
    return statistics.median(differences), differences[k], differences[len(differences) - 1 - k]


def mann_whitney_p(sample: list[float], reference: list[float]) -> float:
    """Two-sided p-value of the Mann–Whitney U test (normal approximation, tie-corrected, continuity-corrected)."""
    n, m = len(sample), len(reference)
    pooled = sorted([(value, 0) for value in sample] + [(value, 1) for value in reference])
    ranks_of_sample = 0.0
    tie_term = 0.0
    index = 0
    while index < len(pooled):
        end = index
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        ranks_of_sample += average_rank * sum(1 for j in range(index, end + 1) if pooled[j][1] == 0)
        ties = end - index + 1
        tie_term += ties ** 3 - ties
        index = end + 1
    u = ranks_of_sample - n * (n + 1) / 2
    total = n + m
    sigma = math.sqrt(n * m / 12 * ((total + 1) - tie_term / (total * (total - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u - n * m / 2) - 0.5) / sigma
    return math.erfc(max(z, 0.0) / math.sqrt(2))


def render_markdown(results: dict[str, Any]) -> str:
    threshold = results["alpha"] / results["comparisons"]
    lines = [
        "## Access keys: does a 401's timing tell bad keys apart?",
        "",
        "POST /ak/<key>/v1/messages through the local gateway (the real proxy on moto in-process, the Function URL "
        "emulator on loopback), one keep-alive connection, the classes interleaved in a shuffled order each round "
        "(`bench/key_timing.py`). *Cold*: a key the instance has never seen, every time (one DynamoDB read by the "
        "key's HMAC); *warm*: the same key again (the instance's key cache). *Shift vs unknown*: the Hodges–Lehmann "
        "estimate of how much slower that class's 401 is than an unknown key's, with its 95 % confidence interval; "
        f"*p*: two-sided Mann–Whitney U; measurable when p < {results['alpha']:g}/{results['comparisons']} "
        f"(Bonferroni) = {threshold:.4f}.",
        "",
        "| cache | key | n | reads per request | p50 | p95 | shift vs unknown (95 % CI) | p | measurable |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, rows in results["phases"].items():
        for row in rows:
            if row["class"] == REFERENCE:
                comparison = "—", "—", "—"
            else:
                comparison = (f"{row['shift'] * 1000:+.0f} µs ({row['ci_low'] * 1000:+.0f} … "
                              f"{row['ci_high'] * 1000:+.0f})", f"{row['p']:.3f}",
                              "**yes**" if row["measurable"] else "no")
            lines.append(f"| {phase} | {row['class']} | {row['n']} | {row['reads_per_request']:.2f} | "
                         f"{row['p50']:.3f} ms | {row['p95']:.3f} ms | " + " | ".join(comparison) + " |")
    measurable = [f"{phase} {row['class']}" for phase, rows in results["phases"].items() for row in rows
                  if row.get("measurable")]
    lines += [
        "",
        ("Verdict: no measurable difference between unknown, revoked, expired and malformed keys, cold or warm."
         if not measurable else f"Verdict: a measurable difference for {', '.join(measurable)}."),
        "DynamoDB reads per request: " + "; ".join(
            f"{phase} " + ("the same for every class" if len({row['reads_per_request'] for row in rows}) == 1
                           else "NOT the same for every class")
            for phase, rows in results["phases"].items()) + f". Ran in {results['seconds']:.1f} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(run()))
