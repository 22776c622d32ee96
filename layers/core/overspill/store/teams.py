"""Team repository: a team's budget and cost centre."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pynamodb.exceptions import DoesNotExist, PutError

from overspill.store.models import TeamModel
from overspill.users import Team


class TeamRepository:
    def get(self, team: str) -> Team | None:
        try:
            return _to_team(TeamModel.get(team))
        except DoesNotExist:
            return None

    def all(self) -> list[Team]:
        return [_to_team(item) for item in TeamModel.scan()]

    def save(self, team: str, expected_version: int, *, budget_usd: Decimal | None,
             cost_center: str | None) -> Team | None:
        """Set a team's settings if its stored version is still ``expected_version`` (0: no item yet); None if
        someone else changed them since."""
        now = datetime.now(UTC)
        try:
            item = TeamModel.get(team, consistent_read=True)
        except DoesNotExist:
            item = TeamModel(team, created_at=now)
        if (item.version or 0) != expected_version:
            return None
        item.budget_usd, item.cost_center, item.updated_at = budget_usd, cost_center, now
        try:
            item.save()  # conditional on the version read (or on the item not existing yet)
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return _to_team(item)

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
    return Team(team=item.team, budget_usd=item.budget_usd, cost_center=item.cost_center,
                version=item.version or 0, updated_at=item.updated_at)
