"""The admin sign-in of a local run: a Cognito user pool on moto as the CDK app would create it (no
self sign-up, a strong password policy, the ``admins`` and ``finance`` groups, one public app client for the
dashboard and the CLI) and an ``admin`` user to sign in with."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from overspill.aws import client
from overspill.config import Settings

ADMIN_GROUP = "admins"
FINANCE_GROUP = "finance"
GROUPS = {
    ADMIN_GROUP: "Overspill admins: everything",
    FINANCE_GROUP: "Overspill finance: usage, pricing and exports, read-only",
}
APP_CLIENT_NAME = "overspill-admin"
PASSWORD_MIN_LENGTH = 12
# Symbols Cognito counts as such and that need no quoting when pasted into a shell.
_PASSWORD_SYMBOLS = "-_.,:+=@%"  # nosec B105  # an alphabet to draw from, not a password


@dataclass(frozen=True, slots=True)
class LocalUserPool:
    pool_id: str
    client_id: str
    # The admin's password when this call generated it: print it once, it is not kept anywhere else.
    generated_password: str | None = None


def ensure_user_pool(settings: Settings, *, pool_name: str = "overspill", admin_username: str = "admin",
                     admin_password: str | None = None) -> LocalUserPool:
    """Make the pool, its groups, the app client and the admin user exist (idempotent; the pool is found by
    name). A given ``admin_password`` becomes the admin's password, also for an existing admin; without one,
    a new admin gets a generated password (returned) and an existing admin keeps theirs."""
    cognito: Any = client("cognito-idp", settings)
    pool_id = _find_pool(cognito, pool_name) or _create_pool(cognito, pool_name)
    for group, description in GROUPS.items():
        try:
            cognito.create_group(UserPoolId=pool_id, GroupName=group, Description=description)
        except cognito.exceptions.GroupExistsException:
            pass
    client_id = _find_client(cognito, pool_id, APP_CLIENT_NAME) or create_app_client(settings, pool_id)
    generated = None
    if admin_password is None and not _user_exists(cognito, pool_id, admin_username):
        admin_password = generated = generate_password()
    ensure_member(settings, pool_id, admin_username, admin_password, ADMIN_GROUP)
    return LocalUserPool(pool_id, client_id, generated)


def ensure_member(settings: Settings, pool_id: str, username: str, password: str | None, group: str) -> None:
    """A confirmed user in ``group``; ``password`` (when given) set as permanent, as an admin would."""
    cognito: Any = client("cognito-idp", settings)
    if not _user_exists(cognito, pool_id, username):
        cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    if password is not None:
        try:
            cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password,
                                            Permanent=True)
        except cognito.exceptions.InvalidPasswordException:
            raise ValueError(f"the password for {username!r} must be at least {PASSWORD_MIN_LENGTH} characters "
                             "with upper- and lower-case letters, a digit and a symbol") from None
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def create_app_client(settings: Settings, pool_id: str, name: str = APP_CLIENT_NAME) -> str:
    """A public client (no secret: the dashboard is a browser app and the CLI runs on laptops)."""
    cognito: Any = client("cognito-idp", settings)
    response = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
        # The access token's lifetime is how long a sign-out or a group change takes to bite (see identity.py).
        AccessTokenValidity=60,
        IdTokenValidity=60,
        RefreshTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
    )
    return response["UserPoolClient"]["ClientId"]


def jwks_url(settings: Settings, pool_id: str) -> str:
    """Where the pool's signing keys are: moto serves them under its endpoint, AWS under the issuer."""
    if settings.aws_endpoint_url:
        return f"{settings.aws_endpoint_url.rstrip('/')}/{pool_id}/.well-known/jwks.json"
    return f"https://cognito-idp.{settings.region}.amazonaws.com/{pool_id}/.well-known/jwks.json"


def generate_password(length: int = 20) -> str:
    """A password the pool's policy accepts: at least one of each character class, the rest random."""
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _PASSWORD_SYMBOLS)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice("".join(classes)) for _ in range(max(length, PASSWORD_MIN_LENGTH) - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _find_pool(cognito: Any, name: str) -> str | None:
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return pool["Id"]
    return None


def _create_pool(cognito: Any, name: str) -> str:
    response = cognito.create_user_pool(
        PoolName=name,
        Policies={"PasswordPolicy": {
            "MinimumLength": PASSWORD_MIN_LENGTH, "RequireUppercase": True, "RequireLowercase": True,
            "RequireNumbers": True, "RequireSymbols": True, "TemporaryPasswordValidityDays": 7,
        }},
        # Admins create accounts; nobody signs themselves up.
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        UsernameConfiguration={"CaseSensitive": False},
        MfaConfiguration="OFF",
    )
    return response["UserPool"]["Id"]


def _find_client(cognito: Any, pool_id: str, name: str) -> str | None:
    for page in cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
        for app in page["UserPoolClients"]:
            if app["ClientName"] == name:
                return app["ClientId"]
    return None


def _user_exists(cognito: Any, pool_id: str, username: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    except cognito.exceptions.UserNotFoundException:
        return False
    return True
