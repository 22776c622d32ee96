"""`make bench`: Overspill side by side with LiteLLM and with no gateway at all, its memory while streaming, the
Bedrock fallback, the access-key timing, a bounded load of 10,000 requests (plan, fallback and errors, every answer
checked, memory and usage events accounted for), Lambda-shaped costs (cold start, imports, package sizes, AWS calls
per request, cost per million requests), rollups, the finance export and the dashboard's bundle — printed, compared
with the targets, and written to docs/performance.md."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import compare, key_timing, lambda_costs
from bench import dashboard as dashboard_bench
from bench import export as export_bench
from bench import load as load_bench
from bench import rollup as rollup_bench
from bench.compare import gateway_added
from bench.fallback import BEDROCK, REQUESTS, fallback_latency, per_event_cost_us
from bench.harness import machine, overspill_dev_process
from bench.memory import peak_rss_while_streaming
from bench.pipeline_cost import pipeline_us, plan_event_cost_us
from tests.support.fake_anthropic import FakeAnthropic

ROOT = Path(__file__).resolve().parents[1]
# A million events (the target) take ~10 minutes to load into moto alone: `python -m bench.export
# --events 1000000` measures that on its own; `make bench` exports a day of this many.
EXPORT_EVENTS = 100_000
# moto's rollups slow down as its table grows (bench/rollup.py): this many events each way keep `make bench` short.
ROLLUP_MOTO_EVENTS = 200
# Issue 8's targets for a warm instance (the 4× against LiteLLM is judged in bench/compare.py).
TARGETS = {"ttfb_p50": 1.0, "ttfb_p99": 5.0, "event_us": 20.0}


SECTIONS: dict[str, float] = {}  # seconds each section took, in the order they ran


def timed(name: str, measure: Callable[[], Any]) -> Any:
    started = time.monotonic()
    result = measure()
    SECTIONS[name] = time.monotonic() - started
    print(f"bench: {name} took {SECTIONS[name]:.0f} s", flush=True)
    return result


def main() -> int:
    began = time.monotonic()
    print(f"machine: {machine()}", flush=True)
    # First, while nothing else has run: the three ways (each gateway in a phase of its own, see bench/compare.py).
    three_ways = timed("three ways", compare.run)

    memory = timed("memory while streaming", streaming_memory)
    for events, (baseline, peak, size) in memory.items():
        print(f"memory: {events} events ({size / 1024:.0f} KiB per answer): baseline {baseline:.1f} MB, "
              f"peak {peak:.1f} MB", flush=True)

    own_us, tap_us = timed("gateway logic", lambda: (pipeline_us(), plan_event_cost_us()))
    print(f"gateway logic per request (no network): {own_us:.0f} µs; per streamed plan event: {tap_us:.2f} µs",
          flush=True)

    fallback, events = timed("fallback", lambda: (fallback_latency(), per_event_cost_us()))
    print(f"fallback: added p50 {fallback['refused']['added_p50']:.2f} ms (plan refused), "
          f"{fallback['breaker_open']['added_p50']:.2f} ms (breaker open); per event: decode "
          f"{events['decode_us']:.1f} µs, re-emit {events['translate_us']:.2f} µs", flush=True)

    keys = timed("access-key timing", key_timing.run)
    load = timed("bounded load", lambda: load_bench.run(log=lambda line: print(line, flush=True)))
    lambda_shaped = timed("Lambda-shaped costs", lambda_costs.run)
    rollups = timed("rollups", lambda: rollup_bench.run(moto_events=ROLLUP_MOTO_EVENTS))
    exports = timed("export", lambda: export_bench.run(events=EXPORT_EVENTS))
    for row in exports:
        print(export_bench.describe(row), flush=True)
    bundle = timed("dashboard", dashboard_bench.run)

    report = (render(memory, own_us, time.monotonic() - began) + "\n" + compare.render_markdown(three_ways) + "\n"
              + render_memory(memory, own_us, gateway_added(three_ways, "overspill", "stream", 1),
                              gateway_added(three_ways, "overspill", "stream", compare.PACED), tap_us)
              + render_fallback(fallback, events) + load_bench.render_markdown(load) + "\n"
              + key_timing.render_markdown(keys) + "\n"
              + lambda_costs.render_markdown(lambda_shaped) + "\n" + rollup_bench.render(rollups) + "\n"
              + export_bench.render(exports) + "\n" + dashboard_bench.render_markdown(bundle))
    (ROOT / "docs" / "performance.md").write_text(report)
    print("\n" + report)
    if not load_bench.passed(load):  # the report is written either way, so the failure can be read
        print("bench: the bounded load FAILED (see its section)", file=sys.stderr, flush=True)
        return 1
    return 0


def streaming_memory() -> dict[int, tuple[float, float, int]]:
    with FakeAnthropic() as fake, overspill_dev_process(fake.url, flags=compare.OVERSPILL_FLAGS) as dev:
        peak_rss_while_streaming(dev.pid, dev.base_url, fake, 10)  # warm the instance first
        return {events: peak_rss_while_streaming(dev.pid, dev.base_url, fake, events) for events in (10, 10_000)}


def render(memory, own_us, took_s: float) -> str:
    """The report's head: when, where, how long, and what every section has in common."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    return "\n".join([
        "# Performance",
        "",
        "Written by `make bench` (`python -m bench`); numbers from one run on one machine. Rerun to refresh.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`",
        f"- Machine: {machine()}",
        f"- Duration: {took_s // 60:.0f} min {took_s % 60:.0f} s in all ("
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in SECTIONS.items()) + ")",
        "- Method: fake upstreams (Anthropic, Bedrock) in processes of their own on loopback, speaking the real "
        "wire formats; `overspill dev` in its own process (moto, its AWS emulator, in a child process; "
        "`POWERTOOLS_LOG_LEVEL=WARNING`); Claude Code's own recorded request bodies; every measured answer "
        "checked (status, the whole stream), so a fast error never counts as a fast answer. Each section says "
        "what it compares with.",
        "",
    ])


