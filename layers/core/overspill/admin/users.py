"""Admin work on users: create, find, change (with optimistic concurrency), deactivate, reactivate, delete.

A delete is soft: the user stays (usage history keeps a name) with status ``deleted`` and every key revoked;
a deleted user cannot be changed or reactivated (create a new one)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import Conflict, InvalidInput, NotFound
from overspill.admin.schemas import STRICT, Email, Label, Money, MoneyOut, Text
from overspill.store.users import UserRepository
from overspill.users import RoutingMode, User, UserStatus

if TYPE_CHECKING:
    from overspill.admin.keys import KeyAdmin


class UserView(BaseModel):
    user_id: str
    name: str
    email: str | None
    team: str | None
    cost_center: str | None
    routing_mode: RoutingMode
    status: UserStatus
    budget_usd: MoneyOut | None = Field(description="Monthly budget in USD; null: none")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Send it back with a change: a stale version is refused (409)")


class UserPage(BaseModel):
    items: list[UserView]
    next_cursor: str | None


class UserCreate(BaseModel):
    model_config = STRICT
    name: Text
    email: Email | None = None
    team: Label | None = None
    cost_center: Label | None = None
    routing_mode: RoutingMode = RoutingMode.PLAN_FIRST
    budget_usd: Money | None = None


class UserUpdate(BaseModel):
    """Only the fields present change; ``null`` clears an optional one."""

    model_config = STRICT
    version: int = Field(ge=0, strict=True, description="The version of the user you read")
    name: Text | None = None
    email: Email | None = None
    team: Label | None = None
    cost_center: Label | None = None
    routing_mode: RoutingMode | None = None
    budget_usd: Money | None = None


class VersionOnly(BaseModel):
    model_config = STRICT
    version: int | None = Field(default=None, ge=0, strict=True, description="When given, refused (409) if stale")


def view(user: User) -> UserView:
    return UserView(user_id=user.user_id, name=user.name, email=user.email, team=user.team,
                    cost_center=user.cost_center, routing_mode=user.routing_mode, status=user.status,
                    budget_usd=user.budget_usd, created_at=user.created_at, updated_at=user.updated_at,
                    version=user.version)


def _audit_view(user: User) -> dict[str, Any]:
    return view(user).model_dump(mode="json")


class UserAdmin:
    def __init__(self, audit: AuditLog, keys: KeyAdmin) -> None:
        self._users = UserRepository()
        self._audit = audit
        self._keys = keys

    def get(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        return user

    def create(self, actor: Actor, request: UserCreate) -> User:
        user = self._users.create(request.name, email=request.email, team=request.team,
                                  cost_center=request.cost_center, routing_mode=request.routing_mode,
                                  budget_usd=request.budget_usd)
        self._audit.record(actor, "user.create", "user", user.user_id, after=_audit_view(user))
        return user

    def list(self, *, limit: int, cursor: str | None, search: str | None, team: str | None,
             status: UserStatus | None, routing_mode: RoutingMode | None) -> tuple[list[User], str | None]:
        """Users sorted by name (then id), filtered; ``search`` matches part of the name or the email."""
        after = _decode_cursor(cursor) if cursor else None
        needle = search.casefold() if search else None
        matching = sorted(
            (u for u in self._users.all()
             if (team is None or u.team == team) and (status is None or u.status is status)
             and (routing_mode is None or u.routing_mode is routing_mode)
             and (needle is None or needle in u.name.casefold() or needle in (u.email or "").casefold())),
            key=_sort_key,
        )
        if after is not None:
            matching = [u for u in matching if _sort_key(u) > after]
        page = matching[:limit]
        more = len(matching) > limit
        return page, _encode_cursor(_sort_key(page[-1])) if more and page else None

    def update(self, actor: Actor, user_id: str, request: UserUpdate) -> User:
        before = self.get(user_id)
        if before.status is UserStatus.DELETED:
            raise Conflict(f"User {user_id} is deleted; deleted users cannot be changed.")
        changes = {name: getattr(request, name) for name in request.model_fields_set if name != "version"}
        if "name" in changes and changes["name"] is None:
            raise InvalidInput("name", "a user must have a name")
        if "routing_mode" in changes and changes["routing_mode"] is None:
            raise InvalidInput("routing_mode", "a user must have a routing mode")
        return self._save(actor, before, request.version, "user.update", changes)

    def set_active(self, actor: Actor, user_id: str, active: bool, version: int | None) -> User:
        before = self.get(user_id)
        if before.status is UserStatus.DELETED:
            raise Conflict(f"User {user_id} is deleted; create a new user instead.")
        status = UserStatus.ACTIVE if active else UserStatus.INACTIVE
        return self._save(actor, before, before.version if version is None else version,
                          "user.reactivate" if active else "user.deactivate", {"status": status})

    def delete(self, actor: Actor, user_id: str) -> User:
        before = self.get(user_id)
        if before.status is UserStatus.DELETED:
            raise Conflict(f"User {user_id} was already deleted.")
        deleted = self._save(actor, before, before.version, "user.delete", {"status": UserStatus.DELETED})
        self._keys.revoke_all(actor, user_id)
        return deleted

    def _save(self, actor: Actor, before: User, version: int, action: str, changes: dict[str, Any]) -> User:
        try:
            after = self._users.save_changes(before.user_id, version, **changes)
        except LookupError:
            raise NotFound(f"There is no user {before.user_id}.") from None
        if after is None:
            raise Conflict(f"User {before.user_id} was changed by someone else since version {version} was read; "
                           "read it again and reapply your change.")
        self._audit.record(actor, action, "user", before.user_id, before=_audit_view(before),
                           after=_audit_view(after))
        return after


def _sort_key(user: User) -> tuple[str, str]:
    return user.name.casefold(), user.user_id


def _encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        name, user_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput("cursor", "is not a cursor this API handed out") from None
    if not isinstance(name, str) or not isinstance(user_id, str):
        raise InvalidInput("cursor", "is not a cursor this API handed out")
    return name, user_id
