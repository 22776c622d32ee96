"""The proxy function, its layers and its Function URL, as synthesised."""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from infra.config import DeployConfig
from overspill.bedrock.models import ModelMap, parse_model_map
from overspill.config import ENV_PREFIX, Settings, env_name
from tests.infra.conftest import CUSTOM_MODEL_MAP, SPECS, spec_id


def _layers(synth) -> dict[str, dict]:
    return synth.resources("AWS::Lambda::LayerVersion")


def _layer_with(synth, marker: str) -> str:
    """The logical id of the layer whose staged asset contains ``marker``."""
    found = [lid for lid in _layers(synth) if (synth.asset_dir(lid) / marker).exists()]
    assert len(found) == 1, f"expected one layer containing {marker}, found {found}"
    return found[0]


def test_function_runtime_architecture_handler_and_limits(any_stage):
    props = any_stage.function[1]["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["Timeout"] == 900


def test_memory_comes_from_context(dev, prod):
    assert dev.function[1]["Properties"]["MemorySize"] == DeployConfig().proxy_memory_mb == 1024
    assert prod.function[1]["Properties"]["MemorySize"] == 1536  # -c proxyMemoryMb=1536


def test_exec_wrapper_starts_the_streaming_runtime(dev):
    env = dev.environment
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/streaming-bootstrap"
    # The wrapper is at the root of a layer (layers are unpacked to /opt) and is executable.
    streaming = _layer_with(dev, "streaming-bootstrap")
    wrapper = dev.asset_dir(streaming) / "streaming-bootstrap"
    assert os.access(wrapper, os.X_OK)
    assert (dev.asset_dir(streaming) / "python" / "lambda_streaming" / "__main__.py").is_file()


def test_both_layers_are_attached_for_python312_arm64(any_stage):
    layers = _layers(any_stage)
    layers.pop(any_stage.logical_id(any_stage.stack.web.cli_layer))  # CDK's AWS CLI layer of the dashboard deployment
    assert len(layers) == 2  # the core layer is shared with the other functions, not built again
    attached = any_stage.function[1]["Properties"]["Layers"]
    assert sorted(ref["Ref"] for ref in attached) == sorted(layers)
    for layer in layers.values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_assets_hold_code_not_caches(dev):
    core = dev.asset_dir(_layer_with(dev, "python/overspill/__init__.py"))
    streaming = dev.asset_dir(_layer_with(dev, "streaming-bootstrap"))
    code = dev.asset_dir(dev.function[0])
    assert (code / "handler.py").is_file()
    assert (core / "python" / "pynamodb").is_dir() and (core / "python" / "httpx").is_dir()
    assert sorted(p.name for p in streaming.iterdir()) == ["python", "streaming-bootstrap"]
    for asset in (core, streaming, code):
        cached = [p for p in asset.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
        assert cached == [], f"bytecode in {asset.name}: {cached[:3]}"
    # The overspill package in the layer is the source as it was at synth time, file for file.
    layer_package = core / "python" / "overspill"
    got = {p.relative_to(layer_package): p.read_bytes() for p in layer_package.rglob("*.py")}
    assert sorted(got) == sorted(dev.overspill_source)
    assert got == dev.overspill_source


@pytest.mark.parametrize("spec", SPECS, ids=spec_id)
def test_each_table_is_named_to_the_function(dev, spec):
    logical_id, _ = dev.table_for(spec)  # asserts the variable Refs a GlobalTable
    assert dev.environment[env_name(spec.settings_field)] == {"Ref": logical_id}


def test_settings_environment(dev, prod):
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        env = synth.environment
        assert env["OVERSPILL_STAGE"] == stage
        assert env["OVERSPILL_REGION"] == {"Ref": "AWS::Region"}
        secret_id, _ = synth.only("AWS::SecretsManager::Secret")
        assert env["OVERSPILL_PEPPER_SECRET_ID"] == {"Ref": secret_id}  # the secret's ARN
        assert env["OVERSPILL_ANTHROPIC_URL"] == "https://api.anthropic.com"
        assert env["OVERSPILL_USAGE_TTL_DAYS"] == "400"
        assert env["POWERTOOLS_SERVICE_NAME"] == "overspill"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        key_id, _ = synth.resource_of(synth.stack.data.credentials_key)
        assert env["OVERSPILL_CREDENTIALS_KMS_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert env["OVERSPILL_BEDROCK_REGION"] == "us-east-1"
        assert env["OVERSPILL_BEDROCK_GEOGRAPHY"] == "us"
        assert "OVERSPILL_BEDROCK_MODEL_MAP" not in env  # no overrides: the code's defaults
        # The throttle of repeated bad keys is off unless switched on (the code's default: 0, off).
        assert env_name("key_failure_limit") not in env and env_name("key_failure_window_s") not in env
        # On AWS, every client uses the real endpoints.
        assert env_name("aws_endpoint_url") not in env
        assert env_name("bedrock_endpoint_url") not in env


def test_bedrock_settings_come_from_context(custom):
    env = custom.environment
    assert env["OVERSPILL_STAGE"] == "qa"
    assert env["OVERSPILL_BEDROCK_REGION"] == "eu-west-1"
    assert env["OVERSPILL_BEDROCK_GEOGRAPHY"] == "global"
    assert parse_model_map(env["OVERSPILL_BEDROCK_MODEL_MAP"]) == CUSTOM_MODEL_MAP
    assert env_name("bedrock_endpoint_url") not in env


def test_key_failure_throttle_comes_from_context(custom):
    env = custom.environment
    assert env["OVERSPILL_KEY_FAILURE_LIMIT"] == "20"
    assert env["OVERSPILL_KEY_FAILURE_WINDOW_S"] == "120"


@pytest.mark.parametrize("name", ["dev", "prod", "custom"])
def test_every_overspill_variable_is_a_setting_the_code_reads(request, name):
    synth = request.getfixturevalue(name)
    known = {env_name(f.name) for f in fields(Settings)}
    ours = {name for name in synth.environment if name.startswith(ENV_PREFIX)}
    assert ours <= known, f"variables Settings ignores: {sorted(ours - known)}"
    # And Settings accepts the values (CloudFormation references stand in as plain strings) ...
    env = {k: v if isinstance(v, str) else f"resolved-{k.lower()}" for k, v in synth.environment.items()}
    settings = Settings.from_env(env)
    config = synth.config
    assert settings.stage == config.stage
    assert settings.usage_ttl_days == config.usage_retention_days
    assert settings.aws_endpoint_url is None and settings.bedrock_endpoint_url is None
    assert (settings.bedrock_region, settings.bedrock_geography) == (config.bedrock_region, config.bedrock_geography)
    # The proxy throttles repeated bad keys as configured (a limit of 0 leaves it off, its window unused).
    assert settings.key_failure_limit == config.key_failure_limit
    if config.key_failure_limit:
        assert settings.key_failure_window_s == config.key_failure_window_s
    # ... and so does the proxy's wiring: the model map it builds from them is the one the policy was made from.
    models = ModelMap(settings.bedrock_geography, parse_model_map(settings.bedrock_model_map))
    assert dict(models.overrides) == config.model_overrides
    for spec in SPECS:
        assert getattr(settings, spec.settings_field) == f"resolved-{env_name(spec.settings_field).lower()}"


@pytest.mark.parametrize("name", ["dev", "prod", "custom"])
def test_environment_fits_lambdas_4kb_limit(request, name):
    """Lambda refuses a function whose variables exceed 4 KB together — at deploy time. References count at
    generous stand-in lengths (a generated table name is ~50 characters, an ARN ~100)."""
    environment = request.getfixturevalue(name).environment
    size = sum(len(k) + (len(v) if isinstance(v, str) else 128) for k, v in environment.items())
    assert size < 4096 - 512, size  # leave room for what the next functions' settings add


def test_function_url_streams_and_is_public(any_stage):
    function_id, _ = any_stage.function
    _, url = any_stage.resource_of(any_stage.stack.proxy.url)
    assert url["Properties"]["AuthType"] == "NONE"
    assert url["Properties"]["InvokeMode"] == "RESPONSE_STREAM"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "Qualifier" not in url["Properties"]
    # A public URL needs both permissions (lambda:InvokeFunction only via the URL, since October 2025).
    # (No other function has a resource-based policy but the admin API's, for its own URL: the export schedules
    # invoke through their own role.)
    every = [p["Properties"] for p in any_stage.resources("AWS::Lambda::Permission").values()]
    admin = {"Fn::GetAtt": [any_stage.logical_id(any_stage.stack.admin.function), "Arn"]}
    assert {str(p["FunctionName"]) for p in every} == {str(admin), str({"Fn::GetAtt": [function_id, "Arn"]})}
    permissions = {p["Action"]: p for p in every if p["FunctionName"] != admin}
    assert set(permissions) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    for permission in permissions.values():
        assert permission["Principal"] == "*"
        assert permission["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_url_is_an_output(any_stage):
    url_id, _ = any_stage.resource_of(any_stage.stack.proxy.url)
    outputs = any_stage.json["Outputs"]
    assert outputs["ProxyUrl"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}


def test_logs_go_to_a_group_with_retention(dev, prod):
    for synth, days in ((dev, 30), (prod, 365)):
        group_id, group = synth.resource_of(synth.stack.proxy.log_group)
        assert group["Properties"]["RetentionInDays"] == days
        assert synth.function[1]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}


# --- Everything the proxy imports at run time is in its layers.

def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_file(package_root: Path, name: str) -> Path | None:
    path = package_root.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@pytest.mark.parametrize("function", ["proxy", "rollup", "exports"])
def test_modules_the_handler_imports_are_in_the_layers(dev, function):
    """Follow the handler's imports through the overspill package: anything outside it must be the
    standard library or installed in the core layer (a package only in the dev venv fails on Lambda). The
    rollup and export functions share the proxy's core layer."""
    core = dev.asset_dir(_layer_with(dev, "python/overspill/__init__.py")) / "python"
    handler = dev.asset_dir(dev.logical_id(getattr(dev.stack, function).function)) / "handler.py"
    pending, seen, third_party = [handler], set(), set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "overspill":
                module = _module_file(core, name)
                if module is not None:
                    pending.append(module)
                    parts = name.split(".")
                    for i in range(1, len(parts)):  # importing a.b.c runs a/__init__ and a/b/__init__
                        parent = _module_file(core, ".".join(parts[:i]))
                        if parent is not None:
                            pending.append(parent)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    assert len(seen) > 5, f"the import walk did not find the {function} function's modules"
    missing = sorted(t for t in third_party
                     if not ((core / t).is_dir() or (core / f"{t}.py").is_file()))
    assert missing == [], f"imported by the {function} function but not in the core layer: {missing}"
