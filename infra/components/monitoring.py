"""Alarms, the topic they notify, and an operations dashboard (see docs/operations.md, Metrics → Alarms).

The proxy's EMF metrics are stored per exact dimension set, ``{fallback_reason, route, service}`` for the request
metrics: an alarm cannot aggregate over a dimension by itself, and CloudWatch alarms take no SEARCH expression. So
the request alarms sum the explicit series the proxy can emit — ``plan``/``none`` and ``bedrock`` with each fallback
reason — with metric math: ten series, the most one alarm may use. A new fallback reason must be added here.

The topic is encrypted with its own key: CloudWatch cannot publish to a topic under the AWS-managed SNS key (that
key's policy cannot grant ``cloudwatch.amazonaws.com`` the use of it).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.runtime import POWERTOOLS_SERVICE_NAME
from infra.components.usage_spill import UsageSpill
from infra.config import DeployConfig

NAMESPACE = "Overspill"  # overspill.observability.NAMESPACE
# The fallback reasons of overspill.fallback.FallbackReason: why Bedrock answered. The plan answers with "none".
FALLBACK_REASONS = ("plan_limit", "breaker_open", "throttle", "overloaded", "server_error", "unreachable",
                    "timeout", "bedrock_only", "early_switch")
FIVE_MINUTES = Duration.minutes(5)
FALLBACK_WINDOW = Duration.minutes(15)
ONE_DAY = Duration.days(1)
ITERATOR_AGE_LIMIT_MS = 10 * 60 * 1000
# Spilled usage events are replayed within seconds while the usage table takes writes: one waiting longer than
# this means the replay cannot store it (DynamoDB still failing, or the function broken).
SPILL_AGE_LIMIT_S = 15 * 60


def request_series(metric_name: str, *, statistic: str = "Sum",
                   period: Duration = FIVE_MINUTES) -> dict[str, cloudwatch.Metric]:
    """Every ``{fallback_reason, route, service}`` series of a request metric, by metric-math id."""
    pairs = [("plan", "none")] + [("bedrock", reason) for reason in FALLBACK_REASONS]
    return {f"{route}_{reason}": cloudwatch.Metric(
        namespace=NAMESPACE, metric_name=metric_name, statistic=statistic, period=period,
        dimensions_map={"service": POWERTOOLS_SERVICE_NAME, "route": route, "fallback_reason": reason})
        for route, reason in pairs}


def _sum(series: dict[str, cloudwatch.IMetric], label: str,
         period: Duration = FIVE_MINUTES) -> cloudwatch.MathExpression:
    # SUM over an array adds the series that have a value at each time (a missing one does not blank the total).
    return cloudwatch.MathExpression(expression=f"SUM([{', '.join(series)}])", using_metrics=series, label=label,
                                     period=period)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, proxy: lambda_.IFunction,
                 rollup: lambda_.IFunction, export: lambda_.IFunction, admin: lambda_.IFunction,
                 rollup_failure_queue: sqs.IQueue, export_failure_queue: sqs.IQueue, usage_spill: UsageSpill) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        removal = RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY
        alarm_arns = stack.format_arn(service="cloudwatch", resource="alarm", resource_name="*",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)

        self.key = kms.Key(
            self, "TopicKey",
            description=f"Overspill ({config.stage}) alarm topic",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(7) if not config.is_production else None,
        )
        # CloudWatch encrypts what it publishes to the topic with this key.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ))
        self.topic = sns.Topic(
            self, "AlarmTopic",
            display_name=f"Overspill ({config.stage}) alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.topic.topic_arn],
            conditions={"ArnLike": {"aws:SourceArn": alarm_arns},
                        "StringEquals": {"aws:SourceAccount": stack.account}},
        ))
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))

        self.alarms: dict[str, cloudwatch.Alarm] = {}
        # The functions: an unhandled error or a throttle is a failed request or a stalled stream.
        self._alarm("ProxyErrors", proxy.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "The proxy function failed (unhandled errors): developers saw errors")
        self._alarm("ProxyThrottles", proxy.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                    "The proxy function was throttled (account or reserved concurrency): requests were refused")
        self._alarm("ProxyServerErrors", _sum(request_series("ServerErrors"), "ServerErrors"),
                    "The proxy answered 5xx (both routes failed, or the gateway did): see the logs")
        self._fallback_share_alarm(config)
        self._alarm("RollupErrors", rollup.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "The rollup function failed: the usage stream is retried, then given up to the failure queue")
        self._alarm("RollupIteratorAge",
                    rollup.metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum"),
                    "The rollup is more than 10 minutes behind the usage stream (records expire after 12 hours)",
                    threshold=ITERATOR_AGE_LIMIT_MS)
        self._alarm("RollupFailureQueue",
                    rollup_failure_queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum"),
                    "Usage records the rollup could not apply (docs/operations.md, Rollups)")
        self._alarm("ExportFailureQueue",
                    export_failure_queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum"),
                    "Export runs failed for good: re-run their periods (docs/operations.md, Finance exports)")
        self._alarm("ExportErrors", export.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "The export function failed (it is retried; the failure queue gets the runs that fail for good)")
        # Refusals and bad input are answers (4xx); an error here is a request the admin API could not answer.
        self._alarm("AdminErrors", admin.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "The admin function failed (unhandled errors): an admin or finance request got no answer")
        # Usage the proxy could not write to DynamoDB (docs/operations.md, Usage spill queue). A spill alone is not
        # an alarm (the replay takes it back within seconds); one that waits, fails for good, or was never kept is.
        self._alarm("UsageSpillBacklog",
                    usage_spill.queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES,
                                                                               statistic="Maximum"),
                    "Usage events have waited in the usage spill queue for over 15 minutes: the replay cannot store "
                    "them (docs/operations.md, Usage spill queue)", threshold=SPILL_AGE_LIMIT_S)
        self._alarm("UsageSpillDeadLetters",
                    usage_spill.dead_letters.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum"),
                    "Spilled usage events the replay gave up on: redrive them once the cause is fixed "
                    "(docs/operations.md, Usage spill queue)")
        self._alarm("UsageReplayErrors", usage_spill.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                    "The usage replay function failed (unhandled errors): spilled usage events wait in the queue")
        self._alarm("UsageUnstored",
                    cloudwatch.Metric(namespace=NAMESPACE, metric_name="UsageUnstored", statistic="Sum",
                                      period=FIVE_MINUTES, dimensions_map={"service": POWERTOOLS_SERVICE_NAME}),
                    "Usage events neither DynamoDB nor the spill queue took: only the proxy's log has them "
                    "(\"USAGE EVENT NOT STORED\"; docs/operations.md, Usage spill queue)")
        budgets = {scope: cloudwatch.Metric(
            namespace=NAMESPACE, metric_name="BudgetThresholdReached", statistic="Sum", period=FIVE_MINUTES,
            dimensions_map={"service": POWERTOOLS_SERVICE_NAME, "scope": scope, "threshold": "100"})
            for scope in ("user", "team")}
        self._alarm("BudgetExhausted", _sum(budgets, "BudgetThresholdReached 100%"),
                    "A user's or team's budget is used up (docs/operations.md, Budgets)")
        self._alarm("UnpricedRequests", _sum(request_series("UnpricedRequests", period=ONE_DAY), "UnpricedRequests",
                                             period=ONE_DAY),
                    "Warning: requests for a model with no price (add it to the price overrides)")

        self.dashboard = self._dashboard(config, rollup, rollup_failure_queue, export_failure_queue, usage_spill)

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, description: str, *,
               threshold: float = 0) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[construct_id] = alarm
        return alarm

    def _fallback_share_alarm(self, config: DeployConfig) -> None:
        series = request_series("Requests", period=FALLBACK_WINDOW)
        bedrock = {k: v for k, v in series.items() if k.startswith("bedrock_")}
        share = cloudwatch.MathExpression(
            expression=f"100 * SUM([{', '.join(bedrock)}]) / SUM([{', '.join(series)}])",
            using_metrics=series, label="Bedrock share of requests (%)", period=FALLBACK_WINDOW)
        self._alarm("BedrockFallbackShare", share,
                    f"Bedrock answered more than {config.fallback_alarm_percent}% of requests over 15 minutes "
                    "(docs/operations.md, A developer is on Bedrock and should not be)",
                    threshold=config.fallback_alarm_percent)

    def _dashboard(self, config: DeployConfig, rollup: lambda_.IFunction, rollup_failure_queue: sqs.IQueue,
                   export_failure_queue: sqs.IQueue, usage_spill: UsageSpill) -> cloudwatch.Dashboard:
        requests = request_series("Requests")
        by_route = [_sum({k: v for k, v in requests.items() if k.startswith(f"{route}_")}, route)
                    for route in ("plan", "bedrock")]
        reasons = [cloudwatch.Metric(namespace=NAMESPACE, metric_name="Requests", statistic="Sum",
                                     period=FIVE_MINUTES, label=reason,
                                     dimensions_map={"service": POWERTOOLS_SERVICE_NAME, "route": "bedrock",
                                                     "fallback_reason": reason})
                   for reason in FALLBACK_REASONS]

        def latency(metric_name: str) -> list[cloudwatch.IMetric]:
            # Percentiles do not add up across series: one line per route and fallback reason.
            return [cloudwatch.MathExpression(
                expression=f"SEARCH('{{{NAMESPACE},fallback_reason,route,service}} MetricName=\"{metric_name}\"', "
                           f"'{stat}', 300)",
                using_metrics={}, label=stat, period=FIVE_MINUTES) for stat in ("p50", "p99")]

        # Dashboards are global to the account: the Region in the name keeps two deployments of a stage apart.
        dashboard = cloudwatch.Dashboard(self, "Dashboard",
                                         dashboard_name=f"Overspill-{config.stage}-{Stack.of(self).region}")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Requests by route", left=by_route, width=12),
            cloudwatch.GraphWidget(title="Fallback reasons (Bedrock requests)", left=reasons, width=12, stacked=True),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="TimeToFirstByte (ms)", left=latency("TimeToFirstByte"), width=12),
            cloudwatch.GraphWidget(title="GatewayOverhead (ms)", left=latency("GatewayOverhead"), width=12),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="CostUSD", left=[_sum(request_series("CostUSD"), "CostUSD")], width=8),
            cloudwatch.GraphWidget(title="Rollup IteratorAge (ms)",
                                   left=[rollup.metric("IteratorAge", period=FIVE_MINUTES, statistic="Maximum")],
                                   width=8),
            cloudwatch.GraphWidget(title="Failure queue depths", width=8, left=[
                rollup_failure_queue.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label="rollup"),
                export_failure_queue.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label="exports"),
                usage_spill.queue.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label="usage spill"),
                usage_spill.dead_letters.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum", label="usage spill dead letters"),
            ]),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24),
        )
        return dashboard

