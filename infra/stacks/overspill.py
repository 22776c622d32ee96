"""One stack per stage, ``Overspill-<stage>``: data, the proxy, the rollup, the finance exports and their Athena
catalog, the admin API with its Cognito sign-in, the alarms and dashboard, and the web dashboard (CloudFront)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.components.admin import Admin
from infra.components.athena import UsageCatalog
from infra.components.auth import Auth
from infra.components.data import Data
from infra.components.exports import Exports
from infra.components.monitoring import Monitoring
from infra.components.proxy import Proxy
from infra.components.rest_api import RestApiFront
from infra.components.rollup import Rollup
from infra.components.usage_spill import UsageSpill
from infra.components.web import Web
from infra.config import DeployConfig
from overspill.exports.periods import PeriodKind
from overspill.local.targets import STACK_OUTPUTS

# Every admin route is under /api (overspill.admin.routes); the Function URL ends with "/".
ADMIN_API_PATH = "api"


class OverspillStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        kwargs.setdefault("description", f"Overspill gateway for Claude Code ({config.stage})")
        kwargs.setdefault("termination_protection", config.is_production)
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("project", "overspill")
        Tags.of(self).add("stage", config.stage)

        self.data = Data(self, "Data", config=config)
        self.proxy = Proxy(self, "Proxy", config=config, data=self.data)
        # Usage events DynamoDB would not take: the proxy sends them here, the replay writes them back.
        self.usage_spill = UsageSpill(self, "UsageSpill", config=config, data=self.data,
                                      core_layer=self.proxy.core_layer)
        self.proxy.spill_usage_to(self.usage_spill.queue)
        # Optional: the same proxy function behind API Gateway REST and AWS WAF (the Function URL stays).
        self.rest_api = (RestApiFront(self, "RestApi", config=config, proxy_function=self.proxy.function)
                         if config.rest_api else None)
        self.rollup = Rollup(self, "Rollup", config=config, data=self.data, core_layer=self.proxy.core_layer)
        self.exports = Exports(self, "Exports", config=config, data=self.data, core_layer=self.proxy.core_layer)
        self.catalog = UsageCatalog(self, "Catalog", config=config, bucket=self.exports.bucket)
        self.auth = Auth(self, "Auth", config=config)
        self.admin = Admin(self, "Admin", config=config, data=self.data, auth=self.auth,
                           exports_bucket=self.exports.bucket, proxy_url=self.proxy.url.url,
                           core_layer=self.proxy.core_layer)
        # The dashboard, with the admin API on its origin under /api (config.json: "apiBase": "/api").
        self.web = Web(self, "Web", config=config, api_url=self.admin.url, api_path=ADMIN_API_PATH,
                       dashboard_config=self.dashboard_config())
        self.monitoring = Monitoring(self, "Monitoring", config=config, proxy=self.proxy.function,
                                     rollup=self.rollup.function, export=self.exports.function,
                                     admin=self.admin.function,
                                     rollup_failure_queue=self.rollup.failure_queue,
                                     export_failure_queue=self.exports.failure_queue,
                                     usage_spill=self.usage_spill)

        CfnOutput(self, "ProxyUrl", value=self.proxy.url.url,
                  description="Function URL; developers set ANTHROPIC_BASE_URL=<this>ak/<their access key>")
        if self.rest_api is not None:
            CfnOutput(self, "RestApiUrl", value=self.rest_api.url,
                      description="API Gateway REST front (AWS WAF); developers may set "
                                  "ANTHROPIC_BASE_URL=<this>ak/<their access key> instead of the ProxyUrl one")
            if self.rest_api.domain is not None:
                CfnOutput(self, "RestApiDomainTarget", value=self.rest_api.domain.domain_name_alias_domain_name,
                          description="Point the REST front's domain here (a CNAME or an alias record)")
        CfnOutput(self, "PepperSecretArn", value=self.data.pepper.secret_arn,
                  description="The access-key pepper (never rotate: it would invalidate every key)")
        CfnOutput(self, "CredentialsKeyArn", value=self.data.credentials_key.key_arn,
                  description="The KMS key under which per-user Bedrock credentials are stored (never delete it)")

        # What `overspill … --stack <name>` reads (overspill.local.targets.STACK_OUTPUTS), then the finance and
        # operations entry points.
        names = {"exports_bucket": self.exports.bucket.bucket_name,
                 "usage_ttl_days": str(config.usage_retention_days)}
        names.update({field: table.table_name for field, table in self.data.tables.items()})
        for output, field in STACK_OUTPUTS.items():
            CfnOutput(self, output, value=names[field], description=f"OVERSPILL_{field.upper()} of this stage")
        CfnOutput(self, "ExportFunctionName", value=self.exports.function.function_name,
                  description="On-demand exports (aws lambda invoke with {\"from\": \"YYYY-MM-DD\", \"to\": "
                              "\"YYYY-MM-DD\"}; see docs/operations.md, Finance exports)")
        CfnOutput(self, "ExportFailureQueueUrl", value=self.exports.failure_queue.queue_url,
                  description="Export runs that failed for good (re-run their periods on demand)")
        CfnOutput(self, "RollupFailureQueueUrl", value=self.rollup.failure_queue.queue_url,
                  description="Usage-stream records the rollup could not apply (its poison records, and the "
                              "batches Lambda gave up on)")
        CfnOutput(self, "UsageSpillQueueUrl", value=self.usage_spill.queue.queue_url,
                  description="Usage events DynamoDB would not take, on their way back to the usage table (the "
                              "usage replay function drains it; see docs/operations.md, Usage spill queue)")
        CfnOutput(self, "UsageSpillDeadLetterQueueUrl", value=self.usage_spill.dead_letters.queue_url,
                  description="Spilled usage events the replay could not store after every retry (redrive them "
                              "to the spill queue once the cause is fixed)")
        CfnOutput(self, "GlueDatabaseName", value=self.catalog.database.ref,
                  description="Glue database of the finance exports (Athena)")
        CfnOutput(self, "GlueDailyTableName", value=self.catalog.tables[PeriodKind.DAILY].ref,
                  description="Athena table of the daily usage files (partition dt)")
        CfnOutput(self, "GlueMonthlyTableName", value=self.catalog.tables[PeriodKind.MONTHLY].ref,
                  description="Athena table of the monthly usage files (partition month)")
        CfnOutput(self, "AthenaWorkGroupName", value=self.catalog.workgroup.ref,
                  description="Athena workgroup for finance queries (results in the exports bucket)")
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn,
                  description="SNS topic of the alarms (subscribe to it, or deploy with -c alarmEmail=<address>)")

        # The admin API and its sign-in: what the dashboard's /config.json and the CLI need.
        CfnOutput(self, "AdminApiUrl", value=self.admin.url.url,
                  description="The admin API's Function URL (its routes are under /api)")
        CfnOutput(self, "UserPoolId", value=self.auth.user_pool.user_pool_id,
                  description="Cognito user pool of the admins (group admins) and finance (group finance)")
        CfnOutput(self, "UserPoolClientId", value=self.auth.client.user_pool_client_id,
                  description="The dashboard's and the CLI's Cognito app client (public: no secret)")
        CfnOutput(self, "Region", value=self.region, description="The Region of this stack and its user pool")
        CfnOutput(self, "DashboardConfig", value=self.to_json_string(self.dashboard_config()),
                  description="The dashboard's config.json (the CLI reads the same document)")
        CfnOutput(self, "DashboardUrl", value=self.web.url,
                  description="The web dashboard (sign in as a member of the admins or finance group); "
                              "also an Overspill URL for the CLI")
        CfnOutput(self, "DashboardBucketName", value=self.web.bucket.bucket_name,
                  description="The dashboard's files (written by the deployment; served only through CloudFront)")
        CfnOutput(self, "DistributionId", value=self.web.distribution.distribution_id,
                  description="The dashboard's CloudFront distribution (invalidated by each deployment)")
        CfnOutput(self, "DistributionDomainName", value=self.web.distribution.distribution_domain_name,
                  description="Where a DNS record for webDomainName points (CNAME or alias)")

    def dashboard_config(self) -> dict[str, object]:
        """What ``/config.json`` says for this deployment (``overspill.admin.client.DashboardConfig``): the API's
        URL, and the pool and app client to sign in with."""
        return {"apiBase": f"{self.admin.url.url}{ADMIN_API_PATH}",
                "cognito": {"region": self.region, "userPoolId": self.auth.user_pool.user_pool_id,
                            "clientId": self.auth.client.user_pool_client_id}}
