"""Same work, three ways: Claude Code's own requests against one fake Anthropic upstream, sent straight to
it, through Overspill's local run, and through LiteLLM's proxy — added time, throughput, errors and memory.

    .venv/bin/python -m bench.compare                  # full run (~3½ minutes), prints the markdown section
    .venv/bin/python -m bench.compare --passthrough    # also LiteLLM's pass-through route (~1 minute more)
    .venv/bin/python -m bench.compare --quick          # small counts, to check the wiring

Every response is checked before it counts: status 200 and a complete answer (an SSE stream from
message_start to message_stop with every event's JSON intact, or a whole Messages JSON body), so a fast
error never passes for a fast answer.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psutil

from bench import litellm_gateway
from bench.harness import fake_anthropic_process, machine, overspill_dev_process
from bench.latency import percentile
from tests.support.claude_code_fixtures import load_all
from tests.support.fake_anthropic import FakeAnthropic, Scenario
from tests.support.fake_bedrock import FakeBedrock
from tests.support.fake_bedrock import Scenario as BedrockScenario

# The upstream every way shares: 20 ms before the headers, then 20 text events 2 ms apart (~25 SSE events
# with the framing and the thinking block Claude Code's body asks for); a JSON answer comes after the 20 ms.
UPSTREAM = {"delay_ms": 20, "event_interval_ms": 2, "text_events": 20}
# Requests per way, per mode, per concurrency; each connection also sends one unmeasured request first.
LOADS = {1: 80, 10: 200, 50: 300}
QUICK_LOADS = {1: 10, 10: 40, 50: 100}
# Claude Code's own pace: one request at a time with a pause after each answer (a developer reads, a tool runs),
# so work a gateway does after an answer (Overspill's usage write) is over before the next request arrives.
PACED_REQUESTS, QUICK_PACED_REQUESTS, PACED_THINK_S = 30, 8, 0.1
WARMUP = 10  # sequential requests per way and mode before any measurement (LiteLLM's first takes ~1 s)
CONCURRENCIES = (1, 10, 50)
PACED = "1-paced"  # the key of the paced block in the results, beside the concurrencies
BLOCKS = (*CONCURRENCIES, PACED)
MODES = ("stream", "json")
PATH = "/v1/messages?beta=true"  # as Claude Code sends it
STREAM_FIXTURE, JSON_FIXTURE = "opus-default-stream", "nonstream-retry-after-sse-error"
WAYS = {
    "direct": "no gateway",
    "overspill": "Overspill (`overspill dev`)",
    "litellm": "LiteLLM, model route (`/v1/messages`)",
    "litellm-passthrough": "LiteLLM, pass-through (`/anthropic/v1/messages`)",
}
# Each gateway is measured in its own phase, alone beside the upstream, with the direct baseline measured
# again in that phase, block by block: `overspill dev` keeps working after its answers (each request's usage
# write, which moto applies), and that work must land on no other way's numbers. Its local rollup function
# (another Lambda on AWS; ~15 s of a core per 300 requests on moto) is off: `--no-rollups`; so are the periodic saves
# of the local state (every table read whole every 30 s; DynamoDB keeps its own): `--snapshot-every 0`.
PHASES = ("litellm", "overspill")
OVERSPILL_FLAGS = ("--no-rollups", "--snapshot-every", "0")
IDLE_TIMEOUT_S = {"litellm": 5.0, "overspill": 8.0}
TARGET_RATIO = 4.0  # the target: Overspill adds at least 4x less latency than LiteLLM
# A gateway serving at most this share of what its clients would get without a queue is saturated: queueing is
# most of each request's time.
QUEUED_SHARE = 0.5


# ----------------------------------------------------------------------------------------------------
# Checking one answer (pure)
# ----------------------------------------------------------------------------------------------------


def sse_events(body: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """(event name, data) for each complete SSE event, and whatever trailing bytes end no event."""
    text = body.replace(b"\r\n", b"\n")
    *blocks, rest = text.split(b"\n\n")
    events = []
    for block in blocks:
        name, data = b"message", []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip()
            elif line.startswith(b"data:"):
                data.append(line[5:].strip())
        if data or name != b"message":
            events.append((name.decode(errors="replace"), b"\n".join(data)))
    return events, rest


def check_stream(status: int, content_type: str, body: bytes) -> str | None:
    """None when the answer is a complete Messages stream; otherwise why it is not."""
    if status != 200:
        return f"status {status}"
    if not content_type.startswith("text/event-stream"):
        return f"content-type {content_type or 'missing'}"
    events, rest = sse_events(body)
    if rest.strip():
        return "stream ended inside an event"
    names = [name for name, _ in events]
    if not names or names[0] != "message_start":
        return "no message_start first"
    if "error" in names:
        return "error event in the stream"
    if names[-1] != "message_stop":
        return "stream ended before message_stop"
    if "content_block_delta" not in names or "message_delta" not in names:
        return "stream without content or message_delta"
    for name, data in events:
        if name == "ping":
            continue
        try:
            if json.loads(data).get("type") != name:
                return f"{name} event whose data has another type"
        except (ValueError, AttributeError):
            return f"{name} event with broken JSON"
    return None


def check_message(status: int, content_type: str, body: bytes) -> str | None:
    """None when the answer is a complete Messages JSON body; otherwise why it is not."""
    if status != 200:
        return f"status {status}"
    if not content_type.startswith("application/json"):
        return f"content-type {content_type or 'missing'}"
    try:
        message = json.loads(body)
    except ValueError:
        return "broken JSON body"
    if not isinstance(message, dict) or message.get("type") != "message":
        return "body is not a message"
    if not message.get("content") or not message.get("stop_reason"):
        return "message without content or stop_reason"
    if not isinstance((message.get("usage") or {}).get("output_tokens"), int):
        return "message without usage"
    return None


# ----------------------------------------------------------------------------------------------------
# Numbers (pure)
# ----------------------------------------------------------------------------------------------------

QUANTILES = (50, 95, 99)
METRICS = ("ttfb", "total")


@dataclass
class Sample:
    ttfb_ms: float
    total_ms: float
    error: str | None = None


def summarize(samples: list[Sample], wall_s: float) -> dict:
    """Percentiles over the good answers only; errors counted (and named) apart."""
    good = [s for s in samples if s.error is None]
    summary: dict = {"n": len(samples), "errors": len(samples) - len(good),
                     "error_kinds": dict(Counter(s.error for s in samples if s.error).most_common(3)),
                     "wall_s": wall_s, "rps": len(good) / wall_s if wall_s > 0 else float("nan")}
    for metric in METRICS:
        values = [getattr(s, f"{metric}_ms") for s in good]
        for q in QUANTILES:
            summary[f"{metric}_p{q}"] = percentile(values, q)
    return summary


def added(gateway: dict, direct: dict) -> dict[str, float]:
    """What the gateway adds at each percentile: its time minus the direct time at the same percentile."""
    return {f"{m}_p{q}": gateway[f"{m}_p{q}"] - direct[f"{m}_p{q}"] for m in METRICS for q in QUANTILES}


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator when both are positive added times; None when the ratio would mean nothing
    (a gateway measured as adding nothing or less than nothing, within noise)."""
    if not (numerator > 0 and denominator > 0) or math.isnan(numerator) or math.isnan(denominator):
        return None
    return numerator / denominator


