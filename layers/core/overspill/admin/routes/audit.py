"""GET /api/audit: the audit log, newest first (admins only; there is no way to change it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter
from pydantic import BaseModel

from overspill.admin.api import endpoint, scope
from overspill.admin.errors import InvalidInput
from overspill.admin.identity import Role
from overspill.store.audit import InvalidCursor

router = LambdaFunctionUrlRouter()


class AuditEntryView(BaseModel):
    entry_id: str
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntryView]
    next_cursor: str | None


@endpoint(router, "GET", "/api/audit", role=Role.ADMIN, summary="List audit entries, newest first",
          tags=["audit"])
def list_audit(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    target_type: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
) -> AuditPage:
    try:
        entries, next_cursor = scope().services.audit.list(limit=limit, cursor=cursor, target_type=target_type,
                                                           target_id=target_id, actor=actor)
    except InvalidCursor:
        raise InvalidInput("cursor", "is not a cursor this API handed out") from None
    return AuditPage(items=[AuditEntryView(entry_id=e.entry_id, at=e.at, actor=e.actor, action=e.action,
                                           target_type=e.target_type, target_id=e.target_id, before=e.before,
                                           after=e.after, request_id=e.request_id) for e in entries],
                     next_cursor=next_cursor)
