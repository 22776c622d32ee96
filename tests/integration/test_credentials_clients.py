"""Which Bedrock client serves a user's fallback, what it sends on the wire, and what it costs per request.

DynamoDB and KMS are moto (in-process); Bedrock is a tiny HTTPS server on loopback that records each request's
``Authorization`` header (botocore sends bearer tokens only over HTTPS, so the fake speaks TLS with a
certificate made for the test and trusted through ``AWS_CA_BUNDLE``).
"""

import datetime as dt
import ipaddress
import json
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from overspill.config import Settings
from overspill.credentials import BedrockCredentials, CredentialsUnavailable
from overspill.credentials.clients import BedrockClients
from overspill.credentials.store import BedrockCredentialRepository
from overspill.credentials.vault import CredentialVault
from overspill.store.models import BedrockCredentialModel, bind_models
from overspill.store.schema import create_table_request, table_spec

API_KEY = "ABSKQmVkcm9ja0FQSUtleS1zZWNyZXQtdmFsdWUtMTIzNDU2Nzg5MGFiY2Q="
OTHER_API_KEY = "ABSK" + "T3RoZXJCZWRyb2NrQVBJS2V5LXZhbHVlLTk4NzY1NDMyMTA="
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEMP_KEY_ID = "ASIAIOSFODNN7TEMPKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEBAaDOPZsessiontokenvalue"
ROLE_KEY_ID = "AKIAROLEROLEROLEROLE"
ROLE_SECRET = "roleSecretKeyroleSecretKeyroleSecretKey1"
ALL_SECRETS = [API_KEY, OTHER_API_KEY, SECRET, SESSION_TOKEN, ROLE_SECRET]
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
TTL = 300.0


# --- a fake Bedrock on loopback, over TLS -------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeBedrock:
    url: str
    seen: list[Seen] = field(default_factory=list)

    def last_authorization(self) -> str:
        return self.seen[-1].headers["authorization"]


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-bedrock.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def bedrock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    cert_path, key_path = _self_signed_certificate(tmp_path)
    fake = FakeBedrock(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("content-length", 0)))
            fake.seen.append(Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path.endswith("/count-tokens"):
                body = {"inputTokens": 1}
            else:
                body = {"id": "msg_fake", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
                        "usage": {"input_tokens": 1, "output_tokens": 1}}
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert_path))  # botocore reads it when a client is created
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- DynamoDB + KMS on moto ---------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Calls:
    """AWS API calls actually made, counted by botocore event hooks on the clients that make them."""

    names: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, model, **_: object) -> None:
        with self.lock:
            self.names.append(model.name)

    def count(self, name: str) -> int:
        return self.names.count(name)


@dataclass
class Gateway:
    settings: Settings
    repository: BedrockCredentialRepository
    clients: BedrockClients
    clock: FakeClock
    calls: Calls
    kms: object


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_DYNAMODB",
                 "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def make_gateway(bedrock_url: str | None, *, ttl: float = TTL) -> Gateway:
    import botocore.session

    settings = Settings(region="us-east-1", credentials_table="creds-test", credentials_cache_ttl_s=ttl,
                        credentials_kms_key_id="alias/overspill-credentials", bedrock_region="us-east-1",
                        bedrock_endpoint_url=bedrock_url, bedrock_connect_timeout_s=2)
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        **create_table_request(table_spec(BedrockCredentialModel), settings.credentials_table))
    kms = boto3.client("kms", region_name="us-east-1")
    kms.create_alias(AliasName="alias/overspill-credentials", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    bind_models(settings)

    calls = Calls()
    BedrockCredentialModel._get_connection().connection.client.meta.events.register("before-call.dynamodb", calls)
    kms_session = botocore.session.Session()
    kms_session.register("before-call.kms", calls)  # every KMS client the vault creates inherits the hook
    vault = CredentialVault(settings, botocore_session=kms_session)
    repository = BedrockCredentialRepository(vault)
    clock = FakeClock()
    return Gateway(settings, repository, BedrockClients(settings, repository, vault, clock=clock), clock, calls, kms)


@pytest.fixture
def gateway(aws, bedrock: FakeBedrock) -> Gateway:
    return make_gateway(bedrock.url)


def count_tokens(client) -> dict:
    return client.client.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1,
         "messages": [{"role": "user", "content": "hi"}]}).encode()}})


# --- what goes on the wire -------------------------------------------------------------------------------------

def test_a_users_bedrock_api_key_is_sent_as_a_bearer_token_and_nowhere_else(gateway, bedrock):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    client = gateway.clients.for_user("ada")
    assert (client.source, client.region, client.hint) == ("api_key", "us-east-1", "…Y2Q=")

    assert count_tokens(client)["inputTokens"] == 1
    assert bedrock.seen[-1].path == f"/model/{HAIKU.replace(':', '%3A')}/count-tokens"
    assert bedrock.last_authorization() == f"Bearer {API_KEY}"
    assert "x-amz-security-token" not in bedrock.seen[-1].headers
    assert "x-amz-date" not in bedrock.seen[-1].headers  # not signed with anyone's AWS credentials

    answer = client.client.invoke_model(modelId=f"us.{HAIKU}", body=b"{}")
    assert json.loads(answer["body"].read())["content"][0]["text"] == "hi"
    assert bedrock.last_authorization() == f"Bearer {API_KEY}"
    # The process environment is untouched: other users' clients cannot pick the key up.
    assert "AWS_BEARER_TOKEN_BEDROCK" not in os.environ