# ----------------------------------------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Way:
    name: str
    url: str
    headers: dict[str, str]
    pid: int | None = None  # the gateway's process, None for the upstream itself


@dataclass(frozen=True)
class Request:
    mode: str  # "stream" | "json"
    body: bytes
    headers: dict[str, str]


def claude_code_requests() -> dict[str, Request]:
    """Claude Code's recorded bodies and headers (compression not asked for: every way answers plain)."""
    fixtures = {f.name: f for f in load_all()}
    out = {}
    for mode, name in (("stream", STREAM_FIXTURE), ("json", JSON_FIXTURE)):
        fixture = fixtures[name]
        assert fixture.streams == (mode == "stream"), name
        headers = {k: v for k, v in fixture.headers.items() if k.lower() != "accept-encoding"}
        out[mode] = Request(mode, fixture.body, headers)
    return out


def _one(client: httpx.Client, url: str, request: Request, headers: dict[str, str]) -> Sample:
    started = time.perf_counter()
    first = None
    chunks = []
    try:
        with client.stream("POST", url, content=request.body, headers=headers) as response:
            for chunk in response.iter_bytes():
                if first is None and chunk:
                    first = time.perf_counter()
                chunks.append(chunk)
            status, content_type = response.status_code, response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        ended = time.perf_counter()
        return Sample((ended - started) * 1000, (ended - started) * 1000, type(exc).__name__)
    ended = time.perf_counter()
    body = b"".join(chunks)
    check = check_stream if request.mode == "stream" else check_message
    return Sample(((first or ended) - started) * 1000, (ended - started) * 1000,
                  check(status, content_type, body))


def run_load(way: Way, request: Request, *, concurrency: int, requests: int,
             timeout_s: float = 60) -> tuple[list[Sample], float]:
    """`requests` requests, `concurrency` at a time, each worker on its own keep-alive connection (as each
    Claude Code process keeps one) that first sends one unmeasured request. (samples, measured wall seconds)"""
    headers = {**request.headers, **way.headers}
    samples: list[Sample] = []
    lock = threading.Lock()
    remaining = iter(range(requests))
    warmed = threading.Barrier(concurrency + 1)

    def worker() -> None:
        with httpx.Client(timeout=timeout_s) as client:
            _one(client, way.url, request, headers)
            warmed.wait()
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                sample = _one(client, way.url, request, headers)
                with lock:
                    samples.append(sample)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    warmed.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - started


def warm_up(way: Way, request: Request, count: int = WARMUP) -> list[str]:
    """`count` sequential requests; the reasons any of them failed (a broken setup shows here first)."""
    headers = {**request.headers, **way.headers}
    with httpx.Client(timeout=60) as client:
        return [s.error for s in (_one(client, way.url, request, headers) for _ in range(count)) if s.error]


# ----------------------------------------------------------------------------------------------------
# A gateway's process tree: memory and where it connects
# ----------------------------------------------------------------------------------------------------


