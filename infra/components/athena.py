"""Finance's SQL view of the exports: a Glue database with one table per kind of export file, and an Athena
workgroup whose results stay in the exports bucket.

The tables read the CSV files where the export function writes them (``infra.components.exports.LAYOUTS``),
with partition projection, so a new day or month is queryable the moment its file exists (no crawler, no
``MSCK REPAIR``). Columns follow ``overspill.exports.files.columns`` in order (OpenCSVSerde maps by position):

- the first column (``date`` / ``month`` in the CSV header) is ``period`` here: ``month`` is the monthly table's
  partition key, and ``date`` is a reserved word in Athena's SQL;
- counts are ``bigint``;
- ``cost_usd`` is ``string``: OpenCSVSerde reads BOOLEAN, INT, BIGINT and DOUBLE but not DECIMAL, and DOUBLE
  would round money. Sum it exactly with ``CAST(cost_usd AS DECIMAL(38, 10))``;
- partition columns are ``string`` (``dt`` = ``YYYY-MM-DD``, ``month`` = ``YYYY-MM``): compare them with strings.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.exports import ATHENA_RESULTS_PREFIX, LAYOUTS, FileLayout
from infra.config import DeployConfig
from overspill.exports.files import KEY_COLUMNS, VALUE_COLUMNS
from overspill.exports.periods import PeriodKind

TABLE_NAMES = {PeriodKind.DAILY: "usage_daily", PeriodKind.MONTHLY: "usage_monthly"}
PERIOD_COLUMN = "period"
COST_COLUMN = "cost_usd"
# The first period partition projection enumerates; queries without a partition filter read every one since.
PROJECTION_START = {PeriodKind.DAILY: "2025-01-01", PeriodKind.MONTHLY: "2025-01"}
CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
# RFC 4180 as the exporter writes it: a doubled quote inside a quoted field is read as one quote. (A backslash
# before a quote or backslash would be read as an escape; the exporter never writes one, names could.)
CSV_SERDE_PARAMETERS = {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"}
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
ATHENA_ENGINE = "Athena engine version 3"

_COMMENTS = {
    PERIOD_COLUMN: "the CSV's first column (date / month): the same as the partition value",
    "user_name": "the user's name at the time of the request",
    "team": "the user's team at the time of the request (empty: none)",
    "cost_center": "the cost center at the time of the request",
    "route": "plan (the developer's own Anthropic plan) or bedrock (the fallback, billed by AWS)",
    COST_COLUMN: "USD, exact, fixed-point with 10 decimals: sum CAST(cost_usd AS DECIMAL(38, 10))",
    "unpriced_requests": "requests whose model had no price (not in cost_usd)",
}


def glue_database_name(stage: str) -> str:
    """Glue names are lowercase letters, digits and underscores."""
    return f"overspill_{stage.replace('-', '_')}"


def workgroup_name(stage: str) -> str:
    return f"overspill-{stage}"


def table_columns() -> list[tuple[str, str]]:
    """(name, Glue type) of every data column, in the CSV's order (without the period column's own name)."""
    return [(PERIOD_COLUMN, "string"),
            *((name, "string") for name in KEY_COLUMNS),
            *((name, "string" if name == COST_COLUMN else "bigint") for name in VALUE_COLUMNS)]


class UsageCatalog(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.database_name = glue_database_name(config.stage)
        self.database = glue.CfnDatabase(
            self, "Database",
            catalog_id=account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description=f"Overspill ({config.stage}): finance exports of usage and cost",
            ),
        )
        self.tables = {kind: self._table(kind, LAYOUTS[kind], bucket, account) for kind in PeriodKind}

        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup",
            name=workgroup_name(config.stage),
            description=f"Overspill ({config.stage}): finance queries over the usage exports",
            state="ENABLED",
            # Outside production the stack may delete it even with saved queries in it.
            recursive_delete_option=not config.is_production,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                # Every query's results go where this says, encrypted, whatever the client asks for.
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version=ATHENA_ENGINE),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"),
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                ),
            ),
        )
        self.workgroup.apply_removal_policy(RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY)

    def table_name(self, kind: PeriodKind) -> str:
        return TABLE_NAMES[kind]

    def _table(self, kind: PeriodKind, layout: FileLayout, bucket: s3.IBucket, account: str) -> glue.CfnTable:
        partition = layout.partition
        columns = [glue.CfnTable.ColumnProperty(name=name, type=type_, comment=_COMMENTS.get(name))
                   for name, type_ in table_columns()]
        table = glue.CfnTable(
            self, f"{kind.value.capitalize()}Table",
            catalog_id=account,
            database_name=self.database.ref,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE_NAMES[kind],
                description=f"Overspill {kind.value} usage exports (CSV, one row per user, team, model and route)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "EXTERNAL": "TRUE",
                    "classification": "csv",
                    "skip.header.line.count": "1",
                    "projection.enabled": "true",
                    f"projection.{partition}.type": "date",
                    f"projection.{partition}.format": layout.label_format,
                    f"projection.{partition}.range": f"{PROJECTION_START[kind]},NOW",
                    f"projection.{partition}.interval": "1",
                    f"projection.{partition}.interval.unit": layout.interval_unit,
                    # ${!x} is Fn::Sub's way of writing a literal ${x}, which Athena fills in per partition.
                    "storage.location.template": Fn.sub(
                        f"s3://${{Bucket}}/{layout.prefix}{partition}=${{!{partition}}}/",
                        {"Bucket": bucket.bucket_name}),
                },
                partition_keys=[glue.CfnTable.ColumnProperty(
                    name=partition, type="string", comment=f"{layout.label_format} (UTC): filter on it")],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=f"s3://{bucket.bucket_name}/{layout.prefix}",
                    input_format=TEXT_INPUT_FORMAT,
                    output_format=TEXT_OUTPUT_FORMAT,
                    compressed=False,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=CSV_SERDE, parameters=dict(CSV_SERDE_PARAMETERS)),
                    columns=columns,
                ),
            ),
        )
        return table
