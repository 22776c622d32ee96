"""Stored Bedrock credentials on moto (DynamoDB + KMS): sealed per user, readable only by that user's item."""

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from overspill.config import Settings
from overspill.credentials import BedrockCredentials, CredentialKind, CredentialsUnavailable
from overspill.credentials.store import BedrockCredentialRepository
from overspill.credentials.vault import PURPOSE, CredentialVault
from overspill.store.models import BedrockCredentialModel, bind_models
from overspill.store.schema import create_table_request, table_spec
from tests.support.kms import enforce_kms_key_state

API_KEY = "ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQtdmFsdWUtMTIzNDU2Nzg5MGFiY2Q="
ACCESS_KEY_ID = "ASIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEBAaDOPZsessiontokenvalue"
ALIAS = "alias/overspill-credentials-test"


@dataclass
class Stack:
    settings: Settings
    kms: object
    dynamodb: object
    key_id: str
    key_arn: str


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        settings = Settings(region="us-east-1", credentials_table="creds-test", credentials_kms_key_id=ALIAS)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**create_table_request(table_spec(BedrockCredentialModel), settings.credentials_table))
        kms = boto3.client("kms", region_name="us-east-1")
        key = kms.create_key(Description="overspill credentials (test)")["KeyMetadata"]
        kms.create_alias(AliasName=ALIAS, TargetKeyId=key["KeyId"])
        bind_models(settings)
        yield Stack(settings, kms, dynamodb, key["KeyId"], key["Arn"])


@pytest.fixture
def kms_enforces_key_state(monkeypatch: pytest.MonkeyPatch) -> None:
    enforce_kms_key_state(monkeypatch)


@pytest.fixture
def vault(stack: Stack) -> CredentialVault:
    return CredentialVault(stack.settings)


@pytest.fixture
def repository(vault: CredentialVault) -> BedrockCredentialRepository:
    return BedrockCredentialRepository(vault)


def raw_item(stack: Stack, user_id: str) -> dict:
    return stack.dynamodb.get_item(TableName=stack.settings.credentials_table, Key={"user_id": {"S": user_id}},
                                   ConsistentRead=True)["Item"]


def test_credentials_round_trip_through_dynamodb_and_kms(repository, vault):
    credentials = BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET, SESSION_TOKEN, region="us-west-2")
    assert repository.put("ada", credentials) == "ASIA…MPLE"

    stored = repository.get("ada")
    assert (stored.user_id, stored.kind, stored.region, stored.hint, stored.revision) == (
        "ada", CredentialKind.ACCESS_KEY, "us-west-2", "ASIA…MPLE", 1)
    assert vault.decrypt("ada", stored.ciphertext) == credentials
    assert repository.get("grace") is None


def test_every_put_replaces_the_credentials_and_bumps_the_revision(repository, vault):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY, region="eu-west-1"))
    replacement = BedrockCredentials.from_access_key("AKIAIOSFODNN7EXAMPLE", SECRET)
    assert repository.put("ada", replacement) == "AKIA…MPLE"

    stored = repository.get("ada")
    assert (stored.revision, stored.kind, stored.region) == (2, CredentialKind.ACCESS_KEY, None)
    assert vault.decrypt("ada", stored.ciphertext) == replacement


def test_dynamodb_holds_only_ciphertext_and_a_hint(stack, repository):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    repository.put("grace", BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET, SESSION_TOKEN))

    for user_id, secrets in [("ada", [API_KEY]), ("grace", [SECRET, SESSION_TOKEN])]:
        item = raw_item(stack, user_id)
        ciphertext = item["ciphertext"]["B"]
        everything = repr(item).encode() + ciphertext
        for secret in secrets:
            for fragment in (secret, secret[:16], secret[-16:]):
                assert fragment.encode() not in everything
        assert set(item) == {"user_id", "kind", "ciphertext", "hint", "updated_at", "revision"} | (
            {"region"} if "region" in item else set())


def test_admins_see_a_masked_description_and_no_ciphertext(repository):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY, region="us-west-2"))
    description = repository.describe("ada")
    assert (description.kind, description.region, description.hint, description.revision) == (
        CredentialKind.API_KEY, "us-west-2", "…Y2Q=", 1)
    assert not hasattr(description, "ciphertext")
    assert API_KEY not in repr(description) and API_KEY not in repr(repository.get("ada"))
    assert repository.describe("nobody") is None