def wait_idle(pids: list[int], *, below_percent: float = 10.0, timeout_s: float = 5.0) -> float:
    """Wait until the gateways' process trees are idle (two 100 ms samples below `below_percent` of a core):
    Overspill writes each request's usage after its answer, and that work must not land on the next
    way's measurement. Seconds waited."""
    processes = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            processes += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for process in processes:
        process.cpu_percent(None)
    started, quiet = time.monotonic(), 0
    while quiet < 2 and time.monotonic() - started < timeout_s:
        time.sleep(0.1)
        busy = 0.0
        for process in processes:
            try:
                busy += process.cpu_percent(None)
            except psutil.NoSuchProcess:
                pass
        quiet = quiet + 1 if busy < below_percent else 0
    return time.monotonic() - started


def tree_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by a process ("process") and by its children ("children")."""
    out = {"process": 0.0, "children": 0.0}
    try:
        root = psutil.Process(pid)
        tree = [(root, "process")] + [(child, "children") for child in root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return out
    for process, part in tree:
        try:
            times = process.cpu_times()
            out[part] += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return out


def run_paced(way: Way, request: Request, *, requests: int, think_s: float) -> tuple[list[Sample], float]:
    """One request at a time on one keep-alive connection, pausing `think_s` after each answer."""
    headers = {**request.headers, **way.headers}
    samples = []
    with httpx.Client(timeout=60) as client:
        _one(client, way.url, request, headers)
        started = time.perf_counter()
        for _ in range(requests):
            time.sleep(think_s)
            samples.append(_one(client, way.url, request, headers))
    return samples, time.perf_counter() - started


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "localhost") or address.startswith("::ffff:127.")


class ProcessWatch:
    """Samples a process and its children (RSS every `interval_s`, their TCP peers every tenth sample)."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.baseline_mb = self.root.memory_info().rss / 2**20
        self.baseline_tree_mb = self._tree_rss()[0]
        self.peak_mb = self.baseline_mb
        self.peak_tree_mb = self.baseline_tree_mb
        self.peak_threads = self.root.num_threads()
        self.processes: dict[int, str] = {}
        self.remote_peers: set[str] = set()
        self.non_loopback: set[str] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _tree_rss(self) -> tuple[float, list[psutil.Process]]:
        total, tree = 0, self._tree()
        for process in tree:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 2**20, tree

    def _peers(self, tree: list[psutil.Process]) -> None:
        for process in tree:
            try:
                for connection in process.net_connections("inet"):
                    if connection.raddr:
                        self.remote_peers.add(connection.raddr.ip)
                        if not _is_loopback(connection.raddr.ip):
                            self.non_loopback.add(f"{connection.raddr.ip}:{connection.raddr.port}")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass

    def _sample(self) -> None:
        tick = 0
        while not self._done.is_set():
            try:
                self.peak_mb = max(self.peak_mb, self.root.memory_info().rss / 2**20)
                self.peak_threads = max(self.peak_threads, self.root.num_threads())
            except psutil.NoSuchProcess:
                return
            tree_mb, tree = self._tree_rss()
            self.peak_tree_mb = max(self.peak_tree_mb, tree_mb)
            for process in tree:
                if process.pid not in self.processes:
                    try:
                        self.processes[process.pid] = " ".join(process.cmdline()[:3])[-80:]
                    except psutil.NoSuchProcess:
                        pass
            if tick % 10 == 0:
                self._peers(tree)
            tick += 1
            self._done.wait(self.interval_s)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join()
        self._peers(self._tree())

    def result(self) -> dict:
        return {"baseline_mb": self.baseline_mb, "peak_mb": self.peak_mb,
                "baseline_tree_mb": self.baseline_tree_mb, "peak_tree_mb": self.peak_tree_mb,
                "processes": len(self.processes) or 1, "non_loopback": sorted(self.non_loopback),
                "peak_threads": self.peak_threads}


# ----------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------


def run(quick: bool = False, log: Callable[[str], None] = print, *, passthrough: bool = False) -> dict:
    """Both phases and the fallback try; plain data for render_markdown. `passthrough` also measures
    LiteLLM's pass-through route in its phase (~1 minute more)."""
    loads = QUICK_LOADS if quick else LOADS
    paced = QUICK_PACED_REQUESTS if quick else PACED_REQUESTS
    install = litellm_gateway.ensure_venv(log=log)
    requests = claude_code_requests()
    models = sorted({json.loads(r.body)["model"] for r in requests.values()})
    began = time.monotonic()
    results: dict = {"date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "machine": machine(),
                     "upstream": UPSTREAM, "loads": loads, "quick": quick, "warmup": WARMUP,
                     "paced": {"requests": paced, "think_s": PACED_THINK_S}, "cpu": {},
                     "litellm": {"version": litellm_gateway.installed_version(install),
                                 "loosened": install.loosened, "models": models},
                     "fixtures": {"stream": STREAM_FIXTURE, "json": JSON_FIXTURE},
                     "body_bytes": {mode: len(r.body) for mode, r in requests.items()},
                     "gateways": {"litellm": ["litellm", *(["litellm-passthrough"] if passthrough else [])],
                                  "overspill": ["overspill"]},
                     "runs": {}, "memory": {}, "settle": {}, "load_average_before": os.getloadavg()}
    with fake_anthropic_process(**UPSTREAM) as upstream:
        direct = Way("direct", upstream + PATH, {})
        started = time.monotonic()
        with litellm_gateway.litellm_process(litellm_gateway.anthropic_config(upstream, models),
                                             anthropic_url=upstream, install=install) as lite:
            results["litellm"]["start_s"] = time.monotonic() - started
            auth = {"x-api-key": litellm_gateway.MASTER_KEY}
            ways = [direct, Way("litellm", lite.url + PATH, auth, lite.pid)]
            if passthrough:
                ways.append(Way("litellm-passthrough", lite.passthrough_url + PATH, auth, lite.pid))
            _phase("litellm", ways, requests, loads, paced, results, log)
        with overspill_dev_process(upstream, flags=OVERSPILL_FLAGS, save_state=False) as dev:
            _phase("overspill", [direct, Way("overspill", dev.base_url + PATH, {}, dev.pid)], requests, loads,
                   paced, results, log)
    results["load_s"] = time.monotonic() - began
    results["fallback"] = fallback_side_by_side(install, requests, log=log)
    results["total_s"] = time.monotonic() - began
    return results


