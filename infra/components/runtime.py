"""What every Overspill function shares: the runtime (python3.12 on arm64), the core layer, a role that may write
only its own log group, and settings passed as ``OVERSPILL_*`` variables named after ``overspill.config.Settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import assets
from infra.config import DeployConfig
from overspill.config import Settings, env_name

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
# Every function logs with Powertools under one service name; the Lambda context tells the functions apart.
POWERTOOLS_SERVICE_NAME = "overspill"

_RETENTION = {30: logs.RetentionDays.ONE_MONTH, 365: logs.RetentionDays.ONE_YEAR}
# How long what failed for good waits in a failure queue for an operator.
FAILURE_RETENTION = Duration.days(14)


def settings_env(**values: str) -> dict[str, str]:
    """``OVERSPILL_*`` variables for Settings fields; a name Settings does not know is a bug, not a no-op."""
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"not Settings fields: {', '.join(unknown)}")
    return {env_name(name): value for name, value in values.items()}


def powertools_env(config: DeployConfig) -> dict[str, str]:
    return {"POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME, "POWERTOOLS_LOG_LEVEL": config.log_level}


def core_layer(scope: Construct, construct_id: str = "CoreLayer") -> lambda_.LayerVersion:
    """The ``overspill`` package and its dependencies (built by scripts/build_lambda_assets.py). Made once, by the
    proxy, and attached to every function: one upload, one version of the package across functions."""
    return lambda_.LayerVersion(
        scope, construct_id,
        code=lambda_.Code.from_asset(str(assets.core_layer_dir()), exclude=assets.ASSET_EXCLUDES),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="overspill package and its runtime dependencies (linux/arm64, cp312)",
        # A layer version holds no data; retained versions would only pile up with every deploy.
        removal_policy=RemovalPolicy.DESTROY,
    )


def function_log_group(scope: Construct, config: DeployConfig, construct_id: str = "Logs") -> logs.LogGroup:
    return logs.LogGroup(
        scope, construct_id,
        retention=_RETENTION[config.log_retention_days],
        removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
    )


def function_role(scope: Construct, log_group: logs.ILogGroup, *, description: str,
                  construct_id: str = "Role") -> iam.Role:
    """A role for one function that may write to its own log group and nothing else yet: no
    AWSLambdaBasicExecutionRole (its logs:* statements are on every resource). The function adds what it uses."""
    role = iam.Role(scope, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description=description)
    log_group.grant_write(role)
    return role


def failure_queue(scope: Construct, config: DeployConfig, construct_id: str = "FailureQueue") -> sqs.Queue:
    """Where a function's work that failed for good waits for an operator (encrypted, TLS only, 14 days)."""
    return sqs.Queue(
        scope, construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=FAILURE_RETENTION,
        removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
    )


@dataclass(frozen=True)
class HandlerFunction:
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def handler_function(scope: Construct, config: DeployConfig, *, name: str, description: str, code_dir: Path,
                     layers: list[lambda_.ILayerVersion], memory_mb: int, timeout: Duration,
                     settings: dict[str, str], **options: Any) -> HandlerFunction:
    """A function (``handler.handler`` in ``code_dir``) with its own log group (``Logs``) and role (``Role``), the
    shared runtime, Powertools' settings and ``settings`` as ``OVERSPILL_*`` variables."""
    log_group = function_log_group(scope, config)
    role = function_role(scope, log_group, description=f"Overspill ({config.stage}) {name} function")
    function = lambda_.Function(
        scope, "Function",
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(code_dir), exclude=assets.ASSET_EXCLUDES),
        layers=layers,
        memory_size=memory_mb,
        timeout=timeout,
        environment={**powertools_env(config), **settings_env(**settings)},
        log_group=log_group,
        role=role,
        **options,
    )
    return HandlerFunction(function, role, log_group)
