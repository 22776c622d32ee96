"""Who is calling: access key → HMAC → key item → user, cached briefly per instance.

Unknown, revoked, expired and malformed keys get the same answer; unknown and revoked keys cost the same
work (an HMAC and one lookup, or one cache hit), so the answer's timing does not tell them apart either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cachetools import TTLCache

from overspill.errors import INVALID_KEY_MESSAGE, MISSING_KEY_MESSAGE, GatewayError
from overspill.keys import AccessKey, hash_key, is_well_formed
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.users import UserRepository
from overspill.users import User


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    key: AccessKey


INACTIVE_USER_MESSAGE = (
    "Overspill: the account this access key belongs to is deactivated. Ask your Overspill admin to "
    "reactivate it."
)


class Authenticator:
    def __init__(
        self,
        keys: AccessKeyRepository,
        users: UserRepository,
        pepper: Callable[[], bytes],
        *,
        cache_ttl_s: float,
        cache_size: int,
        last_used_interval_s: float,
    ) -> None:
        self._keys = keys
        self._users = users
        self._pepper = pepper
        # Negative results are cached too: a client stuck on a bad key costs no DynamoDB reads.
        self._cache: TTLCache[str, Caller | None] = TTLCache(cache_size, cache_ttl_s, timer=time.monotonic)
        self._touched: TTLCache[str, float] = TTLCache(cache_size, max(last_used_interval_s, 1.0),
                                                       timer=time.monotonic)
        self._last_used_interval = timedelta(seconds=last_used_interval_s)
        self._lock = threading.Lock()

    def authenticate(self, plain_key: str | None) -> Caller:
        if not plain_key:
            raise GatewayError(401, MISSING_KEY_MESSAGE)
        key_hash = hash_key(plain_key, self._pepper())
        if not is_well_formed(plain_key):
            raise GatewayError(401, INVALID_KEY_MESSAGE)
        with self._lock:
            hit = self._cache.get(key_hash, _MISSING)
        caller = self._lookup(key_hash) if hit is _MISSING else hit
        if caller is None or not caller.key.is_usable(datetime.now(UTC)):
            raise GatewayError(401, INVALID_KEY_MESSAGE)
        if not caller.user.is_active:
            raise GatewayError(403, INACTIVE_USER_MESSAGE)
        return caller

    def _lookup(self, key_hash: str) -> Caller | None:
        key = self._keys.find(key_hash)
        user = self._users.get(key.user_id) if key is not None else None
        caller = Caller(user, key) if key is not None and user is not None else None
        with self._lock:
            self._cache[key_hash] = caller
        return caller

    def record_use(self, caller: Caller) -> None:
        """Keep the key's last-used time, writing at most once per interval (off the response path)."""
        key_hash = caller.key.key_hash
        now = datetime.now(UTC)
        last_used = caller.key.last_used_at
        if last_used is not None and now - last_used < self._last_used_interval:
            return
        with self._lock:
            if key_hash in self._touched:
                return
            self._touched[key_hash] = time.monotonic()
        self._keys.touch_last_used(key_hash, now, self._last_used_interval)


_MISSING = object()
