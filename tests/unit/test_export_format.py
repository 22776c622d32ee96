"""What finance gets in the export files: the exact CSV and manifest bytes for a fixed set of usage events.

The golden files under tests/fixtures/exports/ are the contract; regenerate them (after checking the change
is intended) with ``OVERSPILL_UPDATE_GOLDEN=1 pytest tests/unit/test_export_format.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overspill.exports.files import VALUE_COLUMNS, columns, csv_key, format_usd, manifest_key, render, render_csv
from overspill.exports.periods import (
    ExportRequestError,
    Period,
    PeriodKind,
    parse_day,
    plan_export,
    previous_day,
    previous_month,
)
from overspill.exports.rows import PeriodUsage
from overspill.usage.events import TokenUsage, UsageEvent
from overspill.usage.rollups import COUNTER_FIELDS

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
GENERATED_AT = datetime(2026, 4, 2, 3, 0, 0, tzinfo=UTC)


def event(at: str, user_id: str, *, name: str | None, team: str | None = "platform", cost_center: str | None = None,
          model: str | None = "claude-sonnet-4-5-20250929", route: str = "plan", status: int = 200,
          tokens: TokenUsage | None = None, cost: str | None = "0.01", request_id: str | None = None) -> UsageEvent:
    return UsageEvent(
        request_id=request_id or f"req_{user_id}_{at}", occurred_at=datetime.fromisoformat(at),
        user_id=user_id, key_prefix="ak_1234567", route=route, endpoint="messages", status=status, streamed=True,
        duration_ms=100.0, model=model, tokens=tokens or TokenUsage(100, 20), user_name=name, team=team,
        cost_center=cost_center, cost_usd=None if cost is None else Decimal(cost), cost_known=cost is not None,
    )


def fixed_events() -> list[UsageEvent]:
    """Two days of March 2026 for five users, covering what a finance reader could trip over."""
    return [
        # Ada: plan and Bedrock; cache writes split by TTL on Bedrock, unsplit (counted as 5-minute) on the plan.
        event("2026-03-04T09:00:00+00:00", "usr_ada", name="Ada Lovelace", cost_center="CC-100",
              tokens=TokenUsage(1200, 300, 2000, 40000), cost="0.1"),
        event("2026-03-04T10:00:00+00:00", "usr_ada", name="Ada Lovelace", cost_center="CC-100",
              tokens=TokenUsage(800, 200, 0, 42000), cost="0.2"),
        event("2026-03-04T11:00:00+00:00", "usr_ada", name="Ada Lovelace", cost_center="CC-100", route="bedrock",
              model="claude-opus-4-8", tokens=TokenUsage(10, 5, 3000, 0, 1000, 2000), cost="0.0000000000333"),
        event("2026-03-04T11:30:00+00:00", "usr_ada", name="Ada Lovelace", cost_center="CC-100", route="bedrock",
              model="claude-opus-4-8", tokens=TokenUsage(10, 5), cost="0.0000000000333"),
        event("2026-03-04T11:45:00+00:00", "usr_ada", name="Ada Lovelace", cost_center="CC-100", route="bedrock",
              model="claude-opus-4-8", tokens=TokenUsage(10, 5), cost="0.0000000000333"),
        # Non-ASCII names, and a team and cost center that need quoting.
        event("2026-03-04T12:00:00+00:00", "usr_zoe", name="Zoë Ångström", team="R&D, Berlin",
              cost_center='CC "7"', cost="1.23456789012"),
        event("2026-03-04T12:05:00+00:00", "usr_li", name="李雷", team="北京", cost_center="成本中心-1", cost="0.5"),
        # A refused request (no model, no tokens) and a model without a price.
        event("2026-03-04T13:00:00+00:00", "usr_li", name="李雷", team="北京", cost_center="成本中心-1", model=None,
              status=401, tokens=TokenUsage(), cost="0"),
        event("2026-03-04T13:10:00+00:00", "usr_li", name="李雷", team="北京", cost_center="成本中心-1",
              model="claude-experimental-9", tokens=TokenUsage(50, 50), cost=None),
        event("2026-03-04T13:20:00+00:00", "usr_li", name="李雷", team="北京", cost_center="成本中心-1",
              model="claude-experimental-9", status=529, tokens=TokenUsage(), cost=None),
        # A name with a line break and no team or cost center at all.
        event("2026-03-04T14:00:00+00:00", "usr_nl", name="First\nSecond", team=None, cost="0.000001"),
        # Renamed between the two days (and moved to another cost center).
        event("2026-03-04T15:00:00+00:00", "usr_bob", name="Bob", cost_center="CC-1", cost="0.25"),
        event("2026-03-05T08:00:00+00:00", "usr_bob", name="Robert", cost_center="CC-2", cost="0.25"),
        # Same instant: the later request id wins the name.
        event("2026-03-05T09:00:00+00:00", "usr_bob", name="Rob", cost_center="CC-2", cost="0.5",
              request_id="req_9998"),
        event("2026-03-05T09:00:00+00:00", "usr_bob", name="Robert Smith", cost_center="CC-3", cost="0.5",
              request_id="req_9999"),
    ]


def usage_of(period: Period, events: list[UsageEvent]) -> PeriodUsage:
    usage = PeriodUsage(period)
    for e in events:
        if period.start <= e.occurred_at < period.end:
            usage.add(e)
    return usage


def golden(name: str, actual: bytes) -> bytes:
    path = GOLDEN / name
    if os.environ.get("OVERSPILL_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    return path.read_bytes()


def parse(body: bytes) -> list[dict[str, str]]:
    """As a Glue/Athena-style CSV reader (or a spreadsheet) would read it."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def test_daily_csv_matches_the_golden_file():
    body = render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows())
    assert body == golden("usage-2026-03-04.csv", body)


