"""The side-by-side benchmark's own correctness: a fast error or a cut stream never counts as a fast answer,
and the added-latency arithmetic compares like with like. No timing here."""

from __future__ import annotations

import json
import math

import pytest

from bench import compare
from bench.compare import Sample, _verdict, added, check_message, check_stream, ratio, sse_events, summarize
from bench.litellm_gateway import anthropic_config, fallback_config, proxy_requirements
from tests.support.fake_anthropic import sse_event

SSE = "text/event-stream; charset=utf-8"


def complete_stream() -> bytes:
    return b"".join([
        sse_event("message_start", {"type": "message_start", "message": {"id": "msg_01", "usage": {}}}),
        sse_event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}}),
        sse_event("ping", {"type": "ping"}),
        sse_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": "Hi"}}),
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        sse_event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                    "usage": {"output_tokens": 1}}),
        sse_event("message_stop", {"type": "message_stop"}),
    ])


def test_a_complete_stream_passes_even_with_crlf_line_ends():
    assert check_stream(200, SSE, complete_stream()) is None
    assert check_stream(200, SSE, complete_stream().replace(b"\n", b"\r\n")) is None


def test_a_stream_cut_before_message_stop_fails():
    body = complete_stream()
    cut = body[: body.index(b"event: message_stop")]
    assert check_stream(200, SSE, cut) == "stream ended before message_stop"


def test_a_stream_cut_inside_an_event_fails():
    body = complete_stream()
    assert check_stream(200, SSE, body[:-5]) == "stream ended inside an event"


def test_an_error_event_fails_even_when_the_stream_then_ends_cleanly():
    body = complete_stream()
    error = sse_event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    at = body.index(b"event: message_delta")
    assert check_stream(200, SSE, body[:at] + error + body[at:]) == "error event in the stream"


def test_an_event_with_broken_json_fails():
    body = complete_stream().replace(b'"text":"Hi"}', b'"text":"Hi"', 1)
    assert check_stream(200, SSE, body) == "content_block_delta event with broken JSON"


def test_a_fast_error_status_or_json_error_body_never_passes_as_a_stream():
    error = json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "x"}}).encode()
    assert check_stream(429, "application/json", error) == "status 429"
    assert check_stream(200, "application/json", error) == "content-type application/json"
    assert check_stream(200, SSE, b"") == "no message_start first"


