"""Admin work on access keys: issue (the plain key is in that answer only), list, revoke, rotate.

A rotation issues a new key and lets the old one keep working for a grace period, so a developer can switch
without an outage; revoking stops a key at once (the proxy follows within its key cache TTL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import Conflict, InvalidInput, NotFound
from overspill.admin.schemas import STRICT
from overspill.keys import AccessKey, KeyStatus, generate_key
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.users import UserRepository
from overspill.users import UserStatus

MAX_KEY_DAYS = 3650
MAX_GRACE_S = 30 * 86_400


class AccessKeyView(BaseModel):
    key_id: str
    user_id: str
    prefix: str = Field(description="The first characters of the key: enough to tell keys apart, useless to use")
    status: Literal["active", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AccessKeyList(BaseModel):
    items: list[AccessKeyView]


class IssuedKey(AccessKeyView):
    key: str | None = Field(description="The access key. Shown in this answer only; null when the answer replays "
                                        "an earlier request with the same Idempotency-Key")
    base_url: str | None = Field(description="ANTHROPIC_BASE_URL for Claude Code (null with the key)")
    export_line: str | None = Field(description="Ready to paste into a shell (null with the key)")
    previous: AccessKeyView | None = Field(default=None, description="After a rotation: the old key and when it stops")


class IssueKey(BaseModel):
    model_config = STRICT
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_KEY_DAYS, strict=True, description="null: no expiry")


class RotateKey(BaseModel):
    model_config = STRICT
    grace_seconds: int | None = Field(default=None, ge=0, le=MAX_GRACE_S, strict=True,
                                      description="How long the old key keeps working [the deployment's default]")
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_KEY_DAYS, strict=True)


def key_view(key: AccessKey, now: datetime | None = None) -> AccessKeyView:
    now = now or datetime.now(UTC)
    status: Literal["active", "revoked", "expired"] = (
        "revoked" if key.status is KeyStatus.REVOKED
        else "expired" if key.expires_at is not None and key.expires_at <= now else "active")
    return AccessKeyView(key_id=key.key_id, user_id=key.user_id, prefix=key.prefix, status=status,
                         created_at=key.created_at, expires_at=key.expires_at, revoked_at=key.revoked_at,
                         last_used_at=key.last_used_at)


def storable(issued: IssuedKey) -> dict[str, Any]:
    """What may be kept of an issue answer (for idempotent replays): everything but the key itself."""
    return issued.model_dump(mode="json") | {"key": None, "base_url": None, "export_line": None}


class KeyAdmin:
    def __init__(self, audit: AuditLog, pepper: Callable[[], bytes], *, proxy_url: str | None,
                 rotation_grace: timedelta) -> None:
        self._keys = AccessKeyRepository()
        self._users = UserRepository()
        self._audit = audit
        self._pepper = pepper
        self._proxy_url = proxy_url.rstrip("/") if proxy_url else None
        self._grace = rotation_grace

    def list(self, user_id: str) -> list[AccessKey]:
        self._user(user_id)
        return self._keys.for_user(user_id)

    def issue(self, actor: Actor, user_id: str, request: IssueKey) -> IssuedKey:
        user = self._user(user_id)
        if user.status is not UserStatus.ACTIVE:
            raise Conflict(f"User {user_id} is {user.status}; keys are issued to active users only.")
        issued = self._issue(user_id, request.expires_in_days)
        self._audit.record(actor, "key.issue", "key", issued.key_id, after=storable(issued))
        return issued

    def revoke(self, actor: Actor, user_id: str, key_id: str) -> AccessKey:
        key = self._key(user_id, key_id)
        if key.status is KeyStatus.REVOKED:
            raise Conflict(f"Key {key_id} ({key.prefix}…) was already revoked.")
        revoked = self._keys.revoke(key.key_hash)
        if revoked is None:
            raise Conflict(f"Key {key_id} ({key.prefix}…) was already revoked.")
        self._audit.record(actor, "key.revoke", "key", key_id, before=key_view(key).model_dump(mode="json"),
                           after=key_view(revoked).model_dump(mode="json"))
        return revoked

    def rotate(self, actor: Actor, user_id: str, key_id: str, request: RotateKey) -> IssuedKey:
        old = self._key(user_id, key_id)
        now = datetime.now(UTC)
        if not old.is_usable(now):
            state = "revoked" if old.status is KeyStatus.REVOKED else "expired"
            raise InvalidInput("key_id", f"key {key_id} ({old.prefix}…) is {state}; only an active key can be "
                                         "rotated — issue a new key instead")
        user = self._user(user_id)
        if user.status is not UserStatus.ACTIVE:
            raise Conflict(f"User {user_id} is {user.status}; keys are issued to active users only.")
        grace = self._grace if request.grace_seconds is None else timedelta(seconds=request.grace_seconds)
        stops_at = now + grace if old.expires_at is None else min(old.expires_at, now + grace)
        issued = self._issue(user_id, request.expires_in_days)
        previous = self._keys.expire_by(old.key_hash, stops_at)
        if previous is None:  # revoked in between: the new key stands, the old one is already dead
            previous = self._keys.find(old.key_hash, consistent=True) or old
        issued = issued.model_copy(update={"previous": key_view(previous)})
        self._audit.record(actor, "key.rotate", "key", key_id, before=key_view(old).model_dump(mode="json"),
                           after=storable(issued))
        return issued

    def revoke_all(self, actor: Actor, user_id: str) -> int:
        revoked = 0
        for key in self._keys.for_user(user_id):
            if key.status is KeyStatus.ACTIVE and self._keys.revoke(key.key_hash) is not None:
                revoked += 1
                self._audit.record(actor, "key.revoke", "key", key.key_id,
                                   before=key_view(key).model_dump(mode="json"), after={"status": "revoked"})
        return revoked

    def _issue(self, user_id: str, expires_in_days: int | None) -> IssuedKey:
        new_key = generate_key(self._pepper())
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        key = self._keys.add(user_id, new_key, expires_at=expires_at)
        base_url = f"{self._proxy_url}/ak/{new_key.plain}" if self._proxy_url else None
        return IssuedKey(**key_view(key).model_dump(), key=new_key.plain, base_url=base_url,
                         export_line=f"export ANTHROPIC_BASE_URL={base_url}" if base_url else None)

    def _user(self, user_id: str):  # noqa: ANN202 - a User
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        return user

    def _key(self, user_id: str, key_id: str) -> AccessKey:
        self._user(user_id)
        for key in self._keys.for_user(user_id):
            if key.key_id == key_id:
                return key
        raise NotFound(f"User {user_id} has no key {key_id}.")
