"""Finance exports against moto: the files in the bucket, re-runs, late events, refused ranges, the Lambda."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from overspill.config import Settings
from overspill.exports import invocation
from overspill.exports.periods import ExportRequestError
from overspill.exports.service import Exporter
from overspill.exports.source import DayEvents, decode
from overspill.local.dev import load_function
from overspill.local.function_url import LocalContext
from overspill.local.provision import create_tables, ensure_bucket
from overspill.store.models import bind_models
from overspill.store.usage import UsageRepository
from overspill.usage.events import TokenUsage, UsageEvent
from tests.support.gateway import TEST_AWS_ENV

# 03:00 UTC on 2 March 2026: February and 1 March have settled; 2 March is today.
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@dataclass
class Aws:
    settings: Settings
    usage: UsageRepository
    s3: Any

    def keys(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.settings.exports_bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.settings.exports_bucket, Key=key)["Body"].read()

    def exporter(self, clock=lambda: NOW) -> Exporter:
        return Exporter(self.settings, clock=clock)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        settings = Settings()
        create_tables(settings)
        ensure_bucket(settings)
        bind_models(settings)
        yield Aws(settings, UsageRepository(retention=timedelta(days=settings.usage_ttl_days)), boto3.client("s3"))


_request_ids = iter(range(1_000_000))


def usage(at: datetime, user_id: str = "usr_ada", *, name: str = "Ada", team: str | None = "platform",
          model: str = "claude-sonnet-4-5-20250929", route: str = "plan", status: int = 200,
          cost: str | None = "0.0123456789", cost_center: str | None = "CC-1") -> UsageEvent:
    return UsageEvent(
        request_id=f"req_{next(_request_ids):06d}", occurred_at=at, user_id=user_id, key_prefix="ak_1234567",
        route=route, endpoint="messages", status=status, streamed=True, duration_ms=812.5, model=model,
        tokens=TokenUsage(1000, 200, 300, 4000, 100, 200), user_name=name, team=team, cost_center=cost_center,
        cost_usd=None if cost is None else Decimal(cost), cost_known=cost is not None,
        price_snapshot={"input_per_mtok": "3"}, session_id="s-1", ttfb_ms=120.0,
    )


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def rows(body: bytes) -> list[dict[str, str]]:
    """Read back as a Glue/Athena-style CSV reader would: header row, RFC 4180 quoting, UTF-8."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def test_a_month_exports_a_file_per_day_and_one_for_the_month_under_hive_style_keys(aws):
    for day in ("2026-02-01", "2026-02-14", "2026-02-28"):
        aws.usage.record(usage(at(day)))
    aws.usage.record(usage(at("2026-02-14", 13), "usr_zoe", name="Zoë Ångström", route="bedrock"))

    summary = aws.exporter().run(aws.exporter().plan("2026-02-01", "2026-02-28"))

    days = [f"2026-02-{d:02d}" for d in range(1, 29)]
    assert aws.keys() == sorted(
        [f"usage/daily/dt={d}/usage-{d}.csv" for d in days] + [f"manifests/daily/dt={d}.json" for d in days]
        + ["usage/monthly/month=2026-02/usage-2026-02.csv", "manifests/monthly/month=2026-02.json"])
    # Nothing but CSV under the data prefixes, or Athena would read it as rows.
    assert all(k.endswith(".csv") for k in aws.keys() if k.startswith("usage/"))
    month = rows(aws.read("usage/monthly/month=2026-02/usage-2026-02.csv"))
    assert [(r["month"], r["user_id"], r["route"], r["requests"], r["cost_usd"]) for r in month] == [
        ("2026-02", "usr_ada", "plan", "3", "0.0370370367"), ("2026-02", "usr_zoe", "bedrock", "1", "0.0123456789")]
    manifest = json.loads(aws.read("manifests/monthly/month=2026-02.json"))
    assert manifest["source"] == {"usage_table": aws.settings.usage_table, "from": "2026-02-01T00:00:00Z",
                                  "to": "2026-03-01T00:00:00Z", "events_read": 4}
    assert manifest["totals"]["cost_usd"] == "0.0493827156" and manifest["complete"] is True
    assert summary.as_dict()["events_read"] == 4 and len(summary.files) == 29


