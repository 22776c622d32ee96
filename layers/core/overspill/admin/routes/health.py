"""GET /api/health (open: load balancers and the dashboard's "API down" banner ask it), GET /api/config (open:
how to sign in, for a client that only knows this API's URL) and GET /api/me."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter
from pydantic import BaseModel, Field

from overspill.admin.api import OPEN, endpoint, principal, scope
from overspill.admin.identity import Role

router = LambdaFunctionUrlRouter()


class Health(BaseModel):
    status: str


class CognitoConfig(BaseModel):
    region: str
    userPoolId: str  # noqa: N815 - the dashboard's config.json names
    clientId: str  # noqa: N815
    endpoint: str | None = Field(description="The cognito-idp endpoint; null: AWS's own for the region")


class SignInConfig(BaseModel):
    apiBase: str  # noqa: N815
    cognito: CognitoConfig


class Me(BaseModel):
    username: str
    role: Role
    groups: list[str]


@endpoint(router, "GET", "/api/health", role=OPEN, summary="Is the admin API up?", tags=["health"])
def health() -> Health:
    return Health(status="ok")


@endpoint(router, "GET", "/api/config", role=OPEN, tags=["health"],
          summary="How to sign in: the Cognito pool and app client (what the dashboard's /config.json says)")
def config() -> SignInConfig:
    settings = scope().services.settings
    client_id = next((c.strip() for c in settings.cognito_client_ids.split(",") if c.strip()), "")
    return SignInConfig(apiBase="/api", cognito=CognitoConfig(
        region=settings.region, userPoolId=settings.cognito_user_pool_id or "", clientId=client_id,
        endpoint=settings.aws_endpoint_url))


@endpoint(router, "GET", "/api/me", role=Role.FINANCE, summary="Who am I signed in as, and with which role?",
          tags=["health"])
def me() -> Me:
    caller = principal()
    assert caller.role is not None  # nosec B101  # type narrowing: require() let only a role through
    return Me(username=caller.username, role=caller.role, groups=list(caller.groups))