def test_deleting_credentials_returns_the_user_to_the_role(repository):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    assert repository.delete("ada") is True
    assert repository.get("ada") is None and repository.describe("ada") is None
    assert repository.delete("ada") is False


def test_ciphertext_copied_to_another_users_item_does_not_decrypt(stack, repository, vault):
    repository.put("mallory", BedrockCredentials.from_api_key("ABSK" + "m" * 40))
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    # Someone with write access to the table pastes Ada's ciphertext onto Mallory's item.
    stack.dynamodb.update_item(
        TableName=stack.settings.credentials_table, Key={"user_id": {"S": "mallory"}},
        UpdateExpression="SET ciphertext = :c", ExpressionAttributeValues={":c": raw_item(stack, "ada")["ciphertext"]})

    with pytest.raises(CredentialsUnavailable) as caught:
        vault.decrypt("mallory", repository.get("mallory").ciphertext)
    assert caught.value.reason == "context_mismatch"
    assert "mallory" in str(caught.value) and API_KEY not in str(caught.value)
    assert vault.decrypt("ada", repository.get("ada").ciphertext).api_key == API_KEY


def test_the_encryption_context_names_purpose_and_user(stack, repository):
    import aws_encryption_sdk

    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[stack.key_arn])
    sdk = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    _, header = sdk.decrypt(source=repository.get("ada").ciphertext, key_provider=provider)
    assert header.encryption_context["purpose"] == PURPOSE == "overspill-bedrock-credentials"
    assert header.encryption_context["user_id"] == "ada"


def test_a_disabled_kms_key_makes_credentials_unavailable_with_an_actionable_message(
        stack, repository, vault, kms_enforces_key_state):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    ciphertext = repository.get("ada").ciphertext
    stack.kms.disable_key(KeyId=stack.key_id)

    with pytest.raises(CredentialsUnavailable) as caught:
        vault.decrypt("ada", ciphertext)
    assert caught.value.reason == "kms_key_disabled"
    assert stack.key_arn in str(caught.value) and "enable" in str(caught.value)
    assert API_KEY not in str(caught.value)

    with pytest.raises(CredentialsUnavailable) as caught:
        repository.put("ada", BedrockCredentials.from_api_key("ABSK" + "n" * 40))
    assert caught.value.reason == "kms_key_disabled"
    assert repository.get("ada").revision == 1  # nothing written when encryption fails

    stack.kms.enable_key(KeyId=stack.key_id)
    assert vault.decrypt("ada", ciphertext).api_key == API_KEY


def test_credentials_sealed_under_another_key_are_refused_without_asking_kms(stack, repository):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    other = stack.kms.create_key()["KeyMetadata"]
    vault = CredentialVault(Settings(region="us-east-1", credentials_table="creds-test",
                                     credentials_kms_key_id=other["Arn"]))

    with pytest.raises(CredentialsUnavailable) as caught:
        vault.decrypt("ada", repository.get("ada").ciphertext)
    assert caught.value.reason == "wrong_key"
    assert "OVERSPILL_CREDENTIALS_KMS_KEY_ID" in str(caught.value)


def test_corrupt_ciphertext_is_reported_as_corrupt(repository, vault):
    repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    ciphertext = repository.get("ada").ciphertext
    for broken in (b"not an encrypted message", ciphertext[:-20], ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])):
        with pytest.raises(CredentialsUnavailable) as caught:
            vault.decrypt("ada", broken)
        assert caught.value.reason == "corrupt", caught.value
        assert "enter them again" in str(caught.value)


def test_a_missing_kms_key_is_named_with_the_setting_to_fix(stack):
    vault = CredentialVault(Settings(region="us-east-1", credentials_kms_key_id="alias/does-not-exist"))
    with pytest.raises(CredentialsUnavailable) as caught:
        vault.encrypt("ada", BedrockCredentials.from_api_key(API_KEY))
    assert caught.value.reason == "kms_key_not_found"
    assert "alias/does-not-exist" in str(caught.value) and "OVERSPILL_CREDENTIALS_KMS_KEY_ID" in str(caught.value)
