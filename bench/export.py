"""Exporting one day of usage events (1,000,000 by default): wall time, events/s and the exporter's peak memory
against the target of 256 MB.

How it is measured:

- The usage table lives in a moto server in its own process, so moto's memory is not the exporter's. moto as it
  is would measure moto: it re-adds every attribute's size for each attribute an item gets (~2 ms an item),
  parses each request and serialises each answer through the botocore shape model (~0.3 ms and ~3 ms an
  item), and re-scans and re-sorts the whole table for every 1 MB page of a GSI query (a million-event day
  would take days). The bench's moto process keeps the size check as a running total, takes the JSON of
  BatchWriteItem and Query requests as it is, serves a plain query on a GSI partition from that partition's
  items sorted once, with moto's page rule, keys and number formatting, and keeps no stream records (nothing
  reads them here). Before measuring, the bench checks that this moto answers the day's queries — the plain
  one and the exporter's own — page for page exactly as moto's own does (``--no-verify`` skips the check).
- The table is filled through BatchWriteItem (25 items a request, several loader processes, raw HTTP: moto does
  not check signatures, and botocore's request building would cost the loaders more than moto's writes).
  Each item is exactly what ``UsageRepository.record`` writes for its event — checked on a sample.
- The export (``overspill.exports.service.Exporter``, as the Lambda runs it) runs in a fresh subprocess; its
  peak RSS is the kernel's high-water mark of that process (``VmHWM``), its CPU time comes from ``wait4``.

``python -m bench.export [--events N] [--loaders K]``; ``run()`` returns one row per measured export.
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import free_port
from overspill.config import Settings

ROOT = Path(__file__).resolve().parents[1]
TARGET_PEAK_MB = 256
BATCH = 25  # BatchWriteItem's limit
_AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}
_BATCH_HEADERS = {
    "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}

# --- The data: a day of a large organisation (2,000 developers in 25 teams, 5 models, 15 % on Bedrock).

USERS = 2000
TEAMS = 25
MODELS = ("claude-opus-4-8", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805",
          "claude-sonnet-4-20250514")
_SNAPSHOT = {"input_per_mtok": "3", "output_per_mtok": "15", "cache_write_5m_per_mtok": "3.75",
             "cache_write_1h_per_mtok": "6", "cache_read_per_mtok": "0.3", "source": "list"}


def usage_event(i: int, day: date, total: int):
    """The i-th of ``total`` events spread evenly over ``day``."""
    from overspill.usage.events import TokenUsage, UsageEvent

    user = i % USERS
    bedrock = i % 7 == 0
    status = 529 if i % 101 == 0 else 400 if i % 211 == 0 else 200
    model = "claude-experimental-1" if i % 97 == 0 else MODELS[(i // USERS) % len(MODELS)]
    tokens = TokenUsage(1000 + i % 5000, 100 + i % 900, (i % 3) * 1000, 20_000 + i % 30_000,
                        *((i % 3) * 400, (i % 3) * 600) if bedrock else (None, None))
    priced = not model.startswith("claude-experimental")
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    return UsageEvent(
        request_id=f"bench-{i:09d}",
        occurred_at=midnight + timedelta(microseconds=i * 86_400_000_000 // total),
        user_id=f"usr_{user:016x}", key_prefix="ak_Bench01", route="bedrock" if bedrock else "plan",
        endpoint="messages", status=status, streamed=True, duration_ms=float(2000 + i % 20_000),
        session_id=f"{user:08x}-0000-4000-8000-{i // 50:012x}", model=model,
        fallback_reason="plan_limit" if bedrock else None,
        bedrock_model_id=f"us.anthropic.{model}-v1:0" if bedrock else None,
        stop_reason="end_turn" if status == 200 else None,
        error_type="overloaded_error" if status == 529 else "invalid_request_error" if status == 400 else None,
        tokens=tokens, ttfb_ms=float(300 + i % 900), overhead_ms=1.25, upstream_request_id=f"req_011Bench{i:012d}",
        user_name=f"Developer {user} Ñandú", team=f"team-{user % TEAMS:02d}", cost_center=f"CC-{user % TEAMS:04d}",
        cost_usd=Decimal(i % 50_000) / Decimal(10_000_000) if priced else None, cost_known=priced,
        price_snapshot=_SNAPSHOT if priced else None,
    )


def _n(value: Any) -> dict[str, str]:
    return {"N": json.dumps(value)}


def item_of(event, retention: timedelta = timedelta(days=400)) -> dict[str, Any]:
    """The item ``UsageRepository.record`` writes for the event (its DynamoDB JSON), built without pynamodb."""
    t = event.tokens
    attributes: dict[str, Any] = {
        "request_id": {"S": event.request_id},
        "occurred_at": {"S": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
        "day": {"S": event.occurred_at.strftime("%Y-%m-%d")},
        "user_id": {"S": event.user_id}, "key_prefix": {"S": event.key_prefix},
        "session_id": {"S": event.session_id} if event.session_id else None,
        "model": {"S": event.model} if event.model else None, "route": {"S": event.route},
        "fallback_reason": {"S": event.fallback_reason} if event.fallback_reason else None,
        "bedrock_model_id": {"S": event.bedrock_model_id} if event.bedrock_model_id else None,
        "endpoint": {"S": event.endpoint}, "status": _n(event.status),
        "stop_reason": {"S": event.stop_reason} if event.stop_reason else None,
        "error_type": {"S": event.error_type} if event.error_type else None,
        "input_tokens": _n(t.input_tokens), "output_tokens": _n(t.output_tokens),
        "cache_creation_input_tokens": _n(t.cache_creation_input_tokens),
        "cache_read_input_tokens": _n(t.cache_read_input_tokens),
        "ttfb_ms": _n(round(event.ttfb_ms, 3)) if event.ttfb_ms is not None else None,
        "duration_ms": _n(round(event.duration_ms, 3)),
        "overhead_ms": _n(round(event.overhead_ms, 3)) if event.overhead_ms is not None else None,
        "streamed": {"BOOL": event.streamed}, "client_disconnected": {"BOOL": event.client_disconnected},
        "upstream_request_id": {"S": event.upstream_request_id} if event.upstream_request_id else None,
        "user_name": {"S": event.user_name} if event.user_name else None,
        "team": {"S": event.team} if event.team else None,
        "cost_center": {"S": event.cost_center} if event.cost_center else None,
        "cache_creation_5m_input_tokens": (_n(t.cache_creation_5m_input_tokens)
                                           if t.cache_creation_5m_input_tokens is not None else None),
        "cache_creation_1h_input_tokens": (_n(t.cache_creation_1h_input_tokens)
                                           if t.cache_creation_1h_input_tokens is not None else None),
        "cost_usd": ({"N": format(event.cost_usd.normalize() if event.cost_usd else Decimal(0), "f")}
                     if event.cost_usd is not None else None),
        "cost_known": {"BOOL": event.cost_known},
        "price_snapshot": {"S": orjson.dumps(event.price_snapshot).decode()} if event.price_snapshot else None,
        "expires_at": _n(int((event.occurred_at + retention).timestamp())),
    }
    return {name: value for name, value in attributes.items() if value is not None}


def check_items_are_what_record_writes(day: date, total: int) -> None:
    """The bench's fast item building must give the very items the proxy writes."""
    from unittest import mock

    from overspill.store.models import UsageEventModel
    from overspill.store.usage import UsageRepository

    written: list[dict[str, Any]] = []
    with mock.patch.object(UsageEventModel, "save", lambda self, **_: written.append(self.serialize())):
        repository = UsageRepository(retention=timedelta(days=400))
        for i in (0, 1, 7, 97, 101, 211, total - 1):
            event = usage_event(i, day, total)
            repository.record(event)
            if item_of(event) != written[-1]:
                raise AssertionError(f"bench item {i} differs from what record() writes:\n{item_of(event)}\n"
                                     f"{written[-1]}")


