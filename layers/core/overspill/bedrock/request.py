"""The InvokeModel body for an Anthropic Messages request.

Bedrock takes the native Anthropic body, minus ``model`` and ``stream``, plus ``anthropic_version`` and the
``anthropic-beta`` header's values as ``anthropic_beta``. Everything else goes through untouched — thinking
blocks and their signatures, cache_control, images, documents, tools — because Claude Code's next request
carries them back and signatures must survive byte for byte. Only three things that Bedrock rejects and that
have a lossless (or meaningless-to-lose) translation are changed:

1. First-party betas are not sent (the rule is in ``is_first_party_beta``).
2. Mid-conversation system messages are folded into a user turn (``fold_system_messages``).
3. Claude Code's billing line in ``system`` is removed: Bedrock answers 400 "x-anthropic-billing-header is a
   reserved keyword and may not be used in the system prompt" (anthropics/claude-code#24168). It is Anthropic's
   attribution of the request to Claude Code and carries no instruction for the model.

What else Bedrock refuses varies by model and over time, so it is learned from its 400s (``rejections``) and
passed back in as ``drop_betas`` / ``drop_fields`` rather than kept in an allowlist here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Any

import orjson

ANTHROPIC_VERSION = "bedrock-2023-05-31"
ANY_BETA = "*"

# The first-party rule: a beta is Anthropic's own when it is about the caller's relationship with Anthropic —
# how it signs in (`oauth-…`: a claude.ai subscription token) or which Anthropic client it is (`claude-code-…`)
# — rather than about what the model does with the request. Bedrock has its own auth and no notion of the
# client, and rejects these (anthropics/claude-code#49648: Opus 4.7 on Bedrock refuses claude-code-20250219).
# Matching the family prefix, not the dated name, keeps the rule valid when Claude Code bumps the date.
FIRST_PARTY_BETA_PREFIXES = ("oauth-", "claude-code-")
# Betas whose feature this translation removes from the body, so nothing is left for them to enable.
TRANSLATED_BETA_PREFIXES = ("mid-conversation-system-",)

BILLING_LINE_PREFIX = "x-anthropic-billing-header:"
_REMINDER_OPEN = "<system-reminder>\n"
_REMINDER_CLOSE = "\n</system-reminder>"
_REPLACED_KEYS = frozenset({"model", "stream", "anthropic_version", "anthropic_beta"})


def split_betas(header: str | None) -> list[str]:
    """The values of a comma-separated ``anthropic-beta`` header, trimmed, empties dropped, order kept."""
    if not header:
        return []
    return [beta for part in header.split(",") if (beta := part.strip())]


def is_first_party_beta(beta: str) -> bool:
    """True for betas that must never go to Bedrock: Anthropic-only ones and those the translation made moot."""
    return beta.startswith(FIRST_PARTY_BETA_PREFIXES) or beta.startswith(TRANSLATED_BETA_PREFIXES)


def bedrock_betas(beta_header: str | None, extra_betas: Iterable[str] = (), drop_betas: Set[str] = frozenset(),
                  body_betas: Iterable[str] = ()) -> list[str]:
    """The ``anthropic_beta`` list: header + body + extra betas, deduplicated, minus first-party and dropped ones.

    ``drop_betas`` holds exact names, family prefixes ending in ``*`` (``"mcp-servers-*"``), or ``"*"`` for all.
    """
    if ANY_BETA in drop_betas:
        return []
    prefixes = tuple(d[:-1] for d in drop_betas if d.endswith("*"))
    result: list[str] = []
    for beta in (*split_betas(beta_header), *body_betas, *extra_betas):
        if (beta in result or beta in drop_betas or is_first_party_beta(beta)
                or (prefixes and beta.startswith(prefixes))):
            continue
        result.append(beta)
    return result


def to_bedrock_body(body: bytes | Mapping[str, Any], beta_header: str | None, *, extra_betas: Iterable[str] = (),
                    drop_betas: Set[str] = frozenset(), drop_fields: Set[str] = frozenset()) -> bytes:
    """The InvokeModel / InvokeModelWithResponseStream JSON body for a Messages request body.

    ``drop_fields`` are top-level keys or dotted paths (``tools.*.defer_loading``; see ``drop_path``). A dict
    passed in is not modified. Raises ``ValueError`` if the body is not a JSON object.
    """
    request = orjson.loads(body) if isinstance(body, bytes | bytearray | memoryview | str) else body
    if not isinstance(request, Mapping):
        raise ValueError("a Messages request body must be a JSON object")
    body_betas = request.get("anthropic_beta")
    betas = bedrock_betas(beta_header, extra_betas, drop_betas,
                          [b for b in body_betas if isinstance(b, str)] if isinstance(body_betas, list) else ())

    out: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION}
    if betas:
        out["anthropic_beta"] = betas
    for key, value in request.items():
        if key in _REPLACED_KEYS:
            continue
        if key == "messages" and isinstance(value, list):
            value = fold_system_messages(value)
        elif key == "system":
            value = _without_billing_line(value)
            if value is None:
                continue
        out[key] = value
    for path in drop_fields:
        out = drop_path(out, path)
    return orjson.dumps(out)


def fold_system_messages(messages: list) -> list:
    """Mid-conversation ``{"role": "system"}`` messages as ``<system-reminder>`` text blocks in a user turn.

    Bedrock's Messages schema has only user and assistant turns. The text goes where the message stood:
    appended to the user turn just before it; else (it follows an assistant turn or opens the conversation)
    put at the front of the next user turn, after that turn's tool_result blocks, which the API requires to
    come first; else (between two assistant turns, or after the last one) as a user turn of its own, which
    keeps the roles alternating. ``<system-reminder>`` is how Claude Code itself puts harness context into user
    turns (see the first user block of every fixture), so the model reads it as instructions from the harness,
    not words of the developer. Blocks keep their other keys (cache_control). Returns the same list object
    when there is nothing to fold; never modifies the messages given.
    """
    if not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        return messages
    out: list = []
    pending: list[dict] = []  # folded blocks waiting for the next user turn
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "system":
            blocks = _reminder_blocks(message.get("content"))
            previous = out[-1] if out else None
            if not pending and isinstance(previous, dict) and previous.get("role") == "user":
                out[-1] = _with_blocks(previous, blocks, at_end=True)
            else:
                pending.extend(blocks)
            continue
        if pending:
            if isinstance(message, dict) and message.get("role") == "user":
                message = _with_blocks(message, pending, at_end=False)
            else:
                out.append({"role": "user", "content": pending})
            pending = []
        out.append(message)
    if pending:
        out.append({"role": "user", "content": pending})
    return out


def drop_path(node: Any, path: str) -> Any:
    """``node`` without the field at a dotted ``path``; the same object when the path matches nothing.

    Segments are dict keys; on lists, ``*`` means every element and a number one element. Bedrock names fields
    the way pydantic does, with the union tag after a list index (``tools.0.custom.defer_loading``,
    ``messages.3.content.0.text.citations``): inside a list element, a segment equal to the element's ``type``
    is taken as that tag and skipped, and so is one naming no key of an element without a ``type`` (Claude
    Code's tools, tagged ``custom``). Copy-on-write: nothing given is modified.
    """
    segments = [s for s in path.split(".") if s]
    return _drop(node, segments, False) if segments else node


def _drop(node: Any, segments: list[str], in_list: bool) -> Any:
    head, rest = segments[0], segments[1:]
    if isinstance(node, list):
        if not rest:
            return node  # removing list elements would renumber the rest: never asked for
        if head == "*":
            indexes: Iterable[int] = range(len(node))
        elif head.isdigit() and int(head) < len(node):
            indexes = (int(head),)
        else:
            return node
        copy = None
        for i in indexes:
            updated = _drop(node[i], rest, True)
            if updated is not node[i]:
                if copy is None:
                    copy = list(node)
                copy[i] = updated
        return node if copy is None else copy
    if not isinstance(node, dict):
        return node
    if in_list and rest:
        kind = node.get("type")
        if kind == head or (kind is None and head not in node):
            return _drop(node, rest, False)  # the union tag: this element is of the variant named
        if kind is not None and head not in node:
            return node  # another variant (an image where the path names text blocks)
    if head not in node:
        return node
    if not rest:
        return {k: v for k, v in node.items() if k != head}
    child = node[head]
    updated = _drop(child, rest, False)
    if updated is child:
        return node
    copy = dict(node)
    copy[head] = updated
    return copy


def _reminder_blocks(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": _reminder(content)}] if content else []
    blocks: list[dict] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                blocks.append({**block, "text": _reminder(block["text"])})
            elif isinstance(block, dict):
                blocks.append(block)  # not expected in a system message; kept rather than lost
    return blocks


def _reminder(text: str) -> str:
    return _REMINDER_OPEN + text + _REMINDER_CLOSE


def _with_blocks(message: dict, blocks: list[dict], *, at_end: bool) -> dict:
    content = message.get("content")
    if isinstance(content, str):
        current: list = [{"type": "text", "text": content}] if content else []
    elif isinstance(content, list):
        current = content
    else:
        current = []
    if at_end:
        merged = [*current, *blocks]
    else:
        first = 0
        while first < len(current) and isinstance(current[first], dict) and current[first].get("type") == "tool_result":
            first += 1
        merged = [*current[:first], *blocks, *current[first:]]
    return {**message, "content": merged}


def _without_billing_line(system: Any) -> Any:
    """``system`` without Claude Code's billing line; None when nothing else was in it."""
    if isinstance(system, str):
        if system.startswith(BILLING_LINE_PREFIX):
            rest = system.split("\n", 1)[1] if "\n" in system else ""
            return rest if rest.strip() else None
        return system
    if not isinstance(system, list):
        return system
    kept: list = []
    changed = False
    for block in system:
        text = block.get("text") if isinstance(block, dict) else None
        if isinstance(text, str) and text.startswith(BILLING_LINE_PREFIX):
            changed = True
            rest = text.split("\n", 1)[1] if "\n" in text else ""
            if rest.strip():
                kept.append({**block, "text": rest})
            continue
        kept.append(block)
    if not changed:
        return system
    return kept or None
