"""Who is calling the admin API: a Cognito user pool access token, verified in the function itself.

Verified the way AWS documents it (Cognito developer guide, "Verifying a JSON web token"): an RS256 signature
by a key of the pool's JWKS, the pool's issuer, ``token_use == "access"``, an app client this deployment
accepts, and expiry. The function does it rather than an API Gateway authorizer so that the local run (moto
behind the Function URL emulator) and AWS take exactly the same path.

What a local check cannot see: a token revoked by sign-out, or a user removed from a group, stays good until
it expires. The access-token lifetime of the app client is therefore the revocation window; keep it short.

Roles come from Cognito groups: ``admins`` → admin (everything), ``finance`` → finance (read usage, pricing
and exports); admins wins when a user is in both. A signed-in user in neither group has no role and is
refused (403) on every endpoint that calls :func:`require`: membership is granted, never assumed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import jwt

from overspill.observability import logger


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"


# Cognito group → role, strongest first: the first group the user is in decides.
GROUP_ROLES: tuple[tuple[str, Role], ...] = (("admins", Role.ADMIN), ("finance", Role.FINANCE))
# What each role may do: an admin may do whatever finance may.
_GRANTS: Mapping[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.ADMIN, Role.FINANCE}),
    Role.FINANCE: frozenset({Role.FINANCE}),
}


def role_for(groups: Iterable[str]) -> Role | None:
    member_of = set(groups)
    return next((role for group, role in GROUP_ROLES if group in member_of), None)


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    subject: str                 # the Cognito ``sub``: stable across renames, what the audit log should keep
    groups: tuple[str, ...]
    role: Role | None            # None: signed in, but in neither group: refused everywhere

    def may(self, role: Role) -> bool:
        return self.role is not None and role in _GRANTS[self.role]


class IdentityError(Exception):
    """A refusal the admin API answers itself. ``message`` is safe to return to the caller (it never contains
    the token); ``reason`` is a short code for logs and metrics."""

    status = 500

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class Unauthenticated(IdentityError):
    """No token, or one this deployment does not accept (→ 401)."""

    status = 401


class Forbidden(IdentityError):
    """A valid token whose role does not allow the operation (→ 403)."""

    status = 403


class IdentityUnavailable(IdentityError):
    """The pool's signing keys could not be fetched, so no token can be checked (→ 503). Not the caller's fault:
    a 401 here would sign every dashboard user out while Cognito is unreachable."""

    status = 503


def require(principal: Principal, role: Role) -> Principal:
    """The principal, if its role allows ``role``'s operations; else :class:`Forbidden`."""
    if principal.may(role):
        return principal
    if principal.role is None:
        raise Forbidden("Your account is in neither the admins nor the finance group; ask an Overspill admin "
                        "to add you to one.", reason="no_role")
    raise Forbidden(f"This needs the {role} role; you are signed in with the {principal.role} role.",
                    reason="role")


_MISSING = "Sign in first: this endpoint needs an access token (Authorization: Bearer <access token>)."
_INVALID = "The access token is not valid for this Overspill deployment; sign in again."
_WRONG_USE = "Send the access token, not the ID token, as Authorization: Bearer <access token>."
_MESSAGES = {
    "missing": _MISSING,
    "expired": "Your session has expired; sign in again.",
    "not_yet_valid": "The access token is not valid yet; check this machine's clock, then sign in again.",
    "issuer": "The access token was issued by another Cognito user pool; sign in to this deployment.",
    "client": "The access token was issued to an app client this deployment does not accept.",
    "token_use": _WRONG_USE,
}
# Cognito access tokens are 1–2 KB (more with many groups); anything far larger is not one.
MAX_TOKEN_CHARS = 16 * 1024
# Claims every Cognito token has; an access token also has client_id and username (checked after token_use,
# so that an ID token is told apart from a broken token).
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "token_use"]
# After a failed JWKS fetch with no keys at all, wait this long before trying again (each try can take the
# whole fetch timeout, and every request would pay it).
_RETRY_AFTER_FAILURE_S = 5.0


def _refuse(reason: str) -> Unauthenticated:
    logger.info("admin token refused", extra={"reason": reason})
    return Unauthenticated(_MESSAGES.get(reason, _INVALID), reason=reason)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if not scheme:
        raise _refuse("missing")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse("malformed")
    return token.strip()


