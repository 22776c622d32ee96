"""The proxy's role: exactly what the request path needs, and proof that it is enough.

The static tests read the synthesised policy. The behavioural test runs the real request path (the
proxy's own wiring, on moto, with a stub upstream) and checks every AWS call it makes is granted — and
that no DynamoDB grant goes unused.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

ROLE_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
FORBIDDEN_DYNAMODB = {
    "dynamodb:DeleteTable", "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem",
    "dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive", "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLSelect", "dynamodb:ExecuteStatement", "dynamodb:DeleteBackup", "dynamodb:RestoreTableFromBackup",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(synth) -> list[dict[str, Any]]:
    """Every Allow/Deny statement that applies to the proxy function's role."""
    role_ref = synth.function[1]["Properties"]["Role"]
    assert set(role_ref) == {"Fn::GetAtt"}
    role_id = role_ref["Fn::GetAtt"][0]
    role = synth.json["Resources"][role_id]
    statements = []
    for policy in role["Properties"].get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for resource in synth.json["Resources"].values():
        if resource["Type"] in ROLE_TYPES and {"Ref": role_id} in resource["Properties"].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def granted(synth) -> dict[str, set[str]]:
    """Allowed actions per resource (the resource rendered as JSON, e.g. a GetAtt of a table's Arn)."""
    grants: dict[str, set[str]] = {}
    for statement in role_statements(synth):
        assert statement["Effect"] == "Allow"
        for resource in _as_list(statement["Resource"]):
            grants.setdefault(json.dumps(resource, sort_keys=True), set()).update(_as_list(statement["Action"]))
    return grants


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _table_arn(logical_id: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def test_role_is_for_lambda_only_with_no_managed_policies(any_stage):
    role_id = any_stage.function[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = any_stage.json["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    # AWSLambdaBasicExecutionRole would grant logs:* calls on every resource.
    assert not role.get("ManagedPolicyArns")


def test_no_wildcard_actions_or_resources(any_stage):
    statements = role_statements(any_stage)
    assert statements
    for statement in statements:
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"wildcard action {action}"
        assert "NotAction" not in statement and "NotResource" not in statement
        for piece in _strings(statement["Resource"]):
            assert "*" not in piece, f"wildcard resource in {statement}"


def test_table_access_is_exactly_what_the_request_path_does(any_stage):
    from tests.infra.conftest import SPECS

    grants = granted(any_stage)
    expected = {
        "users_table": {"dynamodb:GetItem"},
        "access_keys_table": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
        "usage_table": {"dynamodb:PutItem"},
    }
    assert {s.settings_field for s in SPECS} == set(expected)
    for spec in SPECS:
        logical_id, _ = any_stage.table_for(spec)
        assert grants.get(_table_arn(logical_id)) == expected[spec.settings_field], spec.settings_field
    every_action = {a for actions in grants.values() for a in actions}
    assert not every_action & FORBIDDEN_DYNAMODB
    assert "dynamodb:Query" not in every_action  # no index access on the request path (yet)
    # Nothing on the tables' indexes or streams.
    for resource in grants:
        assert "/index/" not in resource and "/stream/" not in resource and "StreamArn" not in resource


def test_can_read_the_pepper_and_nothing_more_of_it(any_stage):
    secret_id, _ = any_stage.only("AWS::SecretsManager::Secret")
    actions = granted(any_stage)[json.dumps({"Ref": secret_id})]
    assert "secretsmanager:GetSecretValue" in actions
    assert actions <= {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}


def test_can_write_only_its_own_logs(any_stage):
    group_id, _ = any_stage.only("AWS::Logs::LogGroup")
    grants = granted(any_stage)
    assert grants[_table_arn(group_id)] == {"logs:CreateLogStream", "logs:PutLogEvents"}
    logs_resources = [r for r, actions in grants.items() if any(a.startswith("logs:") for a in actions)]
    assert logs_resources == [_table_arn(group_id)]


# --- Behaviour: the AWS calls of a real request through the proxy's wiring are all granted.

TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


class _Stream(httpx.SyncByteStream):
    """A response body that is read as a stream, as from the network (httpx reads plain content eagerly)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self):
        yield self._data

    def close(self) -> None:
        pass


@pytest.fixture
def recorded_calls(monkeypatch):
    """The (service, operation, resource name) of every AWS call made while a request is handled."""
    import botocore.client
    from moto import mock_aws
    from overspill.config import Settings
    from overspill.keys import generate_key
    from overspill.local.provision import provision
    from overspill.proxy import app as proxy_app
    from overspill.proxy import function_url
    from overspill.store.access_keys import AccessKeyRepository
    from overspill.store.models import bind_models
    from overspill.store.users import UserRepository
    from overspill.upstream.anthropic import AnthropicUpstream

    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    settings = Settings(stage="iam-test", region="us-east-1", anthropic_url="https://anthropic.invalid")

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}}
        return httpx.Response(200, headers={"content-type": "application/json", "request-id": "req_upstream"},
                              stream=_Stream(json.dumps(body).encode()))

    monkeypatch.setattr(proxy_app, "AnthropicUpstream",
                        lambda s: AnthropicUpstream(s, transport=httpx.MockTransport(answer)))
    calls: list[tuple[str, str, str | None]] = []
    original = botocore.client.BaseClient._make_api_call

    with mock_aws():
        pepper = provision(settings).encode()
        bind_models(settings)
        user = UserRepository().create("Ada")
        key = generate_key(pepper)
        AccessKeyRepository().add(user.user_id, key)
        proxy = proxy_app.build_proxy(settings)  # fresh clients and models, as on a cold start

        def recording(self, operation_name, api_params):
            calls.append((self.meta.service_model.service_name, operation_name,
                          api_params.get("TableName") or api_params.get("SecretId")))
            return original(self, operation_name, api_params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        event = {
            "rawPath": f"/ak/{key.plain}/v1/messages", "rawQueryString": "beta=true",
            "headers": {"content-type": "application/json", "x-api-key": "sk-ant-test",
                        "anthropic-version": "2023-06-01"},
            "body": json.dumps({"model": "claude-test", "max_tokens": 5,
                                "messages": [{"role": "user", "content": "hi"}]}),
            "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST", "sourceIp": "192.0.2.1"}, "requestId": "r1"},
        }
        response = function_url.to_response(
            proxy.handle(function_url.to_request(event, SimpleNamespace(aws_request_id="r1"))))
        body = response["body"]
        assert response["statusCode"] == 200, b"".join(body) if isinstance(body, list) else body
        b"".join(body)
        body.close()  # the runtime closes the body after the response: usage and last-used are written
    return settings, calls


def test_every_aws_call_of_a_request_is_granted(dev, recorded_calls):
    from tests.infra.conftest import SPECS

    settings, calls = recorded_calls
    grants = granted(dev)
    table_of = {getattr(settings, s.settings_field): dev.table_for(s)[0] for s in SPECS}
    secret_id, _ = dev.only("AWS::SecretsManager::Secret")
    used_on_tables: dict[str, set[str]] = {}
    assert {service for service, _, _ in calls} <= {"dynamodb", "secretsmanager"}, calls
    for service, operation, name in calls:
        action = f"{service}:{operation}"
        if service == "dynamodb":
            assert name in table_of, f"{action} on a table the stack does not define: {name}"
            resource = _table_arn(table_of[name])
            used_on_tables.setdefault(resource, set()).add(action)
        else:
            assert name == settings.pepper_secret_id
            resource = json.dumps({"Ref": secret_id})
        assert action in grants.get(resource, set()), f"{action} on {name} is not granted: {grants}"
    # The request path used every DynamoDB grant: nothing is granted "just in case".
    granted_on_tables = {r: {a for a in actions if a.startswith("dynamodb:")} for r, actions in grants.items()
                         if any(a.startswith("dynamodb:") for a in actions)}
    assert used_on_tables == granted_on_tables
