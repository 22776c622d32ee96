"""The proxy: a streaming Lambda behind a public Function URL (the access key in the path authenticates).

The managed python3.12 runtime cannot stream, so ``AWS_LAMBDA_EXEC_WRAPPER`` swaps its bootstrap for our
runtime loop from the streaming layer (``/opt/streaming-bootstrap``); the handler stays ``handler.handler``.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import assets
from infra.bedrock_access import bedrock_access, bedrock_statements
from infra.components.data import Data
from infra.components.runtime import (
    ARCHITECTURE,
    RUNTIME,
    core_layer,
    function_log_group,
    function_role,
    powertools_env,
    settings_env,
)
from infra.config import DeployConfig
from overspill.credentials.vault import PURPOSE, encryption_context

EXEC_WRAPPER = "/opt/streaming-bootstrap"
# Lambda's maximum: an extended-thinking stream may run for many minutes and must not be cut.
TIMEOUT = Duration.minutes(15)

# What the request path does to each table (see overspill.store.*): authenticate reads the key and the
# user, records the key's last use (a conditional UpdateItem), and writes one usage event (a conditional
# PutItem); routing reads the user's breaker (eventually or strongly consistent) and replaces it with a
# conditional PutItem; the fallback reads the user's stored Bedrock credentials (written by the admin
# function, never by the proxy); the budget check reads the user's and the team's month rollups (one Query
# each) and the team's budget; pricing reads the admins' price overrides. Nothing else: no Scan, no deletes.
TABLE_ACTIONS = {
    "users_table": ("dynamodb:GetItem",),
    # Query: the key lookup filters out revoked and expired keys in DynamoDB (overspill/store/access_keys.py).
    "access_keys_table": ("dynamodb:Query", "dynamodb:UpdateItem"),
    "usage_table": ("dynamodb:PutItem",),
    "breakers_table": ("dynamodb:GetItem", "dynamodb:PutItem"),
    "credentials_table": ("dynamodb:GetItem",),
    "rollups_table": ("dynamodb:Query",),
    "teams_table": ("dynamodb:GetItem",),
    "config_table": ("dynamodb:GetItem",),
    # The admin function's alone: the proxy neither writes the audit log nor runs admin creates.
    "audit_table": (),
    "idempotency_table": (),
}


def _context_key_of_purpose() -> str:
    """The encryption-context key whose value is the vault's fixed PURPOSE (the other one names the user)."""
    (key,) = [k for k, v in encryption_context("any-user").items() if v == PURPOSE]
    return key


# The proxy only opens stored credentials: Decrypt, and only of ciphertexts sealed for this purpose. Sealing
# them (GenerateDataKey) is the admin function's business.
CREDENTIALS_KEY_CONDITION = {"StringEquals": {f"kms:EncryptionContext:{_context_key_of_purpose()}": PURPOSE}}


class Proxy(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, data: Data) -> None:
        super().__init__(scope, construct_id)
        excludes = assets.ASSET_EXCLUDES

        self.streaming_layer = lambda_.LayerVersion(
            self, "StreamingLayer",
            code=lambda_.Code.from_asset(str(assets.STREAMING_LAYER_DIR), exclude=[*excludes, "*.md"]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="lambda_streaming: a Runtime API loop that streams Python handler responses",
            # A layer version holds no data; retained versions would only pile up with every deploy.
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Shared with the other functions (the stack passes it on); created here, where it always was, so that
        # its logical id does not change.
        self.core_layer = core_layer(self)

        self.log_group = function_log_group(self, config)
        # The role gets only what the request path uses (and writing to this function's own log group).
        self.role = function_role(self, self.log_group, description=f"Overspill ({config.stage}) proxy function")

        tables = {field: data.table(field).table_name for field in data.specs}
        bedrock_settings = {
            "bedrock_region": config.bedrock_region,
            "bedrock_geography": config.bedrock_geography,
        }
        if config.bedrock_model_map_json:
            bedrock_settings["bedrock_model_map"] = config.bedrock_model_map_json
        # Set only when switched on: otherwise the code's default (off) applies and a window would mean nothing.
        key_failure_settings: dict[str, str] = {}
        if config.key_failure_limit:
            key_failure_settings = {
                "key_failure_limit": str(config.key_failure_limit),
                "key_failure_window_s": str(config.key_failure_window_s),
            }
        environment = {
            "AWS_LAMBDA_EXEC_WRAPPER": EXEC_WRAPPER,
            **powertools_env(config),
            **settings_env(
                stage=config.stage,
                region=Stack.of(self).region,
                pepper_secret_id=data.pepper.secret_arn,
                # An ARN: the vault then needs no DescribeKey, and decrypts only under exactly this key.
                credentials_kms_key_id=data.credentials_key.key_arn,
                anthropic_url=config.anthropic_url,
                usage_ttl_days=str(config.usage_retention_days),
                **bedrock_settings,
                **key_failure_settings,
                **tables,
            ),
        }

        self.function = lambda_.Function(
            self, "Function",
            description=f"Overspill ({config.stage}) proxy: Claude Code → Anthropic, streamed",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(assets.PROXY_CODE_DIR), exclude=excludes),
            layers=[self.streaming_layer, self.core_layer],
            memory_size=config.proxy_memory_mb,
            timeout=TIMEOUT,
            environment=environment,
            log_group=self.log_group,
            role=self.role,
        )
        self._grant_tables(data)
        data.pepper.grant_read(self.function)
        self._grant_credentials_key(data)
        self._grant_bedrock(config)

        # Public by design: the access key in the path is the credential, checked by the function itself.
        self.url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM,
        )

    def spill_usage_to(self, queue: sqs.IQueue) -> None:
        """Where usage events DynamoDB would not take go (infra/components/usage_spill.py): the proxy is told the
        queue's URL and may send to it, and do nothing else with it."""
        for name, value in settings_env(usage_spill_queue_url=queue.queue_url).items():
            self.function.add_environment(name, value)
        self.function.add_to_role_policy(iam.PolicyStatement(
            sid="SpillUsageEvents", actions=["sqs:SendMessage"], resources=[queue.queue_arn]))

    def _grant_tables(self, data: Data) -> None:
        missing = sorted(set(data.specs) - set(TABLE_ACTIONS))
        if missing:
            raise ValueError(f"no proxy access decided for tables: {', '.join(missing)} (see TABLE_ACTIONS)")
        for field, actions in TABLE_ACTIONS.items():
            if not actions:
                continue
            self.function.add_to_role_policy(iam.PolicyStatement(
                actions=list(actions),
                resources=[data.table(field).table_arn],
            ))

    def _grant_credentials_key(self, data: Data) -> None:
        self.function.add_to_role_policy(iam.PolicyStatement(
            sid="DecryptStoredBedrockCredentials",
            actions=["kms:Decrypt"],
            resources=[data.credentials_key.key_arn],
            conditions=CREDENTIALS_KEY_CONDITION,
        ))

    def _grant_bedrock(self, config: DeployConfig) -> None:
        """The fallback through the function's own role (users with stored credentials use theirs)."""
        stack = Stack.of(self)
        self.bedrock_grants = bedrock_access(
            geography=config.bedrock_geography, overrides=config.model_overrides, region=config.bedrock_region,
            account=stack.account, partition=stack.partition)
        for spec in bedrock_statements(self.bedrock_grants):
            self.function.add_to_role_policy(iam.PolicyStatement(
                sid=spec.sid, actions=list(spec.actions), resources=list(spec.resources),
                conditions=spec.conditions or None,
            ))
