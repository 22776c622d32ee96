"""A user's own Bedrock credentials: set, view (masked), test, delete."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import LambdaFunctionUrlRouter

from overspill.admin.api import actor, endpoint, scope
from overspill.admin.credentials import CredentialsInput, CredentialsTest, CredentialsView
from overspill.admin.identity import Role
from overspill.admin.schemas import UserIdPath

router = LambdaFunctionUrlRouter()
TAGS = ["bedrock credentials"]
PATH = "/api/users/<user_id>/bedrock-credentials"


@endpoint(router, "GET", PATH, role=Role.ADMIN, tags=TAGS, summary="View a user's Bedrock credentials, masked")
def get_credentials(user_id: UserIdPath) -> CredentialsView:
    return scope().services.credentials.describe(user_id)


@endpoint(router, "PUT", PATH, role=Role.ADMIN, tags=TAGS,
          summary="Set a user's Bedrock credentials (a Bedrock API key, or an IAM access key pair)")
def set_credentials(user_id: UserIdPath, body: CredentialsInput) -> CredentialsView:
    return scope().services.credentials.set(actor(), user_id, body)


@endpoint(router, "DELETE", PATH, role=Role.ADMIN, tags=TAGS,
          summary="Delete a user's Bedrock credentials (the gateway's role serves them again)",
          responses={204: {"description": "Deleted"}})
def delete_credentials(user_id: UserIdPath):  # noqa: ANN201 - a bodiless 204
    scope().services.credentials.delete(actor(), user_id)
    return Response(204, "application/json", "")


@endpoint(router, "POST", f"{PATH}/test", role=Role.ADMIN, tags=TAGS,
          summary="Test the credentials the fallback would use for this user, with one CountTokens call")
def test_credentials(user_id: UserIdPath) -> CredentialsTest:
    return scope().services.credentials.test(user_id)