def test_a_complete_message_passes_and_partial_or_error_bodies_fail():
    message = {"id": "msg_01", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi"}],
               "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}
    body = json.dumps(message).encode()
    assert check_message(200, "application/json", body) is None
    assert check_message(200, "application/json", body[:-10]) == "broken JSON body"
    assert check_message(529, "application/json", body) == "status 529"
    assert check_message(200, "application/json", json.dumps({"type": "error"}).encode()) == \
        "body is not a message"
    assert check_message(200, "application/json", json.dumps({**message, "content": []}).encode()) == \
        "message without content or stop_reason"
    assert check_message(200, SSE, body) == f"content-type {SSE}"


def test_sse_events_keeps_the_unfinished_tail_apart():
    events, rest = sse_events(b"event: a\ndata: {}\n\nevent: b\ndata: {")
    assert events == [("a", b"{}")]
    assert rest == b"event: b\ndata: {"


def test_percentiles_count_only_checked_answers_and_errors_are_named():
    samples = [Sample(10.0, 100.0)] * 9 + [Sample(0.5, 0.6, "status 429")]
    summary = summarize(samples, wall_s=2.0)
    assert summary["n"] == 10 and summary["errors"] == 1
    assert summary["error_kinds"] == {"status 429": 1}
    assert summary["ttfb_p50"] == 10.0 and summary["total_p99"] == 100.0  # the fast error is not the minimum
    assert summary["rps"] == pytest.approx(4.5)


def test_added_time_is_gateway_minus_direct_at_the_same_percentile():
    direct = summarize([Sample(20.0 + i, 100.0 + i) for i in range(100)], 1.0)
    gateway = summarize([Sample(23.0 + 2 * i, 105.0 + i) for i in range(100)], 1.0)
    plus = added(gateway, direct)
    assert plus["ttfb_p50"] == pytest.approx(gateway["ttfb_p50"] - direct["ttfb_p50"])
    assert plus["ttfb_p99"] > plus["ttfb_p50"]
    assert plus["total_p95"] == pytest.approx(5.0)


def test_a_ratio_needs_two_positive_added_times():
    assert ratio(40.0, 5.0) == pytest.approx(8.0)
    assert ratio(40.0, 0.0) is None
    assert ratio(40.0, -1.5) is None
    assert ratio(-1.0, 2.0) is None
    assert ratio(math.nan, 2.0) is None


def test_the_target_verdict_is_met_only_at_four_times_or_more():
    assert _verdict([4.0, 6.0]) == "met"
    assert _verdict([3.9, 6.0]) == "MISSED"
    assert _verdict([None, 5.0]) == "met (Overspill adds ≤ 0)"
    assert _verdict([None, 2.0]) == "MISSED"


METADATA = """Metadata-Version: 2.4
Name: litellm
Version: 1.109.1
Requires-Dist: certifi>=2026.10.19
Requires-Dist: httpx[http2]>=0.28.0,<1.0
Requires-Dist: uvicorn>=0.33.0,<1.0 ; extra == 'proxy'
Requires-Dist: litellm-proxy-extras==0.4.113 ; extra == 'proxy'
Requires-Dist: mlflow>=3.17.2,<4.0 ; extra == 'mlflow'
Requires-Dist: async-timeout>=4.0.3,<6.0 ; python_full_version < '3.0'
"""


def test_litellm_requirements_keep_the_proxy_extra_and_loosen_only_the_named_pins():
    requirements = proxy_requirements(METADATA, loosen={"certifi", "litellm-proxy-extras"})
    assert requirements == ["certifi", "httpx[http2]<1.0,>=0.28.0", "uvicorn<1.0,>=0.33.0", "litellm-proxy-extras"]


def test_litellm_is_configured_against_the_given_upstreams_with_its_fallback_on_the_router():
    config = fallback_config("http://127.0.0.1:1", "http://127.0.0.1:2", "claude-opus-4-8",
                             "us.anthropic.claude-opus-4-8-v1:0")
    plan, bedrock = config["model_list"]
    assert plan["litellm_params"]["api_base"] == "http://127.0.0.1:1"
    assert plan["litellm_params"]["model"] == "anthropic/claude-opus-4-8"
    assert bedrock["litellm_params"]["aws_bedrock_runtime_endpoint"] == "http://127.0.0.1:2"
    assert config["router_settings"]["fallbacks"] == [{"claude-opus-4-8": ["bedrock-claude-opus-4-8"]}]
    assert config["litellm_settings"]["callbacks"] == []
    assert "database_url" not in config["general_settings"]
    assert [m["model_name"] for m in anthropic_config("http://x", ["a", "b"])["model_list"]] == ["a", "b"]


# --- The report, from a run's results (synthetic numbers) ---------------------------------------------------------

def synthetic_results(over_added: float, lite_added: float, over_rps: float, lite_rps: float, *,
                      share_at_10: float = 0.9) -> dict:
    """At concurrency 10 each gateway serves ``share_at_10`` of what 10 clients would get without a queue (0.5 or
    less: saturated); at 50, ``over_rps`` and ``lite_rps``."""
    """A whole run's results as `run()` returns them, with the numbers chosen."""
    runs = {}
    def summary(ttfb, total, rps):
        s = {"n": 80, "errors": 0, "error_kinds": {}, "wall_s": 1.0, "rps": rps}
        for q in compare.QUANTILES:
            s[f"ttfb_p{q}"], s[f"total_p{q}"] = ttfb + q / 100, total + q / 100
        return s
    for phase in compare.PHASES:
        for mode in compare.MODES:
            for block in compare.BLOCKS:
                runs[f"{phase}/{mode}/{block}/direct"] = summary(22, 110, 400)
                gateway = "overspill" if phase == "overspill" else "litellm"
                added = over_added if gateway == "overspill" else lite_added
                alone_s = (110 + added + 0.5) / 1000  # the gateway's total p50 at concurrency 1
                rps = {50: over_rps if gateway == "overspill" else lite_rps, 10: share_at_10 * 10 / alone_s}.get(
                    block, 1 / alone_s)
                runs[f"{phase}/{mode}/{block}/{gateway}"] = summary(22 + added, 110 + added, rps)
    memory = {p: {"baseline_mb": 100, "peak_mb": 150, "baseline_tree_mb": 200, "peak_tree_mb": 400,
                  "processes": 2, "non_loopback": [], "peak_threads": 60} for p in compare.PHASES}
    cpu = {f"{p}/{m}/{b}": {"process": 5.0, "children": 1.0}
           for p in compare.PHASES for m in compare.MODES for b in compare.BLOCKS}
    return {"date": "2026-11-24 12:00 UTC", "machine": "2 cores", "upstream": compare.UPSTREAM,
            "loads": compare.LOADS, "quick": False, "warmup": compare.WARMUP,
            "paced": {"requests": 30, "think_s": 0.1}, "cpu": cpu,
            "litellm": {"version": "1.109.1", "loosened": {}, "models": ["claude-opus-4-8"], "start_s": 7.0},
            "fixtures": {"stream": compare.STREAM_FIXTURE, "json": compare.JSON_FIXTURE},
            "body_bytes": {"stream": 1, "json": 1}, "gateways": {"litellm": ["litellm"], "overspill": ["overspill"]},
            "runs": runs, "memory": memory, "settle": {p: {"waited_s": 1.0, "timeouts": 0} for p in compare.PHASES},
            "load_average_before": (0.1, 0.1, 0.1),
            "fallback": {"model": "m", "bedrock_model_id": "b", "tries": 10, "rows": []}, "load_s": 100, "total_s": 120}


def test_the_report_judges_the_target_and_explains_saturation_from_the_numbers():
    met = compare.render_markdown(synthetic_results(3.0, 20.0, 141.0, 63.5))
    assert "MISSED" not in met.split("### Added latency")[1].split("### CPU")[0]
    assert "json at concurrency 50: 141 req/s through Overspill and 64 through LiteLLM (2.2×)" in met
    assert "json at concurrency 10" not in met  # 40 req/s there: not saturated
    assert "| 1, paced (100 ms pause after each answer) |" in met  # Claude Code's pace is a block of its own
    assert met.count("| context |") == 2  # … shown, not judged: the target names concurrency 1, 10 and 50
    missed = compare.render_markdown(synthetic_results(6.0, 20.0, 141.0, 63.5))  # 3.3× less: under 4×
    assert "| stream | 1 | 3.3× |" in missed and "MISSED" in missed


def test_a_missed_block_is_explained_by_saturation_only_where_both_gateways_are_saturated():
    # Overspill adds 3.3× less than LiteLLM everywhere: every block misses 4×.
    queued = compare.render_markdown(synthetic_results(6.0, 20.0, 141.0, 63.5, share_at_10=0.4))
    assert "json at concurrency 10: 34 req/s through Overspill and 31 through LiteLLM (1.1×)" in queued
    assert "json at concurrency 50: 141 req/s through Overspill and 64 through LiteLLM (2.2×)" in queued
    # One request at a time never queues: its misses are named as not explained by saturation.
    assert "json at concurrency 1:" not in queued
    assert "without both gateways saturated: stream at concurrency 1, json at concurrency 1" in queued
    flowing = compare.render_markdown(synthetic_results(6.0, 20.0, 141.0, 63.5, share_at_10=0.6))
    assert "json at concurrency 10:" not in flowing
    assert "stream at concurrency 1, stream at concurrency 10, json at concurrency 1, json at concurrency 10" in flowing
    only_saturated_miss = synthetic_results(3.0, 20.0, 141.0, 63.5)  # 6.7× everywhere …
    for mode in compare.MODES:  # … but 2.2× at concurrency 50, where both are saturated
        only_saturated_miss["runs"][f"overspill/{mode}/50/overspill"]["ttfb_p50"] += 6
        only_saturated_miss["runs"][f"overspill/{mode}/50/overspill"]["total_p50"] += 6
    explained = compare.render_markdown(only_saturated_miss)
    assert "Every block that misses the 4× target is a saturated one, listed above" in explained
    assert "misses the 4×" not in compare.render_markdown(synthetic_results(3.0, 20.0, 141.0, 63.5))
