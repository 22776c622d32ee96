"""The Bedrock-credentials repository: one item per user, the secret only ever as ciphertext."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, DoesNotExist

from overspill.credentials.domain import BedrockCredentials, CredentialKind
from overspill.credentials.vault import CredentialVault
from overspill.store.models import BedrockCredentialModel


@dataclass(frozen=True, slots=True)
class StoredCredentials:
    """An item as read, not decrypted. ``revision`` grows by one with every ``put``: caches key on it."""

    user_id: str
    kind: CredentialKind
    region: str | None
    hint: str
    revision: int
    updated_at: datetime
    ciphertext: bytes = field(repr=False)

    @property
    def version(self) -> tuple[int, datetime]:
        """What identifies these exact credentials. The revision alone would not do: a delete followed by a
        put starts again at revision 1."""
        return self.revision, self.updated_at


@dataclass(frozen=True, slots=True)
class CredentialsDescription:
    """What an admin may see of a user's stored credentials."""

    user_id: str
    kind: CredentialKind
    region: str | None
    hint: str
    updated_at: datetime
    revision: int


class BedrockCredentialRepository:
    def __init__(self, vault: CredentialVault) -> None:
        self._vault = vault

    def put(self, user_id: str, credentials: BedrockCredentials) -> str:
        """Encrypt and store (replacing any previous credentials); returns the hint to show the admin."""
        ciphertext = self._vault.encrypt(user_id, credentials)  # raises before anything is written
        region = BedrockCredentialModel.region
        BedrockCredentialModel(user_id).update(actions=[
            BedrockCredentialModel.kind.set(credentials.kind.value),
            region.set(credentials.region) if credentials.region else region.remove(),
            BedrockCredentialModel.ciphertext.set(ciphertext),
            BedrockCredentialModel.hint.set(credentials.hint),
            BedrockCredentialModel.updated_at.set(datetime.now(UTC)),
            # One atomic ADD: concurrent puts each get their own revision, so no cache keeps a stale client.
            BedrockCredentialModel.revision.add(1),
        ])
        return credentials.hint

    def get(self, user_id: str) -> StoredCredentials | None:
        try:
            # Strongly consistent: read once per user per cache TTL, so the cost is nil and a rotation is seen
            # by every instance within one TTL.
            item = BedrockCredentialModel.get(user_id, consistent_read=True)
        except DoesNotExist:
            return None
        return StoredCredentials(
            user_id=item.user_id, kind=CredentialKind(item.kind), region=item.region, hint=item.hint,
            revision=int(item.revision), updated_at=item.updated_at, ciphertext=bytes(item.ciphertext),
        )

    def describe(self, user_id: str) -> CredentialsDescription | None:
        try:
            item = BedrockCredentialModel.get(user_id, attributes_to_get=[  # never fetch the ciphertext
                "user_id", "kind", "region", "hint", "updated_at", "revision"])
        except DoesNotExist:
            return None
        return CredentialsDescription(
            user_id=item.user_id, kind=CredentialKind(item.kind), region=item.region, hint=item.hint,
            updated_at=item.updated_at, revision=int(item.revision),
        )

    def delete(self, user_id: str) -> bool:
        """Remove the user's credentials (they fall back on the function's role); False if there were none."""
        try:
            BedrockCredentialModel(user_id).delete(condition=BedrockCredentialModel.user_id.exists())
        except DeleteError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True
