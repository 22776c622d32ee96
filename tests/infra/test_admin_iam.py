"""The admin function's role: exactly what the admin API does, and proof that it is enough and all used.

The static tests read the synthesised policy and evaluate it (tests/infra/iam_policy.py). The behavioural test runs
the real admin function, loaded from its staged code asset, on moto, with the environment the template gives it
(every reference resolved to a resource created under its logical id), behind a loopback Function URL, and drives
the admin API through everything an admin and finance do: users, keys, Bedrock credentials, breakers, usage,
pricing and model mappings, exports and the audit log. Every AWS call the function makes is recorded: each must be
granted, and each grant must be used.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from infra.components.admin import credentials_test_model_arn
from overspill.credentials.vault import PURPOSE, encryption_context
from tests.infra.conftest import SPECS, Synth
from tests.infra.iam_policy import (
    INLINE_POLICY_LIMIT,
    PARTITION,
    REGION,
    allows,
    raw_role_statements,
    rendered_policy_size,
    resource_matches,
    role_statements,
)

TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
# Grace's own Bedrock key pair: calls signed with it are Bedrock's business with her, not the role's.
GRACE_ACCESS_KEY = "AKIAGRACEGRACEGRACE1"
GRACE_SECRET = "g" * 40
PROXY_URL = "https://proxyurl.lambda-url.us-east-1.on.aws/"


# --- What the role grants -----------------------------------------------------------------------------------

def _ids(synth: Synth) -> dict[str, str]:
    stack = synth.stack
    ids = {spec.settings_field: synth.table_for(spec)[0] for spec in SPECS}
    ids.update({
        "admin": synth.logical_id(stack.admin.function),
        "admin_logs": synth.logical_id(stack.admin.log_group),
        "bucket": synth.logical_id(stack.exports.bucket),
        "pepper": synth.logical_id(stack.data.pepper),
        "key": synth.logical_id(stack.data.credentials_key),
        "pool": synth.logical_id(stack.auth.user_pool),
        "client": synth.logical_id(stack.auth.client),
        "proxy_url": synth.logical_id(stack.proxy.url),
    })
    return ids


def _grants(synth: Synth) -> set[tuple[str, str]]:
    """(action, resource) of every statement without a condition."""
    return {(action, resource) for s in role_statements(synth, _ids(synth)["admin"]) if not s.conditions
            for action in s.actions for resource in s.resources}


def _arn(logical_id: str) -> str:
    return f"<{logical_id}.Arn>"


def expected_grants(synth: Synth) -> set[tuple[str, str]]:
    """Written out, not imported from the component: a change of the admin's access is a reviewed decision."""
    ids = _ids(synth)

    def table(field: str, *actions: str, index: str | None = None) -> set[tuple[str, str]]:
        resource = _arn(ids[field]) + (f"/index/{index}" if index else "")
        return {(f"dynamodb:{action}", resource) for action in actions}

    bucket = _arn(ids["bucket"])
    grants = {
        ("logs:CreateLogStream", _arn(ids["admin_logs"])), ("logs:PutLogEvents", _arn(ids["admin_logs"])),
        *table("users_table", "GetItem", "PutItem", "Scan", "BatchGetItem"),
        *table("access_keys_table", "GetItem", "PutItem", "UpdateItem", "BatchGetItem"),
        *table("access_keys_table", "Query", index="by_user"),
        *table("credentials_table", "GetItem", "UpdateItem", "DeleteItem"),
        *table("breakers_table", "GetItem", "PutItem"),
        *table("rollups_table", "Query"),
        *table("rollups_table", "Query", index="by_period"),
        *table("teams_table", "GetItem", "PutItem", "Scan"),
        *table("config_table", "GetItem", "PutItem"),
        *table("audit_table", "PutItem", "Query"),
        *table("idempotency_table", "PutItem", "GetItem", "UpdateItem", "DeleteItem"),
        *table("usage_table", "Query", index="by_day"),
        ("secretsmanager:GetSecretValue", f"<{ids['pepper']}>"),
        ("s3:ListBucket", bucket),
        *{(action, f"{bucket}/{prefix}/*") for action in ("s3:PutObject", "s3:GetObject")
          for prefix in ("usage", "manifests")},
    }
    model = credentials_test_model_arn(synth.config, PARTITION)
    assert model is not None
    grants.add(("bedrock:CountTokens", model))
    return grants


