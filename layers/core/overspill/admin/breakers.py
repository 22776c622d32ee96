"""Admin work on a user's breaker: see its state and recent transitions, and reset it (close it now).

A reset is a conditional write like the proxy's own, so it never overwrites a change it did not see; warm proxy
instances follow it within ``breaker_open_recheck_s``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import Conflict, NotFound
from overspill.breaker import Breaker, BreakerState, reset
from overspill.store.breakers import BreakerRepository
from overspill.store.users import UserRepository

# A proxy instance may write between our read and our write (an opening, a probe): read again and retry.
_RESET_ATTEMPTS = 3


class TransitionView(BaseModel):
    state: BreakerState = Field(description="The state entered")
    at: datetime
    reason: str | None = Field(description="plan_limit, throttle, … (opened); probe (half-open); "
                                           "probe_answered or admin_reset (closed)")
    open_until: datetime | None
    last_status: int | None = Field(description="The plan's HTTP status that caused it, when one did")


class BreakerView(BaseModel):
    user_id: str
    state: BreakerState
    open_until: datetime | None = Field(description="While open: when the plan is tried again")
    reason: str | None = Field(description="Why it last opened")
    last_status: int | None = Field(description="The plan's HTTP status when it last opened")
    trips: int = Field(description="Times it has opened, ever")
    updated_at: datetime | None = Field(description="The last state change; null: none yet")
    probe_until: datetime | None = Field(description="While half-open: when the probing request's lease ends")
    history: list[TransitionView] = Field(description="The last 20 transitions, newest first")
    revision: int = Field(description="+1 per state change")


def view(breaker: Breaker) -> BreakerView:
    return BreakerView(
        user_id=breaker.user_id, state=breaker.state, open_until=breaker.open_until, reason=breaker.reason,
        last_status=breaker.last_status, trips=breaker.trips, updated_at=breaker.updated_at,
        probe_until=breaker.probe_until, revision=breaker.revision,
        history=[TransitionView(state=t.state, at=t.at, reason=t.reason, open_until=t.open_until,
                                last_status=t.last_status) for t in reversed(breaker.history)],
    )


def _audit_view(breaker: Breaker) -> dict[str, Any]:
    # The history is on the item; the entry records the change itself.
    return view(breaker).model_dump(mode="json", exclude={"history"})


class BreakerAdmin:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit
        self._breakers = BreakerRepository()
        self._users = UserRepository()

    def get(self, user_id: str) -> Breaker:
        self._require_user(user_id)
        return self._breakers.get(user_id, consistent=True)

    def reset(self, actor: Actor, user_id: str) -> Breaker:
        """Close the breaker now. A closed one is reset too: the history and the audit log show the admin acted."""
        self._require_user(user_id)
        for _ in range(_RESET_ATTEMPTS):
            before = self._breakers.get(user_id, consistent=True)
            after = reset(before, datetime.now(UTC))
            if self._breakers.replace(after, expected_revision=before.revision):
                self._audit.record(actor, "breaker.reset", "breaker", user_id, before=_audit_view(before),
                                   after=_audit_view(after))
                return after
        raise Conflict(f"The breaker of {user_id} kept changing while it was being reset; try again.")

    def _require_user(self, user_id: str) -> None:
        if self._users.get(user_id) is None:
            raise NotFound(f"There is no user {user_id}.")
