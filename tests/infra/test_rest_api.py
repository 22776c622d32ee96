"""The optional API Gateway REST front (context restApi): streaming to the proxy function, AWS WAF on its stage,
throttling, access logs that never hold an access key; and none of it unless asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from infra.app import build_app, cdk_json_context
from infra.config import ConfigError, DeployConfig
from tests.infra.conftest import Synth

# As an operator would deploy it: `-c restApi=true -c restApiRateLimit=25 …` (context values as strings).
FLAGGED_CONTEXT = {"restApi": "true", "restApiRateLimit": "25", "restApiBurstLimit": "60",
                   "wafRateLimitPer5Min": "1200"}
FRONT_TYPES = ("AWS::ApiGateway::", "AWS::WAFv2::")


@pytest.fixture(scope="module")
def flagged(synth) -> Synth:
    return synth(**FLAGGED_CONTEXT)


def _refs(value: Any) -> set[str]:
    """Every Ref and GetAtt target inside a CloudFormation value."""
    if isinstance(value, dict):
        found = {value["Ref"]} if "Ref" in value else set()
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def _literal(value: Any) -> str:
    """The literal text of a Fn::Join (references left out)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_literal(part) for part in value["Fn::Join"][1])
    return ""


def _api(synth: Synth) -> str:
    return synth.only("AWS::ApiGateway::RestApi")[0]


