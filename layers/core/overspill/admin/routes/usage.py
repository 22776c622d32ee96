"""GET /api/usage/…: usage for dashboards and finance, from the rollups (see ``overspill.admin.usage``).

Ranges are ``from``/``to`` (UTC dates, both included; the last 30 days unless given), at most
``OVERSPILL_ADMIN_MAX_RANGE_DAYS`` long, and may not start in the future. Money is a decimal string (USD)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter
from pydantic import BaseModel, ConfigDict, Field

from overspill.admin.api import endpoint, scope
from overspill.admin.identity import Role
from overspill.admin.schemas import MONTH_PATTERN, USER_ID_PATTERN, Day, checked_range
from overspill.admin.usage import BudgetUse, UsageQueries, current_month, tokens_of
from overspill.admin.usage import Overview as OverviewResult
from overspill.usage.rollups import Counters

router = LambdaFunctionUrlRouter()

DEFAULT_DAYS = 30
TEAM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._/&+-]*$"   # the shape of schemas.Label

From = Annotated[Day | None, Query(alias="from", description="First day (UTC), included; default: 29 days "
                                                              "before `to`")]
To = Annotated[Day | None, Query(alias="to", description="Last day (UTC), included; default: today")]


# --- responses --------------------------------------------------------------------------------------------

class Totals(BaseModel):
    requests: int
    errors: int = Field(description="Requests answered with a status of 400 or more")
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    tokens: int = Field(description="Input, output, cache write and cache read tokens together")
    cost_usd: Decimal = Field(description="Priced requests only: plan traffic at the API list price, Bedrock at "
                                          "its price")
    unpriced_requests: int = Field(description="Requests whose model had no price (not in cost_usd)")


class RouteSplit(BaseModel):
    plan: Totals
    bedrock: Totals


class DayTotals(Totals):
    day: date
    bedrock_requests: int


class RangeView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date


class OverviewView(RangeView):
    totals: Totals
    by_route: RouteSplit
    fallback_rate: float | None = Field(description="Bedrock requests / all requests; null without requests")
    series: list[DayTotals] = Field(description="One point per day of the range, zeros for days without usage")


class SeriesPoint(BaseModel):
    day: date
    requests: int
    errors: int
    tokens: int
    cost_usd: Decimal


class SeriesGroupView(BaseModel):
    key: str | None = Field(description="The user id, team (null: no team), model (null: not known) or route")
    name: str | None = Field(None, description="group_by=user: the user's current name")
    team: str | None = Field(None, description="group_by=user: the user's current team")
    totals: Totals
    points: list[SeriesPoint] = Field(description="Days with usage only, oldest first (see `days` for the rest)")


class SeriesView(RangeView):
    group_by: str
    days: list[date] = Field(description="Every day of the range, for the charts' axis")
    groups: list[SeriesGroupView] = Field(description="Highest cost first")


class TopUser(BaseModel):
    user_id: str
    name: str | None = Field(description="The user's current name (null: no longer in the users table)")
    team: str | None
    requests: int
    tokens: int
    cost_usd: Decimal
    bedrock_requests: int
    bedrock_cost_usd: Decimal
    bedrock_share: float | None = Field(description="Bedrock requests / the user's requests")


class TopUsersView(RangeView):
    order_by: str
    users: list[TopUser]


class DayCount(BaseModel):
    day: date
    requests: int


class ReasonView(BaseModel):
    reason: str
    totals: Totals
    days: list[DayCount] = Field(description="One per day of the range, zeros included")


class FallbackReasonsView(RangeView):
    requests: int = Field(description="Bedrock answers with a fallback reason, all reasons")
    reasons: list[ReasonView] = Field(description="Most requests first")


class BudgetLine(BaseModel):
    budget_usd: Decimal
    spent_usd: Decimal
    remaining_usd: Decimal = Field(description="What is left, never below 0")
    percent_used: float
    exhausted: bool = Field(description="The spend reached the budget: Bedrock is refused until the next month")


class UserBudgetView(BudgetLine):
    user_id: str
    name: str
    team: str | None
    status: str


class TeamBudgetView(BudgetLine):
    team: str


class BudgetsView(BaseModel):
    month: str
    counts: Literal["bedrock", "all"] = Field(description="What budgets count (OVERSPILL_BUDGET_COUNTS): Bedrock "
                                                          "spend only, or plan traffic at the list price too")
    users: list[UserBudgetView] = Field(description="Users with a budget (not deleted), most used first")
    teams: list[TeamBudgetView] = Field(description="Teams with a budget, most used first")
    spent_usd: Decimal = Field(description="The month's spend across the organisation, counted as budgets count")
    cost_usd: Decimal = Field(description="The month's cost across the organisation, every route")


# --- endpoints --------------------------------------------------------------------------------------------

@endpoint(router, "GET", "/api/usage/overview", role=Role.FINANCE, tags=["usage"],
          summary="Totals for a range, split by route, with the fallback rate and one point per day")
def usage_overview(start: From = None, end: To = None) -> OverviewView:
    start, end = _range(start, end)
    result = _queries().overview(start, end)
    return OverviewView(from_=start, to=end, totals=_totals(result.totals), by_route=_split(result),
                        fallback_rate=result.fallback_rate,
                        series=[DayTotals(day=d.day, bedrock_requests=d.bedrock_requests,
                                          **_totals(d.totals).model_dump()) for d in result.days])


@endpoint(router, "GET", "/api/usage/series", role=Role.FINANCE, tags=["usage"],
          summary="Usage per day per user, team, model or route, for charts")
def usage_series(
    start: From = None,
    end: To = None,
    group_by: Annotated[Literal["user", "team", "model", "route"], Query()] = "user",
    user_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN, description="Only this user's usage")] = None,
    team: Annotated[str | None, Query(max_length=64, pattern=TEAM_PATTERN,
                                      description="Only usage made as a member of this team")] = None,
) -> SeriesView:
    start, end = _range(start, end)
    result = _queries().series(start, end, group_by, user_id=user_id, team=team)
    return SeriesView(
        from_=start, to=end, group_by=group_by, days=[start + timedelta(days=n) for n in range((end - start).days + 1)],
        groups=[SeriesGroupView(key=g.key, name=g.name, team=g.team, totals=_totals(g.totals),
                                points=[SeriesPoint(day=day, requests=c.requests, errors=c.errors, tokens=tokens_of(c),
                                                    cost_usd=c.cost_usd) for day, c in g.days.items()])
                for g in result.groups])


@endpoint(router, "GET", "/api/usage/top-users", role=Role.FINANCE, tags=["usage"],
          summary="The users who used the most in a range")
def usage_top_users(
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    order_by: Annotated[Literal["cost", "requests", "tokens"], Query()] = "cost",
) -> TopUsersView:
    start, end = _range(start, end)
    ranked = _queries().top_users(start, end, limit=limit, order_by=order_by)
    return TopUsersView(from_=start, to=end, order_by=order_by, users=[
        TopUser(user_id=u.user_id, name=u.name, team=u.team, requests=u.totals.requests, tokens=tokens_of(u.totals),
                cost_usd=u.totals.cost_usd, bedrock_requests=u.bedrock.requests,
                bedrock_cost_usd=u.bedrock.cost_usd, bedrock_share=u.bedrock_share) for u in ranked])


@endpoint(router, "GET", "/api/usage/fallback-reasons", role=Role.FINANCE, tags=["usage"],
          summary="Why Bedrock answered: requests per fallback reason, in total and per day")
def usage_fallback_reasons(start: From = None, end: To = None) -> FallbackReasonsView:
    start, end = _range(start, end)
    result = _queries().fallback_reasons(start, end)
    return FallbackReasonsView(
        from_=start, to=end, requests=sum(r.totals.requests for r in result.reasons),
        reasons=[ReasonView(reason=r.reason, totals=_totals(r.totals),
                            days=[DayCount(day=day, requests=n) for day, n in r.days]) for r in result.reasons])


@endpoint(router, "GET", "/api/usage/budgets", role=Role.FINANCE, tags=["usage"],
          summary="Every user and team budget of a month, with what has been spent against it")
def usage_budgets(
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN.pattern,
                                       description="YYYY-MM (UTC); default: the current month")] = None,
) -> BudgetsView:
    report = _queries().budgets(month or current_month())
    return BudgetsView(
        month=report.month, counts=report.counts,  # type: ignore[arg-type] - Settings allows only these two
        users=[UserBudgetView(user_id=b.user_id, name=b.name, team=b.team, status=b.status, **_budget(b))
               for b in report.users],
        teams=[TeamBudgetView(team=b.team, **_budget(b)) for b in report.teams],
        spent_usd=report.spent_usd, cost_usd=report.cost_usd)


# --- helpers ----------------------------------------------------------------------------------------------

def _queries() -> UsageQueries:
    return scope().services.usage


def _range(start: date | None, end: date | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    if end is None:
        # A start in the future gets a range of its own, so that the refusal names the start, not the end.
        end = max(today, start) if start is not None else today
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    return checked_range(start, end, max_days=scope().services.settings.admin_max_range_days)


def _totals(counters: Counters) -> Totals:
    return Totals(**counters.as_dict(), tokens=tokens_of(counters))


def _split(result: OverviewResult) -> RouteSplit:
    return RouteSplit(plan=_totals(result.by_route["plan"]), bedrock=_totals(result.by_route["bedrock"]))


def _budget(use: BudgetUse) -> dict[str, object]:
    return {"budget_usd": use.budget_usd, "spent_usd": use.spent_usd, "remaining_usd": use.remaining_usd,
            "percent_used": round(use.percent_used, 2), "exhausted": use.exhausted}
