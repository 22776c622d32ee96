"""What a Bedrock 400 names as unsupported, so the transport can drop it, retry, and remember it per model.

Shapes seen in public reports (Bedrock InvokeModel, the Anthropic API, gateways relaying them):

- ``invalid beta flag`` — Bedrock's usual answer, which does **not** say which beta (anthropics/claude-code#49370,
  #56595; BerriAI/litellm#19875). Reported as ``Rejection("beta", ANY_BETA)``: nothing narrower can be named,
  and retrying without betas is the only retry that can succeed (beta-gated fields then fail by name, and
  are learned in turn).
- ``Unexpected value(s) `a`, `b` for the `anthropic-beta` header`` (Anthropic's wording) — the first one.
- ``context_management: Extra inputs are not permitted``, ``output_config.effort: …``,
  ``tools.11.custom.defer_loading: …``, ``messages.27.content.0.text.citations: …`` (pydantic locations) —
  list indexes become ``*``: a field refused on one tool is refused on all of them.
- ``Malformed input request: #/tools/0: extraneous key [defer_loading] is not permitted`` (Bedrock's JSON-schema
  validator, JSON pointer) — the pointer path plus the key.

Messages are often wrapped ("The model returned the following errors: …", a JSON ``{"message": …}``); the
earliest item named wins. Returns None when nothing can be named — or when the name is a field no request
works without (``messages``, ``system``, ``tools``, ``max_tokens``): retrying without those would answer
something else than what was asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import orjson

from overspill.bedrock.request import ANY_BETA

PROTECTED_FIELDS = frozenset({"messages", "system", "tools", "max_tokens", "anthropic_version"})

_PATH = r"[A-Za-z_][\w-]*(?:\.[\w-]+)*"
_EXTRA_INPUTS = re.compile(rf"(?<![\w.])({_PATH})\s*:\s*Extra inputs are not permitted", re.IGNORECASE)
_EXTRANEOUS_KEY = re.compile(r"(?:#([\w/.-]*)\s*:\s*)?extraneous key \[([^\]\s]+)\] is not permitted",
                             re.IGNORECASE)
_UNEXPECTED_BETA = re.compile(r"Unexpected value\(s\)\s*`([^`]+)`[^\n]*?anthropic-beta", re.IGNORECASE)
_INVALID_BETA = re.compile(
    r"invalid (?:anthropic[_-])?beta (?:flag|header|value)s?(?:\(s\))?(?P<tail>[^\n]*)", re.IGNORECASE)
_BETA_FIELD = re.compile(r"anthropic[_-]beta\b(?P<tail>[^\n]*)", re.IGNORECASE)
_QUOTED = re.compile(r"[`'\"\[]([A-Za-z0-9][\w.-]*)[`'\"\]]")
_DATED_BETA = re.compile(r"\b([a-z0-9]+(?:-[a-z0-9]+)*-\d{4}-\d{2}-\d{2})\b")
_LISTED = re.compile(r"^\s*[:=]\s*([A-Za-z0-9][\w.-]*)")
# Where a message stops naming what was refused and starts listing what would be accepted (pydantic's
# "Input should be 'a' or 'b'"), or ends its sentence.
_TAIL_END = re.compile(r"\b(?:should be|expected|supported|allowed|one of|valid values)\b|\.\s|;", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Rejection:
    kind: Literal["beta", "field"]
    name: str   # a beta (or ANY_BETA), or a field path for ``to_bedrock_body(drop_fields=…)``


def offending_item(message: str) -> Rejection | None:
    """The beta or field a Bedrock ValidationException message names as unsupported, if it names one."""
    text = _unwrap(message or "")
    found: list[tuple[int, Rejection | None]] = []
    if m := _EXTRA_INPUTS.search(text):
        found.append((m.start(), _field(m.group(1).split("."))))
    if m := _EXTRANEOUS_KEY.search(text):
        pointer = [s for s in (m.group(1) or "").split("/") if s]
        found.append((m.start(), _field([*pointer, m.group(2)])))
    if m := _UNEXPECTED_BETA.search(text):
        found.append((m.start(), Rejection("beta", m.group(1).strip())))
    if m := _INVALID_BETA.search(text):
        found.append((m.start(), Rejection("beta", _beta_in(m.group("tail"), listed=True) or ANY_BETA)))
    elif m := _BETA_FIELD.search(text):
        # "anthropic_beta: …" without "Extra inputs" (which made it a field above): a value of it was refused.
        if beta := _beta_in(m.group("tail"), listed=False):
            found.append((m.start(), Rejection("beta", beta)))
    if not found:
        return None
    return min(found, key=lambda item: item[0])[1]


def _field(segments: list[str]) -> Rejection | None:
    if segments and segments[0] == "body":  # FastAPI-style locations start with where the value came from
        segments = segments[1:]
    if not segments or segments[0].isdigit() or (len(segments) == 1 and segments[0] in PROTECTED_FIELDS):
        return None
    return Rejection("field", ".".join("*" if s.isdigit() else s for s in segments))


def _beta_in(tail: str, *, listed: bool) -> str | None:
    if end := _TAIL_END.search(tail):
        tail = tail[: end.start()]
    if listed and (m := _LISTED.match(tail)):
        return m.group(1).rstrip(".")
    for pattern in (_QUOTED, _DATED_BETA):
        for m in pattern.finditer(tail):
            if m.group(1).lower() not in ("anthropic_beta", "anthropic-beta"):
                return m.group(1)
    return None


def _unwrap(message: str) -> str:
    # Gateways and SDKs nest the message as JSON ({"message": "…"} or Anthropic's error body); peel it off.
    text = message.strip()
    for _ in range(3):
        if not text.startswith("{"):
            break
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            break
        if isinstance(value, dict) and isinstance(value.get("error"), dict):
            value = value["error"]
        inner = value.get("message") if isinstance(value, dict) else None
        if not isinstance(inner, str):
            break
        text = inner.strip()
    return text
