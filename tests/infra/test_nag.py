"""cdk-nag's AwsSolutions pack over every configuration the app synthesises: no finding left unacknowledged, and
every acknowledgment a specific exception with its reason (infra/nag.py; the table in docs/deploy.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnResource, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.app import build_app, main
from infra.config import _CONTEXT_KEYS, DeployConfig
from infra.nag import REASONS, Suppression, apply_nag
from tests.infra.conftest import CUSTOM_CONTEXT, PROD_CONTEXT

# (rule id, construct path), as cdk-nag reports a finding: "AwsSolutions-IAM5[Resource::*]", ".../Resource".
Finding = tuple[str, str]


def _switched_on_flags() -> dict[str, str]:
    """Every on/off context flag on, as the CLI passes it (each optional component adds resources to check)."""
    defaults = DeployConfig()
    return {key: "true" for key, (field, _) in _CONTEXT_KEYS.items() if isinstance(getattr(defaults, field), bool)}


# Every optional value set: the alarm mail, CORS for a dashboard elsewhere, the dashboard's own domain.
OPTIONS_CONTEXT = {
    "alarmEmail": "ops@example.com",
    "adminCorsOrigin": "https://admin.example.com",
    "webDomainName": "overspill.example.com",
    "webCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0b5bd4a4-8f5e-4c2f-9d53-2b8f0c1e7a91",
    "restApiDomainName": "claude.example.com",
    "restApiCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/1c6ce5b5-9f6f-4d3f-8e64-3c9f1d2f8ba2",
    **_switched_on_flags(),
}
# The defaults (cdk.json alone) are what `cdk synth` builds: test_cdk_synth_… checks them through main().
CONFIGURATIONS = {
    "prod-with-every-option": {**PROD_CONTEXT, **OPTIONS_CONTEXT},
    "custom-bedrock": CUSTOM_CONTEXT,
}
PLACEHOLDERS = re.compile(r"\b(n/a|todo|tbd|fixme)\b", re.IGNORECASE)
MIN_REASON_WORDS = 8


@dataclass
class Checked:
    app: App
    # What the pack finds with nothing acknowledged, and what the synth still reports once apply_nag has run.
    raw: set[Finding]
    left: list[tuple[str, str, str]]
    suppressions: tuple[Suppression, ...]
    synth_error: str | None

    def acknowledgments(self) -> Iterator[tuple[IConstruct, str, str]]:
        """(construct, rule id, reason) of every AwsSolutions acknowledgment anywhere in the app."""
        for construct in self.app.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    for key, reason in entry.data.items():
                        # Stored as "Annotation::<id>", or "AwsSolutions::<id>" in the form CDK's report suggests.
                        rule = re.sub(r"^(annotation|AwsSolutions)::", "", key, flags=re.IGNORECASE)
                        if rule.startswith("AwsSolutions-"):
                            yield construct, rule, reason


def _findings(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(severity, rule id, construct path) of what the pack finds in a construct tree (errors and warnings)."""
    report = AwsSolutionsChecks().validate_scope(scope)
    return sorted((v.severity, v.rule_name, r.construct_path or "")
                  for v in report.violations for r in v.violating_resources)


def _reported(outdir: Path) -> list[tuple[str, str, str]]:
    """The same, from the validation report a failed synth leaves in the cloud assembly."""
    report = outdir / "validation-report.json"
    if not report.is_file():
        return []
    return sorted((v["severity"], v["ruleName"], c["constructPath"])
                  for p in json.loads(report.read_text())["pluginReports"] if p["pluginName"] == "AwsSolutions"
                  for v in p["violations"] for c in v["violatingConstructs"])


def _report(findings: list[tuple[str, str, str]]) -> str:
    return "\n".join(f"  {severity} {rule} at {path}" for severity, rule, path in findings)


@pytest.fixture(scope="module", params=sorted(CONFIGURATIONS))
def checked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Checked:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(CONFIGURATIONS[request.param], outdir=str(outdir))
    raw = {(rule, path) for _, rule, path in _findings(app)}
    suppressions = apply_nag(app)
    try:
        app.synth()
        synth_error = None
    except RuntimeError as error:
        synth_error = str(error)
    return Checked(app, raw, _reported(outdir), suppressions, synth_error)


def test_cdk_synth_passes_the_aws_solutions_checks_and_records_why(tmp_path: Path) -> None:
    status = main(outdir=str(tmp_path))
    left = _reported(tmp_path)
    assert not left, f"`cdk synth` failed the checks; fix or acknowledge (infra/nag.py) each of:\n{_report(left)}"
    assert status == 0
    # The cloud assembly keeps each acknowledgment with its reason, for whoever reviews a deployment.
    metadata: dict[str, Any] = {}
    for path in tmp_path.glob("*.metadata.json"):
        metadata.update(json.loads(path.read_text()))
    recorded = {(path, rule.split("::", 1)[-1], reason)
                for path, entries in metadata.items() for entry in entries
                if entry["type"] == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
                for rule, reason in entry["data"].items()}
    assert ("/Overspill-dev/Proxy/Function/Resource", "AwsSolutions-L1", REASONS["L1"]) in recorded


def test_no_finding_is_left_unacknowledged(checked: Checked) -> None:
    assert not checked.left, f"findings nobody fixed or acknowledged (infra/nag.py):\n{_report(checked.left)}"
    assert checked.synth_error is None


def test_every_acknowledgment_answers_a_finding(checked: Checked) -> None:
    # A fixed finding's acknowledgment goes too: the list of accepted risks stays the real one.
    stale = sorted({(s.rule, s.path) for s in checked.suppressions} - checked.raw)
    assert not stale, f"acknowledged, but cdk-nag finds nothing there (remove from infra/nag.py): {stale}"
    assert checked.suppressions


def test_every_acknowledgment_says_why(checked: Checked) -> None:
    acknowledgments = list(checked.acknowledgments())
    assert len(acknowledgments) >= len(checked.suppressions)
    for construct, rule, reason in acknowledgments:
        where = f"{rule} at {construct.node.path}"
        assert len(reason.split()) >= MIN_REASON_WORDS, f"{where}: say why it is acceptable, got {reason!r}"
        assert not PLACEHOLDERS.search(reason), f"{where}: a placeholder is no reason: {reason!r}"


def test_each_acknowledgment_covers_one_resource_and_wildcards_one_at_a_time(checked: Checked) -> None:
    for construct, rule, _ in checked.acknowledgments():
        where = f"{rule} at {construct.node.path}"
        # On a stack or a higher-level construct it would cover every resource below it.
        assert isinstance(construct, CfnResource), f"{where}: acknowledge on the CloudFormation resource"
        if rule.startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert re.fullmatch(r"AwsSolutions-IAM[45]\[(Action|Resource|Policy)::.+\]", rule), \
                f"{where}: name the one policy, action or resource accepted, as cdk-nag reports it"


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Plain")
    sqs.Queue(stack, "Queue")  # neither TLS-only nor with a dead-letter queue
    apply_nag(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert ("error", "AwsSolutions-SQS4", "Plain/Queue/Resource") in _reported(tmp_path)