def test_two_users_keys_in_one_process_never_cross(gateway, bedrock):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    gateway.repository.put("grace", BedrockCredentials.from_api_key(OTHER_API_KEY, region="us-west-2"))
    ada, grace = gateway.clients.for_user("ada"), gateway.clients.for_user("grace")
    for client, key in [(ada, API_KEY), (grace, OTHER_API_KEY), (ada, API_KEY), (grace, OTHER_API_KEY)]:
        count_tokens(client)
        assert bedrock.last_authorization() == f"Bearer {key}"
    assert grace.region == "us-west-2"


def test_an_access_key_signs_with_sigv4_in_the_credentials_region(gateway, bedrock):
    gateway.repository.put("ada", BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET, region="us-west-2"))
    client = gateway.clients.for_user("ada")
    assert (client.source, client.region, client.hint) == ("access_key", "us-west-2", "AKIA…MPLE")

    count_tokens(client)
    authorization = bedrock.last_authorization()
    assert re.fullmatch(rf"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/\d{{8}}/us-west-2/bedrock/aws4_request, "
                        r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}", authorization), authorization
    assert SECRET not in authorization and "x-amz-security-token" not in bedrock.seen[-1].headers


def test_a_temporary_access_key_sends_its_session_token(gateway, bedrock):
    gateway.repository.put("ada", BedrockCredentials.from_access_key(TEMP_KEY_ID, SECRET, SESSION_TOKEN))
    count_tokens(gateway.clients.for_user("ada"))
    assert f"Credential={TEMP_KEY_ID}/" in bedrock.last_authorization()
    assert bedrock.seen[-1].headers["x-amz-security-token"] == SESSION_TOKEN


def test_users_without_credentials_use_the_functions_role(gateway, bedrock, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ROLE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ROLE_SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    # Even with botocore's process-wide Bedrock key variable set, "role" means the role: SigV4.
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "ABSK-process-wide-key-that-must-not-be-used")
    client = gateway.clients.for_user("nobody")
    assert (client.source, client.region, client.hint) == ("role", "us-east-1", None)
    assert gateway.clients.for_user("someone-else") is client  # one role client for everyone

    count_tokens(client)
    assert re.match(rf"AWS4-HMAC-SHA256 Credential={ROLE_KEY_ID}/\d{{8}}/us-east-1/bedrock/aws4_request, ",
                    bedrock.last_authorization())


def test_clients_have_short_connects_long_reads_no_retries_and_keepalive(gateway):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    for client in (gateway.clients.for_user("ada"), gateway.clients.for_user("nobody")):
        config = client.client.meta.config
        assert config.connect_timeout == 2
        assert config.read_timeout == gateway.settings.upstream_read_timeout_s == 840
        assert config.retries["total_max_attempts"] == 1
        assert config.tcp_keepalive is True
        assert client.client.meta.endpoint_url == gateway.settings.bedrock_endpoint_url


def test_an_api_key_is_never_sent_over_plain_http(aws):
    gateway = make_gateway("http://127.0.0.1:9")
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    with pytest.raises(CredentialsUnavailable) as caught:
        gateway.clients.for_user("ada")
    assert caught.value.reason == "insecure_endpoint" and API_KEY not in str(caught.value)


# --- what it costs: DynamoDB and KMS calls per user per TTL ----------------------------------------------------

def test_one_read_and_one_decrypt_per_user_per_ttl(gateway):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    # The key alias is resolved once per instance (here by the put), never per request.
    assert gateway.calls.names == ["DescribeKey", "GenerateDataKey", "UpdateItem"]
    gateway.calls.names.clear()

    first = gateway.clients.for_user("ada")
    for _ in range(20):
        assert gateway.clients.for_user("ada") is first
    gateway.clock.advance(TTL - 1)
    assert gateway.clients.for_user("ada") is first
    assert gateway.calls.names == ["GetItem", "Decrypt"]

    gateway.clock.advance(2)  # past the TTL: read again, but the same revision needs no decrypt
    assert gateway.clients.for_user("ada") is first
    assert gateway.calls.names == ["GetItem", "Decrypt", "GetItem"]


def test_users_on_the_role_cost_one_read_per_ttl_too(gateway):
    gateway.calls.names.clear()
    for _ in range(10):
        gateway.clients.for_user("nobody")
    gateway.clock.advance(TTL + 1)
    gateway.clients.for_user("nobody")
    assert gateway.calls.names == ["GetItem", "GetItem"]