class TokenVerifier:
    """Verifies Cognito access tokens of one user pool. Create one per instance: it keeps the pool's signing
    keys, fetched on first use and again only when a token names a key it does not know (key rotation), at
    most once per ``jwks_refresh_interval_s``: an attacker inventing key ids cannot make it fetch per request.
    Never a fetch per request either when Cognito is unreachable: with no keys at all, a failed fetch is
    retried after a few seconds (those requests get :class:`IdentityUnavailable`).

    ``clock`` (wall-clock seconds) drives both the expiry checks and the refresh window.
    """

    def __init__(
        self,
        region: str,
        user_pool_id: str,
        client_ids: Iterable[str] | str,
        *,
        jwks_url: str | None = None,
        clock: Callable[[], float] = time.time,
        leeway_s: float = 30.0,
        jwks_refresh_interval_s: float = 300.0,
        jwks_timeout_s: float = 3.0,
    ) -> None:
        # Cognito names pools <region>_<id>; a mismatch is a configuration mistake that would refuse every token.
        if not user_pool_id.startswith(f"{region}_"):
            raise ValueError(f"user pool id {user_pool_id!r} does not belong to region {region!r}")
        if isinstance(client_ids, str):
            client_ids = client_ids.split(",")
        self.client_ids = frozenset(c.strip() for c in client_ids if c.strip())
        if not self.client_ids:
            raise ValueError("at least one app client id is needed")
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks.json"
        self._clock = clock
        self._leeway = leeway_s
        self._refresh_interval = jwks_refresh_interval_s
        self._timeout = httpx.Timeout(jwks_timeout_s, connect=min(jwks_timeout_s, 2.0))
        # Replaced whole, never mutated: readers look keys up without the lock.
        self._keys: Mapping[str, Any] = {}
        self._refresh_at = float("-inf")   # with keys: the next refetch an unknown kid may cause
        self._retry_at = float("-inf")     # without keys: the next try after a failed fetch
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization`` header value, or :class:`Unauthenticated`."""
        return self.verify(bearer_token(authorization))

    def verify(self, token: str) -> Principal:
        if not token:
            raise _refuse("missing")
        if len(token) > MAX_TOKEN_CHARS:
            raise _refuse("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refuse("malformed") from None
        # Only RS256, decided before any key is touched: "none" and HS256-with-the-public-key never get near
        # a verifier (pyjwt is also told to accept RS256 only).
        if header.get("alg") != "RS256":
            raise _refuse("algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refuse("malformed")
        key = self._signing_key(kid)
        try:
            claims = jwt.decode(
                token, key, algorithms=["RS256"], issuer=self.issuer,
                # Times are checked below against the injected clock; access tokens carry no audience.
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_nbf": False,
                         "verify_iat": False, "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            raise _refuse("signature") from None
        except jwt.InvalidIssuerError:
            raise _refuse("issuer") from None
        except jwt.PyJWTError:
            raise _refuse("malformed") from None
        self._check_times(claims)
        if claims["token_use"] != "access":
            raise _refuse("token_use")
        if claims.get("client_id") not in self.client_ids:
            raise _refuse("client")
        username, subject = claims.get("username"), claims["sub"]
        if not isinstance(username, str) or not isinstance(subject, str):
            raise _refuse("malformed")
        groups = claims.get("cognito:groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _refuse("malformed")
        return Principal(username=username, subject=subject, groups=tuple(groups), role=role_for(groups))

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in times.values()):
            raise _refuse("malformed")
        if now >= times["exp"] + self._leeway:
            raise _refuse("expired")
        # Issued (or valid from) in the future beyond the leeway: a clock far off, or a forged token.
        if times["iat"] > now + self._leeway or times.get("nbf", now) > now + self._leeway:
            raise _refuse("not_yet_valid")

    def _signing_key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            # Another thread may have fetched while this one waited.
            now = self._clock()
            if kid not in self._keys and now >= (self._refresh_at if self._keys else self._retry_at):
                self._fetch_keys(now)
            key = self._keys.get(kid)
            have_keys = bool(self._keys)
        if key is not None:
            return key
        if not have_keys:
            raise IdentityUnavailable("Sign-in cannot be checked right now (the user pool's signing keys are "
                                      "unreachable); try again shortly.", reason="jwks_unavailable")
        raise _refuse("unknown_key")

    def _fetch_keys(self, now: float) -> None:
        if self._keys:
            # A refresh, successful or not, closes the window: unknown kids cost no fetch until it reopens.
            self._refresh_at = now + self._refresh_interval
        try:
            response = httpx.get(self.jwks_url, timeout=self._timeout)
            response.raise_for_status()
            keys = signing_keys(response.json())
        except (httpx.HTTPError, ValueError) as error:
            # Keep the keys we had: a failed refresh must not turn every valid token into a 401.
            self._retry_at = now + _RETRY_AFTER_FAILURE_S
            logger.warning("could not fetch the user pool's signing keys",
                           extra={"jwks_url": self.jwks_url, "error": type(error).__name__})
            return
        self._keys = keys
        logger.info("fetched the user pool's signing keys", extra={"jwks_url": self.jwks_url, "kids": sorted(keys)})


def signing_keys(document: Any) -> dict[str, Any]:
    """The RS256 signature keys of a JWKS document, by key id; ValueError when there are none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, Any] = {}
    for entry in document["keys"]:
        if (not isinstance(entry, dict) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig"
                or entry.get("alg", "RS256") != "RS256" or not isinstance(entry.get("kid"), str)):
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
        except jwt.PyJWTError:
            continue
    if not keys:
        raise ValueError("the JWKS has no RS256 signing keys")
    return keys
