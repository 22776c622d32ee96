"""Per-user Bedrock credentials: the domain (``domain``), sealing under KMS (``vault``), the DynamoDB
repository (``store``) and the per-instance cache of bedrock-runtime clients built from them (``clients``).

Import the submodule you need; this package imports only the domain, so that importing it stays cheap.
"""

from overspill.credentials.domain import (
    BedrockCredentials,
    CredentialKind,
    CredentialsUnavailable,
    InvalidCredentials,
)

__all__ = ["BedrockCredentials", "CredentialKind", "CredentialsUnavailable", "InvalidCredentials"]
