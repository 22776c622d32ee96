"""Access keys: ``ak_`` + 32 random bytes, URL-safe. Stored only as HMAC-SHA256 under a secret pepper."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

KEY_PREFIX = "ak_"
KEY_RANDOM_BYTES = 32
# token_urlsafe(32) is 43 characters of [A-Za-z0-9_-]; accept longer keys should we ever issue them.
_KEY_PATTERN = re.compile(r"ak_[A-Za-z0-9_-]{43,128}")
DISPLAY_PREFIX_CHARS = 10  # "ak_" + 7: enough to tell keys apart in a list, useless to an attacker


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly issued key: the plain value exists only here, to be shown once."""

    plain: str
    key_hash: str
    prefix: str


def generate_key(pepper: bytes) -> NewKey:
    plain = KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    return NewKey(plain=plain, key_hash=hash_key(plain, pepper), prefix=display_prefix(plain))


def is_well_formed(candidate: str) -> bool:
    return _KEY_PATTERN.fullmatch(candidate) is not None


def hash_key(plain: str, pepper: bytes) -> str:
    return hmac.new(pepper, plain.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def display_prefix(plain: str) -> str:
    """What logs and lists may show of a key. Never more than this."""
    return plain[:DISPLAY_PREFIX_CHARS]


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An issued key as stored: everything but the plain value."""

    key_hash: str
    key_id: str
    user_id: str
    prefix: str
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.status is KeyStatus.ACTIVE and (self.expires_at is None or now < self.expires_at)
