"""Finance exports through the admin API: an admin runs one, finance lists it and downloads the CSV through its
pre-signed link; bad requests are refused naming the field and write nothing.

The link is fetched with ``requests``: moto (in-process) answers pre-signed URLs only through botocore and the
``requests`` library it patches, never over a socket, so httpx cannot reach it. moto checks neither signature
nor expiry, so the link's lifetime is checked on the URL itself."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from overspill.exports import invocation
from overspill.exports.service import Exporter
from overspill.store.usage import UsageRepository
from overspill.usage.events import TokenUsage, UsageEvent
from tests.support.admin import AdminHarness

TODAY = datetime.now(UTC).date()
_request_ids = count()


def record(admin: AdminHarness, day: date, user_id: str = "usr_ada", *, cost: str = "0.0123456789",
           hour: int = 12) -> None:
    event = UsageEvent(
        request_id=f"req_{next(_request_ids):06d}", occurred_at=datetime(day.year, day.month, day.day, hour,
                                                                          tzinfo=UTC),
        user_id=user_id, key_prefix="ak_1234567", route="plan", endpoint="messages", status=200, streamed=True,
        duration_ms=812.5, model="claude-sonnet-4-5-20250929", tokens=TokenUsage(1000, 200, 300, 4000, 100, 200),
        user_name=user_id.removeprefix("usr_").title(), team="platform", cost_center="CC-1", cost_usd=Decimal(cost),
        cost_known=True, price_snapshot={"input_per_mtok": "3"}, session_id="s-1", ttfb_ms=120.0,
    )
    UsageRepository(retention=timedelta(days=admin.settings.usage_ttl_days)).record(event)


def bucket_keys(admin: AdminHarness) -> list[str]:
    s3 = boto3.client("s3", region_name=admin.settings.region)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=admin.settings.exports_bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def run(admin: AdminHarness, kind: str, first: date, last: date) -> dict:
    response = admin.call("POST", "/api/exports", json={"kind": kind, "from": str(first), "to": str(last)})
    assert response.status_code == 201, response.text
    return response.json()


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def last_month() -> tuple[date, date]:
    end = TODAY.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def months_before(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def refused_field(response) -> str:
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]
    assert len(fields) == 1, fields
    return fields[0]["field"]


def test_an_admin_runs_an_export_and_finance_lists_and_downloads_the_csv_with_its_rows(admin: AdminHarness):
    first, second = TODAY - timedelta(days=3), TODAY - timedelta(days=2)
    record(admin, first, "usr_ada")
    record(admin, first, "usr_zoe", cost="0.5")
    record(admin, second, "usr_ada")

    result = run(admin, "daily", first, second)

    assert (result["from"], result["to"], result["events_read"]) == (str(first), str(second), 3)
    assert result["totals"]["cost_usd"] == "0.5246913578" and result["totals"]["requests"] == 3
    assert [(w["kind"], w["period"], w["rows"]) for w in result["written"]] == [
        ("daily", str(first), 2), ("daily", str(second), 1)]
    [entry] = admin.audit(target_type="export")
    assert (entry["action"], entry["actor"], entry["target_id"]) == ("export.run", "alice",
                                                                     f"daily:{first}..{second}")
    assert entry["after"]["events_read"] == 3 and entry["after"]["cost_usd"] == "0.5246913578"

    listed = admin.call("GET", "/api/exports", token=admin.finance_token,
                        params={"kind": "daily", "from": str(first), "to": str(second)})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["period"] for i in items] == [str(second), str(first)]   # newest first
    day = items[1]
    assert (day["rows"], day["events_read"], day["complete"]) == (2, 2, True)
    assert day["totals"]["cost_usd"] == "0.5123456789" and day["totals"]["input_tokens"] == 2000

    link = admin.call("GET", f"/api/exports/daily/{first}/download", token=admin.finance_token)
    assert link.status_code == 200, link.text
    assert link.json()["filename"] == f"usage-{first}.csv"
    download = requests.get(link.json()["url"], timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="usage-{first}.csv"'
    assert [(r["date"], r["user_id"], r["requests"], r["cost_usd"]) for r in csv_rows(download.content)] == [
        (str(first), "usr_ada", "1", "0.0123456789"), (str(first), "usr_zoe", "1", "0.5000000000")]
    # What the listing says about the file is true of the bytes downloaded.
    assert hashlib.sha256(download.content).hexdigest() == day["sha256"]
    assert len(download.content) == day["csv_bytes"]
    manifest = requests.get(link.json()["manifest_url"], timeout=10).json()
    assert manifest["csv_sha256"] == day["sha256"] and manifest["row_count"] == 2


def test_a_download_link_is_signed_for_the_csv_and_expires_after_15_minutes(admin: AdminHarness):
    day = TODAY - timedelta(days=1)
    run(admin, "daily", day, day)
    before = datetime.now(UTC).replace(microsecond=0)

    link = admin.call("GET", f"/api/exports/daily/{day}/download", token=admin.finance_token).json()

    url = urlsplit(link["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.scheme == "https" and url.hostname == f"{admin.settings.exports_bucket}.s3.amazonaws.com"
    assert url.path == f"/usage/daily/dt%3D{day}/usage-{day}.csv"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-Expires"] == "900"
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)
    expires_at = datetime.fromisoformat(link["expires_at"])
    # The stated expiry is never later than the signature's.
    assert signed_at + timedelta(minutes=15) - timedelta(seconds=5) <= expires_at <= signed_at + timedelta(minutes=15)
    assert "X-Amz-Signature" in query and f"dt%3D{day}.json" in link["manifest_url"]


def test_the_listing_shows_only_the_range_asked_for_and_by_default_the_last_30_days(admin: AdminHarness):
    recent, old = TODAY - timedelta(days=2), TODAY - timedelta(days=40)
    run(admin, "daily", recent, recent)
    run(admin, "daily", old, old)

    by_default = admin.call("GET", "/api/exports", token=admin.finance_token).json()
    assert [i["period"] for i in by_default["items"]] == [str(recent)]
    assert (by_default["from"], by_default["to"]) == (str(TODAY - timedelta(days=29)), str(TODAY))
    around_old = admin.call("GET", "/api/exports", token=admin.finance_token,
                            params={"from": str(old - timedelta(days=1)), "to": str(old + timedelta(days=1))})
    assert [i["period"] for i in around_old.json()["items"]] == [str(old)]
    ending_before = admin.call("GET", "/api/exports", token=admin.finance_token,
                               params={"from": str(old - timedelta(days=5)), "to": str(old - timedelta(days=1))})
    assert ending_before.json()["items"] == []


def test_a_monthly_export_of_last_month_is_listed_and_downloadable_by_month(admin: AdminHarness):
    first, last = last_month()
    record(admin, first, "usr_ada", hour=0)
    record(admin, last, "usr_ada", hour=23)

    result = run(admin, "monthly", first, last)

    month = first.strftime("%Y-%m")
    assert [w["period"] for w in result["written"] if w["kind"] == "monthly"] == [month]
    assert sum(1 for w in result["written"] if w["kind"] == "daily") == last.day
    listed = admin.call("GET", "/api/exports", token=admin.finance_token, params={"kind": "monthly"}).json()
    assert [(i["period"], i["rows"], i["totals"]["requests"]) for i in listed["items"]] == [(month, 1, 2)]
    link = admin.call("GET", f"/api/exports/monthly/{month}/download", token=admin.finance_token).json()
    assert [(r["month"], r["requests"], r["cost_usd"]) for r in csv_rows(requests.get(link["url"], timeout=10)
                                                                          .content)] == [(month, "2",
                                                                                          "0.0246913578")]


def test_a_run_through_the_api_writes_the_same_csv_bytes_as_the_export_function(admin: AdminHarness):
    day = TODAY - timedelta(days=5)
    record(admin, day, "usr_ada")
    record(admin, day, "usr_li", cost="1.25")

    through_api = run(admin, "daily", day, day)["written"]
    through_function = invocation.handle_export_event({"from": str(day), "to": str(day)}, Exporter(admin.settings))

    assert [w["sha256"] for w in through_api] == [f["sha256"] for f in through_function["files"]]


def test_finance_may_list_and_download_but_not_run_an_export(admin: AdminHarness):
    day = TODAY - timedelta(days=1)
    response = admin.call("POST", "/api/exports", token=admin.finance_token,
                          json={"kind": "daily", "from": str(day), "to": str(day)})
    assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"
    assert bucket_keys(admin) == []
    assert admin.call("GET", "/api/exports", token=admin.finance_token).status_code == 200
    assert admin.call("GET", "/api/exports", token=None).status_code == 401
    assert admin.call("GET", f"/api/exports/daily/{day}/download", token=None).status_code == 401


def test_a_download_of_an_export_that_was_never_run_is_a_404(admin: AdminHarness):
    response = admin.call("GET", f"/api/exports/daily/{TODAY - timedelta(days=3)}/download",
                          token=admin.finance_token)
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"


@pytest.fixture
def nothing_written(admin: AdminHarness) -> Iterator[AdminHarness]:
    yield admin
    assert bucket_keys(admin) == []
    assert admin.audit(target_type="export") == []


yesterday = TODAY - timedelta(days=1)


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"kind": "weekly", "from": str(yesterday), "to": str(yesterday)}, "kind", "'daily' or 'monthly'"),
    ({"kind": "daily", "from": "yesterday", "to": str(yesterday)}, "from", "YYYY-MM-DD"),
    ({"kind": "daily", "from": str(yesterday), "to": "2026-02-30"}, "to", "not a calendar date"),
    ({"kind": "daily", "from": str(yesterday), "to": str(yesterday - timedelta(days=2))}, "to", "reversed"),
    ({"kind": "daily", "from": str(yesterday), "to": str(TODAY + timedelta(days=1))}, "to", "future"),
    ({"kind": "daily", "from": str(TODAY - timedelta(days=500)), "to": str(TODAY - timedelta(days=490))}, "from",
     "older than the raw usage events are kept"),
    ({"kind": "daily", "from": str(TODAY - timedelta(days=32)), "to": str(yesterday)}, "to", "at most 31"),
    ({"kind": "monthly", "from": str(last_month()[0] + timedelta(days=1)), "to": str(last_month()[1])}, "from",
     "first day of a month"),
    ({"kind": "monthly", "from": str(last_month()[0]), "to": str(last_month()[1] - timedelta(days=1))}, "to",
     "last day of a month"),
    ({"kind": "daily", "from": str(yesterday), "to": str(yesterday), "format": "csv"}, "format", "not a field"),
    ({"kind": "daily", "from": str(yesterday)}, "to", "required"),
], ids=["unknown-kind", "malformed-date", "impossible-date", "reversed", "future", "beyond-retention",
        "too-many-days", "monthly-mid-month-start", "monthly-mid-month-end", "unknown-field", "missing-to"])
def test_a_run_that_is_refused_names_the_field_and_writes_nothing(nothing_written: AdminHarness, body: dict,
                                                                    field: str, says: str):
    response = nothing_written.call("POST", "/api/exports", json=body)
    assert refused_field(response) == field
    assert says in response.json()["error"]["fields"][0]["message"]


def test_a_monthly_run_of_more_than_12_months_is_refused_and_writes_nothing():
    # The default retention (400 days) rarely leaves 13 whole months to ask for; a longer one does.
    with AdminHarness(usage_ttl_days=800) as admin:
        first, last = last_month()
        response = admin.call("POST", "/api/exports",
                              json={"kind": "monthly", "from": str(months_before(first, 12)), "to": str(last)})
        assert refused_field(response) == "to" and "at most 12" in response.json()["error"]["message"]
        assert bucket_keys(admin) == []


@pytest.mark.parametrize(("params", "field"), [
    ({"kind": "weekly"}, "kind"),
    ({"from": "last week"}, "from"),
    ({"from": str(yesterday), "to": str(yesterday - timedelta(days=1))}, "to"),
    ({"from": str(TODAY - timedelta(days=400)), "to": str(TODAY)}, "to"),
    ({"kind": "monthly", "from": str(months_before(TODAY.replace(day=1), 36)), "to": str(TODAY)}, "to"),
], ids=["unknown-kind", "malformed-date", "reversed", "more-than-a-year-of-days", "more-than-36-months"])
def test_a_listing_of_a_bad_range_is_refused_naming_the_field(admin: AdminHarness, params: dict, field: str):
    assert refused_field(admin.call("GET", "/api/exports", token=admin.finance_token, params=params)) == field


@pytest.mark.parametrize(("path", "field"), [
    ("/api/exports/weekly/2026-02-14/download", "kind"),
    ("/api/exports/daily/2026-02/download", "period"),
    ("/api/exports/daily/2026-02-30/download", "period"),
    ("/api/exports/monthly/2026-02-14/download", "period"),
    ("/api/exports/monthly/2026-13/download", "period"),
    ("/api/exports/daily/last-week/download", "period"),
], ids=["unknown-kind", "month-for-daily", "impossible-date", "date-for-monthly", "impossible-month", "words"])
def test_a_download_of_a_malformed_period_is_refused_naming_the_field(admin: AdminHarness, path: str, field: str):
    assert refused_field(admin.call("GET", path, token=admin.finance_token)) == field
