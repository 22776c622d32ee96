"""Admin work on teams: a team is named by its users; its settings (a monthly budget, a cost centre) live in
the teams table once an admin sets them. Listing shows both: every team users name, and every team with
settings."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, Field

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import Conflict
from overspill.admin.schemas import STRICT, Label, Money, MoneyOut
from overspill.store.teams import TeamRepository
from overspill.store.users import UserRepository
from overspill.users import Team, UserStatus


class TeamView(BaseModel):
    team: str
    budget_usd: MoneyOut | None = Field(description="Monthly budget in USD for the whole team; null: none")
    cost_center: str | None
    members: int = Field(description="Users (not deleted) in this team")
    version: int = Field(description="Send it back with a change (0: no settings yet)")
    updated_at: datetime | None


class TeamList(BaseModel):
    items: list[TeamView]


class TeamSettings(BaseModel):
    model_config = STRICT
    team: Label
    version: int = Field(ge=0, strict=True, description="The version you read (0 for a team without settings)")
    budget_usd: Money | None = None
    cost_center: Label | None = None


class TeamAdmin:
    def __init__(self, audit: AuditLog) -> None:
        self._teams = TeamRepository()
        self._users = UserRepository()
        self._audit = audit

    def list(self) -> list[TeamView]:
        members = Counter(u.team for u in self._users.all() if u.team and u.status is not UserStatus.DELETED)
        stored = {t.team: t for t in self._teams.all()}
        names = sorted(set(members) | set(stored), key=str.casefold)
        return [view(stored.get(name) or Team(name, None, None), members.get(name, 0)) for name in names]

    def set(self, actor: Actor, request: TeamSettings) -> TeamView:
        before = self._teams.get(request.team)
        after = self._teams.save(request.team, request.version, budget_usd=request.budget_usd,
                                 cost_center=request.cost_center)
        if after is None:
            raise Conflict(f"Team {request.team!r} was changed by someone else since version {request.version} "
                           "was read; read it again and reapply your change.")
        members = sum(1 for u in self._users.all() if u.team == request.team and u.status is not UserStatus.DELETED)
        result = view(after, members)
        self._audit.record(actor, "team.update", "team", request.team,
                           before=view(before, members).model_dump(mode="json") if before else None,
                           after=result.model_dump(mode="json"))
        return result


def view(team: Team, members: int) -> TeamView:
    return TeamView(team=team.team, budget_usd=team.budget_usd, cost_center=team.cost_center, members=members,
                    version=team.version, updated_at=team.updated_at)