def test_new_credentials_take_effect_within_one_ttl(gateway, bedrock):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    old = gateway.clients.for_user("ada")

    gateway.repository.put("ada", BedrockCredentials.from_access_key(ACCESS_KEY_ID, SECRET))
    assert gateway.clients.for_user("ada") is old  # cached until the TTL runs out
    gateway.clock.advance(TTL + 1)
    new = gateway.clients.for_user("ada")
    assert new is not old and (new.source, new.revision, new.hint) == ("access_key", 2, "AKIA…MPLE")
    count_tokens(new)
    assert f"Credential={ACCESS_KEY_ID}/" in bedrock.last_authorization()

    gateway.repository.delete("ada")
    gateway.clock.advance(TTL + 1)
    assert gateway.clients.for_user("ada").source == "role"


def test_credentials_deleted_and_entered_again_are_not_mistaken_for_the_old_ones(gateway, bedrock):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    old = gateway.clients.for_user("ada")
    gateway.repository.delete("ada")
    gateway.repository.put("ada", BedrockCredentials.from_api_key(OTHER_API_KEY))  # revision 1 again
    gateway.clock.advance(TTL + 1)

    new = gateway.clients.for_user("ada")
    assert new is not old and new.revision == old.revision == 1
    count_tokens(new)
    assert bedrock.last_authorization() == f"Bearer {OTHER_API_KEY}"


def test_a_burst_of_first_requests_reads_and_decrypts_once(gateway):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    gateway.calls.names.clear()
    original_get = gateway.repository.get

    def slow_get(user_id):  # widen the window in which the threads race
        time.sleep(0.05)
        return original_get(user_id)

    gateway.repository.get = slow_get
    start = threading.Barrier(16)
    results, errors = [], []

    def request() -> None:
        start.wait()
        try:
            results.append(gateway.clients.for_user("ada"))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(results) == 16 and len({id(r) for r in results}) == 1
    assert (gateway.calls.count("GetItem"), gateway.calls.count("Decrypt")) == (1, 1)


def test_unusable_credentials_fail_loudly_and_are_retried_on_the_next_request(gateway, monkeypatch):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    key_id = gateway.kms.describe_key(KeyId="alias/overspill-credentials")["KeyMetadata"]["KeyId"]
    from moto.core.exceptions import JsonRESTError
    from moto.kms.models import KmsBackend

    def refuse(self, *args, **kwargs):
        raise JsonRESTError("DisabledException", f"{key_id} is disabled.")

    monkeypatch.setattr(KmsBackend, "decrypt", refuse)
    gateway.calls.names.clear()
    for _ in range(2):
        with pytest.raises(CredentialsUnavailable) as caught:
            gateway.clients.for_user("ada")
        assert caught.value.reason == "kms_key_disabled"
    # Not silently served by the role, and not cached: each request tries again (an operator's fix is
    # picked up at once).
    assert (gateway.calls.count("GetItem"), gateway.calls.count("Decrypt")) == (2, 2)
    monkeypatch.undo()
    assert gateway.clients.for_user("ada").source == "api_key"


def test_a_storage_hiccup_keeps_serving_the_client_already_built(gateway):
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    first = gateway.clients.for_user("ada")
    gateway.clock.advance(TTL + 1)

    def broken_get(user_id):
        raise RuntimeError("DynamoDB is having a bad day")

    gateway.repository.get = broken_get
    assert gateway.clients.for_user("ada") is first
    with pytest.raises(CredentialsUnavailable) as caught:
        gateway.clients.for_user("grace")  # nothing cached to fall back on: say so
    assert caught.value.reason == "store_unavailable"


# --- nothing leaks ---------------------------------------------------------------------------------------------

def test_logs_and_reprs_never_contain_a_secret(gateway, bedrock, captured_logs, caplog, monkeypatch):
    caplog.set_level(logging.INFO)  # every library's INFO and above, as an operator would run it
    gateway.repository.put("ada", BedrockCredentials.from_api_key(API_KEY))
    gateway.repository.put("grace", BedrockCredentials.from_access_key(TEMP_KEY_ID, SECRET, SESSION_TOKEN))
    shown = []
    for user_id in ("ada", "grace"):
        client = gateway.clients.for_user(user_id)
        count_tokens(client)
        stored = gateway.repository.get(user_id)
        shown += [repr(client), str(client), repr(stored), repr(gateway.repository.describe(user_id))]
    from moto.core.exceptions import JsonRESTError
    from moto.kms.models import KmsBackend

    def refuse(self, *args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not allowed")

    monkeypatch.setattr(KmsBackend, "decrypt", refuse)
    gateway.clock.advance(TTL + 1)
    gateway.repository.put("ada", BedrockCredentials.from_api_key(OTHER_API_KEY))
    with pytest.raises(CredentialsUnavailable) as caught:
        gateway.clients.for_user("ada")
    shown += [repr(caught.value), str(caught.value)]

    logs = captured_logs.getvalue()
    assert '"message":"bedrock credentials loaded"' in logs
    assert "…Y2Q=" in logs and "kms_access_denied" in logs
    everything = "\n".join([logs, caplog.text, *shown])
    for secret in ALL_SECRETS:
        assert secret not in everything
        assert secret[:12] not in everything and secret[-12:] not in everything