def test_the_admin_role_is_exactly_what_the_admin_api_does(any_config):
    assert _grants(any_config) == expected_grants(any_config)


def test_the_credentials_key_seals_and_opens_only_bedrock_credentials(any_stage):
    statements = role_statements(any_stage, _ids(any_stage)["admin"])
    key = _arn(_ids(any_stage)["key"])
    (conditioned,) = [s for s in statements if s.conditions]
    assert conditioned.actions == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert conditioned.resources == (key,)
    sealed = {f"kms:EncryptionContext:{k}": v for k, v in encryption_context("usr_ada").items()}
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        assert allows(statements, action, key, sealed)
        assert not allows(statements, action, key)
        assert not allows(statements, action, key, {**sealed, "kms:EncryptionContext:purpose": "other"})
        assert not allows(statements, action, "arn:aws:kms:us-east-1:123456789012:key/another-key", sealed)
    for action in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:DescribeKey", "kms:CreateGrant", "kms:ScheduleKeyDeletion"):
        assert not allows(statements, action, key, sealed), action


def test_the_credentials_test_counts_tokens_on_one_model_the_proxy_may_count_too(any_config):
    """The same model scoping as the proxy's Bedrock access (infra.bedrock_access): one of its models, in the
    Bedrock region — and no invoking at all."""
    ids = _ids(any_config)
    admin = role_statements(any_config, ids["admin"])
    proxy = role_statements(any_config)
    (counted,) = [s for s in admin if any(a.startswith("bedrock:") for a in s.actions)]
    assert counted.actions == {"bedrock:CountTokens"}
    (model,) = counted.resources
    assert f":bedrock:{any_config.config.bedrock_region}::foundation-model/" in model
    assert allows(proxy, "bedrock:CountTokens", model)
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Converse"):
        assert not allows(admin, action, model)


def test_what_the_admin_may_not_do(dev):
    ids = _ids(dev)
    statements = role_statements(dev, ids["admin"])
    audit, usage, rollups = _arn(ids["audit_table"]), _arn(ids["usage_table"]), _arn(ids["rollups_table"])
    # The audit log is not editable, not even by the function that writes it.
    for action in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate",
                   "dynamodb:PartiQLDelete", "dynamodb:DeleteTable", "dynamodb:UpdateTable"):
        assert not allows(statements, action, audit), action
    # Usage events only through the day index, read-only; rollups are the rollup function's to write.
    for action in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"):
        assert not allows(statements, action, usage), action
    assert not allows(statements, "dynamodb:Query", f"{usage}/index/by_user")
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
        assert not allows(statements, action, rollups), action
    # Users are soft-deleted, keys revoked: nothing deletes either.
    for field in ("users_table", "access_keys_table", "breakers_table", "config_table", "teams_table"):
        assert not allows(statements, "dynamodb:DeleteItem", _arn(ids[field])), field
    # Export files are added and read, never deleted, and nothing else in the bucket is written.
    bucket = _arn(ids["bucket"])
    csv = f"{bucket}/usage/daily/dt=2026-03-14/usage-2026-03-14.csv"
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:GetObjectVersion"):
        assert not allows(statements, action, csv), action
    for key in ("athena-results/x.csv", "x", "other/usage/x.csv"):
        assert not allows(statements, "s3:PutObject", f"{bucket}/{key}"), key
        assert not allows(statements, "s3:GetObject", f"{bucket}/{key}"), key
    assert not allows(statements, "s3:DeleteBucket", bucket)
    # The pepper is read, never changed.
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret"):
        assert not allows(statements, action, f"<{ids['pepper']}>"), action


