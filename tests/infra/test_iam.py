"""The proxy's role: exactly what the request path needs, and proof that it is enough.

The static tests read the synthesised policy and evaluate it (tests/infra/iam_policy.py). The behavioural
test runs the real request path — the proxy's own wiring, on moto, with a stub plan that is rate-limited and
a fake Bedrock — and checks that every AWS call it makes with the function's role is granted, and that every
granted action is used.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from infra.bedrock_access import PROFILE_CONDITION_KEY, bedrock_access, bedrock_statements, model_names
from overspill.bedrock.models import DEFAULT_MODEL_IDS, GEOGRAPHIES, ModelMap, UnknownModel, foundation_id_of
from overspill.credentials.vault import PURPOSE, encryption_context
from tests.infra.conftest import CUSTOM_MODEL_MAP, SPECS
from tests.infra.iam_policy import (
    ACCOUNT,
    INLINE_POLICY_LIMIT,
    PARTITION,
    Statement,
    allows,
    raw_role_statements,
    render,
    rendered_policy_size,
    role_statements,
)

FORBIDDEN_DYNAMODB = {
    "dynamodb:DeleteTable", "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem",
    "dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive", "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLSelect", "dynamodb:ExecuteStatement", "dynamodb:DeleteBackup", "dynamodb:RestoreTableFromBackup",
}
# What the proxy decides per table; written out here, not imported, so that a change is a reviewed decision.
EXPECTED_TABLE_ACTIONS = {
    "users_table": {"dynamodb:GetItem"},
    "access_keys_table": {"dynamodb:Query", "dynamodb:UpdateItem"},
    "usage_table": {"dynamodb:PutItem"},
    "breakers_table": {"dynamodb:GetItem", "dynamodb:PutItem"},
    "credentials_table": {"dynamodb:GetItem"},
    "rollups_table": {"dynamodb:Query"},
    "teams_table": {"dynamodb:GetItem"},
    "config_table": {"dynamodb:GetItem"},
    # The admin function's alone (tests/infra/test_admin_iam.py).
    "audit_table": set(),
    "idempotency_table": set(),
}
INVOKE = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
COUNT_TOKENS = "bedrock:CountTokens"
# A source Region per geography, and Regions its cross-Region profiles may route to ("" is the Region of a
# global profile's foundation-model ARN).
SOURCE_REGION = {"us": "us-east-1", "eu": "eu-west-1", "apac": "ap-southeast-1", "jp": "ap-northeast-1",
                 "au": "ap-southeast-2", "global": "us-east-1"}
DESTINATIONS = {"us": ("us-east-1", "us-east-2", "us-west-2"), "eu": ("eu-west-1", "eu-central-1", "eu-north-1"),
                "apac": ("ap-southeast-1", "ap-northeast-2", "ap-south-1"), "jp": ("ap-northeast-1", "ap-northeast-3"),
                "au": ("ap-southeast-2", "ap-southeast-4"), "global": ("us-east-1", "eu-west-1", "sa-east-1", "")}


@pytest.fixture(scope="module", params=["dev", "prod", "custom"])
def every_config(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


def granted(synth) -> dict[str, set[str]]:
    """Actions allowed without conditions, per resource (rendered: ``<LogicalId.Arn>``, ``<SecretId>``, ARNs)."""
    grants: dict[str, set[str]] = {}
    for statement in role_statements(synth):
        if not statement.conditions:
            for resource in statement.resources:
                grants.setdefault(resource, set()).update(statement.actions)
    return grants


def _arn_of(logical_id: str) -> str:
    return f"<{logical_id}.Arn>"


def test_role_is_for_lambda_only_with_no_managed_policies(any_stage):
    role_id = any_stage.function[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = any_stage.json["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    # AWSLambdaBasicExecutionRole would grant logs:* calls on every resource.
    assert not role.get("ManagedPolicyArns")


def test_no_wildcards_but_the_region_of_models_reached_through_our_profiles(every_config):
    raw = raw_role_statements(every_config)
    assert raw
    for statement in raw:
        assert "NotAction" not in statement and "NotResource" not in statement and "NotPrincipal" not in statement
    for statement in role_statements(every_config):
        for action in statement.actions:
            assert "*" not in action and "?" not in action, f"wildcard action {action}"
        for values in statement.conditions.values():
            for value in (v for vs in values.values() for v in vs):
                assert "*" not in value and "?" not in value, f"wildcard condition in {statement}"
        for resource in statement.resources:
            assert resource != "*" and "?" not in resource
            if "*" not in resource:
                continue
            # The one exception: a foundation model in any Region, only through one of our inference profiles.
            arn, _, model = resource.partition(":foundation-model/")
            assert arn == f"arn:{PARTITION}:bedrock:*:" and model and "*" not in model, resource
            assert list(statement.conditions) == ["ArnLike"], statement
            assert list(statement.conditions["ArnLike"]) == [PROFILE_CONDITION_KEY], statement
            assert all(":inference-profile/" in p for p in statement.conditions["ArnLike"][PROFILE_CONDITION_KEY])


def test_table_access_is_exactly_what_the_request_path_does(any_stage):
    grants = granted(any_stage)
    assert {s.settings_field for s in SPECS} == set(EXPECTED_TABLE_ACTIONS)
    for spec in SPECS:
        logical_id, _ = any_stage.table_for(spec)
        assert grants.get(_arn_of(logical_id), set()) == EXPECTED_TABLE_ACTIONS[spec.settings_field], \
            spec.settings_field
    every_action = {a for s in role_statements(any_stage) for a in s.actions}
    assert not every_action & FORBIDDEN_DYNAMODB
    # The two Queries: the key lookup (filtered to usable keys) and the budget check, each on its table itself
    # (no index is granted, checked below).
    assert {s.resources[0] for s in role_statements(any_stage) if "dynamodb:Query" in s.actions} == {
        _arn_of(any_stage.table_for(next(s for s in SPECS if s.settings_field == field))[0])
        for field in ("access_keys_table", "rollups_table")}
    assert {a for a in every_action if a.startswith("dynamodb:")} == set().union(*EXPECTED_TABLE_ACTIONS.values())
    # Nothing on the tables' indexes or streams, and no condition on any table grant.
    for statement in role_statements(any_stage):
        for resource in statement.resources:
            assert "/index/" not in resource and "/stream/" not in resource and "StreamArn" not in resource
        if any(a.startswith("dynamodb:") for a in statement.actions):
            assert not statement.conditions


def test_can_read_the_pepper_and_nothing_more_of_it(any_stage):
    secret_id, _ = any_stage.only("AWS::SecretsManager::Secret")
    actions = granted(any_stage)[f"<{secret_id}>"]
    assert "secretsmanager:GetSecretValue" in actions
    assert actions <= {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}


def test_can_write_only_its_own_logs(any_stage):
    group_id = any_stage.logical_id(any_stage.stack.proxy.log_group)
    grants = granted(any_stage)
    assert grants[_arn_of(group_id)] == {"logs:CreateLogStream", "logs:PutLogEvents"}
    logs_resources = [r for r, actions in grants.items() if any(a.startswith("logs:") for a in actions)]
    assert logs_resources == [_arn_of(group_id)]


# --- The credentials key: decrypt only, only this key, only ciphertexts sealed for their purpose.

def test_may_only_decrypt_credentials_sealed_for_their_purpose(any_stage):
    key_id, _ = any_stage.resource_of(any_stage.stack.data.credentials_key)
    key_arn = _arn_of(key_id)
    statements = role_statements(any_stage)
    kms_statements = [s for s in statements if any(a.startswith("kms:") for a in s.actions)]
    assert kms_statements == [s for s in statements if key_arn in s.resources]
    (statement,) = kms_statements
    assert statement.actions == {"kms:Decrypt"}
    assert statement.resources == (key_arn,)
    # The context key and value the vault seals with (overspill.credentials.vault), not a lookalike.
    (purpose_key,) = [k for k, v in encryption_context("usr_x").items() if v == PURPOSE]
    assert purpose_key == "purpose"
    assert statement.conditions == {"StringEquals": {f"kms:EncryptionContext:{purpose_key}": (PURPOSE,)}}

    # Evaluated: the context a real ciphertext carries passes; anything else does not.
    sealed = {f"kms:EncryptionContext:{k}": v for k, v in encryption_context("usr_ada").items()}
    assert allows(statements, "kms:Decrypt", key_arn, sealed)
    assert not allows(statements, "kms:Decrypt", key_arn, {**sealed, "kms:EncryptionContext:purpose": "other"})
    assert not allows(statements, "kms:Decrypt", key_arn)
    for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:DescribeKey", "kms:CreateGrant"):
        assert not allows(statements, action, key_arn, sealed), action
    assert not allows(statements, "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/another-key", sealed)


def test_the_function_is_told_the_key_by_arn(any_stage):
    key_id, _ = any_stage.resource_of(any_stage.stack.data.credentials_key)
    # An ARN (not the alias): the vault then needs no DescribeKey and decrypts under exactly this key.
    assert any_stage.environment["OVERSPILL_CREDENTIALS_KMS_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_the_key_policy_leaves_use_to_iam(any_stage):
    key_id, key = any_stage.resource_of(any_stage.stack.data.credentials_key)
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    assert props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    assert props.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
    assert props.get("MultiRegion", False) is False
    # CDK's default: the account administers the key; no principal is named in it (the role's policy grants).
    (statement,) = props["KeyPolicy"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "kms:*" and statement["Resource"] == "*"
    root = statement["Principal"]["AWS"]
    assert render(root) == f"arn:{PARTITION}:iam::{ACCOUNT}:root"
    assert "Condition" not in statement
    _, alias = any_stage.only("AWS::KMS::Alias")
    stage = any_stage.config.stage
    assert alias["Properties"] == {"AliasName": f"alias/overspill-{stage}-credentials",
                                   "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert any_stage.json["Outputs"]["CredentialsKeyArn"]["Value"] == {"Fn::GetAtt": [key_id, "Arn"]}


# --- Bedrock: computed from the code's own model map, and enough for every model it maps.

def _bedrock_statements(synth) -> list[Statement]:
    return [s for s in role_statements(synth) if any(a.startswith("bedrock:") for a in s.actions)]


def _computed(geography: str, overrides: dict[str, str], region: str) -> list[Statement]:
    access = bedrock_access(geography=geography, overrides=overrides, region=region, account=ACCOUNT,
                            partition=PARTITION)
    return [Statement.from_spec(spec) for spec in bedrock_statements(access)]


def _by_sid(statements: list[Statement]) -> dict[str | None, Statement]:
    found = {s.sid: s for s in statements}
    assert len(found) == len(statements), "statements without distinct Sids"
    return found


def test_bedrock_statements_are_derived_from_the_model_map(every_config):
    config = every_config.config
    synthesised = _by_sid(_bedrock_statements(every_config))
    computed = _by_sid(_computed(config.bedrock_geography, config.model_overrides, config.bedrock_region))
    assert synthesised == computed
    every_action = {a for s in synthesised.values() for a in s.actions}
    assert every_action == {*INVOKE, COUNT_TOKENS}  # no bedrock:*, no Converse, no control-plane actions
    for statement in synthesised.values():
        assert statement.actions in (frozenset(INVOKE), frozenset({COUNT_TOKENS}))


def _invoke_target(geography: str, region: str, target: str) -> tuple[str | None, str | None]:
    """(profile ARN, directly invoked model ARN) for a target as the proxy invokes it, classified here
    independently of infra.bedrock_access."""
    if target.startswith("arn:"):
        return (target, None) if ":inference-profile/" in target else (None, target)
    foundation = foundation_id_of(target)
    if foundation != target:
        return f"arn:{PARTITION}:bedrock:{region}:{ACCOUNT}:inference-profile/{target}", None
    return None, f"arn:{PARTITION}:bedrock:{region}::foundation-model/{target}"


def assert_invocable(statements: list[Statement], geography: str, region: str, name: str,
                     models: ModelMap) -> None:
    """The proxy's role can answer ``name`` through Bedrock: invoke what it resolves to, wherever the profile
    routes, and count tokens — and cannot reach the same model any other way."""
    resolved = models.resolve(name)
    profile, direct = _invoke_target(geography, region, resolved.invoke_id)
    foundation = resolved.foundation_id
    for action in INVOKE:
        if profile is not None:
            assert allows(statements, action, profile), (name, action, profile)
            other_region = profile.replace(f":{region}:", ":ca-central-1:") if region in profile else None
            if other_region:
                assert not allows(statements, action, other_region), (name, other_region)
            destinations = DESTINATIONS.get(profile.split(":inference-profile/")[1].split(".")[0], (region,))
            for destination in destinations:
                model = f"arn:{PARTITION}:bedrock:{destination}::foundation-model/{foundation}"
                assert allows(statements, action, model, {PROFILE_CONDITION_KEY: profile}), (name, model)
                # Not directly, and not through someone else's profile.
                assert not allows(statements, action, model), (name, "direct", model)
                foreign = profile.replace(f":{profile.split(':')[4]}:", ":999999999999:")
                assert not allows(statements, action, model, {PROFILE_CONDITION_KEY: foreign}), (name, foreign)
        else:
            assert allows(statements, action, direct), (name, action, direct)
    if foundation is not None:
        counted = f"arn:{PARTITION}:bedrock:{region}::foundation-model/{foundation}"
        assert allows(statements, COUNT_TOKENS, counted), (name, counted)
        assert not allows(statements, COUNT_TOKENS, counted.replace(f":{region}:", ":ca-central-1:"))
        if profile is not None:
            assert not allows(statements, COUNT_TOKENS, profile)  # CountTokens takes the bare id only


def _resolvable(models: ModelMap, names) -> list[str]:
    found = []
    for name in names:
        try:
            models.resolve(name)
        except UnknownModel:
            continue  # e.g. opus-4-1 outside us: the proxy refuses it too, so nothing is granted for it
        found.append(name)
    return found


@pytest.mark.parametrize("geography", GEOGRAPHIES)
def test_every_default_model_is_invocable_in_every_geography(geography):
    region = SOURCE_REGION[geography]
    statements = _computed(geography, {}, region)
    models = ModelMap(geography)
    names = _resolvable(models, DEFAULT_MODEL_IDS)
    assert len(names) >= len(DEFAULT_MODEL_IDS) - 2
    for name in names:
        assert_invocable(statements, geography, region, name, models)
        assert_invocable(statements, geography, region, f"{name}[1m]", models)  # the 1M-context spelling
    # Exactly these profiles, nothing more.
    (profiles,) = [s for s in statements if s.sid == "InvokeBedrockInferenceProfiles"]
    assert set(profiles.resources) == {
        f"arn:{PARTITION}:bedrock:{region}:{ACCOUNT}:inference-profile/{models.resolve(n).invoke_id}" for n in names}
    assert not [s for s in statements if s.sid == "InvokeMappedFoundationModels"]  # defaults: profiles only


def test_every_default_model_is_invocable_with_the_deployed_policy(dev):
    statements = _bedrock_statements(dev)
    models = ModelMap(dev.config.bedrock_geography)
    for name in _resolvable(models, DEFAULT_MODEL_IDS):
        assert_invocable(statements, "us", "us-east-1", name, models)


def test_nothing_outside_the_map_is_invocable(dev):
    statements = _bedrock_statements(dev)
    for resource in (
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.meta.llama3-70b-instruct-v1:0",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/eu.anthropic.claude-opus-4-8",
        f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abc123",
    ):
        for action in (*INVOKE, COUNT_TOKENS, "bedrock:Converse", "bedrock:GetInferenceProfile"):
            assert not allows(statements, action, resource), (action, resource)
    # opus-4-1 is us-only: an eu deployment grants nothing for it.
    eu = _computed("eu", {}, "eu-west-1")
    assert not any("opus-4-1" in r for s in eu for r in s.resources)


def test_model_map_overrides_are_granted_as_given(custom):
    config = custom.config
    assert (config.bedrock_region, config.bedrock_geography) == ("eu-west-1", "global")
    assert config.model_overrides == CUSTOM_MODEL_MAP
    statements = _bedrock_statements(custom)
    models = ModelMap(config.bedrock_geography, config.model_overrides)
    names = _resolvable(models, model_names(config.model_overrides))
    assert set(CUSTOM_MODEL_MAP) <= set(names)
    for name in names:
        assert_invocable(statements, config.bedrock_geography, config.bedrock_region, name, models)
    (direct,) = [s for s in statements if s.sid == "InvokeMappedFoundationModels"]
    assert set(direct.resources) == {
        "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-direct-v1:0",
        CUSTOM_MODEL_MAP["claude-fm-arn"],
    }
    # The replaced default is reached through the global profile only; the global Region is empty.
    global_profile = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/" + CUSTOM_MODEL_MAP["claude-sonnet-4-5"]
    model = "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert allows(statements, "bedrock:InvokeModelWithResponseStream", model, {PROFILE_CONDITION_KEY: global_profile})
    # The profile ARN of another account is granted as given (and only that one).
    assert allows(statements, "bedrock:InvokeModel", CUSTOM_MODEL_MAP["claude-profile-arn[1m]"])
    assert not allows(statements, "bedrock:InvokeModel",
                      CUSTOM_MODEL_MAP["claude-profile-arn[1m]"].replace("210987654321", ACCOUNT))


def test_policy_fits_iam_size_limits(every_config):
    assert rendered_policy_size(every_config) < INLINE_POLICY_LIMIT


# --- Behaviour: the AWS calls of real requests through the proxy's wiring are all granted, all grants used.

TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
GRACE_ACCESS_KEY = "AKIAGRACEGRACEGRACE1"


class _Stream(httpx.SyncByteStream):
    """A response body that is read as a stream, as from the network (httpx reads plain content eagerly)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self):
        yield self._data

    def close(self) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    access_key: str | None   # whose credentials signed it


