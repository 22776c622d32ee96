"""The admin API's usage endpoints, read from rollups the real rollup path wrote: every figure a dashboard or
finance sees equals the sum of the usage events behind it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from overspill.store.models import UserModel
from overspill.store.rollups import RollupRepository
from overspill.store.teams import TeamRepository
from overspill.store.users import UserRepository
from overspill.usage.events import TokenUsage, UsageEvent
from tests.support.admin import AdminHarness

TODAY = datetime.now(UTC).date()
MONTH = TODAY.strftime("%Y-%m")
# Days with traffic: four in the last week, one earlier in the default 30 days, one before them.
DAYS = [TODAY, TODAY - timedelta(days=1), TODAY - timedelta(days=2), TODAY - timedelta(days=4),
        TODAY - timedelta(days=9), TODAY - timedelta(days=45)]
MODELS = ["claude-opus-4-8", "claude-haiku-4-5-20251001", None]
REASONS = ["plan_limit", "overloaded", "server_error"]


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    team: str | None              # their team now
    team_then: str | None         # the team their requests were made in
    budget: Decimal | None = None


ADA = Person("usr_ada", "Ada Lovelace", "platform", "platform", Decimal("2.00"))
BOB = Person("usr_bob", "Bob Noyce", "platform", "data")       # moved to platform after his requests
CY = Person("usr_cy", "Cy Young", "data", "data", Decimal("0.50"))
DEE = Person("usr_dee", "Dee Hopper", None, None, Decimal("100"))
GONE = Person("usr_gone", "", None, "data")                    # requests, but no item in the users table
PEOPLE = [ADA, BOB, CY, DEE, GONE]


def make_events() -> list[UsageEvent]:
    rng = random.Random(20261124)
    events = []

    def add(person: Person, day: date, route: str, cost: Decimal | None, *, model: str | None = "claude-opus-4-8",
            reason: str | None = None, status: int = 200) -> None:
        write = rng.randint(0, 4000)
        one_hour = rng.randint(0, write)
        tokens = TokenUsage(rng.randint(1, 50_000), rng.randint(0, 8_000), write, rng.randint(0, 90_000),
                            write - one_hour, one_hour)
        events.append(UsageEvent(
            request_id=f"req-{len(events):03d}", occurred_at=datetime.combine(day, time(rng.randint(0, 23)), UTC),
            user_id=person.user_id, key_prefix="ak_abcdefg", route=route, endpoint="messages", status=status,
            streamed=True, duration_ms=1200.0, model=model, team=person.team_then, user_name=person.name or None,
            fallback_reason=reason, tokens=tokens, cost_usd=cost, cost_known=cost is not None))

    for _ in range(45):
        route = rng.choice(["plan", "plan", "bedrock"])
        cost = None if rng.random() < 0.1 else Decimal(rng.randint(1, 300_000)) / 1_000_000
        add(rng.choice(PEOPLE), rng.choice(DAYS), route, cost, model=rng.choice(MODELS),
            # a bedrock_only user's Bedrock answers carry no fallback reason
            reason=rng.choice([*REASONS, None]) if route == "bedrock" else None,
            status=rng.choice([200, 200, 200, 200, 429, 500]))
    # This month, today: Cy's Bedrock spend goes past her budget, Dee's plan traffic is large but not Bedrock.
    add(CY, TODAY, "bedrock", Decimal("0.60"), reason="plan_limit")
    add(ADA, TODAY, "bedrock", Decimal("0.40"), reason="overloaded")
    add(DEE, TODAY, "plan", Decimal("3.00"))
    return events


# --- the sums a test expects, computed from the events alone --------------------------------------------------

def sums(events: Iterable[UsageEvent]) -> dict[str, Any]:
    events = list(events)
    total = {
        "requests": len(events),
        "errors": sum(e.status >= 400 for e in events),
        "input_tokens": sum(e.tokens.input_tokens for e in events),
        "output_tokens": sum(e.tokens.output_tokens for e in events),
        "cache_write_5m_tokens": sum(e.tokens.cache_creation_5m_input_tokens or 0 for e in events),
        "cache_write_1h_tokens": sum(e.tokens.cache_creation_1h_input_tokens or 0 for e in events),
        "cache_read_tokens": sum(e.tokens.cache_read_input_tokens for e in events),
        "cost_usd": sum((e.cost_usd for e in events if e.cost_usd is not None), Decimal(0)),
        "unpriced_requests": sum(e.cost_usd is None for e in events),
    }
    total["tokens"] = sum(total[k] for k in ("input_tokens", "output_tokens", "cache_write_5m_tokens",
                                             "cache_write_1h_tokens", "cache_read_tokens"))
    return total


def money(body: dict[str, Any]) -> dict[str, Any]:
    """A JSON totals object with its money as Decimal (the API sends decimal strings)."""
    return {k: Decimal(v) if k.endswith("_usd") else v for k, v in body.items()}


def day_of(event: UsageEvent) -> date:
    return event.occurred_at.date()


def within(events: list[UsageEvent], start: date, end: date,
           where: Callable[[UsageEvent], bool] = lambda e: True) -> list[UsageEvent]:
    return [e for e in events if start <= day_of(e) <= end and where(e)]


def each_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# --- one organisation's traffic, written through the real rollup path once for the read-only tests -----------

@dataclass
class Traffic:
    admin: AdminHarness
    events: list[UsageEvent]

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.admin.call("GET", f"/api/usage/{path}", params=params, token=self.admin.finance_token)
        assert response.status_code == 200, response.text
        return response.json()


def seed_people_and_teams() -> None:
    users = UserRepository()
    for person in PEOPLE:
        if person is not GONE:
            users.create(person.name, team=person.team, user_id=person.user_id, budget_usd=person.budget)
    # A deleted user's budget no longer applies to anyone.
    users.create("Old Timer", team="data", user_id="usr_old", budget_usd=Decimal("5"))
    UserModel.get("usr_old").update(actions=[UserModel.status.set("deleted")])
    teams = TeamRepository()
    teams.put("platform", budget_usd=Decimal("1.50"))
    teams.put("research", budget_usd=Decimal("10"))   # a budget, no usage yet
    teams.put("data", budget_usd=None)                 # settings but no budget


@pytest.fixture(scope="class")
def traffic() -> Iterator[Traffic]:
    """Written once for the class's read-only tests (each rollup write copies moto's table: it adds up)."""
    with AdminHarness() as admin:
        seed_people_and_teams()
        events = make_events()
        rollups = RollupRepository()
        for event in events:
            assert rollups.apply(event)
        yield Traffic(admin, events)


class TestOneOrganisation:

    def test_overview_totals_route_split_and_daily_series_match_the_events(self, traffic: Traffic):
        start, end = TODAY - timedelta(days=6), TODAY
        body = traffic.get("overview", **{"from": start.isoformat(), "to": end.isoformat()})
        events = within(traffic.events, start, end)

        assert (body["from"], body["to"]) == (start.isoformat(), end.isoformat())
        assert money(body["totals"]) == sums(events)
        for route in ("plan", "bedrock"):
            assert money(body["by_route"][route]) == sums(e for e in events if e.route == route)
        bedrock = sum(e.route == "bedrock" for e in events)
        assert body["fallback_rate"] == pytest.approx(bedrock / len(events))
        assert [p["day"] for p in body["series"]] == [d.isoformat() for d in each_day(start, end)]
        for point in body["series"]:
            on_day = [e for e in events if day_of(e).isoformat() == point["day"]]
            assert money({k: v for k, v in point.items() if k not in ("day", "bedrock_requests")}) == sums(on_day)
            assert point["bedrock_requests"] == sum(e.route == "bedrock" for e in on_day)
        assert any(p["requests"] == 0 for p in body["series"])  # a quiet day is there, with zeros

    def test_overview_defaults_to_the_last_30_days(self, traffic: Traffic):
        body = traffic.get("overview")
        start = TODAY - timedelta(days=29)
        assert (body["from"], body["to"], len(body["series"])) == (start.isoformat(), TODAY.isoformat(), 30)
        assert money(body["totals"]) == sums(within(traffic.events, start, TODAY))
        assert body["totals"]["requests"] < len(traffic.events)  # the 45-day-old requests are not in it

    def test_series_by_user_names_each_user_as_they_are_now_and_sums_their_days(self, traffic: Traffic):
        start, end = TODAY - timedelta(days=29), TODAY
        body = traffic.get("series", group_by="user")
        events = within(traffic.events, start, end)

        assert body["days"] == [d.isoformat() for d in each_day(start, end)]
        groups = {g["key"]: g for g in body["groups"]}
        assert set(groups) == {e.user_id for e in events}
        for person in PEOPLE:
            group = groups[person.user_id]
            mine = [e for e in events if e.user_id == person.user_id]
            assert money(group["totals"]) == sums(mine)
            if person is GONE:
                assert (group["name"], group["team"]) == (None, None)
            else:
                assert (group["name"], group["team"]) == (person.name, person.team)
            for point in group["points"]:
                on_day = sums(e for e in mine if day_of(e).isoformat() == point["day"])
                assert money(point) == {"day": point["day"], **{k: on_day[k] for k in
                                                                ("requests", "errors", "tokens", "cost_usd")}}
            assert [p["day"] for p in group["points"]] == sorted({day_of(e).isoformat() for e in mine})
        costs = [Decimal(g["totals"]["cost_usd"]) for g in body["groups"]]
        assert costs == sorted(costs, reverse=True)

    @pytest.mark.parametrize("group_by, key", [
        ("team", lambda e: e.team), ("model", lambda e: e.model), ("route", lambda e: e.route)])
    def test_series_by_team_model_and_route_add_up_to_the_events(self, traffic: Traffic, group_by, key):
        start, end = TODAY - timedelta(days=9), TODAY
        body = traffic.get("series", group_by=group_by, **{"from": start.isoformat(), "to": end.isoformat()})
        events = within(traffic.events, start, end)

        groups = {g["key"]: g for g in body["groups"]}
        assert set(groups) == {key(e) for e in events}
        for value, group in groups.items():
            assert money(group["totals"]) == sums(e for e in events if key(e) == value)
            assert group["name"] is None and group["team"] is None
        if group_by == "team":
            # Bob's requests stay with the team he was in when he made them.
            assert groups["data"]["totals"]["requests"] == sum(e.team == "data" for e in events)
            assert any(e.user_id == BOB.user_id for e in events if e.team == "data")

    @pytest.mark.parametrize("params, where", [
        ({"user_id": "usr_bob", "group_by": "model"}, lambda e: e.user_id == "usr_bob"),
        ({"team": "platform", "group_by": "route"}, lambda e: e.team == "platform"),
        ({"team": "data", "group_by": "user"}, lambda e: e.team == "data"),
        ({"team": "data", "user_id": "usr_cy", "group_by": "team"}, lambda e: e.user_id == "usr_cy"),
        ({"team": "platform", "user_id": "usr_cy", "group_by": "route"}, lambda e: False),
    ])
    def test_series_narrowed_to_a_user_or_team_counts_only_their_usage(self, traffic: Traffic, params, where):
        body = traffic.get("series", **params)
        events = within(traffic.events, TODAY - timedelta(days=29), TODAY, where)

        totals = sums([])
        for group in body["groups"]:
            for name, value in money(group["totals"]).items():
                totals[name] += value
        assert totals == sums(events)
        assert len(body["groups"]) == len({getattr(e, params["group_by"] if params["group_by"] != "user"
                                                   else "user_id") for e in events})

    @pytest.mark.parametrize("order_by, measure", [
        ("cost", lambda s: s["cost_usd"]), ("requests", lambda s: s["requests"]), ("tokens", lambda s: s["tokens"])])
    def test_top_users_are_ranked_with_name_team_and_bedrock_share(self, traffic: Traffic, order_by, measure):
        start, end = TODAY - timedelta(days=29), TODAY
        body = traffic.get("top-users", order_by=order_by, limit=3)
        events = within(traffic.events, start, end)

        per_user = {p.user_id: sums(e for e in events if e.user_id == p.user_id) for p in PEOPLE}
        expected = sorted(per_user, key=lambda u: (-measure(per_user[u]), -per_user[u]["cost_usd"], u))[:3]
        assert [u["user_id"] for u in body["users"]] == expected
        people = {p.user_id: p for p in PEOPLE}
        for row in body["users"]:
            mine = [e for e in events if e.user_id == row["user_id"]]
            on_bedrock = [e for e in mine if e.route == "bedrock"]
            want = per_user[row["user_id"]]
            person = people[row["user_id"]]
            assert (row["requests"], row["tokens"], Decimal(row["cost_usd"])) == \
                (want["requests"], want["tokens"], want["cost_usd"])
            assert row["bedrock_requests"] == len(on_bedrock)
            assert Decimal(row["bedrock_cost_usd"]) == sums(on_bedrock)["cost_usd"]
            assert row["bedrock_share"] == pytest.approx(len(on_bedrock) / len(mine))
            assert (row["name"], row["team"]) == ((person.name, person.team) if person is not GONE else (None, None))

    def test_top_users_limit_caps_the_list(self, traffic: Traffic):
        assert len(traffic.get("top-users", limit=1)["users"]) == 1
        assert len(traffic.get("top-users", limit=100)["users"]) == len(
            {e.user_id for e in within(traffic.events, TODAY - timedelta(days=29), TODAY)})

    def test_fallback_reasons_count_each_reason_in_total_and_per_day(self, traffic: Traffic):
        start, end = TODAY - timedelta(days=9), TODAY
        body = traffic.get("fallback-reasons", **{"from": start.isoformat(), "to": end.isoformat()})
        fallbacks = within(traffic.events, start, end, lambda e: e.route == "bedrock" and e.fallback_reason)

        assert body["requests"] == len(fallbacks)
        reasons = {r["reason"]: r for r in body["reasons"]}
        assert set(reasons) == {e.fallback_reason for e in fallbacks}
        for reason, view in reasons.items():
            mine = [e for e in fallbacks if e.fallback_reason == reason]
            assert money(view["totals"]) == sums(mine)
            assert view["days"] == [{"day": d.isoformat(), "requests": sum(day_of(e) == d for e in mine)}
                                    for d in each_day(start, end)]
        counts = [r["totals"]["requests"] for r in body["reasons"]]
        assert counts == sorted(counts, reverse=True)

    def test_budgets_show_spend_remaining_and_exhaustion_of_every_budget_this_month(self, traffic: Traffic):
        body = traffic.get("budgets")
        this_month = [e for e in traffic.events if e.occurred_at.strftime("%Y-%m") == MONTH]

        def bedrock_spend(where: Callable[[UsageEvent], bool]) -> Decimal:
            return sums(e for e in this_month if e.route == "bedrock" and where(e))["cost_usd"]

        assert (body["month"], body["counts"]) == (MONTH, "bedrock")
        users = {u["user_id"]: u for u in body["users"]}
        assert set(users) == {"usr_ada", "usr_cy", "usr_dee"}  # budgets only, the deleted user's left out
        for person in (ADA, CY, DEE):
            view = money(users[person.user_id])
            spent = bedrock_spend(lambda e, p=person: e.user_id == p.user_id)
            assert (view["name"], view["team"], view["budget_usd"], view["spent_usd"]) == \
                (person.name, person.team, person.budget, spent)
            assert view["remaining_usd"] == max(person.budget - spent, Decimal(0))
            assert view["exhausted"] is (spent >= person.budget)
            assert view["percent_used"] == pytest.approx(float(spent * 100 / person.budget), abs=0.01)
        assert users["usr_cy"]["exhausted"] is True and users["usr_dee"]["exhausted"] is False

        teams = {t["team"]: money(t) for t in body["teams"]}
        assert set(teams) == {"platform", "research"}
        platform = bedrock_spend(lambda e: e.team == "platform")
        assert (teams["platform"]["spent_usd"], teams["platform"]["budget_usd"]) == (platform, Decimal("1.50"))
        assert teams["platform"]["exhausted"] is (platform >= Decimal("1.50"))
        assert (teams["research"]["spent_usd"], teams["research"]["remaining_usd"],
                teams["research"]["exhausted"]) == (Decimal(0), Decimal(10), False)
        assert Decimal(body["spent_usd"]) == bedrock_spend(lambda e: True)
        assert Decimal(body["cost_usd"]) == sums(this_month)["cost_usd"]
        percents = [u["percent_used"] for u in body["users"]]
        assert percents == sorted(percents, reverse=True)

    def test_budgets_of_a_month_without_usage_show_nothing_spent(self, traffic: Traffic):
        body = traffic.get("budgets", month="2020-02")
        assert body["month"] == "2020-02" and Decimal(body["spent_usd"]) == 0
        assert {u["user_id"]: Decimal(u["spent_usd"]) for u in body["users"]} == \
            {"usr_ada": 0, "usr_cy": 0, "usr_dee": 0}

    @pytest.mark.parametrize("path", ["overview", "series", "top-users", "fallback-reasons", "budgets"])
    def test_finance_and_admins_may_read_usage_and_no_token_is_401(self, traffic: Traffic, path):
        admin = traffic.admin
        assert admin.call("GET", f"/api/usage/{path}", token=admin.finance_token).status_code == 200
        assert admin.call("GET", f"/api/usage/{path}").status_code == 200
        response = admin.call("GET", f"/api/usage/{path}", token=None)
        assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"

    @pytest.mark.parametrize("path, params, field", [
        ("overview", {"from": "2026-03-10", "to": "2026-03-09"}, "to"),
        ("overview", {"from": (TODAY - timedelta(days=366)).isoformat(), "to": TODAY.isoformat()}, "to"),
        ("overview", {"from": (TODAY + timedelta(days=1)).isoformat()}, "from"),
        ("series", {"from": (TODAY + timedelta(days=3)).isoformat(),
                    "to": (TODAY + timedelta(days=5)).isoformat()}, "from"),
        ("overview", {"from": "2026-02-30"}, "from"),
        ("top-users", {"to": "yesterday"}, "to"),
        ("fallback-reasons", {"from": "2026/01/01"}, "from"),
        ("series", {"group_by": "department"}, "group_by"),
        ("series", {"user_id": "ada"}, "user_id"),
        ("series", {"team": "bad\nteam"}, "team"),
        ("budgets", {"month": "2026-13"}, "month"),
        ("budgets", {"month": "2026-1"}, "month"),
        ("top-users", {"limit": 0}, "limit"),
        ("top-users", {"limit": 101}, "limit"),
        ("top-users", {"order_by": "name"}, "order_by"),
    ])
    def test_bad_input_is_refused_naming_the_field(self, traffic: Traffic, path, params, field):
        response = traffic.admin.call("GET", f"/api/usage/{path}", params=params, token=traffic.admin.finance_token)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert [f["field"] for f in error["fields"]] == [field]

    def test_the_longest_range_allowed_is_answered(self, traffic: Traffic):
        start = TODAY - timedelta(days=traffic.admin.settings.admin_max_range_days - 1)
        body = traffic.get("top-users", **{"from": start.isoformat(), "to": TODAY.isoformat()})
        assert sum(u["requests"] for u in body["users"]) == len(within(traffic.events, start, TODAY))


def test_budgets_counting_all_traffic_include_plan_spend():
    with AdminHarness(budget_counts="all") as admin:
        seed_people_and_teams()
        events = [e for e in make_events() if e.occurred_at.strftime("%Y-%m") == MONTH]
        rollups = RollupRepository()
        for event in events:
            rollups.apply(event)

        response = admin.call("GET", "/api/usage/budgets", token=admin.finance_token)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["counts"] == "all"
    users = {u["user_id"]: money(u) for u in body["users"]}
    dee = sums(e for e in events if e.user_id == DEE.user_id)["cost_usd"]
    assert users["usr_dee"]["spent_usd"] == dee and dee >= Decimal("3.00")  # her plan traffic counts now
    platform = sums(e for e in events if e.team == "platform")["cost_usd"]
    assert {t["team"]: Decimal(t["spent_usd"]) for t in body["teams"]}["platform"] == platform
    assert Decimal(body["spent_usd"]) == Decimal(body["cost_usd"]) == sums(events)["cost_usd"]
