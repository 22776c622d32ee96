"""Team repository: a team's budget and cost centre."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pynamodb.exceptions import DoesNotExist

from overspill.store.models import TeamModel
from overspill.users import Team


class TeamRepository:
    def get(self, team: str) -> Team | None:
        try:
            return _to_team(TeamModel.get(team))
        except DoesNotExist:
            return None

    def with_budget(self) -> list[Team]:
        return [_to_team(item) for item in TeamModel.scan(TeamModel.budget_usd.exists())]

    def put(self, team: str, *, budget_usd: Decimal | None, cost_center: str | None = None) -> Team:
        """Create or replace a team's settings."""
        now = datetime.now(UTC)
        try:
            item = TeamModel.get(team)
            item.budget_usd, item.cost_center, item.updated_at = budget_usd, cost_center, now
        except DoesNotExist:
            item = TeamModel(team, budget_usd=budget_usd, cost_center=cost_center, created_at=now, updated_at=now)
        item.save()
        return _to_team(item)


def _to_team(item: TeamModel) -> Team:
    return Team(team=item.team, budget_usd=item.budget_usd, cost_center=item.cost_center)
