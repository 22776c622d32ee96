"""Audit repository: entries are only ever added (a conditional put), and listed newest first."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from overspill.store.models import AuditModel

# How far back a listing looks for entries before it stops (months without any admin activity are skipped).
LOOKBACK_MONTHS = 24


@dataclass(frozen=True, slots=True)
class AuditEntry:
    entry_id: str
    at: datetime
    actor: str
    actor_sub: str
    action: str
    target_type: str
    target_id: str | None
    before: dict | None
    after: dict | None
    request_id: str | None


class InvalidCursor(ValueError):
    """A pagination cursor this API did not hand out."""


class AuditRepository:
    def add(self, *, actor: str, actor_sub: str, action: str, target_type: str, target_id: str | None,
            before: dict | None, after: dict | None, request_id: str | None,
            at: datetime | None = None) -> AuditEntry:
        at = at or datetime.now(UTC)
        entry_id = f"{at.isoformat(timespec='microseconds')}#{secrets.token_hex(4)}"
        item = AuditModel(
            at.strftime("%Y-%m"), entry_id, at=at, actor=actor, actor_sub=actor_sub, action=action,
            target_type=target_type, target_id=target_id, request_id=request_id,
            before=None if before is None else orjson.dumps(before, default=str).decode(),
            after=None if after is None else orjson.dumps(after, default=str).decode(),
        )
        item.save(condition=AuditModel.entry_id.does_not_exist())  # never overwrite an entry
        return _to_entry(item)

    def list(self, *, limit: int, cursor: str | None = None, target_type: str | None = None,
             target_id: str | None = None, actor: str | None = None) -> tuple[list[AuditEntry], str | None]:
        """Up to ``limit`` entries, newest first, matching the filters; and the cursor of the next page."""
        month, after = _decode_cursor(cursor) if cursor else (datetime.now(UTC).strftime("%Y-%m"), None)
        found: list[AuditEntry] = []
        for current in _months_back_from(month):
            last_key = after
            after = None
            for item in self._month(current, last_key):
                entry = _to_entry(item)
                if (target_type and entry.target_type != target_type) or \
                        (target_id and entry.target_id != target_id) or (actor and entry.actor != actor):
                    continue
                found.append(entry)
                if len(found) == limit:
                    return found, _encode_cursor(current, entry.entry_id)
        return found, None

    def _month(self, month: str, before_entry: str | None) -> Iterator[AuditModel]:
        condition = AuditModel.entry_id < before_entry if before_entry else None
        return AuditModel.query(month, range_key_condition=condition, scan_index_forward=False, page_size=100)


def _months_back_from(month: str) -> Iterator[str]:
    year, number = int(month[:4]), int(month[5:7])
    for _ in range(LOOKBACK_MONTHS):
        yield f"{year:04d}-{number:02d}"
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)


def _encode_cursor(month: str, entry_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([month, entry_id])).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        month, entry_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        datetime.strptime(month, "%Y-%m")
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidCursor("cursor") from None
    if not isinstance(entry_id, str):
        raise InvalidCursor("cursor")
    return month, entry_id


def _to_entry(item: AuditModel) -> AuditEntry:
    return AuditEntry(
        entry_id=item.entry_id, at=item.at, actor=item.actor, actor_sub=item.actor_sub, action=item.action,
        target_type=item.target_type, target_id=item.target_id, request_id=item.request_id,
        before=None if item.before is None else orjson.loads(item.before),
        after=None if item.after is None else orjson.loads(item.after),
    )