# --- moto, in its own process.

def serve_moto(port: int) -> None:
    from moto.server import main

    speed_up_moto()
    main(["-H", "127.0.0.1", "-p", str(port)])


def speed_up_moto() -> None:
    """The bench-only speed-ups described at the top, applied to moto in this process. Each falls back to moto's
    own code for anything but the plain requests the bench sends."""
    import re

    from boto3.dynamodb.types import DYNAMODB_CONTEXT
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import table as tables
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize
    from moto.dynamodb.responses import DynamoHandler

    def attribute_size(key: str, value: Any) -> int:
        return bytesize(key) + (value.size() if type(value) is DynamoType else bytesize(str(value)))

    def set_attribute(self: LimitedSizeDict, key: str, value: Any) -> None:
        # moto's check, as a running total: the sum of every key's and value's size, plus the new pair.
        total = self.__dict__.get("_size")
        if total is None:
            total = sum(attribute_size(k, v) for k, v in self.items())
        new = attribute_size(key, value)
        if total + new > 405000:
            raise ItemSizeTooLarge
        if key in self:
            total -= attribute_size(key, self[key])
        dict.__setitem__(self, key, value)
        self.__dict__["_size"] = total + new

    LimitedSizeDict.__setitem__ = set_attribute
    tables.StreamShard.add = lambda self, old, new: None

    # Requests: moto parses every JSON body through the botocore shape model (~0.3 ms an item); for these two
    # operations without binary attributes, the JSON itself is what that parse gives.
    moto_parse = DynamoHandler.parse_parameters
    binary = re.compile(rb'"BS?"\s*:')

    def parse_parameters(self, request) -> None:
        if self._get_action() in ("BatchWriteItem", "Query") and not binary.search(request.data):
            self.params = orjson.loads(request.data)
        else:
            moto_parse(self, request)

    DynamoHandler.parse_parameters = parse_parameters

    # Queries: moto scans and sorts the whole table for every page, then serialises each item through the
    # shape model; a day of a million events would take days. Serve "#key = :value" on an ALL-projection GSI
    # from that partition's items, sorted once (moto's order: the index's range key, then the table's key),
    # with moto's 1 MB page rule (its own item sizes) and moto's LastEvaluatedKey.
    moto_put, moto_delete, moto_query = tables.Table.put_item, tables.Table.delete_item, DynamoHandler.query
    plain_query = {"TableName", "IndexName", "KeyConditionExpression", "ExpressionAttributeNames",
                   "ExpressionAttributeValues", "ProjectionExpression", "ExclusiveStartKey"}
    equality = re.compile(r"\s*(#?\w+)\s*=\s*(:\w+)\s*")

    def forget_partitions(method):
        def changed(self, *args, **kwargs):
            self.__dict__.pop("_bench_partitions", None)
            return method(self, *args, **kwargs)
        return changed

    def partition(table, index, attribute: str, value: DynamoType, range_attribute: str):
        partitions = table.__dict__.setdefault("_bench_partitions", {})
        if (index.name, value) not in partitions:
            members = sorted((item for item in table.all_items()
                              if item.attrs.get(attribute) == value and item.attrs.get(range_attribute)),
                             key=lambda item: (item.attrs[range_attribute].value, item.hash_key.value))
            partitions[(index.name, value)] = (
                [(item.attrs[range_attribute].value, item.hash_key.value) for item in members],
                [(item, item.size()) for item in members])
        return partitions[(index.name, value)]

    def query(self):
        body = self.body
        condition = equality.fullmatch(body.get("KeyConditionExpression", ""))
        if not (condition and "IndexName" in body and set(body) <= plain_query):
            return moto_query(self)
        names = body.get("ExpressionAttributeNames", {})
        table = self.dynamodb_backend.get_table(body["TableName"])
        index = table.get_index(body["IndexName"])
        hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        attribute = names.get(condition[1], condition[1])
        projected = [names.get(p.strip(), p.strip()) for p in body.get("ProjectionExpression", "").split(",") if p]
        if (table.range_key_attr or hash_keys != [attribute] or len(range_keys) != 1
                or index.projection.get("ProjectionType") != "ALL" or any("." in p or "[" in p for p in projected)):
            return moto_query(self)
        keys, members = partition(table, index, attribute, DynamoType(body["ExpressionAttributeValues"][condition[2]]),
                                  range_keys[0])
        start = 0
        if "ExclusiveStartKey" in body:
            start_key = body["ExclusiveStartKey"]
            start = bisect.bisect_right(keys, (start_key[range_keys[0]]["S"], start_key[table.hash_key_attr]["S"]))
        page, size, last_evaluated_key = [], 0, None
        for item, item_size in members[start:]:
            if size + item_size > tables.RESULT_SIZE_LIMIT:
                last = table._get_last_evaluated_key(page[-1], index.name)
                last_evaluated_key = {name: value.to_json() for name, value in last.items()}
                break
            page.append(item)
            size += item_size
        if projected:  # moto projects through Python values and back: numbers come out as str(Decimal)
            items = [{name: ({"N": str(DYNAMODB_CONTEXT.create_decimal(item.attrs[name].value))}
                             if item.attrs[name].type == "N" else item.attrs[name].to_json())
                      for name in projected if name in item.attrs} for item in page]
        else:
            items = [{name: value.to_json() for name, value in item.attrs.items()} for item in page]
        result: dict[str, Any] = {"Count": len(page), "ScannedCount": len(page), "Items": items}
        if last_evaluated_key is not None:
            result["LastEvaluatedKey"] = last_evaluated_key
        return orjson.dumps(result).decode()

    tables.Table.put_item = forget_partitions(moto_put)
    tables.Table.delete_item = forget_partitions(moto_delete)
    DynamoHandler.query = query


