"""`make bench`: what Overspill's local run adds to streaming requests, its memory while streaming, and the
proxy's import time — printed, compared with the targets, and written to docs/performance.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import export as export_bench
from bench import rollup as rollup_bench
from bench.fallback import BEDROCK, fallback_latency, per_event_cost_us
from bench.harness import fake_anthropic_process, overspill_dev_process
from bench.imports import handler_import_ms
from bench.latency import run_load, summarize
from bench.memory import peak_rss_while_streaming
from bench.pipeline_cost import pipeline_us
from tests.support.fake_anthropic import FakeAnthropic

ROOT = Path(__file__).resolve().parents[1]
# The fake upstream: 20 ms before the headers, then 20 text events 2 ms apart (plus the framing events).
UPSTREAM = {"delay_ms": 20, "event_interval_ms": 2, "text_events": 20}
# (concurrency, requests, pause between a worker's requests): back to back, and with Claude Code's pace —
# a tool runs between two requests of a session, so the next one never follows within milliseconds.
LOADS = [(1, 300, 0.0), (1, 300, 0.05), (20, 1000, 0.0)]
TARGETS = {"ttfb_p50": 2.0, "ttfb_p99": 10.0, "import_ms": 300.0}
# A million events (the target) take ~10 minutes to load into moto alone: `python -m bench.export
# --events 1000000` measures that on its own; `make bench` exports a day of this many.
EXPORT_EVENTS = 200_000


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.platform()}"


def main() -> int:
    print(f"machine: {machine()}", flush=True)
    rows = []
    with fake_anthropic_process(**UPSTREAM) as upstream, overspill_dev_process(upstream) as dev:
        for concurrency, requests, pause in LOADS:
            direct = summarize(run_load(upstream + "/v1/messages?beta=true", concurrency=concurrency,
                                        requests=requests, pause_s=pause))
            gateway = summarize(run_load(dev.base_url + "/v1/messages?beta=true", concurrency=concurrency,
                                         requests=requests, pause_s=pause))
            rows.append((concurrency, pause, direct, gateway))
            print(f"c={concurrency} pause={pause * 1000:.0f}ms: direct ttfb p50 {direct['ttfb_p50']:.2f} ms, "
                  f"via overspill "
                  f"{gateway['ttfb_p50']:.2f} ms (errors {direct['errors']}/{gateway['errors']})", flush=True)

    with FakeAnthropic() as fake, overspill_dev_process(fake.url) as dev:
        peak_rss_while_streaming(dev.pid, dev.base_url, fake, 10)  # warm the instance first
        memory = {events: peak_rss_while_streaming(dev.pid, dev.base_url, fake, events)
                  for events in (10, 10_000)}
    for events, (baseline, peak, size) in memory.items():
        print(f"memory: {events} events ({size / 1024:.0f} KiB per answer): baseline {baseline:.1f} MB, "
              f"peak {peak:.1f} MB", flush=True)

    own_us = pipeline_us()
    print(f"gateway logic per request (no network): {own_us:.0f} µs", flush=True)

    import_ms, heaviest = handler_import_ms()
    print(f"proxy handler import: {import_ms:.0f} ms (median of 7)", flush=True)

    fallback = fallback_latency()
    events = per_event_cost_us()
    print(f"fallback: added p50 {fallback['refused']['added_p50']:.2f} ms (plan refused), "
          f"{fallback['breaker_open']['added_p50']:.2f} ms (breaker open); per event: decode "
          f"{events['decode_us']:.1f} µs, re-emit {events['translate_us']:.2f} µs", flush=True)

    rollups = rollup_bench.run()
    exports = export_bench.run(events=EXPORT_EVENTS)
    for row in exports:
        print(export_bench.describe(row), flush=True)

    report = (render(rows, memory, import_ms, heaviest, own_us) + render_fallback(fallback, events)
              + rollup_bench.render(rollups) + "\n" + export_bench.render(exports))
    (ROOT / "docs" / "performance.md").write_text(report)
    print("\n" + report)
    return 0


def render(rows, memory, import_ms, heaviest, own_us) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`python -m bench`); numbers from one run on one machine. Rerun to refresh.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`",
        f"- Machine: {machine()}",
        "- Method: a fake Anthropic upstream in its own process (20 ms before the headers, then 20 text events "
        "2 ms apart: ~25 SSE events per answer) and `overspill dev` in its own process (its AWS emulator, "
        "moto, in a child process; `POWERTOOLS_LOG_LEVEL=WARNING`). The load generator posts Claude Code's "
        "own streaming request body (`opus-default-stream` fixture, ~100 KB) over keep-alive connections, "
        "after 5 warm-up requests per connection (warm instance, cached key), first straight to the fake "
        "and then through Overspill. *Added* = through Overspill minus direct, at the same percentile.",
        "",
        "## Time added to streaming requests",
        "",
        "| concurrency | pause between requests | requests | errors (direct / overspill) | TTFB p50 direct → "
        "overspill (added) | TTFB p95 (added) | TTFB p99 (added) | total p50 (added) | total p95 (added) "
        "| total p99 (added) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    def added(direct: dict, gateway: dict, key: str) -> str:
        return f"{direct[key]:.2f} → {gateway[key]:.2f} (**{gateway[key] - direct[key]:+.2f} ms**)"

    for concurrency, pause, direct, gateway in rows:
        cells = [added(direct, gateway, key) for key in
                 ("ttfb_p50", "ttfb_p95", "ttfb_p99", "total_p50", "total_p95", "total_p99")]
        lines.append(f"| {concurrency} | {pause * 1000:.0f} ms | {gateway['n']} | {direct['errors']} / "
                     f"{gateway['errors']} | " + " | ".join(cells) + " |")
    lines.append("")
    for _, pause, direct, gateway in rows[:2]:
        p50 = gateway["ttfb_p50"] - direct["ttfb_p50"]
        p99 = gateway["ttfb_p99"] - direct["ttfb_p99"]
        lines.append(
            f"Targets (warm instance, concurrency 1, {pause * 1000:.0f} ms between requests): added TTFB p50 ≤ "
            f"{TARGETS['ttfb_p50']} ms — measured {p50:.2f} ms ({'met' if p50 <= TARGETS['ttfb_p50'] else 'MISSED'}); "
            f"p99 ≤ {TARGETS['ttfb_p99']} ms — measured {p99:.2f} ms "
            f"({'met' if p99 <= TARGETS['ttfb_p99'] else 'MISSED'}).")
    lines += [
        "",
        f"Where the added time goes: the gateway's own logic — the Function URL event for Claude Code's ~100 KB "
        f"body, routing, the cached key, the JSON check, the breaker, the upstream headers — costs "
        f"**{own_us:.0f} µs** per request (measured without network, `bench/pipeline_cost.py`). The rest is "
        "the extra HTTP hop through Python: the local emulator's `http.server` parsing and the `httpx` call "
        "to the upstream, each with thread hand-offs; that is where a faster server or client would have to "
        "win the remaining fraction of a millisecond against the 2 ms target.",
        "",
        "Back to back, the previous request's usage write (~1–2 ms of botocore CPU, after its response ended) "
        "competes with the next request for the interpreter; on Lambda that write happens between "
        "invocations, and in Claude Code a tool runs between two requests of a session.",
        "",
        "At concurrency 20 one `overspill dev` interpreter serves all 20 streams on a 2-core machine that also "
        "runs the load generator and the fake: the added time is queueing for the CPU (each answer's ~80 upstream "
        "chunks pass through httpx/httpcore/h11 in Python, and each usage write costs ~1–2 ms of botocore CPU). "
        "On Lambda an instance serves one request at a time.",
        "",
        "## Memory while streaming",
        "",
        "Resident memory of the `overspill dev` process (the gateway; moto runs in a child process) sampled "
        "every 2 ms while 4 answers stream at once.",
        "",
        "| text events per answer | bytes per answer | baseline RSS | peak RSS | growth |",
        "|---|---|---|---|---|",
    ]
    for events, (baseline, peak, size) in memory.items():
        lines.append(f"| {events:,} | {size:,} | {baseline:.1f} MB | {peak:.1f} MB | {peak - baseline:+.1f} MB |")
    small, large = memory[10], memory[10_000]
    lines += [
        "",
        f"Target: memory flat in answer size — a {large[2] // max(small[2], 1):,}× longer answer grew the peak by "
        f"{(large[1] - large[0]) - (small[1] - small[0]):+.1f} MB more than the short one.",
        "",
        "## Import time of the proxy handler",
        "",
        f"`python -X importtime -c 'import handler'` in `functions/proxy` with the core package on the path: "
        f"**{import_ms:.0f} ms** (median of 7 fresh interpreters; target ≤ {TARGETS['import_ms']:.0f} ms: "
        f"{'met' if import_ms <= TARGETS['import_ms'] else 'MISSED'}). Heaviest packages (cumulative, they "
        "overlap: pynamodb includes botocore):",
        "",
        "| package | ms |",
        "|---|---|",
        *[f"| {name} | {ms:.0f} |" for name, ms in heaviest],
        "",
    ]
    return "\n".join(lines)


def render_fallback(fallback: dict, events: dict) -> str:
    def row(name: str, data: dict) -> str:
        cells = [f"{data[f'via_{q}']:.2f} − {data[f'plan_{q}']:.2f} − {data[f'bedrock_{q}']:.2f} = "
                 f"**{data[f'added_{q}']:+.2f} ms**" for q in ("p50", "p95", "p99")]
        return f"| {name} | " + " | ".join(cells) + " |"

    refused = fallback["refused"]["added_p50"]
    refused_429 = fallback["refused_429"]["added_p50"]
    return "\n".join([
        "## The Bedrock fallback",
        "",
        f"A fake Bedrock in its own process ({BEDROCK['delay_ms']} ms before the first event, then "
        f"{BEDROCK['text_events']} text events {BEDROCK['event_interval_ms']} ms apart) behind `overspill dev`. "
        "*Added* = the client's time to the first Bedrock byte through Overspill − the plan's own time to "
        "refuse (measured directly) − Bedrock's own time to its first event (measured directly with boto3, "
        "so SigV4 signing and botocore's parsing count as Bedrock's). Sequential requests, after 5 warm-up "
        "requests.",
        "",
        "| path | p50: through − plan − Bedrock = added | p95 | p99 |",
        "|---|---|---|---|",
        row("plan refuses every request (529; breaker told not to open): plan, then Bedrock", fallback["refused"]),
        row("plan answers 429 every time (retry-after 0): probe taken (a conditional write), refused, "
            "then Bedrock (the reopening is written after the response)", fallback["refused_429"]),
        row("plan limited (429 rejected): breaker open, straight to Bedrock", fallback["breaker_open"]),
        "",
        f"Target: the plan's 429 to the client's first Bedrock byte, less the fake Bedrock's latency, ≤ 5 ms — "
        f"measured {refused:.2f} ms at p50 for the refusal itself ({'met' if refused <= 5 else 'MISSED'}) and "
        f"{refused_429:.2f} ms when the same request also takes the probe "
        f"({'met' if refused_429 <= 5 else 'MISSED'}; the breaker write goes to moto over loopback here, to "
        "DynamoDB on AWS). A plan limit writes the breaker once per reset window; every later request takes "
        "the breaker-open row.",
        "",
        "Per Bedrock event (10,000 `content_block_delta` events, µs each): botocore's event-stream decoding "
        f"(with the base64 payload) **{events['decode_us']:.1f} µs**, Overspill's re-emission as SSE "
        f"**{events['translate_us']:.2f} µs**. botocore's pure-Python frame parsing dominates; the "
        "translation itself passes the event JSON through unchanged.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
