"""What the upstream and client fault tests share: one deployment per module (moto, the real proxy behind the
Function URL emulator, fake Anthropic and fake Bedrock on loopback), other proxy instances on the same deployment
for faults that need other settings or another upstream address, real network faults (a refused port, a port
that never completes a handshake), and the readings a test makes afterwards (what the client saw, the breaker's
item, the usage event)."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from overspill.breaker import Breaker, BreakerState
from overspill.local.function_url import FunctionUrlServer
from overspill.proxy import function_url
from overspill.proxy.app import build_proxy
from overspill.store.breakers import BreakerRepository
from overspill.usage.events import UsageEvent
from overspill.users import RoutingMode
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_anthropic import Scenario as PlanScenario
from tests.support.fake_bedrock import FakeBedrock
from tests.support.gateway import Developer, LocalGateway, wait_for_usage

# The deployment's breaker defaults (Settings): 3 counted failures within 60 s open it for 120 s.
FAILURE_THRESHOLD = 3
FAILURE_COOLDOWN_S = 120

HEADERS = {"x-api-key": "sk-ant-api03-fault-matrix", "anthropic-version": "2023-06-01",
           "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
           "x-claude-code-session-id": "sess-faults"}


@dataclass
class Rig:
    """One test's view of the module's deployment: its fakes (queues emptied after the test) and gateway."""

    anthropic: FakeAnthropic
    bedrock: FakeBedrock
    gateway: LocalGateway

    def developer(self, mode: RoutingMode = RoutingMode.PLAN_FIRST) -> Developer:
        """A new developer: a breaker and counted failures of their own, whatever ran before."""
        return self.gateway.add_developer(f"Dev {time.monotonic_ns()}", routing_mode=mode)

    def plan_limited(self) -> None:
        """The next plan request is refused by the plan limit, which lifts in an hour."""
        self.anthropic.enqueue(PlanScenario.plan_limit(int(time.time()) + 3600))


@contextmanager
def deployment(**settings: Any) -> Iterator[Rig]:
    with FakeAnthropic() as anthropic, FakeBedrock() as bedrock, \
            LocalGateway(anthropic.url, bedrock.url, **settings) as gateway:
        yield Rig(anthropic, bedrock, gateway)


class Instance:
    """Another proxy instance on the same deployment (tables, keys, developers), built from other settings: its
    own upstream address or timeouts, its own breaker cache and counted failures — as a second Lambda would."""

    def __init__(self, gateway: LocalGateway, **overrides: Any) -> None:
        self.settings = replace(gateway.settings, **overrides)
        self._gateway = gateway
        self.proxy = build_proxy(self.settings)
        self.server = FunctionUrlServer(("127.0.0.1", 0), self._handler, function_name="overspill-proxy")
        self.server.serve_in_background()

    def _handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return function_url.to_response(self.proxy.handle(function_url.to_request(event, context)))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def usage(self):  # noqa: ANN201 - the deployment's usage repository
        return self._gateway.usage

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- Network faults, for real ----------------------------------------------------------------------------------


def refused_url() -> str:
    """A loopback port nothing listens on: connecting is refused at once (RST)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host, port = probe.getsockname()
    return f"http://{host}:{port}"


@contextmanager
def unanswered_handshakes() -> Iterator[str]:
    """A loopback port where connecting times out: a listener that never accepts, its accept queue filled by
    connections of our own, so the kernel drops the next SYNs and connect() waits — a connect timeout, for real."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        while True:
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(address)
            fillers.append(filler)
            _, connected, _ = select.select([], [filler], [], 0.05)
            if not connected:
                break  # this handshake is left unanswered: the queue is full
            if len(fillers) > 64:
                raise RuntimeError("the kernel accepted 64 handshakes on a listener with backlog 0")
        yield f"http://{address[0]}:{address[1]}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# --- The client side -------------------------------------------------------------------------------------------


def ask(base_url: str, *, stream: bool = True, model: str = "claude-opus-4-8", text: str = "hi",
        timeout: float = 10, **extra: Any) -> httpx.Response:
    """A Claude Code-shaped Messages request with the real httpx client."""
    body = {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}
    if stream:
        body["stream"] = True
    return httpx.post(base_url + "/v1/messages?beta=true", json=body, headers=HEADERS, timeout=timeout)


def sse_events(payload: bytes | str) -> list[dict]:
    """The JSON of every SSE event whose data parses (a malformed one is skipped, as a tolerant reader would)."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    events = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                try:
                    events.append(json.loads(line[6:]))
                except ValueError:
                    pass
    return events


def error_type_seen(response: httpx.Response, content: bytes | bytearray | None = None) -> str | None:
    """The Anthropic error type the client reads: from a JSON error body, or from the stream's last SSE error.
    ``content``: the body a streamed read collected (default: the response's own)."""
    payload = bytes(response.content if content is None else content)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        errors = [e for e in sse_events(payload) if e.get("type") == "error"]
        return errors[-1]["error"]["type"] if errors else None
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict):
        return body["error"].get("type")
    return None


def streamed_text(events: list[dict]) -> str:
    return "".join(e["delta"].get("text", "") for e in events if e.get("type") == "content_block_delta")


# --- What the gateway kept ---------------------------------------------------------------------------------------


def usage_of(gateway: LocalGateway | Instance, response: httpx.Response) -> UsageEvent:
    """The request's usage event (written after the response ended, after the breaker's write)."""
    return wait_for_usage(gateway, response.headers["x-overspill-request-id"])


def breaker_of(developer: Developer) -> Breaker:
    """The developer's breaker item as DynamoDB holds it (read it after usage_of: its write comes first)."""
    return BreakerRepository().get(developer.user_id, consistent=True)


def assert_open_until(breaker: Breaker, reason: str, until: datetime | float, *, slack_s: float = 2) -> None:
    assert breaker.state is BreakerState.OPEN and breaker.reason == reason, (breaker.state, breaker.reason)
    wanted = until.timestamp() if isinstance(until, datetime) else until
    assert breaker.open_until is not None and abs(breaker.open_until.timestamp() - wanted) <= slack_s, (
        f"open until {breaker.open_until}, expected about {wanted}")


def assert_counted(fail_again, gateway: LocalGateway | Instance, developer: Developer,  # noqa: ANN001
                   reason: str) -> None:
    """A counted failure: the first left the breaker closed; the FAILURE_THRESHOLD-th within the window opens it
    for the cooldown. ``fail_again()`` repeats the fault and returns the response."""
    assert breaker_of(developer).state is BreakerState.CLOSED
    for _ in range(FAILURE_THRESHOLD - 2):
        usage_of(gateway, fail_again())
        assert breaker_of(developer).state is BreakerState.CLOSED
    opening = fail_again()
    assert opening.headers["x-overspill-route"] == "bedrock"
    usage_of(gateway, opening)
    assert_open_until(breaker_of(developer), reason, time.time() + FAILURE_COOLDOWN_S, slack_s=5)
