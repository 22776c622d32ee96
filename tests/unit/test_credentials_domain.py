"""Bedrock credentials as admins enter them: what is accepted, what is refused and what may be shown."""

import pickle

import pytest

from overspill.credentials import BedrockCredentials, CredentialKind, CredentialsUnavailable, InvalidCredentials

API_KEY = "ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQtdmFsdWUtMTIzNDU2Nzg5MGFiY2Q="
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_api_key_is_shown_only_by_its_last_four_characters():
    credentials = BedrockCredentials.from_api_key(API_KEY, region="eu-west-1")
    assert credentials.kind is CredentialKind.API_KEY
    assert credentials.hint == "…Y2Q="
    assert credentials.masked() == {"kind": "api_key", "region": "eu-west-1", "hint": "…Y2Q="}


def test_access_key_is_shown_as_prefix_and_last_four():
    credentials = BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET)
    assert credentials.kind is CredentialKind.ACCESS_KEY and credentials.region is None
    assert credentials.hint == "AKIA…MPLE"
    assert credentials.masked() == {"kind": "access_key", "region": None, "hint": "AKIA…MPLE"}


def test_repr_str_and_formatting_never_reveal_a_secret():
    for credentials, secrets in [
        (BedrockCredentials.from_api_key(API_KEY), [API_KEY, API_KEY[:-4]]),
        (BedrockCredentials.from_access_key("ASIAIOSFODNN7EXAMPLE", SECRET, "FwoGZXIvYXdzEBAaDOPZsessiontoken"),
         [SECRET, "FwoGZXIvYXdzEBAaDOPZsessiontoken", "IOSFODNN7EXA"]),
    ]:
        shown = [repr(credentials), str(credentials), f"{credentials}", f"{credentials!r}", repr([credentials]),
                 repr({"c": credentials})]
        for text in shown:
            for secret in secrets:
                assert secret not in text, text
        assert credentials.hint in repr(credentials)


def test_pasted_whitespace_around_values_is_trimmed():
    credentials = BedrockCredentials.from_access_key(f" {ACCESS_KEY_ID}\n", f"{SECRET}\n", region=" us-west-2 ")
    assert credentials.access_key_id == ACCESS_KEY_ID and credentials.secret_access_key == SECRET
    assert credentials.region == "us-west-2"
    assert BedrockCredentials.from_api_key(f"{API_KEY}\r\n").api_key == API_KEY


@pytest.mark.parametrize(("build", "field", "words"), [
    (lambda: BedrockCredentials.from_api_key(""), "api_key", "empty"),
    (lambda: BedrockCredentials.from_api_key("   "), "api_key", "empty"),
    (lambda: BedrockCredentials.from_api_key("ABSK-short"), "api_key", "truncated"),
    (lambda: BedrockCredentials.from_api_key("ABSK abc def ghi jkl mno pqr"), "api_key", "spaces"),
    (lambda: BedrockCredentials.from_api_key("ABSKxxxxxxxxxxxxxxxxxxxxx\nx-injected: 1"), "api_key", "line breaks"),
    (lambda: BedrockCredentials.from_api_key("ABSK" + "é" * 30), "api_key", "non-ASCII"),
    (lambda: BedrockCredentials.from_api_key("A" * 20000), "api_key", "too long"),
    (lambda: BedrockCredentials.from_access_key("", SECRET), "access_key_id", "empty"),
    (lambda: BedrockCredentials.from_access_key("AKIA123", SECRET), "access_key_id", "AKIA"),
    (lambda: BedrockCredentials.from_access_key("akiaiosfodnn7example", SECRET), "access_key_id", "uppercase"),
    (lambda: BedrockCredentials.from_access_key("AIDAIOSFODNN7EXAMPLE", SECRET), "access_key_id", "ASIA"),
    (lambda: BedrockCredentials.from_access_key("AKIAIOSFODNN7EXAMPLE1", SECRET), "access_key_id", "16"),
    (lambda: BedrockCredentials.from_access_key(ACCESS_KEY_ID, ""), "secret_access_key", "empty"),
    (lambda: BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET[:-1]), "secret_access_key", "40"),
    (lambda: BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET[:-1] + "!"), "secret_access_key", "40"),
    (lambda: BedrockCredentials.from_access_key("ASIAIOSFODNN7EXAMPLE", SECRET), "session_token", "needs"),
    (lambda: BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET, "tok"), "session_token", "temporary"),
    (lambda: BedrockCredentials.from_api_key(API_KEY, region="US-EAST-1"), "region", "us-east-1"),
    (lambda: BedrockCredentials.from_api_key(API_KEY, region="useast1"), "region", "us-east-1"),
    (lambda: BedrockCredentials.from_api_key(API_KEY, region="us-east-1.evil.com"), "region", "us-east-1"),
    (lambda: BedrockCredentials("password", api_key=API_KEY), "kind", "api_key or access_key"),
    (lambda: BedrockCredentials(CredentialKind.API_KEY, api_key=API_KEY, secret_access_key=SECRET), "kind", "no"),
])
def test_malformed_credentials_are_refused_with_a_clear_message_naming_the_field(build, field, words):
    with pytest.raises(InvalidCredentials) as caught:
        build()
    assert caught.value.field == field
    assert words in str(caught.value)
    # The message never echoes what was entered for a secret field.
    assert SECRET[:-1] not in str(caught.value) and "abc def" not in str(caught.value)


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "il-central-1",
                                    "ca-west-1", "mx-central-1", "cn-northwest-1"])
def test_real_region_names_are_accepted(region):
    assert BedrockCredentials.from_api_key(API_KEY, region=region).region == region


def test_temporary_access_keys_carry_their_session_token():
    credentials = BedrockCredentials.from_access_key("ASIAIOSFODNN7EXAMPLE", SECRET, "FwoGZXIvYXdzEBAaDOPZ+/=")
    assert credentials.session_token == "FwoGZXIvYXdzEBAaDOPZ+/="
    assert credentials.hint == "ASIA…MPLE"


def test_credentials_are_immutable_and_survive_pickling_intact():
    credentials = BedrockCredentials.from_api_key(API_KEY)
    with pytest.raises(AttributeError):
        credentials.api_key = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(credentials)) == credentials  # noqa: S301 - our own bytes


def test_unavailable_carries_a_reason_code_and_an_operator_message():
    error = CredentialsUnavailable("kms_key_disabled", "KMS key k is disabled: enable it")
    assert error.reason == "kms_key_disabled"
    assert str(error) == error.message == "KMS key k is disabled: enable it"
