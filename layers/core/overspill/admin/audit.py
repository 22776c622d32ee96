"""The audit log: who changed what, when, with the state before and after — secrets masked, never editable.

Services call :meth:`AuditLog.record` after each mutation succeeds, with views of the thing changed (the same
views the API returns, which never hold a secret). As a second line, any field whose name says it holds a
secret is masked before it is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from overspill.admin.identity import Principal
from overspill.store.audit import AuditEntry, AuditRepository

_SECRET_FIELDS = frozenset({"key", "api_key", "secret_access_key", "session_token", "password", "token",
                            "access_token", "refresh_token", "pepper", "ciphertext", "key_hash"})
MASK = "[masked]"


def masked(value: Any) -> Any:
    """``value`` with every secret-named field replaced by a mask, at any depth."""
    if isinstance(value, dict):
        return {k: (MASK if k in _SECRET_FIELDS and v is not None else masked(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, and in which API request (both go into the audit entry)."""

    principal: Principal
    request_id: str | None = None


class AuditLog:
    def __init__(self, repository: AuditRepository) -> None:
        self._repository = repository

    def record(self, actor: Actor, action: str, target_type: str, target_id: str | None, *,
               before: dict | None = None, after: dict | None = None) -> AuditEntry:
        return self._repository.add(
            actor=actor.principal.username, actor_sub=actor.principal.subject, action=action,
            target_type=target_type, target_id=target_id, before=masked(before), after=masked(after),
            request_id=actor.request_id,
        )

    def list(self, *, limit: int, cursor: str | None = None, target_type: str | None = None,
             target_id: str | None = None, actor: str | None = None) -> tuple[list[AuditEntry], str | None]:
        return self._repository.list(limit=limit, cursor=cursor, target_type=target_type, target_id=target_id,
                                     actor=actor)
