"""AWS calls per proxied request, counted: the real proxy (``build_proxy``) on moto in-process, the fake
Anthropic and the fake Bedrock on loopback, every botocore client the proxy creates hooked through botocore's
event system (``before-parameter-build`` names the call and its table, ``after-call`` sees what came back).

Each request is driven as the streaming runtime drives it: the handler's response, then every body chunk, then
the body's ``close()`` — so the writes made after the response (usage, breaker, the key's last use) count.

Paths: a cold instance's first request (its init counted with it), warm plan requests back to back, the request
whose plan answer is a plan-limit 429 (Bedrock answers), warm requests with the breaker open, and warm plan
requests at Claude Code's pace (``PACES``: the instance's caches expire between requests; run on a compressed
clock, every TTL and the gap between requests divided by the same factor). Then the rollup function applies
the usage events those requests wrote, counted the same way.

Units follow DynamoDB's on-demand rules: a write request unit per KB written (twice that in a transaction), a
read request unit per 4 KB read (half for an eventually consistent read); global secondary indexes take their
own writes (by projection). Item sizes are computed from the items as sent and read (attribute names plus
values), as DynamoDB sizes them.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import math
import re
import statistics
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "layers" / "core"
KB = 1024

DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
# Claude Code's pace, as (name, seconds between a developer's requests, how much faster than real time the run's
# clock goes — every TTL and the gap divided by it —, requests). "busy": a working session, one request per model
# turn with a tool run between two turns, and the answer itself streams for seconds (docs/deploy.md assumes
# 15 s). "day": docs/deploy.md's average, 400 requests over an 8-hour day.
PACES = (("busy", 10.0, 50.0, 40), ("day", 72.0, 200.0, 24))


# --------------------------------------------------------------------------------------------------------
# DynamoDB item sizes (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)

def value_size(value: dict[str, Any]) -> int:
    """Bytes of one typed attribute value (low-level format), as DynamoDB counts them."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data) if isinstance(data, bytes | bytearray) else len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in data)
    if kind == "BS":
        return sum(value_size({"B": b}) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int, *, transactional: bool = False) -> int:
    return max(1, math.ceil(size / KB)) * (2 if transactional else 1)


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


# --------------------------------------------------------------------------------------------------------
# Counting


@dataclass
class Call:
    service: str
    operation: str
    tables: tuple[str, ...]
    site: str                       # where in the package the call is made: innermost frames first
    consistent: bool = False
    read_units: float = 0.0
    write_units: int = 0            # the table's own
    index_write_units: int = 0      # its global secondary indexes'
    item_bytes: int = 0             # written or read

    @property
    def kind(self) -> str:
        if self.service == "dynamodb":
            if self.operation in DYNAMODB_READS:
                return "read"
            if self.operation in DYNAMODB_WRITES:
                return "write"
        return "other"

    def label(self) -> str:
        table = f" {'+'.join(self.tables)}" if self.tables else ""
        return f"{self.service}:{self.operation}{table}"


def _site() -> str:
    """The package frames that led to this call, innermost first (file:line, relative to layers/core)."""
    frames = [f for f in traceback.extract_stack() if f.filename.startswith(str(CORE / "overspill"))]
    return " ← ".join(f"{Path(f.filename).relative_to(CORE)}:{f.lineno}" for f in reversed(frames[-4:]))


