"""The access-key pepper: a secret in Secrets Manager, read once per instance."""

from __future__ import annotations

import secrets
import threading
from typing import Any

PEPPER_BYTES = 48


class PepperError(RuntimeError):
    """The pepper could not be read; access keys cannot be checked until it can."""


class PepperProvider:
    def __init__(self, secrets_client: Any, secret_id: str) -> None:
        self._client = secrets_client
        self._secret_id = secret_id
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._load()
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
