"""AWS clients, created once per instance from Settings (botocore directly: boto3 adds import time to the
proxy's cold start and nothing the proxy needs)."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader
from pynamodb.exceptions import PynamoDBException

from overspill.config import Settings


@cache
def shared_loader() -> Loader:
    """Service models and endpoint rules are the expensive part of a session (JSON parsed on first use): every
    client of the instance, ours and pynamodb's, shares one loader, so each file is parsed once."""
    return botocore.session.get_session().get_component("data_loader")


def error_code(error: BaseException | None) -> str | None:
    """The AWS error code behind an error (``ThrottlingException``, …; pynamodb wraps botocore's ClientError in
    its own exceptions), or None for one without a response (a connection that failed, a timeout)."""
    for _ in range(3):  # the error, what it wraps (pynamodb's ``cause``), and so on: never a long chain
        if error is None:
            return None
        response = getattr(error, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code"):
            return str(response["Error"]["Code"])
        error = getattr(error, "cause", None) or error.__cause__
    return None


def is_service_failure(error: BaseException) -> bool:
    """An AWS call that failed after botocore's retries (throttled, unreachable, refused): an outage to log as a
    warning with its code, not a programming error to log with a traceback."""
    return isinstance(error, (BotoCoreError, ClientError, PynamoDBException))


def client(service: str, settings: Settings, **config: Any) -> Any:
    # A session per client: a session caches the credentials it first resolved, and a client must take the
    # environment's credentials as they are when it is made (botocore sessions are not thread-safe either).
    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader())
    return session.create_client(
        service,
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(connect_timeout=2, read_timeout=5,
                      retries={"mode": "standard", "total_max_attempts": settings.aws_max_attempts}, **config),
    )
