"""The relay: an answer that breaks mid-way is reported as broken (to the client and in usage), never mistaken for a
client that left — whatever the upstream raised."""

from __future__ import annotations

import orjson
import pytest

from overspill.proxy.relay import Relay, RelayOutcome
from overspill.upstream.base import UpstreamBroken
from overspill.usage.tap import JsonTap, SseTap

START = b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":7}}}\n\n'


def breaking(error: Exception):
    yield START
    raise error


@pytest.mark.parametrize("error", [UpstreamBroken("anthropic", "read error"), RuntimeError("unforeseen")],
                         ids=["upstream-broken", "unforeseen"])
def test_a_broken_stream_ends_with_an_sse_error_and_is_not_a_disconnect(error):
    finished: list[RelayOutcome] = []
    relay = Relay(breaking(error), tap=SseTap(), on_close=finished.append, sse=True)
    sent = b"".join(relay)
    relay.close()
    last = orjson.loads(sent.rsplit(b"data: ", 1)[1])
    assert last["type"] == "error" and last["error"]["type"] == "api_error"
    assert "broke mid-answer" in last["error"]["message"] and "Retrying the request should work" in last["error"][
        "message"]
    outcome = finished[0]
    assert outcome.upstream_broken and not outcome.completed and not outcome.client_disconnected
    assert outcome.tap.error_type == "api_error" and outcome.tap.tokens.input_tokens == 7


def test_a_broken_json_body_is_cut_short_and_recorded_as_an_error():
    finished: list[RelayOutcome] = []
    relay = Relay(breaking(UpstreamBroken("anthropic", "read error")), tap=JsonTap(), on_close=finished.append)
    chunks = iter(relay)
    next(chunks)
    with pytest.raises(UpstreamBroken):
        next(chunks)
    relay.close()
    assert finished[0].tap.error_type == "api_error" and not finished[0].client_disconnected
