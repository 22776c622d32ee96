"""Admin sign-in against moto's Cognito: the local pool as ``overspill dev`` makes it, real sign-ins
(USER_PASSWORD_AUTH, refresh), and the tokens moto hands out checked by the admin function's verifier.

A moto server on loopback rather than ``mock_aws``: the verifier fetches the pool's JWKS over HTTP (httpx),
which only the server answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from overspill.admin.identity import Forbidden, Role, TokenVerifier, Unauthenticated, require
from overspill.aws import client
from overspill.config import Settings
from overspill.local.cognito import (
    ADMIN_GROUP,
    FINANCE_GROUP,
    LocalUserPool,
    create_app_client,
    ensure_member,
    ensure_user_pool,
    jwks_url,
)
from tests.support.gateway import TEST_AWS_ENV

ADMIN_PASSWORD = "Adm1n-Passw0rd!"
FINANCE_PASSWORD = "F1nance-Passw0rd!"


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in TEST_AWS_ENV.items():
            env.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.post(f"{endpoint}/moto-api/reset")  # moto's state is per process: start from nothing
        try:
            yield Settings(aws_endpoint_url=endpoint)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def pool(settings: Settings) -> LocalUserPool:
    pool = ensure_user_pool(settings, admin_password=ADMIN_PASSWORD)
    ensure_member(settings, pool.pool_id, "fin", FINANCE_PASSWORD, FINANCE_GROUP)
    return pool


@pytest.fixture(scope="module")
def verifier(settings: Settings, pool: LocalUserPool) -> TokenVerifier:
    return TokenVerifier(settings.region, pool.pool_id, [pool.client_id], jwks_url=jwks_url(settings, pool.pool_id))


def sign_in(settings: Settings, client_id: str, username: str, password: str) -> dict[str, Any]:
    cognito: Any = client("cognito-idp", settings)
    answer = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": username, "PASSWORD": password})
    assert "ChallengeName" not in answer, answer.get("ChallengeName")
    return answer["AuthenticationResult"]


def test_the_local_pool_is_made_once_and_found_again(settings: Settings, pool: LocalUserPool):
    again = ensure_user_pool(settings, admin_password=ADMIN_PASSWORD)
    assert (again.pool_id, again.client_id, again.generated_password) == (pool.pool_id, pool.client_id, None)

    cognito: Any = client("cognito-idp", settings)
    pools = [p for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == "overspill"]
    assert len(pools) == 1
    described = cognito.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert described["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
        "RequireSymbols": True, "TemporaryPasswordValidityDays": 7,
    }
    groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool.pool_id)["Groups"]}
    assert groups == {ADMIN_GROUP, FINANCE_GROUP}
    clients = cognito.list_user_pool_clients(UserPoolId=pool.pool_id, MaxResults=60)["UserPoolClients"]
    assert [c["ClientId"] for c in clients if c["ClientName"] == "overspill-admin"] == [pool.client_id]
    app = cognito.describe_user_pool_client(UserPoolId=pool.pool_id, ClientId=pool.client_id)["UserPoolClient"]
    assert "ClientSecret" not in app
    assert set(app["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                             "ALLOW_USER_SRP_AUTH"}
    admins = cognito.list_users_in_group(UserPoolId=pool.pool_id, GroupName=ADMIN_GROUP)["Users"]
    assert [u["Username"] for u in admins] == ["admin"]


def test_without_a_password_a_new_admin_gets_a_generated_one_once(settings: Settings):
    first = ensure_user_pool(settings, pool_name="overspill-generated")
    assert first.generated_password is not None and len(first.generated_password) >= 12
    assert sign_in(settings, first.client_id, "admin", first.generated_password)["AccessToken"]
    again = ensure_user_pool(settings, pool_name="overspill-generated")
    assert again.generated_password is None and again.pool_id == first.pool_id
    assert sign_in(settings, first.client_id, "admin", first.generated_password)["AccessToken"]


def test_a_weak_admin_password_is_refused_with_the_policy(settings: Settings):
    with pytest.raises(ValueError, match="at least 12 characters"):
        ensure_user_pool(settings, pool_name="overspill-weak", admin_password="short")


def test_the_admin_signs_in_and_gets_the_admin_role(settings: Settings, pool: LocalUserPool,
                                                    verifier: TokenVerifier):
    tokens = sign_in(settings, pool.client_id, "admin", ADMIN_PASSWORD)
    principal = verifier.authenticate(f"Bearer {tokens['AccessToken']}")
    assert principal.username == "admin" and principal.role is Role.ADMIN and principal.subject
    assert require(principal, Role.ADMIN) is principal


def test_a_finance_user_signs_in_read_only(settings: Settings, pool: LocalUserPool, verifier: TokenVerifier):
    principal = verifier.verify(sign_in(settings, pool.client_id, "fin", FINANCE_PASSWORD)["AccessToken"])
    assert principal.username == "fin" and principal.role is Role.FINANCE
    assert require(principal, Role.FINANCE) is principal
    with pytest.raises(Forbidden):
        require(principal, Role.ADMIN)


def test_a_user_in_no_group_is_forbidden(settings: Settings, pool: LocalUserPool, verifier: TokenVerifier):
    cognito: Any = client("cognito-idp", settings)
    cognito.admin_create_user(UserPoolId=pool.pool_id, Username="nobody", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username="nobody", Password="N0body-Passw0rd!",
                                    Permanent=True)
    principal = verifier.verify(sign_in(settings, pool.client_id, "nobody", "N0body-Passw0rd!")["AccessToken"])
    assert principal.role is None
    with pytest.raises(Forbidden):
        require(principal, Role.FINANCE)


def test_a_token_of_another_pool_is_refused(settings: Settings, pool: LocalUserPool, verifier: TokenVerifier):
    other = ensure_user_pool(settings, pool_name="someone-elses", admin_password=ADMIN_PASSWORD)
    token = sign_in(settings, other.client_id, "admin", ADMIN_PASSWORD)["AccessToken"]
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    # moto signs every pool's tokens with one key: only the issuer tells them apart (on AWS the kid does too).
    assert caught.value.reason == "issuer"


def test_the_id_token_is_refused(settings: Settings, pool: LocalUserPool, verifier: TokenVerifier):
    tokens = sign_in(settings, pool.client_id, "admin", ADMIN_PASSWORD)
    with pytest.raises(Unauthenticated) as caught:
        verifier.authenticate(f"Bearer {tokens['IdToken']}")
    assert caught.value.reason == "token_use"


def test_a_token_for_another_app_client_is_refused(settings: Settings, pool: LocalUserPool,
                                                   verifier: TokenVerifier):
    other_client = create_app_client(settings, pool.pool_id, name="some-other-app")
    token = sign_in(settings, other_client, "admin", ADMIN_PASSWORD)["AccessToken"]
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    assert caught.value.reason == "client"


def test_a_refreshed_token_verifies(settings: Settings, pool: LocalUserPool, verifier: TokenVerifier):
    tokens = sign_in(settings, pool.client_id, "admin", ADMIN_PASSWORD)
    cognito: Any = client("cognito-idp", settings)
    refreshed = cognito.initiate_auth(ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    access_token = refreshed["AuthenticationResult"]["AccessToken"]
    assert access_token != tokens["AccessToken"]
    assert verifier.verify(access_token).role is Role.ADMIN