def test_the_files_hold_what_was_recorded_with_each_column_read_back_as_written(aws):
    aws.usage.record(usage(at("2026-02-14", 9), "usr_li", name="李雷", team="R&D, Berlin", cost_center='CC "7"'))
    aws.usage.record(usage(at("2026-02-14", 10), "usr_li", name="李雷", team="R&D, Berlin", cost_center='CC "7"',
                           status=529, cost=None))
    exporter = aws.exporter()
    exporter.run(exporter.plan("2026-02-14", "2026-02-14"))

    body = aws.read("usage/daily/dt=2026-02-14/usage-2026-02-14.csv")
    assert body.endswith(b"\r\n") and not body.startswith(b"\xef\xbb\xbf")
    assert rows(body) == [{
        "date": "2026-02-14", "user_id": "usr_li", "user_name": "李雷", "team": "R&D, Berlin",
        "cost_center": 'CC "7"', "model": "claude-sonnet-4-5-20250929", "route": "plan", "requests": "2",
        "errors": "1", "input_tokens": "2000", "output_tokens": "400", "cache_write_5m_tokens": "200",
        "cache_write_1h_tokens": "400", "cache_read_tokens": "8000", "cost_usd": "0.0123456789",
        "unpriced_requests": "1",
    }]
    head = aws.s3.head_object(Bucket=aws.settings.exports_bucket, Key="usage/daily/dt=2026-02-14/usage-2026-02-14.csv")
    assert head["ContentType"].startswith("text/csv; charset=utf-8")
    manifest = json.loads(aws.read("manifests/daily/dt=2026-02-14.json"))
    assert manifest["csv_sha256"] == hashlib.sha256(body).hexdigest() and manifest["csv_bytes"] == len(body)


def test_reading_the_day_index_gives_the_events_as_recorded(aws):
    recorded = [usage(at("2026-02-14", h), cost=None if h == 3 else "0.5") for h in range(6)]
    for event in recorded:
        aws.usage.record(event)
    read = sorted(DayEvents(aws.settings).on(date(2026, 2, 14)), key=lambda e: e.request_id)

    def charged(e: UsageEvent) -> tuple:
        return (e.request_id, e.occurred_at, e.user_id, e.user_name, e.team, e.cost_center, e.model, e.route,
                e.status, e.tokens, e.cost_usd, e.cost_known)

    assert [charged(e) for e in read] == [charged(e) for e in recorded]
    # The same items as botocore parses them (what the reader falls back to without its fast path).
    parsed = boto3.client("dynamodb").query(
        TableName=aws.settings.usage_table, IndexName="by_day", KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "day"}, ExpressionAttributeValues={":d": {"S": "2026-02-14"}})["Items"]
    assert sorted((charged(decode(i)) for i in parsed), key=lambda c: c[0]) == [charged(e) for e in recorded]


def test_exporting_again_writes_the_same_bytes(aws):
    for hour in range(5):
        aws.usage.record(usage(at("2026-02-27", hour), f"usr_{hour % 2}"))
    clock = iter([NOW + timedelta(seconds=s) for s in range(1000)])
    exporter = aws.exporter(clock=lambda: next(clock))

    exporter.run(exporter.plan("2026-02-01", "2026-02-28"))
    first = {key: aws.read(key) for key in aws.keys()}
    exporter.run(exporter.plan("2026-02-01", "2026-02-28"))
    second = {key: aws.read(key) for key in aws.keys()}

    assert first.keys() == second.keys()
    for key in first:
        if key.endswith(".csv"):
            assert first[key] == second[key], key
        else:
            before, after = json.loads(first[key]), json.loads(second[key])
            assert before.pop("generated_at") != after.pop("generated_at")
            assert before == after, key


def test_a_late_event_is_in_the_files_after_exporting_again(aws):
    aws.usage.record(usage(at("2026-02-28", 23, 50)))
    exporter = aws.exporter()
    exporter.run(exporter.plan("2026-02-28", "2026-02-28"))
    assert rows(aws.read("usage/daily/dt=2026-02-28/usage-2026-02-28.csv"))[0]["requests"] == "1"

    # Written after the first export (a request that started at 23:59 and streamed for minutes).
    aws.usage.record(usage(at("2026-02-28", 23, 59), cost="1"))
    exporter.run(exporter.plan("2026-02-28", "2026-02-28"))

    [row] = rows(aws.read("usage/daily/dt=2026-02-28/usage-2026-02-28.csv"))
    assert (row["requests"], row["cost_usd"]) == ("2", "1.0123456789")
    assert json.loads(aws.read("manifests/daily/dt=2026-02-28.json"))["source"]["events_read"] == 2


def test_a_day_still_settling_is_marked_incomplete(aws):
    aws.usage.record(usage(at("2026-03-02", 1)))
    exporter = aws.exporter()
    exporter.run(exporter.plan("2026-03-01", "2026-03-02"))
    assert json.loads(aws.read("manifests/daily/dt=2026-03-01.json"))["complete"] is True  # ended 3 h ago
    assert json.loads(aws.read("manifests/daily/dt=2026-03-02.json"))["complete"] is False  # today


def test_an_empty_day_gets_a_header_only_csv_and_a_zero_manifest(aws):
    exporter = aws.exporter()
    exporter.run(exporter.plan("2026-02-10", "2026-02-10"))
    body = aws.read("usage/daily/dt=2026-02-10/usage-2026-02-10.csv")
    assert body.count(b"\r\n") == 1 and body.startswith(b"date,user_id,user_name,")
    assert rows(body) == []
    manifest = json.loads(aws.read("manifests/daily/dt=2026-02-10.json"))
    assert manifest["row_count"] == 0 and manifest["source"]["events_read"] == 0
    assert manifest["totals"]["requests"] == 0 and manifest["totals"]["cost_usd"] == "0.0000000000"


