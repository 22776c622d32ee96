"""The story of one proxied request: route → authenticate → check → call the plan → relay → record usage."""

from __future__ import annotations

import time

import orjson

from overspill.auth import Authenticator, Caller
from overspill.errors import GatewayError
from overspill.observability import logger
from overspill.proxy import headers as header_rules
from overspill.proxy import routes
from overspill.proxy.relay import Relay, RelayOutcome
from overspill.proxy.request import ProxyRequest, ProxyResponse
from overspill.proxy.routes import Endpoint, Route
from overspill.store.usage import UsageRepository
from overspill.upstream.base import Upstream, UpstreamAnswer, UpstreamRequest, UpstreamUnavailable
from overspill.usage.events import UsageEvent
from overspill.usage.tap import tap_for

ROUTE_PLAN = "plan"


class MessagesBody:
    """The few facts the gateway reads from a Messages request body; the bytes themselves go on unchanged."""

    __slots__ = ("model", "stream")

    def __init__(self, model: str, stream: bool) -> None:
        self.model = model
        self.stream = stream


class Proxy:
    def __init__(self, authenticator: Authenticator, plan: Upstream, usage: UsageRepository,
                 *, max_body_bytes: int) -> None:
        self._auth = authenticator
        self._plan = plan
        self._usage = usage
        self._max_body_bytes = max_body_bytes

    def handle(self, request: ProxyRequest) -> ProxyResponse:
        # Per-thread log keys: the local emulator serves many requests at once in one process.
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(request_id=request.request_id)
        route = routes.match(request.method, request.path)
        if route is None:
            return self._refuse(request, GatewayError(
                404, f"Overspill does not serve {request.method} {_safe_path(request.path)}. It serves "
                     "POST /ak/<key>/v1/messages, POST /ak/<key>/v1/messages/count_tokens and "
                     "GET /ak/<key>/v1/models."))
        if route.endpoint is Endpoint.PROBE:
            # Any answer satisfies Claude Code; the same one for every key reveals nothing about it.
            return ProxyResponse(200, {"content-type": "application/json"},
                                 b"" if request.method == "HEAD" else b"{}")
        try:
            caller = self._auth.authenticate(route.access_key)
        except GatewayError as refusal:
            logger.info("request refused", extra={"status": refusal.status, "reason": refusal.error_type})
            return self._refuse(request, refusal)
        logger.thread_safe_append_keys(user_id=caller.user.user_id, key_prefix=caller.key.prefix)
        try:
            body = self._check_body(route, request)
        except GatewayError as refusal:
            return self._refuse(request, refusal, caller=caller, route=route)
        return self._forward(request, route, caller, body)

    def _check_body(self, route: Route, request: ProxyRequest) -> MessagesBody | None:
        if len(request.body) > self._max_body_bytes:
            raise GatewayError(413, f"Overspill: the request body is {_mb(len(request.body))}, over the "
                                    f"gateway's limit of {_mb(self._max_body_bytes)}. Start a new "
                                    "conversation or remove large attachments.")
        if route.endpoint not in (Endpoint.MESSAGES, Endpoint.COUNT_TOKENS):
            return None
        try:
            parsed = orjson.loads(request.body)
        except orjson.JSONDecodeError as error:
            raise GatewayError(400, f"Overspill: the request body is not valid JSON (line {error.lineno}, "
                                    f"column {error.colno}).") from None
        model = parsed.get("model") if isinstance(parsed, dict) else None
        if not isinstance(model, str) or not model:
            raise GatewayError(400, "Overspill: the request body has no \"model\"; a Messages request "
                                    "must name the model.")
        return MessagesBody(model, parsed.get("stream") is True)

    def _forward(self, request: ProxyRequest, route: Route, caller: Caller,
                 body: MessagesBody | None) -> ProxyResponse:
        outgoing = UpstreamRequest(request.method, route.upstream_path, request.query,
                                   header_rules.to_upstream(request.headers), request.body)
        sent_at = time.perf_counter()
        try:
            answer = self._plan.send(outgoing)
        except UpstreamUnavailable as failure:
            logger.warning("upstream unavailable", extra={"upstream": failure.upstream, "reason": failure.reason})
            refusal = GatewayError(
                504 if failure.timed_out else 502,
                f"Overspill could not reach Anthropic ({failure.reason}). This is a network problem between "
                "the gateway and Anthropic, not with your request; retrying may work.", should_retry=True)
            return self._refuse(request, refusal, caller=caller, route=route, body=body)
        answered_at = time.perf_counter()

        content_type = _header(answer, "content-type")
        streamed = bool(content_type and content_type.startswith("text/event-stream"))
        tap = tap_for(content_type) if route.endpoint is Endpoint.MESSAGES else None
        overhead_ms = ((sent_at - request.received_at) + (time.perf_counter() - answered_at)) * 1000

        def finish(outcome: RelayOutcome) -> None:
            if route.endpoint is Endpoint.MESSAGES:
                self._record(request, caller, body, outcome, status=answer.status, streamed=streamed,
                             overhead_ms=overhead_ms, upstream_request_id=answer.request_id)
            self._auth.record_use(caller)

        relay = Relay(answer.iter_bytes(), tap=tap, on_close=finish, release=answer.close, sse=streamed)
        response_headers = header_rules.to_client(answer.headers)
        response_headers.update({
            "x-overspill-route": ROUTE_PLAN,
            "x-overspill-overhead-ms": f"{overhead_ms:.2f}",
            "x-overspill-request-id": request.request_id,
        })
        logger.debug("answer relayed", extra={"status": answer.status, "streamed": streamed})
        return ProxyResponse(answer.status, response_headers, relay)

    def _refuse(self, request: ProxyRequest, refusal: GatewayError, *, caller: Caller | None = None,
                route: Route | None = None, body: MessagesBody | None = None) -> ProxyResponse:
        headers = refusal.headers()
        headers["x-overspill-request-id"] = request.request_id
        payload = refusal.body(request.request_id) if request.method != "HEAD" else b""
        if caller is None or route is None or route.endpoint is not Endpoint.MESSAGES:
            return ProxyResponse(refusal.status, headers, payload)

        # An authenticated Messages request the gateway answered itself still leaves a usage event.
        def finish(outcome: RelayOutcome) -> None:
            self._record(request, caller, body, outcome, status=refusal.status, streamed=False,
                         overhead_ms=None, upstream_request_id=None, error_type=refusal.error_type)

        return ProxyResponse(refusal.status, headers, Relay(iter((payload,)), tap=None, on_close=finish))

    def _record(self, request: ProxyRequest, caller: Caller, body: MessagesBody | None, outcome: RelayOutcome,
                *, status: int, streamed: bool, overhead_ms: float | None, upstream_request_id: str | None,
                error_type: str | None = None) -> None:
        tap = outcome.tap
        ended_at = outcome.ended_at or time.perf_counter()
        event = UsageEvent(
            request_id=request.request_id,
            occurred_at=request.received_wall,
            user_id=caller.user.user_id,
            key_prefix=caller.key.prefix,
            route=ROUTE_PLAN,
            endpoint=Endpoint.MESSAGES.value,
            status=status,
            streamed=streamed,
            duration_ms=(ended_at - request.received_at) * 1000,
            session_id=request.header("x-claude-code-session-id"),
            model=(tap.model if tap and tap.model else None) or (body.model if body else None),
            stop_reason=tap.stop_reason if tap else None,
            error_type=error_type or (tap.error_type if tap else None) or _error_type_for(status),
            ttfb_ms=None if outcome.first_byte_at is None else (outcome.first_byte_at - request.received_at) * 1000,
            overhead_ms=overhead_ms,
            client_disconnected=outcome.client_disconnected,
            upstream_request_id=upstream_request_id,
        )
        if tap is not None:
            event.tokens = tap.tokens
        self._usage.record(event)
        # Named explicitly: this may run on another thread than the request (after the response ended).
        logger.info("request finished", extra={
            "request_id": request.request_id, "user_id": event.user_id, "key_prefix": event.key_prefix,
            "status": status, "model": event.model, "route": event.route, "streamed": streamed,
            "input_tokens": event.tokens.input_tokens, "output_tokens": event.tokens.output_tokens,
            "ttfb_ms": _round(event.ttfb_ms), "duration_ms": _round(event.duration_ms),
            "overhead_ms": _round(overhead_ms), "client_disconnected": event.client_disconnected,
            "upstream_request_id": upstream_request_id,
        })


def _header(answer: UpstreamAnswer, name: str) -> str | None:
    return next((value for key, value in answer.headers if key == name), None)


def _error_type_for(status: int) -> str | None:
    return None if status < 400 else GatewayError(status, "").error_type


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _safe_path(path: str) -> str:
    # Never echo an access key back (or into logs): keep only the first characters of a key segment.
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "ak":
        parts[2] = parts[2][:10] + "…" if len(parts[2]) > 10 else parts[2]
    return "/".join(parts)[:200]
