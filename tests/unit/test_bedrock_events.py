"""Bedrock's answer reaches the client as the Anthropic answer, byte for byte except the model name."""

import time

import orjson
import pytest

from overspill.bedrock.events import (
    METRICS_KEY,
    StreamTranslator,
    sse_error,
    translate_message,
    usage_from_metrics,
)
from overspill.usage.tap import SseTap

REQUESTED = "claude-opus-4-8"
BEDROCK_MODEL = "anthropic.claude-opus-4-8"
METRICS = {"inputTokenCount": 12, "outputTokenCount": 57, "invocationLatency": 2104, "firstByteLatency": 611,
           "cacheReadInputTokenCount": 4000, "cacheWriteInputTokenCount": 300}
SIGNATURE = "EqQBCkYIBxgCKkBj8xV+/f3Q==" * 8


def anthropic_events(model: str) -> list[dict]:
    """A realistic answer: thinking with its signature, text, a tool call streamed as JSON fragments, a ping."""
    return [
        {"type": "message_start", "message": {
            "id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 4000,
                      "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                      "signature": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "thinking_delta", "thinking": "The user wants \"ls\".\nRun it."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIGNATURE}},
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "text_delta", "text": "Listing files \u00e9\u4e2d"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {
            "type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
        {"type": "content_block_delta", "index": 2,
         "delta": {"type": "input_json_delta", "partial_json": "{\"command\": \"ls"}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": " -la\"}"}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 57}},
        {"type": "message_stop"},
    ]


def bedrock_chunks() -> list[bytes]:
    """What Bedrock puts in each chunk: the same events, its own model id, metrics on message_stop."""
    events = anthropic_events(BEDROCK_MODEL)
    events[-1] = {"type": "message_stop", METRICS_KEY: METRICS}
    return [orjson.dumps(e) for e in events]


def anthropic_sse() -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n"
                    for e in anthropic_events(REQUESTED))


def test_stream_round_trip_equals_the_anthropic_stream_except_the_model_name():
    translator = StreamTranslator(REQUESTED)
    assert b"".join(translator.feed(chunk) for chunk in bedrock_chunks()) == anthropic_sse()


def test_unchanged_events_pass_through_as_the_same_bytes():
    translator = StreamTranslator(REQUESTED)
    for chunk in bedrock_chunks()[1:-1]:
        out = translator.feed(chunk)
        assert out.split(b"\ndata: ", 1)[1] == chunk + b"\n\n"


def test_model_is_exactly_what_the_client_asked_for_and_the_rest_of_message_start_is_kept():
    translator = StreamTranslator("claude-opus-4-8[1m]")
    out = translator.feed(bedrock_chunks()[0])
    assert out.startswith(b"event: message_start\ndata: ") and out.endswith(b"\n\n")
    event = orjson.loads(out.split(b"data: ", 1)[1])
    expected = anthropic_events("claude-opus-4-8[1m]")[0]
    assert event == expected
    assert list(event["message"]) == list(expected["message"])  # key order kept


def test_invocation_metrics_are_removed_from_message_stop_and_kept_for_usage():
    translator = StreamTranslator(REQUESTED)
    assert translator.invocation_metrics is None
    assert translator.feed(bedrock_chunks()[-1]) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert translator.invocation_metrics == METRICS
    assert usage_from_metrics(translator.invocation_metrics) == {
        "input_tokens": 12, "output_tokens": 57, "cache_read_input_tokens": 4000, "cache_creation_input_tokens": 300}
    assert usage_from_metrics(None) == {}


def test_usage_tap_reads_the_translated_stream_like_an_anthropic_one():
    translator = StreamTranslator(REQUESTED)
    tap = SseTap()
    for chunk in bedrock_chunks():
        tap.feed(translator.feed(chunk))
    assert (tap.model, tap.stop_reason) == (REQUESTED, "tool_use")
    assert (tap.tokens.input_tokens, tap.tokens.output_tokens, tap.tokens.cache_read_input_tokens) == (12, 57, 4000)


