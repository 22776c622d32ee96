"""Usage read from answers on the way through — whatever the chunking."""

import json

from overspill.usage.tap import JsonTap, SseTap, tap_for


def sse(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


STREAM = b"".join([
    sse("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "model": "claude-opus-4-8", "usage": {
            "input_tokens": 12, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 4000,
            "output_tokens": 1}}}),
    sse("content_block_start", {"type": "content_block_start", "index": 0,
                                "content_block": {"type": "text", "text": ""}}),
    sse("ping", {"type": "ping"}),
    *[sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "text_delta", "text": f"word {i} "}}) for i in range(50)],
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                          "usage": {"output_tokens": 57}}),
    sse("message_stop", {"type": "message_stop"}),
])


def test_usage_merges_message_start_and_last_message_delta():
    tap = SseTap()
    tap.feed(STREAM)
    tap.finish()
    assert (tap.tokens.input_tokens, tap.tokens.output_tokens) == (12, 57)
    assert (tap.tokens.cache_creation_input_tokens, tap.tokens.cache_read_input_tokens) == (300, 4000)
    assert (tap.model, tap.stop_reason, tap.error_type) == ("claude-opus-4-8", "end_turn", None)


def test_chunk_boundaries_anywhere_give_the_same_usage():
    for size in (1, 2, 7, 64, 1000):
        tap = SseTap()
        for start in range(0, len(STREAM), size):
            tap.feed(STREAM[start:start + size])
        assert (tap.tokens.input_tokens, tap.tokens.output_tokens, tap.stop_reason) == (12, 57, "end_turn"), size


def test_newer_models_report_input_in_message_delta_too():
    tap = SseTap()
    tap.feed(STREAM.replace(b'"usage": {"output_tokens": 57}',
                            b'"usage": {"output_tokens": 57, "input_tokens": 15, "cache_read_input_tokens": 4100}'))
    assert (tap.tokens.input_tokens, tap.tokens.cache_read_input_tokens) == (15, 4100)


def test_error_event_mid_stream_is_noted():
    tap = SseTap()
    tap.feed(STREAM[:300] + STREAM[300:].split(b"event: content_block_stop")[0])
    tap.feed(sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    assert tap.error_type == "overloaded_error"
    assert tap.tokens.input_tokens == 12


def test_malformed_sse_is_ignored_not_fatal():
    tap = SseTap()
    tap.feed(b"event: message_start\ndata: {not json\n\nevent: message_delta\ndata: [1]\n\ngarbage\n\n")
    assert tap.tokens.input_tokens == 0


def test_json_answer_usage():
    tap = tap_for("application/json")
    assert isinstance(tap, JsonTap)
    body = json.dumps({"type": "message", "model": "claude-haiku-4-5-20251001", "stop_reason": "tool_use",
                       "usage": {"input_tokens": 3, "output_tokens": 9, "cache_read_input_tokens": 2}}).encode()
    tap.feed(body[:10])
    tap.feed(body[10:])
    tap.finish()
    assert (tap.tokens.input_tokens, tap.tokens.output_tokens, tap.tokens.cache_read_input_tokens) == (3, 9, 2)
    assert tap.stop_reason == "tool_use"


def test_json_error_answer():
    tap = JsonTap()
    tap.feed(b'{"type":"error","error":{"type":"rate_limit_error","message":"x"}}')
    tap.finish()
    assert tap.error_type == "rate_limit_error"
