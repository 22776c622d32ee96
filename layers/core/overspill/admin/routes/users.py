"""Users: create (idempotent with Idempotency-Key), list/search, read, change, deactivate, reactivate, delete."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter

from overspill.admin.api import actor, created, endpoint, scope
from overspill.admin.idempotency import IDEMPOTENCY_HEADER
from overspill.admin.identity import Role
from overspill.admin.schemas import IdempotencyKey, UserIdPath
from overspill.admin.users import UserCreate, UserPage, UserUpdate, UserView, VersionOnly, view
from overspill.users import RoutingMode, UserStatus

router = LambdaFunctionUrlRouter()
TAGS = ["users"]
_CREATED = {201: {"description": "Created (or the first answer again, for a repeated Idempotency-Key)",
                  "content": {"application/json": {"model": UserView}}}}


@endpoint(router, "POST", "/api/users", role=Role.ADMIN, summary="Create a user", tags=TAGS, responses=_CREATED)
def create_user(body: UserCreate,
                idempotency_key: Annotated[IdempotencyKey | None, Header(alias=IDEMPOTENCY_HEADER)] = None
                ) -> Response[UserView]:
    services, who = scope().services, actor()

    def create() -> tuple[UserView, dict]:
        user = view(services.users.create(who, body))
        return user, user.model_dump(mode="json")

    answer, replayed = services.idempotency.run("create_user", idempotency_key, who.principal.subject,
                                                body.model_dump(mode="json"), create)
    return created(answer, replayed)


@endpoint(router, "GET", "/api/users", role=Role.ADMIN, summary="List users (search, filter, cursor pages)",
          tags=TAGS)
def list_users(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=200, description="Part of a name or email")] = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[UserStatus | None, Query()] = None,
    routing_mode: Annotated[RoutingMode | None, Query()] = None,
) -> UserPage:
    users, next_cursor = scope().services.users.list(limit=limit, cursor=cursor, search=search, team=team,
                                                     status=status, routing_mode=routing_mode)
    return UserPage(items=[view(u) for u in users], next_cursor=next_cursor)


@endpoint(router, "GET", "/api/users/<user_id>", role=Role.ADMIN, summary="Read a user", tags=TAGS)
def get_user(user_id: UserIdPath) -> UserView:
    return view(scope().services.users.get(user_id))


@endpoint(router, "PATCH", "/api/users/<user_id>", role=Role.ADMIN, tags=TAGS,
          summary="Change a user (name, email, team, cost centre, routing mode, budget); 409 on a stale version")
def update_user(user_id: UserIdPath, body: UserUpdate) -> UserView:
    return view(scope().services.users.update(actor(), user_id, body))


@endpoint(router, "POST", "/api/users/<user_id>/deactivate", role=Role.ADMIN, tags=TAGS,
          summary="Deactivate a user: their keys stop working (within the proxy's key cache TTL)")
def deactivate_user(user_id: UserIdPath, body: Annotated[VersionOnly | None, Body()] = None) -> UserView:
    return view(scope().services.users.set_active(actor(), user_id, False, body.version if body else None))


@endpoint(router, "POST", "/api/users/<user_id>/reactivate", role=Role.ADMIN, summary="Reactivate a user",
          tags=TAGS)
def reactivate_user(user_id: UserIdPath, body: Annotated[VersionOnly | None, Body()] = None) -> UserView:
    return view(scope().services.users.set_active(actor(), user_id, True, body.version if body else None))


@endpoint(router, "DELETE", "/api/users/<user_id>", role=Role.ADMIN, tags=TAGS,
          summary="Delete a user (soft: kept for usage history, every key revoked); 409 when already deleted")
def delete_user(user_id: UserIdPath) -> UserView:
    return view(scope().services.users.delete(actor(), user_id))

