"""The admin API: functions/admin behind a Function URL, for the dashboard and the CLI.

The URL is public (auth NONE) on purpose: callers are people signed in to the Cognito pool, not AWS principals,
so IAM auth (SigV4) cannot admit them. The function checks each request's Cognito access token itself — signature,
issuer, app client, expiry and group — before it looks at anything else (``overspill.admin.api``); only
``GET /api/health`` answers without one.

The role is exactly what the admin services do (``overspill.admin``), per table and index, and no more: the audit
log may only be added to and read (it is not editable), the credentials key may only seal and open Bedrock
credentials, and in the exports bucket only the files the export code writes may be written and read.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import assets
from infra.bedrock_access import COUNT_TOKENS_ACTION
from infra.components.auth import Auth
from infra.components.data import Data
from infra.components.exports import written_prefixes
from infra.components.proxy import CREDENTIALS_KEY_CONDITION
from infra.components.runtime import handler_function
from infra.config import DeployConfig
from overspill.admin.credentials import TEST_MODEL
from overspill.bedrock.models import ModelMap, UnknownModel
from overspill.store.models import AccessKeyModel, UsageEventModel, UsageRollupModel

ADMIN_CODE_DIR = assets.REPO_ROOT / "functions" / "admin"

# What the admin services do to each table (see overspill.store.* and overspill.admin.*):
# - users: read one (also strongly consistent before a change), create (conditional PutItem), change (PutItem
#   conditional on the version read), list and search (Scan), the budget report (Scan with a filter), and names
#   for usage rows (BatchGetItem);
# - access keys: issue (conditional PutItem), revoke and rotate (conditional UpdateItem), re-read after a race
#   (GetItem), and a user's keys: the by_user index (below), then BatchGetItem of the keys themselves;
# - credentials: describe and read (GetItem), store (an UpdateItem that also counts the revision), delete
#   (a conditional DeleteItem);
# - breakers: read, and the reset (a conditional PutItem, like the proxy's);
# - rollups: a user's or team's days (Query), and a period across owners (the by_period index, below);
# - teams: the list and the budget report (Scan), a team's settings (GetItem, PutItem conditional on the
#   version read); config: price overrides and the model map (GetItem, PutItem
#   conditional on the version read);
# - audit: one conditional PutItem per change, and the listing (Query); never UpdateItem or DeleteItem;
# - idempotency: Powertools' records of idempotent creates (put in progress, complete, delete on failure; read
#   only when a conditional put does not return the record it found: its documented permissions are these four).
TABLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "users_table": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:BatchGetItem"),
    "access_keys_table": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"),
    "credentials_table": ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    "breakers_table": ("dynamodb:GetItem", "dynamodb:PutItem"),
    "rollups_table": ("dynamodb:Query",),
    "teams_table": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"),
    "config_table": ("dynamodb:GetItem", "dynamodb:PutItem"),
    "audit_table": ("dynamodb:PutItem", "dynamodb:Query"),
    "idempotency_table": ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    # The usage events themselves only through the day index (an on-demand export).
    "usage_table": (),
}
# Queries on indexes, by table: a user's keys, a period's rollup rows across owners, a day's usage events.
INDEX_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "access_keys_table": {AccessKeyModel.by_user.Meta.index_name: ("dynamodb:Query",)},
    "rollups_table": {UsageRollupModel.by_period.Meta.index_name: ("dynamodb:Query",)},
    "usage_table": {UsageEventModel.by_day.Meta.index_name: ("dynamodb:Query",)},
}
# The Encryption SDK seals with a data key from KMS (GenerateDataKey) and opens with Decrypt; both only for
# Bedrock credentials (the encryption context the vault always sends).
CREDENTIALS_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def credentials_test_model_arn(config: DeployConfig, partition: str) -> str | None:
    """The foundation model a credentials test counts tokens on with the function's role
    (``overspill.admin.credentials``: the deployment's model map, in the Bedrock region); None if none."""
    try:
        foundation = ModelMap(config.bedrock_geography, config.model_overrides).resolve(TEST_MODEL).foundation_id
    except UnknownModel:
        return None
    if foundation is None:
        return None
    return f"arn:{partition}:bedrock:{config.bedrock_region}::foundation-model/{foundation}"


class Admin(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, data: Data, auth: Auth,
                 exports_bucket: s3.IBucket, proxy_url: str, core_layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        missing = sorted(set(data.specs) - set(TABLE_ACTIONS))
        if missing:
            raise ValueError(f"no admin access decided for tables: {', '.join(missing)} (see TABLE_ACTIONS)")

        settings = {
            "stage": config.stage,
            "region": stack.region,
            **{field: data.table(field).table_name for field in data.specs},
            "exports_bucket": exports_bucket.bucket_name,
            "pepper_secret_id": data.pepper.secret_arn,
            # An ARN: the vault then needs no DescribeKey, and seals and opens only under exactly this key.
            "credentials_kms_key_id": data.credentials_key.key_arn,
            "bedrock_region": config.bedrock_region,
            "bedrock_geography": config.bedrock_geography,
            # An export refuses ranges whose events may have expired: it must know the table's TTL.
            "usage_ttl_days": str(config.usage_retention_days),
            "cognito_user_pool_id": auth.user_pool.user_pool_id,
            "cognito_client_ids": auth.client.user_pool_client_id,
            # The start of the ANTHROPIC_BASE_URL handed out with each new key.
            "proxy_public_url": proxy_url,
        }
        if config.bedrock_model_map_json:
            settings["bedrock_model_map"] = config.bedrock_model_map_json
        if config.admin_cors_origin:
            settings["admin_cors_origin"] = config.admin_cors_origin

        built = handler_function(
            self, config, name="admin",
            description=f"Overspill ({config.stage}) admin API: users, keys, credentials, usage, pricing, exports",
            code_dir=ADMIN_CODE_DIR, layers=[core_layer], memory_mb=config.admin_memory_mb,
            timeout=Duration.seconds(config.admin_timeout_s), settings=settings,
        )
        self.function, self.role, self.log_group = built.function, built.role, built.log_group

        self._grant_tables(data)
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadThePepper", actions=["secretsmanager:GetSecretValue"], resources=[data.pepper.secret_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="SealAndOpenBedrockCredentials", actions=list(CREDENTIALS_KEY_ACTIONS),
            resources=[data.credentials_key.key_arn], conditions=CREDENTIALS_KEY_CONDITION))
        self._grant_exports(exports_bucket)
        model_arn = credentials_test_model_arn(config, stack.partition)
        if model_arn is not None:
            # The credentials test of a user without credentials of their own: the role's Bedrock access.
            self.role.add_to_policy(iam.PolicyStatement(
                sid="CountTokensForTheCredentialsTest", actions=[COUNT_TOKENS_ACTION], resources=[model_arn]))

        # Public, like the proxy's: the Cognito access token is the credential, and the function checks it (see the
        # module docstring). BUFFERED: answers are small JSON documents. No CORS on the URL: with adminCorsOrigin
        # set, the function answers preflights and names the origin itself (OVERSPILL_ADMIN_CORS_ORIGIN), the same
        # code the local run and the tests exercise; CORS in two places could send the header twice.
        self.url = self.function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )

    def _grant_tables(self, data: Data) -> None:
        for field, actions in TABLE_ACTIONS.items():
            table = data.table(field)
            if actions:
                self.role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=[table.table_arn]))
            for index, index_actions in INDEX_ACTIONS.get(field, {}).items():
                self.role.add_to_policy(iam.PolicyStatement(
                    actions=list(index_actions), resources=[f"{table.table_arn}/index/{index}"]))

    def _grant_exports(self, bucket: s3.IBucket) -> None:
        files = [bucket.arn_for_objects(f"{prefix}*") for prefix in written_prefixes()]
        # The run writes what the export function writes; the listing reads manifests, a download link is a
        # GET of a CSV (and its manifest) signed with this role, and the existence check is a HEAD (GetObject).
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteAndReadExportFiles", actions=["s3:PutObject", "s3:GetObject"], resources=files))
        # The listing of manifests; also what lets S3 answer 404 rather than 403 for an export never run.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListExportFiles", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
