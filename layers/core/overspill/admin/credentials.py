"""Admin work on a user's own Bedrock credentials: set (encrypted under KMS at once), view masked, test with
one cheap Bedrock call, delete. No answer and no audit entry ever holds the secret: only kind, region and a
hint (``AKIA…WXYZ``, ``…abcd``)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

import orjson
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError
from pydantic import BaseModel, Field, SecretStr

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.errors import InvalidInput, NotFound
from overspill.admin.schemas import STRICT
from overspill.bedrock.errors import BedrockFailure
from overspill.bedrock.models import ModelMap, parse_model_map
from overspill.config import Settings
from overspill.credentials.clients import BedrockClients
from overspill.credentials.domain import BedrockCredentials, CredentialKind, CredentialsUnavailable, InvalidCredentials
from overspill.credentials.store import BedrockCredentialRepository, CredentialsDescription
from overspill.credentials.vault import CredentialVault
from overspill.store.users import UserRepository

# The model a test asks Bedrock to count tokens for: CountTokens is free and needs model access like a real call.
TEST_MODEL = "claude-haiku-4-5"


class CredentialsInput(BaseModel):
    """A Bedrock API key (``kind: api_key``), or an IAM access key pair (``kind: access_key``, with a session
    token for temporary ASIA… keys). Secrets are write-only: no answer ever contains them."""

    model_config = STRICT
    kind: CredentialKind
    api_key: SecretStr | None = Field(default=None, max_length=16 * 1024)
    access_key_id: str | None = Field(default=None, max_length=32)
    secret_access_key: SecretStr | None = Field(default=None, max_length=128)
    session_token: SecretStr | None = Field(default=None, max_length=8 * 1024)
    region: str | None = Field(default=None, max_length=32, description="null: the deployment's Bedrock region")

    def credentials(self) -> BedrockCredentials:
        """The domain object, checked field by field (InvalidCredentials names the field)."""
        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        if self.kind is CredentialKind.API_KEY:
            for name in ("access_key_id", "secret_access_key", "session_token"):
                if getattr(self, name) is not None:
                    raise InvalidCredentials(name, f"{name} belongs to an access_key credential, not an api_key one")
            return BedrockCredentials.from_api_key(secret(self.api_key) or "", region=self.region)
        if self.api_key is not None:
            raise InvalidCredentials("api_key", "api_key belongs to an api_key credential, not an access_key one")
        return BedrockCredentials.from_access_key(self.access_key_id or "", secret(self.secret_access_key) or "",
                                                  secret(self.session_token), region=self.region)


class CredentialsView(BaseModel):
    user_id: str
    kind: CredentialKind
    region: str | None
    hint: str = Field(description="What may be shown of the secret")
    updated_at: datetime


class CredentialsTest(BaseModel):
    ok: bool
    credentials: Literal["user", "role"] = Field(description="Whose authority the call used")
    model_id: str | None
    status: int | None = Field(description="Bedrock's HTTP status (null when it could not be reached)")
    code: str | None
    message: str
    latency_ms: float


def view(description: CredentialsDescription) -> CredentialsView:
    return CredentialsView(user_id=description.user_id, kind=description.kind, region=description.region,
                           hint=description.hint, updated_at=description.updated_at)


class CredentialAdmin:
    def __init__(self, settings: Settings, audit: AuditLog) -> None:
        self._settings = settings
        self._vault = CredentialVault(settings)
        self._repository = BedrockCredentialRepository(self._vault)
        self._audit = audit
        self._users = UserRepository()

    def describe(self, user_id: str) -> CredentialsView:
        self._user(user_id)
        description = self._repository.describe(user_id)
        if description is None:
            raise NotFound(f"User {user_id} has no Bedrock credentials of their own (the gateway's role serves them).")
        return view(description)

    def set(self, actor: Actor, user_id: str, request: CredentialsInput) -> CredentialsView:
        self._user(user_id)
        try:
            credentials = request.credentials()
        except InvalidCredentials as problem:
            raise InvalidInput(problem.field, str(problem)) from None
        before = self._repository.describe(user_id)
        try:
            self._repository.put(user_id, credentials)
        except CredentialsUnavailable as problem:
            raise _unavailable(problem) from None
        after = self.describe(user_id)
        self._audit.record(actor, "credentials.set", "credentials", user_id,
                           before=view(before).model_dump(mode="json") if before else None,
                           after=after.model_dump(mode="json"))
        return after

    def delete(self, actor: Actor, user_id: str) -> None:
        before = self.describe(user_id)
        if not self._repository.delete(user_id):
            raise NotFound(f"User {user_id} has no Bedrock credentials of their own.")
        self._audit.record(actor, "credentials.delete", "credentials", user_id, before=before.model_dump(mode="json"))

    def test(self, user_id: str) -> CredentialsTest:
        """One CountTokens call with the credentials the fallback would use for this user (theirs, else the role)."""
        self._user(user_id)
        has_own = self._repository.describe(user_id) is not None
        who: Literal["user", "role"] = "user" if has_own else "role"
        models = ModelMap(self._settings.bedrock_geography, parse_model_map(self._settings.bedrock_model_map))
        model_id = models.resolve(TEST_MODEL).foundation_id
        started = time.perf_counter()

        def result(ok: bool, status: int | None, code: str | None, message: str) -> CredentialsTest:
            return CredentialsTest(ok=ok, credentials=who, model_id=model_id, status=status, code=code,
                                   message=message, latency_ms=round((time.perf_counter() - started) * 1000, 1))

        try:
            # A fresh client source: the test must use what is stored now, not an instance's cached client.
            bedrock = BedrockClients(self._settings, self._repository, self._vault).for_user(user_id)
        except CredentialsUnavailable as problem:
            return result(False, None, problem.reason, problem.message)
        body = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1,
                             "messages": [{"role": "user", "content": "Overspill credentials test"}]})
        try:
            answer = bedrock.client.count_tokens(modelId=model_id, input={"invokeModel": {"body": body}})
        except ClientError as error:
            failure = BedrockFailure.from_error(error, model=TEST_MODEL)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return result(False, status, failure.code, failure.message)
        except (ConnectionError, ReadTimeoutError) as error:
            return result(False, None, type(error).__name__, f"Bedrock could not be reached in "
                                                             f"{bedrock.region}: {type(error).__name__}")
        return result(True, 200, None, f"Bedrock answered in {bedrock.region} "
                                       f"({int(answer.get('inputTokens', 0))} input tokens counted).")

    def _user(self, user_id: str) -> Any:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        return user


def _unavailable(problem: CredentialsUnavailable) -> Exception:
    from overspill.admin.errors import Unavailable

    return Unavailable(f"The credentials could not be stored: {problem.message}")
