"""The story of one proxied request: route → authenticate → check → plan or Bedrock → relay → record usage."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import orjson

from overspill.auth import Authenticator, Caller
from overspill.aws import error_code, is_service_failure
from overspill.breaker import BreakerService, Decision, PendingWrite
from overspill.breaker import Route as BreakerRoute
from overspill.budgets import BudgetService
from overspill.errors import GatewayError
from overspill.fallback import FallbackReason, FallbackSignal, classify, utilization
from overspill.observability import emit_request_metrics, logger
from overspill.pricing.book import PriceBook
from overspill.proxy import headers as header_rules
from overspill.proxy import routes
from overspill.proxy.abuse import FailedKeyThrottle
from overspill.proxy.relay import Relay, RelayOutcome
from overspill.proxy.request import ProxyRequest, ProxyResponse
from overspill.proxy.routes import Endpoint, Route
from overspill.store.usage import UsageRepository
from overspill.upstream.base import Upstream, UpstreamAnswer, UpstreamRequest, UpstreamUnavailable
from overspill.usage.events import UsageEvent
from overspill.usage.spill import UsageRecorder
from overspill.usage.tap import tap_for
from overspill.users import RoutingMode

ROUTE_PLAN = "plan"
ROUTE_BEDROCK = "bedrock"
MAX_MODEL_NAME = 200
_QUERY = re.compile(r"[\x21-\x7e]*")  # a URL's query: visible ASCII, anything else percent-encoded (RFC 3986)


class MessagesBody:
    """The few facts the gateway reads from a Messages request body; the bytes themselves go on unchanged."""

    __slots__ = ("model", "stream", "parsed")

    def __init__(self, model: str, stream: bool, parsed: dict) -> None:
        self.model = model
        self.stream = stream
        self.parsed = parsed


class BedrockAnswer(UpstreamAnswer, Protocol):
    model_id: str


class BedrockRoute(Protocol):
    """The fallback route (``overspill.upstream.bedrock``). Raises GatewayError when it cannot answer."""

    def messages(self, user_id: str, body: MessagesBody, beta_header: str | None) -> BedrockAnswer: ...

    def count_tokens(self, user_id: str, body: MessagesBody, beta_header: str | None) -> bytes: ...


@dataclass(slots=True)
class Exchange:
    """One authenticated request on its way through: what the usage event will say about it."""

    request: ProxyRequest
    route: Route
    caller: Caller
    body: MessagesBody | None
    answered_by: str = ROUTE_PLAN
    plan_called: bool = False   # the plan was asked: an error about it is an answer on the plan route
    fallback_reason: str | None = None
    bedrock_model_id: str | None = None
    # The request's headers as the plan would receive them (filtered once, checked before any route is taken).
    plan_headers: list[tuple[str, str]] = field(default_factory=list)
    # Writes that must not delay the first byte (breaker state changes): run once the response has ended.
    after_response: list[PendingWrite] = field(default_factory=list)

    @property
    def records_usage(self) -> bool:
        return self.route.endpoint is Endpoint.MESSAGES

    def defer(self, write: PendingWrite | None) -> None:
        if write is not None:
            self.after_response.append(write)

    def run_deferred(self) -> None:
        for write in self.after_response:
            try:
                write()
            except Exception as error:  # noqa: BLE001 - a lost breaker write costs a plan round trip, never the answer
                if not is_service_failure(error):
                    logger.exception("breaker write failed")
                    continue
                logger.warning("breaker write failed", extra={"error": type(error).__name__,
                                                             "error_code": error_code(error)})
        self.after_response.clear()


class Proxy:
    def __init__(self, authenticator: Authenticator, plan: Upstream, usage: UsageRepository | UsageRecorder,
                 *, max_body_bytes: int, breakers: BreakerService | None = None,
                 bedrock: BedrockRoute | None = None, throttle_open: timedelta = timedelta(seconds=30),
                 early_switch_utilization: float | None = None, plan_first_byte_timeout_s: float | None = None,
                 prices: PriceBook | None = None, budgets: BudgetService | None = None,
                 key_failures: FailedKeyThrottle | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._auth = authenticator
        self._plan = plan
        self._usage = usage
        self._max_body_bytes = max_body_bytes
        self._breakers = breakers
        self._bedrock = bedrock
        self._throttle_open = throttle_open
        self._early_switch = early_switch_utilization
        self._first_byte_timeout = plan_first_byte_timeout_s
        self._prices = prices or PriceBook(lambda: None, ttl_s=float("inf"))
        self._budgets = budgets
        self._key_failures = key_failures
        self._now = clock

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
            if self._key_failures is not None:
                self._key_failures.check(request.source_ip)  # a source that keeps sending bad keys: 429, no lookup
            caller = self._auth.authenticate(route.access_key)
        except GatewayError as refusal:
            if refusal.status == 401 and route.access_key and self._key_failures is not None:
                self._key_failures.rejected(request.source_ip)
            logger.info("request refused", extra={"status": refusal.status, "reason": refusal.error_type})
            return self._refuse(request, refusal)
        logger.thread_safe_append_keys(user_id=caller.user.user_id, key_prefix=caller.key.prefix)
        exchange = Exchange(request, route, caller, None, plan_headers=header_rules.to_upstream(request.headers))
        try:
            _check_sendable(request, exchange.plan_headers)
            exchange.body = self._check_body(route, request)
            return self._route(exchange)
        except GatewayError as refusal:
            return self._refuse(request, refusal, exchange=exchange)

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
        if len(model) > MAX_MODEL_NAME:
            raise GatewayError(400, f"Overspill: the \"model\" in the request body is {len(model):,} characters "
                                    f"long; no model name is longer than {MAX_MODEL_NAME}. Check the model setting.")
        return MessagesBody(model, parsed.get("stream") is True, parsed)

    def _route(self, exchange: Exchange) -> ProxyResponse:
        """Plan or Bedrock: the user's routing mode, then the breaker, then the plan's own answer."""
        mode = exchange.caller.user.routing_mode
        can_fall_back = (self._bedrock is not None and exchange.route.endpoint is not Endpoint.MODELS
                         and mode is not RoutingMode.PLAN_ONLY)
        if mode is RoutingMode.BEDROCK_ONLY and can_fall_back:
            return self._via_bedrock(exchange, FallbackReason.BEDROCK_ONLY)
        decision = None
        if can_fall_back and self._breakers is not None:
            decision = self._breakers.decide(exchange.caller.user.user_id)
            if decision.route is BreakerRoute.BEDROCK:
                return self._via_bedrock(exchange, decision.reason or FallbackReason.BREAKER_OPEN)

        request = exchange.request
        outgoing = UpstreamRequest(request.method, exchange.route.upstream_path, request.query,
                                   exchange.plan_headers, request.body)
        streams = exchange.body is not None and exchange.body.stream
        sent_at = time.perf_counter()
        exchange.plan_called = True
        try:
            answer = self._plan.send(outgoing, first_byte_timeout_s=self._first_byte_timeout
                                     if can_fall_back and streams else None)
        except UpstreamUnavailable as failure:
            logger.warning("plan unreachable", extra={"upstream": failure.upstream, "reason": failure.reason})
            if can_fall_back:
                signal = FallbackSignal(FallbackReason.TIMEOUT if failure.timed_out else FallbackReason.UNREACHABLE,
                                        None)
                if decision is not None:
                    exchange.defer(self._breakers.plan_failed(decision, signal))
                return self._via_bedrock(exchange, signal.reason)
            what = "got no answer in time from" if failure.timed_out else "could not reach"
            raise GatewayError(
                504 if failure.timed_out else 502,
                f"Overspill {what} Anthropic ({failure.reason}). This is a problem between the gateway and "
                "Anthropic, not with your request; retrying may work.", should_retry=True,
            ) from None
        answered_at = time.perf_counter()

        if can_fall_back:
            signal = classify(answer.status, answer.headers, now=self._now(), throttle_open=self._throttle_open)
            if signal is not None:
                answer.close()  # nothing of it has reached the client: the developer never sees the limit
                logger.info("plan refused; falling back", extra={"status": answer.status,
                                                                 "reason": str(signal.reason)})
                if decision is not None:
                    exchange.defer(self._breakers.plan_failed(decision, signal))
                return self._via_bedrock(exchange, signal.reason)
            if decision is not None:
                exchange.defer(self._breakers.plan_answered(decision))
                exchange.defer(self._maybe_switch_early(decision, answer))
        return self._relay(exchange, answer, sent_at=sent_at, answered_at=answered_at)

    def _maybe_switch_early(self, decision: Decision, answer: UpstreamAnswer) -> PendingWrite | None:
        if self._early_switch is None or answer.status >= 300:
            return None
        used, reset = utilization(answer.headers)
        if used is not None and used >= self._early_switch and reset is not None and reset > self._now():
            return self._breakers.switch_early(decision, reset, answer.status)
        return None

    def _via_bedrock(self, exchange: Exchange, reason: FallbackReason) -> ProxyResponse:
        assert self._bedrock is not None and exchange.body is not None  # nosec B101  # type narrowing (_fallback)
        exchange.answered_by = ROUTE_BEDROCK
        exchange.fallback_reason = str(reason)
        beta = exchange.request.header("anthropic-beta")
        user_id = exchange.caller.user.user_id
        started = time.perf_counter()
        if exchange.route.endpoint is Endpoint.COUNT_TOKENS:
            payload = self._bedrock.count_tokens(user_id, exchange.body, beta)
            headers = {"content-type": "application/json", **self._route_headers(exchange, started, started)}
            return ProxyResponse(200, headers, self._finishing(exchange, payload))
        if self._budgets is not None:
            self._budgets.check(exchange.caller.user)  # raises the 429 that names the budget
        try:
            answer = self._bedrock.messages(user_id, exchange.body, beta)
        except GatewayError as failure:
            exchange.bedrock_model_id = failure.tried_model_id
            raise
        exchange.bedrock_model_id = answer.model_id
        return self._relay(exchange, answer, sent_at=started, answered_at=time.perf_counter())

    def _relay(self, exchange: Exchange, answer: UpstreamAnswer, *, sent_at: float,
               answered_at: float) -> ProxyResponse:
        content_type = _header(answer, "content-type")
        streamed = bool(content_type and content_type.startswith("text/event-stream"))
        tap = tap_for(content_type) if exchange.records_usage else None
        overhead_ms = ((sent_at - exchange.request.received_at) + (time.perf_counter() - answered_at)) * 1000

        def finish(outcome: RelayOutcome) -> None:
            exchange.run_deferred()
            billed = getattr(answer, "billed_usage", None)
            if tap is not None and billed is not None:
                tap.tokens.merge(billed())  # Bedrock's invocation metrics win: they are what AWS bills
            if exchange.records_usage:
                self._record(exchange, outcome, status=answer.status, streamed=streamed,
                             overhead_ms=overhead_ms, upstream_request_id=answer.request_id)
            self._auth.record_use(exchange.caller)

        relay = Relay(answer.iter_bytes(), tap=tap, on_close=finish, release=answer.close, sse=streamed)
        response_headers = header_rules.to_client(answer.headers)
        response_headers.update(self._route_headers(exchange, sent_at, answered_at, overhead_ms))
        return ProxyResponse(answer.status, response_headers, relay)

    @staticmethod
    def _route_headers(exchange: Exchange, sent_at: float, answered_at: float,
                       overhead_ms: float | None = None) -> dict[str, str]:
        if overhead_ms is None:
            overhead_ms = ((sent_at - exchange.request.received_at) + (time.perf_counter() - answered_at)) * 1000
        headers = {
            "x-overspill-route": exchange.answered_by,
            "x-overspill-overhead-ms": f"{overhead_ms:.2f}",
            "x-overspill-request-id": exchange.request.request_id,
        }
        if exchange.fallback_reason:
            headers["x-overspill-fallback-reason"] = exchange.fallback_reason
        return headers

    def _refuse(self, request: ProxyRequest, refusal: GatewayError, *,
                exchange: Exchange | None = None) -> ProxyResponse:
        headers = refusal.headers()
        headers["x-overspill-request-id"] = request.request_id
        if exchange is not None and (exchange.fallback_reason or exchange.plan_called):
            headers["x-overspill-route"] = exchange.answered_by
        if exchange is not None and exchange.fallback_reason:
            headers["x-overspill-fallback-reason"] = exchange.fallback_reason
        payload = refusal.body(request.request_id) if request.method != "HEAD" else b""
        if exchange is None:
            return ProxyResponse(refusal.status, headers, payload)
        # An authenticated Messages request the gateway answered itself still leaves a usage event.
        return ProxyResponse(refusal.status, headers, self._finishing(exchange, payload, refusal))

    def _finishing(self, exchange: Exchange, payload: bytes, refusal: GatewayError | None = None) -> Relay | bytes:
        """A body the gateway wrote itself, with the request's after-response work attached (if any)."""
        if not exchange.records_usage and not exchange.after_response:
            return payload

        def finish(outcome: RelayOutcome) -> None:
            exchange.run_deferred()
            if exchange.records_usage and refusal is not None:
                self._record(exchange, outcome, status=refusal.status, streamed=False, overhead_ms=None,
                             upstream_request_id=None, error_type=refusal.reason or refusal.error_type)

        return Relay(iter((payload,)), tap=None, on_close=finish)

    def _record(self, exchange: Exchange, outcome: RelayOutcome, *, status: int, streamed: bool,
                overhead_ms: float | None, upstream_request_id: str | None, error_type: str | None = None) -> None:
        request, caller, body = exchange.request, exchange.caller, exchange.body
        tap = outcome.tap
        ended_at = outcome.ended_at or time.perf_counter()
        event = UsageEvent(
            request_id=request.request_id,
            occurred_at=request.received_wall,
            user_id=caller.user.user_id,
            key_prefix=caller.key.prefix,
            route=exchange.answered_by,
            endpoint=Endpoint.MESSAGES.value,
            status=status,
            streamed=streamed,
            duration_ms=(ended_at - request.received_at) * 1000,
            session_id=request.header("x-claude-code-session-id"),
            # The model the developer asked for (a Bedrock answer reports it too, by design).
            model=_bounded((body.model if body else None) or (tap.model if tap else None)),
            fallback_reason=exchange.fallback_reason,
            bedrock_model_id=exchange.bedrock_model_id,
            stop_reason=tap.stop_reason if tap else None,
            error_type=error_type or (tap.error_type if tap else None) or _error_type_for(status),
            ttfb_ms=None if outcome.first_byte_at is None else (outcome.first_byte_at - request.received_at) * 1000,
            overhead_ms=overhead_ms,
            client_disconnected=outcome.client_disconnected,
            upstream_request_id=upstream_request_id,
            user_name=caller.user.name, team=caller.user.team, cost_center=caller.user.cost_center,
        )
        if tap is not None:
            event.tokens = tap.tokens
        self._prices.price(event)
        self._usage.record(event)
        if self._budgets is not None:
            self._budgets.add_spend(caller.user, event.route, event.cost_usd, event.occurred_at)
        emit_request_metrics(
            route=event.route, fallback_reason=event.fallback_reason, status=status, streamed=streamed,
            ttfb_ms=event.ttfb_ms, duration_ms=event.duration_ms, overhead_ms=overhead_ms,
            input_tokens=event.tokens.input_tokens, output_tokens=event.tokens.output_tokens,
            cache_read_tokens=event.tokens.cache_read_input_tokens,
            cache_write_tokens=event.tokens.cache_creation_input_tokens,
            client_disconnected=event.client_disconnected,
            cost_usd=None if event.cost_usd is None else float(event.cost_usd))
        # Named explicitly: this may run on another thread than the request (after the response ended).
        logger.info("request finished", extra={
            "request_id": request.request_id, "user_id": event.user_id, "key_prefix": event.key_prefix,
            "status": status, "model": event.model, "route": event.route, "streamed": streamed,
            "fallback_reason": event.fallback_reason, "bedrock_model_id": event.bedrock_model_id,
            "input_tokens": event.tokens.input_tokens, "output_tokens": event.tokens.output_tokens,
            "ttfb_ms": _round(event.ttfb_ms), "duration_ms": _round(event.duration_ms),
            "overhead_ms": _round(overhead_ms), "client_disconnected": event.client_disconnected,
            "upstream_request_id": upstream_request_id,
            "cost_usd": None if event.cost_usd is None else str(event.cost_usd),
        })


