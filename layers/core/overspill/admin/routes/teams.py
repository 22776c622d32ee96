"""Teams: list (with member counts), set a team's monthly budget and cost centre."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter

from overspill.admin.api import actor, endpoint, scope
from overspill.admin.identity import Role
from overspill.admin.teams import TeamList, TeamSettings, TeamView

router = LambdaFunctionUrlRouter()
TAGS = ["teams"]


@endpoint(router, "GET", "/api/teams", role=Role.ADMIN, summary="List teams: named by users or with settings",
          tags=TAGS)
def list_teams() -> TeamList:
    return TeamList(items=scope().services.teams.list())


# The team is in the body, not the path: team names may hold "/" and spaces.
@endpoint(router, "PUT", "/api/teams", role=Role.ADMIN, tags=TAGS,
          summary="Set a team's monthly budget and cost centre; 409 on a stale version")
def set_team(body: TeamSettings) -> TeamView:
    return scope().services.teams.set(actor(), body)
