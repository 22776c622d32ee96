"""An in-process gateway for integration tests: moto (in-process) for AWS, the real proxy behind the local
Function URL emulator on loopback, pointed at a fake upstream."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from moto import mock_aws

from overspill.config import Settings
from overspill.keys import generate_key
from overspill.local.function_url import FunctionUrlServer
from overspill.local.provision import provision
from overspill.proxy import function_url
from overspill.proxy.app import build_proxy
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.usage import UsageRepository
from overspill.store.users import UserRepository
from overspill.users import RoutingMode

TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@dataclass
class Developer:
    user_id: str
    key: str          # the plain access key, as the developer would paste it
    key_hash: str
    prefix: str

    def base_url(self, gateway: LocalGateway) -> str:
        return f"{gateway.url}/ak/{self.key}"


class LocalGateway:
    def __init__(self, anthropic_url: str, bedrock_url: str | None = None, **overrides: Any) -> None:
        self.settings = Settings(anthropic_url=anthropic_url, bedrock_endpoint_url=bedrock_url, **overrides)
        self._mock = mock_aws()
        self._saved_env: dict[str, str | None] = {}
        self.server: FunctionUrlServer | None = None

    def __enter__(self) -> LocalGateway:
        for name, value in TEST_AWS_ENV.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        self._mock.start()
        pepper, self.settings = provision(self.settings)
        self.pepper = pepper.encode()
        self.proxy = build_proxy(self.settings)
        self.server = FunctionUrlServer(("127.0.0.1", 0), self.handler, function_name="overspill-proxy")
        self.server.serve_in_background()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self._mock.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return function_url.to_response(self.proxy.handle(function_url.to_request(event, context)))

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def add_developer(self, name: str = "Dev", *, routing_mode: RoutingMode = RoutingMode.PLAN_FIRST,
                      expires_at: datetime | None = None, team: str | None = "platform",
                      budget_usd: Decimal | None = None, cost_center: str | None = None) -> Developer:
        user = UserRepository().create(name, email=f"{name.split()[0].lower()}@example.com", team=team,
                                       routing_mode=routing_mode, budget_usd=budget_usd, cost_center=cost_center)
        new_key = generate_key(self.pepper)
        AccessKeyRepository().add(user.user_id, new_key, expires_at=expires_at)
        return Developer(user.user_id, new_key.plain, new_key.key_hash, new_key.prefix)

    @property
    def usage(self) -> UsageRepository:
        return UsageRepository(retention=timedelta(days=self.settings.usage_ttl_days))


def wait_for_usage(gateway: LocalGateway, request_id: str, timeout_s: float = 5.0):
    """Usage is written after the client's response has closed: poll for it."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        event = gateway.usage.get(request_id)
        if event is not None:
            return event
        time.sleep(0.02)
    raise AssertionError(f"no usage event for {request_id} within {timeout_s}s")
