"""Monthly budgets: checked before every Bedrock call, from the month rollups, cached briefly per instance.

A user's budget (``User.budget_usd``) and their team's (``Team.budget_usd``) are both checked; either one used
up refuses the Bedrock route with 429 ``rate_limit_error`` and ``x-should-retry: false`` until the 1st of the
next month (UTC). The plan route is never refused: a ``plan_first`` developer keeps working on their plan.

What counts (``Settings.budget_counts``): ``bedrock`` — Bedrock spend only (what AWS bills); ``all`` — plan
traffic at the API list price too.

How far a month can overshoot (see docs/operations.md): a request is let through while the spend it sees is
below the budget, and its own cost is only known when it ends. So the overshoot is bounded by the requests
already in flight when the budget is reached, plus those other instances start before they see the new
spend: at most ``NEAR_LIMIT_TTL_S`` (5 s) of cache plus the rollup's stream lag (about a second), once the
spend is at 80 % or more. An instance adds its own requests' costs to its cached figure at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from overspill.aws import error_code
from overspill.errors import GatewayError
from overspill.observability import emit_budget_threshold, logger
from overspill.pricing.table import format_usd
from overspill.store.rollups import RollupRepository
from overspill.store.teams import TeamRepository
from overspill.usage.rollups import team_pk, user_pk
from overspill.users import Team, User

COUNTS_BEDROCK = "bedrock"
COUNTS_ALL = "all"
NEAR_LIMIT_FRACTION = Decimal("0.8")
NEAR_LIMIT_TTL_S = 5.0   # once a budget is 80 % used, other instances' spend must show up quickly
THRESHOLDS = (80, 100)
BUDGET_EXHAUSTED = "budget_exhausted"


@dataclass(frozen=True, slots=True)
class BudgetState:
    scope: str                  # "user" | "team"
    name: str                   # the user's name or the team's
    budget_usd: Decimal
    spent_usd: Decimal
    month: str                  # YYYY-MM (UTC)

    @property
    def used_up(self) -> bool:
        return self.spent_usd >= self.budget_usd

    @property
    def fraction(self) -> Decimal:
        return self.spent_usd / self.budget_usd if self.budget_usd > 0 else Decimal(1)


def next_month_start(now: datetime) -> datetime:
    """When a month's budget resets: 00:00 UTC on the 1st of the next month."""
    now = now.astimezone(UTC)
    return datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)


def exhausted_error(state: BudgetState, now: datetime, counts: str) -> GatewayError:
    whose = "your" if state.scope == "user" else f"your team {state.name!r}'s"
    what = "Bedrock" if counts == COUNTS_BEDROCK else "usage"
    resets = next_month_start(now)
    return GatewayError(
        429,
        f"Overspill: {whose} monthly {what} budget of ${_usd(state.budget_usd)} is used up "
        f"(${_usd(state.spent_usd)} spent in {now.astimezone(UTC):%B %Y} UTC), so Overspill cannot answer "
        f"through Amazon Bedrock until the budget resets on {resets:%Y-%m-%d} 00:00 UTC. Your Anthropic plan "
        "still works when it is not rate-limited; ask your Overspill admin to raise the budget if you need more.",
        should_retry=False, reason=BUDGET_EXHAUSTED,
    )


def _usd(amount: Decimal) -> str:
    # Cents, unless that would show a small non-zero amount as $0.00.
    return format_usd(amount, 6 if 0 < abs(amount) < Decimal("0.01") else 2)


@dataclass(slots=True)
class _Spend:
    month: str
    spent: Decimal
    fetched_at: float


