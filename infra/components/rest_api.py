"""Optional (context ``restApi``): an API Gateway REST API with AWS WAF in front of the proxy function.

A second door to the same function for organisations that want a WAF, per-client rate limits and access logs at the
edge; the Function URL stays as it is. API Gateway invokes the function with response streaming
(``responseTransferMode: STREAM``, Lambda's InvokeWithResponseStream) and hands it the REST (v1) proxy event, which
``overspill.proxy.rest_event`` reads as the same request a Function URL delivers; the streamed prelude is the same.
Developers then set ``ANTHROPIC_BASE_URL=<RestApiUrl>ak/<their access key>``.

The access key in the path is the credential, so nothing here may record the path: the access log names the
resource (``/{proxy+}``) instead, execution logging stays off, and WAF keeps no sampled requests.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import DeployConfig

# API Gateway allows a streamed integration up to 15 minutes (buffered ones stop at 29 s): the proxy function's own
# timeout, so a long extended-thinking stream is never cut by the gateway first.
STREAM_TIMEOUT = Duration.minutes(15)

# One JSON line per request. `$context.resourcePath` is the matched resource (`/{proxy+}`), never `$context.path`
# (which holds the access key); no request or response bodies exist in this vocabulary.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatencyMs": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatencyMs": "$context.integration.latency",
    "integrationError": "$context.integrationErrorMessage",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "wafLatencyMs": "$context.waf.latency",
}

# Claude Code's requests are conversations: source code, shell output, HTML, paths like ../../etc/passwd, URLs,
# sometimes `${jndi:` in a log someone is debugging, and 75 KB or more before the first message. The gateway never
# interprets a body (it goes to Anthropic as it came), so the managed rules that inspect bodies would only block
# developers' work: they count (metrics, no block). Their URI, query, header and cookie rules still block.
COMMON_RULES_COUNTED = (
    "SizeRestrictions_BODY",          # 8 KB: every Claude Code request is larger
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
)
KNOWN_BAD_INPUTS_COUNTED = (
    "Log4JRCE_BODY",
    "JavaDeserializationRCE_BODY",
)

# What Claude Code prints when the gateway in front refuses (PROTOCOL §2: it shows the message; it retries 429 and
# 5xx, never 403). API Gateway's own answers, in Anthropic's error shape.
_GATEWAY_ANSWERS = {
    apigateway.ResponseType.THROTTLED: (
        "429", "rate_limit_error", "Overspill's API Gateway is receiving more requests than its configured rate "
                                   "(restApiRateLimit). Claude Code retries; if this persists, tell your Overspill "
                                   "admin."),
    apigateway.ResponseType.WAF_FILTERED: (
        "403", "permission_error", "Overspill's firewall (AWS WAF) refused this request. If it keeps happening, "
                                   "tell your Overspill admin (WAF metrics name the rule that matched)."),
    apigateway.ResponseType.DEFAULT_5_XX: (
        "502", "api_error", "Overspill's API Gateway could not get an answer from the gateway function. "
                            "Claude Code retries; if this persists, tell your Overspill admin."),
}
RATE_LIMITED_BODY = "rate-limited"


def _error_json(error_type: str, message: str) -> str:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}})


class RestApiFront(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig,
                 proxy_function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs",
            retention=logs.RetentionDays.ONE_YEAR if config.is_production else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
        )
        self.api = apigateway.RestApi(
            self, "Api",
            rest_api_name=f"overspill-{config.stage}",
            description=f"Overspill ({config.stage}) proxy behind AWS WAF; streams the proxy function's answers",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # API Gateway writes access logs only through the Region's account-wide CloudWatch role; retained, as
            # other APIs in the account may rely on it once set.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=config.rest_api_rate_limit,
                throttling_burst_limit=config.rest_api_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                # Execution logs would hold the request path (the access key) and, with data tracing, prompts.
                logging_level=apigateway.MethodLoggingLevel.OFF,
                data_trace_enabled=False,
                tracing_enabled=False,
            ),
        )
        # No authorizer or API key: the access key in the path is the credential, checked by the function.
        integration = apigateway.LambdaIntegration(
            proxy_function,
            response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            timeout=STREAM_TIMEOUT,
            # One invoke permission per method, for this API's stage only (no console test-invoke grant).
            allow_test_invoke=False,
        )
        self.api.root.add_method("ANY", integration)
        self.api.root.add_resource("{proxy+}").add_method("ANY", integration)
        for response_type, (status, error_type, message) in _GATEWAY_ANSWERS.items():
            self.api.add_gateway_response(
                f"{response_type.response_type.title().replace('_', '')}Answer", type=response_type,
                status_code=status, response_headers={"x-should-retry": "'true'" if status != "403" else "'false'"},
                templates={"application/json": _error_json(error_type, message)})

        self.web_acl = self._web_acl(config)
        wafv2.CfnWebACLAssociation(self, "WebAclAssociation", resource_arn=self.api.deployment_stage.stage_arn,
                                   web_acl_arn=self.web_acl.attr_arn)

        # A domain of the team's own (regional, TLS 1.2), mapped to the stage at its root, so that the path the
        # function sees is /ak/<key>/v1/… as through the Function URL. The WAF guards the stage either way.
        self.domain = None
        self._domain_name = config.rest_api_domain_name  # the literal name, for the URL developers are given
        if config.rest_api_domain_name:
            self.domain = self.api.add_domain_name(
                "Domain", domain_name=config.rest_api_domain_name,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", config.rest_api_certificate_arn),
                endpoint_type=apigateway.EndpointType.REGIONAL, security_policy=apigateway.SecurityPolicy.TLS_1_2)

    @property
    def url(self) -> str:
        """Where developers point Claude Code: the custom domain when there is one, else the stage's invoke URL
        (ending with "/")."""
        return f"https://{config_domain}/" if (config_domain := self._domain_name) else self.api.url

    def _web_acl(self, config: DeployConfig) -> wafv2.CfnWebACL:
        name = f"overspill-{config.stage}-rest"

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            # Sampled requests would keep request URIs (access keys) for hours, readable in the WAF console.
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=False)

        def managed(priority: int, group: str, counted: tuple[str, ...]) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=group, priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}))
                            for rule in counted])),
                visibility_config=visibility(f"{name}-{group}"))

        per_ip = wafv2.CfnWebACL.RuleProperty(
            name="RequestsPerIp", priority=0,
            action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty(
                # A 429 in Anthropic's shape: Claude Code shows the message and retries with backoff.
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429, custom_response_body_key=RATE_LIMITED_BODY))),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=config.waf_rate_limit_per_5min, aggregate_key_type="IP", evaluation_window_sec=300)),
            visibility_config=visibility(f"{name}-RequestsPerIp"))
        return wafv2.CfnWebACL(
            self, "WebAcl",
            name=name,
            description=f"Overspill {config.stage} REST API: AWS managed rules and a per-IP rate limit",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            custom_response_bodies={RATE_LIMITED_BODY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON",
                content=_error_json("rate_limit_error", "Overspill's firewall saw too many requests from your IP "
                                                        "address in 5 minutes (wafRateLimitPer5Min) and is holding "
                                                        "them back for a few minutes. Claude Code retries."))},
            rules=[per_ip,
                   managed(1, "AWSManagedRulesCommonRuleSet", COMMON_RULES_COUNTED),
                   managed(2, "AWSManagedRulesKnownBadInputsRuleSet", KNOWN_BAD_INPUTS_COUNTED)],
            visibility_config=visibility(name),
        )
