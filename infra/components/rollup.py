"""The rollup: the usage table's stream → functions/rollup → the rollups table (one transaction per event).

Lambda's event source mapping reads the stream (NEW_IMAGE) and hands the function batches of INSERT records only:
the REMOVE records of TTL expiry are filtered out before they cost an invocation (the code ignores them too). The
function reports failed records (``ReportBatchItemFailures``), so Lambda re-delivers from the first failure; a
re-delivered event is a no-op thanks to its marker. What can never be counted goes to one failure queue, by two
routes with two shapes of message:

- the function sends a *poison* record itself (an item it cannot read, or one DynamoDB refuses): the whole record,
  with the error (see ``overspill.usage.rollup_stream.FailureQueue``);
- Lambda sends the *batches it gave up on* (retries exhausted, or older than ``MAX_RECORD_AGE``): an invocation
  record naming the shard and the sequence-number range, not the records (repair: ``overspill rollups rebuild``
  of the days concerned).

One queue: one place to look and one alarm; the two shapes are told apart by ``requestContext`` (Lambda's).
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import assets
from infra.components.data import Data
from infra.components.runtime import failure_queue, handler_function
from infra.config import DeployConfig

TIMEOUT = Duration.seconds(60)
MEMORY_MB = 256
BATCH_SIZE = 100
# Up to this long to fill a batch: fewer, fuller invocations; budgets read the rollups, so not much longer.
MAX_BATCHING_WINDOW = Duration.seconds(2)
# Retries of a failing batch (a bisection does not count as one) before Lambda gives up on it.
RETRY_ATTEMPTS = 5
# The stream keeps records for 24 hours. A record older than this is given up on (and reported to the queue)
# while half a day remains to read it again from the stream, instead of being trimmed away unreported.
MAX_RECORD_AGE = Duration.hours(12)
# SQS's maximum: time to notice the alarm, fix the cause and replay by hand.
# Lambda's execution-role permissions for a DynamoDB stream (Lambda developer guide, "Execution role
# permissions"). ListStreams takes no resource (IAM has no resource type for it): the one "*" of this role.
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
LIST_STREAMS_ACTION = "dynamodb:ListStreams"
# Each event is one TransactWriteItems on the rollups table: a Put of the event's marker (conditional on it not
# existing) and an Update (ADD) of every row it counts in. IAM authorises each action of a transaction as its own
# operation; no ConditionCheck and no Delete is ever part of it. (Rebuilds run from an operator's terminal.)
ROLLUPS_TABLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")
INSERT_ONLY = lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})


@jsii.implements(lambda_.IEventSourceDlq)
class _OnFailureQueue:
    """Lambda's on-failure destination for the stream, granting nothing by itself (CDK's ``SqsDlq`` would add
    sqs:GetQueueAttributes and sqs:GetQueueUrl, which nothing uses): the role's SendMessage grant covers it."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(self, target: lambda_.IEventSourceMapping,
             target_handler: lambda_.IFunction) -> lambda_.DlqDestinationConfig:
        return lambda_.DlqDestinationConfig(destination=self._queue.queue_arn)


class Rollup(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, data: Data,
                 core_layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        usage = data.table("usage_table")
        rollups = data.table("rollups_table")
        if usage.table_stream_arn is None:
            raise ValueError("the usage table has no stream (see UsageEventModel's stream_view_type)")

        self.failure_queue = failure_queue(self, config)
        built = handler_function(
            self, config, name="rollup",
            description=f"Overspill ({config.stage}) rollup: usage stream → per user/team/day/month sums",
            code_dir=assets.ROLLUP_CODE_DIR, layers=[core_layer], memory_mb=MEMORY_MB, timeout=TIMEOUT,
            settings={"stage": config.stage, "region": Stack.of(self).region, "rollups_table": rollups.table_name,
                      "rollup_failure_queue_url": self.failure_queue.queue_url},
        )
        self.function, self.role, self.log_group = built.function, built.role, built.log_group

        self.role.add_to_policy(iam.PolicyStatement(
            sid="ApplyEventsToRollups", actions=list(ROLLUPS_TABLE_ACTIONS), resources=[rollups.table_arn]))
        # The function's poison records, and Lambda's reports of the batches it gave up on.
        self.role.add_to_policy(iam.PolicyStatement(
            sid="SendToTheFailureQueue", actions=["sqs:SendMessage"], resources=[self.failure_queue.queue_arn]))
        # For the event source mapping (Lambda reads the stream with the function's role).
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadTheUsageStream", actions=list(STREAM_READ_ACTIONS), resources=[usage.table_stream_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListStreams", actions=[LIST_STREAMS_ACTION], resources=["*"]))

        # TRIM_HORIZON: a new mapping (first deploy, or a replacement) starts from the oldest record the stream
        # still holds; events already applied are no-ops by their markers, so nothing is lost or counted twice.
        self.event_source = lambda_.EventSourceMapping(
            self, "UsageStream",
            target=self.function,
            event_source_arn=usage.table_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            max_batching_window=MAX_BATCHING_WINDOW,
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            parallelization_factor=config.rollup_parallelization_factor,
            filters=[INSERT_ONLY],
            on_failure=_OnFailureQueue(self.failure_queue),
        )
        # Lambda checks the role's stream access when it creates the mapping.
        self.event_source.node.add_dependency(self.role)
