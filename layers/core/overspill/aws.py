"""AWS clients, created once per instance from Settings (botocore directly: boto3 adds import time to the
proxy's cold start and nothing the proxy needs)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

from overspill.config import Settings

_lock = threading.Lock()


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def client(service: str, settings: Settings, **config: Any) -> Any:
    # botocore's session is not thread-safe while creating clients; the clients themselves are.
    with _lock:
        return _session().create_client(
            service,
            region_name=settings.region,
            endpoint_url=settings.aws_endpoint_url,
            config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3},
                          **config),
        )
