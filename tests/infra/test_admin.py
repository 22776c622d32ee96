"""The admin API as synthesised: its Cognito pool and app client (the same as a local run makes), the admin function
behind a public Function URL, CORS only when asked for, its alarm, and the outputs the dashboard and the CLI need."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

import pytest

from infra.config import ConfigError, DeployConfig
from overspill.admin.client import DashboardConfig
from overspill.config import ENV_PREFIX, Settings, env_name
from overspill.local.cognito import ADMIN_GROUP, FINANCE_GROUP, GROUPS
from tests.infra.conftest import SPECS, Synth
from tests.infra.iam_policy import REGION, render
from tests.infra.test_proxy import _imports, _layer_with, _module_file

CORS_CONTEXT = {"stage": "web", "adminCorsOrigin": "https://admin.example.com", "adminMemoryMb": "1024",
                "adminTimeoutSeconds": "600"}
FLOWS = {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


@pytest.fixture(scope="module")
def with_cors(synth) -> Synth:
    return synth(**CORS_CONTEXT)


def _pool(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.auth.user_pool)


def _client(synth: Synth) -> dict[str, Any]:
    return synth.resource_of(synth.stack.auth.client)[1]["Properties"]


def _function(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.admin.function)


def _url(synth: Synth) -> tuple[str, dict[str, Any]]:
    url_id, url = synth.resource_of(synth.stack.admin.url)
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [_function(synth)[0], "Arn"]}
    return url_id, url["Properties"]


# --- The user pool --------------------------------------------------------------------------------------------

def test_nobody_signs_themselves_up_and_passwords_are_long_and_mixed(any_stage):
    _, pool = _pool(any_stage)
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
        "RequireSymbols": True, "TemporaryPasswordValidityDays": 7}
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    assert props["UserPoolName"] == f"overspill-{any_stage.config.stage}"
    assert "UsernameAttributes" not in props and "AliasAttributes" not in props  # sign in with the username
    assert props["MfaConfiguration"] == "OPTIONAL" and props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert "UserPoolAddOns" not in props  # no advanced security (threat protection) to pay for
    assert props.get("UserPoolTier") != "PLUS"


def test_the_pool_has_the_admins_and_finance_groups(any_stage):
    pool_id, _ = _pool(any_stage)
    groups = {g["Properties"]["GroupName"]: g["Properties"]
              for g in any_stage.resources("AWS::Cognito::UserPoolGroup").values()}
    assert set(groups) == {ADMIN_GROUP, FINANCE_GROUP} == {"admins", "finance"}
    for name, group in groups.items():
        assert group["UserPoolId"] == {"Ref": pool_id}
        assert group["Description"] == GROUPS[name]


def test_one_public_app_client_signs_in_by_password_srp_and_refresh(any_stage):
    pool_id, _ = _pool(any_stage)
    (client_id, client), = any_stage.resources("AWS::Cognito::UserPoolClient").items()
    props = client["Properties"]
    assert props["UserPoolId"] == {"Ref": pool_id}
    assert props["ClientName"] == "overspill-admin"
    assert props["GenerateSecret"] is False  # a browser app and a CLI cannot keep a secret
    assert set(props["ExplicitAuthFlows"]) == FLOWS
    assert props["PreventUserExistenceErrors"] == "ENABLED"
    assert props["EnableTokenRevocation"] is True
    # No hosted UI: no OAuth flows and no callback URL that could send tokens elsewhere.
    assert props["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in props and "AllowedOAuthFlows" not in props


def _seconds(value: int, unit: str) -> int:
    return value * {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}[unit]


def test_tokens_last_an_hour_and_refresh_tokens_30_days(any_stage):
    props = _client(any_stage)
    units = props["TokenValidityUnits"]
    assert _seconds(props["AccessTokenValidity"], units["AccessToken"]) == 3600
    assert _seconds(props["IdTokenValidity"], units["IdToken"]) == 3600
    assert _seconds(props["RefreshTokenValidity"], units["RefreshToken"]) == 30 * 86400


def test_the_deployed_pool_is_the_one_a_local_run_makes(dev, monkeypatch):
    """``overspill dev`` makes its pool on moto with overspill.local.cognito; the deployed one must not differ in
    what signing in depends on."""
    from moto import mock_aws

    from overspill.aws import client
    from overspill.local.cognito import ensure_user_pool
    from tests.support.gateway import TEST_AWS_ENV

    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    settings = Settings(region=REGION)
    with mock_aws():
        local = ensure_user_pool(settings, admin_password="Local-Admin-Passw0rd")
        cognito: Any = client("cognito-idp", settings)
        pool = cognito.describe_user_pool(UserPoolId=local.pool_id)["UserPool"]
        app = cognito.describe_user_pool_client(UserPoolId=local.pool_id, ClientId=local.client_id)["UserPoolClient"]
        groups = {g["GroupName"]: g.get("Description") for g in cognito.list_groups(UserPoolId=local.pool_id)["Groups"]}
    props = _pool(dev)[1]["Properties"]
    assert props["Policies"]["PasswordPolicy"] == pool["Policies"]["PasswordPolicy"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] == \
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"]
    assert props["UsernameConfiguration"] == pool["UsernameConfiguration"]
    deployed = {g["Properties"]["GroupName"]: g["Properties"]["Description"]
                for g in dev.resources("AWS::Cognito::UserPoolGroup").values()}
    assert deployed == groups
    client_props = _client(dev)
    assert client_props["ClientName"] == app["ClientName"]
    assert set(client_props["ExplicitAuthFlows"]) == set(app["ExplicitAuthFlows"])
    assert ("ClientSecret" in app) is client_props["GenerateSecret"]
    units = client_props["TokenValidityUnits"]
    for token, field in (("AccessToken", "AccessTokenValidity"), ("IdToken", "IdTokenValidity"),
                         ("RefreshToken", "RefreshTokenValidity")):
        assert _seconds(client_props[field], units[token]) == _seconds(app[field], app["TokenValidityUnits"][token])


# A new logical id would make CloudFormation replace the pool: every admin's account, password and MFA gone.
USER_POOL_LOGICAL_ID = "AuthUserPool8115E87F"


def test_the_user_pool_keeps_its_logical_id(dev):
    assert _pool(dev)[0] == USER_POOL_LOGICAL_ID


def test_prod_keeps_its_accounts_and_dev_does_not(prod, dev):
    _, pool = _pool(prod)
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    _, pool = _pool(dev)
    assert pool["DeletionPolicy"] == "Delete"
    assert pool["Properties"].get("DeletionProtection", "INACTIVE") == "INACTIVE"


# --- The function and its URL ---------------------------------------------------------------------------------

def test_the_admin_function_runs_like_the_others(any_stage):
    function_id, function = _function(any_stage)
    props = function["Properties"]
    proxy = any_stage.function[1]["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == ("python3.12", ["arm64"], "handler.handler")
    assert props["Layers"] == [layer for layer in proxy["Layers"] if "Core" in layer["Ref"]]  # the core layer only
    assert (props["MemorySize"], props["Timeout"]) == (512, 300)  # five minutes: an on-demand export fits
    group_id, group = any_stage.resource_of(any_stage.stack.admin.log_group)
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": group_id}
    assert group["Properties"]["RetentionInDays"] == any_stage.config.log_retention_days


def test_memory_and_timeout_come_from_context(with_cors):
    props = _function(with_cors)[1]["Properties"]
    assert (props["MemorySize"], props["Timeout"]) == (1024, 600)


def test_the_function_is_told_every_table_and_where_everything_is(any_stage):
    env = any_stage.environment_of(any_stage.stack.admin.function)
    for spec in SPECS:
        assert env[env_name(spec.settings_field)] == {"Ref": any_stage.table_for(spec)[0]}, spec.settings_field
    stack = any_stage.stack
    assert env["OVERSPILL_STAGE"] == any_stage.config.stage
    assert env["OVERSPILL_REGION"] == {"Ref": "AWS::Region"}
    assert env["OVERSPILL_EXPORTS_BUCKET"] == {"Ref": any_stage.logical_id(stack.exports.bucket)}
    assert env["OVERSPILL_PEPPER_SECRET_ID"] == {"Ref": any_stage.logical_id(stack.data.pepper)}
    assert env["OVERSPILL_CREDENTIALS_KMS_KEY_ID"] == {
        "Fn::GetAtt": [any_stage.logical_id(stack.data.credentials_key), "Arn"]}
    assert env["OVERSPILL_COGNITO_USER_POOL_ID"] == {"Ref": any_stage.logical_id(stack.auth.user_pool)}
    assert env["OVERSPILL_COGNITO_CLIENT_IDS"] == {"Ref": any_stage.logical_id(stack.auth.client)}
    # New keys are handed out with the proxy's URL in their ANTHROPIC_BASE_URL.
    assert env["OVERSPILL_PROXY_PUBLIC_URL"] == {"Fn::GetAtt": [any_stage.logical_id(stack.proxy.url), "FunctionUrl"]}
    assert env["OVERSPILL_USAGE_TTL_DAYS"] == str(any_stage.config.usage_retention_days)
    assert (env["OVERSPILL_BEDROCK_REGION"], env["OVERSPILL_BEDROCK_GEOGRAPHY"]) == (
        any_stage.config.bedrock_region, any_stage.config.bedrock_geography)
    # On AWS: Cognito's own signing keys, the real endpoints, and no cross-origin access unless configured.
    for name in ("cognito_jwks_url", "aws_endpoint_url", "bedrock_endpoint_url", "admin_cors_origin"):
        assert env_name(name) not in env, name


@pytest.mark.parametrize("name", ["dev", "custom", "with_cors"])
def test_every_admin_variable_is_a_setting_the_code_accepts(request, name):
    synth = request.getfixturevalue(name)
    env = synth.environment_of(synth.stack.admin.function)
    known = {env_name(f.name) for f in fields(Settings)}
    ours = {n for n in env if n.startswith(ENV_PREFIX)}
    assert ours <= known, sorted(ours - known)
    stand_ins = {k: v if isinstance(v, str) else f"resolved-{k.lower()}" for k, v in env.items()}
    stand_ins["OVERSPILL_PROXY_PUBLIC_URL"] = "https://proxy.lambda-url.us-east-1.on.aws/"
    settings = Settings.from_env(stand_ins)
    assert settings.cognito_user_pool_id and settings.cognito_client_ids
    assert settings.bedrock_model_map == (synth.config.bedrock_model_map_json or "{}")
    size = sum(len(k) + (len(v) if isinstance(v, str) else 128) for k, v in env.items())
    assert size < 4096, size  # Lambda's limit for all variables together


def test_the_url_is_public_and_buffered_because_the_function_checks_tokens(any_stage):
    function_id, _ = _function(any_stage)
    _, url = _url(any_stage)
    assert url["AuthType"] == "NONE"
    assert url["InvokeMode"] == "BUFFERED"
    assert "Cors" not in url  # same-origin unless adminCorsOrigin is set
    assert "Qualifier" not in url
    permissions = [p["Properties"] for p in any_stage.resources("AWS::Lambda::Permission").values()
                   if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}]
    assert {p["Action"] for p in permissions} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for permission in permissions:
        assert permission["Principal"] == "*"
        assert permission.get("FunctionUrlAuthType", "NONE") == "NONE"
        if permission["Action"] == "lambda:InvokeFunction":
            assert permission["InvokedViaFunctionUrl"] is True  # only through the URL


def test_cors_for_the_configured_dashboard_origin_is_answered_by_the_function_alone(with_cors):
    _, url = _url(with_cors)
    assert "Cors" not in url  # one place answers CORS: the function (tests/integration/test_admin_authorisation.py)
    env = with_cors.environment_of(with_cors.stack.admin.function)
    assert env["OVERSPILL_ADMIN_CORS_ORIGIN"] == "https://admin.example.com"
    assert Settings.from_env({"OVERSPILL_ADMIN_CORS_ORIGIN": env["OVERSPILL_ADMIN_CORS_ORIGIN"]}).admin_cors_origin \
        == "https://admin.example.com"


@pytest.mark.parametrize("origin", ["admin.example.com", "https://admin.example.com/", "https://admin.example.com/app",
                                    "ftp://admin.example.com", "https://*.example.com", "https://a.example.com?x=1"])
def test_a_cors_origin_that_is_not_an_origin_is_refused_naming_the_key(origin):
    with pytest.raises(ConfigError, match="adminCorsOrigin"):
        DeployConfig.from_context({"adminCorsOrigin": origin})


@pytest.mark.parametrize(("key", "value", "says"), [
    ("adminMemoryMb", "127", "from 128 to 10240"), ("adminMemoryMb", "lots", "whole number"),
    ("adminTimeoutSeconds", "29", "from 30 to 900"), ("adminTimeoutSeconds", "901", "from 30 to 900"),
])
def test_bad_admin_sizes_are_refused_naming_the_key(key, value, says):
    with pytest.raises(ConfigError, match=f"'{key}'.*{says}|{says}.*'{key}'"):
        DeployConfig.from_context({key: value})


def test_the_admin_handler_imports_only_what_the_core_layer_holds(dev):
    """As for the other functions (tests/infra/test_proxy.py): a package only in the dev venv fails on Lambda.
    Imports inside functions count (the services and the routes are imported lazily)."""
    import sys

    core = dev.asset_dir(_layer_with(dev, "python/overspill/__init__.py")) / "python"
    handler = dev.asset_dir(dev.logical_id(dev.stack.admin.function)) / "handler.py"
    assert sorted(p.name for p in handler.parent.iterdir()) == ["handler.py"]  # a doorway, not a room
    pending, seen, third_party = [handler], set(), set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "overspill":
                parts = name.split(".")  # importing a.b.c runs a/__init__ and a/b/__init__ too
                pending += [m for i in range(1, len(parts) + 1)
                            if (m := _module_file(core, ".".join(parts[:i]))) is not None]
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    assert core / "overspill" / "admin" / "routes" / "exports.py" in seen  # the walk reached the routes
    missing = sorted(t for t in third_party if not ((core / t).is_dir() or (core / f"{t}.py").is_file()))
    assert missing == [], f"imported by the admin function but not in the core layer: {missing}"


# --- Alarm and outputs ----------------------------------------------------------------------------------------

def test_admin_errors_raise_an_alarm(any_stage):
    props = any_stage.resource_of(any_stage.stack.monitoring.alarms["AdminErrors"])[1]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Errors")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": _function(any_stage)[0]}}]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 300, 0)
    assert props["AlarmActions"] == [{"Ref": any_stage.logical_id(any_stage.stack.monitoring.topic)}]


def test_the_outputs_name_the_api_the_pool_and_the_client(any_stage):
    outputs = any_stage.json["Outputs"]
    url_id, _ = _url(any_stage)
    assert outputs["AdminApiUrl"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}
    assert outputs["UserPoolId"]["Value"] == {"Ref": _pool(any_stage)[0]}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": any_stage.logical_id(any_stage.stack.auth.client)}
    assert outputs["Region"]["Value"] == {"Ref": "AWS::Region"}


def test_the_dashboard_config_output_is_what_the_cli_and_dashboard_read(any_stage):
    """The DashboardConfig output, deployed, is a config.json that overspill.admin.client reads: the API's routes
    under the admin URL, and this stack's pool and client."""
    from overspill.admin.api import _ACCESS
    from overspill.admin.routes import ROUTERS  # noqa: F401 - registers every route

    url_id, _ = _url(any_stage)
    admin_url = "https://abcdefgh.lambda-url.us-east-1.on.aws/"  # what the Function URL resolves to
    rendered = render(any_stage.json["Outputs"]["DashboardConfig"]["Value"])
    document = json.loads(rendered.replace(f"<{url_id}.FunctionUrl>", admin_url))
    config = DashboardConfig.parse("https://dashboard.example.com", document)
    assert config.api_base == f"{admin_url}api"
    assert (config.region, config.endpoint) == (REGION, None)
    assert config.user_pool_id == f"<{_pool(any_stage)[0]}>"
    assert config.client_id == f"<{any_stage.logical_id(any_stage.stack.auth.client)}>"
    assert _ACCESS and all(access.pattern.pattern.startswith("^/api/") for access in _ACCESS)


def test_a_template_with_cors_passes_cfn_lint(with_cors):
    from cfnlint.api import ManualArgs, lint

    from tests.infra.test_cfn_lint import IGNORED

    matches = lint(json.dumps(with_cors.json), config=ManualArgs(regions=["us-east-1", "eu-west-1"],
                                                                 ignore_checks=IGNORED))
    assert [str(m) for m in matches] == []