class BudgetService:
    def __init__(self, rollups: RollupRepository, teams: TeamRepository, *, counts: str = COUNTS_BEDROCK,
                 cache_ttl_s: float = 60.0, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if counts not in (COUNTS_BEDROCK, COUNTS_ALL):
            raise ValueError(f"budget counts must be {COUNTS_BEDROCK!r} or {COUNTS_ALL!r}, got {counts!r}")
        self._rollups = rollups
        self._teams = teams
        self._counts = counts
        self._ttl = min(cache_ttl_s, 60.0)
        self._now = clock
        self._monotonic = monotonic
        self._spend: dict[str, _Spend] = {}
        self._team_items: dict[str, tuple[Team | None, float]] = {}
        self._announced: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def check(self, user: User) -> None:
        """Raise the 429 a developer sees when their (or their team's) budget for this month is used up.

        When the spend cannot be read (DynamoDB throttled or unreachable) and this instance has no figure of its
        own, the request goes on: a budget caps a month's spend, and a few requests during an outage of the
        store are a smaller harm than refusing everyone's fallback. Logged as a warning."""
        now = self._now()
        try:
            states = self.states(user, now)
        except Exception as error:  # noqa: BLE001 - any read failure means the same here
            logger.warning("budget not checked: the spend could not be read", extra={
                "user_id": user.user_id, "error": type(error).__name__, "error_code": error_code(error)})
            return
        for state in states:
            self._announce(state)
            if state.used_up:
                logger.info("Bedrock refused: budget used up", extra={
                    "budget_scope": state.scope, "budget_usd": str(state.budget_usd),
                    "spent_usd": str(state.spent_usd), "month": state.month})
                raise exhausted_error(state, now, self._counts)

    def states(self, user: User, now: datetime | None = None) -> list[BudgetState]:
        """The user's budgets this month (user, then team), with what has been spent against them."""
        now = now or self._now()
        month = now.astimezone(UTC).strftime("%Y-%m")
        states = []
        if user.budget_usd is not None:
            spent = self._spent(user_pk(user.user_id), month, user.budget_usd)
            states.append(BudgetState("user", user.name, user.budget_usd, spent, month))
        team = self._team(user.team) if user.team else None
        if team is not None and team.budget_usd is not None:
            spent = self._spent(team_pk(team.team), month, team.budget_usd)
            states.append(BudgetState("team", team.team, team.budget_usd, spent, month))
        return states

    def add_spend(self, user: User, route: str, cost_usd: Decimal | None, occurred_at: datetime) -> None:
        """Count a finished request at once in this instance's figures (the rollup catches up within seconds, or,
        when the usage write failed and the event went to the spill queue, once the replay has stored it)."""
        if not cost_usd or (self._counts == COUNTS_BEDROCK and route != "bedrock"):
            return
        month = occurred_at.astimezone(UTC).strftime("%Y-%m")
        with self._lock:
            for pk in (user_pk(user.user_id), team_pk(user.team) if user.team else None):
                cached = self._spend.get(pk) if pk else None
                if cached is not None and cached.month == month:
                    cached.spent += cost_usd

    def _spent(self, pk: str, month: str, budget: Decimal) -> Decimal:
        now = self._monotonic()
        with self._lock:
            cached = self._spend.get(pk)
        if cached is not None and cached.month == month:
            near = budget > 0 and cached.spent >= budget * NEAR_LIMIT_FRACTION
            if now - cached.fetched_at < (min(self._ttl, NEAR_LIMIT_TTL_S) if near else self._ttl):
                return cached.spent
        try:
            by_route = self._rollups.month_by_route(pk, month)
        except Exception:
            if cached is not None and cached.month == month:
                # An older figure of this month beats none; trusted for another TTL rather than read again by
                # every request while the store fails.
                with self._lock:
                    cached.fetched_at = now
                return cached.spent
            raise
        spent = sum((c.cost_usd for route, c in by_route.items()
                     if self._counts == COUNTS_ALL or route == "bedrock"), Decimal(0))
        with self._lock:
            self._spend[pk] = _Spend(month, spent, now)
        return spent

    def _team(self, name: str) -> Team | None:
        now = self._monotonic()
        with self._lock:
            cached = self._team_items.get(name)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        try:
            team = self._teams.get(name)
        except Exception:
            if cached is not None:
                return cached[0]
            raise
        with self._lock:
            self._team_items[name] = (team, now)
        return team

    def _announce(self, state: BudgetState) -> None:
        # One metric per budget, month and threshold per instance: alarms need the crossing, not every check.
        for threshold in THRESHOLDS:
            if state.fraction * 100 < threshold:
                continue
            mark = (f"{state.scope}:{state.name}", state.month, threshold)
            with self._lock:
                if mark in self._announced:
                    continue
                self._announced.add(mark)
            emit_budget_threshold(scope=state.scope, threshold_percent=threshold)
            logger.warning("budget threshold reached", extra={
                "budget_scope": state.scope, "threshold_percent": threshold, "month": state.month})
