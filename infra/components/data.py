"""Data: one DynamoDB table per pynamodb model, the access-key pepper, and the key of stored Bedrock credentials.

Tables are generated from ``overspill.store.schema.all_table_specs()`` — the same specs the local emulator
creates its tables from — never written by hand, so the code and the infrastructure cannot drift apart.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import DeployConfig
from overspill.store.schema import IndexSpec, KeyAttr, TableSpec, all_table_specs

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
}
_STREAM_VIEWS = {
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}
# The pepper keys every stored access-key hash: changing it invalidates every issued key. It is generated
# once, at creation. Do not change the generator settings of an existing secret (CloudFormation would
# generate a new value).
PEPPER_LENGTH = 64
# A removed dev key is deleted after the shortest wait KMS allows; prod keys are retained, never deleted.
DEV_KEY_PENDING_WINDOW = Duration.days(7)


def credentials_key_alias(stage: str) -> str:
    return f"alias/overspill-{stage}-credentials"


def table_id(spec: TableSpec) -> str:
    """``users_table`` → ``UsersTable``. The logical id must stay stable: a new id means a new table."""
    return "".join(part.capitalize() for part in spec.settings_field.split("_"))


def _attribute(key: KeyAttr) -> dynamodb.Attribute:
    try:
        return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])
    except KeyError:
        raise ValueError(f"key attribute {key.name!r} has unsupported type {key.type!r}") from None


def _index(index: IndexSpec) -> dynamodb.GlobalSecondaryIndexPropsV2:
    if index.projection not in _PROJECTIONS:
        # INCLUDE would also need the non-key attributes, which IndexSpec does not carry.
        raise ValueError(f"index {index.name!r} has unsupported projection {index.projection!r}")
    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=index.name,
        partition_key=_attribute(index.partition_key),
        sort_key=_attribute(index.sort_key) if index.sort_key else None,
        projection_type=_PROJECTIONS[index.projection],
    )


class Data(Construct):
    """The tables (``tables[settings_field]``), the pepper secret and the credentials key."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig) -> None:
        super().__init__(scope, construct_id)
        self.specs: dict[str, TableSpec] = {}
        self.tables: dict[str, dynamodb.TableV2] = {}
        removal = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY
        for spec in all_table_specs():
            if spec.settings_field in self.tables:
                raise ValueError(f"two models use the settings field {spec.settings_field!r}")
            self.specs[spec.settings_field] = spec
            self.tables[spec.settings_field] = self._table(spec, config, removal)

        self.pepper = secretsmanager.Secret(
            self, "AccessKeyPepper",
            description=f"Overspill ({config.stage}): access-key pepper, the HMAC key of every stored "
                        "access-key hash. Changing it invalidates every issued key.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=PEPPER_LENGTH,
                exclude_punctuation=True,
                include_space=False,
            ),
            removal_policy=removal,
        )

        # Per-user Bedrock credentials are sealed with the AWS Encryption SDK under this key (see
        # overspill.credentials.vault). Deleting it makes every stored credential undecryptable, hence RETAIN
        # in production. The key policy is CDK's default (the account root administers it; IAM policies grant
        # its use), so each function's role states exactly what it may do with it.
        self.credentials_key = kms.Key(
            self, "CredentialsKey",
            description=f"Overspill ({config.stage}): encrypts the Bedrock credentials stored per user",
            alias=credentials_key_alias(config.stage),
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=None if config.is_production else DEV_KEY_PENDING_WINDOW,
        )

    def table(self, settings_field: str) -> dynamodb.TableV2:
        return self.tables[settings_field]

    def _table(self, spec: TableSpec, config: DeployConfig, removal: RemovalPolicy) -> dynamodb.TableV2:
        stream = None
        if spec.stream_view_type is not None:
            try:
                stream = _STREAM_VIEWS[spec.stream_view_type]
            except KeyError:
                raise ValueError(f"table {spec.default_name!r} has unsupported stream view type "
                                 f"{spec.stream_view_type!r}") from None
        production = config.is_production
        return dynamodb.TableV2(
            self, table_id(spec),
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            global_secondary_indexes=[_index(i) for i in spec.indexes] or None,
            time_to_live_attribute=spec.ttl_attribute,
            dynamo_stream=stream,
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.dynamo_owned_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=production),
            deletion_protection=production,
            removal_policy=removal,
        )