def test_no_wildcards_but_the_export_files(any_config):
    ids = _ids(any_config)
    raw = raw_role_statements(any_config, ids["admin"])
    assert raw
    for statement in raw:
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    bucket = _arn(ids["bucket"])
    for statement in role_statements(any_config, ids["admin"]):
        for action in statement.actions:
            assert "*" not in action and "?" not in action, action
        for resource in statement.resources:
            assert "?" not in resource and resource != "*"
            if "*" in resource:
                assert resource in (f"{bucket}/usage/*", f"{bucket}/manifests/*"), resource


def test_the_admin_has_a_role_of_its_own_for_lambda_only(any_stage):
    resources = any_stage.json["Resources"]
    role_id = resources[_ids(any_stage)["admin"]]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    assert not role.get("ManagedPolicyArns") and not role.get("Policies")
    others = {resources[any_stage.logical_id(f)]["Properties"]["Role"]["Fn::GetAtt"][0]
              for f in (any_stage.stack.proxy.function, any_stage.stack.rollup.function,
                        any_stage.stack.exports.function)}
    assert role_id not in others


def test_the_admin_policy_fits_iam_size_limits(any_config):
    assert rendered_policy_size(any_config, _ids(any_config)["admin"]) < INLINE_POLICY_LIMIT


# --- Behaviour: the real admin function on moto, every AWS call recorded ---------------------------------------

@dataclasses.dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    access_key: str | None   # whose credentials signed it


@dataclasses.dataclass
class Ran:
    calls: list[Call]
    names: dict[str, str]                          # physical name (table, bucket, secret ARN, key ARN) -> logical id
    answers: dict[str, httpx.Response]             # by step
    presigned: list[str]                           # the download links handed out
    bedrock_credentials: list[str | None]          # the access key that signed each CountTokens Fake Bedrock saw
    audit_actions: list[str]
    key_arn: str

    @property
    def role_calls(self) -> list[Call]:
        return [c for c in self.calls if c.access_key != GRACE_ACCESS_KEY]


