"""Reading a function role's policy out of a synthesised template, and evaluating it the way IAM would.

Only what this app writes is supported, and anything else fails loudly rather than being misread: Allow
statements; actions named exactly; ``Resource`` ARNs matched component by component with ``*`` and ``?``; the
condition operators StringEquals, StringLike, ArnEquals and ArnLike (all values of a key ORed, all keys and
operators ANDed, a missing context key never matching).

CloudFormation values are rendered to strings first: pseudo parameters with fixed stand-ins (``ACCOUNT``,
``PARTITION``, ``REGION``), references to the stack's own resources as ``<LogicalId>`` / ``<LogicalId.Attr>``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
PARTITION = "aws"
REGION = "us-east-1"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, "AWS::Region": REGION,
          "AWS::URLSuffix": "amazonaws.com"}
ROLE_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
SUPPORTED_OPERATORS = frozenset({"StringEquals", "StringLike", "ArnEquals", "ArnLike"})
# Every customer-managed policy document of a role counts towards this (whitespace excluded).
INLINE_POLICY_LIMIT = 10_240


def render(value: Any) -> str:
    """A CloudFormation string value as a plain string (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return PSEUDO.get(argument, f"<{argument}>")
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render(part) for part in parts)
    raise AssertionError(f"cannot render {value!r}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    """One Allow statement; resources and condition values sorted (their order means nothing to IAM)."""

    sid: str | None
    actions: frozenset[str]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, tuple[str, ...]]]

    @classmethod
    def from_template(cls, raw: dict[str, Any]) -> Statement:
        assert raw["Effect"] == "Allow", f"unexpected statement {raw}"
        assert set(raw) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, f"unexpected keys in {raw}"
        conditions = {
            operator: {key: tuple(sorted(render(v) for v in _as_list(values))) for key, values in keys.items()}
            for operator, keys in raw.get("Condition", {}).items()
        }
        assert set(conditions) <= SUPPORTED_OPERATORS, f"unsupported condition operator in {raw}"
        return cls(raw.get("Sid"), frozenset(_as_list(raw["Action"])),
                   tuple(sorted(render(r) for r in _as_list(raw["Resource"]))), conditions)

    @classmethod
    def from_spec(cls, spec: Any) -> Statement:
        """From an ``infra.bedrock_access.StatementSpec`` (already plain strings)."""
        conditions = {op: {k: tuple(sorted(_as_list(v))) for k, v in keys.items()}
                      for op, keys in spec.conditions.items()}
        return cls(spec.sid, frozenset(spec.actions), tuple(sorted(spec.resources)), conditions)

    def matches(self, action: str, resource: str, context: dict[str, str]) -> bool:
        return (action in self.actions
                and any(resource_matches(pattern, resource) for pattern in self.resources)
                and all(_condition(op, key, values, context)
                        for op, keys in self.conditions.items() for key, values in keys.items()))


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def resource_matches(pattern: str, resource: str) -> bool:
    """IAM's ARN matching: the six components compared one by one, each with ``*``/``?`` wildcards (so a ``*``
    Region matches any Region, including the empty one of a global ARN, but never spills into another part)."""
    pattern_parts, resource_parts = _arn_parts(pattern), _arn_parts(resource)
    if pattern_parts is None or resource_parts is None:
        # A reference to the stack's own resource, e.g. <DataUsersTable.Arn>, or <ExportsBucket.Arn>/usage/*.
        return _wildcard(pattern).fullmatch(resource) is not None
    return all(_wildcard(p).fullmatch(r) for p, r in zip(pattern_parts, resource_parts, strict=True))


def _condition(operator: str, key: str, values: tuple[str, ...], context: dict[str, str]) -> bool:
    if key not in context:
        return False
    actual = context[key]
    if operator == "StringEquals":
        return actual in values
    if operator == "StringLike":
        return any(_wildcard(v).fullmatch(actual) for v in values)
    return any(resource_matches(v, actual) for v in values)  # ArnEquals / ArnLike


def role_statements(synth, function_id: str | None = None) -> list[Statement]:
    """Every statement that applies to a function's role (inline and attached policies); the proxy's by default,
    else the function with this logical id."""
    return [Statement.from_template(raw) for raw in raw_role_statements(synth, function_id)]


def role_statements_of_role(synth, role_id: str) -> list[Statement]:
    """Every statement that applies to the role with this logical id."""
    return [Statement.from_template(raw) for raw in raw_role_statements(synth, role_id=role_id)]


def function_role_id(synth, function_id: str | None = None) -> str:
    function = synth.function[1] if function_id is None else synth.json["Resources"][function_id]
    role_ref = function["Properties"]["Role"]
    assert set(role_ref) == {"Fn::GetAtt"}
    return role_ref["Fn::GetAtt"][0]


def raw_role_statements(synth, function_id: str | None = None, *, role_id: str | None = None) -> list[dict[str, Any]]:
    role_id = role_id or function_role_id(synth, function_id)
    role = synth.json["Resources"][role_id]
    statements = []
    for policy in role["Properties"].get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for resource in synth.json["Resources"].values():
        if resource["Type"] in ROLE_POLICY_TYPES and {"Ref": role_id} in resource["Properties"].get("Roles", []):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def rendered_policy_size(synth, function_id: str | None = None) -> int:
    """The role's policy documents as IAM counts them: JSON without whitespace, references resolved."""

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Join"):
                return render(value) if next(iter(value)) != "Fn::GetAtt" else "x" * 90  # a table/key ARN
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    document = {"Version": "2012-10-17", "Statement": resolve(raw_role_statements(synth, function_id))}
    return len(json.dumps(document, separators=(",", ":")))


def allows(statements: list[Statement], action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    """Whether an identity with only these statements may do ``action`` on ``resource`` (no Deny is written)."""
    return any(s.matches(action, resource, context or {}) for s in statements)
