"""cdk-nag's AwsSolutions checks over the app, and every finding Overspill accepts, each with its reason.

cdk-nag 3 is a CDK policy-validation plugin: once ``apply_nag`` has added it, synthesising the app (``cdk synth``,
``cdk deploy``) fails with a report of every finding that is not acknowledged here. Acknowledgments are CDK's
``Validations.of(resource).acknowledge`` on the CloudFormation resource concerned, never on a stack, and a
wildcard (IAM5) is acknowledged one resource string at a time — ``AwsSolutions-IAM5[Resource::<ARN>]``, what
cdk-nag 2 called ``appliesTo`` — computed from the same values the components grant. So a new resource, or a
new wildcard on an old one, is a new finding that fails the synth until it is fixed or explained here.

A component's accepted findings go in ``_accepted`` (or a function it calls, like ``_bucket_deployment_handler``),
each reason in ``REASONS``; tests/infra/test_nag.py fails on a finding left over, on an acknowledgment that no
longer answers a finding, and on a reason of a few words. What was fixed instead and what is acknowledged here:
docs/deploy.md, "Security checks".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, DefaultStackSynthesizer, Stack, Stage, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.components.exports import written_prefixes
from infra.components.runtime import RUNTIME
from infra.stacks.overspill import OverspillStack

# aws_scheduler_targets makes one role per target function, at the top of the stack, named with this prefix.
SCHEDULER_ROLE_PREFIX = "SchedulerRoleForTarget-"
# BucketDeployment's handler: one function per stack (a singleton), at the top of the stack, named with this prefix.
BUCKET_DEPLOYMENT_HANDLER_PREFIX = "Custom::CDKBucketDeployment"
# What CDK's grantRead / grantReadWrite give the BucketDeployment handler (IAM5 reports each as a wildcard action).
BUCKET_DEPLOYMENT_ACTIONS = ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")


@dataclass(frozen=True, slots=True)
class Suppression:
    """One acknowledged finding: the resource's construct path, cdk-nag's rule id (with the finding in
    brackets for a granular rule such as IAM5) and why it is acceptable."""

    path: str
    rule: str
    reason: str


# Why each kind of finding is accepted. Said once here, so docs/deploy.md can quote them.
REASONS = {
    "L1": (
        "python3.12 on purpose: every function shares the core layer, whose dependencies are installed as "
        "CPython 3.12 linux/arm64 wheels (scripts/build_lambda_assets.py), and the proxy's streaming bootstrap "
        "wraps the managed python3.12 runtime (layers/streaming). A newer Python changes the layer build and the "
        "runtime together, deliberately and tested, not to satisfy a lint; python3.12 is a supported Lambda "
        "runtime (CPython 3.12 is maintained until October 2028)."
    ),
    "SMG4": (
        "The pepper is the HMAC key of every stored access-key hash: rotating it would invalidate every issued "
        "key at once. It is never rotated; access keys are rotated one by one instead (admin API and CLI)."
    ),
    "SQS3": (
        "This queue is itself the dead-letter destination: the rollup's event source mapping sends the batches it "
        "gave up on here (its on-failure destination, which cdk-nag does not recognise) and the function its "
        "poison records. A queue behind it would only move the same messages; the RollupFailureQueue alarm "
        "watches it."
    ),
    "S1": (
        "The exports bucket holds finance's files, written only by this stack's export and admin functions "
        "(object grants limited to usage/ and manifests/), and Athena's results of finance's queries "
        "(athena-results/, expired after 30 days); public access is blocked, TLS and bucket-owner ownership "
        "enforced. A server-access-log bucket would need its own exemption from this very rule; request-level "
        "auditing, if wanted, is CloudTrail S3 data events."
    ),
    "COG2": (
        "MFA is optional (TOTP): each admin can enrol an authenticator app. Requiring it would lock out the CLI, "
        "whose password sign-in does not answer MFA challenges; accounts are created by admins only (no self "
        "sign-up) under a 12-character mixed password policy."
    ),
    "COG8": (
        "The Essentials feature plan on purpose (infra/components/auth.py): Plus (threat protection) is billed "
        "per monthly active user and not worth it for a handful of admin-created operator accounts with no self "
        "sign-up."
    ),
    "IAM5-bedrock": (
        "A cross-Region inference profile routes each request to its foundation model in whichever Region of its "
        "geography has capacity (global: any commercial Region), so the model ARN's Region must be '*'. The "
        "statement is conditioned on bedrock:InferenceProfileArn being one of the profiles granted beside it: "
        "the model can be invoked only through those profiles, never directly (infra/bedrock_access.py)."
    ),
    "IAM5-export-files": (
        "Export files are named at run time, one per day or month under a fixed prefix (overspill.exports.files), "
        "so objects can only be granted by prefix: exactly the prefixes the export code writes, never the whole "
        "bucket (athena-results/ is not granted)."
    ),
    "IAM5-list-streams": (
        "dynamodb:ListStreams has no resource type in IAM, so its resource can only be '*'; Lambda's event source "
        "mapping needs it with the stream-read actions, which are limited to the usage table's stream."
    ),
    "L1-bucket-deployment": (
        "The handler of CDK's BucketDeployment (the dashboard's files): aws-cdk-lib chooses its runtime and moves "
        "it with CDK upgrades; it runs only during a deployment, never on a request path."
    ),
    "IAM5-bucket-deployment": (
        "What CDK's BucketDeployment grants its handler's role: read the dashboard's zipped files from the CDK "
        "assets bucket (keys are content hashes) and sync the dashboard bucket, which it owns entirely (aws s3 "
        "sync --delete: read, write and delete every object), with CDK's grantRead/grantReadWrite action groups; "
        "cloudfront:CreateInvalidation/GetInvalidation, which CDK grants on '*', for the one distribution it "
        "invalidates after each deployment. The handler runs CDK's own code, only during a deployment."
    ),
    "S1-web": (
        "The dashboard bucket holds only the built dashboard and config.json (no secrets, no user data); it is "
        "written by the deployment alone and read only by this distribution through origin access control. Public "
        "access is blocked and TLS enforced; changes are in CloudTrail, and an access-log bucket would need an "
        "exemption of its own."
    ),
    "CFR3": (
        "Standard CloudFront logs need an ACL-enabled log bucket (legacy) or a log delivery made in us-east-1, outside "
        "this regional stack. Every /api request is logged by the admin function and every change is in the audit "
        "table; the rest are static files of the dashboard."
    ),
    "CFR4": (
        "Without a custom domain CloudFront serves *.cloudfront.net with its own default certificate and a TLS policy "
        "that cannot be chosen; set webDomainName and webCertificateArn to get TLSv1.2_2021 (the finding goes away)."
    ),
    "CFR1": (
        "Admins and finance sign in from wherever they work; every API call except health and config needs a "
        "Cognito access token of the admins or finance group, so a geographic restriction adds nothing."
    ),
    "CFR2": (
        "A CloudFront web ACL must live in us-east-1, outside this regional stack; the admin API authenticates every "
        "call itself, and the static files hold no data. Deployments that want one can attach it to the distribution."
    ),
    "APIG2": (
        "The proxy checks every request itself, naming the problem in Anthropic's error shape, and must pass bodies "
        "to Anthropic byte for byte; an API Gateway request model would refuse fields Anthropic adds later."
    ),
    "APIG4": (
        "The access key in the path is the credential, checked by the proxy function exactly as behind the Function "
        "URL; Claude Code cannot send any other credential to the gateway, so an authorizer has nothing to check."
    ),
    "APIG6": (
        "Execution logs would record the request path, which holds the access key, and with data tracing the prompts "
        "themselves; access logs (resource path only) are on instead."
    ),
    "IAM4-apigateway-logs": (
        "AWS's managed policy for the Region's API Gateway CloudWatch role, which API Gateway needs to write the "
        "access logs; the role is account-wide by nature and no function of ours uses it."
    ),
    "IAM5-scheduler": (
        "The schedules' role (made by aws_scheduler_targets.LambdaInvoke) may invoke the export function and its "
        "versions or aliases (the ':*' qualifier) and nothing else; the schedules invoke the unqualified "
        "function. CDK's default grant, kept rather than a hand-made role."
    ),
}


def apply_nag(scope: IConstruct, *, verbose: bool = True) -> tuple[Suppression, ...]:
    """Add the AwsSolutions checks to the app (or stage) of ``scope`` and acknowledge the accepted findings of
    every Overspill stack in ``scope``. Returns what was acknowledged."""
    stage = scope if isinstance(scope, Stage) else Stage.of(scope)
    if stage is None:
        raise ValueError(f"{scope.node.path} is in no App or Stage: nothing would run the checks")
    Validations.of(stage).add_plugins(AwsSolutionsChecks(stage, verbose=verbose))
    applied = []
    for stack in (c for c in scope.node.find_all() if isinstance(c, OverspillStack)):
        for resource, rule, reason in _accepted(stack):
            Validations.of(resource).acknowledge(Acknowledgment(id=f"AwsSolutions-{rule}", reason=reason))
            applied.append(Suppression(resource.node.path, f"AwsSolutions-{rule}", reason))
    return tuple(applied)


def _accepted(stack: OverspillStack) -> Iterable[tuple[CfnResource, str, str]]:
    """(resource, rule, reason) of every accepted finding of one stack."""
    for function in stack.node.find_all():
        # Every function on the shared runtime (a function on any other runtime is still checked).
        if isinstance(function, lambda_.CfnFunction) and function.runtime == RUNTIME.name:
            yield function, "L1", REASONS["L1"]
    yield _resource(stack.data.pepper), "SMG4", REASONS["SMG4"]
    yield _resource(stack.rollup.failure_queue), "SQS3", REASONS["SQS3"]
    yield _resource(stack.exports.bucket), "S1", REASONS["S1"]
    yield _resource(stack.auth.user_pool), "COG2", REASONS["COG2"]
    yield _resource(stack.auth.user_pool), "COG8", REASONS["COG8"]

    proxy_policy = _default_policy(stack.proxy.role)
    for arn in stack.proxy.bedrock_grants.routed_model_arns:
        yield proxy_policy, _wildcard(stack, arn), REASONS["IAM5-bedrock"]
    bucket = stack.exports.bucket
    for role in (stack.exports.role, stack.admin.role):
        for prefix in written_prefixes():
            yield (_default_policy(role), _wildcard(stack, bucket.arn_for_objects(f"{prefix}*")),
                   REASONS["IAM5-export-files"])
    yield _default_policy(stack.rollup.role), _wildcard(stack, "*"), REASONS["IAM5-list-streams"]
    export_versions = _wildcard(stack, f"{stack.exports.function.function_arn}:*")
    for role in stack.node.children:
        if isinstance(role, iam.Role) and role.node.id.startswith(SCHEDULER_ROLE_PREFIX):
            policy = _default_policy(role)
            # The role of the export function's schedules (another function's schedules have a role of their own).
            if export_versions in _wildcard_resources(stack, policy):
                yield policy, export_versions, REASONS["IAM5-scheduler"]
    yield from _bucket_deployment_handler(stack)
    yield from _web(stack)
    yield from _rest_api(stack)


def _web(stack: OverspillStack) -> Iterable[tuple[CfnResource, str, str]]:
    web = getattr(stack, "web", None)
    if web is None:
        return
    yield _resource(web.bucket), "S1", REASONS["S1-web"]
    distribution = _resource(web.distribution)
    yield distribution, "CFR3", REASONS["CFR3"]
    yield distribution, "CFR1", REASONS["CFR1"]
    yield distribution, "CFR2", REASONS["CFR2"]
    if not stack.config.web_domain_name:  # with a custom domain the TLS policy is ours and the check passes
        yield distribution, "CFR4", REASONS["CFR4"]


def _rest_api(stack: OverspillStack) -> Iterable[tuple[CfnResource, str, str]]:
    rest_api = getattr(stack, "rest_api", None)
    if rest_api is None:
        return
    api = rest_api.api
    yield _resource(api), "APIG2", REASONS["APIG2"]
    for method in (c for c in api.node.find_all() if isinstance(c, apigateway.CfnMethod)):
        yield method, "APIG4", REASONS["APIG4"]
        yield method, "COG4", REASONS["APIG4"]
    yield _resource(api.deployment_stage), "APIG6", REASONS["APIG6"]
    yield (_resource(api.node.find_child("CloudWatchRole")),
           "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
           REASONS["IAM4-apigateway-logs"])


def _bucket_deployment_handler(stack: OverspillStack) -> Iterable[tuple[CfnResource, str, str]]:
    """CDK's own function behind the dashboard's BucketDeployment, if the stack has one."""
    web = getattr(stack, "web", None)
    handlers = [c for c in stack.node.children
                if c.node.id.startswith(BUCKET_DEPLOYMENT_HANDLER_PREFIX) and isinstance(c, lambda_.Function)]
    if web is None or len(handlers) != 1:
        return
    (handler,) = handlers
    yield _resource(handler), "L1", REASONS["L1-bucket-deployment"]
    policy = _default_policy(handler.role)
    for action in BUCKET_DEPLOYMENT_ACTIONS:
        yield policy, f"IAM5[Action::{action}]", REASONS["IAM5-bucket-deployment"]
    synthesizer = stack.synthesizer
    if isinstance(synthesizer, DefaultStackSynthesizer):
        qualifier = synthesizer.bootstrap_qualifier or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        # The name as the synthesizer writes it: the stack's Region and account where the environment names them
        # (the cdk CLI sets CDK_DEFAULT_REGION), CloudFormation's pseudo parameters where it does not.
        assets = (DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace("${Qualifier}", qualifier)
                  .replace("${AWS::Region}", stack.region).replace("${AWS::AccountId}", stack.account))
        assets_objects = f"arn:{stack.partition}:s3:::{assets}/*"
        yield policy, _wildcard(stack, assets_objects), REASONS["IAM5-bucket-deployment"]
    yield policy, _wildcard(stack, web.bucket.arn_for_objects("*")), REASONS["IAM5-bucket-deployment"]
    yield policy, _wildcard(stack, "*"), REASONS["IAM5-bucket-deployment"]


def _resource(construct: IConstruct) -> CfnResource:
    resource = construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to acknowledge a finding on")
    return resource


def _default_policy(role: iam.IRole) -> CfnResource:
    """The CfnPolicy of a role's ``add_to_policy`` statements, where IAM5 reports their wildcards."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        raise LookupError(f"{role.node.path} has no DefaultPolicy")
    return _resource(policy)


