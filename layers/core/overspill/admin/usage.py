"""Usage as the admin API reports it: read from the rollups (``overspill.usage.rollups``), never from the raw
usage events, so that every answer costs a bounded number of DynamoDB calls whatever the traffic was.

The DynamoDB calls of each query (N = days in the range, at most ``Settings.admin_max_range_days``):

==================  ===========================================================================================
overview            1 Query (the organisation's day rows of the range)
series              1 Query of one partition when grouped by route, narrowed to a user, or narrowed to a team and
                    grouped by team or route; N ``by_period`` Queries otherwise; + 1 BatchGetItem per 100 users
                    when grouped by user (their current names and teams)
top users           N ``by_period`` Queries + 1 BatchGetItem (the ranked users' names and teams)
fallback reasons    1 Query (the organisation's fallback rows of the range)
budgets             1 Scan of users with a budget + 1 Scan of teams with a budget + 2 ``by_period`` Queries
==================  ===========================================================================================

Every Query and Scan is read page by page (1 MB each): a page holds thousands of rollup rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from overspill.budgets import COUNTS_ALL
from overspill.config import Settings
from overspill.store.rollups import RollupRepository
from overspill.store.teams import TeamRepository
from overspill.store.users import UserRepository
from overspill.usage.rollups import ORG_PK, Counters, Kind, RollupKey, team_pk, user_pk
from overspill.users import UserStatus

GROUPS = ("user", "team", "model", "route")
ORDERS = ("cost", "requests", "tokens")
ROUTES = ("plan", "bedrock")
# The per-day index queries of a long range run a few at a time: a year is 366 calls of ~10 ms each.
DAY_QUERY_THREADS = 8


def tokens_of(counters: Counters) -> int:
    """Every token a request counted: input, output, cache writes (both TTLs) and cache reads."""
    return (counters.input_tokens + counters.output_tokens + counters.cache_write_5m_tokens
            + counters.cache_write_1h_tokens + counters.cache_read_tokens)


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(slots=True)
class DayUsage:
    day: date
    totals: Counters
    bedrock_requests: int


@dataclass(slots=True)
class Overview:
    start: date
    end: date
    totals: Counters
    by_route: dict[str, Counters]           # "plan" and "bedrock", always both
    days: list[DayUsage]                    # one per day of the range, zeros for days without usage

    @property
    def fallback_rate(self) -> float | None:
        """Bedrock requests out of all requests; None when there were none."""
        return _share(self.by_route["bedrock"].requests, self.totals.requests)


@dataclass(slots=True)
class SeriesGroup:
    key: str | None                         # user id, team (None: no team), model (None: not known), route
    totals: Counters = field(default_factory=Counters)
    days: dict[date, Counters] = field(default_factory=dict)   # only days with usage
    name: str | None = None                 # grouped by user: the user's current name and team
    team: str | None = None


@dataclass(slots=True)
class Series:
    start: date
    end: date
    group_by: str
    groups: list[SeriesGroup]               # highest cost first


@dataclass(slots=True)
class UserUsage:
    user_id: str
    totals: Counters = field(default_factory=Counters)
    bedrock: Counters = field(default_factory=Counters)
    name: str | None = None
    team: str | None = None

    @property
    def bedrock_share(self) -> float | None:
        """The user's requests Bedrock answered, out of all of theirs."""
        return _share(self.bedrock.requests, self.totals.requests)


@dataclass(slots=True)
class ReasonUsage:
    reason: str
    totals: Counters
    days: list[tuple[date, int]]            # requests per day of the range, zeros included


@dataclass(slots=True)
class FallbackReasons:
    start: date
    end: date
    reasons: list[ReasonUsage]              # most requests first


@dataclass(slots=True)
class BudgetUse:
    budget_usd: Decimal
    spent_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal:
        return max(self.budget_usd - self.spent_usd, Decimal(0))

    @property
    def percent_used(self) -> float:
        # A zero budget is used up from the start (as overspill.budgets has it).
        return float(self.spent_usd * 100 / self.budget_usd) if self.budget_usd > 0 else 100.0

    @property
    def exhausted(self) -> bool:
        """As the proxy decides: Bedrock is refused once the spend reaches the budget."""
        return self.spent_usd >= self.budget_usd