def _stage(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.only("AWS::ApiGateway::Stage")


def test_without_the_flag_there_is_no_api_gateway_waf_or_extra_permission(dev, prod):
    assert DeployConfig().rest_api is False and cdk_json_context()["restApi"] is False
    for synth in (dev, prod):
        assert not [r for r in synth.json["Resources"].values() if r["Type"].startswith(FRONT_TYPES)]
        assert not [p for p in synth.resources("AWS::Lambda::Permission").values()
                    if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]
        assert "RestApiUrl" not in synth.json["Outputs"]


def test_every_method_streams_the_proxy_function_through_an_aws_proxy_integration(flagged):
    function_id = flagged.function[0]
    methods = flagged.resources("AWS::ApiGateway::Method")
    root = flagged.json["Resources"][_api(flagged)]
    assert root["Properties"]["EndpointConfiguration"]["Types"] == ["REGIONAL"]
    resources = [r["Properties"]["PathPart"] for r in flagged.resources("AWS::ApiGateway::Resource").values()]
    assert resources == ["{proxy+}"]
    assert sorted(m["Properties"]["HttpMethod"] for m in methods.values()) == ["ANY", "ANY"]
    for method in methods.values():
        props = method["Properties"]
        integration = props["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["ResponseTransferMode"] == "STREAM"
        assert integration["IntegrationHttpMethod"] == "POST"
        # InvokeWithResponseStream, not the buffered 2015-03-31/…/invocations.
        uri = _literal(integration["Uri"])
        assert ":lambda:path/2021-11-15/functions/" in uri and uri.endswith("/response-streaming-invocations")
        assert _refs(integration["Uri"]) - {"AWS::Partition", "AWS::Region"} == {function_id}
        # As long as the function may run: API Gateway's limit for streamed integrations.
        assert integration["TimeoutInMillis"] == 15 * 60 * 1000
        # The access key in the path is the credential: no authorizer, no API key.
        assert props["AuthorizationType"] == "NONE" and not props.get("ApiKeyRequired")


def test_the_function_url_stays_as_it_is(dev, flagged):
    url = flagged.resource_of(flagged.stack.proxy.url)
    assert url == dev.resource_of(dev.stack.proxy.url)
    assert url[1]["Properties"]["InvokeMode"] == "RESPONSE_STREAM" and url[1]["Properties"]["AuthType"] == "NONE"
    assert flagged.function == dev.function


def test_api_gateway_may_invoke_only_the_proxy_function_and_only_from_this_api_stage(flagged):
    api, (stage, _) = _api(flagged), _stage(flagged)
    permissions = [p["Properties"] for p in flagged.resources("AWS::Lambda::Permission").values()
                   if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]
    # One per method (root and {proxy+}); no console test-invoke grant.
    assert len(permissions) == 2
    for permission in permissions:
        assert permission["Action"] == "lambda:InvokeFunction"  # covers InvokeWithResponseStream
        assert _refs(permission["FunctionName"]) == {flagged.function[0]}
        assert {api, stage} <= _refs(permission["SourceArn"])
        assert ":execute-api:" in _literal(permission["SourceArn"])


def test_the_stage_throttles_at_the_configured_rate_and_burst(flagged):
    _, stage = _stage(flagged)
    (settings,) = stage["Properties"]["MethodSettings"]
    assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (25, 60)
    assert stage["Properties"]["StageName"] == flagged.config.stage
    assert stage["Properties"]["TracingEnabled"] is False


def test_access_logs_name_the_resource_never_the_path_that_holds_the_access_key(flagged):
    _, stage = _stage(flagged)
    setting = stage["Properties"]["AccessLogSetting"]
    fields = json.loads(setting["Format"])
    variables = set(fields.values())
    assert fields["resourcePath"] == "$context.resourcePath"  # /{proxy+}
    assert "$context.path" not in variables and "$context.requestOverride.path" not in variables
    assert not [v for v in variables if "path" in v.lower() and v != "$context.resourcePath"]
    assert {"$context.requestId", "$context.status", "$context.identity.sourceIp", "$context.waf.status",
            "$context.integration.status"} <= variables
    assert all(v.startswith("$context.") for v in variables)  # no bodies: nothing but context variables
    # Execution logs (which would record the path, and with data tracing the prompt) stay off.
    (settings,) = stage["Properties"]["MethodSettings"]
    assert settings["LoggingLevel"] == "OFF" and settings["DataTraceEnabled"] is False
    log_group_id, log_group = flagged.resource_of(flagged.stack.rest_api.access_logs)
    assert _refs(setting["DestinationArn"]) >= {log_group_id}
    assert log_group["Properties"]["RetentionInDays"] == 30


def _web_acl(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.only("AWS::WAFv2::WebACL")


def test_the_waf_blocks_floods_per_ip_and_applies_the_aws_managed_rules(flagged):
    _, acl = _web_acl(flagged)
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    assert set(rules) == {"RequestsPerIp", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}

    flood = rules["RequestsPerIp"]
    assert flood["Priority"] == 0  # before the managed rules: a flood costs no managed-rule inspection
    assert flood["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "EvaluationWindowSec": 300,
                                                        "Limit": 1200}
    blocked = flood["Action"]["Block"]["CustomResponse"]
    assert blocked["ResponseCode"] == 429  # Claude Code retries a 429 with backoff
    body = props["CustomResponseBodies"][blocked["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"]["type"] == "rate_limit_error"

    for name in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        rule = rules[name]
        assert rule["OverrideAction"] == {"None": {}}  # the group's own actions apply
        statement = rule["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", name)
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    counted = {o["Name"]: o["ActionToUse"] for o in common["RuleActionOverrides"]}
    # Claude Code's requests are 75 KB and more: the 8 KB body limit would block every one of them.
    assert counted["SizeRestrictions_BODY"] == {"Count": {}}
    # Only body inspections are relaxed: the URI, query, header and cookie rules still block.
    assert all(name.endswith("_BODY") and action == {"Count": {}} for name, action in counted.items())
    bad_inputs = rules["AWSManagedRulesKnownBadInputsRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert all(o["Name"].endswith("_BODY") for o in bad_inputs["RuleActionOverrides"])


def test_the_waf_reports_metrics_but_keeps_no_sampled_requests(flagged):
    _, acl = _web_acl(flagged)
    configs = [acl["Properties"]["VisibilityConfig"]] + [r["VisibilityConfig"] for r in acl["Properties"]["Rules"]]
    assert all(c["CloudWatchMetricsEnabled"] is True for c in configs)
    # Sampled requests keep request URIs, and so access keys, in the WAF console.
    assert all(c["SampledRequestsEnabled"] is False for c in configs)
    assert len({c["MetricName"] for c in configs}) == len(configs)


def test_the_waf_guards_this_api_stage(flagged):
    acl_id, _ = _web_acl(flagged)
    (_, association) = flagged.only("AWS::WAFv2::WebACLAssociation")
    props = association["Properties"]
    assert _refs(props["WebACLArn"]) == {acl_id}
    assert {_api(flagged), _stage(flagged)[0]} <= _refs(props["ResourceArn"])
    assert "/restapis/" in _literal(props["ResourceArn"]) and "/stages/" in _literal(props["ResourceArn"])


def test_api_gateways_own_refusals_read_as_anthropic_errors(flagged):
    answers = {r["Properties"]["ResponseType"]: r["Properties"]
               for r in flagged.resources("AWS::ApiGateway::GatewayResponse").values()}
    expected = {"THROTTLED": ("429", "rate_limit_error", "'true'"),
                "WAF_FILTERED": ("403", "permission_error", "'false'"),
                "DEFAULT_5XX": ("502", "api_error", "'true'")}
    assert set(answers) == set(expected)
    for response_type, (status, error_type, retry) in expected.items():
        answer = answers[response_type]
        body = json.loads(answer["ResponseTemplates"]["application/json"])
        assert answer["StatusCode"] == status
        assert body["type"] == "error" and body["error"]["type"] == error_type and body["error"]["message"]
        assert answer["ResponseParameters"]["gatewayresponse.header.x-should-retry"] == retry


def test_the_rest_api_url_is_an_output(flagged):
    output = flagged.json["Outputs"]["RestApiUrl"]
    assert {_api(flagged), _stage(flagged)[0]} <= _refs(output["Value"])
    assert _literal(output["Value"]).startswith("https://") and _literal(output["Value"]).endswith("/")
    assert "ak/<their access key>" in output["Description"]


def test_the_flagged_template_passes_cfn_lint(flagged):
    matches = lint(json.dumps(flagged.json),
                   config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=["W3005"]))
    assert [str(m) for m in matches] == []


def test_defaults_are_the_documented_ones():
    config = DeployConfig.from_context(cdk_json_context())
    assert (config.rest_api, config.rest_api_rate_limit, config.rest_api_burst_limit,
            config.waf_rate_limit_per_5min) == (False, 100, 200, 3000)
    assert DeployConfig.from_context({"restApi": True}).rest_api is True
    assert DeployConfig.from_context({"restApi": " TRUE "}).rest_api is True
    assert DeployConfig.from_context({"restApi": "false"}).rest_api is False


@pytest.mark.parametrize(("key", "value"), [
    ("restApi", "yes"), ("restApi", 1), ("restApi", "1"), ("restApi", "on"), ("restApi", ["true"]),
    ("restApiRateLimit", 0), ("restApiRateLimit", "-5"), ("restApiRateLimit", "10.5"), ("restApiRateLimit", True),
    ("restApiRateLimit", 10_001),
    ("restApiBurstLimit", "0"), ("restApiBurstLimit", -1), ("restApiBurstLimit", 5_001),
    ("wafRateLimitPer5Min", 0), ("wafRateLimitPer5Min", "9"), ("wafRateLimitPer5Min", "lots"),
])
def test_bad_values_fail_the_synth_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        build_app({key: value})


DOMAIN_CONTEXT = {**FLAGGED_CONTEXT, "restApiDomainName": "claude.example.com",
                  "restApiCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/"
                                           "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}


def test_a_custom_domain_fronts_the_stage_at_its_root_with_tls_1_2(synth):
    with_domain = synth(**DOMAIN_CONTEXT)
    [(_, domain)] = with_domain.resources("AWS::ApiGateway::DomainName").items()
    props = domain["Properties"]
    assert props["DomainName"] == "claude.example.com"
    assert props["RegionalCertificateArn"] == DOMAIN_CONTEXT["restApiCertificateArn"]
    assert props["EndpointConfiguration"] == {"Types": ["REGIONAL"]} and props["SecurityPolicy"] == "TLS_1_2"
    [(_, mapping)] = with_domain.resources("AWS::ApiGateway::BasePathMapping").items()
    assert "BasePath" not in mapping["Properties"] or mapping["Properties"]["BasePath"] in ("", "(none)")
    outputs = with_domain.json["Outputs"]
    assert outputs["RestApiUrl"]["Value"] == "https://claude.example.com/"
    assert "RestApiDomainTarget" in outputs


@pytest.mark.parametrize(("context", "key"), [
    ({"restApi": "true", "restApiDomainName": "claude.example.com"}, "restApiDomainName"),
    ({"restApiDomainName": "claude.example.com",
      "restApiCertificateArn": DOMAIN_CONTEXT["restApiCertificateArn"]}, "restApiDomainName"),
    ({**DOMAIN_CONTEXT, "restApiDomainName": "https://claude.example.com/"}, "restApiDomainName"),
    ({**DOMAIN_CONTEXT, "restApiCertificateArn": "arn:aws:iam::123456789012:server-certificate/x"},
     "restApiCertificateArn"),
])
def test_a_bad_custom_domain_fails_the_synth_naming_the_key(context, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        build_app(context)
