"""The web dashboard as synthesised: a private bucket read only by its CloudFront distribution, security headers, the
single-page app's routes (the CloudFront Function run with Node), the admin API on the same origin under /api, and
the deployment of the built app with a config.json naming this stack's sign-in."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

from infra.app import build_app, cdk_json_context
from infra.components.web import Web
from infra.config import ConfigError, DeployConfig
from overspill.admin.client import DashboardConfig
from overspill.config import env_name
from tests.infra.conftest import Synth
from tests.infra.iam_policy import ACCOUNT, PSEUDO, REGION, Statement, raw_role_statements, render, resource_matches
from tests.infra.test_cfn_lint import IGNORED

# AWS's managed CloudFront policies, by their documented ids.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}

CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
DOMAIN_CONTEXT = {"stage": "webdomain", "webDomainName": "Admin.Example.com", "webCertificateArn": CERTIFICATE_ARN}


@pytest.fixture(scope="module")
def with_domain(synth) -> Synth:
    return synth(**DOMAIN_CONTEXT)


def _bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    return synth.resource_of(synth.stack.web.bucket)


def _distribution(synth: Synth) -> tuple[str, dict[str, Any]]:
    logical_id, resource = synth.resource_of(synth.stack.web.distribution)
    return logical_id, resource["Properties"]["DistributionConfig"]


def _behaviour(synth: Synth, pattern: str) -> dict[str, Any]:
    (behaviour,) = [b for b in _distribution(synth)[1]["CacheBehaviors"] if b["PathPattern"] == pattern]
    return behaviour


def _origin(synth: Synth, behaviour: dict[str, Any]) -> dict[str, Any]:
    (origin,) = [o for o in _distribution(synth)[1]["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    return origin


def _headers_policy(synth: Synth, behaviour: dict[str, Any]) -> dict[str, Any]:
    return synth.json["Resources"][behaviour["ResponseHeadersPolicyId"]["Ref"]]["Properties"][
        "ResponseHeadersPolicyConfig"]


def _csp(security: dict[str, Any]) -> dict[str, str]:
    text = render(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    return {name: value.strip() for name, _, value in (d.strip().partition(" ") for d in text.split(";"))}


def _deployment(template: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = [r["Properties"] for r in template["Resources"].values()
                     if r["Type"] == "Custom::CDKBucketDeployment"]
    return deployment


def _staged_sources(template: dict[str, Any], outdir: Path) -> list[Path]:
    """Each source of the deployment as staged in the cloud assembly (what the CLI uploads and the sync copies)."""
    return [outdir / f"asset.{key.removesuffix('.zip')}" for key in _deployment(template)["SourceObjectKeys"]]


def _deployed_files(template: dict[str, Any], outdir: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for staged in _staged_sources(template, outdir):
        for path in sorted(staged.rglob("*")):
            if path.is_file():
                name = path.relative_to(staged).as_posix()
                assert name not in files, f"{name} comes from two sources"
                files[name] = path.read_bytes()
    return files


def _without_subs(value: Any) -> Any:
    """``{"Fn::Sub": "…${AWS::AccountId}…"}`` (CDK's assets bucket) as the plain string, pseudo parameters filled."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for name, stand_in in PSEUDO.items():
            text = text.replace("${" + name + "}", stand_in)
        assert "${" not in text, text
        return text
    if isinstance(value, dict):
        return {k: _without_subs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_subs(v) for v in value]
    return value


def _may(statements: list[Statement], action: str, resource: str) -> bool:
    """IAM's answer for statements without conditions whose actions may hold wildcards (CDK's grants: s3:GetObject*)."""
    return any(fnmatch.fnmatchcase(action, pattern) and any(resource_matches(r, resource) for r in s.resources)
               for s in statements if not s.conditions for pattern in s.actions)


def _web_component(tmp_path: Path, dist_dir: Path) -> tuple[dict[str, Any], Path]:
    """The component alone in a stack of its own, in front of a stand-in function URL, serving ``dist_dir``."""
    outdir = tmp_path / "cdk.out"
    app = App(context=cdk_json_context(), outdir=str(outdir))
    stack = Stack(app, "WebOnly")
    function = lambda_.Function(stack, "Api", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                                code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"))
    url = function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
    Web(stack, "Web", config=DeployConfig(), api_url=url, api_path="api", dist_dir=dist_dir,
        dashboard_config={"apiBase": "https://elsewhere.example/api",
                          "cognito": {"region": "eu-west-1", "userPoolId": "eu-west-1_Abc", "clientId": "client1"}})
    return Template.from_stack(stack).to_json(), outdir


# --- The bucket -----------------------------------------------------------------------------------------------

def test_the_dashboard_bucket_is_private_encrypted_and_refuses_plain_http(any_stage):
    bucket_id, bucket = _bucket(any_stage)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}  # no ACLs
    assert props["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert "WebsiteConfiguration" not in props  # not an S3 website: only CloudFront serves it

    (policy,) = [p["Properties"]["PolicyDocument"]["Statement"]
                 for p in any_stage.resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
    for statement in denies:
        assert statement["Action"] == "s3:*" and statement["Principal"] == {"AWS": "*"}
        assert sorted(render(r) for r in statement["Resource"]) == [f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"]


def test_only_this_distribution_may_read_the_files(any_stage):
    bucket_id, _ = _bucket(any_stage)
    distribution_id, config = _distribution(any_stage)
    (policy,) = [p["Properties"]["PolicyDocument"]["Statement"]
                 for p in any_stage.resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"  # read only; nothing lists, writes or deletes through CloudFront
    assert render(allow["Resource"]) == f"<{bucket_id}.Arn>/*"
    assert {op: {k: render(v) for k, v in keys.items()} for op, keys in allow["Condition"].items()} == {
        "StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/<{distribution_id}>"}}

    files = _origin(any_stage, config["DefaultCacheBehavior"])
    assert files["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert files["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    oac_id = files["OriginAccessControlId"]["Fn::GetAtt"][0]
    oac = any_stage.json["Resources"][oac_id]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3", "always", "sigv4")


def test_production_keeps_the_dashboard_bucket_and_dev_deletes_it(prod, dev):
    assert (_bucket(prod)[1]["DeletionPolicy"], _bucket(prod)[1]["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert (_bucket(dev)[1]["DeletionPolicy"], _bucket(dev)[1]["UpdateReplacePolicy"]) == ("Delete", "Delete")
    for synth in (prod, dev):
        # The deployment never empties the bucket itself: a deployment replaced under a new id would otherwise
        # delete the live dashboard's files after copying them.
        assert _deployment(synth.json).get("RetainOnDelete", True) is not False


# --- Pages and their headers ----------------------------------------------------------------------------------

def test_pages_are_served_over_https_compressed_and_cached_by_cloudfront(any_stage):
    _, config = _distribution(any_stage)
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["Compress"] is True
    assert default["AllowedMethods"] == ["GET", "HEAD"]
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert config["DefaultRootObject"] == "index.html"
    # Unknown paths are the app's job (below), never an error page: the API's 403s and 404s must stay its own.
    assert "CustomErrorResponses" not in config


def test_every_response_carries_the_security_headers(any_stage):
    _, config = _distribution(any_stage)
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert {b.get("PathPattern", "default") for b in behaviours} == {"default", "/api/*", "/config.json"}
    for behaviour in behaviours:
        security = _headers_policy(any_stage, behaviour)["SecurityHeadersConfig"]
        assert security["StrictTransportSecurity"] == {
            "AccessControlMaxAgeSec": 365 * 24 * 3600, "IncludeSubdomains": True, "Override": True}
        assert security["ContentTypeOptions"] == {"Override": True}  # X-Content-Type-Options: nosniff
        assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
        assert security["ReferrerPolicy"] == {"ReferrerPolicy": "strict-origin-when-cross-origin", "Override": True}
        assert security["ContentSecurityPolicy"]["Override"] is True
        csp = _csp(security)
        # The app's own scripts only; its API on the same origin and Cognito's sign-in in this stack's Region.
        assert csp["script-src"] == "'self'"
        assert csp["connect-src"] == f"'self' https://cognito-idp.{REGION}.amazonaws.com"
        assert csp["default-src"] == "'self'"
        assert (csp["frame-ancestors"], csp["object-src"], csp["base-uri"]) == ("'none'", "'none'", "'self'")
        assert "'unsafe-eval'" not in " ".join(csp.values())


def test_spa_routes_get_index_html_but_files_and_api_paths_do_not(dev):
    """The CloudFront Function's code, taken from the template and run with Node as CloudFront runs it."""
    _, config = _distribution(dev)
    (association,) = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    function = dev.json["Resources"][function_id]["Properties"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    for behaviour in config["CacheBehaviors"]:
        assert "FunctionAssociations" not in behaviour, behaviour["PathPattern"]

    uris = ["/", "/users", "/users/123", "/users/123/keys", "/assets/app.js", "/assets/index-Cx1.css",
            "/favicon.ico", "/config.json", "/index.html", "/api/users", "/api/users/usr_1"]
    script = (function["FunctionCode"] + "\nvar seen = {};\nJSON.parse(process.argv[1]).forEach(function (uri) {\n"
              "  var event = {version: '1.0', context: {eventType: 'viewer-request'}, viewer: {ip: '192.0.2.1'},\n"
              "               request: {method: 'GET', uri: uri, querystring: {}, headers: {}, cookies: {}}};\n"
              "  seen[uri] = handler(event).uri;\n});\nprocess.stdout.write(JSON.stringify(seen));\n")
    node = shutil.which("node")
    assert node, "Node runs the CDK (jsii); it must be on PATH"
    result = subprocess.run([node, "-e", script, json.dumps(uris)], capture_output=True, text=True, timeout=30,
                            check=True)
    assert json.loads(result.stdout) == {
        "/": "/index.html", "/users": "/index.html", "/users/123": "/index.html", "/users/123/keys": "/index.html",
        "/assets/app.js": "/assets/app.js", "/assets/index-Cx1.css": "/assets/index-Cx1.css",
        "/favicon.ico": "/favicon.ico", "/config.json": "/config.json", "/index.html": "/index.html",
        "/api/users": "/api/users", "/api/users/usr_1": "/api/users/usr_1"}


# --- The admin API on the same origin ----------------------------------------------------------------------------

def test_api_paths_reach_the_admin_function_uncached_with_the_callers_headers(any_stage):
    api = _behaviour(any_stage, "/api/*")
    assert set(api["AllowedMethods"]) == ALL_METHODS
    assert api["CachePolicyId"] == CACHING_DISABLED
    # Every viewer header (Authorization: the Cognito token), query string and cookie, but not Host: a Function
    # URL answers only to its own.
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert "FunctionAssociations" not in api

    url_id, _ = any_stage.resource_of(any_stage.stack.admin.url)
    origin = _origin(any_stage, api)
    # The host of https://<id>.lambda-url.<region>.on.aws/ (the URL split at "/": "https:", "", host, "").
    assert origin["DomainName"] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [url_id, "FunctionUrl"]}]}]}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert "OriginAccessControlId" not in origin  # the function checks the caller's token itself

    # Same origin: the admin function is told no CORS origin (it would answer preflights nobody sends).
    assert env_name("admin_cors_origin") not in any_stage.environment_of(any_stage.stack.admin.function)


def test_config_json_is_never_cached(any_stage):
    behaviour = _behaviour(any_stage, "/config.json")
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert _origin(any_stage, behaviour) == _origin(any_stage, _distribution(any_stage)[1]["DefaultCacheBehavior"])
    headers = _headers_policy(any_stage, behaviour)
    assert headers["CustomHeadersConfig"] == {
        "Items": [{"Header": "Cache-Control", "Value": "no-store", "Override": True}]}


# --- The deployment -------------------------------------------------------------------------------------------

def _run_deployment_handler_on(template: dict[str, Any], outdir: Path, tmp_path: Path, monkeypatch,
                               name: str) -> bytes:
    """The deployment's own Lambda code (as staged) filling in the markers of one file, as it does at deploy time;
    the deploy-time values rendered with the stand-ins of tests.infra.iam_policy."""
    deployment = _deployment(template)
    function_id = deployment["ServiceToken"]["Fn::GetAtt"][0]
    code = outdir / template["Resources"][function_id]["Metadata"]["aws:asset:path"] / "index.py"
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # it makes its (unused) clients at import
    spec = importlib.util.spec_from_file_location("bucket_deployment_handler", code)
    assert spec and spec.loader
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)

    for staged, markers, markers_config in zip(_staged_sources(template, outdir), deployment["SourceMarkers"],
                                               deployment["SourceMarkersConfig"], strict=True):
        if (staged / name).is_file():
            copy = tmp_path / name
            shutil.copy(staged / name, copy)
            # CloudFormation hands a custom resource its properties as strings ("true", not true).
            as_sent = {k: json.dumps(v) if isinstance(v, bool) else v for k, v in markers_config.items()}
            handler.replace_markers(str(copy), {k: render(v) for k, v in markers.items()}, as_sent)
            return copy.read_bytes()
    raise AssertionError(f"no source of the deployment holds {name}")


def test_the_deployment_writes_config_json_naming_this_stacks_sign_in(dev, tmp_path, monkeypatch):
    deployed = _run_deployment_handler_on(dev.json, dev.outdir, tmp_path, monkeypatch, "config.json")
    pool_id = dev.logical_id(dev.stack.auth.user_pool)
    client_id = dev.logical_id(dev.stack.auth.client)
    assert json.loads(deployed) == {
        "apiBase": "/api",   # the same origin (tests/infra/test_admin.py checks the API's own URL output)
        "cognito": {"region": REGION, "userPoolId": f"<{pool_id}>", "clientId": f"<{client_id}>", "endpoint": None}}

    # What the CLI makes of it, given the dashboard's URL (`overspill admin --url https://…`).
    config = DashboardConfig.parse("https://d111111abcdef8.cloudfront.net", json.loads(deployed))
    assert config.api_base == "https://d111111abcdef8.cloudfront.net/api"
    assert (config.region, config.endpoint) == (REGION, None)


def test_one_deployment_brings_the_app_and_its_config_and_refreshes_cloudfront(dev):
    bucket_id, _ = _bucket(dev)
    distribution_id, _ = _distribution(dev)
    deployment = _deployment(dev.json)
    assert deployment["DestinationBucketName"] == {"Ref": bucket_id}
    assert "DestinationBucketKeyPrefix" not in deployment
    # The sync prunes what this deployment does not bring: index.html and config.json come in the same one.
    assert deployment["Prune"] is True
    files = _deployed_files(dev.json, dev.outdir)
    assert {"index.html", "config.json"} <= set(files)
    assert (deployment["DistributionId"], deployment["DistributionPaths"]) == ({"Ref": distribution_id}, ["/*"])
    # Browsers revalidate (a deploy shows at once); CloudFront keeps files a day, until the next invalidation.
    assert deployment["SystemMetadata"]["cache-control"] == "public, max-age=0, s-maxage=86400"


def test_the_deployment_may_write_the_dashboard_bucket_and_its_own_logs_only(any_stage):
    """CDK's handler runs with a role like our functions': no AWSLambdaBasicExecutionRole (logs on every group)."""
    function_id = _deployment(any_stage.json)["ServiceToken"]["Fn::GetAtt"][0]
    function = any_stage.json["Resources"][function_id]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = any_stage.json["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]
    raw = raw_role_statements(any_stage, role_id=role_id)
    statements = [Statement.from_template(_without_subs(statement)) for statement in raw]
    assets = f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    assert _may(statements, "s3:GetObject", f"{assets}/0123abcd.zip")  # the zipped sources CDK uploaded
    assert not _may(statements, "s3:PutObject", f"{assets}/0123abcd.zip")

    logs_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    proxy_logs_id = any_stage.logical_id(any_stage.stack.proxy.log_group)
    assert _may(statements, "logs:PutLogEvents", f"<{logs_id}.Arn>")
    assert not _may(statements, "logs:PutLogEvents", f"<{proxy_logs_id}.Arn>")
    assert not _may(statements, "logs:CreateLogGroup", f"<{proxy_logs_id}.Arn>")

    bucket_id, _ = _bucket(any_stage)
    exports_id = any_stage.logical_id(any_stage.stack.exports.bucket)
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:GetObject"):
        assert _may(statements, action, f"<{bucket_id}.Arn>/assets/index-Ab1.js"), action
        assert not _may(statements, action, f"<{exports_id}.Arn>/usage/daily/dt=2025-01-01/usage.csv"), action
    assert _may(statements, "s3:ListBucket", f"<{bucket_id}.Arn>")  # the sync compares what is there
    assert not _may(statements, "s3:PutBucketPolicy", f"<{bucket_id}.Arn>")
    assert _may(statements, "cloudfront:CreateInvalidation",
                  f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2EXAMPLE")


def test_an_unbuilt_dashboard_deploys_a_page_saying_so(tmp_path):
    template, outdir = _web_component(tmp_path, tmp_path / "admin_web" / "dist")
    files = _deployed_files(template, outdir)
    assert set(files) == {"index.html", "config.json"}
    page = files["index.html"].decode()
    assert "not built yet" in page and "build admin_web" in page and "deploy again" in page


def test_a_built_dashboard_is_deployed_as_built(tmp_path):
    dist = tmp_path / "admin_web" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script type="module" src="/assets/index-Ab1.js"></script>')
    (dist / "assets" / "index-Ab1.js").write_text("console.log('overspill')")
    (dist / "favicon.svg").write_text("<svg/>")
    (dist / ".vite").mkdir()
    (dist / ".vite" / "manifest.json").write_text("{}")  # the build's own record: not deployed
    template, outdir = _web_component(tmp_path, dist)
    files = _deployed_files(template, outdir)
    assert set(files) == {"index.html", "assets/index-Ab1.js", "favicon.svg", "config.json"}
    assert files["index.html"] == (dist / "index.html").read_bytes()
    assert files["assets/index-Ab1.js"] == (dist / "assets" / "index-Ab1.js").read_bytes()
    # Outside the stack the region is a plain value, and config.json says so without any marker.
    assert json.loads(files["config.json"])["cognito"] == {
        "region": "eu-west-1", "userPoolId": "eu-west-1_Abc", "clientId": "client1", "endpoint": None}


# --- Outputs and the custom domain -----------------------------------------------------------------------------

def test_outputs_name_the_dashboard_url_bucket_and_distribution(any_stage):
    outputs = any_stage.json["Outputs"]
    bucket_id, _ = _bucket(any_stage)
    distribution_id, config = _distribution(any_stage)
    assert render(outputs["DashboardUrl"]["Value"]) == f"https://<{distribution_id}.DomainName>/"
    assert outputs["DashboardBucketName"]["Value"] == {"Ref": bucket_id}
    assert outputs["DistributionId"]["Value"] == {"Ref": distribution_id}
    assert outputs["DistributionDomainName"]["Value"] == {"Fn::GetAtt": [distribution_id, "DomainName"]}
    # Without a domain of its own: CloudFront's name and certificate.
    assert "Aliases" not in config
    assert config.get("ViewerCertificate", {"CloudFrontDefaultCertificate": True}) == {
        "CloudFrontDefaultCertificate": True}


def test_a_custom_domain_serves_the_dashboard_with_its_certificate(with_domain):
    _, config = _distribution(with_domain)
    assert config["Aliases"] == ["admin.example.com"]
    assert config["ViewerCertificate"] == {"AcmCertificateArn": CERTIFICATE_ARN, "SslSupportMethod": "sni-only",
                                           "MinimumProtocolVersion": "TLSv1.2_2021"}
    assert with_domain.json["Outputs"]["DashboardUrl"]["Value"] == "https://admin.example.com/"
    matches = lint(json.dumps(with_domain.json),
                   config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=IGNORED))
    assert [str(m) for m in matches] == []


def test_cdk_has_no_warning_about_the_dashboard(dev, with_domain):
    # e.g. a minimum TLS version set without a certificate of our own, which CloudFront would silently ignore.
    # (Read off the constructs: with annotationsInValidationReport, CDK reports them beside the template.)
    for synth in (dev, with_domain):
        messages = [(c.node.path, m.data) for c in synth.stack.web.node.find_all() for m in c.node.metadata
                    if m.type in ("aws:cdk:warning", "aws:cdk:error")]
        assert messages == []


@pytest.mark.parametrize(("context", "names"), [
    ({"webDomainName": "admin.example.com"}, ["webDomainName", "webCertificateArn"]),
    ({"webCertificateArn": CERTIFICATE_ARN}, ["webDomainName", "webCertificateArn"]),
    ({"webDomainName": "https://admin.example.com", "webCertificateArn": CERTIFICATE_ARN}, ["webDomainName"]),
    ({"webDomainName": "*.example.com", "webCertificateArn": CERTIFICATE_ARN}, ["webDomainName"]),
    ({"webDomainName": "admin.example.com/app", "webCertificateArn": CERTIFICATE_ARN}, ["webDomainName"]),
    ({"webDomainName": "admin.example.com", "webCertificateArn": CERTIFICATE_ARN.replace("us-east-1", "eu-west-1")},
     ["webCertificateArn", "us-east-1"]),
    ({"webDomainName": "admin.example.com", "webCertificateArn": "admin.example.com"}, ["webCertificateArn"]),
])
def test_an_incomplete_or_malformed_custom_domain_is_refused_naming_the_key(context, names):
    with pytest.raises(ConfigError) as refused:
        build_app(context)
    for name in names:
        assert name in str(refused.value)
