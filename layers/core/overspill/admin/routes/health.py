"""GET /api/health (open: load balancers and the dashboard's "API down" banner ask it) and GET /api/me."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter
from pydantic import BaseModel

from overspill.admin.api import OPEN, endpoint, principal
from overspill.admin.identity import Role

router = LambdaFunctionUrlRouter()


class Health(BaseModel):
    status: str


class Me(BaseModel):
    username: str
    role: Role
    groups: list[str]


@endpoint(router, "GET", "/api/health", role=OPEN, summary="Is the admin API up?", tags=["health"])
def health() -> Health:
    return Health(status="ok")


@endpoint(router, "GET", "/api/me", role=Role.FINANCE, summary="Who am I signed in as, and with which role?",
          tags=["health"])
def me() -> Me:
    caller = principal()
    assert caller.role is not None  # require() let it through
    return Me(username=caller.username, role=caller.role, groups=list(caller.groups))