@dataclasses.dataclass
class Recorded:
    settings: Any
    calls: list[Call]
    responses: list[dict[str, Any]]

    @property
    def role_calls(self) -> list[Call]:
        return [c for c in self.calls if c.access_key != GRACE_ACCESS_KEY]


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorded]:
    """Four requests, recording every AWS call made while they are handled:

    1. Ada, streaming: the plan answers 429 with its limit rejected. The breaker is read (eventually consistent);
       meanwhile another instance opens it (shorter), so the first conditional write loses, the item is read
       again strongly consistent, and the breaker is replaced. Ada has no stored credentials: the function's
       role calls InvokeModelWithResponseStream on the us. inference profile. Ada and her team have monthly
       budgets: before each Bedrock call their month rollups are queried (and the team's budget read).
    2. Ada, not streaming: the breaker is open (this instance's copy): InvokeModel, no plan call.
    3. Ada, count_tokens: CountTokens on the bare foundation model.
    4. Grace, streaming: rate-limited too, but she has stored credentials: they are read and decrypted with KMS
       (the role), and Bedrock is called with her own key (not the role's business).
    """
    import botocore.client
    from moto import mock_aws

    from overspill.aws import client
    from overspill.breaker import Breaker, BreakerState
    from overspill.config import Settings
    from overspill.credentials import BedrockCredentials
    from overspill.credentials.store import BedrockCredentialRepository
    from overspill.credentials.vault import CredentialVault
    from overspill.keys import generate_key
    from overspill.local.provision import provision
    from overspill.proxy import app as proxy_app
    from overspill.proxy import function_url
    from overspill.store.access_keys import AccessKeyRepository
    from overspill.store.breakers import BreakerRepository
    from overspill.store.models import bind_models
    from overspill.store.teams import TeamRepository
    from overspill.store.users import UserRepository
    from overspill.upstream.anthropic import AnthropicUpstream
    from tests.support.fake_bedrock import FakeBedrock

    calls: list[Call] = []
    responses: list[dict[str, Any]] = []
    paused = threading.Event()  # set while the test itself writes (as "another instance")
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if not paused.is_set():
            credentials = getattr(self._request_signer, "_credentials", None)
            calls.append(Call(self.meta.service_model.service_name, operation_name, dict(api_params),
                              getattr(credentials, "access_key", None)))
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as monkeypatch, FakeBedrock() as bedrock, mock_aws():
        for name, value in TEST_AWS_ENV.items():
            monkeypatch.setenv(name, value)
        settings = Settings(stage="iam-test", region="us-east-1", anthropic_url="https://anthropic.invalid",
                            bedrock_region="us-east-1", bedrock_geography="us", bedrock_endpoint_url=bedrock.url)
        key_arn = client("kms", settings).create_key(Description="credentials")["KeyMetadata"]["Arn"]
        settings = dataclasses.replace(settings, credentials_kms_key_id=key_arn)
        pepper, settings = provision(settings)
        pepper = pepper.encode()
        bind_models(settings)
        users = UserRepository()
        # Ada has budgets (hers and her team's): the Bedrock route checks them against the month rollups.
        ada = users.create("Ada", team="platform", budget_usd=Decimal("100"))
        grace = users.create("Grace")
        TeamRepository().put("platform", budget_usd=Decimal("500"))
        ada_key, grace_key = generate_key(pepper), generate_key(pepper)
        AccessKeyRepository().add(ada.user_id, ada_key)
        AccessKeyRepository().add(grace.user_id, grace_key)
        BedrockCredentialRepository(CredentialVault(settings)).put(
            grace.user_id, BedrockCredentials.from_access_key(GRACE_ACCESS_KEY, "g" * 40))

        raced: list[bool] = []

        def rate_limited(request: httpx.Request) -> httpx.Response:
            if not raced:  # another instance opens Ada's breaker while her first request waits for the plan
                raced.append(True)
                paused.set()
                try:
                    now = datetime.now(UTC)
                    assert BreakerRepository().replace(
                        Breaker(ada.user_id, state=BreakerState.OPEN, open_until=now + timedelta(minutes=1),
                                reason="throttle", last_status=429, trips=1, updated_at=now, revision=1),
                        expected_revision=0)
                finally:
                    paused.clear()
            headers = {"content-type": "application/json", "anthropic-ratelimit-unified-status": "rejected",
                       "anthropic-ratelimit-unified-reset": str(int(time.time()) + 3600)}
            body = b'{"type":"error","error":{"type":"rate_limit_error","message":"plan limit"}}'
            return httpx.Response(429, headers=headers, stream=_Stream(body))

        monkeypatch.setattr(proxy_app, "AnthropicUpstream",
                            lambda s: AnthropicUpstream(s, transport=httpx.MockTransport(rate_limited)))
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        proxy = proxy_app.build_proxy(settings)  # fresh clients and models, as on a cold start (recorded too)

        def send(key, path: str, body: dict[str, Any]) -> None:
            event = {
                "rawPath": f"/ak/{key.plain}{path}", "rawQueryString": "beta=true",
                "headers": {"content-type": "application/json", "x-api-key": "sk-ant-test",
                            "anthropic-version": "2023-06-01"},
                "body": json.dumps(body), "isBase64Encoded": False,
                "requestContext": {"http": {"method": "POST", "sourceIp": "192.0.2.1"}, "requestId": "r1"},
            }
            response = function_url.to_response(
                proxy.handle(function_url.to_request(event, SimpleNamespace(aws_request_id="r1"))))
            payload = response["body"]
            data = payload if isinstance(payload, bytes) else b"".join(payload)
            if hasattr(payload, "close"):
                payload.close()  # as the runtime does after the response: usage and last-used are written
            responses.append({**response, "body": data})

        def message(model: str, stream: bool) -> dict[str, Any]:
            return {"model": model, "max_tokens": 5, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}

        send(ada_key, "/v1/messages", message("claude-sonnet-4-5", True))
        send(ada_key, "/v1/messages", message("claude-haiku-4-5", False))
        send(ada_key, "/v1/messages/count_tokens",
             {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}]})
        send(grace_key, "/v1/messages", message("claude-sonnet-4-6", True))
        yield Recorded(settings, calls, responses)