@dataclass(slots=True)
class UserBudget(BudgetUse):
    user_id: str = ""
    name: str = ""
    team: str | None = None
    status: str = UserStatus.ACTIVE.value


@dataclass(slots=True)
class TeamBudget(BudgetUse):
    team: str = ""


@dataclass(slots=True)
class BudgetReport:
    month: str
    counts: str                             # Settings.budget_counts: "bedrock" | "all"
    users: list[UserBudget]                 # most used first
    teams: list[TeamBudget]
    spent_usd: Decimal                      # the whole organisation, counted as budgets count
    cost_usd: Decimal                       # the whole organisation, every route


class UsageQueries:
    def __init__(self, settings: Settings, rollups: RollupRepository | None = None) -> None:
        self._settings = settings
        self._rollups = rollups or RollupRepository()

    def overview(self, start: date, end: date) -> Overview:
        """Totals, the split by route and one point per day, from the organisation's day rows (1 Query)."""
        totals, by_route = Counters(), {route: Counters() for route in ROUTES}
        per_day = {day: DayUsage(day, Counters(), 0) for day in days_of(start, end)}
        for key, counters in self._rollups.day_rows(ORG_PK, start, end):
            day = per_day.get(date.fromisoformat(key.period))
            if day is None:
                continue
            totals.add(counters)
            by_route.setdefault(key.route or "", Counters()).add(counters)
            day.totals.add(counters)
            if key.route == "bedrock":
                day.bedrock_requests += counters.requests
        return Overview(start, end, totals, by_route, list(per_day.values()))

    def series(self, start: date, end: date, group_by: str, *, user_id: str | None = None,
               team: str | None = None) -> Series:
        """Per-day usage per group. ``user_id`` and ``team`` narrow what is counted; a team filter on user or
        model groups goes by the team a user's day row was written with (their team on that day)."""
        if group_by not in GROUPS:
            raise ValueError(f"group_by must be one of {GROUPS}, got {group_by!r}")
        groups: dict[str | None, SeriesGroup] = {}
        for key, counters in self._series_rows(start, end, group_by, user_id, team):
            name = _group_key(key, group_by)
            group = groups.get(name) or groups.setdefault(name, SeriesGroup(name))
            group.totals.add(counters)
            group.days.setdefault(date.fromisoformat(key.period), Counters()).add(counters)
        if group_by == "user":
            people = _people(str(g.key) for g in groups.values())
            for group in groups.values():
                person = people.get(str(group.key))
                if person is not None:
                    group.name, group.team = person
        for group in groups.values():
            group.days = dict(sorted(group.days.items()))
        ranked = sorted(groups.values(), key=lambda g: (-g.totals.cost_usd, -g.totals.requests, g.key or ""))
        return Series(start, end, group_by, ranked)

    def _series_rows(self, start: date, end: date, group_by: str, user_id: str | None,
                     team: str | None) -> Iterable[tuple[RollupKey, Counters]]:
        if user_id is not None:
            rows: Iterable[tuple[RollupKey, Counters]] = self._rollups.day_rows(user_pk(user_id), start, end)
        elif team is not None and group_by in ("team", "route"):
            return self._rollups.day_rows(team_pk(team), start, end)
        elif team is None and group_by == "route":
            return self._rollups.day_rows(ORG_PK, start, end)
        elif team is None and group_by == "team":
            return self._each_day(Kind.TEAM_DAY, start, end)
        else:
            rows = self._each_day(Kind.USER_DAY, start, end)
        return rows if team is None else (row for row in rows if row[0].team == team)

    def top_users(self, start: date, end: date, *, limit: int = 10, order_by: str = "cost") -> list[UserUsage]:
        """The users who used the most, with their current names and teams. Ties go to the higher cost, then
        the user id."""
        measure: dict[str, Callable[[Counters], int | Decimal]] = {
            "cost": lambda c: c.cost_usd, "requests": lambda c: c.requests, "tokens": tokens_of}
        if order_by not in measure:
            raise ValueError(f"order_by must be one of {ORDERS}, got {order_by!r}")
        users: dict[str, UserUsage] = {}
        for key, counters in self._each_day(Kind.USER_DAY, start, end):
            usage = users.get(key.user_id or "") or users.setdefault(key.user_id or "", UserUsage(key.user_id or ""))
            usage.totals.add(counters)
            if key.route == "bedrock":
                usage.bedrock.add(counters)
        value = measure[order_by]
        ranked = sorted(users.values(), key=lambda u: (-value(u.totals), -u.totals.cost_usd, u.user_id))[:limit]
        people = _people(u.user_id for u in ranked)
        for usage in ranked:
            if usage.user_id in people:
                usage.name, usage.team = people[usage.user_id]
        return ranked

    def fallback_reasons(self, start: date, end: date) -> FallbackReasons:
        """Why Bedrock answered: per reason, the totals and the requests of each day (1 Query)."""
        days = days_of(start, end)
        totals: dict[str, Counters] = {}
        per_day: dict[str, dict[date, int]] = {}
        for key, counters in self._rollups.fallback_rows(start, end):
            reason = key.reason or ""
            totals.setdefault(reason, Counters()).add(counters)
            counts = per_day.setdefault(reason, dict.fromkeys(days, 0))
            day = date.fromisoformat(key.period)
            if day in counts:
                counts[day] += counters.requests
        reasons = [ReasonUsage(reason, totals[reason], list(per_day[reason].items())) for reason in totals]
        reasons.sort(key=lambda r: (-r.totals.requests, r.reason))
        return FallbackReasons(start, end, reasons)

    def budgets(self, month: str) -> BudgetReport:
        """Every user (not deleted) and every team with a budget, and what the month has spent against it,
        counted as the proxy counts it (``Settings.budget_counts``)."""
        counts = self._settings.budget_counts
        spent: dict[str, Decimal] = {}
        spent_total = cost_total = Decimal(0)
        for kind in (Kind.USER_MONTH, Kind.TEAM_MONTH):
            for key, counters in self._rollups.period_rows(kind, month):
                counted = counts == COUNTS_ALL or key.route == "bedrock"
                owner = user_pk(key.user_id or "") if kind is Kind.USER_MONTH else team_pk(key.team)
                spent[owner] = spent.get(owner, Decimal(0)) + (counters.cost_usd if counted else Decimal(0))
                if kind is Kind.TEAM_MONTH:  # teams (with "no team") add up to the organisation
                    cost_total += counters.cost_usd
                    spent_total += counters.cost_usd if counted else Decimal(0)
        users = [UserBudget(budget, spent.get(user_pk(user.user_id), Decimal(0)), user_id=user.user_id,
                            name=user.name, team=user.team, status=user.status.value)
                 for user in UserRepository().with_budget()
                 if (budget := user.budget_usd) is not None and user.status is not UserStatus.DELETED]
        teams = [TeamBudget(budget, spent.get(team_pk(team.team), Decimal(0)), team=team.team)
                 for team in TeamRepository().with_budget() if (budget := team.budget_usd) is not None]
        users.sort(key=lambda b: (-b.percent_used, b.name, b.user_id))
        teams.sort(key=lambda b: (-b.percent_used, b.team))
        return BudgetReport(month, counts, users, teams, spent_total, cost_total)

    def _each_day(self, kind: Kind, start: date, end: date) -> Iterator[tuple[RollupKey, Counters]]:
        """Every row of ``kind`` for each day of the range: one ``by_period`` Query per day."""
        with ThreadPoolExecutor(max_workers=DAY_QUERY_THREADS) as pool:
            for rows in pool.map(lambda day: self._rollups.period_rows(kind, day.isoformat()), days_of(start, end)):
                yield from rows


def current_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _group_key(key: RollupKey, group_by: str) -> str | None:
    return {"user": key.user_id, "team": key.team, "model": key.model, "route": key.route}[group_by]


def _people(user_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """Users' current names and teams, ``{user_id: (name, team)}``: one BatchGetItem per 100 users."""
    return {user_id: (user.name, user.team) for user_id, user in UserRepository().many(user_ids).items()}
