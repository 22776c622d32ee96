"""Idempotent creates: a POST with an ``Idempotency-Key`` header is carried out once; repeating it (a retry
after a timeout, a double click) returns the first answer instead of creating a second user or key.

Powertools idempotency does the bookkeeping (a DynamoDB item per key: in progress → completed with the answer,
kept 24 h; the same key with a different request is refused). What it stores is the *storable* form of the
answer: a freshly issued access key is left out, so a replay tells the caller the key exists but never shows it
again (keys are shown once)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from overspill.admin.errors import Conflict, InvalidInput
from overspill.aws import client
from overspill.config import Settings

REPLAY_WINDOW_S = 24 * 3600
IDEMPOTENCY_HEADER = "Idempotency-Key"

# The create being run by the current request, handed to the idempotent wrapper (whose only argument is the
# data Powertools hashes) and its fresh answer handed back.
_pending: ContextVar[Callable[[], tuple[Any, dict[str, Any]]]] = ContextVar("idempotent_create")
_fresh: ContextVar[Any] = ContextVar("idempotent_fresh_answer")


class Idempotency:
    def __init__(self, settings: Settings) -> None:
        self._persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table,
                                                     boto3_client=client("dynamodb", settings))
        self._config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="payload",
                                         expires_after_seconds=REPLAY_WINDOW_S)
        self._operations: dict[str, Callable[..., dict[str, Any]]] = {}

    def register(self, context: object) -> None:
        if hasattr(context, "get_remaining_time_in_millis"):
            self._config.register_lambda_context(context)  # type: ignore[arg-type]

    def run(self, operation: str, idempotency_key: str | None, caller: str, payload: dict[str, Any],
            create: Callable[[], tuple[Any, dict[str, Any]]]) -> tuple[Any, bool]:
        """(answer, replayed). ``create`` returns (the answer, its storable JSON form); without a key it just runs.
        A replay's answer is the storable form of the first one."""
        if not idempotency_key:
            return create()[0], False
        pending, fresh = _pending.set(create), _fresh.set(None)
        try:
            stored = self._wrapped(operation)(request={"key": f"{operation}|{caller}|{idempotency_key}",
                                                       "payload": payload})
            answer = _fresh.get()
        except IdempotencyValidationError:
            raise InvalidInput(IDEMPOTENCY_HEADER, "this Idempotency-Key was already used with a different "
                                                   "request; use a new key for a new request") from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict("A request with this Idempotency-Key is still being carried out; retry shortly.") from None
        finally:
            _pending.reset(pending)
            _fresh.reset(fresh)
        return (answer, False) if answer is not None else (stored, True)

    def _wrapped(self, operation: str) -> Callable[..., dict[str, Any]]:
        wrapped = self._operations.get(operation)
        if wrapped is None:
            def create(request: dict[str, Any]) -> dict[str, Any]:
                answer, storable = _pending.get()()
                _fresh.set(answer)
                return storable

            create.__qualname__ = create.__name__ = f"admin_{operation}"  # part of the stored record's key
            wrapped = idempotent_function(data_keyword_argument="request", persistence_store=self._persistence,
                                          config=self._config)(create)
            self._operations[operation] = wrapped
        return wrapped
