"""Finance exports: the exports bucket, functions/export, and the two schedules that run it.

The function writes CSV files and manifests under the prefixes ``overspill.exports.files`` names (daily and
monthly, Hive-style ``dt=`` / ``month=`` folders); the layout below is derived from that code, so the bucket
grants, the Glue tables (``infra.components.athena``) and the files cannot drift apart. Exports are idempotent
(re-running a period writes the same bytes, plus late events), so failures are simply retried, and what still
fails lands in a queue to be re-run on demand (docs/operations.md, "Finance exports").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from infra import assets
from infra.components.data import Data
from infra.components.runtime import failure_queue, handler_function
from infra.config import DeployConfig
from overspill.exports.files import csv_key, manifest_key
from overspill.exports.periods import Period, PeriodKind
from overspill.store.models import UsageEventModel

# Lambda's maximum: a month of events is read (and a month's files written) in one run.
TIMEOUT = Duration.minutes(15)
# The day index the function queries (overspill.exports.source); the role may query nothing else.
DAY_INDEX = UsageEventModel.by_day.Meta.index_name
# Athena writes query results here (the workgroup enforces it); kept a month.
ATHENA_RESULTS_PREFIX = "athena-results/"
ATHENA_RESULTS_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7
# A period is final an hour after it ends (overspill.exports.periods.SETTLING_TIME): both run after that, in UTC.
DAILY = {"minute": "30", "hour": "1"}                 # yesterday's file
MONTHLY = {"minute": "30", "hour": "2", "day": "1"}   # last month's file (and its days again)
SCHEDULE_INPUTS = {PeriodKind.DAILY: {"kind": "daily"}, PeriodKind.MONTHLY: {"kind": "monthly"}}
# EventBridge Scheduler retries an invocation it could not deliver; Lambda retries a run that failed (exports
# can be re-run safely). What fails for good goes to the failure queue.
SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)
RUN_RETRY_ATTEMPTS = 2
RUN_MAX_EVENT_AGE = Duration.hours(6)

# The Java date pattern Athena's partition projection reads each period label with, and its step.
_LABEL_FORMATS = {PeriodKind.DAILY: ("yyyy-MM-dd", "%Y-%m-%d", "DAYS"),
                  PeriodKind.MONTHLY: ("yyyy-MM", "%Y-%m", "MONTHS")}
_SAMPLE = {PeriodKind.DAILY: Period.day(date(2001, 2, 3)), PeriodKind.MONTHLY: Period.month(2001, 2)}


@dataclass(frozen=True, slots=True)
class FileLayout:
    """Where the export function puts one kind of period's files, read off ``overspill.exports.files``."""

    kind: PeriodKind
    prefix: str              # the table's location: "usage/daily/"
    partition: str           # the Hive partition key of each period's folder: "dt"
    label_format: str        # Java date pattern of the partition value: "yyyy-MM-dd"
    interval_unit: str       # "DAYS" / "MONTHS"
    manifest_prefix: str     # "manifests/daily/"

    @classmethod
    def of(cls, kind: PeriodKind) -> FileLayout:
        sample = _SAMPLE[kind]
        java_format, python_format, unit = _LABEL_FORMATS[kind]
        if sample.label != sample.start.strftime(python_format):
            raise ValueError(f"{kind} labels are no longer {java_format}: {sample.label!r}")
        folder, _, _file = csv_key(sample).rpartition("/")
        prefix, _, partition_value = folder.rpartition("/")
        partition, equals, label = partition_value.partition("=")
        if not equals or label != sample.label or not prefix:
            raise ValueError(f"{kind} files are no longer in Hive-style period folders: {csv_key(sample)!r}")
        manifest_folder, _, _ = manifest_key(sample).rpartition("/")
        return cls(kind, f"{prefix}/", partition, java_format, unit, f"{manifest_folder}/")

    def location_template(self, bucket_name: str) -> str:
        """Athena's ``storage.location.template``, ``${<partition>}`` standing for each value."""
        return f"s3://{bucket_name}/{self.prefix}{self.partition}=${{{self.partition}}}/"


LAYOUTS = {kind: FileLayout.of(kind) for kind in PeriodKind}


def written_prefixes() -> tuple[str, ...]:
    """The top-level prefixes the function writes under (``usage/``, ``manifests/``): its only S3 grants."""
    tops = {layout.prefix.split("/")[0] for layout in LAYOUTS.values()}
    tops |= {layout.manifest_prefix.split("/")[0] for layout in LAYOUTS.values()}
    return tuple(sorted(f"{top}/" for top in tops))


class Exports(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, data: Data,
                 core_layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        production = config.is_production
        removal = RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY
        usage = data.table("usage_table")

        # Finance's files: kept (RETAIN) in production. Elsewhere the stack deletes the bucket, which
        # CloudFormation can do only once it is empty (the app uses no custom resources to empty it; see
        # docs/operations.md). Versioned, so a re-run that replaces a file never loses the one it replaced.
        self.bucket = s3.Bucket(
            self, "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireReplacedVersions",
                    noncurrent_version_expiration=Duration.days(config.exports_noncurrent_version_days),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                ),
                s3.LifecycleRule(
                    id="ExpireAthenaResults",
                    prefix=ATHENA_RESULTS_PREFIX,
                    expiration=Duration.days(ATHENA_RESULTS_DAYS),
                ),
            ],
            removal_policy=removal,
        )

        # Runs that failed for good: the schedule's undeliverable invocations and Lambda's failed runs.
        self.failure_queue = failure_queue(self, config)
        built = handler_function(
            self, config, name="export",
            description=f"Overspill ({config.stage}) export: usage per day and month as CSV for finance",
            code_dir=assets.EXPORT_CODE_DIR, layers=[core_layer], memory_mb=config.export_memory_mb, timeout=TIMEOUT,
            settings={
                "stage": config.stage, "region": Stack.of(self).region, "usage_table": usage.table_name,
                "exports_bucket": self.bucket.bucket_name,
                # The exporter refuses ranges whose events may have expired: it must know the table's TTL.
                "usage_ttl_days": str(config.usage_retention_days),
            },
            # Asynchronous runs (the schedules): retried, then sent to the queue (sqs:SendMessage on the role).
            retry_attempts=RUN_RETRY_ATTEMPTS,
            max_event_age=RUN_MAX_EVENT_AGE,
            dead_letter_queue=self.failure_queue,
        )
        self.function, self.role, self.log_group = built.function, built.role, built.log_group

        self.role.add_to_policy(iam.PolicyStatement(
            sid="QueryUsageEventsByDay", actions=["dynamodb:Query"],
            resources=[f"{usage.table_arn}/index/{DAY_INDEX}"]))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteExportFiles", actions=["s3:PutObject"],
            resources=[self.bucket.arn_for_objects(f"{prefix}*") for prefix in written_prefixes()]))

        self.schedules = {
            kind: scheduler.Schedule(
                self, f"{kind.value.capitalize()}Schedule",
                description=f"Overspill ({config.stage}): the {kind.value} finance export",
                schedule=scheduler.ScheduleExpression.cron(
                    **(DAILY if kind is PeriodKind.DAILY else MONTHLY), time_zone=TimeZone.ETC_UTC),
                target=targets.LambdaInvoke(
                    self.function,
                    input=scheduler.ScheduleTargetInput.from_object(SCHEDULE_INPUTS[kind]),
                    retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=SCHEDULE_MAX_EVENT_AGE,
                    dead_letter_queue=self.failure_queue,
                ),
            )
            for kind in PeriodKind
        }
