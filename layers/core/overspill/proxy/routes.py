"""What a request asks for, from its method and path. The query string never matters (``?beta=true``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Endpoint(StrEnum):
    PROBE = "probe"                  # HEAD/GET /ak/{key}: Claude Code's start-up check
    MESSAGES = "messages"
    COUNT_TOKENS = "count_tokens"
    MODELS = "models"


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: Endpoint
    access_key: str | None
    upstream_path: str               # what Anthropic sees: the path without the /ak/{key} prefix


_UPSTREAM_PATHS = {
    ("POST", "/v1/messages"): Endpoint.MESSAGES,
    ("POST", "/v1/messages/count_tokens"): Endpoint.COUNT_TOKENS,
    ("GET", "/v1/models"): Endpoint.MODELS,
}
_AK_PATH = re.compile(r"/ak/([^/]*)(/.*)?")


def match(method: str, path: str) -> Route | None:
    """The route for a request, or None for anything Overspill does not serve (a 404)."""
    method = method.upper()
    ak = _AK_PATH.fullmatch(path)
    if ak is None:
        endpoint = _UPSTREAM_PATHS.get((method, path.rstrip("/")))
        # A bare /v1/... path: Claude Code pointed here without the /ak/{key} part of the base URL.
        return Route(endpoint, None, path.rstrip("/")) if endpoint else None
    key, rest = ak.group(1), (ak.group(2) or "").rstrip("/")
    if rest == "":
        return Route(Endpoint.PROBE, key, "/") if method in ("HEAD", "GET") else None
    endpoint = _UPSTREAM_PATHS.get((method, rest))
    return Route(endpoint, key, rest) if endpoint else None