def test_monthly_csv_matches_the_golden_file():
    body = render_csv(PeriodKind.MONTHLY, usage_of(Period.month(2026, 3), fixed_events()).rows())
    assert body == golden("usage-2026-03.csv", body)


@pytest.mark.parametrize("period", [Period.day(date(2026, 3, 4)), Period.month(2026, 3)], ids=["daily", "monthly"])
def test_manifest_matches_the_golden_file_and_describes_its_csv(period):
    file = render(usage_of(period, fixed_events()), usage_table="overspill-usage-events",
                  read_started_at=GENERATED_AT, generated_at=GENERATED_AT)
    assert file.manifest == golden(manifest_key(period).rsplit("/", 1)[-1], file.manifest)
    manifest = json.loads(file.manifest)
    assert manifest["csv_key"] == csv_key(period) == file.csv_key
    assert manifest["csv_bytes"] == len(file.csv)
    assert manifest["row_count"] == len(parse(file.csv))
    assert manifest["columns"] == list(columns(period.kind)) == next(csv.reader(io.StringIO(file.csv.decode())))
    assert manifest["source"]["events_read"] == sum(int(r["requests"]) for r in parse(file.csv))
    assert manifest["complete"] is True


def test_csv_is_rfc4180_utf8_without_bom_with_crlf_line_ends():
    body = render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows())
    assert not body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8")
    assert text.startswith("date,user_id,user_name,team,cost_center,model,route,requests,errors,input_tokens,"
                           "output_tokens,cache_write_5m_tokens,cache_write_1h_tokens,cache_read_tokens,cost_usd,"
                           "unpriced_requests\r\n")
    assert text.endswith("\r\n")
    assert "\r\n" not in text.replace("\r\n", "")  # every line ends in CRLF …
    assert '"First\nSecond"' in text               # … and a line break inside a name stays inside its quotes
    assert ',"R&D, Berlin","CC ""7""",' in text
    assert ",Zoë Ångström," in text and ",李雷,北京,成本中心-1," in text  # quoted only when needed


def test_names_with_commas_quotes_newlines_and_any_script_read_back_unchanged():
    rows = {r["user_id"]: r for r in parse(render_csv(
        PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows()))}
    assert rows["usr_zoe"]["user_name"] == "Zoë Ångström"
    assert rows["usr_zoe"]["team"] == "R&D, Berlin"
    assert rows["usr_zoe"]["cost_center"] == 'CC "7"'
    assert rows["usr_nl"]["user_name"] == "First\nSecond"
    assert rows["usr_nl"]["team"] == "" and rows["usr_nl"]["cost_center"] == ""
    assert {r["user_name"] for r in rows.values()} >= {"李雷"}


