"""Access keys of a user: issue (the key is in that answer only), list, revoke, rotate."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter

from overspill.admin.api import actor, created, endpoint, scope
from overspill.admin.idempotency import IDEMPOTENCY_HEADER
from overspill.admin.identity import Role
from overspill.admin.keys import AccessKeyList, AccessKeyView, IssuedKey, IssueKey, RotateKey, key_view, storable
from overspill.admin.schemas import IdempotencyKey, KeyIdPath, UserIdPath

router = LambdaFunctionUrlRouter()
TAGS = ["keys"]
_ISSUED = {201: {"description": "Issued: the key is in this answer only",
                 "content": {"application/json": {"model": IssuedKey}}}}


@endpoint(router, "GET", "/api/users/<user_id>/keys", role=Role.ADMIN, summary="List a user's keys (never the keys)",
          tags=TAGS)
def list_keys(user_id: UserIdPath) -> AccessKeyList:
    return AccessKeyList(items=[key_view(k) for k in scope().services.keys.list(user_id)])


@endpoint(router, "POST", "/api/users/<user_id>/keys", role=Role.ADMIN, tags=TAGS, responses=_ISSUED,
          summary="Issue a key, with the ANTHROPIC_BASE_URL to paste")
def issue_key(user_id: UserIdPath, body: Annotated[IssueKey | None, Body()] = None,
              idempotency_key: Annotated[IdempotencyKey | None, Header(alias=IDEMPOTENCY_HEADER)] = None
              ) -> Response[IssuedKey]:
    services, who, request = scope().services, actor(), body or IssueKey()

    def create() -> tuple[IssuedKey, dict]:
        issued = services.keys.issue(who, user_id, request)
        return issued, storable(issued)

    answer, replayed = services.idempotency.run("issue_key", idempotency_key, who.principal.subject,
                                                {"user_id": user_id, **request.model_dump(mode="json")}, create)
    return created(answer, replayed)


@endpoint(router, "POST", "/api/users/<user_id>/keys/<key_id>/revoke", role=Role.ADMIN, tags=TAGS,
          summary="Revoke a key now (the proxy refuses it within its key cache TTL)")
def revoke_key(user_id: UserIdPath, key_id: KeyIdPath) -> AccessKeyView:
    return key_view(scope().services.keys.revoke(actor(), user_id, key_id))


@endpoint(router, "POST", "/api/users/<user_id>/keys/<key_id>/rotate", role=Role.ADMIN, tags=TAGS,
          responses=_ISSUED, summary="Issue a replacement key; the old one keeps working for a grace period")
def rotate_key(user_id: UserIdPath, key_id: KeyIdPath, body: Annotated[RotateKey | None, Body()] = None,
               idempotency_key: Annotated[IdempotencyKey | None, Header(alias=IDEMPOTENCY_HEADER)] = None
               ) -> Response[IssuedKey]:
    services, who, request = scope().services, actor(), body or RotateKey()

    def create() -> tuple[IssuedKey, dict]:
        issued = services.keys.rotate(who, user_id, key_id, request)
        return issued, storable(issued)

    answer, replayed = services.idempotency.run(
        "rotate_key", idempotency_key, who.principal.subject,
        {"user_id": user_id, "key_id": key_id, **request.model_dump(mode="json")}, create)
    return created(answer, replayed)
