"""Bedrock failures as the Anthropic errors Claude Code knows how to handle.

The status decides what Claude Code does: 429 and 529 are retried with backoff, 400 is shown (and its wording
matched by Claude Code's own recoveries, so Bedrock's message is kept), 403 with ``x-should-retry: false``
stops at once — retrying cannot fix the gateway's AWS access. Messages name Overspill's Bedrock fallback,
since the developer asked Anthropic and may not know Bedrock was involved. Bedrock's text is never shown for
access failures: it can carry the gateway's role ARN and account, which are for the admin's logs.
"""

from __future__ import annotations

import re
from typing import Any

from overspill.errors import GatewayError, sse_error_event

PREFIX = "Overspill (Bedrock fallback): "
_MAX_DETAIL = 500

_THROTTLED = frozenset({"throttling", "throttled", "toomanyrequests", "servicequotaexceeded"})
_OVERLOADED = frozenset({"serviceunavailable", "modeltimeout", "internalserver", "internalfailure",
                         "modelstreamerror", "modelnotready"})
_INVALID = frozenset({"validation"})
_NO_ACCESS = frozenset({"accessdenied", "unrecognizedclient", "expiredtoken", "invalidsignature",
                        "incompletesignature", "missingauthenticationtoken", "invalidclienttokenid",
                        "signaturedoesnotmatch", "resourcenotfound", "nocredentials", "unauthorized"})
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
# Validation messages that are about the gateway's model mapping, not the developer's request.
_MAPPING_HINTS = ("model identifier", "on-demand throughput", "inference profile")


class BedrockFailure(GatewayError):
    """A Bedrock error as ``status``, ``error_type``, ``message`` (for the developer) and ``should_retry``."""

    def __init__(self, status: int, message: str, *, should_retry: bool, code: str) -> None:
        super().__init__(status, message, should_retry=should_retry)
        self.code = code  # Bedrock's error code as received, for logs and metrics

    @classmethod
    def from_code(cls, code: str | None, message: str | None = None, *, model: str | None = None) -> BedrockFailure:
        """Map a botocore error code (``ThrottlingException``, ``modelStreamErrorException``, ``Throttling`` …)."""
        code = code or "Unknown"
        shown = _NOT_ALNUM.sub("", code)[:80] or "Unknown"
        detail = " ".join((message or "").split())[:_MAX_DETAIL]
        kind = _group(code)
        if kind in _THROTTLED:
            return cls(429, f"{PREFIX}Amazon Bedrock is throttling this gateway{_said(shown, detail)}. Claude Code "
                            f"retries on its own; if this persists, ask your Overspill admin to raise the Bedrock "
                            f"quotas.", should_retry=True, code=code)
        if kind in _OVERLOADED:
            return cls(529, f"{PREFIX}Amazon Bedrock could not answer right now{_said(shown, detail)}. Claude "
                            f"Code retries on its own.", should_retry=True, code=code)
        if kind in _INVALID:
            text = detail or "Bedrock rejected the request as invalid."
            if "too long" in text.lower():
                # Anthropic's wording, so that Claude Code recognises a context overflow and compacts.
                text = f"prompt is too long for the Bedrock model ({text})"
            elif any(hint in text.lower() for hint in _MAPPING_HINTS):
                text += (" Ask your Overspill admin to check the Bedrock model mapping "
                         "(OVERSPILL_BEDROCK_MODEL_MAP, OVERSPILL_BEDROCK_GEOGRAPHY).")
            return cls(400, PREFIX + text, should_retry=False, code=code)
        if kind in _NO_ACCESS:
            target = f" to {model}" if model else ""
            return cls(403, f"{PREFIX}the gateway's access{target} on Amazon Bedrock failed ({shown}), so this "
                            f"request could not be answered from Bedrock. Ask your Overspill admin to check the "
                            f"gateway's Bedrock credentials, IAM permissions and model access.",
                       should_retry=False, code=code)
        # Unknown codes: only the code is shown — the text of an error we did not expect could carry anything.
        return cls(502, f"{PREFIX}Amazon Bedrock failed unexpectedly ({shown}). If this persists, tell your "
                        f"Overspill admin.", should_retry=True, code=code)

    @classmethod
    def from_error(cls, error: Any, *, model: str | None = None) -> BedrockFailure:
        """From a botocore ``ClientError`` / ``EventStreamError`` (read by duck typing: no botocore import)."""
        response = getattr(error, "response", None)
        details = response.get("Error") if isinstance(response, dict) else None
        if not isinstance(details, dict):
            return cls.from_code(type(error).__name__, None, model=model)
        return cls.from_code(details.get("Code"), details.get("Message"), model=model)

    def sse(self) -> bytes:
        """The same failure as an SSE ``error`` event, once the stream has started."""
        return sse_error_event(self.error_type, self.message)


def _group(code: str) -> str:
    """``ThrottlingException``, ``throttlingException``, ``Throttling`` -> ``throttling``; likewise ``…Error``."""
    kind = _NOT_ALNUM.sub("", code).lower().removesuffix("exception")
    for group in (_THROTTLED, _OVERLOADED, _INVALID, _NO_ACCESS):
        if kind in group or kind.removesuffix("error") in group:
            return kind if kind in group else kind.removesuffix("error")
    return kind


def _said(code: str, detail: str) -> str:
    return f" ({code}: {detail})" if detail else f" ({code})"
