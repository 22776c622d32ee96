"""Bounded load (issue 9): `overspill dev` under 10,000 requests, 200 streams at once at the peak, mixing the
plan, the fallback to Bedrock and errors that are expected — every answer checked against what its kind should
get, the gateway's memory watched for a leak, and the usage events counted against the answers that should
leave one.

    .venv/bin/python -m bench.load            # the full run (~1½ minutes on 2 cores)
    .venv/bin/python -m bench.load --quick    # small counts, to check the wiring

Everything runs on loopback: `overspill dev --no-rollups --snapshot-every 0` (its own process, moto in a child),
the fake Anthropic and the fake Bedrock in processes of their own. The fake plan answers by the developer's plan
credential (which Overspill passes through): a limited developer's requests get the plan-limit 429, an overloaded
developer's the 529. Bounded in count (the sequence is fixed up front) and in time (no request starts after
TIME_BOUND_S).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import urlsplit

import boto3
import psutil

from bench.compare import ProcessWatch, Request, check_message, check_stream, claude_code_requests, wait_idle
from bench.harness import fake_anthropic_process, fake_bedrock_process, machine, overspill_dev_process
from bench.latency import percentile
from overspill.config import Settings
from overspill.keys import generate_key
from overspill.local.state import PEPPER_FILE, LocalState
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.models import bind_models
from overspill.store.users import UserRepository
from overspill.users import RoutingMode

# Short answers, so that 10,000 fit the time: 5 ms to the headers, then 5 text events 1 ms apart.
UPSTREAM = {"delay_ms": 5, "event_interval_ms": 1, "text_events": 5}
PATH = "/v1/messages?beta=true"
# The rollup function would read every event back out of moto, and each state snapshot reads every table whole
# (its memory would land on the gateway's): neither is the proxy's work on AWS.
DEV_FLAGS = ("--no-rollups", "--snapshot-every", "0")
# Equal rounds, each a peak (streaming only, every client at once) then a mix of every kind; the first warms up.
FULL = {"rounds": 4, "peak_clients": 200, "peak": 1_000, "mixed_clients": 50, "mixed": 1_500}
QUICK = {"rounds": 3, "peak_clients": 50, "peak": 200, "mixed_clients": 20, "mixed": 300}
TIME_BOUND_S = 360.0      # no request starts after this (the whole load, warm-up included)
REQUEST_TIMEOUT_S = 60.0
SETTLE_S = 3.0            # after the gateway goes idle, before a settled reading (no way to ask it for a GC)
# A leak grows per request: after the rounds that follow the warm-up, the settled resident memory may exceed the
# baseline by the allocator's own settling (2-5 MB seen after a warm-up round) and 1 KB per request (one leaked
# request body alone would be 21 KB: 150 MB over the full run's rounds).
LEAK_ALLOWANCE_MB = 8.0
LEAK_BOUND_BYTES_PER_REQUEST = 1024
SEED = 9


# ----------------------------------------------------------------------------------------------------
# What each kind of request is, and what its answer must be
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    developer: str          # whose key sends it (DEVELOPERS), or "unknown" / "revoked" / "malformed"
    mode: str               # "stream" | "json": which of Claude Code's requests; "broken": half of it
    status: int
    route: str | None       # x-overspill-route the answer must carry (None: none checked)
    error_type: str | None  # for an error: the error body's type
    leaves_usage: bool      # an authenticated Messages request leaves one usage event; a refused key none
    means: str


KINDS = {kind.name: kind for kind in (
    Kind("plan-stream", "plan", "stream", 200, "plan", None, True, "plan answers, streaming"),
    Kind("plan-json", "plan", "json", 200, "plan", None, True, "plan answers, not streaming"),
    Kind("fallback-stream", "limited", "stream", 200, "bedrock", None, True,
         "plan limited (429 unified rejected) → Bedrock, streaming"),
    Kind("fallback-json", "limited", "json", 200, "bedrock", None, True,
         "plan limited → Bedrock, not streaming"),
    Kind("plan-overloaded", "overloaded", "stream", 529, "plan", "overloaded_error", True,
         "plan-only developer, plan answers 529: the plan's error"),
    Kind("malformed-body", "plan", "broken", 400, None, "invalid_request_error", True,
         "body cut in half (not JSON): Overspill's 400"),
    Kind("unknown-key", "unknown", "stream", 401, None, "authentication_error", False, "well-formed, unknown key"),
    Kind("revoked-key", "revoked", "stream", 401, None, "authentication_error", False, "revoked key"),
    Kind("malformed-key", "malformed", "stream", 401, None, "authentication_error", False, "not a key at all"),
)}
# Per 100 requests of the mixed phase; the peak phase streams only.
MIXED_WEIGHTS = {"plan-stream": 35, "plan-json": 15, "fallback-stream": 15, "fallback-json": 5,
                 "plan-overloaded": 10, "malformed-body": 5, "unknown-key": 5, "revoked-key": 5, "malformed-key": 5}
PEAK_WEIGHTS = {"plan-stream": 75, "fallback-stream": 25}
# Developers on the gateway, and the marker in their plan credential the fake plan answers by.
DEVELOPERS = {"plan": (20, RoutingMode.PLAN_FIRST, "load-plan"),
              "limited": (5, RoutingMode.PLAN_FIRST, "load-limited"),
              "overloaded": (3, RoutingMode.PLAN_ONLY, "load-overloaded")}
PLAN_ANSWERS = ("--answer-for-credential", "load-limited=plan-limited",
                "--answer-for-credential", "load-overloaded=529")


def check_answer(kind: Kind, status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """None when the answer is what `kind` must get; otherwise what is wrong with it. `headers` are looked up
    case-insensitively (an http.client message)."""
    if status != kind.status:
        return f"status {status}"
    if kind.route is not None and headers.get("x-overspill-route") != kind.route:
        return f"route {headers.get('x-overspill-route')}"
    content_type = headers.get("content-type", "")
    if status == 200:
        return (check_stream if kind.mode == "stream" else check_message)(status, content_type, body)
    if not content_type.startswith("application/json"):
        return f"error with content-type {content_type or 'missing'}"
    try:
        error = json.loads(body)
    except ValueError:
        return "error body not JSON"
    if not isinstance(error, dict) or error.get("type") != "error" \
            or (error.get("error") or {}).get("type") != kind.error_type:
        return "error body of another type"
    return None


# ----------------------------------------------------------------------------------------------------
# The developers and their keys, in the running instance's tables
# ----------------------------------------------------------------------------------------------------


@dataclass
class Keys:
    """Gateway access keys and plan credentials by developer kind; each request takes the next in turn."""

    access: dict[str, list[str]]
    plan: dict[str, list[str]]


def dev_settings(state_dir: Path) -> Settings:
    runtime = LocalState(state_dir).read_runtime()
    if runtime is None:
        raise RuntimeError(f"overspill dev wrote no runtime.json under {state_dir}")
    return Settings.from_env(runtime["environment"])


def local_credentials() -> Any:
    """moto's credentials while the bench talks to the emulator; the bench's environment restored after."""
    return patch.dict(os.environ, dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
                                                "overspill-local"))


def make_developers(state_dir: Path) -> Keys:
    """Users and keys through the repositories, as the admin API makes them; revoked keys revoked before any
    request (so no instance has them cached as valid)."""
    settings = dev_settings(state_dir)
    pepper = (LocalState(state_dir).read(PEPPER_FILE) or "").encode()
    access: dict[str, list[str]] = {}
    plan: dict[str, list[str]] = {}
    with local_credentials():
        bind_models(settings)
        users, keys = UserRepository(), AccessKeyRepository()
        for kind, (count, routing, marker) in DEVELOPERS.items():
            for n in range(count):
                user = users.create(f"Load {kind} {n}", team=f"load-{kind}", routing_mode=routing,
                                    user_id=f"usr_load_{kind}_{n}")
                new_key = generate_key(pepper)
                keys.add(user.user_id, new_key)
                access.setdefault(kind, []).append(new_key.plain)
                plan.setdefault(kind, []).append(f"sk-ant-api03-{marker}-{n:02d}")
        revoked = []
        for _ in range(3):
            new_key = generate_key(pepper)
            keys.add("usr_load_plan_0", new_key)
            keys.revoke(new_key.key_hash)
            revoked.append(new_key.plain)
    access["revoked"] = revoked
    access["unknown"] = [generate_key(pepper).plain for _ in range(3)]  # well-formed, never stored
    access["malformed"] = ["not-an-overspill-key", "ak_short", "ak_" + "x" * 200]
    for kind in ("revoked", "unknown", "malformed"):
        plan[kind] = plan["plan"][:3]
    return Keys(access, plan)


def usage_by_status_and_route(state_dir: Path) -> Counter:
    """(status, route) → usage events in the running instance's usage table (a Scan of moto's)."""
    settings = dev_settings(state_dir)
    dynamodb = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.aws_endpoint_url,
                            aws_access_key_id="overspill-local", aws_secret_access_key="overspill-local",
                            aws_session_token="overspill-local")
    counts: Counter = Counter()
    for page in dynamodb.get_paginator("scan").paginate(
            TableName=settings.usage_table, ProjectionExpression="#s, #r",
            ExpressionAttributeNames={"#s": "status", "#r": "route"}):
        for item in page["Items"]:
            counts[(int(item["status"]["N"]), item["route"]["S"])] += 1
    return counts


# ----------------------------------------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    kind: str
    status: int | None      # None: no answer at all (a transport error)
    error: str | None       # None: the answer is what the kind must get
    total_ms: float
    fallback_reason: str | None


class Load:
    """Sends sequences of requests, `clients` at a time, each client on its own keep-alive connection. The
    standard library's http.client, not httpx: on 2 cores the load generator's own CPU is taken from the gateway,
    and httpx costs about as much per request as the gateway does."""

    def __init__(self, root_url: str, keys: Keys, requests: dict[str, Request], deadline: float) -> None:
        self.address = urlsplit(root_url).netloc
        self.keys = keys
        self.deadline = deadline
        self.bodies = {"stream": requests["stream"].body, "json": requests["json"].body,
                       "broken": requests["stream"].body[: len(requests["stream"].body) // 2]}
        self.headers = {mode: {k: v for k, v in requests[mode].headers.items() if k.lower() != "x-api-key"}
                        for mode in ("stream", "json")}
        self.headers["broken"] = self.headers["stream"]
        self._turn: Counter = Counter()
        self._lock = threading.Lock()
        self.streams_in_flight = 0
        self.peak_streams_in_flight = 0
        self.stopped_by_time = False

    def sequence(self, weights: dict[str, int], count: int, rng: random.Random) -> list[Kind]:
        names = [name for name, weight in weights.items() for _ in range(weight)]
        # Every kind the weights name appears, the rest drawn at the weights' proportions.
        chosen = list(weights) + [rng.choice(names) for _ in range(max(0, count - len(weights)))]
        rng.shuffle(chosen)
        return [KINDS[name] for name in chosen[:count]]

    def run(self, kinds: list[Kind], clients: int) -> tuple[list[Sample], float]:
        samples: list[Sample] = []
        pending = iter(kinds)
        lock = threading.Lock()

        def worker() -> None:
            host, port = self.address.rsplit(":", 1)
            client = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
            try:
                while True:
                    with lock:
                        kind = next(pending, None)
                    if kind is None:
                        return
                    if time.monotonic() > self.deadline:
                        self.stopped_by_time = True
                        return
                    sample = self.one(client, kind)
                    with lock:
                        samples.append(sample)
            finally:
                client.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return samples, time.perf_counter() - started

    def one(self, client: http.client.HTTPConnection, kind: Kind) -> Sample:
        with self._lock:
            turn = self._turn[kind.developer]
            self._turn[kind.developer] += 1
        access = self.keys.access[kind.developer]
        plan = self.keys.plan[kind.developer]
        path = f"/ak/{access[turn % len(access)]}{PATH}"
        headers = {**self.headers[kind.mode], "x-api-key": plan[turn % len(plan)]}
        streaming = kind.mode == "stream"
        self._streams(+1 if streaming else 0)
        started = time.perf_counter()
        try:
            client.request("POST", path, body=self.bodies[kind.mode], headers=headers)
            response = client.getresponse()
            body = response.read()
            error = check_answer(kind, response.status, response.headers, body)
            status, reason = response.status, response.headers.get("x-overspill-fallback-reason")
        except (OSError, http.client.HTTPException) as exc:
            client.close()  # the next request opens a new connection
            status, error, reason = None, type(exc).__name__, None
        finally:
            self._streams(-1 if streaming else 0)
        return Sample(kind.name, status, error, (time.perf_counter() - started) * 1000, reason)

    def _streams(self, change: int) -> None:
        if change:
            with self._lock:
                self.streams_in_flight += change
                self.peak_streams_in_flight = max(self.peak_streams_in_flight, self.streams_in_flight)


def rss_mb(pid: int) -> tuple[float, float]:
    """(the process, the process and its children) resident MB."""
    root = psutil.Process(pid)
    tree = [root, *root.children(recursive=True)]
    return root.memory_info().rss / 2**20, sum(p.memory_info().rss for p in tree) / 2**20


def cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far: this process (the load generator), the gateway, its children (moto)."""
    root = psutil.Process(pid)
    children = root.children(recursive=True)

    def used(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    return {"generator": time.process_time(), "gateway": used(root), "moto": sum(used(c) for c in children)}


def settle(pid: int) -> float:
    """Wait for the gateway's tree to go idle, then SETTLE_S more; seconds waited."""
    waited = wait_idle([pid], timeout_s=30)
    time.sleep(SETTLE_S)
    return waited + SETTLE_S


def run(quick: bool = False, log: Callable[[str], None] = print, *, rounds: int | None = None) -> dict:
    counts = {**(QUICK if quick else FULL), **({"rounds": rounds} if rounds else {})}
    requests = claude_code_requests()
    rng = random.Random(SEED)
    began = time.monotonic()
    results: dict = {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "machine": machine(), "quick": quick,
                     "counts": counts, "upstream": UPSTREAM, "phases": [], "memory": {},
                     "body_bytes": len(requests["stream"].body)}
    with fake_anthropic_process(**UPSTREAM, extra=PLAN_ANSWERS) as plan_url, \
            fake_bedrock_process(**UPSTREAM) as bedrock_url, \
            overspill_dev_process(plan_url, bedrock_url=bedrock_url, flags=DEV_FLAGS, save_state=False) as dev:
        results["start_s"] = time.monotonic() - began
        keys = make_developers(dev.state_dir)
        root_url = dev.base_url.rsplit("/ak/", 1)[0]
        load = Load(root_url, keys, requests, deadline=time.monotonic() + TIME_BOUND_S)
        memory = results["memory"]
        memory["start_mb"], memory["start_tree_mb"] = rss_mb(dev.pid)
        all_samples: list[Sample] = []
        cpu_before = cpu_s(dev.pid)

        def phase(name: str, kinds: list[Kind], clients: int) -> None:
            samples, wall_s = load.run(kinds, clients)
            all_samples.extend(samples)
            bad = sum(1 for s in samples if s.error)
            results["phases"].append({"name": name, "clients": clients, "n": len(samples), "unexpected": bad,
                                      "wall_s": wall_s, "rps": len(samples) / wall_s if wall_s else 0.0,
                                      "p50_ms": percentile([s.total_ms for s in samples], 50),
                                      "p99_ms": percentile([s.total_ms for s in samples], 99)})
            log(f"load: {name}: {len(samples)} requests, {clients} clients, {wall_s:.1f} s, "
                f"{len(samples) / wall_s:.0f} req/s, unexpected {bad}")

        def round_(number: int) -> None:
            phase(f"round {number}: peak", load.sequence(PEAK_WEIGHTS, counts["peak"], rng), counts["peak_clients"])
            phase(f"round {number}: mixed", load.sequence(MIXED_WEIGHTS, counts["mixed"], rng),
                  counts["mixed_clients"])
            memory.setdefault("round_end_mb", []).append(rss_mb(dev.pid)[0])
            log(f"load: round {number}: RSS at its end {memory['round_end_mb'][-1]:.1f} MB")

        # Round 1 warms up: pools, caches, the limited developers' breakers opening, the allocator's high water
        # at this concurrency. Its settled memory is the baseline the later rounds must come back to.
        with ProcessWatch(dev.pid, interval_s=0.1) as watch:
            round_(1)
            results["settle_s"] = settle(dev.pid)
            memory["baseline_mb"], memory["baseline_tree_mb"] = rss_mb(dev.pid)
            log(f"load: baseline RSS {memory['baseline_mb']:.1f} MB (tree {memory['baseline_tree_mb']:.1f} MB)")
            for number in range(2, counts["rounds"] + 1):
                round_(number)
            results["settle_s"] += settle(dev.pid)
            memory["after_mb"], memory["after_tree_mb"] = rss_mb(dev.pid)
        log(f"load: after the rounds, settled: RSS {memory['after_mb']:.1f} MB (tree {memory['after_tree_mb']:.1f} MB)")
        watched = watch.result()
        memory.update({name: watched[name] for name in ("peak_mb", "peak_tree_mb", "peak_threads", "non_loopback")})
        results["peak_streams_in_flight"] = load.peak_streams_in_flight
        results["stopped_by_time"] = load.stopped_by_time
        results["load_s"] = sum(p["wall_s"] for p in results["phases"])
        cpu_after = cpu_s(dev.pid)
        results["cpu_s"] = {part: cpu_after[part] - cpu_before[part] for part in cpu_before}
        log(f"load: CPU seconds: {results['cpu_s']}")
        counted = time.monotonic()
        usage = usage_by_status_and_route(dev.state_dir)
        log(f"load: {sum(usage.values()):,} usage events counted in {time.monotonic() - counted:.1f} s")
    results["total_s"] = time.monotonic() - began
    results.update(summarize(all_samples, usage, counts))
    return results


# ----------------------------------------------------------------------------------------------------
# Verdicts (pure)
# ----------------------------------------------------------------------------------------------------


def summarize(samples: list[Sample], usage: Counter, counts: dict) -> dict:
    by_kind: dict[str, dict] = {}
    for name, kind in KINDS.items():
        mine = [s for s in samples if s.kind == name]
        by_kind[name] = {"n": len(mine), "unexpected": sum(1 for s in mine if s.error),
                         "answered": sum(1 for s in mine if s.status is not None),
                         "why": dict(Counter(s.error for s in mine if s.error).most_common(3)),
                         "status": kind.status}
    # Every usage event a checked answer implies, by (status, route): what the table must hold.
    expected: Counter = Counter()
    for s in samples:
        kind = KINDS[s.kind]
        if kind.leaves_usage and s.status is not None:
            route = "bedrock" if kind.developer == "limited" and s.status == 200 else "plan"
            expected[(s.status, route)] += 1
    return {
        "requests": len(samples),
        "planned": counts["rounds"] * (counts["peak"] + counts["mixed"]),
        "unexpected": sum(1 for s in samples if s.error),
        "no_answer": sum(1 for s in samples if s.status is None),
        "by_kind": by_kind,
        "fallback_reasons": dict(Counter(s.fallback_reason for s in samples
                                         if s.fallback_reason and s.status == 200)),
        "usage_expected": {f"{status} {route}": n for (status, route), n in sorted(expected.items())},
        "usage_found": {f"{status} {route}": n for (status, route), n in sorted(usage.items())},
        "usage_expected_total": sum(expected.values()),
        "usage_found_total": sum(usage.values()),
    }


def leak_verdict(results: dict) -> tuple[float, int, float, bool]:
    """(settled RSS after the rounds minus the baseline in MB, requests in between, the bound in MB, within it)."""
    counts, memory = results["counts"], results["memory"]
    requests = (counts["rounds"] - 1) * (counts["peak"] + counts["mixed"])
    growth = memory["after_mb"] - memory["baseline_mb"]
    bound = LEAK_ALLOWANCE_MB + requests * LEAK_BOUND_BYTES_PER_REQUEST / 2**20
    return growth, requests, bound, growth <= bound


def passed(results: dict) -> bool:
    return (results["unexpected"] == 0 and not results["stopped_by_time"]
            and results["requests"] == results["planned"] and leak_verdict(results)[3]
            and results["usage_expected"] == results["usage_found"])


# ----------------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------------


def render_markdown(results: dict) -> str:
    counts, memory, cpu = results["counts"], results["memory"], results["cpu_s"]
    growth, since, bound, within = leak_verdict(results)
    usage_equal = results["usage_expected"] == results["usage_found"]
    lines = [
        f"## Bounded load: {results['planned']:,} requests, {counts['peak_clients']} streams at once, plan, "
        "fallback and errors",
        "",
        f"`bench/load.py`, {results['date']}, {results['machine']}"
        + (" — **quick run (small counts)**" if results["quick"] else "") + ".",
        "",
        "Method. `overspill dev --no-rollups --snapshot-every 0` (its own process, moto in a child; the local "
        "rollup function off, as it would read every event back out of moto, and no state snapshot while it "
        "runs, as each reads every table whole — neither is the proxy's work on AWS) with the "
        "fake Anthropic and the fake Bedrock in processes of their own, all on loopback; both fakes answer after "
        f"{results['upstream']['delay_ms']} ms with {results['upstream']['text_events']} text events "
        f"{results['upstream']['event_interval_ms']} ms apart. Developers made through the repositories: "
        + ", ".join(f"{count} {kind} ({routing.value})" for kind, (count, routing, _) in DEVELOPERS.items())
        + "; the fake plan answers by the plan credential each developer's Claude Code passes through: a "
        "limited developer's requests get the plan-limit 429 (unified rejected, reset in an hour), an "
        f"overloaded one's a 529. Claude Code's recorded requests ({results['body_bytes']:,} bytes), one "
        "keep-alive connection per client. Sequence (fixed up front, seeded): "
        f"{counts['rounds']} equal rounds, each {counts['peak']:,} streaming requests from "
        f"{counts['peak_clients']} clients at once (the peak), then {counts['mixed']:,} requests of every kind "
        f"from {counts['mixed_clients']} clients: {results['planned']:,} requests in all, none started after "
        f"{TIME_BOUND_S:.0f} s. Every answer is checked against its kind: the status, the route header, and the "
        "whole stream (message_start … message_stop, every event's JSON intact), the whole JSON message, or an "
        "Anthropic-shaped error body of the right type. *Unexpected* = any answer that is not what its kind "
        "must get, or no answer.",
        "",
        "| kind | what it is | expected | requests | unexpected |",
        "|---|---|---|---|---|",
    ]
    for name, kind in KINDS.items():
        row = results["by_kind"][name]
        why = f" {row['why']}" if row["why"] else ""
        lines.append(f"| `{name}` | {kind.means} | {kind.status} | {row['n']:,} | {row['unexpected']}{why} |")
    rate = results["unexpected"] / results["requests"] if results["requests"] else float("nan")
    lines += [
        f"| **all** | | | **{results['requests']:,}** | **{results['unexpected']}** ({rate:.2%}) |",
        "",
        "Answers from Bedrock by the reason the gateway gave: "
        + ", ".join(f"{reason} {n:,}" for reason, n in sorted(results["fallback_reasons"].items()))
        + " (each limited developer's first requests meet the plan's 429, the rest the open breaker).",
        "",
        "| phase | clients | requests | unexpected | wall | req/s | total p50 | total p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in results["phases"]:
        lines.append(f"| {p['name']} | {p['clients']} | {p['n']:,} | {p['unexpected']} | {p['wall_s']:.1f} s | "
                     f"{p['rps']:.0f} | {p['p50_ms']:.0f} ms | {p['p99_ms']:.0f} ms |")
    served = results["requests"] / results["load_s"] if results["load_s"] else float("nan")
    lines += [
        "",
        f"Streaming requests in flight at once (client side): at most **{results['peak_streams_in_flight']}**; "
        f"threads of the gateway process at most {memory['peak_threads']} (one per open connection). "
        f"{results['requests']:,} requests in {results['load_s']:.0f} s of load ({served:.0f} req/s overall). "
        f"CPU seconds through the load: gateway {cpu['gateway']:.0f}, moto {cpu['moto']:.0f}, the load "
        f"generator {cpu['generator']:.0f} — on 2 cores the gateway's single interpreter is the bound. "
        + ("**The time bound stopped the load.**" if results["stopped_by_time"] else ""),
        "",
        "Memory: resident set of the `overspill dev` process (the gateway; moto, its child, holds every item "
        "written and grows with the table: shown beside). *Baseline* = after round 1 (the warm-up), once the "
        f"gateway's process tree went idle (its usage writes done) and {SETTLE_S:.0f} s more; the server offers "
        "no way to ask for a garbage collection.",
        "",
        "| reading | gateway | gateway + moto |",
        "|---|---|---|",
        f"| after start, before any request | {memory['start_mb']:.1f} MB | {memory['start_tree_mb']:.1f} MB |",
        f"| peak, all rounds (sampled every 100 ms) | {memory['peak_mb']:.1f} MB | {memory['peak_tree_mb']:.1f} MB |",
    ]
    for number, end_mb in enumerate(memory["round_end_mb"], start=1):
        lines.append(f"| end of round {number} (not settled) | {end_mb:.1f} MB | |")
        if number == 1:
            lines.append(f"| **baseline**: round 1 settled | **{memory['baseline_mb']:.1f} MB** | "
                         f"{memory['baseline_tree_mb']:.1f} MB |")
    lines += [
        f"| **after**: round {counts['rounds']} settled | **{memory['after_mb']:.1f} MB** | "
        f"{memory['after_tree_mb']:.1f} MB |",
        "",
        f"Back to baseline: {since:,} requests after it, the settled gateway is at **{growth:+.1f} MB** "
        f"({growth * 2**20 / max(since, 1):+,.0f} bytes per request; bound {bound:.1f} MB = {LEAK_ALLOWANCE_MB:.0f} MB "
        f"for the allocator's settling + {LEAK_BOUND_BYTES_PER_REQUEST:,} bytes per request, a twentieth of one "
        "leaked request body): "
        f"**{'no leak' if within else 'GROWS — a leak?'}**; from one round's end to the next: "
        + ", ".join(f"{b - a:+.1f} MB" for a, b in zip(memory["round_end_mb"], memory["round_end_mb"][1:],
                                                       strict=False))
        + " (a leak adds the same each round; an allocator settling, less and less). What round 1 adds over "
        "the start is the C allocator's high water at this concurrency (one thread and its stack per "
        "connection, glibc's per-thread arenas), not Python objects: in a one-off diagnostic run under `tracemalloc` "
        "(2026-11-24, not part of `make bench`; rounds of 1,300 requests at 200 clients), the gateway's traced "
        "Python memory stayed at 39.7 MB and its object count at ~162,500 from round to round while its RSS "
        "rose from 214 to 277 MB, by less each round.",
        "",
        "Usage events (moto's usage table, scanned after the load) against the answers that must leave one — "
        "every authenticated Messages request; a refused key none — by status and route:",
        "",
        "| status, route | answers | usage events |",
        "|---|---|---|",
    ]
    for key in sorted(set(results["usage_expected"]) | set(results["usage_found"])):
        lines.append(f"| {key} | {results['usage_expected'].get(key, 0):,} | {results['usage_found'].get(key, 0):,} |")
    lines += [
        f"| **all** | **{results['usage_expected_total']:,}** | **{results['usage_found_total']:,}** |",
        "",
        f"Usage: {'equal' if usage_equal else '**NOT EQUAL**'}. TCP peers of the gateway's tree through the "
        "rounds: " + (f"**non-loopback {', '.join(memory['non_loopback'])}**" if memory["non_loopback"]
                      else "loopback only") + ". "
        f"Verdict: **{'passed' if passed(results) else 'FAILED'}** (zero unexpected answers, every planned "
        "request sent within the bound, back to baseline, usage equal). The section took "
        f"{results['total_s']:.0f} s ({results['load_s']:.0f} s of load, {results['settle_s']:.0f} s settling).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to check the wiring")
    parser.add_argument("--rounds", type=int, help=f"equal rounds after the warm-up [{FULL['rounds']}]")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    results = run(quick=args.quick, log=lambda line: print(line, flush=True), rounds=args.rounds)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    print("\n" + render_markdown(results))
    return 0 if passed(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