def test_the_requests_were_answered_by_bedrock(recorded):
    assert [r["statusCode"] for r in recorded.responses] == [200] * 4, [r["body"][:300] for r in recorded.responses]
    assert [r["headers"]["x-overspill-route"] for r in recorded.responses] == ["bedrock"] * 4
    assert [r["headers"]["x-overspill-fallback-reason"] for r in recorded.responses] == [
        "plan_limit", "breaker_open", "breaker_open", "plan_limit"]
    assert b"event: message_stop" in recorded.responses[0]["body"]
    assert json.loads(recorded.responses[2]["body"])["input_tokens"] > 0


def test_the_scenario_exercised_what_it_claims(recorded):
    """Guard the guard: the breaker was read both ways and written conditionally, including a lost race;
    the stored credentials were read strongly consistent and decrypted; Grace's call used her key."""
    settings = recorded.settings
    on_breakers = [c for c in recorded.role_calls if c.params.get("TableName") == settings.breakers_table]
    reads = [c.params.get("ConsistentRead") for c in on_breakers if c.operation == "GetItem"]
    assert False in reads and True in reads
    writes = [c.params.get("ConditionExpression") for c in on_breakers if c.operation == "PutItem"]
    assert len(writes) >= 3 and all(writes), writes  # every breaker write is conditional
    assert {c.operation for c in on_breakers} == {"GetItem", "PutItem"}
    credential_reads = [c for c in recorded.role_calls if c.params.get("TableName") == settings.credentials_table]
    assert credential_reads and all(c.operation == "GetItem" and c.params.get("ConsistentRead")
                                    for c in credential_reads)
    grace_calls = [c for c in recorded.calls if c.access_key == GRACE_ACCESS_KEY]
    assert [(c.service, c.operation) for c in grace_calls] == [("bedrock-runtime", "InvokeModelWithResponseStream")]
    assert len({c.access_key for c in recorded.role_calls}) == 1  # one identity: the function's role