def _phase(phase: str, ways: list[Way], requests: dict[str, Request], loads: dict[int, int], paced: int,
           results: dict, log: Callable[[str], None]) -> None:
    for way in ways:
        for request in requests.values():
            failures = warm_up(way, request)
            if failures:
                raise RuntimeError(f"{way.name} ({request.mode}) fails before the measurement: "
                                   f"{Counter(failures).most_common(2)}")
    gateway_pid = next(way.pid for way in ways if way.pid is not None)
    settle = results["settle"].setdefault(phase, {"waited_s": 0.0, "timeouts": 0})
    with ProcessWatch(gateway_pid) as watch:
        # Concurrency 1 first, both modes: the least work left behind by earlier blocks where it matters most.
        for concurrency in CONCURRENCIES:
            for mode in MODES:
                # Before each block (the direct baseline first, then the gateway), the gateway's tree goes idle.
                waited = wait_idle([gateway_pid], timeout_s=IDLE_TIMEOUT_S[phase])
                settle["waited_s"] += waited
                settle["timeouts"] += waited >= IDLE_TIMEOUT_S[phase]
                for way in ways:
                    cpu_before = tree_cpu_s(gateway_pid)
                    samples, wall_s = run_load(way, requests[mode], concurrency=concurrency,
                                               requests=loads[concurrency])
                    _record(results, phase, mode, concurrency, way, summarize(samples, wall_s), cpu_before, log)
        # Last, Claude Code's pace (after the loads, so the settle before it also drains their leftovers).
        for mode in MODES:
            waited = wait_idle([gateway_pid], timeout_s=IDLE_TIMEOUT_S[phase])
            settle["waited_s"] += waited
            for way in ways:
                cpu_before = tree_cpu_s(gateway_pid)
                samples, wall_s = run_paced(way, requests[mode], requests=paced, think_s=PACED_THINK_S)
                _record(results, phase, mode, PACED, way, summarize(samples, wall_s), cpu_before, log)
    results["memory"][phase] = watch.result()


def _record(results: dict, phase: str, mode: str, concurrency: int | str, way: Way, summary: dict,
            cpu_before: dict[str, float], log: Callable[[str], None]) -> None:
    results["runs"][f"{phase}/{mode}/{concurrency}/{way.name}"] = summary
    if way.pid is not None:
        # The gateway's CPU per answered request while this block ran, by process: the gateway's own
        # interpreter, and its children (moto, for `overspill dev`).
        cpu_after = tree_cpu_s(way.pid)
        answered = max(summary["n"] - summary["errors"], 1)
        results["cpu"][f"{phase}/{mode}/{concurrency}"] = {
            part: (cpu_after[part] - cpu_before[part]) * 1000 / answered for part in cpu_after}
    log(_progress(mode, concurrency, way.name if way.pid else f"direct ({phase})", summary))


def _progress(mode: str, concurrency: int | str, name: str, s: dict) -> str:
    return (f"{mode:6} c={concurrency!s:<6} {name:20} n={s['n']:<4} errors={s['errors']:<3} "
            f"ttfb p50 {s['ttfb_p50']:7.2f} p99 {s['ttfb_p99']:7.2f}  total p50 {s['total_p50']:7.2f} "
            f"p99 {s['total_p99']:7.2f} ms  {s['rps']:6.1f} req/s")


# ----------------------------------------------------------------------------------------------------
# LiteLLM's fallback to Bedrock, tried
# ----------------------------------------------------------------------------------------------------

FALLBACK_BEDROCK_ID = "us.anthropic.claude-opus-4-8-v1:0"
FALLBACK_TRIES = 10


