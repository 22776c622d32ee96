"""The dashboard's hosting: the built ``admin_web/dist`` in a private bucket behind CloudFront, with the admin API
on the same origin under ``/api/*`` — so the dashboard needs no CORS, and ``/config.json`` says ``"apiBase": "/api"``,
the same contract ``overspill dev`` serves (``overspill.local.dev``).

- ``/api/*`` goes to the admin function's URL, uncached, with every viewer header but Host (the Cognito token is in
  Authorization; a Function URL answers only to its own Host).
- ``/config.json`` is never cached: it changes with the stack, not with the build.
- Anything else comes from the bucket, read only by this distribution (origin access control). A path without a file
  extension is a route of the single-page app and gets ``index.html`` (a CloudFront Function, not custom error
  responses: those would turn the API's own 403s and 404s into the app's page too).

The files and ``config.json`` are copied by one BucketDeployment (the pruning sync deletes what neither brings), which
then invalidates the distribution. When the dashboard is not built, a placeholder page says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import assets
from infra.components.runtime import function_log_group, function_role
from infra.config import DeployConfig
from overspill.dashboard_policy import content_security_policy

DIST_DIR = assets.REPO_ROOT / "admin_web" / "dist"
CONFIG_KEY = "config.json"
HSTS_MAX_AGE = Duration.days(365)
# CloudFront's longest origin read timeout without a quota increase. The admin API answers well within it; an
# on-demand export (POST /api/exports) of many days may not: viewers then get a 504 while the function runs on to the
# end (exports are idempotent; the CLI may use AdminApiUrl, which waits up to the function's timeout).
API_READ_TIMEOUT = Duration.seconds(60)
# Browsers revalidate every file on each load (cheap 304s by ETag: a deploy shows at once); CloudFront keeps them a
# day, and each deployment invalidates it.
FILE_CACHE_CONTROL = [s3deploy.CacheControl.set_public(), s3deploy.CacheControl.max_age(Duration.seconds(0)),
                      s3deploy.CacheControl.s_max_age(Duration.days(1))]

PLACEHOLDER_HTML = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Overspill</title></head>
<body>
<h1>Overspill</h1>
<p>The dashboard is not built yet &mdash; build admin_web (<code>npm ci &amp;&amp; npm run build</code> in
<code>admin_web/</code>) and deploy again.</p>
<p>The admin API is already here, under <code>/api</code>.</p>
</body>
</html>
"""

