"""Who is calling: access key → HMAC → key item → user, cached briefly per instance.

Unknown, revoked, expired and malformed keys get the same answer for the same work: an HMAC, then one cached
answer or one read by the key's hash that DynamoDB answers alike for all four (no item; only a usable key's user is
read next), so neither the answer nor its timing tells them apart. tests/integration/test_access_key_timing.py
counts the reads; bench/key_timing.py times the answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cachetools import TTLCache

from overspill.aws import error_code
from overspill.errors import INVALID_KEY_MESSAGE, MISSING_KEY_MESSAGE, GatewayError
from overspill.keys import AccessKey, display_prefix, hash_key
from overspill.observability import logger
from overspill.pepper import PepperError
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.users import UserRepository
from overspill.users import User


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    key: AccessKey


# Fail closed, but never with a 401: a developer told their key is bad would go and replace a good key.
KEY_CHECK_UNAVAILABLE_MESSAGE = (
    "Overspill could not check your access key just now: its key store did not answer (throttled or "
    "unavailable). This is a temporary problem on the gateway's side, not with your key; retry in a few seconds."
)
KEY_CHECK_UNAVAILABLE = "key_check_unavailable"

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
        try:
            pepper = self._pepper()
        except PepperError as error:  # Secrets Manager failed; the next request fetches the pepper again
            raise _key_check_unavailable(plain_key, "pepper", error) from None
        # A malformed key is looked up like any other (its item cannot exist): answering it sooner would time apart.
        key_hash = hash_key(plain_key, pepper)
        with self._lock:
            hit = self._cache.get(key_hash, _MISSING)
        if hit is _MISSING:
            try:
                caller = self._lookup(key_hash)
            except Exception as error:  # noqa: BLE001 - DynamoDB throttled or unreachable after botocore's retries
                raise _key_check_unavailable(plain_key, "lookup", error) from None
        else:
            caller = hit
        if caller is None or not caller.key.is_usable(datetime.now(UTC)):
            raise GatewayError(401, INVALID_KEY_MESSAGE)
        if not caller.user.is_active:
            raise GatewayError(403, INACTIVE_USER_MESSAGE)
        return caller

    def _lookup(self, key_hash: str) -> Caller | None:
        # A revoked or expired key comes back as None, as an unknown one does: its user is not read either.
        key = self._keys.find_usable(key_hash, datetime.now(UTC))
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
        try:
            self._keys.touch_last_used(key_hash, now, self._last_used_interval)
        except Exception as error:  # noqa: BLE001 - a missed last-used time is retried after the interval
            logger.warning("access key's last use not recorded", extra={
                "key_prefix": caller.key.prefix, "error": type(error).__name__, "error_code": error_code(error)})


_MISSING = object()


def _key_check_unavailable(plain_key: str, step: str, error: Exception) -> GatewayError:
    # The key's display prefix only; the error's class and code, never its message (it may quote the request).
    logger.warning("access key could not be checked; answering 503", extra={
        "key_prefix": display_prefix(plain_key), "step": step, "error": type(error).__name__,
        "error_code": error_code(error)})
    return GatewayError(503, KEY_CHECK_UNAVAILABLE_MESSAGE, should_retry=True, reason=KEY_CHECK_UNAVAILABLE)
