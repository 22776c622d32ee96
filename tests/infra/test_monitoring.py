"""The alarms, their topic and the dashboard, as synthesised: each alarm on a metric (and dimension set) the code
really emits, with its threshold, and the topic told of both its alarm and its OK state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.components.monitoring import FALLBACK_REASONS
from overspill.fallback import FallbackReason
from overspill.observability import NAMESPACE
from tests.infra.conftest import Synth

EMAIL_CONTEXT = {"stage": "ops", "alarmEmail": "ops@example.com", "fallbackAlarmPercent": "30"}
# The dimension set of every request metric (overspill.observability.emit_request_metrics; Powertools adds service).
REQUEST_SERIES = {("plan", "none")} | {("bedrock", reason) for reason in FALLBACK_REASONS}


@pytest.fixture(scope="module")
def with_email(synth) -> Synth:
    return synth(**EMAIL_CONTEXT)


def _topic_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.monitoring.topic)


def _alarm(synth: Synth, name: str) -> dict[str, Any]:
    return synth.resource_of(synth.stack.monitoring.alarms[name])[1]["Properties"]


def _lambda_ref(synth: Synth, function) -> dict[str, str]:
    return {"Ref": synth.logical_id(function)}


def _queue_name(synth: Synth, queue) -> dict[str, Any]:
    return {"Fn::GetAtt": [synth.logical_id(queue), "QueueName"]}


def _math(props: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The returned expression of a metric-math alarm and its metrics by id."""
    (expression,) = [m for m in props["Metrics"] if m.get("ReturnData", True) and "Expression" in m]
    stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
    assert all(not m["ReturnData"] for m in props["Metrics"] if "MetricStat" in m)
    return expression["Expression"], stats


def _dims(stat: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}


def _request_series(stats: dict[str, dict[str, Any]], metric_name: str, period: int) -> set[tuple[str, str]]:
    series = set()
    for stat in stats.values():
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]) == (NAMESPACE, metric_name)
        assert (stat["Stat"], stat["Period"]) == ("Sum", period)
        dims = _dims(stat)
        assert set(dims) == {"service", "route", "fallback_reason"} and dims["service"] == "overspill"
        series.add((dims["route"], dims["fallback_reason"]))
    return series


def test_the_enumerated_fallback_reasons_are_the_codes():
    """The request alarms add up explicit series: a reason the code has and the alarms lack would go unseen."""
    assert set(FALLBACK_REASONS) == {str(r) for r in FallbackReason}
    assert len(REQUEST_SERIES) <= 10  # CloudWatch's limit of metrics per alarm


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(any_config):
    alarms = any_config.resources("AWS::CloudWatch::Alarm")
    assert set(any_config.stack.monitoring.alarms) == {
        "ProxyErrors", "ProxyThrottles", "ProxyServerErrors", "BedrockFallbackShare", "RollupErrors",
        "RollupIteratorAge", "RollupFailureQueue", "ExportFailureQueue", "ExportErrors", "BudgetExhausted",
        "UnpricedRequests", "AdminErrors",
        # The usage spill queue (tests/infra/test_usage_spill.py).
        "UsageSpillBacklog", "UsageSpillDeadLetters", "UsageReplayErrors", "UsageUnstored"}
    assert len(alarms) == 16
    topic = {"Ref": _topic_id(any_config)}
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [topic], logical_id
        assert props["OKActions"] == [topic], logical_id
        assert props["EvaluationPeriods"] == 1, logical_id
        assert props["ComparisonOperator"] == "GreaterThanThreshold", logical_id
        assert props["TreatMissingData"] == "notBreaching", logical_id
        assert props["AlarmDescription"], logical_id


@pytest.mark.parametrize(("name", "function", "metric_name", "statistic", "threshold"), [
    ("ProxyErrors", "proxy", "Errors", "Sum", 0),
    ("ProxyThrottles", "proxy", "Throttles", "Sum", 0),
    ("RollupErrors", "rollup", "Errors", "Sum", 0),
    ("RollupIteratorAge", "rollup", "IteratorAge", "Maximum", 10 * 60 * 1000),
    ("ExportErrors", "exports", "Errors", "Sum", 0),
    ("AdminErrors", "admin", "Errors", "Sum", 0),
])
def test_lambda_alarms(any_stage, name, function, metric_name, statistic, threshold):
    props = _alarm(any_stage, name)
    assert props["Namespace"] == "AWS/Lambda"
    assert props["MetricName"] == metric_name
    assert props["Dimensions"] == [{"Name": "FunctionName",
                                    "Value": _lambda_ref(any_stage, getattr(any_stage.stack, function).function)}]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == (statistic, 300, threshold)


@pytest.mark.parametrize(("name", "component"), [("RollupFailureQueue", "rollup"), ("ExportFailureQueue", "exports")])
def test_failure_queue_alarms_fire_on_any_visible_message(any_stage, name, component):
    props = _alarm(any_stage, name)
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    queue = getattr(any_stage.stack, component).failure_queue
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": _queue_name(any_stage, queue)}]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Maximum", 300, 0)


