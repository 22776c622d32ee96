"""Who is calling the admin API: Cognito access tokens checked against the pool's JWKS, the way AWS documents
it. Tokens are signed here with test keys; the JWKS is served from loopback, and every fetch is counted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from overspill.admin.identity import (
    Forbidden,
    IdentityUnavailable,
    Principal,
    Role,
    TokenVerifier,
    Unauthenticated,
    require,
    role_for,
    signing_keys,
)

REGION = "eu-west-1"
POOL_ID = "eu-west-1_AbCdEf123"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
CLIENT_ID = "4n0th3rcl13nt1d3x4mpl3abcd"
KID = "key-1"
REFRESH_S = 300.0


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY = _rsa_key()
IMPOSTOR_KEY = _rsa_key()   # signs with the pool's kid, but is not the pool's key
ROTATED_KEY = _rsa_key()    # the pool's next key, published later under a new kid


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256", "use": "sig"}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class JwksServer:
    """The pool's /.well-known/jwks.json on loopback; counts fetches and can be made to fail."""

    def __init__(self, *jwks: dict[str, Any]) -> None:
        self.document: dict[str, Any] = {"keys": list(jwks)}
        self.status = 200
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.fetches += 1
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self._http.server_address[:2]
        self.url = f"http://{host}:{port}/{POOL_ID}/.well-known/jwks.json"
        # A short poll interval: shutdown() waits for it, and every test starts its own server.
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer(_jwk(KEY, KID)) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(jwks: JwksServer, clock: Clock) -> TokenVerifier:
    return TokenVerifier(REGION, POOL_ID, [CLIENT_ID], jwks_url=jwks.url, clock=clock,
                         jwks_refresh_interval_s=REFRESH_S)


def access_claims(clock: Clock, **changes: Any) -> dict[str, Any]:
    """What Cognito puts in an access token (USER_PASSWORD_AUTH), with changes; a None value drops a claim."""
    now = int(clock())
    claims = {
        "sub": "5f1c2a4e-0d7b-4d5e-9a51-6f0c3b7a9e21",
        "cognito:groups": ["admins"],
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "username": "ada",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], *, key: rsa.RSAPrivateKey = KEY, kid: str = KID) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    """A token put together by hand, for what pyjwt would refuse to sign."""
    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(signature)}"


