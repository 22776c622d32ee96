"""What the proxy's role may invoke on Bedrock, computed from the code's own model map.

The proxy resolves every requested model name with ``overspill.bedrock.models.ModelMap`` (the defaults for the
deployment's geography, then the operator's ``bedrockModelMap``). The policy is derived from exactly the same
resolution, for every name the code can resolve, so the code and the infrastructure cannot drift apart:

- an inference-profile id (``us.anthropic.…``) needs ``InvokeModel*`` on the profile in the Bedrock region, and on
  the foundation model in every Region the profile may route to. Cross-Region profiles route to Regions other
  than the source (all commercial Regions, with an empty Region in the ARN, for ``global.``), so the foundation
  model is granted with a ``*`` Region — but only when invoked through one of our profiles
  (``bedrock:InferenceProfileArn``), never directly;
- a bare foundation-model id or ARN from ``bedrockModelMap`` is invoked directly: exactly that model;
- ``CountTokens`` takes the bare foundation-model id, in the Bedrock region.

An override that names anything else (an application inference profile, a provisioned model …) is refused: the
models behind it cannot be known at synth, so no exact grant can be written for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from overspill.bedrock.models import DEFAULT_MODEL_IDS, ModelMap, UnknownModel

INVOKE_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
COUNT_TOKENS_ACTION = "bedrock:CountTokens"
# The condition key that is set when a foundation model is invoked through an inference profile.
PROFILE_CONDITION_KEY = "bedrock:InferenceProfileArn"

_ARN = re.compile(r"^arn:(?P<partition>aws[\w-]*):bedrock:(?P<region>[\w-]*):(?P<account>\d*):"
                  r"(?P<kind>[\w-]+)/(?P<id>.+)$")


class UngrantableModel(ValueError):
    """A model-map target whose IAM resources cannot be derived."""


@dataclass(frozen=True, slots=True)
class BedrockAccess:
    """ARNs for the proxy's Bedrock statements; each tuple sorted and free of duplicates."""

    profile_arns: tuple[str, ...]         # InvokeModel*: the inference profiles the proxy invokes
    routed_model_arns: tuple[str, ...]    # InvokeModel*: the models behind them, any Region, only via a profile
    direct_model_arns: tuple[str, ...]    # InvokeModel*: foundation models invoked by id, without a profile
    count_tokens_arns: tuple[str, ...]    # CountTokens: bare foundation models in the Bedrock region


def model_names(overrides: Mapping[str, str]) -> list[str]:
    """Every requested name the code resolves to something: the default table and the override keys."""
    return sorted({*DEFAULT_MODEL_IDS, *overrides})


def bedrock_access(*, geography: str, overrides: Mapping[str, str], region: str, account: str,
                   partition: str) -> BedrockAccess:
    """The resources for every model ``ModelMap(geography, overrides)`` resolves. ``account`` and ``partition``
    may be CDK tokens; ``region`` is the Bedrock region the proxy's role client calls."""
    models = ModelMap(geography, overrides)
    profiles: set[str] = set()
    routed: set[str] = set()
    direct: set[str] = set()
    count: set[str] = set()

    def foundation_arn(model_region: str, model_id: str, model_partition: str = partition) -> str:
        return f"arn:{model_partition}:bedrock:{model_region}::foundation-model/{model_id}"

    for name in model_names(overrides):
        try:
            resolved = models.resolve(name)
        except UnknownModel:
            continue  # not offered in this geography (e.g. opus-4-1 outside us): the code refuses it too
        target, foundation = resolved.invoke_id, resolved.foundation_id
        arn = _ARN.match(target)
        if arn is not None:
            if arn["kind"] == "inference-profile" and foundation:
                profiles.add(target)
                routed.add(foundation_arn("*", foundation, arn["partition"]))
            elif arn["kind"] == "foundation-model":
                direct.add(target)
            else:
                raise UngrantableModel(
                    f"{name!r} maps to {target!r}, a Bedrock {arn['kind']} ARN: the foundation models behind it "
                    "cannot be known when the stack is synthesised, so no exact IAM grant can be written. Map it "
                    "to a foundation-model or (cross-Region) inference-profile id or ARN.")
        elif foundation is not None and foundation != target:
            profiles.add(f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{target}")
            routed.add(foundation_arn("*", foundation))
        else:
            direct.add(foundation_arn(region, target))
        if foundation is not None:
            count.add(foundation_arn(region, foundation))
    return BedrockAccess(tuple(sorted(profiles)), tuple(sorted(routed)), tuple(sorted(direct)),
                         tuple(sorted(count)))



@dataclass(frozen=True, slots=True)
class StatementSpec:
    """One IAM statement, independent of CDK (the construct turns it into an ``iam.PolicyStatement``)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, Any] = field(default_factory=dict)


def bedrock_statements(access: BedrockAccess) -> list[StatementSpec]:
    """The proxy role's Bedrock statements; a statement with no resources is left out."""
    statements = [
        StatementSpec("InvokeBedrockInferenceProfiles", INVOKE_ACTIONS, access.profile_arns),
        # Any Region: a cross-Region profile routes to other Regions (global: to every commercial one, and the
        # ARN then has an empty Region). Only through our own profiles, never directly.
        StatementSpec("InvokeModelsThroughTheProfiles", INVOKE_ACTIONS, access.routed_model_arns,
                      {"ArnLike": {PROFILE_CONDITION_KEY: list(access.profile_arns)}}),
        StatementSpec("InvokeMappedFoundationModels", INVOKE_ACTIONS, access.direct_model_arns),
        StatementSpec("CountTokensOnFoundationModels", (COUNT_TOKENS_ACTION,), access.count_tokens_arns),
    ]
    return [statement for statement in statements if statement.resources]