def test_a_user_renamed_mid_month_has_one_monthly_row_with_the_latest_name_and_daily_rows_with_each_days_name():
    events = fixed_events()
    day1 = parse(render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), events).rows()))
    day2 = parse(render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 5)), events).rows()))
    month = parse(render_csv(PeriodKind.MONTHLY, usage_of(Period.month(2026, 3), events).rows()))
    assert [(r["user_name"], r["cost_center"]) for r in day1 if r["user_id"] == "usr_bob"] == [("Bob", "CC-1")]
    # Two events at the same instant: the larger request id is the later one.
    assert [(r["user_name"], r["cost_center"]) for r in day2 if r["user_id"] == "usr_bob"] == [
        ("Robert Smith", "CC-3")]
    bob = [r for r in month if r["user_id"] == "usr_bob"]
    assert [(r["month"], r["user_name"], r["cost_center"], r["requests"], r["cost_usd"]) for r in bob] == [
        ("2026-03", "Robert Smith", "CC-3", "4", "1.5000000000")]


def test_the_latest_name_wins_whatever_order_the_events_arrive_in():
    events = fixed_events()
    forward = render_csv(PeriodKind.MONTHLY, usage_of(Period.month(2026, 3), events).rows())
    backward = render_csv(PeriodKind.MONTHLY, usage_of(Period.month(2026, 3), events[::-1]).rows())
    assert forward == backward


def test_unpriced_requests_are_counted_apart_and_cost_nothing():
    rows = parse(render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows()))
    experimental = next(r for r in rows if r["model"] == "claude-experimental-9")
    assert (experimental["requests"], experimental["errors"], experimental["unpriced_requests"],
            experimental["cost_usd"]) == ("2", "1", "2", "0.0000000000")
    refused = next(r for r in rows if r["user_id"] == "usr_li" and r["model"] == "")
    assert (refused["errors"], refused["unpriced_requests"], refused["cost_usd"]) == ("1", "0", "0.0000000000")


def test_costs_are_exact_decimal_sums_in_fixed_point_with_ten_decimals():
    rows = parse(render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows()))
    ada = {r["route"]: r for r in rows if r["user_id"] == "usr_ada"}
    assert ada["plan"]["cost_usd"] == "0.3000000000"         # 0.1 + 0.2 as floats is 0.30000000000000004
    assert ada["bedrock"]["cost_usd"] == "0.0000000001"      # 3 × 3.33e-11, summed before rounding
    assert next(r for r in rows if r["user_id"] == "usr_nl")["cost_usd"] == "0.0000010000"  # never 1E-6
    assert format_usd(Decimal("1234567890123.5")) == "1234567890123.5000000000"
    assert format_usd(Decimal("0")) == "0.0000000000"
    assert format_usd(Decimal("0.00000000005")) == "0.0000000000"  # half to even
    assert format_usd(Decimal("0.00000000015")) == "0.0000000002"


def test_cache_writes_split_by_ttl_and_unsplit_writes_count_as_five_minute():
    rows = parse(render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows()))
    ada = {r["route"]: r for r in rows if r["user_id"] == "usr_ada"}
    assert (ada["plan"]["cache_write_5m_tokens"], ada["plan"]["cache_write_1h_tokens"]) == ("2000", "0")
    assert (ada["bedrock"]["cache_write_5m_tokens"], ada["bedrock"]["cache_write_1h_tokens"]) == ("1000", "2000")
    assert ada["plan"]["cache_read_tokens"] == "82000"


def test_rows_are_sorted_by_user_team_model_and_route():
    rows = parse(render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows()))
    keys = [(r["user_id"], r["team"], r["model"], r["route"]) for r in rows]
    assert keys == sorted(keys)


@given(st.permutations(fixed_events()))
def test_the_same_events_in_any_order_give_the_same_bytes(events):
    expected = render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), fixed_events()).rows())
    assert render_csv(PeriodKind.DAILY, usage_of(Period.day(date(2026, 3, 4)), events).rows()) == expected