def refusal(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    assert token not in caught.value.message and token not in str(caught.value)
    return caught.value


# --- who the caller is


def test_an_admin_access_token_gives_the_admin_role(verifier: TokenVerifier, clock: Clock):
    principal = verifier.authenticate(f"Bearer {sign(access_claims(clock))}")
    assert principal == Principal(username="ada", subject="5f1c2a4e-0d7b-4d5e-9a51-6f0c3b7a9e21",
                                  groups=("admins",), role=Role.ADMIN)
    assert require(principal, Role.ADMIN) is principal
    assert require(principal, Role.FINANCE) is principal


def test_a_finance_user_reads_but_is_forbidden_admin_operations(verifier: TokenVerifier, clock: Clock):
    principal = verifier.verify(sign(access_claims(clock, username="fin", **{"cognito:groups": ["finance"]})))
    assert principal.role is Role.FINANCE and principal.username == "fin"
    assert require(principal, Role.FINANCE) is principal
    with pytest.raises(Forbidden) as caught:
        require(principal, Role.ADMIN)
    assert caught.value.status == 403 and caught.value.reason == "role"
    assert "admin" in caught.value.message


def test_admins_wins_when_a_user_is_in_both_groups(verifier: TokenVerifier, clock: Clock):
    principal = verifier.verify(sign(access_claims(clock, **{"cognito:groups": ["finance", "admins"]})))
    assert principal.role is Role.ADMIN and principal.groups == ("finance", "admins")


@pytest.mark.parametrize("groups", [None, [], ["developers"]])
def test_a_user_in_neither_group_is_signed_in_but_forbidden_everything(verifier: TokenVerifier, clock: Clock,
                                                                       groups: list[str] | None):
    principal = verifier.verify(sign(access_claims(clock, **{"cognito:groups": groups})))
    assert principal.role is None
    for role in Role:
        with pytest.raises(Forbidden) as caught:
            require(principal, role)
        assert caught.value.reason == "no_role" and "admins" in caught.value.message


def test_roles_come_from_the_cognito_groups():
    assert role_for(["admins"]) is Role.ADMIN
    assert role_for(["finance"]) is Role.FINANCE
    assert role_for(["finance", "admins"]) is Role.ADMIN
    assert role_for(["Admins", "admin", "finance-team"]) is None  # exact group names only


# --- what is refused, and why


def test_an_expired_token_is_refused_after_the_leeway(verifier: TokenVerifier, clock: Clock):
    now = int(clock())
    assert verifier.verify(sign(access_claims(clock, iat=now - 3610, exp=now - 10))).username == "ada"
    error = refusal(verifier, sign(access_claims(clock, iat=now - 3631, exp=now - 31)))
    assert error.reason == "expired" and "sign in again" in error.message


def test_a_token_from_the_future_is_refused(verifier: TokenVerifier, clock: Clock):
    now = int(clock())
    assert refusal(verifier, sign(access_claims(clock, iat=now + 120, exp=now + 3720))).reason == "not_yet_valid"
    assert refusal(verifier, sign(access_claims(clock, nbf=now + 120))).reason == "not_yet_valid"
    assert verifier.verify(sign(access_claims(clock, iat=now + 20, nbf=now + 20))).role is Role.ADMIN


def test_a_token_signed_by_another_key_under_the_pools_kid_is_refused(verifier: TokenVerifier, clock: Clock):
    assert refusal(verifier, sign(access_claims(clock), key=IMPOSTOR_KEY)).reason == "signature"


def test_a_tampered_token_is_refused(verifier: TokenVerifier, clock: Clock):
    header, _, signature = sign(access_claims(clock, **{"cognito:groups": ["finance"]})).split(".")
    promoted = base64.urlsafe_b64encode(json.dumps(access_claims(clock)).encode()).rstrip(b"=").decode()
    assert refusal(verifier, f"{header}.{promoted}.{signature}").reason == "signature"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512", "PS256"])
def test_only_rs256_is_accepted(verifier: TokenVerifier, jwks: JwksServer, clock: Clock, alg: str):
    claims = access_claims(clock)
    if alg == "none":
        token = forge({"alg": "none", "kid": KID, "typ": "JWT"}, claims, b"")
    elif alg == "HS256":
        # The classic confusion: an HMAC keyed with the (public) RSA key, hoping the verifier uses it as a secret.
        public_pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        unsigned = forge({"alg": "HS256", "kid": KID, "typ": "JWT"}, claims, b"").rstrip(".")
        token = forge({"alg": "HS256", "kid": KID, "typ": "JWT"}, claims,
                      hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest())
    else:
        token = jwt.encode(claims, KEY, algorithm=alg, headers={"kid": KID})
    assert refusal(verifier, token).reason == "algorithm"
    assert jwks.fetches == 0  # refused before any key is looked up


def test_a_token_of_another_user_pool_is_refused(verifier: TokenVerifier, clock: Clock):
    other_pool = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Zz9Yy8Xx7"
    error = refusal(verifier, sign(access_claims(clock, iss=other_pool)))
    assert error.reason == "issuer" and "another Cognito user pool" in error.message
    assert refusal(verifier, sign(access_claims(clock, iss=ISSUER + "/"))).reason == "issuer"


def test_a_token_for_another_app_client_is_refused(verifier: TokenVerifier, clock: Clock):
    assert refusal(verifier, sign(access_claims(clock, client_id="someotherclient"))).reason == "client"
    assert refusal(verifier, sign(access_claims(clock, client_id=None))).reason == "client"


def test_several_app_clients_may_be_accepted(jwks: JwksServer, clock: Clock):
    verifier = TokenVerifier(REGION, POOL_ID, f"{CLIENT_ID}, cli-client", jwks_url=jwks.url, clock=clock)
    assert verifier.verify(sign(access_claims(clock, client_id="cli-client"))).role is Role.ADMIN
    assert verifier.verify(sign(access_claims(clock))).role is Role.ADMIN


def test_an_id_token_is_refused_with_a_hint(verifier: TokenVerifier, clock: Clock):
    now = int(clock())
    id_claims = {"sub": "5f1c2a4e-0d7b-4d5e-9a51-6f0c3b7a9e21", "cognito:groups": ["admins"], "iss": ISSUER,
                 "aud": CLIENT_ID, "token_use": "id", "auth_time": now, "iat": now, "exp": now + 3600,
                 "cognito:username": "ada", "email": "ada@example.com"}
    error = refusal(verifier, sign(id_claims))
    assert error.reason == "token_use" and "not the ID token" in error.message


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "sub", "token_use", "username"])
def test_a_token_without_a_claim_cognito_always_sets_is_refused(verifier: TokenVerifier, clock: Clock,
                                                                 missing: str):
    assert refusal(verifier, sign(access_claims(clock, **{missing: None}))).reason == "malformed"