def render_memory(memory, own_us, warm_added, paced, tap_us) -> str:
    p50, p99 = warm_added["ttfb_p50"], warm_added["ttfb_p99"]
    lines = [
        "Targets (a warm instance, streaming, through `overspill dev`, one request at a time: the concurrency-1 "
        "block, back to back — at Claude Code's pace, with fewer samples, the p50 was "
        f"{paced['ttfb_p50']:+.2f} ms, see above): added TTFB p50 ≤ "
        f"{TARGETS['ttfb_p50']:g} ms — measured {p50:.2f} ms ({'met' if p50 <= TARGETS['ttfb_p50'] else 'MISSED'}); "
        f"p99 ≤ {TARGETS['ttfb_p99']:g} ms — measured {p99:.2f} ms "
        f"({'met' if p99 <= TARGETS['ttfb_p99'] else 'MISSED'}). Per streamed plan event, the gateway's own work "
        f"(the usage tap reading the event on its way through): **{tap_us:.2f} µs** (target ≤ "
        f"{TARGETS['event_us']:g} µs: {'met' if tap_us <= TARGETS['event_us'] else 'MISSED'}; "
        "`bench/pipeline_cost.py`). What a miss of the TTFB targets is made of, and what it would take, follows.",
        "",
        f"Where Overspill's added time goes: the gateway's own logic — the Function URL event for Claude Code's "
        f"body, routing, the cached key, the JSON check, the breaker, the upstream headers — costs "
        f"**{own_us:.0f} µs** per request (measured without network, `bench/pipeline_cost.py`). The rest is "
        "the extra HTTP hop through Python: the local emulator's `http.server` parsing and the `httpx` call "
        "to the upstream, each with thread hand-offs — a local stand-in for the Function URL front, which on AWS is "
        "Lambda's own (its added time is not measurable here). Meeting 1 ms through `overspill dev` would take a "
        "server and client outside the interpreter (or not in Python); on Lambda the hop to measure is the "
        "streaming runtime's, whose warm `/next` → first byte is in the cold-start section below. At concurrency "
        "10 and 50 one `overspill dev` interpreter "
        "serves every stream on a 2-core machine that also runs the load generator, the fake and moto: the added "
        "time there is queueing for the CPU. On Lambda an instance serves one request at a time.",
        "",
        "## Memory while streaming",
        "",
        "Resident memory of the `overspill dev --no-rollups --snapshot-every 0` process (the gateway; moto runs in a "
        "child process) sampled "
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
        f"{BEDROCK['text_events']} text events {BEDROCK['event_interval_ms']} ms apart) behind `overspill dev "
        "--no-rollups --snapshot-every 0` (as in the three-ways phase). "
        "*Added* = the client's time to the first Bedrock byte through Overspill − the plan's own time to "
        "refuse (measured directly) − Bedrock's own time to its first event (measured directly with boto3, "
        f"so SigV4 signing and botocore's parsing count as Bedrock's). Sequential requests, {REQUESTS} per path "
        "after 5 warm-up requests.",
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
        "What the refusal row is made of: two upstream calls through Python in one request — the plan's (httpx) "
        "and Bedrock's (botocore: SigV4 signing, the request, the event stream's first frame) — while the "
        f"breaker-open row, one hop, adds {fallback['breaker_open']['added_p50']:.2f} ms. "
        + ("Meeting 5 ms there would take a cheaper hop (what the TTFB targets need too); what"
           if refused > 5 else "Beyond the target,")
        + " Overspill asks the plan as rarely as it can: a plan limit opens the breaker until the plan's reset, "
        "so only the first request of a limited window pays the refusal.",
        "",
        "Per Bedrock event (10,000 `content_block_delta` events, µs each): botocore's event-stream decoding "
        f"(with the base64 payload) **{events['decode_us']:.1f} µs**, Overspill's re-emission as SSE "
        f"**{events['translate_us']:.2f} µs**. botocore's pure-Python frame parsing dominates; the "
        "translation itself passes the event JSON through unchanged. Against the per-event target "
        f"(≤ {TARGETS['event_us']:g} µs): the gateway's own part, the re-emission, is "
        f"{'within' if events['translate_us'] <= TARGETS['event_us'] else 'over'} it; the decoding is botocore's "
        f"({'within' if events['decode_us'] + events['translate_us'] <= TARGETS['event_us'] else 'over'} it "
        "together) — what it would take is an event-stream decoder in native code (awscrt has one) in place of "
        "botocore's parser.",
        "",
    ])


if __name__ == "__main__":
    sys.exit(main())
