"""One stack per stage, ``Overspill-<stage>``: data, then the proxy (admin, rollup, export, web and
monitoring join later as further constructs)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.components.data import Data
from infra.components.proxy import Proxy
from infra.config import DeployConfig


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

        CfnOutput(self, "ProxyUrl", value=self.proxy.url.url,
                  description="Function URL; developers set ANTHROPIC_BASE_URL=<this>ak/<their access key>")
        CfnOutput(self, "PepperSecretArn", value=self.data.pepper.secret_arn,
                  description="The access-key pepper (never rotate: it would invalidate every key)")
        CfnOutput(self, "CredentialsKeyArn", value=self.data.credentials_key.key_arn,
                  description="The KMS key under which per-user Bedrock credentials are stored (never delete it)")
