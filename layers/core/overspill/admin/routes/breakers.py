"""A user's breaker: read it (state and recent transitions), reset it (close it now)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter

from overspill.admin.api import actor, endpoint, scope
from overspill.admin.breakers import BreakerView, view
from overspill.admin.identity import Role
from overspill.admin.schemas import UserIdPath

router = LambdaFunctionUrlRouter()
TAGS = ["breakers"]


@endpoint(router, "GET", "/api/users/<user_id>/breaker", role=Role.ADMIN, tags=TAGS,
          summary="Read a user's breaker: state, why and until when, and its last 20 transitions")
def get_breaker(user_id: UserIdPath) -> BreakerView:
    return view(scope().services.breakers.get(user_id))


@endpoint(router, "POST", "/api/users/<user_id>/breaker/reset", role=Role.ADMIN, tags=TAGS,
          summary="Close a user's breaker now (proxy instances follow within OVERSPILL_BREAKER_OPEN_RECHECK_S)")
def reset_breaker(user_id: UserIdPath) -> BreakerView:
    return view(scope().services.breakers.reset(actor(), user_id))
