"""Sealing a user's Bedrock credentials: the AWS Encryption SDK under the deployment's KMS key, bound to the
user by the encryption context ``{"purpose": "overspill-bedrock-credentials", "user_id": <user>}``.

KMS authenticates the context it was given, but the SDK hands KMS the context stored in the message itself,
so a ciphertext copied onto another user's item would decrypt happily; :meth:`CredentialVault.decrypt`
therefore checks that the message names the user it is being opened for.

``aws_encryption_sdk`` is imported on first use, never at module import: it costs ~0.1–0.3 s and the proxy's
cold start must not pay that unless a fallback actually needs stored credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
import orjson
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from overspill.config import Settings, env_name
from overspill.credentials.domain import BedrockCredentials, CredentialsUnavailable, InvalidCredentials

PURPOSE = "overspill-bedrock-credentials"
PLAINTEXT_VERSION = 1
# KMS answers in milliseconds; a stuck call must not hold a developer's fallback for long.
_KMS_TIMEOUTS = {"connect_timeout": 2, "read_timeout": 5}


def encryption_context(user_id: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "user_id": user_id}


@dataclass(frozen=True, slots=True)
class _Sealer:
    sdk: Any            # aws_encryption_sdk.EncryptionSDKClient
    provider: Any       # StrictAwsKmsMasterKeyProvider over the resolved key ARN
    key_arn: str


class CredentialVault:
    """Encrypts and decrypts :class:`BedrockCredentials`. Thread-safe; the SDK and the KMS client are built
    once, on first use. Every failure is a :class:`CredentialsUnavailable` naming what an operator can fix."""

    def __init__(self, settings: Settings, *, botocore_session: botocore.session.Session | None = None) -> None:
        self._key_id = settings.credentials_kms_key_id
        self._region = settings.region
        self._endpoint_url = settings.aws_endpoint_url
        self._session = botocore_session
        self._kms_config = Config(**_KMS_TIMEOUTS,
                                  retries={"mode": "standard", "total_max_attempts": settings.aws_max_attempts})
        self._lock = threading.Lock()
        self._sealer: _Sealer | None = None
        self._last_kms_error = threading.local()  # the code of the KMS error behind an SDK exception

    @property
    def key_id(self) -> str:
        return self._key_id

    def encrypt(self, user_id: str, credentials: BedrockCredentials) -> bytes:
        sealer = self._ready()
        self._last_kms_error.code = None
        try:
            ciphertext, _header = sealer.sdk.encrypt(source=_encode(credentials), key_provider=sealer.provider,
                                                     encryption_context=encryption_context(user_id))
        except Exception as error:  # noqa: BLE001 - every SDK/KMS failure becomes one actionable error
            raise self._unavailable("encrypt", user_id, error, sealer.key_arn) from error
        return ciphertext

    def decrypt(self, user_id: str, ciphertext: bytes) -> BedrockCredentials:
        sealer = self._ready()
        self._last_kms_error.code = None
        try:
            plaintext, header = sealer.sdk.decrypt(source=ciphertext, key_provider=sealer.provider)
        except Exception as error:  # noqa: BLE001 - every SDK/KMS failure becomes one actionable error
            raise self._unavailable("decrypt", user_id, error, sealer.key_arn) from error
        context = header.encryption_context
        if context.get("purpose") != PURPOSE or context.get("user_id") != user_id:
            raise CredentialsUnavailable(
                "context_mismatch",
                f"the stored Bedrock credentials of user {user_id!r} were encrypted for another user or purpose: "
                "the item was copied or altered. Enter this user's Bedrock credentials again.")
        try:
            return _decode(plaintext)
        except (ValueError, TypeError, KeyError):
            # Authenticated by the SDK yet unreadable: written by an incompatible version. Never echo it.
            raise CredentialsUnavailable(
                "unreadable", f"the stored Bedrock credentials of user {user_id!r} decrypt to an unknown format: "
                              "enter them again.") from None

    # --- building the SDK client and key provider, once --------------------------------------------------

    def _ready(self) -> _Sealer:
        if self._sealer is None:
            with self._lock:
                if self._sealer is None:
                    self._sealer = self._build()
        return self._sealer

    def _build(self) -> _Sealer:
        import aws_encryption_sdk  # lazily: see the module docstring

        session = self._session or botocore.session.Session()

        def kms_client(region: str) -> Any:
            client = session.create_client("kms", region_name=region, endpoint_url=self._endpoint_url,
                                           config=self._kms_config)
            client.meta.events.register("after-call.kms", self._note_kms_result)
            return client

        key_arn = self._resolve_key_arn(kms_client(self._region))
        provider_class = _provider_class(aws_encryption_sdk.StrictAwsKmsMasterKeyProvider, kms_client)
        try:
            # Strict mode decrypts only under the configured key ARN (aliases are not accepted for decryption).
            provider = provider_class(key_ids=[key_arn], region_names=[_arn_region(key_arn)],
                                      botocore_session=session)
        except Exception as error:  # noqa: BLE001
            raise CredentialsUnavailable(
                "kms_config", f"cannot use KMS key {key_arn} for Bedrock credentials ({type(error).__name__}): "
                              f"check {env_name('credentials_kms_key_id')}") from error
        sdk = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
            max_encrypted_data_keys=1,  # we write exactly one; more would be a crafted message
        )
        return _Sealer(sdk=sdk, provider=provider, key_arn=key_arn)

    def _resolve_key_arn(self, kms: Any) -> str:
        if self._key_id.startswith("arn:") and ":key/" in self._key_id:
            return self._key_id
        # An alias or bare key id: one DescribeKey per instance, on the first use of stored credentials.
        self._last_kms_error.code = None
        try:
            return kms.describe_key(KeyId=self._key_id)["KeyMetadata"]["Arn"]
        except Exception as error:  # noqa: BLE001
            raise self._unavailable("describe", None, error, self._key_id) from error

    def _note_kms_result(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if http_response is not None and http_response.status_code >= 300:
            self._last_kms_error.code = parsed.get("Error", {}).get("Code")

    def _unavailable(self, operation: str, user_id: str | None, error: Exception, key: str) -> CredentialsUnavailable:
        code = getattr(self._last_kms_error, "code", None)
        if code is None and isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code")
        whose = f" of user {user_id!r}" if user_id else ""
        setting = env_name("credentials_kms_key_id")
        if code is not None:
            return _kms_refusal(code, operation, key, whose, setting)
        if isinstance(error, BotoCoreError):
            what = (f"look up KMS key {key}" if operation == "describe"
                    else f"{operation} the Bedrock credentials{whose}")
            return CredentialsUnavailable(
                "kms_unreachable", f"KMS could not be reached to {what} ({type(error).__name__}); it is retried on "
                                   "the next request.")
        sdk_errors = _sdk_exceptions()
        if isinstance(error, sdk_errors.DecryptKeyError):
            # No KMS call failed: the message's data key is wrapped by a key this deployment is not configured for.
            return CredentialsUnavailable(
                "wrong_key", f"the stored Bedrock credentials{whose} were encrypted under a different KMS key than "
                             f"{key} ({setting}): restore that setting or enter the credentials again.")
        if operation == "decrypt" and isinstance(error, (sdk_errors.AWSEncryptionSDKClientError, *_crypto_failures())):
            return CredentialsUnavailable(
                "corrupt", f"the stored Bedrock credentials{whose} are not a valid encrypted message "
                           f"({type(error).__name__}): enter them again.")
        return CredentialsUnavailable(
            "vault_error", f"cannot {operation} the Bedrock credentials{whose} with KMS key {key} "
                           f"({type(error).__name__}).")


_KMS_REFUSALS = {
    "AccessDeniedException": ("kms_access_denied", "KMS denied {operation} with key {key} (AccessDeniedException): "
                              "allow kms:{action} on this key to the function's role, in the key policy or the "
                              "role's IAM policy (condition kms:EncryptionContext:purpose = " + PURPOSE + ")."),
    "DisabledException": ("kms_key_disabled", "KMS key {key} is disabled, so the Bedrock credentials{whose} cannot be "
                          "{done}: enable the key (aws kms enable-key)."),
    "KMSInvalidStateException": ("kms_key_state", "KMS key {key} is pending deletion or not yet usable, so the Bedrock "
                                 "credentials{whose} cannot be {done}: cancel the deletion or fix the key's state."),
    "NotFoundException": ("kms_key_not_found", "KMS key {key} does not exist in this account and region: check "
                          "{setting}."),
    "InvalidCiphertextException": ("corrupt", "KMS rejected the stored Bedrock credentials{whose} as corrupt or "
                                   "altered (InvalidCiphertextException): enter them again."),
    "IncorrectKeyException": ("wrong_key", "the stored Bedrock credentials{whose} were encrypted under a different "
                              "KMS key than {key}: restore {setting} or enter the credentials again."),
}


def _kms_refusal(code: str, operation: str, key: str, whose: str, setting: str) -> CredentialsUnavailable:
    action = {"encrypt": "GenerateDataKey", "decrypt": "Decrypt", "describe": "DescribeKey"}[operation]
    done = {"encrypt": "encrypted", "decrypt": "decrypted", "describe": "used"}[operation]
    if code in _KMS_REFUSALS:
        reason, template = _KMS_REFUSALS[code]
        return CredentialsUnavailable(reason, template.format(operation=action, action=action, key=key, whose=whose,
                                                              done=done, setting=setting))
    if "Throttl" in code or code in ("KMSInternalException", "DependencyTimeoutException", "ServiceUnavailable"):
        return CredentialsUnavailable("kms_unreachable", f"KMS is busy or failing ({code}) on {action} with key "
                                                         f"{key}; it is retried on the next request.")
    return CredentialsUnavailable("kms_error", f"KMS refused {action} with key {key} ({code}).")


def _provider_class(base: type, kms_client: Callable[[str], Any]) -> type:
    """The SDK's KMS master-key provider builds its own KMS clients and takes no endpoint or client config;
    overriding ``add_regional_client`` is the extension point the SDK's own example uses
    (examples/src/custom_kms_client_for_kms_provider.py). Ours point at ``aws_endpoint_url`` (moto locally)."""

    class EndpointAwareKmsMasterKeyProvider(base):  # type: ignore[misc, valid-type]
        def add_regional_client(self, region_name: str) -> None:
            if region_name not in self._regional_clients:
                client = kms_client(region_name)
                self._register_client(client, region_name)
                self._regional_clients[region_name] = client

    return EndpointAwareKmsMasterKeyProvider


def _sdk_exceptions() -> Any:
    from aws_encryption_sdk import exceptions

    return exceptions


def _crypto_failures() -> tuple[type[Exception], ...]:
    # A tampered body or signature surfaces from cryptography itself, not as an SDK exception.
    from cryptography.exceptions import InvalidSignature, InvalidTag

    return InvalidSignature, InvalidTag


def _arn_region(arn: str) -> str:
    return arn.split(":")[3]


def _encode(credentials: BedrockCredentials) -> bytes:
    fields = {"v": PLAINTEXT_VERSION, "kind": credentials.kind.value, "region": credentials.region,
              "api_key": credentials.api_key, "access_key_id": credentials.access_key_id,
              "secret_access_key": credentials.secret_access_key, "session_token": credentials.session_token}
    return orjson.dumps({k: v for k, v in fields.items() if v is not None})


def _decode(plaintext: bytes) -> BedrockCredentials:
    fields = orjson.loads(plaintext)
    if not isinstance(fields, dict) or fields.pop("v", None) != PLAINTEXT_VERSION:
        raise ValueError("unknown plaintext version")
    try:
        return BedrockCredentials(**fields)
    except InvalidCredentials as error:
        raise ValueError(error.field) from None