def _check_sendable(request: ProxyRequest, plan_headers: list[tuple[str, str]]) -> None:
    """Refuse what cannot go on the wire to Anthropic as it is: httpx would refuse it, which reads as the plan being
    down (a fallback, a breaker trip) or, for a URL, fails the function."""
    if _QUERY.fullmatch(request.query) is None:
        raise GatewayError(400, "Overspill: the URL's query string holds characters a URL cannot carry (a "
                                "space, a control character or a non-ASCII character); percent-encode them.")
    name = header_rules.unsendable(plan_headers)
    if name is not None:
        raise GatewayError(400, f"Overspill: the request header {name[:60]!r} holds characters an HTTP header "
                                "cannot carry (a control character such as CR, LF or NUL, or a non-ASCII "
                                "character). Remove or fix that header.")


def _header(answer: UpstreamAnswer, name: str) -> str | None:
    return next((value for key, value in answer.headers if key == name), None)


def _error_type_for(status: int) -> str | None:
    return None if status < 400 else GatewayError(status, "").error_type


def _bounded(model: str | None) -> str | None:
    # A model name is the developer's input and becomes part of rollup keys: keep it a sane length.
    return model if model is None or len(model) <= MAX_MODEL_NAME else model[:MAX_MODEL_NAME]


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _safe_path(path: str) -> str:
    # Never echo an access key back (or into logs): keep only the first characters of a key segment — the one
    # after "ak", wherever it is, and any that looks like a key (a base URL missing its "/ak/": /ak_…/v1/…).
    parts = path.split("/")
    for index, part in enumerate(parts):
        if len(part) > 10 and ((index > 0 and parts[index - 1] == "ak") or part.startswith("ak_")):
            parts[index] = part[:10] + "…"
    return "/".join(parts)[:200]
