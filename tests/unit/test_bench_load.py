"""The bounded load's own correctness: each kind of request passes only with the answer it must get, and the
verdicts (usage equal, back to baseline) are computed from what was measured. No load here."""

from __future__ import annotations

import json
from collections import Counter
from email.message import Message

from bench.load import KINDS, Sample, check_answer, leak_verdict, passed, summarize
from tests.support.fake_anthropic import error_body
from tests.unit.test_bench_compare import complete_stream


def headers(**values: str) -> Message:
    """Headers as http.client gives them: looked up whatever the case."""
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


SSE = headers(content_type="text/event-stream; charset=utf-8", x_overspill_route="plan")


def test_a_streamed_plan_answer_passes_only_whole_and_from_the_plan():
    kind = KINDS["plan-stream"]
    assert check_answer(kind, 200, SSE, complete_stream()) is None
    cut = complete_stream()[: complete_stream().index(b"event: message_stop")]
    assert check_answer(kind, 200, SSE, cut) == "stream ended before message_stop"
    from_bedrock = headers(content_type="text/event-stream", x_overspill_route="bedrock")
    assert check_answer(kind, 200, from_bedrock, complete_stream()) == "route bedrock"
    assert check_answer(KINDS["fallback-stream"], 200, from_bedrock, complete_stream()) is None


def test_an_expected_error_passes_only_with_its_status_and_error_type():
    kind = KINDS["unknown-key"]
    refusal = json.dumps(error_body("authentication_error", "Overspill: this access key is not valid.")).encode()
    as_json = headers(content_type="application/json")
    assert check_answer(kind, 401, as_json, refusal) is None
    assert check_answer(kind, 403, as_json, refusal) == "status 403"
    assert check_answer(KINDS["plan-overloaded"], 529, headers(content_type="application/json",
                                                               x_overspill_route="plan"),
                        refusal) == "error body of another type"
    assert check_answer(kind, 401, headers(content_type="text/html"), b"<html>") == "error with content-type text/html"


def test_a_200_where_an_error_is_expected_is_unexpected():
    assert check_answer(KINDS["malformed-body"], 200, SSE, complete_stream()) == "status 200"


def results_of(samples: list[Sample], usage: Counter, *, baseline: float = 200.0, after: float = 205.0) -> dict:
    counts = {"rounds": 1, "peak_clients": 2, "peak": 3, "mixed_clients": 2, "mixed": 2}  # 5 planned
    results = {"counts": counts, "stopped_by_time": False,
               "memory": {"baseline_mb": baseline, "after_mb": after}}
    results.update(summarize(samples, usage, counts))
    return results


SAMPLES = [Sample("plan-stream", 200, None, 10.0, None), Sample("fallback-json", 200, None, 10.0, "breaker_open"),
           Sample("unknown-key", 401, None, 1.0, None), Sample("malformed-body", 400, None, 1.0, None),
           Sample("plan-overloaded", 529, None, 1.0, None), Sample("plan-json", None, "ReadTimeout", 60_000.0, None)]


def test_usage_must_equal_the_answers_that_leave_an_event():
    # A refused key leaves none; an answer that never came is not counted either way.
    usage = Counter({(200, "plan"): 1, (200, "bedrock"): 1, (400, "plan"): 1, (529, "plan"): 1})
    results = results_of(SAMPLES, usage)
    assert results["usage_expected"] == results["usage_found"]
    assert results["unexpected"] == 1 and results["no_answer"] == 1
    assert not passed(results)  # the missing answer alone fails the run
    missing = results_of(SAMPLES[:-1], usage - Counter({(200, "bedrock"): 1}))
    assert missing["usage_expected"] != missing["usage_found"] and not passed(missing)
    assert passed(results_of(SAMPLES[:-1], usage))


def test_memory_that_keeps_growing_after_the_baseline_fails():
    complete, usage = SAMPLES[:-1], Counter({(200, "plan"): 1, (200, "bedrock"): 1, (400, "plan"): 1, (529, "plan"): 1})
    assert leak_verdict(results_of(complete, usage, after=205.0))[3]
    leaking = results_of(complete, usage, after=260.0)
    assert not leak_verdict(leaking)[3] and not passed(leaking)
