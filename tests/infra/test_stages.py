"""Production-like stages keep their data; other stages clean up after themselves."""

from __future__ import annotations

from infra.config import DeployConfig
from tests.infra.conftest import SPECS

STATEFUL = ("AWS::DynamoDB::GlobalTable", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup", "AWS::KMS::Key",
            "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Athena::WorkGroup", "AWS::Cognito::UserPool")
# The tables, the pepper and the credentials key; a log group per function (proxy, rollup, export, admin, usage
# replay); the exports bucket; the rollup's and the exports' failure queues, the usage spill queue and its
# dead-letter queue; the Athena workgroup (its query history); the alarm topic's key; the admins' user pool; the
# dashboard's bucket and its deployment's log group.
STATEFUL_COUNT = len(SPECS) + 2 + 5 + 1 + 4 + 1 + 1 + 1 + 2


def _stateful(synth) -> dict[str, dict]:
    return {lid: r for type_ in STATEFUL for lid, r in synth.resources(type_).items()}


def test_stack_is_named_after_the_stage(dev, prod):
    assert dev.stack.stack_name == "Overspill-dev"
    assert prod.stack.stack_name == "Overspill-prod"


def test_prod_retains_and_protects_its_data(prod, dev):
    assert prod.stack.termination_protection is True
    assert dev.stack.termination_protection is False
    assert len(_stateful(prod)) == STATEFUL_COUNT
    for logical_id, resource in _stateful(prod).items():
        assert resource["DeletionPolicy"] == "Retain", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id
    for spec in SPECS:
        _, table = prod.table_for(spec)
        (replica,) = table["Properties"]["Replicas"]
        assert replica["DeletionProtectionEnabled"] is True
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_dev_is_disposable(dev):
    assert len(_stateful(dev)) == STATEFUL_COUNT
    for logical_id, resource in _stateful(dev).items():
        assert resource["DeletionPolicy"] == "Delete", logical_id
    for spec in SPECS:
        _, table = dev.table_for(spec)
        (replica,) = table["Properties"]["Replicas"]
        assert replica.get("DeletionProtectionEnabled", False) is False
        assert replica.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False) is False


def test_layer_versions_are_not_retained_in_any_stage(any_stage):
    # A layer version holds no data; retained ones would pile up with every deploy.
    for logical_id, layer in any_stage.resources("AWS::Lambda::LayerVersion").items():
        assert layer.get("DeletionPolicy") == "Delete", logical_id


def test_which_stages_are_production():
    assert DeployConfig(stage="prod").is_production
    assert DeployConfig(stage="production").is_production
    for stage in ("dev", "staging", "prod2", "preprod", "test"):
        assert not DeployConfig(stage=stage).is_production


def test_stack_resources_are_tagged(any_stage):
    stage = any_stage.stack.node.try_get_context("stage")
    for function in any_stage.resources("AWS::Lambda::Function").values():
        tags = {t["Key"]: t["Value"] for t in function["Properties"]["Tags"]}
        assert tags == {"project": "overspill", "stage": stage}
    for type_ in ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Lambda::EventSourceMapping", "AWS::Athena::WorkGroup"):
        for logical_id, resource in any_stage.resources(type_).items():
            # CDK's own bookkeeping tags (aws-cdk:cr-owned:… on the dashboard bucket) are not ours to check.
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"] if not t["Key"].startswith("aws-cdk:")}
            assert tags == {"project": "overspill", "stage": stage}, logical_id


def test_catalog_metadata_is_recreated_not_retained(any_stage):
    """The Glue database and tables describe the files; they hold no data and are rebuilt from the stack."""
    for type_ in ("AWS::Glue::Database", "AWS::Glue::Table"):
        for logical_id, resource in any_stage.resources(type_).items():
            assert resource.get("DeletionPolicy", "Delete") == "Delete", logical_id


def test_the_credentials_key_is_kept_in_prod_and_deleted_soon_in_dev(prod, dev):
    """Deleting the key makes every stored Bedrock credential undecryptable: prod never does; a removed dev
    key is scheduled for deletion after KMS's shortest waiting period."""
    _, prod_key = prod.resource_of(prod.stack.data.credentials_key)
    assert (prod_key["DeletionPolicy"], prod_key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert "PendingWindowInDays" not in prod_key["Properties"]  # if ever removed by hand: KMS's 30 days
    _, dev_key = dev.resource_of(dev.stack.data.credentials_key)
    assert (dev_key["DeletionPolicy"], dev_key["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert dev_key["Properties"]["PendingWindowInDays"] == 7
    for synth in (prod, dev):
        assert synth.resource_of(synth.stack.data.credentials_key)[1]["Properties"]["EnableKeyRotation"] is True
