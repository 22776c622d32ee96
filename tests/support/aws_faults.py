"""AWS faults injected at the botocore level, in front of moto: a chosen call is answered with an AWS error (a
throttle, a 5xx) or fails to connect, as botocore would meet it on the wire — so botocore's retries (and their
backoff), pynamodb's error wrapping and the gateway's handling all run for real, and a refused write is not
written.

How: every botocore session takes its event handlers from ``botocore.handlers.BUILTIN_HANDLERS`` when it is made,
and moto's stubber is one of them (``before-send``: it answers each request in-process). While an ``AwsFaults`` is
active it stands in that list in the stubber's place: a request that matches a fault is answered (or refused) here,
anything else goes on to moto. pynamodb's per-model sessions, ``overspill.aws.client`` and the credentials vault's
KMS clients all come from such sessions. Clients made before it starts are not affected: start it before the
gateway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from botocore.handlers import BUILTIN_HANDLERS
from moto.core.models import botocore_stubber

CONNECTION_REFUSED = "connection refused"
_JSON_VERSION = {"dynamodb": "1.0", "sqs": "1.0", "kms": "1.1", "secrets-manager": "1.1"}
_SERVER_ERRORS = {"InternalServerError", "InternalFailure", "ServiceUnavailable", "KMSInternalException",
                  "InternalServiceError"}


@dataclass
class Fault:
    service: str                 # botocore's hyphenated service id: dynamodb, sqs, kms, secrets-manager
    operation: str | None        # GetItem, PutItem, SendMessage, …; None: every operation
    table: str | None            # DynamoDB only: the TableName of the request; None: any
    error: str                   # an AWS error code (ThrottlingException, …) or CONNECTION_REFUSED
    times: int | None            # how many requests it answers; None: until cleared
    calls: int = 0               # requests it answered so far

    def matches(self, service: str, operation: str, body: dict[str, Any]) -> bool:
        if self.times is not None and self.calls >= self.times:
            return False
        return (service == self.service and self.operation in (None, operation)
                and self.table in (None, body.get("TableName")))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class AwsFaults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._index: int | None = None

    def __enter__(self) -> AwsFaults:
        self._index = BUILTIN_HANDLERS.index(("before-send", botocore_stubber))
        BUILTIN_HANDLERS[self._index] = ("before-send", self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()
        if self._index is not None:
            BUILTIN_HANDLERS[self._index] = ("before-send", botocore_stubber)
            self._index = None

    def fail(self, service: str, operation: str | None = None, *, table: str | None = None,
             error: str = "ThrottlingException", times: int | None = None) -> Fault:
        fault = Fault(service, operation, table, error, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @contextmanager
    def lifted(self, service: str) -> Iterator[None]:
        """No fault on ``service`` for the duration (the test's own calls to it), then the same faults again.
        The other services' faults stay: the proxy may still be retrying a call to one of them."""
        with self._lock:
            saved = [f for f in self._faults if f.service == service]
            self._faults = [f for f in self._faults if f.service != service]
        try:
            yield
        finally:
            with self._lock:
                self._faults = saved + self._faults

    def __call__(self, event_name: str, request: Any, **kwargs: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        body = _json(request.body)
        with self._lock:
            fault = next((f for f in self._faults if f.matches(service, operation, body)), None)
            if fault is not None:
                fault.calls += 1
        if fault is None:
            return botocore_stubber(event_name, request, **kwargs)
        if fault.error == CONNECTION_REFUSED:
            # What botocore raises when nothing listens at the endpoint (it retries it as a transient error).
            raise EndpointConnectionError(endpoint_url=request.url)
        status = 500 if fault.error in _SERVER_ERRORS else 400
        payload = orjson.dumps({"__type": fault.error, "message": f"injected: {fault.error} on {operation}"})
        headers = {"Content-Type": f"application/x-amz-json-{_JSON_VERSION.get(service, '1.0')}",
                   "x-amzn-RequestId": "injected-fault"}
        return AWSResponse(request.url, status, headers, _Raw(payload))


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, str):
        body = body.encode()
    if not body:
        return {}
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
