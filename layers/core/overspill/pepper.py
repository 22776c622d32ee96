"""The access-key pepper: a secret in Secrets Manager, read once per instance."""

from __future__ import annotations

import secrets
import threading
from typing import Any

PEPPER_BYTES = 48


class PepperError(RuntimeError):
    """The pepper could not be read; access keys cannot be checked until it can."""


class PepperProvider:
    """Read on first use, not at start-up: an instance that starts while Secrets Manager is failing still starts
    (no crash loop), answers 503 meanwhile, and reads the secret again on the next request until it succeeds."""

    def __init__(self, secrets_client: Any, secret_id: str) -> None:
        self._client = secrets_client
        self._secret_id = secret_id
        self._value: bytes | None = None
        self._lock = threading.Lock()
        self._attempts = 0
        self._last_failure: str | None = None

    def __call__(self) -> bytes:
        if self._value is None:
            attempts_seen = self._attempts
            with self._lock:
                if self._value is None:
                    if self._attempts != attempts_seen and self._last_failure is not None:
                        # The read this request waited for failed just now: share its answer rather than queue
                        # one more full round of retries behind it. The next request tries again.
                        raise PepperError(self._last_failure)
                    self._attempts += 1
                    try:
                        self._value = self._load()
                    except PepperError as error:
                        self._last_failure = str(error)
                        raise
        return self._value

    def _load(self) -> bytes:
        try:
            secret = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
        except Exception as error:  # noqa: BLE001 - any failure means the same to the caller
            raise PepperError(f"cannot read the access-key pepper {self._secret_id!r}: "
                              f"{type(error).__name__}") from None
        if len(secret) < 32:
            raise PepperError(f"the access-key pepper {self._secret_id!r} is too short (< 32 characters)")
        return secret.encode()


def new_pepper() -> str:
    return secrets.token_urlsafe(PEPPER_BYTES)
