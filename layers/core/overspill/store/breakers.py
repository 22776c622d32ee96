"""Breaker repository: one item per user, replaced only with a condition on the revision that was read."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError

from overspill.breaker import Breaker, BreakerState, Transition
from overspill.store.models import BreakerModel


class BreakerRepository:
    def get(self, user_id: str, *, consistent: bool = False) -> Breaker:
        try:
            item = BreakerModel.get(user_id, consistent_read=consistent)
        except DoesNotExist:
            return Breaker(user_id)
        return Breaker(
            user_id=item.user_id, state=BreakerState(item.state), open_until=item.open_until, reason=item.reason,
            last_status=_int(item.last_status), failures=int(item.failures or 0), trips=int(item.trips or 0),
            probe_until=item.probe_until, probe_owner=item.probe_owner, updated_at=item.updated_at,
            revision=int(item.revision or 0),
            history=tuple(Transition(BreakerState(t.state), t.at, t.reason, t.open_until, _int(t.last_status))
                          for t in item.history or ()),
        )

    def replace(self, new: Breaker, *, expected_revision: int) -> bool:
        item = BreakerModel(
            new.user_id, state=new.state.value, open_until=new.open_until, reason=new.reason,
            last_status=new.last_status, failures=new.failures, trips=new.trips, probe_until=new.probe_until,
            probe_owner=new.probe_owner, updated_at=new.updated_at, revision=new.revision,
            history=[BreakerModel.Transition(state=t.state.value, at=t.at, reason=t.reason, open_until=t.open_until,
                                             last_status=t.last_status) for t in new.history] or None,
        )
        condition = (BreakerModel.user_id.does_not_exist() if expected_revision == 0
                     else BreakerModel.revision == expected_revision)
        try:
            item.save(condition=condition)
            return True
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