def _load_handler(path: Path) -> Any:
    """The handler of the staged code asset, imported as Lambda imports it (a fresh module: a cold start)."""
    spec = importlib.util.spec_from_file_location(f"infra_test_admin_handler_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _resolve(env: dict[str, Any], physical: dict[str, str]) -> dict[str, str]:
    """The environment a deployed function gets: each reference replaced by what it resolves to."""
    resolved = {}
    for name, value in env.items():
        if isinstance(value, str):
            resolved[name] = value
        elif value == {"Ref": "AWS::Region"}:
            resolved[name] = REGION
        elif set(value) == {"Ref"}:
            assert value["Ref"] in physical, f"{name}={value} refers to nothing created"
            resolved[name] = physical[value["Ref"]]
        else:
            (logical_id, attribute) = value["Fn::GetAtt"]
            assert f"{logical_id}.{attribute}" in physical, f"{name}={value} refers to nothing created"
            resolved[name] = physical[f"{logical_id}.{attribute}"]
    return resolved


def _usage_event(number: int, at: datetime, **overrides: Any):
    from overspill.usage.events import TokenUsage, UsageEvent

    values: dict[str, Any] = dict(
        request_id=f"req_{number:04d}", occurred_at=at, user_id="usr_ada", key_prefix="ak_abcdefg", route="plan",
        endpoint="messages", status=200, streamed=True, duration_ms=900.0, model="claude-sonnet-4-5",
        tokens=TokenUsage(1000, 200, 300, 4000, 100, 200), user_name="Ada", team="platform", cost_center="CC-1",
        cost_usd=Decimal("0.0123456789"), price_snapshot={"input_per_mtok": "3"})
    values.update(overrides)
    return UsageEvent(**values)


@pytest.fixture(scope="module")
def ran(dev: Synth) -> Iterator[Ran]:
    """A day of admin work through the API (see ``drive``), recording every AWS call the function makes."""
    import botocore.client
    from moto import mock_aws

    from overspill.aws import client
    from overspill.breaker import Breaker, BreakerState
    from overspill.config import Settings
    from overspill.local.function_url import FunctionUrlServer
    from overspill.store.breakers import BreakerRepository
    from overspill.store.models import bind_models
    from overspill.store.rollups import RollupRepository
    from overspill.store.schema import create_table_request
    from overspill.store.teams import TeamRepository
    from overspill.store.usage import UsageRepository
    from tests.support.admin import CLIENT_ID, POOL_ID, TokenIssuer
    from tests.support.fake_bedrock import FakeBedrock

    ids = _ids(dev)
    calls: list[Call] = []
    recording_on: list[bool] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if recording_on:
            credentials = getattr(self._request_signer, "_credentials", None)
            calls.append(Call(self.meta.service_model.service_name, operation_name, dict(api_params),
                              getattr(credentials, "access_key", None)))
        return original(self, operation_name, api_params)

    issuer = TokenIssuer()
    try:
        with pytest.MonkeyPatch.context() as monkeypatch, FakeBedrock() as bedrock, mock_aws():
            for name, value in TEST_AWS_ENV.items():
                monkeypatch.setenv(name, value)
            setup = Settings(region=REGION)
            # Every resource the function's environment refers to, named after its logical id.
            physical: dict[str, str] = {}
            dynamodb = client("dynamodb", setup)
            for spec in SPECS:
                logical_id = ids[spec.settings_field]
                dynamodb.create_table(**create_table_request(spec, logical_id))
                physical[logical_id] = logical_id
            physical[ids["bucket"]] = ids["bucket"].lower()
            s3 = client("s3", setup)
            s3.create_bucket(Bucket=physical[ids["bucket"]])
            s3.put_bucket_versioning(Bucket=physical[ids["bucket"]], VersioningConfiguration={"Status": "Enabled"})
            pepper = client("secretsmanager", setup).create_secret(Name=ids["pepper"], SecretString="p" * 64)
            physical[ids["pepper"]] = pepper["ARN"]  # a secret's Ref is its ARN
            key_arn = client("kms", setup).create_key(Description="credentials")["KeyMetadata"]["Arn"]
            physical[f"{ids['key']}.Arn"] = key_arn
            physical[ids["pool"]], physical[ids["client"]] = POOL_ID, CLIENT_ID
            physical[f"{ids['proxy_url']}.FunctionUrl"] = PROXY_URL

            environment = _resolve(dev.environment_of(ids["admin"]), physical)
            # Test-only: the stand-in pool's signing keys (Cognito's own URL on AWS) and the fake Bedrock.
            test_only = {"OVERSPILL_COGNITO_JWKS_URL": issuer.jwks_url, "OVERSPILL_BEDROCK_ENDPOINT_URL": bedrock.url,
                         "POWERTOOLS_METRICS_DISABLED": "true"}
            assert not set(test_only) & set(environment)
            for name, value in {**environment, **test_only}.items():
                monkeypatch.setenv(name, value)
            settings = Settings.from_env()

            # What the rest of the product made before the admins come in: usage (as the proxy writes it, and
            # rolled up as the rollup function does), a team budget, and Ada's breaker opened by the proxy.
            bind_models(settings)
            now = datetime.now(UTC)
            yesterday = datetime.combine(now.date() - timedelta(days=1), time(10), UTC)
            events = [_usage_event(1, yesterday),
                      _usage_event(2, yesterday + timedelta(hours=1), route="bedrock", fallback_reason="plan_limit")]
            usage = UsageRepository(retention=timedelta(days=dev.config.usage_retention_days))
            rollups = RollupRepository()
            for event in events:
                assert usage.record(event) and rollups.apply(event)
            TeamRepository().put("platform", budget_usd=Decimal("500"))

            handler = _load_handler(dev.asset_dir(ids["admin"]) / "handler.py")
            server = FunctionUrlServer(("127.0.0.1", 0), handler, function_name="overspill-admin")
            server.serve_in_background()
            monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
            try:
                with httpx.Client(base_url=server.url, timeout=60) as http:
                    recording_on.append(True)
                    answers, presigned, audit_actions = drive(
                        http, issuer, yesterday.date(),
                        open_breaker=lambda user_id: _open_breaker(BreakerRepository(), Breaker, BreakerState,
                                                                   user_id, recording_on))
                    recording_on.clear()
            finally:
                recording_on.clear()
                server.shutdown()
                server.server_close()
            yield Ran(calls=calls, names={value: key.split(".")[0] for key, value in physical.items()},
                      answers=answers, presigned=presigned,
                      bedrock_credentials=[r.credential for r in bedrock.requests_for("count-tokens")],
                      audit_actions=audit_actions, key_arn=key_arn)
    finally:
        issuer.close()


def _open_breaker(repository, breaker_class, state, user_id: str, recording_on: list[bool]) -> None:
    """The proxy opens a user's breaker (not the admin function's doing: not recorded)."""
    recording_on.clear()
    try:
        now = datetime.now(UTC)
        assert repository.replace(breaker_class(user_id, state=state.OPEN, open_until=now + timedelta(minutes=5),
                                                reason="plan_limit", last_status=429, trips=1, updated_at=now,
                                                revision=1), expected_revision=0)
    finally:
        recording_on.append(True)


def drive(http: httpx.Client, issuer, day, *, open_breaker) -> tuple[dict[str, httpx.Response], list[str], list[str]]:
    """What admins and finance do in a day, each request's answer kept by a name for the checks."""
    admin = {"Authorization": f"Bearer {issuer.token('alice', ('admins',))}"}
    finance = {"Authorization": f"Bearer {issuer.token('fiona', ('finance',))}"}
    answers: dict[str, httpx.Response] = {}

    def call(step: str, method: str, path: str, *, who: dict[str, str] | None = admin, **kwargs: Any) -> Any:
        headers = {**(who or {}), **kwargs.pop("headers", {})}
        answers[step] = response = http.request(method, path, headers=headers, **kwargs)
        return response.json() if response.content else None

    call("health", "GET", "/api/health", who=None)
    # Users: created (idempotently, and the retry replayed), listed, searched, read, changed.
    body = {"name": "Ada", "email": "ada@example.com", "team": "platform", "budget_usd": "100"}
    ada = call("create_ada", "POST", "/api/users", json=body, headers={"Idempotency-Key": "create-ada-1"})
    call("create_ada_again", "POST", "/api/users", json=body, headers={"Idempotency-Key": "create-ada-1"})
    grace = call("create_grace", "POST", "/api/users", json={"name": "Grace"})
    bob = call("create_bob", "POST", "/api/users", json={"name": "Bob"})
    call("list_users", "GET", "/api/users")
    call("search_users", "GET", "/api/users", params={"search": "ada", "team": "platform"})
    call("get_ada", "GET", f"/api/users/{ada['user_id']}")
    ada = call("update_ada", "PATCH", f"/api/users/{ada['user_id']}",
               json={"version": ada["version"], "cost_center": "CC-1"})
    # Keys: issued (idempotently), listed, rotated, the new one revoked; a refused create leaves no record.
    keys = f"/api/users/{ada['user_id']}/keys"
    issued = call("issue_key", "POST", keys, headers={"Idempotency-Key": "issue-ada-1"})
    call("list_keys", "GET", keys)
    rotated = call("rotate_key", "POST", f"{keys}/{issued['key_id']}/rotate", json={"grace_seconds": 60})
    call("revoke_key", "POST", f"{keys}/{rotated['key_id']}/revoke")
    call("issue_bob_key", "POST", f"/api/users/{bob['user_id']}/keys")
    call("deactivate_bob", "POST", f"/api/users/{bob['user_id']}/deactivate")
    call("issue_key_refused", "POST", f"/api/users/{bob['user_id']}/keys",
         headers={"Idempotency-Key": "issue-bob-2"})
    call("delete_bob", "DELETE", f"/api/users/{bob['user_id']}")
    # Grace's own Bedrock credentials: stored, shown masked, tested (her key signs), deleted; then the test
    # falls back to the gateway's role.
    credentials = f"/api/users/{grace['user_id']}/bedrock-credentials"
    call("set_credentials", "PUT", credentials,
         json={"kind": "access_key", "access_key_id": GRACE_ACCESS_KEY, "secret_access_key": GRACE_SECRET})
    call("get_credentials", "GET", credentials)
    call("test_own_credentials", "POST", f"{credentials}/test")
    call("delete_credentials", "DELETE", credentials)
    call("test_role_credentials", "POST", f"{credentials}/test")
    # Ada's breaker, opened by the proxy: read and reset.
    open_breaker(ada["user_id"])
    call("get_breaker", "GET", f"/api/users/{ada['user_id']}/breaker")
    call("reset_breaker", "POST", f"/api/users/{ada['user_id']}/breaker/reset")
    # Teams: the list, and a budget set (then changed) with its version.
    call("list_teams", "GET", "/api/teams")
    call("set_team", "PUT", "/api/teams", json={"team": "data", "version": 0, "budget_usd": "900"})
    call("change_team", "PUT", "/api/teams", json={"team": "data", "version": 1, "budget_usd": "1000"})
    # Usage, as finance reads it.
    window = {"from": str(day), "to": str(day)}
    call("overview", "GET", "/api/usage/overview", who=finance, params=window)
    for group_by in ("user", "team", "model", "route"):
        call(f"series_{group_by}", "GET", "/api/usage/series", who=finance, params={**window, "group_by": group_by})
    call("series_of_ada", "GET", "/api/usage/series", who=finance, params={**window, "user_id": ada["user_id"]})
    call("top_users", "GET", "/api/usage/top-users", who=finance, params=window)
    call("fallback_reasons", "GET", "/api/usage/fallback-reasons", who=finance, params=window)
    call("budgets", "GET", "/api/usage/budgets", who=finance)
    # Prices and model mappings: read by finance, changed by an admin.
    pricing = call("get_pricing", "GET", "/api/pricing", who=finance)
    call("put_pricing", "PUT", "/api/pricing/overrides",
         json={"version": pricing["version"], "models": {"claude-opus-4-8": {"input": "4.50", "output": "22.50"}}})
    mappings = call("get_mappings", "GET", "/api/model-mappings", who=finance)
    call("put_mappings", "PUT", "/api/model-mappings",
         json={"version": mappings["version"], "mappings": {"claude-next": "us.anthropic.claude-next-v1:0"}})
    # Exports: run by an admin, listed and downloaded by finance; a never-run day is a 404.
    call("run_export", "POST", "/api/exports", json={"kind": "daily", **window})
    call("list_exports", "GET", "/api/exports", who=finance, params=window)
    link = call("download", "GET", f"/api/exports/daily/{day}/download", who=finance)
    call("download_missing", "GET", f"/api/exports/daily/{day - timedelta(days=3)}/download", who=finance)
    audit = call("audit", "GET", "/api/audit", params={"limit": 200})
    return answers, [link["url"], link["manifest_url"]], [entry["action"] for entry in audit["items"]]


EXPECTED_STATUS = {
    "health": 200, "create_ada": 201, "create_ada_again": 201, "create_grace": 201, "create_bob": 201,
    "list_users": 200, "search_users": 200, "get_ada": 200, "update_ada": 200, "issue_key": 201, "list_keys": 200,
    "rotate_key": 201, "revoke_key": 200, "issue_bob_key": 201, "deactivate_bob": 200, "issue_key_refused": 409,
    "delete_bob": 200, "set_credentials": 200, "get_credentials": 200, "test_own_credentials": 200,
    "delete_credentials": 204, "test_role_credentials": 200, "get_breaker": 200, "reset_breaker": 200,
    "list_teams": 200, "set_team": 200, "change_team": 200,
    "overview": 200, "series_user": 200, "series_team": 200, "series_model": 200, "series_route": 200,
    "series_of_ada": 200, "top_users": 200, "fallback_reasons": 200, "budgets": 200, "get_pricing": 200,
    "put_pricing": 200, "get_mappings": 200, "put_mappings": 200, "run_export": 201, "list_exports": 200,
    "download": 200, "download_missing": 404, "audit": 200,
}


def test_every_request_of_the_day_was_answered_as_a_user_would_expect(ran):
    """Guard the guard: the calls below come from real work, of every kind the role is for."""
    statuses = {step: response.status_code for step, response in ran.answers.items()}
    assert statuses == EXPECTED_STATUS, {s: ran.answers[s].text[:300] for s in statuses
                                         if statuses[s] != EXPECTED_STATUS.get(s)}
    answers = {step: response.json() for step, response in ran.answers.items() if response.content}
    assert ran.answers["create_ada_again"].headers.get("Idempotent-Replayed") == "true"
    assert answers["issue_key"]["base_url"].startswith(f"{PROXY_URL.rstrip('/')}/ak/")
    assert (answers["test_own_credentials"]["ok"], answers["test_own_credentials"]["credentials"]) == (True, "user")
    assert (answers["test_role_credentials"]["ok"], answers["test_role_credentials"]["credentials"]) == (True, "role")
    assert ran.bedrock_credentials[0] == GRACE_ACCESS_KEY and ran.bedrock_credentials[1] != GRACE_ACCESS_KEY
    assert answers["get_breaker"]["state"] == "open" and answers["reset_breaker"]["state"] == "closed"
    assert answers["overview"]["totals"]["requests"] == 2
    assert answers["budgets"]["teams"][0]["team"] == "platform"
    assert answers["run_export"]["events_read"] == 2
    assert len(answers["list_exports"]["items"]) == 1
    for action in ("user.create", "user.update", "key.issue", "key.rotate", "key.revoke", "credentials.set",
                   "credentials.delete", "breaker.reset", "export.run"):
        assert action in ran.audit_actions, action


def test_the_calls_exercised_every_kind_of_access_the_role_is_for(dev, ran):
    operations = {(c.service, c.operation) for c in ran.role_calls}
    assert {("dynamodb", "BatchGetItem"), ("dynamodb", "Scan"), ("dynamodb", "DeleteItem"),
            ("kms", "GenerateDataKey"), ("kms", "Decrypt"), ("bedrock-runtime", "CountTokens"),
            ("s3", "ListObjectsV2"), ("s3", "HeadObject"), ("s3", "PutObject"),
            ("secretsmanager", "GetSecretValue")} <= operations
    # The idempotency record of the refused create was deleted (Powertools does it when the create fails).
    idempotency = [c for c in ran.role_calls if c.params.get("TableName") == _ids(dev)["idempotency_table"]]
    assert {c.operation for c in idempotency} == {"PutItem", "UpdateItem", "DeleteItem"}
    # One identity for everything but Grace's own test call: the function's role.
    assert len({c.access_key for c in ran.role_calls}) == 1
    assert [(c.service, c.operation) for c in ran.calls if c.access_key == GRACE_ACCESS_KEY] == [
        ("bedrock-runtime", "CountTokens")]


def _requests(call: Call, ran: Ran, synth: Synth) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, request context) IAM evaluates for one recorded call (resources as in the template)."""
    names = ran.names
    if call.service == "dynamodb":
        if call.operation == "BatchGetItem":
            return [("dynamodb:BatchGetItem", _arn(names[table]), {}) for table in call.params["RequestItems"]]
        assert "TransactItems" not in call.params
        resource = _arn(names[call.params["TableName"]])
        if "IndexName" in call.params:
            resource += f"/index/{call.params['IndexName']}"
        return [(f"dynamodb:{call.operation}", resource, {})]
    if call.service == "s3":
        bucket = _arn(names[call.params["Bucket"]])
        if call.operation == "ListObjectsV2":
            return [("s3:ListBucket", bucket, {"s3:prefix": call.params.get("Prefix", "")})]
        action = {"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject"}[
            call.operation]
        return [(action, f"{bucket}/{call.params['Key']}", {})]
    if call.service == "secretsmanager":
        return [(f"secretsmanager:{call.operation}", f"<{names[call.params['SecretId']]}>", {})]
    if call.service == "kms":
        # The Encryption SDK names the key by the ARN it was given; the call must name exactly that key.
        assert call.params.get("KeyId") in (None, ran.key_arn), call.params.get("KeyId")
        context = {f"kms:EncryptionContext:{k}": v for k, v in call.params.get("EncryptionContext", {}).items()}
        return [(f"kms:{call.operation}", _arn(names[ran.key_arn]), context)]
    if call.service == "bedrock-runtime":
        config = synth.config
        model = f"arn:{PARTITION}:bedrock:{config.bedrock_region}::foundation-model/{call.params['modelId']}"
        return [(f"bedrock:{call.operation}", model, {})]
    raise AssertionError(f"unexpected AWS call {call.service}:{call.operation}")


def _presigned(url: str, ran: Ran) -> tuple[str, str, dict[str, str]]:
    """A download link is a GET of the object, signed by the role: IAM evaluates it when it is used."""
    parts = urlsplit(url)
    bucket, _, rest = parts.hostname.partition(".")
    assert rest.startswith("s3."), url  # virtual-hosted, as on AWS
    return "s3:GetObject", f"{_arn(ran.names[bucket])}/{unquote(parts.path.lstrip('/'))}", {}


def test_every_aws_call_of_the_admin_api_is_granted(dev, ran):
    statements = role_statements(dev, _ids(dev)["admin"])
    requests = [r for call in ran.role_calls for r in _requests(call, ran, dev)]
    requests += [_presigned(url, ran) for url in ran.presigned]
    assert requests
    refused = sorted({f"{action} on {resource} {context or ''}" for action, resource, context in requests
                      if not allows(statements, action, resource, context)})
    assert refused == []


def unexercised_grants(ids: dict[str, str]) -> set[tuple[str, str]]:
    """Grants no request of the day can use, each for a reason: Lambda writes the logs, and Powertools reads an
    idempotency record (GetItem) only when a conditional put fails without returning the record it found (its
    documented permissions are GetItem, PutItem, UpdateItem and DeleteItem)."""
    return {("logs:CreateLogStream", _arn(ids["admin_logs"])), ("logs:PutLogEvents", _arn(ids["admin_logs"])),
            ("dynamodb:GetItem", _arn(ids["idempotency_table"]))}


def test_every_grant_is_used_by_the_admin_api(dev, ran):
    """Each (action, resource pattern) granted is used by some call — but the few listed with their reasons."""
    ids = _ids(dev)
    statements = role_statements(dev, ids["admin"])
    used = [r for call in ran.role_calls for r in _requests(call, ran, dev)]
    used += [_presigned(url, ran) for url in ran.presigned]
    exempt = unexercised_grants(ids)
    assert exempt <= _grants(dev)
    granted = [(action, resource, s) for s in statements for action in s.actions for resource in s.resources]
    unused = sorted((action, resource) for action, resource, statement in granted
                    if (action, resource) not in exempt and not any(
                        a == action and resource_matches(resource, r) and statement.matches(a, r, context)
                        for a, r, context in used))
    assert unused == []


def test_the_recorded_key_calls_carry_the_vaults_context(ran):
    kms = [c for c in ran.role_calls if c.service == "kms"]
    assert {c.operation for c in kms} == {"GenerateDataKey", "Decrypt"}
    for call in kms:
        context = call.params["EncryptionContext"]
        assert context["purpose"] == PURPOSE and context["user_id"].startswith("usr_")


def test_the_function_touches_only_what_its_environment_names(dev, ran):
    named = {value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
             for value in dev.environment_of(_ids(dev)["admin"]).values() if isinstance(value, dict)}
    touched = {resource.split(">")[0].removeprefix("<").removesuffix(".Arn")
               for call in ran.role_calls for _, resource, _ in _requests(call, ran, dev) if resource.startswith("<")}
    assert touched and touched <= named, touched - named