def test_bedrock_only_keys_never_reach_the_client():
    translator = StreamTranslator(REQUESTED)
    out = translator.feed(b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},'
                          b'"amazon-bedrock-trace":{"x":1},"usage":{"output_tokens":3}}')
    assert out == (b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
                   b'"usage":{"output_tokens":3}}\n\n')


def test_text_mentioning_bedrock_keys_or_unusual_spacing_still_passes_unchanged():
    translator = StreamTranslator(REQUESTED)
    mention = (b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
               b'"text":"amazon-bedrock-invocationMetrics is a key"}}')
    assert translator.feed(mention) == b"event: content_block_delta\ndata: " + mention + b"\n\n"
    spaced = b'{ "type": "ping" }'
    assert translator.feed(spaced) == b"event: ping\ndata: " + spaced + b"\n\n"


def test_multi_line_json_becomes_one_sse_data_line():
    translator = StreamTranslator(REQUESTED)
    out = translator.feed(b'{"type":"content_block_stop",\n "index": 0}')
    assert out == b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'


def test_error_event_inside_the_stream_is_relayed():
    translator = StreamTranslator(REQUESTED)
    chunk = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert translator.feed(chunk) == b"event: error\ndata: " + chunk + b"\n\n"


@pytest.mark.parametrize("chunk", [b"not json", b"[1]", b'{"index":0}', b'{"type":""}'])
def test_a_chunk_that_is_not_an_anthropic_event_is_an_error(chunk):
    with pytest.raises(ValueError):
        StreamTranslator(REQUESTED).feed(chunk)


def test_content_block_delta_cost_per_event(capsys):
    translator = StreamTranslator(REQUESTED)
    chunk = orjson.dumps({"type": "content_block_delta", "index": 1,
                          "delta": {"type": "text_delta", "text": "some words of a long answer, "}})
    feed = translator.feed
    for _ in range(1000):  # warm up
        feed(chunk)
    start = time.perf_counter()
    for _ in range(10_000):
        feed(chunk)
    per_event_us = (time.perf_counter() - start) / 10_000 * 1e6
    with capsys.disabled():
        print(f"\nStreamTranslator.feed(content_block_delta): {per_event_us:.2f} µs/event (target ≤ 20 µs)")


# --- non-streamed answers ----------------------------------------------------------------------------------------


def test_non_streamed_answer_gets_the_requested_model_and_loses_bedrock_keys():
    message = {"id": "msg_bdrk_01", "type": "message", "role": "assistant", "model": BEDROCK_MODEL,
               "content": [{"type": "thinking", "thinking": "hm", "signature": SIGNATURE},
                           {"type": "text", "text": "done"}],
               "stop_reason": "end_turn", "stop_sequence": None,
               "usage": {"input_tokens": 5, "output_tokens": 2}, "amazon-bedrock-invocationMetrics": METRICS}
    out = orjson.loads(translate_message(orjson.dumps(message), REQUESTED))
    expected = {k: v for k, v in message.items() if k != "amazon-bedrock-invocationMetrics"}
    assert out == {**expected, "model": REQUESTED}
    assert list(out) == list(expected)


@pytest.mark.parametrize("body", [b'{"type":"error","error":{"type":"api_error","message":"x"}}', b"garbage"])
def test_non_streamed_bodies_that_are_not_messages_are_unchanged(body):
    assert translate_message(body, REQUESTED) == body


def test_sse_error_is_the_anthropic_error_event():
    out = sse_error("overloaded_error", "Overspill (Bedrock fallback): busy")
    assert out.startswith(b"event: error\ndata: ") and out.endswith(b"\n\n")
    assert orjson.loads(out.split(b"data: ", 1)[1]) == {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overspill (Bedrock fallback): busy"}}
