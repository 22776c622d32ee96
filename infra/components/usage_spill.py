"""The usage spill queue: where the proxy puts a usage event DynamoDB would not take, and the usage_replay function
that writes it back into the usage table (``overspill.usage.spill``, ``overspill.usage.replay``; why a queue:
docs/decisions.md).

- The queue: SQS-managed encryption, TLS only, 14 days. A message that fails ``MAX_RECEIVES`` deliveries goes to the
  dead-letter queue (the same settings), where an operator looks (docs/operations.md, Usage spill queue).
- The function reads it through an event source mapping, ten messages at a time, reporting the ones that failed
  (``ReportBatchItemFailures``): only those come back, after the visibility timeout.
- IAM: the proxy may only send to the queue (``Proxy.spill_usage_to``); the function may only consume it (what
  Lambda's event source mapping does with the function's role) and put items in the usage table.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import assets
from infra.components.data import Data
from infra.components.runtime import FAILURE_RETENTION, handler_function
from infra.config import DeployConfig
from overspill.usage.spill import MAX_RECEIVES

TIMEOUT = Duration.seconds(30)
MEMORY_MB = 256
BATCH_SIZE = 10
MAX_BATCHING_WINDOW = Duration.seconds(1)
# AWS's guidance for an SQS event source: at least six times the function's timeout, so that a message is not
# delivered again while a slow invocation still holds it. With MAX_RECEIVES, the replay keeps trying for about
# MAX_RECEIVES × 3 minutes (half an hour) of a DynamoDB incident before a message goes to the dead-letter queue.
VISIBILITY_TIMEOUT = Duration.seconds(6 * 30)
# What Lambda's SQS event source mapping does with the function's role (Lambda developer guide, "Execution role
# permissions" for Amazon SQS): nothing more, not even ChangeMessageVisibility.
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
# The replay writes each spilled item with the proxy's own condition (no item with that request id yet).
USAGE_TABLE_ACTIONS = ("dynamodb:PutItem",)


class UsageSpill(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, data: Data,
                 core_layer: lambda_.ILayerVersion) -> None:
        super().__init__(scope, construct_id)
        usage = data.table("usage_table")
        removal = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY

        self.dead_letters = sqs.Queue(
            self, "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILURE_RETENTION,
            removal_policy=removal,
        )
        self.queue = sqs.Queue(
            self, "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILURE_RETENTION,
            visibility_timeout=VISIBILITY_TIMEOUT,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
            removal_policy=removal,
        )

        built = handler_function(
            self, config, name="usage replay",
            description=f"Overspill ({config.stage}) usage replay: the usage spill queue → the usage table",
            code_dir=assets.USAGE_REPLAY_CODE_DIR, layers=[core_layer], memory_mb=MEMORY_MB, timeout=TIMEOUT,
            settings={"stage": config.stage, "region": Stack.of(self).region, "usage_table": usage.table_name},
        )
        self.function, self.role, self.log_group = built.function, built.role, built.log_group

        self.role.add_to_policy(iam.PolicyStatement(
            sid="StoreSpilledUsageEvents", actions=list(USAGE_TABLE_ACTIONS), resources=[usage.table_arn]))
        # For the event source mapping (Lambda reads the queue with the function's role).
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ConsumeTheSpillQueue", actions=list(CONSUME_ACTIONS), resources=[self.queue.queue_arn]))

        self.event_source = lambda_.EventSourceMapping(
            self, "SpillQueue",
            target=self.function,
            event_source_arn=self.queue.queue_arn,
            batch_size=BATCH_SIZE,
            max_batching_window=MAX_BATCHING_WINDOW,
            report_batch_item_failures=True,
        )
        # Lambda checks the role's access to the queue when it creates the mapping.
        self.event_source.node.add_dependency(self.role)