def _wildcard_resources(stack: Stack, policy: CfnResource) -> set[str]:
    """IAM5's ids of the wildcard resources of a policy, as cdk-nag reports them."""
    document = stack.resolve(policy.policy_document) if isinstance(policy, iam.CfnPolicy) else {}
    resources = [r for s in document.get("Statement", []) for r in
                 (s.get("Resource") if isinstance(s.get("Resource"), list) else [s.get("Resource")])]
    return {f"IAM5[Resource::{flat}]" for flat in map(flatten_cfn_reference, resources) if "*" in flat}


def _wildcard(stack: Stack, resource: str) -> str:
    """IAM5's id for one wildcard resource of a statement: ``IAM5[Resource::<the ARN as cdk-nag writes it>]``."""
    return f"IAM5[Resource::{flatten_cfn_reference(stack.resolve(resource))}]"


def flatten_cfn_reference(value: Any) -> str:
    """cdk-nag's rendering of a resolved CloudFormation value as one string (its ``flattenCfnReference``):
    ``{"Fn::GetAtt": ["Bucket", "Arn"]}`` is ``<Bucket.Arn>``, ``{"Ref": "AWS::Partition"}`` is
    ``<AWS::Partition>``, joins are joined and ``${x}`` in a Sub is ``<x>``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if value.get("Fn::Join"):
            delimiter, items = value["Fn::Join"]
            return delimiter.join(flatten_cfn_reference(item) for item in items)
        if value.get("Fn::Sub"):
            return flatten_cfn_reference(value["Fn::Sub"])
        if value.get("Fn::GetAtt"):
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_cfn_reference(resource)}.{flatten_cfn_reference(attribute)}>"
        if value.get("Fn::ImportValue"):
            return flatten_cfn_reference(value["Fn::ImportValue"])
        if value.get("Ref"):
            return f"<{flatten_cfn_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))