def test_server_errors_are_summed_over_every_route_and_reason(dev):
    props = _alarm(dev, "ProxyServerErrors")
    expression, stats = _math(props)
    assert expression == f"SUM([{', '.join(stats)}])"
    assert _request_series(stats, "ServerErrors", 300) == REQUEST_SERIES
    assert props["Threshold"] == 0


def test_bedrock_share_over_15_minutes_against_the_configured_percent(dev, with_email):
    for synth, percent in ((dev, 50), (with_email, 30)):
        props = _alarm(synth, "BedrockFallbackShare")
        expression, stats = _math(props)
        assert _request_series(stats, "Requests", 900) == REQUEST_SERIES
        bedrock = ", ".join(i for i, s in stats.items() if _dims(s)["route"] == "bedrock")
        assert expression == f"100 * SUM([{bedrock}]) / SUM([{', '.join(stats)}])"
        assert props["Threshold"] == percent
        assert props["TreatMissingData"] == "notBreaching"  # no traffic is no fallback


def test_budget_alarm_watches_the_100_percent_threshold_of_users_and_teams(dev):
    props = _alarm(dev, "BudgetExhausted")
    expression, stats = _math(props)
    assert expression == f"SUM([{', '.join(stats)}])"
    scopes = set()
    for stat in stats.values():
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]) == (NAMESPACE, "BudgetThresholdReached")
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
        dims = _dims(stat)
        assert set(dims) == {"service", "scope", "threshold"}
        assert (dims["service"], dims["threshold"]) == ("overspill", "100")
        scopes.add(dims["scope"])
    assert scopes == {"user", "team"}
    assert props["Threshold"] == 0


def test_unpriced_requests_warn_over_a_day(dev):
    props = _alarm(dev, "UnpricedRequests")
    expression, stats = _math(props)
    assert expression == f"SUM([{', '.join(stats)}])"
    assert _request_series(stats, "UnpricedRequests", 86400) == REQUEST_SERIES
    assert props["Threshold"] == 0
    assert props["AlarmDescription"].startswith("Warning")


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use(any_stage):
    topic_id, topic = any_stage.resource_of(any_stage.stack.monitoring.topic)
    key_id, key = any_stage.resource_of(any_stage.stack.monitoring.key)
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == ("Retain" if any_stage.config.is_production else "Delete")
    (cloudwatch,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                     if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch["Effect"] == "Allow"
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_the_topic_takes_tls_only_and_alarms_of_this_account(any_stage):
    topic_id = _topic_id(any_stage)
    (policy,) = [p["Properties"] for p in any_stage.resources("AWS::SNS::TopicPolicy").values()
                 if {"Ref": topic_id} in p["Properties"]["Topics"]]
    statements = policy["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] == "*" and deny["Resource"] == {"Ref": topic_id}
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:*" in json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"])


def test_an_email_subscription_only_when_configured(dev, with_email):
    assert dev.resources("AWS::SNS::Subscription") == {}
    (_, subscription), = with_email.resources("AWS::SNS::Subscription").items()
    assert subscription["Properties"] == {"Protocol": "email", "Endpoint": "ops@example.com",
                                          "TopicArn": {"Ref": _topic_id(with_email)}}


def test_the_topic_is_an_output(any_stage):
    assert any_stage.json["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": _topic_id(any_stage)}


def test_the_dashboard_shows_traffic_latency_cost_and_the_backlogs(any_stage):
    _, dashboard = any_stage.only("AWS::CloudWatch::Dashboard")
    separator, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
    body = separator.join(p if isinstance(p, str) else json.dumps(p) for p in parts)  # tokens as their JSON
    for title in ("Requests by route", "Fallback reasons", "TimeToFirstByte", "GatewayOverhead", "CostUSD",
                  "Rollup IteratorAge", "Failure queue depths", "Alarms"):
        assert title in body, title
    for namespace, metric in (("Overspill", "Requests"), ("Overspill", "CostUSD"), ("AWS/Lambda", "IteratorAge"),
                              ("AWS/SQS", "ApproximateNumberOfMessagesVisible")):
        assert f'"{namespace}","{metric}"' in body, metric
    for metric in ("TimeToFirstByte", "GatewayOverhead"):  # percentiles per series: a SEARCH of every one
        assert f'SEARCH(\'{{Overspill,fallback_reason,route,service}} MetricName=\\"{metric}\\"\'' in body, metric
    assert "p50" in body and "p99" in body
    for reason in FALLBACK_REASONS:
        assert reason in body
    assert any_stage.logical_id(any_stage.stack.rollup.failure_queue) in body
    assert any_stage.logical_id(any_stage.stack.exports.failure_queue) in body


def test_templates_with_an_email_pass_cfn_lint(with_email):
    from cfnlint.api import ManualArgs, lint

    from tests.infra.test_cfn_lint import IGNORED

    matches = lint(json.dumps(with_email.json),
                   config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=IGNORED))
    assert [str(m) for m in matches] == []
