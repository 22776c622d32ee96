"""The admin API in-process for tests: moto (in-process) for AWS, a token issuer standing in for the Cognito
pool (its own RSA key, its JWKS served on loopback, tokens shaped exactly like Cognito access tokens), and the
real admin function behind the local Function URL emulator.

Tokens of every kind the authorisation matrix needs: admin, finance, no group, expired, bad signature, and
another pool's. Real Cognito (moto's) sign-in is exercised by the CLI and e2e tests."""

from __future__ import annotations

import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from moto import mock_aws

from overspill.admin.api import AdminApi
from overspill.admin.services import AdminServices
from overspill.config import Settings
from overspill.local.function_url import FunctionUrlServer
from overspill.local.provision import provision
from tests.support.gateway import TEST_AWS_ENV

POOL_ID = "us-east-1_TestPool1"
OTHER_POOL_ID = "us-east-1_OtherPool"
CLIENT_ID = "testclient0000000000000000"
KID = "test-key-1"


class TokenIssuer:
    """Signs Cognito-shaped access tokens; serves its JWKS at ``jwks_url``."""

    def __init__(self, region: str = "us-east-1", pool_id: str = POOL_ID) -> None:
        self.region, self.pool_id = region, pool_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = {**RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True), "kid": KID, "alg": "RS256", "use": "sig"}
        document = orjson.dumps({"keys": [jwk]})

        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/{pool_id}/.well-known/jwks.json"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, username: str = "alice", groups: tuple[str, ...] = ("admins",), *, expires_in: int = 3600,
              pool_id: str | None = None, client_id: str = CLIENT_ID, impostor: bool = False,
              token_use: str = "access") -> str:  # noqa: S107 - a claim value, not a password
        now = int(time.time())
        claims = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_DNS, username)), "cognito:groups": list(groups),
            "iss": f"https://cognito-idp.{self.region}.amazonaws.com/{pool_id or self.pool_id}",
            "client_id": client_id, "origin_jti": str(uuid.uuid4()), "event_id": str(uuid.uuid4()),
            "token_use": token_use, "scope": "aws.cognito.signin.user.admin", "auth_time": now - 60,
            "exp": now + expires_in, "iat": now - 60, "jti": str(uuid.uuid4()), "username": username,
        }
        if not groups:
            claims.pop("cognito:groups")
        return jwt.encode(claims, self.impostor if impostor else self.key, algorithm="RS256", headers={"kid": KID})

    # The tokens of the authorisation matrix, by name.
    def kinds(self) -> dict[str, str | None]:
        return {
            "none": None,
            "expired": self.token(expires_in=-3600),
            "bad_signature": self.token(impostor=True),
            "other_pool": self.token(pool_id=OTHER_POOL_ID),
            "finance": self.token("fiona", ("finance",)),
            "admin": self.token("alice", ("admins",)),
        }


class AdminHarness:
    """moto + the admin API on loopback. Use as a context manager; ``call`` sends a request with a token."""

    def __init__(self, **overrides: Any) -> None:
        self.issuer = TokenIssuer()
        defaults = {"cognito_user_pool_id": POOL_ID, "cognito_client_ids": CLIENT_ID,
                    "cognito_jwks_url": self.issuer.jwks_url, "proxy_public_url": "http://127.0.0.1:8787"}
        self.settings = Settings(**{**defaults, **overrides})
        self._mock = mock_aws()
        self._saved_env: dict[str, str | None] = {}
        self.server: FunctionUrlServer | None = None

    def __enter__(self) -> AdminHarness:
        for name, value in TEST_AWS_ENV.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        self._mock.start()
        self.pepper, self.settings = provision(self.settings)
        self.services = AdminServices(self.settings)
        self.api = AdminApi(self.services)
        self.server = FunctionUrlServer(("127.0.0.1", 0), self.api.handle, function_name="overspill-admin")
        self.server.serve_in_background()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)
        self.admin_token = self.issuer.token("alice", ("admins",))
        self.finance_token = self.issuer.token("fiona", ("finance",))
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self._mock.stop()
        self.issuer.close()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def call(self, method: str, path: str, *, token: str | None | bool = True, **kwargs: Any) -> httpx.Response:
        """``token=True``: the admin's; ``None``/``False``: none; a string: that token."""
        headers = dict(kwargs.pop("headers", None) or {})
        bearer = self.admin_token if token is True else (token or None)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def audit(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.call("GET", "/api/audit", params={"limit": 200, **filters})
        assert response.status_code == 200, response.text
        return response.json()["items"]
