"""Which Overspill a command works on: the local run (found through its state directory) or a deployed stack
(found through its CloudFormation outputs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from overspill.aws import client
from overspill.config import Settings, env_name
from overspill.local.state import LocalState

# CloudFormation output -> Settings field; the CDK app declares these outputs on the stack.
STACK_OUTPUTS = {
    "UsageTableName": "usage_table",
    "RollupsTableName": "rollups_table",
    "UsersTableName": "users_table",
    "TeamsTableName": "teams_table",
    "ConfigTableName": "config_table",
    "ExportsBucketName": "exports_bucket",
    "UsageRetentionDays": "usage_ttl_days",   # exports and rebuilds refuse days whose events have expired
}
_MOTO_CREDENTIAL = "overspill-local"  # moto accepts any credentials: a placeholder, no secret
_LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": _MOTO_CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": _MOTO_CREDENTIAL,
    "AWS_SESSION_TOKEN": _MOTO_CREDENTIAL,
}


class TargetError(Exception):
    """The command cannot find the Overspill it was pointed at; the message says what to do."""


def local_settings(state_dir: str | Path) -> Settings:
    """The settings of the ``overspill dev`` running with this state directory (its AWS emulator must answer)."""
    state = LocalState(Path(state_dir))
    runtime = state.read_runtime()
    if runtime is None:
        raise TargetError(f"no running `overspill dev` uses the state directory {state.directory}: start it "
                          f"(`make dev` or `overspill dev --state-dir {state_dir}`) or pass --stack for a deployment")
    settings = Settings.from_env(runtime["environment"])
    try:
        httpx.get(f"{settings.aws_endpoint_url}/moto-api/", timeout=2)
    except httpx.TransportError:
        raise TargetError(f"`overspill dev` (pid {runtime.get('pid')}) with state directory {state.directory} "
                          f"is not answering at {settings.aws_endpoint_url}; is it still running?") from None
    # moto takes any credentials; never send a developer's real ones to it.
    os.environ.update(_LOCAL_CREDENTIALS)
    return settings


def stack_settings(stack_name: str, region: str | None = None) -> Settings:
    """The settings of a deployed stack, from its CloudFormation outputs (AWS credentials from the environment)."""
    settings = Settings.from_env(**({"region": region} if region else {}))
    cloudformation: Any = client("cloudformation", settings)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise TargetError(f"cannot read stack {stack_name!r} in {settings.region}: "
                          f"{error.response['Error'].get('Message', error)}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [name for name in STACK_OUTPUTS if name not in outputs]
    if missing:
        raise TargetError(f"stack {stack_name!r} has no output(s) {', '.join(missing)}: is it an Overspill stack, "
                          "deployed from this version?")
    # Through the environment form, so that each value is converted and checked like an OVERSPILL_* variable.
    environ = {**os.environ, **{env_name(field): outputs[name] for name, field in STACK_OUTPUTS.items()}}
    return Settings.from_env(environ, **({"region": region} if region else {}))
