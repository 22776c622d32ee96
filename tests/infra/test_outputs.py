"""Stack outputs: what ``overspill … --stack <name>`` reads to find a deployment, and the entry points for finance
and operators."""

from __future__ import annotations

from overspill.config import Settings
from overspill.local.targets import STACK_OUTPUTS
from tests.infra.conftest import SPECS

EXTRA_OUTPUTS = {"ProxyUrl", "PepperSecretArn", "CredentialsKeyArn", "ExportFunctionName", "ExportFailureQueueUrl",
                 "RollupFailureQueueUrl", "GlueDatabaseName", "GlueDailyTableName", "GlueMonthlyTableName",
                 "AthenaWorkGroupName", "AlarmTopicArn", "UsageSpillQueueUrl", "UsageSpillDeadLetterQueueUrl",
                 # The admin API and its sign-in (tests/infra/test_admin.py).
                 "AdminApiUrl", "UserPoolId", "UserPoolClientId", "Region", "DashboardConfig",
                 # The dashboard's hosting (tests/infra/test_web.py).
                 "DashboardUrl", "DashboardBucketName", "DistributionId", "DistributionDomainName"}


def test_every_output_the_cli_needs_names_the_resource_of_its_setting(any_stage):
    outputs = any_stage.json["Outputs"]
    tables = {spec.settings_field: any_stage.table_for(spec)[0] for spec in SPECS}
    bucket_id = any_stage.logical_id(any_stage.stack.exports.bucket)
    for name, field in STACK_OUTPUTS.items():
        assert name in outputs, f"output {name} missing: `overspill … --stack` refuses the stack"
        if field == "usage_ttl_days":
            assert outputs[name]["Value"] == str(any_stage.stack.config.usage_retention_days)
            continue
        expected = bucket_id if field == "exports_bucket" else tables[field]
        assert outputs[name]["Value"] == {"Ref": expected}, name  # a table's or bucket's Ref is its name
    assert set(outputs) == set(STACK_OUTPUTS) | EXTRA_OUTPUTS


def test_the_cli_finds_a_deployed_stack_by_its_outputs(dev, monkeypatch):
    """``overspill.local.targets.stack_settings`` against CloudFormation (moto) holding this template's outputs."""
    import json

    from moto import mock_aws

    from overspill.aws import client
    from overspill.local.targets import TargetError, stack_settings
    from tests.support.gateway import TEST_AWS_ENV

    for name, value in TEST_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    values = {name: ("365" if field == "usage_ttl_days" else f"name-of-{name}")
              for name, field in STACK_OUTPUTS.items()}
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {name: {"Value": value} for name, value in values.items()}}
    with mock_aws():
        cloudformation = client("cloudformation", Settings(region="eu-west-1"))
        cloudformation.create_stack(StackName="Overspill-test", TemplateBody=json.dumps(template))
        settings = stack_settings("Overspill-test", "eu-west-1")
        try:
            stack_settings("Overspill-missing", "eu-west-1")
        except TargetError as error:
            missing = str(error)
    for name, field in STACK_OUTPUTS.items():
        expected = 365 if field == "usage_ttl_days" else f"name-of-{name}"
        assert getattr(settings, field) == expected
    assert settings.region == "eu-west-1"
    assert "cannot read stack 'Overspill-missing' in eu-west-1" in missing
