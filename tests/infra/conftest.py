"""The CDK app synthesised in-process, once per configuration per session (a synth takes a few seconds)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# jsii starts node when aws_cdk is imported; this keeps its end-of-life banner out of the test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest  # noqa: E402
from aws_cdk import CfnElement, Stack  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from constructs import IConstruct  # noqa: E402

from infra.app import build_app  # noqa: E402
from infra.config import DeployConfig  # noqa: E402
from overspill.config import env_name  # noqa: E402
from overspill.store.schema import TableSpec, all_table_specs  # noqa: E402

OVERSPILL_DIR = Path(__file__).resolve().parents[2] / "layers" / "core" / "overspill"
# Prod as a CLI user would deploy it: `-c stage=prod -c proxyMemoryMb=1536` (context values as strings).
PROD_CONTEXT = {"stage": "prod", "proxyMemoryMb": "1536"}
# Bedrock configured away from the defaults, again as `-c key=value` strings: another Region, global
# inference profiles, and a model map with every kind of target the proxy accepts.
CUSTOM_MODEL_MAP = {
    "claude-sonnet-4-5": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",           # a default, replaced
    "claude-next": "eu.anthropic.claude-next-v1:0",                                    # an inference-profile id
    "claude-direct": "anthropic.claude-direct-v1:0",                                   # a bare foundation model
    "claude-fm-arn": "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-fm-arn-v1:0",
    "claude-profile-arn[1m]": "arn:aws:bedrock:eu-west-1:210987654321:inference-profile/eu.anthropic.claude-p-v1:0",
}
CUSTOM_CONTEXT = {"stage": "qa", "bedrockRegion": "eu-west-1", "bedrockGeography": "global",
                  "bedrockModelMap": json.dumps(CUSTOM_MODEL_MAP),
                  # … and the rollup and the exports tuned away from their defaults,
                  "rollupParallelizationFactor": "4", "exportMemoryMb": "1024", "exportsNoncurrentVersionDays": "30",
                  # … and the proxy throttling addresses that keep sending bad access keys.
                  "keyFailureLimit": "20", "keyFailureWindowSeconds": "120"}


@dataclass
class Synth:
    """One synthesised stack: the assertions Template, its JSON, and where its assets were staged."""

    stack: Stack
    template: Template
    json: dict[str, Any]
    outdir: Path
    # The overspill package's source as it was when this synth began (others may edit it meanwhile).
    overspill_source: dict[Path, bytes]

    @property
    def config(self) -> DeployConfig:
        return self.stack.config

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    def only(self, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(type_)
        assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, construct: IConstruct) -> str:
        """The logical id of a construct's CloudFormation resource (an L2 construct's default child)."""
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        assert isinstance(element, CfnElement), f"{construct.node.path} has no CloudFormation resource"
        return self.stack.resolve(element.logical_id)

    def resource_of(self, construct: IConstruct) -> tuple[str, dict[str, Any]]:
        logical_id = self.logical_id(construct)
        return logical_id, self.json["Resources"][logical_id]

    @property
    def function(self) -> tuple[str, dict[str, Any]]:
        """The proxy function (the stack has others: ``resource_of(stack.rollup.function)`` …)."""
        return self.resource_of(self.stack.proxy.function)

    @property
    def environment(self) -> dict[str, Any]:
        return self.function[1]["Properties"]["Environment"]["Variables"]

    def environment_of(self, function: IConstruct | str) -> dict[str, Any]:
        """A function's variables, by its construct or its logical id."""
        logical_id = function if isinstance(function, str) else self.logical_id(function)
        return self.json["Resources"][logical_id]["Properties"]["Environment"]["Variables"]

    def table_for(self, spec: TableSpec) -> tuple[str, dict[str, Any]]:
        """The table the proxy is told to use for this spec (followed from its OVERSPILL_* variable)."""
        name = env_name(spec.settings_field)
        value = self.environment.get(name)
        assert isinstance(value, dict) and set(value) == {"Ref"}, f"{name} should Ref a table, is {value!r}"
        logical_id = value["Ref"]
        resource = self.json["Resources"][logical_id]
        assert resource["Type"] == "AWS::DynamoDB::GlobalTable", f"{name} names a {resource['Type']}"
        return logical_id, resource

    def asset_dir(self, logical_id: str) -> Path:
        """The staged asset directory of a Lambda function or layer (needs asset metadata enabled)."""
        path = self.json["Resources"][logical_id]["Metadata"]["aws:asset:path"]
        return self.outdir / path


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Synth]]:
    cache: dict[str, Synth] = {}

    def _synth(**context: Any) -> Synth:
        key = json.dumps(context, sort_keys=True)
        if key not in cache:
            outdir = tmp_path_factory.mktemp("cdk.out")
            source = OVERSPILL_DIR
            snapshot = {p.relative_to(source): p.read_bytes() for p in source.rglob("*.py")
                        if "__pycache__" not in p.parts}
            app = build_app({**context, "aws:cdk:enable-asset-metadata": True}, outdir=str(outdir))
            (stack,) = [c for c in app.node.children if isinstance(c, Stack)]
            template = Template.from_stack(stack)
            cache[key] = Synth(stack, template, template.to_json(), outdir, snapshot)
        return cache[key]

    yield _synth


@pytest.fixture(scope="session")
def dev(synth: Callable[..., Synth]) -> Synth:
    return synth()


@pytest.fixture(scope="session")
def prod(synth: Callable[..., Synth]) -> Synth:
    return synth(**PROD_CONTEXT)


@pytest.fixture(scope="session")
def custom(synth: Callable[..., Synth]) -> Synth:
    return synth(**CUSTOM_CONTEXT)


@pytest.fixture(scope="session", params=["dev", "prod"])
def any_stage(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session", params=["dev", "prod", "custom"])
def any_config(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


SPECS = all_table_specs()


def event_filter_matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """Lambda's event filtering, for the exact-value patterns this app writes: every key present, its value one
    of the listed ones (nested objects matched the same way)."""
    for key, expected in pattern.items():
        if key not in record:
            return False
        if isinstance(expected, dict):
            if not isinstance(record[key], dict) or not event_filter_matches(expected, record[key]):
                return False
        elif not isinstance(expected, list) or record[key] not in expected:
            return False
    return True


def spec_id(spec: TableSpec) -> str:
    return spec.settings_field