def fallback_side_by_side(install: litellm_gateway.Install, requests: dict[str, Request],
                          log: Callable[[str], None] = print) -> dict:
    """Claude Code's requests while the plan refuses every one, through Overspill and through LiteLLM's router
    with a Bedrock fallback configured: does the answer come (complete) from Bedrock, how long does it take,
    and how many requests still reach the plan. The fakes run in this process here, so that what reached
    each upstream can be counted (bench/fallback.py measures Overspill's fallback cost with separate ones)."""
    model = json.loads(requests["stream"].body)["model"]
    cases = [("429 rate_limit_error, retry-after 0", Scenario.error(429, retry_after=0)),
             ("429 plan limit (unified rejected, reset in an hour)", Scenario.plan_limit(int(time.time()) + 3600))]
    out: dict = {"model": model, "bedrock_model_id": FALLBACK_BEDROCK_ID, "tries": FALLBACK_TRIES, "rows": []}
    bedrock_answer = BedrockScenario.stream(delay=UPSTREAM["delay_ms"] / 1000,
                                            event_delay=UPSTREAM["event_interval_ms"] / 1000,
                                            text_events=UPSTREAM["text_events"])
    with FakeBedrock(default=bedrock_answer) as bedrock, FakeAnthropic() as plan, ExitStack() as stack:
        dev = stack.enter_context(overspill_dev_process(plan.url, bedrock_url=bedrock.url, flags=OVERSPILL_FLAGS))
        lite = stack.enter_context(litellm_gateway.litellm_process(
            litellm_gateway.fallback_config(plan.url, bedrock.url, model, FALLBACK_BEDROCK_ID),
            anthropic_url=plan.url, install=install))
        ways = [Way("overspill", dev.base_url + PATH, {}, dev.pid),
                Way("litellm", lite.url + PATH, {"x-api-key": litellm_gateway.MASTER_KEY}, lite.pid)]
        for case, refusal in cases:
            plan.set_default(refusal)
            for way in ways:
                for mode in MODES:
                    plan.clear()
                    bedrock.clear()
                    headers = {**requests[mode].headers, **way.headers}
                    with httpx.Client(timeout=60) as client:
                        samples = [_one(client, way.url, requests[mode], headers) for _ in range(FALLBACK_TRIES)]
                    summary = summarize(samples, 1.0)
                    row = {"case": case, "way": way.name, "mode": mode, "good": FALLBACK_TRIES - summary["errors"],
                           "error_kinds": summary["error_kinds"], "ttfb_p50": summary["ttfb_p50"],
                           "total_p50": summary["total_p50"], "plan_requests": len(plan.received),
                           "bedrock_requests": len(bedrock.received)}
                    out["rows"].append(row)
                    log(f"fallback, {case}, {way.name}, {mode}: {row['good']}/{FALLBACK_TRIES} complete, "
                        f"ttfb p50 {row['ttfb_p50']:.1f} ms, plan asked {row['plan_requests']}x, "
                        f"Bedrock {row['bedrock_requests']}x {summary['error_kinds'] or ''}")
    return out


# ----------------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def _ratio_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}×"


def gateway_added(results: dict, gateway: str, mode: str, concurrency: int) -> dict[str, float]:
    """What `gateway` added, against the direct baseline measured in the same phase, just before it."""
    phase = "overspill" if gateway == "overspill" else "litellm"
    runs = results["runs"]
    return added(runs[f"{phase}/{mode}/{concurrency}/{gateway}"], runs[f"{phase}/{mode}/{concurrency}/direct"])


def ratios(results: dict, mode: str, concurrency: int) -> dict[str, float | None]:
    over = gateway_added(results, "overspill", mode, concurrency)
    lite = gateway_added(results, "litellm", mode, concurrency)
    return {key: ratio(lite[key], over[key]) for key in over}