@contextmanager
def moto_process(*, fast: bool = True) -> Iterator[str]:
    port = free_port()
    command = ([sys.executable, "-m", "bench.export", "--serve-moto", str(port)] if fast
               else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # freeing millions of items can take longer than the answer is worth
            process.kill()
            process.wait()


def provision(url: str) -> Settings:
    from overspill.local.provision import create_tables, ensure_bucket

    os.environ.update(_AWS_ENV)
    settings = Settings(aws_endpoint_url=url)
    create_tables(settings)
    ensure_bucket(settings)
    return settings


def _load(url: str, table: str, day: date, total: int, first: int, last: int) -> None:
    with httpx.Client(base_url=url, headers=_BATCH_HEADERS, timeout=120) as http:
        for start in range(first, last, BATCH):
            puts = [{"PutRequest": {"Item": item_of(usage_event(i, day, total))}}
                    for i in range(start, min(start + BATCH, last))]
            response = http.post("/", content=orjson.dumps({"RequestItems": {table: puts}}))
            if response.status_code != 200 or response.json().get("UnprocessedItems"):
                raise RuntimeError(f"BatchWriteItem failed: {response.status_code} {response.text[:300]}")


def fill(settings: Settings, day: date, total: int, loaders: int) -> float:
    """Write ``total`` events for ``day``; returns the seconds it took."""
    started = time.perf_counter()
    share = -(-total // loaders)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_load, args=(settings.aws_endpoint_url, settings.usage_table, day, total,
                                                    n * share, min(total, (n + 1) * share)))
               for n in range(loaders)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError("a loader failed")
    return time.perf_counter() - started