def _resources_of(call: Call, dev, settings) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, request context) that IAM evaluates for one AWS call."""
    if call.service == "dynamodb":
        tables = {getattr(settings, s.settings_field): dev.table_for(s)[0] for s in SPECS}
        name = call.params["TableName"]
        assert name in tables, f"{call.operation} on a table the stack does not define: {name}"
        return [(f"dynamodb:{call.operation}", _arn_of(tables[name]), {})]
    if call.service == "secretsmanager":
        assert call.params["SecretId"] == settings.pepper_secret_id
        secret_id, _ = dev.only("AWS::SecretsManager::Secret")
        return [(f"secretsmanager:{call.operation}", f"<{secret_id}>", {})]
    if call.service == "kms":
        # The function is given the key's ARN; the call must name exactly that key.
        assert call.params.get("KeyId") == settings.credentials_kms_key_id
        key_id, _ = dev.resource_of(dev.stack.data.credentials_key)
        context = {f"kms:EncryptionContext:{k}": v for k, v in call.params.get("EncryptionContext", {}).items()}
        return [(f"kms:{call.operation}", _arn_of(key_id), context)]
    if call.service == "bedrock-runtime":
        action = f"bedrock:{call.operation}"
        region = settings.bedrock_region
        model_id = call.params["modelId"]
        profile, direct = _invoke_target(settings.bedrock_geography, region, model_id)
        if profile is None:
            return [(action, direct, {})]
        foundation = foundation_id_of(model_id)
        routed = [(action, f"arn:{PARTITION}:bedrock:{destination}::foundation-model/{foundation}",
                   {PROFILE_CONDITION_KEY: profile}) for destination in DESTINATIONS[settings.bedrock_geography]]
        return [(action, profile, {}), *routed]
    raise AssertionError(f"unexpected AWS call {call.service}:{call.operation}")


def test_every_aws_call_of_the_request_path_is_granted(dev, recorded):
    statements = role_statements(dev)
    assert dev.config.bedrock_region == recorded.settings.bedrock_region
    assert dev.config.bedrock_geography == recorded.settings.bedrock_geography
    for call in recorded.role_calls:
        for action, resource, context in _resources_of(call, dev, recorded.settings):
            assert allows(statements, action, resource, context), f"{action} on {resource} ({context}) not granted"


def test_every_grant_is_used_by_the_request_path(dev, recorded):
    used: dict[str, set[str]] = {}
    for call in recorded.role_calls:
        for action, resource, _ in _resources_of(call, dev, recorded.settings):
            used.setdefault(resource, set()).add(action)
    grants = granted(dev)
    # DynamoDB, per table: nothing is granted "just in case".
    granted_on_tables = {r: {a for a in actions if a.startswith("dynamodb:")} for r, actions in grants.items()
                         if any(a.startswith("dynamodb:") for a in actions)}
    used_on_tables = {r: actions for r, actions in used.items() if any(a.startswith("dynamodb:") for a in actions)}
    assert used_on_tables == granted_on_tables
    # KMS and Bedrock, per action (which models: see the static tests above).
    every_granted = {a for s in role_statements(dev) for a in s.actions}
    every_used = {a for actions in used.values() for a in actions}
    for service in ("kms:", "bedrock:"):
        assert {a for a in every_used if a.startswith(service)} == {a for a in every_granted if a.startswith(service)}
    assert "secretsmanager:GetSecretValue" in every_used


def test_the_recorded_decrypt_satisfies_the_key_condition_and_names_the_user(dev, recorded):
    (decrypt,) = [c for c in recorded.role_calls if c.service == "kms"]
    assert decrypt.operation == "Decrypt"
    context = decrypt.params["EncryptionContext"]
    assert context["purpose"] == PURPOSE
    assert context["user_id"].startswith("usr_")
    key_id, _ = dev.resource_of(dev.stack.data.credentials_key)
    statements = role_statements(dev)
    tampered = {f"kms:EncryptionContext:{k}": v for k, v in {**context, "purpose": "something-else"}.items()}
    assert not allows(statements, "kms:Decrypt", _arn_of(key_id), tampered)