def render_markdown(results: dict) -> str:
    loads = results["loads"]
    lite = results["litellm"]
    loosened = "; ".join(f"`{name}` ({why})" for name, why in lite["loosened"].items())
    passthrough = "litellm-passthrough" in results["gateways"]["litellm"]
    lines = [
        "## Same work, three ways: no gateway, Overspill, LiteLLM",
        "",
        f"`bench/compare.py`, {results['date']}, {results['machine']}"
        + (" — **quick run (small counts), not for comparison**" if results.get("quick") else "") + ".",
        "",
        "Method. One fake Anthropic upstream in its own process ("
        f"{results['upstream']['delay_ms']} ms before the headers, then {results['upstream']['text_events']} "
        f"text events {results['upstream']['event_interval_ms']} ms apart: ~25 SSE events per streamed answer; "
        "a JSON answer after the same delay) serves every way: (a) directly; (b) through `overspill dev "
        "--no-rollups --snapshot-every 0` (its own process, moto in a child process, "
        "`POWERTOOLS_LOG_LEVEL=WARNING`; the proxy writes each request's usage event as on AWS; the local rollup "
        "function — another Lambda on AWS — is off, and so are the local run's periodic saves of its state, "
        "which read every table whole), at `<url>/ak/<key>`; "
        f"(c) through LiteLLM {lite['version']}'s proxy (`litellm[proxy]`, installed by the bench in its own "
        "venv under `build/bench/`; its CLI's defaults: uvicorn, one worker) configured with a `model_list` "
        f"entry per model Claude Code sends here ({', '.join(f'`{m}`' for m in lite['models'])} → "
        "`anthropic/<model>` with the fake as `api_base`), a master key and no database. The load generator "
        f"posts Claude Code's recorded requests — `{results['fixtures']['stream']}` for streaming "
        f"({results['body_bytes']['stream']:,} bytes), `{results['fixtures']['json']}` for non-streaming "
        f"({results['body_bytes']['json']:,} bytes), their headers as recorded, `?beta=true`, no compression "
        "asked — over one keep-alive connection per worker, each worker's first request unmeasured, after "
        f"{results['warmup']} sequential warm-up requests per way and mode. Requests per way and mode: "
        + ", ".join(f"{n} at concurrency {c}" for c, n in loads.items()) + ". Every answer is checked — "
        "status 200 and the whole stream (message_start … message_stop, every event's JSON intact) or the "
        "whole JSON message — and percentiles are over checked answers only. Requests/s at concurrency 50 is "
        "the saturation throughput: checked answers over wall time.",
        "",
        "Each gateway runs in its own phase, alone beside the upstream: first LiteLLM, then `overspill dev`. "
        "`overspill dev` keeps working after its answers — each request's usage write, which moto applies — "
        "and that must not land on LiteLLM's numbers. In each phase, block by block (concurrency 1, 10, 50; "
        "streaming then non-streaming at "
        "each), the gateway's tree is first left to go idle (" + _settle_text(results["settle"]) + "), then "
        "the direct baseline is measured, then the gateway. *Added* = through the gateway minus that phase's "
        "direct baseline, at the same percentile. Where a wait stopped at its bound, moto was still applying "
        "earlier usage events while the next block ran: on these 2 cores it competes with the gateway, the "
        "fake and the load generator (on AWS that work is DynamoDB's, not the proxy's). Last in each phase, "
        f"one request at a time at Claude Code's pace: {results['paced']['requests']} requests per way and "
        f"mode, each after a {results['paced']['think_s'] * 1000:.0f} ms pause (a developer reading, a tool "
        "running), so that what a gateway does after an answer is over before the next request.",
        "",
        "Which LiteLLM route: a team replacing Anthropic's base URL sets `ANTHROPIC_BASE_URL` to LiteLLM's "
        "root, the model route `/v1/messages` — what LiteLLM's Claude Code guide and Anthropic's LLM-gateway "
        "page recommend, and the only route where LiteLLM's retries and fallbacks apply; the ratios use it. "
        + ("Its pass-through route (`ANTHROPIC_BASE_URL=<litellm>/anthropic`, forwarding to "
           "`ANTHROPIC_API_BASE`, no fallbacks) is measured on the same process for reference."
           if passthrough else "Its pass-through route (`<litellm>/anthropic`, no fallbacks) is measured with "
           "`python -m bench.compare --passthrough`."),
        "",
        "LiteLLM ran offline: `LITELLM_OFFLINE_MODE`, `LITELLM_LOCAL_MODEL_COST_MAP`, "
        "`LITELLM_TELEMETRY_DISABLED`, no callbacks, no spend logs, no database, and HTTP(S)_PROXY pointed "
        "at a dead loopback port for anything but loopback. TCP peers of each gateway's process tree, "
        "sampled through its phase: " + _peers_text(results["memory"]) + "."
        + (f" Its install loosened pins the machine's package index cannot meet: {loosened}." if loosened else ""),
        "",
    ]
    for mode in MODES:
        lines += _mode_table(results, mode)
    lines += [
        "### Added latency, LiteLLM (model route) ÷ Overspill",
        "",
        f"Target: Overspill adds at least {TARGET_RATIO:.0f}× less latency than LiteLLM at every concurrency "
        "(judged on the p50s of concurrency 1, 10 and 50; the paced block is context). n/a: Overspill's added "
        "time at that percentile was ≤ 0 (within noise).",
        "",
        "| mode | concurrency | TTFB p50 | TTFB p95 | TTFB p99 | total p50 | total p95 | total p99 | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        for concurrency in BLOCKS:
            r = ratios(results, mode, concurrency)
            cells = " | ".join(_ratio_text(r[f"{m}_p{q}"]) for m in METRICS for q in QUANTILES)
            # The target names concurrency 1, 10 and 50; the paced block (30 samples) is there to explain them.
            verdict = "context" if concurrency == PACED else _verdict([r["ttfb_p50"], r["total_p50"]])
            lines.append(f"| {mode} | {_block_label(results, concurrency)} | {cells} | {verdict} |")
    lines += ["", *_cpu_section(results)]
    over, lite_memory = results["memory"]["overspill"], results["memory"]["litellm"]
    lines += [
        "",
        "### Memory of each gateway's process tree",
        "",
        "RSS sampled every 20 ms through the gateway's phase (both modes, all concurrencies); baseline = after "
        "the warm-up, before the load.",
        "",
        "| gateway | processes in its tree | gateway process: baseline → peak | whole tree: baseline → peak |",
        "|---|---|---|---|",
        f"| Overspill (`overspill dev --no-rollups --snapshot-every 0`: the proxy and admin API in one process; "
        f"moto, the AWS emulator, in a child) | {over['processes']} | {over['baseline_mb']:.0f} → "
        f"**{over['peak_mb']:.0f} MB** | "
        f"{over['baseline_tree_mb']:.0f} → **{over['peak_tree_mb']:.0f} MB** |",
        f"| LiteLLM proxy (one uvicorn worker) | {lite_memory['processes']} | {lite_memory['baseline_mb']:.0f} → "
        f"**{lite_memory['peak_mb']:.0f} MB** | {lite_memory['baseline_tree_mb']:.0f} → "
        f"**{lite_memory['peak_tree_mb']:.0f} MB** |",
        "",
        "Overspill's tree grows with moto: moto holds every usage item and stream record the local run writes "
        "in memory. On AWS that state is DynamoDB's, and the proxy function is the gateway process alone.",
        "",
        f"LiteLLM took {lite['start_s']:.1f} s from process start to answering its liveness probe.",
        "",
    ]
    lines += render_fallback(results["fallback"])
    lines += ["", f"(Both phases {results['load_s']:.0f} s; whole run {results['total_s']:.0f} s; load average "
              f"before the run {results['load_average_before'][0]:.2f}.)", ""]
    return "\n".join(lines)


def _mode_table(results: dict, mode: str) -> list[str]:
    title = "Streaming" if mode == "stream" else "Non-streaming"
    lines = [
        f"### {title} (`\"stream\": {'true' if mode == 'stream' else 'false'}`): time to first byte and total "
        "time, ms — gateway (added over the direct baseline above it)",
        "",
        "| concurrency | way | requests | errors | TTFB p50 | TTFB p95 | TTFB p99 | total p50 | total p95 "
        "| total p99 | req/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for concurrency in BLOCKS:
        for phase in PHASES:
            direct = results["runs"][f"{phase}/{mode}/{concurrency}/direct"]
            for name in ("direct", *results["gateways"][phase]):
                run_ = results["runs"][f"{phase}/{mode}/{concurrency}/{name}"]
                plus = added(run_, direct) if name != "direct" else None
                cells = [_ms(run_[f"{m}_p{q}"]) if plus is None else
                         f"{_ms(run_[f'{m}_p{q}'])} (**{plus[f'{m}_p{q}']:+.2f}**)"
                         for m in METRICS for q in QUANTILES]
                label = WAYS[name] if name != "direct" else f"no gateway ({phase} phase)"
                errors = str(run_["errors"]) + (f" {run_['error_kinds']}" if run_["errors"] else "")
                lines.append(f"| {_block_label(results, concurrency)} | {label} | {run_['n']} | {errors} | "
                             + " | ".join(cells)
                             + f" | {run_['rps']:.0f} |")
    lines.append("")
    return lines


def _block_label(results: dict, block: int | str) -> str:
    if block != PACED:
        return str(block)
    return f"1, paced ({results['paced']['think_s'] * 1000:.0f} ms pause after each answer)"


def _cpu_section(results: dict) -> list[str]:
    """CPU per answered request, and what it explains: the added time of a gateway that does more per request."""
    cpu = results["cpu"]
    lines = [
        "### CPU per answered request",
        "",
        "CPU time (user + system) of each gateway's processes while its block ran, over the answers it gave, in "
        "ms. Overspill's own interpreter does, per request, what the proxy function does on AWS — including the "
        "usage write after each answer (one DynamoDB PutItem through botocore, to moto here); moto is its child "
        "process. LiteLLM here writes nothing (no database, no spend logs).",
        "",
        "| mode | concurrency | Overspill: gateway process | Overspill: moto (child) | LiteLLM |",
        "|---|---|---|---|---|",
    ]
    for mode in MODES:
        for block in BLOCKS:
            over, lite = cpu.get(f"overspill/{mode}/{block}"), cpu.get(f"litellm/{mode}/{block}")
            if over is None or lite is None:
                continue
            lines.append(f"| {mode} | {_block_label(results, block)} | {over['process']:.2f} | "
                         f"{over['children']:.2f} | {lite['process'] + lite['children']:.2f} |")
    paced = {mode: gateway_added(results, "overspill", mode, PACED)["ttfb_p50"] for mode in MODES}
    back_to_back = {mode: gateway_added(results, "overspill", mode, 1)["ttfb_p50"] for mode in MODES}
    lite_paced = {mode: gateway_added(results, "litellm", mode, PACED)["ttfb_p50"] for mode in MODES}
    lower = all(paced[mode] < back_to_back[mode] for mode in MODES)
    saturated = saturated_blocks(results)
    missed = missed_blocks(results)
    missed_unsaturated = [(mode, c) for mode, c in missed if not any((mode, c) == (m, b) for m, b, *_ in saturated)]
    lines += [
        "",
        "What this explains. Overspill's added TTFB at p50, one request at a time: "
        + "; ".join(f"{mode} {back_to_back[mode]:+.2f} ms back to back, {paced[mode]:+.2f} ms at Claude Code's pace "
                    f"(LiteLLM {lite_paced[mode]:+.2f} ms)" for mode in MODES) + ". "
        + ("Back to back, each request arrives while the previous one's usage write is still running in the same "
           "interpreter (it runs after the answer has ended, so no developer waits for it, but the next request "
           "shares the CPU with it); at Claude Code's pace it is over before the next request, and the added "
           "time is lower. " if lower else
           "Pacing the requests did not lower it in this run (within noise): the previous request's usage write "
           "is not what it is made of here. ")
        + "At concurrency 10 and 50 the added time is queueing for one interpreter's CPU (one GIL) on a 2-core "
        "machine that also runs the load generator, the fake upstream and moto. Where both gateways are "
        f"saturated (each serving at most {QUEUED_SHARE:.0%} of what as many clients would get without a queue, "
        "concurrency ÷ its time per request at concurrency 1: queueing is most of each request's time), a "
        "server's time per request is its queue, concurrency ÷ throughput, so the ratio of added times there "
        "tends to the ratio of throughputs: "
        + "; ".join(f"{mode} at concurrency {c}: {over:.0f} req/s through Overspill and {lite:.0f} through "
                    f"LiteLLM ({over / lite:.1f}×)" for mode, c, over, lite in saturated)
        + ". Those follow the CPU per request above, and Overspill's includes the usage write, a large part that "
        "LiteLLM, without a database, does not do. 4× at saturation would take a quarter of LiteLLM's CPU per "
        "request. On Lambda an instance serves one request at a time and its usage write runs after the stream "
        "has ended, so neither the overlap nor the queue exists there; locally, it would take the usage write "
        "out of the serving interpreter (another process, or a batched writer) — the local run keeps the code "
        "that runs on Lambda instead"
        + ("" if not missed else ". Every block that misses the 4× target is a saturated one, listed above"
           if not missed_unsaturated else
           ". Blocks that miss the 4× target without both gateways saturated: "
           + ", ".join(f"{mode} at concurrency {c}" for mode, c in missed_unsaturated))
        + ".",
        "",
    ]
    return lines


def saturated_blocks(results: dict) -> list[tuple[str, int, float, float]]:
    """(mode, concurrency, Overspill req/s, LiteLLM req/s) of every block where both gateways are saturated:
    queueing is most of each request's time there — the gateway serves at most QUEUED_SHARE of what as many
    clients would get from it without a queue (concurrency ÷ its time per request at concurrency 1)."""
    runs = results["runs"]

    def rps(phase: str, mode: str, concurrency: int) -> float:
        return runs[f"{phase}/{mode}/{concurrency}/{phase}"]["rps"]

    def saturated(phase: str, mode: str, concurrency: int) -> bool:
        alone_s = runs[f"{phase}/{mode}/1/{phase}"]["total_p50"] / 1000
        return rps(phase, mode, concurrency) <= QUEUED_SHARE * concurrency / alone_s

    return [(mode, c, rps("overspill", mode, c), rps("litellm", mode, c)) for mode in MODES for c in CONCURRENCIES
            if all(saturated(phase, mode, c) for phase in PHASES)]


def missed_blocks(results: dict) -> list[tuple[str, int]]:
    """The judged blocks (mode, concurrency) whose p50 ratios miss the target."""
    return [(mode, c) for mode in MODES for c in CONCURRENCIES
            if _verdict([ratios(results, mode, c)["ttfb_p50"], ratios(results, mode, c)["total_p50"]]) == "MISSED"]


def _settle_text(settle: dict) -> str:
    return "; ".join(f"{phase}: {data['waited_s']:.0f} s waited in all, {data['timeouts']} of 6 waits stopped at "
                     f"the {IDLE_TIMEOUT_S[phase]:.0f} s bound" for phase, data in settle.items())


def _verdict(values: list[float | None]) -> str:
    if any(v is None for v in values):
        return "met (Overspill adds ≤ 0)" if all(v is None or v >= TARGET_RATIO for v in values) else "MISSED"
    return "met" if min(values) >= TARGET_RATIO else "MISSED"  # type: ignore[type-var]


def _peers_text(memory: dict) -> str:
    parts = []
    for name in PHASES:
        outside = memory[name]["non_loopback"]
        parts.append(f"{name}: " + (f"**non-loopback {', '.join(outside)}**" if outside else "loopback only"))
    return "; ".join(parts)


def render_fallback(fallback: dict) -> list[str]:
    lines = [
        "### The fallback to Bedrock when the plan answers 429: Overspill and LiteLLM",
        "",
        f"LiteLLM: the model route with `router_settings.fallbacks: [{{{fallback['model']}: "
        f"[bedrock-{fallback['model']}]}}]`, the fallback deployment `bedrock/{fallback['bedrock_model_id']}` "
        "with a fake Bedrock (the real wire format: SigV4, InvokeModel / InvokeModelWithResponseStream event "
        "stream, and Bedrock's refusals of fields it does not take) as `aws_bedrock_runtime_endpoint`, "
        "`num_retries: 0`. Overspill: `overspill dev --bedrock-endpoint-url` to the same fake. The fake plan "
        f"refuses every request; {fallback['tries']} requests per row, one at a time, Claude Code's recorded "
        "bodies as above, each answer checked as above. The fakes run in the bench's process here so the "
        "requests reaching each can be counted; times are indicative (`bench/fallback.py` measures "
        "Overspill's fallback cost with separate processes). Rows run in table order on the same two "
        "gateways: Overspill's breaker (what it learnt from the plan's refusals) carries over from row to row, "
        "as it would for one user.",
        "",
        "| plan answers | gateway | mode | complete answers | TTFB p50 | total p50 | requests that reached the plan "
        "/ Bedrock |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in fallback["rows"]:
        good = f"{row['good']}/{fallback['tries']}" + (f" {row['error_kinds']}" if row["error_kinds"] else "")
        lines.append(f"| {row['case']} | {row['way']} | {row['mode']} | {good} | "
                     f"{_ms(row['ttfb_p50'])} ms | {_ms(row['total_p50'])} ms | "
                     f"{row['plan_requests']} / {row['bedrock_requests']} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to check the wiring")
    parser.add_argument("--passthrough", action="store_true", help="also measure LiteLLM's pass-through route")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    results = run(quick=args.quick, log=lambda line: print(line, flush=True), passthrough=args.passthrough)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    print("\n" + render_markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