@pytest.mark.parametrize("claims", [{"exp": "tomorrow"}, {"cognito:groups": "admins"}, {"username": 42}])
def test_claims_of_the_wrong_type_are_refused(verifier: TokenVerifier, clock: Clock, claims: dict[str, Any]):
    assert refusal(verifier, sign(access_claims(clock, **claims))).reason == "malformed"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "x" * 20_000, "..."])
def test_garbage_is_refused(verifier: TokenVerifier, token: str):
    assert refusal(verifier, token).reason == "malformed"


def test_a_token_without_a_kid_is_refused(verifier: TokenVerifier, clock: Clock):
    token = jwt.encode(access_claims(clock), KEY, algorithm="RS256")
    assert refusal(verifier, token).reason == "malformed"


@pytest.mark.parametrize("header, reason", [
    (None, "missing"), ("", "missing"), ("   ", "missing"), ("Bearer", "malformed"), ("Bearer   ", "malformed"),
    ("Basic YWRhOnNlY3JldA==", "malformed"), ("Token abc", "malformed"),
])
def test_a_missing_or_foreign_authorization_header_is_refused(verifier: TokenVerifier, header: str | None,
                                                              reason: str):
    with pytest.raises(Unauthenticated) as caught:
        verifier.authenticate(header)
    assert caught.value.reason == reason and caught.value.status == 401
    if reason == "missing":
        assert "Authorization: Bearer" in caught.value.message


def test_the_bearer_scheme_is_case_insensitive(verifier: TokenVerifier, clock: Clock):
    assert verifier.authenticate(f"bearer  {sign(access_claims(clock))} ").role is Role.ADMIN


# --- the JWKS: fetched once, re-fetched only for key rotation, at most once per window


def test_the_jwks_is_fetched_once_not_per_request(verifier: TokenVerifier, jwks: JwksServer, clock: Clock):
    for _ in range(5):
        verifier.verify(sign(access_claims(clock)))
    clock.advance(REFRESH_S * 10)  # time alone never causes a fetch: only an unknown kid does
    verifier.verify(sign(access_claims(clock)))
    assert jwks.fetches == 1


def test_an_unknown_kid_refetches_once_then_waits_for_the_window(verifier: TokenVerifier, jwks: JwksServer,
                                                                 clock: Clock):
    verifier.verify(sign(access_claims(clock)))
    assert jwks.fetches == 1

    assert refusal(verifier, sign(access_claims(clock), key=ROTATED_KEY, kid="key-2")).reason == "unknown_key"
    assert jwks.fetches == 2  # the one refetch: perhaps the pool rotated its keys
    assert refusal(verifier, sign(access_claims(clock), key=ROTATED_KEY, kid="key-3")).reason == "unknown_key"
    assert refusal(verifier, sign(access_claims(clock), key=ROTATED_KEY, kid="key-2")).reason == "unknown_key"
    assert jwks.fetches == 2  # invented kids within the window cost nothing

    jwks.document["keys"].append(_jwk(ROTATED_KEY, "key-2"))  # the pool really rotates
    clock.advance(REFRESH_S - 1)
    refusal(verifier, sign(access_claims(clock), key=ROTATED_KEY, kid="key-2"))
    assert jwks.fetches == 2
    clock.advance(1)
    assert verifier.verify(sign(access_claims(clock), key=ROTATED_KEY, kid="key-2")).role is Role.ADMIN
    assert verifier.verify(sign(access_claims(clock))).role is Role.ADMIN
    assert jwks.fetches == 3


