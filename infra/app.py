"""The CDK app: ``cdk synth`` / ``cdk deploy [-c stage=prod]`` from the repository root (see cdk.json).

``python -m infra.app`` works without the CLI too (it writes to a temporary cloud assembly). Either way the
context in cdk.json is the base — so an in-process synth (the tests) sees the same feature flags and defaults
as ``cdk synth`` — and the CLI's context (``-c key=value``, cdk.context.json) wins over it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

REPO_ROOT = Path(__file__).resolve().parent.parent
# The CDK app imports the overspill package (table specs, settings names) from the source tree.
for _path in (REPO_ROOT / "layers" / "core", REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from infra.config import ConfigError, DeployConfig  # noqa: E402
from infra.nag import apply_nag  # noqa: E402
from infra.stacks.overspill import OverspillStack  # noqa: E402


def cdk_json_context() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {})


def build_app(context: dict[str, Any] | None = None, *, outdir: str | None = None) -> cdk.App:
    """The app with its one stack; ``context`` overrides cdk.json (the CLI's context overrides both)."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = DeployConfig.from_context(app.node.try_get_context)
    OverspillStack(
        app, config.stack_name, config=config,
        # The account/region of the deploying credentials (set by the CLI), unless CDK_DEPLOY_* say otherwise.
        env=cdk.Environment(
            account=os.environ.get("CDK_DEPLOY_ACCOUNT") or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEPLOY_REGION") or os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    return app


def main(*, outdir: str | None = None) -> int:
    """``cdk synth``: the app, checked by cdk-nag's AwsSolutions pack (``outdir``: the CLI's, or CDK_OUTDIR)."""
    try:
        app = build_app(outdir=outdir)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # A finding not acknowledged in infra/nag.py fails the synth, and so the deploy.
    apply_nag(app)
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        # The report says each finding, where, and the rule id to fix or to acknowledge.
        print(f"error: {error} (fix each finding, or acknowledge it with a reason in infra/nag.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
