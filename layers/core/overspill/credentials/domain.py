"""A user's own Bedrock credentials: what they are, how they are checked, and what of them may be shown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class CredentialKind(StrEnum):
    API_KEY = "api_key"        # a Bedrock API key, sent as ``Authorization: Bearer <key>``
    ACCESS_KEY = "access_key"  # an IAM access key pair (+ session token for temporary ASIA… keys), SigV4


class InvalidCredentials(ValueError):
    """Credentials an admin entered are malformed. The message names the field, never its value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CredentialsUnavailable(RuntimeError):
    """Stored credentials exist but cannot be used (KMS refused, ciphertext corrupt or moved, store down).

    ``reason`` is a short code for logs and metrics; the message tells an operator what to do. Neither ever
    contains the secret."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def transient(self) -> bool:
        """KMS or the credentials table could not be reached (or throttled us): the next request tries again and
        may well succeed. Every other reason needs an admin or an operator."""
        return self.reason in TRANSIENT_REASONS


# Set by the vault (KMS throttled, failing or unreachable) and by the client cache (the credentials table).
TRANSIENT_REASONS = frozenset({"kms_unreachable", "store_unavailable"})


_ACCESS_KEY_ID = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")
_SECRET_ACCESS_KEY = re.compile(r"[A-Za-z0-9/+]{40}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+){1,2}-\d{1,2}")
# Bedrock API keys are opaque: long-term ones are "ABSK" + base64, short-term ones "bedrock-api-key-" + a
# base64 presigned URL (a few KB). Visible ASCII only: the key goes into an HTTP header as is.
_API_KEY = re.compile(r"[\x21-\x7e]+")
API_KEY_MIN_LENGTH = 20
API_KEY_MAX_LENGTH = 16 * 1024
SESSION_TOKEN_MAX_LENGTH = 8 * 1024


@dataclass(frozen=True, slots=True, repr=False)
class BedrockCredentials:
    """Either a Bedrock API key or an IAM access key; ``region`` None means the deployment's Bedrock region.

    Build with :meth:`from_api_key` / :meth:`from_access_key`. ``repr``/``str`` show only :attr:`hint`."""

    kind: CredentialKind
    region: str | None = None
    api_key: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_api_key(cls, api_key: str, *, region: str | None = None) -> BedrockCredentials:
        return cls(CredentialKind.API_KEY, region=_clean(region), api_key=(api_key or "").strip())

    @classmethod
    def from_access_key(cls, access_key_id: str, secret_access_key: str, session_token: str | None = None, *,
                        region: str | None = None) -> BedrockCredentials:
        return cls(CredentialKind.ACCESS_KEY, region=_clean(region), access_key_id=(access_key_id or "").strip(),
                   secret_access_key=(secret_access_key or "").strip(), session_token=_clean(session_token))

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", CredentialKind(self.kind))
        except ValueError:
            raise InvalidCredentials("kind", "kind must be api_key or access_key") from None
        if self.region is not None and not _REGION.fullmatch(self.region):
            raise InvalidCredentials("region", f"region must be an AWS region name such as us-east-1, "
                                               f"got {self.region[:40]!r}")
        if self.kind is CredentialKind.API_KEY:
            self._check_api_key()
        else:
            self._check_access_key()

    def _check_api_key(self) -> None:
        key = self.api_key
        if not key:
            raise InvalidCredentials("api_key", "the Bedrock API key is empty")
        if not _API_KEY.fullmatch(key):
            raise InvalidCredentials("api_key", "the Bedrock API key contains spaces, line breaks or non-ASCII "
                                                "characters; paste it again exactly as the Bedrock console shows it")
        if len(key) < API_KEY_MIN_LENGTH:
            raise InvalidCredentials("api_key", f"the Bedrock API key is too short ({len(key)} characters): it "
                                                "looks truncated")
        if len(key) > API_KEY_MAX_LENGTH:
            raise InvalidCredentials("api_key", "the Bedrock API key is too long (over 16 KiB)")
        if any(v is not None for v in (self.access_key_id, self.secret_access_key, self.session_token)):
            raise InvalidCredentials("kind", "an api_key credential carries no access key fields")

    def _check_access_key(self) -> None:
        key_id, token = self.access_key_id, self.session_token
        if not key_id:
            raise InvalidCredentials("access_key_id", "the access key id is empty")
        if not _ACCESS_KEY_ID.fullmatch(key_id):
            raise InvalidCredentials("access_key_id", "the access key id must be AKIA… (long-term) or ASIA… "
                                                      "(temporary) followed by 16 uppercase letters or digits")
        if not self.secret_access_key:
            raise InvalidCredentials("secret_access_key", "the secret access key is empty")
        if not _SECRET_ACCESS_KEY.fullmatch(self.secret_access_key):
            raise InvalidCredentials("secret_access_key", "the secret access key must be 40 characters of "
                                                          "A–Z, a–z, 0–9, / and +")
        if key_id.startswith("ASIA") and not token:
            raise InvalidCredentials("session_token", "a temporary access key (ASIA…) needs its session token")
        if key_id.startswith("AKIA") and token:
            raise InvalidCredentials("session_token", "a session token belongs to a temporary access key (ASIA…), "
                                                      "not to a long-term one (AKIA…)")
        if token is not None and (not _API_KEY.fullmatch(token) or len(token) > SESSION_TOKEN_MAX_LENGTH):
            raise InvalidCredentials("session_token", "the session token is malformed")
        if self.api_key is not None:
            raise InvalidCredentials("kind", "an access_key credential carries no API key")

    @property
    def hint(self) -> str:
        """What may be shown of these credentials: ``AKIA…WXYZ`` for an access key, ``…abcd`` for an API key."""
        if self.kind is CredentialKind.ACCESS_KEY:
            assert self.access_key_id is not None  # nosec B101  # type narrowing: validate() requires it
            return f"{self.access_key_id[:4]}…{self.access_key_id[-4:]}"
        assert self.api_key is not None  # nosec B101  # type narrowing: validate() requires it
        return f"…{self.api_key[-4:]}"

    def masked(self) -> dict[str, str | None]:
        """A display view: kind, region and hint, nothing more."""
        return {"kind": self.kind.value, "region": self.region, "hint": self.hint}

    def __repr__(self) -> str:
        return f"BedrockCredentials(kind={self.kind.value!r}, region={self.region!r}, hint={self.hint!r})"

    __str__ = __repr__


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