def query_pages(settings: Settings, day: date, pages: int | None = None, *,
                exporters: bool = False) -> list[dict[str, Any]]:
    """The day's Query pages: the plain query, or the exporter's own request (its projection)."""
    import boto3
    from botocore.config import Config

    from overspill.exports.source import DayEvents

    # A long read timeout: the bench's moto sorts a partition on its first query (a minute for a million items),
    # and moto's own serialises each item through the shape model (seconds a page).
    dynamodb = boto3.client("dynamodb", endpoint_url=settings.aws_endpoint_url, region_name=settings.region,
                            config=Config(read_timeout=900, retries={"max_attempts": 1}))
    request: dict[str, Any] = (DayEvents(settings).request(day) if exporters else {
        "TableName": settings.usage_table, "IndexName": "by_day", "KeyConditionExpression": "#d = :d",
        "ExpressionAttributeNames": {"#d": "day"}, "ExpressionAttributeValues": {":d": {"S": day.isoformat()}}})
    answers = []
    while True:
        page = dynamodb.query(**request)
        answers.append({"Items": page["Items"], "LastEvaluatedKey": page.get("LastEvaluatedKey")})
        if "LastEvaluatedKey" not in page or len(answers) == pages:
            return answers
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def verify_fast_moto(day: date, events: int = 2000) -> int:
    """The bench's moto answers the day's queries (the plain one, and the exporter's with its projection) exactly
    as moto's own does; returns how many pages were compared."""
    answers = []
    for fast in (False, True):
        with moto_process(fast=fast) as url:
            settings = provision(url)
            fill(settings, day, events, loaders=1)
            answers.append((query_pages(settings, day), query_pages(settings, day, exporters=True)))
    if answers[0] != answers[1]:
        raise AssertionError("the bench's moto answers differently from moto's own")
    return sum(len(pages) for pages in answers[0])


# --- The export, in a fresh process.

def _memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Not ru_maxrss: Linux carries the launching process's peak
    across fork and exec into it, so a child would report at least its parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: an upper bound


def export_day(url: str, day: str) -> None:
    """Runs in the measured subprocess: export one day, print what happened as JSON."""
    from overspill.exports.service import Exporter

    os.environ.update(_AWS_ENV)
    exporter = Exporter(Settings(aws_endpoint_url=url))
    baseline_mb = _memory_mb("VmRSS")
    started = time.perf_counter()
    summary = exporter.run(exporter.plan(day, day))
    elapsed = time.perf_counter() - started
    [daily] = summary.files
    print(json.dumps({"seconds": elapsed, "events": summary.events_read, "rows": daily.row_count,
                      "csv_bytes": len(daily.csv), "baseline_rss_mb": baseline_mb,
                      "peak_rss_mb": _memory_mb("VmHWM")}))


