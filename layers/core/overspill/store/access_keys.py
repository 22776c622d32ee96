"""Access-key repository: keys are found only by the HMAC of their plain value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError

from overspill.keys import AccessKey, KeyStatus, NewKey
from overspill.store.models import AccessKeyModel


class AccessKeyRepository:
    def find(self, key_hash: str, *, consistent: bool = False) -> AccessKey | None:
        try:
            # Eventually consistent by default: half the cost, and a just-issued key is seldom used within a second.
            return _to_key(AccessKeyModel.get(key_hash, consistent_read=consistent))
        except DoesNotExist:
            return None

    def find_usable(self, key_hash: str, now: datetime) -> AccessKey | None:
        """The key if it is active and not expired at ``now``, else None — decided by DynamoDB: a Query on the key
        with a filter answers a revoked or expired key exactly as it answers an unknown one (no item, and the
        same read unit), so neither the response nor the work of reading it tells them apart."""
        usable = (AccessKeyModel.status == KeyStatus.ACTIVE.value) & (
            AccessKeyModel.expires_at.does_not_exist() | (AccessKeyModel.expires_at > now))
        found = next(iter(AccessKeyModel.query(key_hash, filter_condition=usable)), None)
        return None if found is None else _to_key(found)

    def add(self, user_id: str, new_key: NewKey, *, expires_at: datetime | None = None) -> AccessKey:
        item = AccessKeyModel(
            new_key.key_hash, key_id=f"key_{uuid.uuid4().hex[:16]}", user_id=user_id,
            prefix=new_key.prefix, status=KeyStatus.ACTIVE.value, created_at=datetime.now(UTC),
            expires_at=expires_at,
        )
        item.save(condition=AccessKeyModel.key_hash.does_not_exist())
        return _to_key(item)

    def revoke(self, key_hash: str) -> AccessKey | None:
        """Revoke an active key; None when it is not active (already revoked, or gone)."""
        return self._change_active(key_hash, [AccessKeyModel.status.set(KeyStatus.REVOKED.value),
                                              AccessKeyModel.revoked_at.set(datetime.now(UTC))])

    def expire_by(self, key_hash: str, expires_at: datetime) -> AccessKey | None:
        """Make an active key stop working at ``expires_at`` (a rotation's grace); None when it is not active."""
        return self._change_active(key_hash, [AccessKeyModel.expires_at.set(expires_at)])

    def _change_active(self, key_hash: str, actions: list) -> AccessKey | None:
        try:
            AccessKeyModel(key_hash).update(
                actions=actions,
                condition=AccessKeyModel.key_hash.exists() & (AccessKeyModel.status == KeyStatus.ACTIVE.value),
            )
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return self.find(key_hash, consistent=True)

    def for_user(self, user_id: str) -> list[AccessKey]:
        """A user's keys, newest first: the by_user index (keys only), then one BatchGet per 100 keys."""
        hashes = [item.key_hash for item in AccessKeyModel.by_user.query(user_id, scan_index_forward=False)]
        found = {item.key_hash: _to_key(item) for item in AccessKeyModel.batch_get(hashes)}
        return [found[h] for h in hashes if h in found]

    def touch_last_used(self, key_hash: str, now: datetime, min_interval: timedelta) -> bool:
        """Record use at most once per ``min_interval`` across all instances (a conditional write)."""
        stale_before = now - min_interval
        try:
            AccessKeyModel(key_hash).update(
                actions=[AccessKeyModel.last_used_at.set(now)],
                condition=AccessKeyModel.key_hash.exists() & (
                    AccessKeyModel.last_used_at.does_not_exist()
                    | (AccessKeyModel.last_used_at < stale_before)
                ),
            )
            return True
        except UpdateError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False  # another instance recorded it recently enough
            raise


def _to_key(item: AccessKeyModel) -> AccessKey:
    return AccessKey(
        key_hash=item.key_hash, key_id=item.key_id, user_id=item.user_id, prefix=item.prefix,
        status=KeyStatus(item.status), created_at=item.created_at, expires_at=item.expires_at,
        revoked_at=item.revoked_at, last_used_at=item.last_used_at,
    )