def test_an_empty_period_is_a_header_only_csv_with_a_zero_manifest():
    file = render(PeriodUsage(Period.day(date(2026, 3, 6))), usage_table="t", read_started_at=GENERATED_AT,
                  generated_at=GENERATED_AT)
    assert file.csv == (",".join(columns(PeriodKind.DAILY)) + "\r\n").encode()
    manifest = json.loads(file.manifest)
    assert manifest["row_count"] == 0 and manifest["source"]["events_read"] == 0
    assert manifest["totals"] == {**{c: 0 for c in VALUE_COLUMNS}, "cost_usd": "0.0000000000"}


def test_every_summed_counter_has_exactly_one_column():
    assert sorted(VALUE_COLUMNS) == sorted(COUNTER_FIELDS)


def test_a_period_is_final_an_hour_after_it_ends():
    day = Period.day(date(2026, 3, 4))
    assert not day.final_at(datetime(2026, 3, 5, 0, 59, 59, tzinfo=UTC))
    assert day.final_at(datetime(2026, 3, 5, 1, 0, tzinfo=UTC))
    file = render(PeriodUsage(day), usage_table="t", read_started_at=datetime(2026, 3, 5, 0, 30, tzinfo=UTC),
                  generated_at=GENERATED_AT)
    assert json.loads(file.manifest)["complete"] is False


NOW = datetime(2026, 4, 2, 3, 0, tzinfo=UTC)


def test_a_range_gives_each_day_and_only_the_months_it_covers_whole():
    plan = plan_export(date(2026, 1, 15), date(2026, 3, 31), now=NOW, retention_days=400)
    assert len(plan.days) == 76 and plan.days[0].label == "2026-01-15" and plan.days[-1].label == "2026-03-31"
    assert [m.label for m in plan.months] == ["2026-02", "2026-03"]
    assert plan.months[0].start == datetime(2026, 2, 1, tzinfo=UTC)
    assert plan.months[0].end == datetime(2026, 3, 1, tzinfo=UTC)
    december = plan_export(date(2025, 12, 1), date(2025, 12, 31), now=NOW, retention_days=400)
    assert [(m.label, m.end) for m in december.months] == [("2025-12", datetime(2026, 1, 1, tzinfo=UTC))]
    assert plan_export(date(2026, 4, 1), date(2026, 4, 2), now=NOW, retention_days=400).months == ()


@pytest.mark.parametrize(("first", "last", "message"), [
    (date(2026, 3, 5), date(2026, 3, 1), "reversed: from 2026-03-05 is after to 2026-03-01"),
    (date(2026, 4, 1), date(2026, 4, 3), "ends in the future: 2026-04-03 is after today (2026-04-02, UTC)"),
    (date(2025, 2, 25), date(2025, 3, 1), "older than the raw usage events are kept (400 days"),
])
def test_ranges_that_would_write_wrong_or_partial_files_are_refused_with_what_to_do(first, last, message):
    with pytest.raises(ExportRequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_export(first, last, now=NOW, retention_days=400)


def test_the_oldest_exportable_day_is_the_last_whose_events_have_all_been_kept():
    oldest = NOW.date() - timedelta(days=399)
    assert plan_export(oldest, oldest, now=NOW, retention_days=400).days[0].label == oldest.isoformat()
    with pytest.raises(ExportRequestError, match=f"start the range at {oldest}"):
        plan_export(oldest - timedelta(days=1), oldest, now=NOW, retention_days=400)


@pytest.mark.parametrize("text", ["2026-3-1", "20260301", "2026-03-01T00:00", "yesterday", "2026-02-30", ""])
def test_malformed_dates_are_refused(text):
    with pytest.raises(ExportRequestError, match="--from"):
        parse_day(text, "--from")


def test_schedules_export_the_previous_day_and_the_previous_month():
    assert previous_day(datetime(2026, 3, 1, 2, 0, tzinfo=UTC)) == (date(2026, 2, 28), date(2026, 2, 28))
    assert previous_month(datetime(2026, 3, 1, 3, 0, tzinfo=UTC)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert previous_month(datetime(2026, 1, 1, 3, 0, tzinfo=UTC)) == (date(2025, 12, 1), date(2025, 12, 31))
