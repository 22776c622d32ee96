"""cfn-lint on the synthesised templates: no errors, no warnings (bar one CDK artefact)."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

# CDK adds an explicit DependsOn on the role next to the GetAtt of it: redundant, harmless, not ours.
IGNORED = ["W3005"]


@pytest.mark.parametrize("name", ["dev", "prod", "custom"])
def test_templates_pass_cfn_lint(request, name):
    synth = request.getfixturevalue(name)
    matches = lint(json.dumps(synth.json),
                   config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=IGNORED))
    assert [str(m) for m in matches] == []