def measure_export(settings: Settings, day: date) -> dict[str, Any]:
    process = subprocess.Popen([sys.executable, "-m", "bench.export", "--export-day", day.isoformat(),
                                "--endpoint", settings.aws_endpoint_url or ""],
                               cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, **_AWS_ENV})
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own CPU time, from the kernel
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"the export failed (exit {process.returncode})")
    result = json.loads(output)
    result.update(cpu_s=usage.ru_utime + usage.ru_stime)
    return result


def run(events: int = 1_000_000, loaders: int = 2, verify: bool = True) -> list[dict[str, Any]]:
    day = datetime.now(UTC).date() - timedelta(days=1)
    check_items_are_what_record_writes(day, events)
    pages_checked = verify_fast_moto(day) if verify else 0
    with moto_process() as url:
        settings = provision(url)
        fill_s = fill(settings, day, events, loaders)
        print(f"export bench: moto holds {events:,} events ({fill_s:.0f} s)", file=sys.stderr, flush=True)
        # DynamoDB maintains the index as items are written; the bench's moto sorts the partition on its first
        # query. Do that before the measurement.
        query_pages(settings, day, pages=1)
        export = measure_export(settings, day)
    if export["events"] != events:
        raise AssertionError(f"exported {export['events']} events of {events}")
    return [{
        "events": events, "loaders": loaders, "fill_s": fill_s, "fill_events_per_s": events / fill_s,
        "export_s": export["seconds"], "events_per_s": events / export["seconds"], "cpu_s": export["cpu_s"],
        "cpu_us_per_event": export["cpu_s"] / events * 1e6, "rows": export["rows"], "csv_bytes": export["csv_bytes"],
        "baseline_rss_mb": export["baseline_rss_mb"], "peak_rss_mb": export["peak_rss_mb"],
        "target_mb": TARGET_PEAK_MB, "met": export["peak_rss_mb"] <= TARGET_PEAK_MB,
        "verified_pages": pages_checked,
    }]


def describe(row: dict[str, Any]) -> str:
    return (f"export: {row['events']:,} events of one day in {row['export_s']:.1f} s ({row['events_per_s']:,.0f} "
            f"events/s; exporter CPU {row['cpu_us_per_event']:.1f} µs/event) → {row['rows']:,} rows; peak RSS "
            f"{row['peak_rss_mb']:.0f} MB (after imports {row['baseline_rss_mb']:.0f} MB; target ≤ "
            f"{row['target_mb']} MB: {'met' if row['met'] else 'MISSED'}); filling moto took {row['fill_s']:.0f} s "
            f"({row['fill_events_per_s']:,.0f} events/s, {row['loaders']} loaders)")


def render(rows: list[dict[str, Any]]) -> str:
    """A docs/performance.md section."""
    lines = [
        "## Finance export",
        "",
        "One UTC day of usage events (2,000 users in 25 teams, 5 models + an unpriced one, 15 % Bedrock) exported "
        "by `overspill.exports` in a fresh process against a moto server in its own process (`bench/export.py` "
        "says how moto was filled and sped up, and checks it answers exactly as moto does). Peak RSS is the "
        "exporting process's own, from the kernel.",
        "",
        "| events | export time | events/s | exporter process CPU per event (start-up included) | rows "
        "| peak RSS (after imports) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['events']:,} | {row['export_s']:.1f} s | {row['events_per_s']:,.0f} | "
                     f"{row['cpu_us_per_event']:.1f} µs | {row['rows']:,} | {row['peak_rss_mb']:.0f} MB "
                     f"({row['baseline_rss_mb']:.0f} MB) | ≤ {row['target_mb']} MB: "
                     f"{'met' if row['met'] else 'MISSED'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the exported day [1,000,000]")
    parser.add_argument("--loaders", type=int, default=2, help="processes writing to moto [2]")
    parser.add_argument("--no-verify", action="store_true", help="skip checking the bench's moto against moto's")
    parser.add_argument("--write", metavar="PATH", type=Path, help="also write the report section to PATH")
    parser.add_argument("--serve-moto", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--export-day", metavar="YYYY-MM-DD", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_moto:
        serve_moto(args.serve_moto)
        return 0
    if args.export_day:
        export_day(args.endpoint, args.export_day)
        return 0
    rows = run(args.events, args.loaders, verify=not args.no_verify)
    for row in rows:
        print(describe(row), flush=True)
    report = render(rows)
    print("\n" + report)
    if args.write:
        args.write.write_text("# Performance: the million-event export\n\nWritten by `python -m bench.export "
                              f"--events {args.events} --write {args.write}` on {os.cpu_count()} cores, Python "
                              f"{platform.python_version()}, "
                              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC (`make bench` runs a smaller day; see "
                              "performance.md).\n\n" + report.split("\n", 1)[1].lstrip("\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