# ES5.1 plus what cloudfront-js-2.0 has; kept to what Node runs too, so the tests execute this very code.
_SPA_ROUTES_JS = """\
// A path whose last segment has no file extension is a route of the single-page app: answer it with index.html
// (the app's router reads the address). API paths are left alone, should they ever reach this behaviour.
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.indexOf(API_PREFIX) === 0) {
    return request;
  }
  var name = uri.substring(uri.lastIndexOf('/') + 1);
  if (name.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""


def spa_routes_code(api_path: str) -> str:
    """The viewer-request function of the default behaviour (``api_path``: "api")."""
    return f"var API_PREFIX = {json.dumps(f'/{api_path}/')};\n{_SPA_ROUTES_JS}"


def same_origin_config(dashboard_config: Mapping[str, Any], api_path: str) -> dict[str, Any]:
    """``config.json`` as served with the API on the same origin: a relative ``apiBase``, and AWS's own Cognito
    endpoint for the Region (``"endpoint": null``; only a local run names another)."""
    cognito = {**dashboard_config["cognito"], "endpoint": None}
    return {**dashboard_config, "apiBase": f"/{api_path}", "cognito": cognito}


def dashboard_source(dist_dir: Path) -> s3deploy.ISource:
    """The built dashboard, or a page saying it is not built (a deployment without it still serves the API)."""
    if (dist_dir / "index.html").is_file():
        # .vite/ holds the build manifest, read by the bundle-size check only: not for viewers.
        return s3deploy.Source.asset(str(dist_dir), exclude=[".vite"])
    return s3deploy.Source.data("index.html", PLACEHOLDER_HTML)


def config_source(document: Mapping[str, Any]) -> s3deploy.ISource:
    """``config.json`` with the stack's values filled in at deploy time. Written as text: Source.json_data would
    drop the null (jsii passes None as undefined), and its ``escape`` option garbles quoted values (CDK 2.275)."""
    return s3deploy.Source.data(CONFIG_KEY, json.dumps(document, separators=(",", ":")))


class Web(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, api_url: lambda_.IFunctionUrl,
                 api_path: str, dashboard_config: Mapping[str, Any], dist_dir: Path = DIST_DIR) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        production = config.is_production

        # Only CloudFront reads it. Not versioned: every file is rebuilt from the source. Outside production the
        # stack deletes the bucket, once emptied (like the exports bucket: no custom resource empties it; the
        # deployment's own retain_on_delete=False cannot either, aws/aws-cdk#33397).
        self.bucket = s3.Bucket(
            self, "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
        )

        cognito_origin = f"https://cognito-idp.{stack.region}.{stack.url_suffix}"
        security_headers = cloudfront.ResponseSecurityHeadersBehavior(
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True),
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy=content_security_policy(cognito_origin), override=True),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(
                frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True),
        )
        self.headers = cloudfront.ResponseHeadersPolicy(
            self, "Headers", comment=f"Overspill ({config.stage}) dashboard: security headers",
            security_headers_behavior=security_headers)
        self.config_headers = cloudfront.ResponseHeadersPolicy(
            self, "ConfigHeaders", comment=f"Overspill ({config.stage}) dashboard: config.json, never stored",
            security_headers_behavior=security_headers,
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(custom_headers=[
                cloudfront.ResponseCustomHeader(header="Cache-Control", value="no-store", override=True)]))

        self.spa_routes = cloudfront.Function(
            self, "SpaRoutes", comment="Routes of the single-page app get index.html",
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            code=cloudfront.FunctionCode.from_inline(spa_routes_code(api_path)))

        files = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        api = origins.FunctionUrlOrigin(api_url, read_timeout=API_READ_TIMEOUT)
        custom_domain: dict[str, Any] = {}
        if config.web_domain_name:
            custom_domain = {
                "domain_names": [config.web_domain_name],
                "certificate": acm.Certificate.from_certificate_arn(self, "Certificate", config.web_certificate_arn),
                # Only with a certificate of our own; *.cloudfront.net's policy is CloudFront's.
                "minimum_protocol_version": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            }

        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment=f"Overspill ({config.stage}) dashboard and admin API",
            default_root_object="index.html",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            **custom_domain,
            default_behavior=cloudfront.BehaviorOptions(
                origin=files,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
                response_headers_policy=self.headers,
                function_associations=[cloudfront.FunctionAssociation(
                    function=self.spa_routes, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)],
            ),
            additional_behaviors={
                # HTTPS only, no redirect: a token sent in the clear is exposed already, and a redirected POST
                # would arrive as a GET.
                f"/{api_path}/*": cloudfront.BehaviorOptions(
                    origin=api,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    compress=True,
                    response_headers_policy=self.headers,
                ),
                f"/{CONFIG_KEY}": cloudfront.BehaviorOptions(
                    origin=files,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    compress=True,
                    response_headers_policy=self.config_headers,
                ),
            },
        )

        # One deployment for the app and its config: the pruning sync keeps exactly what this deployment brings.
        # Its handler (CDK's code) gets a role like our functions': its own log group, not AWSLambdaBasicExecutionRole;
        # CDK adds the asset reads, the bucket sync and the invalidation to it.
        deployment_logs = function_log_group(self, config, "DeploymentLogs")
        self.deployment_role = function_role(self, deployment_logs, construct_id="DeploymentRole",
                                             description=f"Overspill ({config.stage}) dashboard deployment")
        self.deployment = s3deploy.BucketDeployment(
            self, "Deployment",
            destination_bucket=self.bucket,
            sources=[dashboard_source(dist_dir), config_source(same_origin_config(dashboard_config, api_path))],
            prune=True,
            cache_control=FILE_CACHE_CONTROL,
            distribution=self.distribution,
            distribution_paths=["/*"],
            output_object_keys=False,
            log_group=deployment_logs,
            role=self.deployment_role,
        )
        # The AWS CLI the deployment runs; a layer version holds no data (CDK would keep every old one).
        self.cli_layer = self.deployment.node.find_child("AwsCliLayer")
        self.cli_layer.apply_removal_policy(RemovalPolicy.DESTROY)

        self.domain_name = config.web_domain_name or self.distribution.distribution_domain_name
        self.url = f"https://{self.domain_name}/"