def test_a_key_rotated_right_after_start_is_picked_up(verifier: TokenVerifier, jwks: JwksServer, clock: Clock):
    verifier.verify(sign(access_claims(clock)))
    jwks.document["keys"].append(_jwk(ROTATED_KEY, "key-2"))
    assert verifier.verify(sign(access_claims(clock), key=ROTATED_KEY, kid="key-2")).role is Role.ADMIN
    assert jwks.fetches == 2


def test_a_failed_refresh_keeps_the_known_keys(verifier: TokenVerifier, jwks: JwksServer, clock: Clock):
    verifier.verify(sign(access_claims(clock)))
    jwks.status = 500
    assert refusal(verifier, sign(access_claims(clock), key=ROTATED_KEY, kid="key-2")).reason == "unknown_key"
    assert verifier.verify(sign(access_claims(clock))).role is Role.ADMIN
    assert jwks.fetches == 2


def test_unreachable_keys_are_a_503_retried_after_a_few_seconds(verifier: TokenVerifier, jwks: JwksServer,
                                                                clock: Clock):
    jwks.status = 503
    token = sign(access_claims(clock))
    for _ in range(3):
        with pytest.raises(IdentityUnavailable) as caught:
            verifier.verify(token)
        assert caught.value.status == 503 and token not in caught.value.message
    assert jwks.fetches == 1
    jwks.status = 200
    clock.advance(5)
    assert verifier.verify(token).role is Role.ADMIN
    assert jwks.fetches == 2


def test_a_jwks_url_nobody_answers_is_a_503(clock: Clock):
    verifier = TokenVerifier(REGION, POOL_ID, [CLIENT_ID], jwks_url="http://127.0.0.1:9/jwks.json", clock=clock,
                             jwks_timeout_s=0.5)
    with pytest.raises(IdentityUnavailable):
        verifier.verify(sign(access_claims(clock)))


def test_only_rs256_signature_keys_are_taken_from_the_jwks():
    rsa_jwk = _jwk(KEY, "sig-key")
    keys = signing_keys({"keys": [
        rsa_jwk,
        {**_jwk(ROTATED_KEY, "enc-key"), "use": "enc"},
        {**_jwk(ROTATED_KEY, "rs512-key"), "alg": "RS512"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        "not a key",
    ]})
    assert list(keys) == ["sig-key"]
    for document in ({}, {"keys": []}, {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}, ["keys"]):
        with pytest.raises(ValueError):
            signing_keys(document)


# --- configuration and logs


def test_the_issuer_and_jwks_url_follow_the_pool():
    verifier = TokenVerifier(REGION, POOL_ID, [CLIENT_ID])
    assert verifier.issuer == ISSUER
    assert verifier.jwks_url == f"{ISSUER}/.well-known/jwks.json"


@pytest.mark.parametrize("region, pool, clients", [
    ("us-east-1", POOL_ID, [CLIENT_ID]),   # a pool of another region
    (REGION, POOL_ID, []),
    (REGION, POOL_ID, " , "),
])
def test_a_configuration_that_would_refuse_every_token_fails_at_start(region: str, pool: str, clients: Any):
    with pytest.raises(ValueError):
        TokenVerifier(region, pool, clients)


def test_no_token_ever_reaches_the_logs(verifier: TokenVerifier, jwks: JwksServer, clock: Clock,
                                        captured_logs: io.StringIO):
    tokens = [
        sign(access_claims(clock)),
        sign(access_claims(clock, exp=int(clock()) - 100)),
        sign(access_claims(clock), key=IMPOSTOR_KEY),
        sign(access_claims(clock), key=ROTATED_KEY, kid="key-9"),
        sign(access_claims(clock, client_id="other")),
        sign(access_claims(clock, token_use="id")),
        "garbage-token-text-0123456789",
    ]
    for token in tokens:
        try:
            verifier.authenticate(f"Bearer {token}")
        except Unauthenticated:
            pass
    logs = captured_logs.getvalue()
    assert "admin token refused" in logs and '"reason":"expired"' in logs.replace(" ", "")
    for token in tokens:
        for part in token.split("."):
            assert part not in logs