@pytest.mark.parametrize(("first", "last", "message"), [
    ("2026-03-01", "2026-03-03", "the range ends in the future: 2026-03-03 is after today (2026-03-02, UTC)"),
    ("2026-02-10", "2026-02-01", "the range is reversed: from 2026-02-10 is after to 2026-02-01"),
    ("2025-01-01", "2025-01-31", "2025-01-01 is older than the raw usage events are kept (400 days"),
    ("2026-02-30", "2026-03-01", "from '2026-02-30' is not a calendar date"),
    ("1/2/2026", "2026-03-01", "from '1/2/2026' is not a date written YYYY-MM-DD"),
])
def test_refused_ranges_say_why_and_write_nothing(aws, first, last, message):
    aws.usage.record(usage(at("2026-02-01")))
    exporter = aws.exporter()
    with pytest.raises(ExportRequestError) as refused:
        exporter.run(exporter.plan(first, last))
    assert message in str(refused.value)
    assert aws.keys() == []


def test_beyond_retention_keeps_the_files_already_written(aws):
    long_ago = NOW - timedelta(days=500)
    exporter = aws.exporter(clock=lambda: long_ago)
    exporter.run(exporter.plan(long_ago.date().isoformat(), long_ago.date().isoformat()))
    written = {key: aws.read(key) for key in aws.keys()}

    with pytest.raises(ExportRequestError, match="The existing files are kept"):
        aws.exporter().plan(long_ago.date().isoformat(), long_ago.date().isoformat())
    assert {key: aws.read(key) for key in aws.keys()} == written


# --- The Lambda function, as EventBridge and an operator invoke it.

@pytest.fixture
def export_function(aws, monkeypatch):
    monkeypatch.setattr(invocation, "_exporter", aws.exporter())  # the instance's exporter, on a fixed clock
    handler = load_function("export")
    return lambda event: handler(event, LocalContext("overspill-export"))


def test_the_daily_schedule_exports_yesterday(aws, export_function):
    aws.usage.record(usage(at("2026-03-01", 8)))
    aws.usage.record(usage(at("2026-03-02", 1)))  # today: not part of yesterday's file

    result = export_function({"kind": "daily"})

    assert (result["from"], result["to"]) == ("2026-03-01", "2026-03-01")
    assert [(f["kind"], f["period"], f["rows"], f["complete"]) for f in result["files"]] == [
        ("daily", "2026-03-01", 1, True)]
    assert result["totals"]["requests"] == 1 and result["events_read"] == 1
    assert aws.keys() == ["manifests/daily/dt=2026-03-01.json", "usage/daily/dt=2026-03-01/usage-2026-03-01.csv"]
    json.dumps(result)  # the summary goes back to the invoker as JSON


def test_the_monthly_schedule_exports_last_month_with_its_days(aws, export_function):
    aws.usage.record(usage(at("2026-02-03")))
    aws.usage.record(usage(at("2026-02-27"), "usr_bob", name="Bob"))

    result = export_function({"kind": "monthly"})

    assert (result["from"], result["to"]) == ("2026-02-01", "2026-02-28")
    assert [f["period"] for f in result["files"] if f["kind"] == "monthly"] == ["2026-02"]
    assert len([f for f in result["files"] if f["kind"] == "daily"]) == 28
    assert [r["user_id"] for r in rows(aws.read("usage/monthly/month=2026-02/usage-2026-02.csv"))] == [
        "usr_ada", "usr_bob"]


def test_an_on_demand_invocation_exports_the_range_asked_for(aws, export_function):
    aws.usage.record(usage(at("2026-02-20")))
    result = export_function({"from": "2026-02-19", "to": "2026-02-20"})
    assert [f["period"] for f in result["files"]] == ["2026-02-19", "2026-02-20"]
    assert result["files"][1]["csv_key"] == "usage/daily/dt=2026-02-20/usage-2026-02-20.csv"


@pytest.mark.parametrize(("event", "message"), [
    ({"kind": "weekly"}, 'an export event is {"kind": "daily"}, {"kind": "monthly"} or {"from": "YYYY-MM-DD"'),
    ({"from": "2026-02-01"}, "got ['from']"),
    ({"version": "0", "detail-type": "Scheduled Event"}, "got ['detail-type', 'version']"),
    ({"from": "2026-02-20", "to": "2026-03-20"}, "the range ends in the future"),
])
def test_a_bad_invocation_fails_with_what_to_send_instead(aws, export_function, event, message):
    with pytest.raises(ExportRequestError) as refused:
        export_function(event)
    assert message in str(refused.value)
    assert aws.keys() == []


def test_the_function_logs_the_summary_without_names(aws, export_function, captured_logs):
    aws.usage.record(usage(at("2026-03-01"), name="Zoë Secret-Name"))
    export_function({"kind": "daily"})
    logged = captured_logs.getvalue()
    assert '"export written"' in logged and '"events_read":1' in logged.replace(" ", "")
    assert "Secret-Name" not in logged