class CallLog:
    """Hooks every botocore client created while installed; records each API call made while not paused."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._local = threading.local()
        self._indexes: dict[str, list[dict[str, Any]]] = {}
        self._key_schema: dict[str, list[str]] = {}
        self._lookup_client: Any = None
        self._original: Callable[..., Any] | None = None

    # -- installing ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def installed(self) -> Iterator[CallLog]:
        original = botocore.session.Session.create_client
        log = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            created = original(session, *args, **kwargs)
            created.meta.events.register("before-parameter-build", log._before)
            created.meta.events.register("after-call", log._after)
            return created

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.session.Session.create_client = original  # type: ignore[method-assign]

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The bench's own calls (setting up, looking at items to size them) are not the proxy's."""
        before = getattr(self._local, "paused", False)
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = before

    def take(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls

    # -- botocore events ----------------------------------------------------------------------------------

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if getattr(self._local, "paused", False):
            return
        service = model.service_model.service_name
        call = Call(service, model.name, _tables(params), _site(), consistent=bool(params.get("ConsistentRead")))
        self._local.pending = (call, params)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        pending = getattr(self._local, "pending", None)
        self._local.pending = None
        if pending is None or getattr(self._local, "paused", False):
            return
        call, params = pending
        if call.operation != model.name:
            return
        if call.service == "dynamodb" and http_response.status_code < 300:
            with self.paused():
                self._size(call, params, parsed)
        self.calls.append(call)

    # -- sizing -------------------------------------------------------------------------------------------

    def _size(self, call: Call, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        op = call.operation
        if op == "GetItem":
            call.item_bytes = item_size(parsed.get("Item"))
            call.read_units = read_units(call.item_bytes, consistent=call.consistent)
        elif op == "Query" or op == "Scan":
            call.item_bytes = sum(item_size(i) for i in parsed.get("Items", []))
            call.read_units = read_units(call.item_bytes, consistent=call.consistent)
        elif op == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                for item in items:
                    size = item_size(item)
                    call.item_bytes += size
                    call.read_units += read_units(size, consistent=call.consistent)
        elif op == "PutItem":
            self._count_write(call, params["TableName"], params["Item"], set(params["Item"]))
        elif op in ("UpdateItem", "DeleteItem"):
            item = self._current(params["TableName"], params["Key"]) or params["Key"]
            self._count_write(call, params["TableName"], item, _updated(params), deleted=op == "DeleteItem")
        elif op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (action, spec), = entry.items()
                if action == "ConditionCheck":
                    continue
                if action == "Put":
                    item, names = spec["Item"], set(spec["Item"])
                else:
                    item = self._current(spec["TableName"], spec["Key"]) or spec["Key"]
                    names = _updated(spec)
                self._count_write(call, spec["TableName"], item, names, transactional=True)

    def _count_write(self, call: Call, table: str, item: dict[str, Any], changed: set[str], *,
                     transactional: bool = False, deleted: bool = False) -> None:
        size = item_size(item)
        call.item_bytes += size
        call.write_units += write_units(size, transactional=transactional)
        keys = self._key_schema.get(table) or self._describe(table)
        for index in self._indexes.get(table, []):
            index_keys = [k["AttributeName"] for k in index["KeySchema"]]
            if not all(k in item for k in index_keys):
                continue  # sparse: the item is not in this index
            projection = index["Projection"]["ProjectionType"]
            if projection == "ALL":
                projected = size
            else:
                names = set(keys) | set(index_keys) | set(index["Projection"].get("NonKeyAttributes", []))
                if not deleted and not (changed & names) and call.operation != "PutItem":
                    continue  # nothing the index holds changed
                projected = item_size({k: v for k, v in item.items() if k in names})
            call.index_write_units += write_units(projected)

    def _lookup(self) -> Any:
        if self._lookup_client is None:
            session = botocore.session.get_session()
            self._lookup_client = session.create_client("dynamodb")
        return self._lookup_client

    def _describe(self, table: str) -> list[str]:
        described = self._lookup().describe_table(TableName=table)["Table"]
        self._indexes[table] = described.get("GlobalSecondaryIndexes", [])
        self._key_schema[table] = [k["AttributeName"] for k in described["KeySchema"]]
        return self._key_schema[table]

    def _current(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._lookup().get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def _updated(params: dict[str, Any]) -> set[str]:
    """The attributes an UpdateItem changes: those its update expression names (not its condition's)."""
    names = params.get("ExpressionAttributeNames", {})
    return {names.get(token, token) for token in re.findall(r"#?\w+", params.get("UpdateExpression", ""))
            if token in names or not token.isupper()}


def _tables(params: dict[str, Any]) -> tuple[str, ...]:
    if "TableName" in params:
        return (params["TableName"],)
    if "RequestItems" in params:
        return tuple(sorted(params["RequestItems"]))
    if "TransactItems" in params:
        return tuple(sorted({next(iter(e.values()))["TableName"] for e in params["TransactItems"]}))
    return ()


# --------------------------------------------------------------------------------------------------------
# Summaries


def tally(calls: list[Call]) -> dict[str, Any]:
    """Counts and units of one request's calls (plain data)."""
    dynamo = [c for c in calls if c.service == "dynamodb"]
    return {
        "dynamodb_reads": sum(1 for c in dynamo if c.kind == "read"),
        "dynamodb_writes": sum(1 for c in dynamo if c.kind == "write"),
        "read_units": sum(c.read_units for c in dynamo),
        "write_units": sum(c.write_units for c in dynamo),
        "index_write_units": sum(c.index_write_units for c in dynamo),
        "kms": sum(1 for c in calls if c.service == "kms"),
        "secretsmanager": sum(1 for c in calls if c.service == "secretsmanager"),
        "bedrock": sum(1 for c in calls if c.service == "bedrock-runtime"),
        "other": sum(1 for c in calls if c.service not in ("dynamodb", "kms", "secretsmanager", "bedrock-runtime")),
        "calls": [dataclasses.asdict(c) | {"label": c.label(), "kind": c.kind} for c in calls],
    }


def _average(tallies: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-request means of several requests' tallies, with the calls seen and how often."""
    keys = ("dynamodb_reads", "dynamodb_writes", "read_units", "write_units", "index_write_units", "kms",
            "secretsmanager", "bedrock", "other")
    mean = {k: statistics.fmean(t[k] for t in tallies) for k in keys}
    seen = Counter((c["label"], c["site"]) for t in tallies for c in t["calls"])
    units: dict[tuple[str, str], list[float]] = {}
    for c in (c for t in tallies for c in t["calls"]):
        totals = units.setdefault((c["label"], c["site"]), [0.0, 0.0])
        totals[0] += c["read_units"]
        totals[1] += c["write_units"] + c["index_write_units"]
    mean["requests"] = len(tallies)
    mean["per_request"] = [{"label": label, "site": site, "times": n, "per_request": n / len(tallies),
                            "read_units": units[label, site][0] / n, "write_units": units[label, site][1] / n}
                           for (label, site), n in seen.most_common()]
    mean["max_reads"] = max(t["dynamodb_reads"] for t in tallies)
    mean["max_writes"] = max(t["dynamodb_writes"] for t in tallies)
    return mean


# --------------------------------------------------------------------------------------------------------
# Driving the proxy as the runtime does


@dataclass
class Driven:
    status: int
    route: str | None
    body: bytes
    seconds: float
    complete: bool = field(init=False)

    def __post_init__(self) -> None:
        self.complete = self.body.rstrip().endswith(b'{"type":"message_stop"}')


def drive(proxy_handler: Callable[[dict, Any], dict], event: dict, context: Any) -> Driven:
    """handler → every body chunk → close(): what layers/streaming does with one invocation."""
    started = time.perf_counter()
    result = proxy_handler(event, context)
    body = result["body"]
    chunks: list[bytes] = []
    try:
        if isinstance(body, bytes | str):
            chunks.append(body.encode() if isinstance(body, str) else body)
        else:
            chunks.extend(bytes(c) for c in body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return Driven(result["statusCode"], result["headers"].get("x-overspill-route"), b"".join(chunks),
                  time.perf_counter() - started)


def check(driven: Driven, route: str) -> None:
    """A fast error never counts: the answer must be a 200, complete, from the expected route."""
    if driven.status != 200 or not driven.complete or driven.route != route:
        raise RuntimeError(f"unexpected answer: status {driven.status}, route {driven.route}, complete "
                           f"{driven.complete}: {driven.body[:300]!r}")


def count_calls(quick: bool = False) -> dict[str, Any]:
    """Per path: the AWS calls of each request (plain data; see the module's docstring)."""
    # Imported here: `python -m bench.lambda_costs` measures a fresh interpreter's imports separately.
    from bench.latency import BODY, HEADERS
    from overspill.local.function_url import LocalContext, function_url_event
    from overspill.observability import logger
    from overspill.proxy import function_url
    from overspill.proxy.app import build_proxy
    from tests.support.fake_anthropic import FakeAnthropic, Scenario
    from tests.support.fake_bedrock import FakeBedrock
    from tests.support.gateway import LocalGateway

    warm_requests = 5 if quick else 20
    log = CallLog()
    results: dict[str, Any] = {"body_bytes": len(BODY)}
    level = logger.log_level
    logger.setLevel("WARNING")  # the in-process run's logs are not what is measured here
    try:
        with (log.installed(), log.paused(), contextlib.redirect_stdout(io.StringIO()),
              FakeAnthropic() as anthropic, FakeBedrock() as bedrock,
              LocalGateway(anthropic.url, bedrock.url) as gateway):
            ada = gateway.add_developer("Ada")          # a team, no budget: as most developers
            stream = _UsageStream(gateway.settings)     # the usage table's stream from here on

            def request(proxy: Any, expect: str = "plan", key: str = ada.key) -> tuple[Driven, dict[str, Any]]:
                event = function_url_event("POST", f"/ak/{key}/v1/messages", "beta=true", list(HEADERS.items()),
                                           BODY)
                with _counting(log):
                    driven = drive(lambda e, c: function_url.to_response(proxy.handle(function_url.to_request(e, c))),
                                   event, LocalContext("overspill-proxy"))
                check(driven, expect)
                return driven, tally(log.take())

            # Another instance served the key before (so its last use is recent), as when an instance is added.
            first_ever, first_ever_tally = request(gateway.proxy)
            results["first_use_of_key"] = first_ever_tally

            with _counting(log):
                proxy = build_proxy(gateway.settings)
            init = tally(log.take())
            _, cold = request(proxy)
            results["cold"] = {"init": init, "request": cold}

            results["warm"] = _average([request(proxy)[1] for _ in range(warm_requests)])

            anthropic.enqueue(Scenario.plan_limit(int(time.time()) + 3600))
            _, results["fallback"] = request(proxy, "bedrock")
            results["breaker_open"] = _average([request(proxy, "bedrock")[1] for _ in range(warm_requests)])

            for name, gap_s, scale, count in PACES:
                developer = gateway.add_developer(f"Paced {name}")
                results[f"paced_{name}"] = _paced(gateway, build_proxy, lambda p, d=developer: request(p, key=d.key),
                                                  gap_s=gap_s, scale=scale, count=min(count, 8) if quick else count)
            results["rollup"] = _rollup(stream, log)
    finally:
        logger.setLevel(level)
    return results


@contextlib.contextmanager
def _counting(log: CallLog) -> Iterator[None]:
    log._local.paused = False
    try:
        yield
    finally:
        log._local.paused = True


def _paced(gateway: Any, build_proxy: Callable[[Any], Any], request: Callable[..., Any], *, gap_s: float,
           scale: float, count: int) -> dict:
    """Warm plan requests ``gap_s`` apart on a clock ``scale``× faster: every cache TTL of a new instance divided
    by ``scale``, and so the gap. The instance's first request (cold) is not counted."""
    settings = gateway.settings
    scaled = dataclasses.replace(settings, **{name: getattr(settings, name) / scale for name in (
        "key_cache_ttl_s", "key_last_used_interval_s", "breaker_cache_ttl_s", "breaker_open_recheck_s",
        "pricing_cache_ttl_s", "budget_cache_ttl_s", "credentials_cache_ttl_s")})
    proxy = build_proxy(scaled)
    request(proxy)
    tallies = []
    next_start = time.perf_counter() + gap_s / scale
    for _ in range(count):
        time.sleep(max(0.0, next_start - time.perf_counter()))
        next_start = time.perf_counter() + gap_s / scale
        tallies.append(request(proxy)[1])
    summary = _average(tallies)
    summary.update(gap_s=gap_s, scale=scale,
                   ttls={"key_cache_ttl_s": settings.key_cache_ttl_s,
                         "breaker_cache_ttl_s": settings.breaker_cache_ttl_s,
                         "key_last_used_interval_s": settings.key_last_used_interval_s,
                         "pricing_cache_ttl_s": settings.pricing_cache_ttl_s})
    return summary


class _UsageStream:
    """The usage table's stream records (Lambda's shape), read through the local run's poller."""

    def __init__(self, settings: Any) -> None:
        from overspill.local.stream_poller import StreamPoller

        self.records: list[dict[str, Any]] = []
        self._poller = StreamPoller(settings, self._capture, batch_size=1000)
        self._poller.open()  # LATEST: what is written from now on

    def _capture(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.records.extend(event["Records"])
        return {"batchItemFailures": []}

    def read(self) -> list[dict[str, Any]]:
        self._poller.poll()
        return [r for r in self.records if r.get("eventName") == "INSERT"]


def _rollup(stream: _UsageStream, log: CallLog) -> dict[str, Any]:
    """The rollup function applying the usage events written above, one event per batch, counted."""
    from overspill.local.dev import load_function
    from overspill.local.function_url import LocalContext

    handler = load_function("rollup")
    per_route: dict[str, list[dict[str, Any]]] = {}
    for record in stream.read():
        with _counting(log):
            answer = handler({"Records": [record]}, LocalContext("overspill-rollup"))
        if answer != {"batchItemFailures": []}:
            raise RuntimeError(f"rollup refused a record: {answer}")
        route = record["dynamodb"]["NewImage"]["route"]["S"]
        per_route.setdefault(route, []).append(tally(log.take()))
    return {route: _average(tallies) for route, tallies in per_route.items()}


def main() -> None:
    """``python -m bench.aws_calls``: the counts per path as JSON (bench/lambda_costs.py renders them)."""
    import json

    print(json.dumps(count_calls(quick="--quick" in sys.argv), indent=1, default=str))


if __name__ == "__main__":
    main()
