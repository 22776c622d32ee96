"""The admin API from a terminal: the deployment's dashboard config, a Cognito sign-in kept in a private token
cache, and HTTP calls that sign in again when the API stops accepting the token.

The CLI signs in the way the dashboard does — ``GET <url>/config.json`` names the pool, the app client and the
API — so one URL is all an admin needs, for the local run and a deployment alike. Cognito's InitiateAuth is an
unsigned call: no AWS credentials are needed (or sent) on the admin's machine.

Nothing here prints: errors are :class:`AdminClientError` with a message fit for a terminal, never holding a
token or a password."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from botocore import UNSIGNED
from botocore.exceptions import BotoCoreError, ClientError

from overspill.aws import client as aws_client
from overspill.config import Settings, SettingsError

# An access token this close to its expiry is refreshed first: a long command must not see it lapse midway.
REFRESH_MARGIN_S = 60.0
CACHE_FORMAT = 1
USER_AGENT = "overspill-admin-cli"
# Admin calls are short, but an on-demand export reads a month of usage before it answers.
_TIMEOUT = httpx.Timeout(120.0, connect=5.0)


class AdminClientError(Exception):
    """Something the admin should read: ``str(error)`` is the whole message."""


class ApiError(AdminClientError):
    """The admin API refused a request: its status, error type, message and field problems."""

    def __init__(self, status: int, kind: str, message: str, fields: list[tuple[str, str]]) -> None:
        self.status, self.kind, self.message, self.fields = status, kind, message, fields
        lines = [f"{message} (HTTP {status})"]
        # The API's message names the first few problems itself; list the ones it does not.
        lines += [f"  {field}: {problem}" for field, problem in fields if f"{field}: {problem}" not in message]
        super().__init__("\n".join(lines))


class NotAccepted(AdminClientError):
    """Cognito signed the admin in, but the API refuses the token (another pool or app client, a clock off)."""


class SignInFailed(AdminClientError):
    pass


class CognitoUnreachable(SignInFailed):
    """No answer from Cognito: a password would not help, so none is asked for."""


# --- the deployment's runtime config ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """What ``/config.json`` says: where the API is and which Cognito pool and app client sign in to it."""

    api_base: str
    region: str
    user_pool_id: str
    client_id: str
    endpoint: str | None    # the cognito-idp endpoint; None: AWS's own for the region

    @classmethod
    def parse(cls, url: str, document: Any) -> DashboardConfig:
        try:
            cognito = document["cognito"]
            api_base = str(document.get("apiBase") or "/api")
            config = cls(api_base=_join(url, api_base), region=str(cognito["region"]),
                         user_pool_id=str(cognito["userPoolId"]), client_id=str(cognito["clientId"]),
                         endpoint=str(cognito["endpoint"]) if cognito.get("endpoint") else None)
        except (KeyError, TypeError, AttributeError):
            raise AdminClientError(f"{url}/config.json is not an Overspill dashboard config (no cognito region, "
                                   "userPoolId and clientId): is this the Overspill URL?") from None
        return config


def _join(url: str, base: str) -> str:
    # apiBase is a path on the same origin (the dashboard is served with the API) or a URL of its own.
    if urlsplit(base).scheme in ("http", "https"):
        return base.rstrip("/")
    return url + "/" + base.strip("/") if base.strip("/") else url


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AdminClientError(f"the Overspill URL must be an http(s) URL, got {url!r}")
    return url.strip().rstrip("/")


# --- tokens and their cache -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float           # epoch seconds, from Cognito's ExpiresIn when the token was handed out
    user_pool_id: str
    client_id: str
    region: str
    endpoint: str | None

    def fresh(self, now: float) -> bool:
        return self.expires_at - now > REFRESH_MARGIN_S

    def issued_for(self, config: DashboardConfig) -> bool:
        return (self.user_pool_id, self.client_id) == (config.user_pool_id, config.client_id)

    def as_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_at": self.expires_at, "user_pool_id": self.user_pool_id, "client_id": self.client_id,
                "region": self.region, "endpoint": self.endpoint}

    @classmethod
    def from_json(cls, entry: Any) -> Tokens | None:
        try:
            return cls(access_token=str(entry["access_token"]), refresh_token=str(entry["refresh_token"]),
                       expires_at=float(entry["expires_at"]), user_pool_id=str(entry["user_pool_id"]),
                       client_id=str(entry["client_id"]), region=str(entry["region"]),
                       endpoint=entry.get("endpoint") or None)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # an entry of another format: sign in again


def default_cache_path(environ: dict[str, str] | os._Environ[str]) -> Path:
    """``$XDG_CACHE_HOME/overspill/admin-tokens.json`` (``~/.cache`` when unset or not absolute, per XDG)."""
    base = environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "overspill" / "admin-tokens.json"


class TokenCache:
    """Tokens per (Overspill URL, username) in one JSON file that only its owner may read (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def key(url: str, username: str) -> str:
        return f"{url} {username}"

    def get(self, key: str) -> Tokens | None:
        return Tokens.from_json(self._entries().get(key))

    def put(self, key: str, tokens: Tokens) -> None:
        entries = self._entries()
        entries[key] = tokens.as_json()
        self._write(entries)

    def forget(self, key: str | None = None) -> list[Tokens]:
        """Drop one entry (or all, with ``key=None``); returns what was dropped."""
        entries = self._entries()
        dropped = list(entries.values()) if key is None else [entries.pop(key)] if key in entries else []
        if key is None:
            entries = {}
        if dropped:
            self._write(entries)
        return [t for t in map(Tokens.from_json, dropped) if t is not None]

    def _entries(self) -> dict[str, Any]:
        try:
            document = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError):
            return {}  # unreadable or damaged: treated as empty, rewritten by the next sign-in
        if not isinstance(document, dict) or document.get("format") != CACHE_FORMAT:
            return {}
        entries = document.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _write(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = orjson.dumps({"format": CACHE_FORMAT, "entries": entries}, option=orjson.OPT_INDENT_2)
        # Written under another name with 0600 from the start, then renamed: never readable by others, not
        # even for a moment, and a concurrent command reads the old file or the new one, never half of one.
        handle, temporary = tempfile.mkstemp(prefix=".admin-tokens.", dir=self.path.parent)
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "wb") as file:
                file.write(payload)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


# --- Cognito ----------------------------------------------------------------------------------------------

class Cognito:
    """USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH against the pool's app client, unsigned as a browser does."""

    def __init__(self, region: str, endpoint: str | None, client_id: str, user_pool_id: str) -> None:
        self.region, self.endpoint, self.client_id, self.user_pool_id = region, endpoint, client_id, user_pool_id
        try:
            settings = Settings(region=region, aws_endpoint_url=endpoint)
            self._client: Any = aws_client("cognito-idp", settings, signature_version=UNSIGNED)
        except (SettingsError, BotoCoreError) as error:  # a bad endpoint in config.json, a missing AWS_PROFILE
            raise SignInFailed(f"cannot set up the sign-in to {endpoint or region}: {error}") from None

    @classmethod
    def for_config(cls, config: DashboardConfig) -> Cognito:
        return cls(config.region, config.endpoint, config.client_id, config.user_pool_id)

    @property
    def where(self) -> str:
        return self.endpoint or f"Cognito in {self.region}"

    def sign_in(self, username: str, password: str, new_password: Callable[[], str],
                on_refused: Callable[[str], None] | None = None) -> Tokens:
        """``new_password`` is asked for when the account has a temporary password; ``on_refused`` is told
        Cognito's reason when it refuses a new password, before it is asked again."""
        answer = self._call("initiate_auth", ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": username, "PASSWORD": password})
        challenge = answer.get("ChallengeName")
        if challenge == "NEW_PASSWORD_REQUIRED":
            answer = self._new_password(username, answer, new_password, on_refused or (lambda _: None))
        elif challenge:
            raise SignInFailed(f"signing in as {username} needs {challenge}, which the CLI does not do: sign in "
                               "on the dashboard once, then try again")
        return self._tokens(answer["AuthenticationResult"], refresh_token=None)

    def refresh(self, tokens: Tokens) -> Tokens:
        answer = self._call("initiate_auth", ClientId=self.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                            AuthParameters={"REFRESH_TOKEN": tokens.refresh_token})
        return self._tokens(answer["AuthenticationResult"], refresh_token=tokens.refresh_token)

    def revoke(self, tokens: Tokens) -> None:
        """Revoke the refresh token (and the access tokens it issued), so a copy of the cache is worth nothing."""
        self._call("revoke_token", Token=tokens.refresh_token, ClientId=tokens.client_id)

    def _new_password(self, username: str, answer: dict[str, Any], new_password: Callable[[], str],
                      on_refused: Callable[[str], None]) -> dict[str, Any]:
        # A temporary password (an admin created the account): Cognito wants a permanent one before any token.
        for attempt in range(3):
            try:
                reply = self._client.respond_to_auth_challenge(
                    ClientId=self.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=answer["Session"],
                    ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password()})
            except ClientError as error:
                if _code(error) == "InvalidPasswordException" and attempt < 2:
                    on_refused(_message(error))
                    continue
                raise self._failure(error) from None
            except BotoCoreError as error:
                raise self._unreachable(error) from None
            if reply.get("ChallengeName"):
                raise SignInFailed(f"after the new password Cognito asks for {reply['ChallengeName']}, which the "
                                   "CLI does not do: sign in on the dashboard")
            return reply
        raise SignInFailed("no new password was accepted")  # pragma: no cover - the loop raises first

    def _call(self, operation: str, **parameters: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, operation)(**parameters)
        except ClientError as error:
            raise self._failure(error) from None
        except BotoCoreError as error:
            raise self._unreachable(error) from None

    def _failure(self, error: ClientError) -> SignInFailed:
        code, message = _code(error), _message(error)
        if code in ("NotAuthorizedException", "UserNotFoundException"):
            return SignInFailed(f"sign-in refused: {message or 'wrong username or password'}")
        if code == "PasswordResetRequiredException":
            return SignInFailed("the password must be reset first: ask another admin, or use the dashboard's "
                                "reset")
        if code == "InvalidPasswordException":
            return SignInFailed(f"Cognito refused the new password: {message}")
        if code in ("ResourceNotFoundException", "InvalidParameterException"):
            return SignInFailed(f"Cognito at {self.where} does not know this app client ({code}: {message}): "
                                "is config.json current?")
        return SignInFailed(f"sign-in failed: {code}: {message}")

    def _unreachable(self, error: BotoCoreError) -> SignInFailed:
        return CognitoUnreachable(f"cannot reach the sign-in service ({self.where}): {error}")

    def _tokens(self, result: dict[str, Any], *, refresh_token: str | None) -> Tokens:
        return Tokens(access_token=result["AccessToken"],
                      refresh_token=result.get("RefreshToken") or refresh_token or "",
                      expires_at=time.time() + float(result.get("ExpiresIn") or 3600),
                      user_pool_id=self.user_pool_id, client_id=self.client_id, region=self.region,
                      endpoint=self.endpoint)


def revoke_quietly(tokens: Tokens) -> None:
    """Revoke when Cognito answers; forgetting the tokens locally does not depend on it (signing out offline)."""
    with contextlib.suppress(AdminClientError):
        Cognito(tokens.region, tokens.endpoint, tokens.client_id, tokens.user_pool_id).revoke(tokens)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or "")


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or "")


# --- the admin API ----------------------------------------------------------------------------------------

class AdminClient:
    """Calls the admin API at ``url`` as ``username``. ``password`` and ``new_password`` are asked only when a
    sign-in is needed (no cached tokens, or tokens that can no longer be refreshed or are refused)."""

    def __init__(self, url: str, username: str, *, cache: TokenCache, password: Callable[[], str],
                 new_password: Callable[[], str], on_refused_password: Callable[[str], None] | None = None,
                 http: httpx.Client | None = None) -> None:
        self.url = normalise_url(url)
        self.username = username
        self.cache = cache
        self._password = password
        self._new_password = new_password
        self._on_refused_password = on_refused_password
        self._http = http or httpx.Client(timeout=_TIMEOUT, headers={"User-Agent": USER_AGENT},
                                          follow_redirects=False)
        self._config: DashboardConfig | None = None
        self._tokens: Tokens | None = None
        self._signed_in_now = False

    def close(self) -> None:
        self._http.close()

    @property
    def cache_key(self) -> str:
        return TokenCache.key(self.url, self.username)

    # -- the deployment

    @property
    def config(self) -> DashboardConfig:
        if self._config is None:
            response = self._send("GET", f"{self.url}/config.json")
            if response.status_code != 200:
                # The admin API's own URL (a deployment without its dashboard yet) says the same at /api/config.
                fallback = self._send("GET", f"{self.url}/api/config")
                if fallback.status_code == 200:
                    response = fallback
            if response.status_code != 200:
                raise AdminClientError(f"{self.url}/config.json answered HTTP {response.status_code}: is {self.url} "
                                       "the Overspill URL (where the dashboard is)?")
            try:
                document = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                raise AdminClientError(f"{self.url}/config.json is not JSON: is {self.url} the Overspill URL?"
                                       ) from None
            self._config = DashboardConfig.parse(self.url, document)
        return self._config

    # -- signing in

    def access_token(self) -> str:
        """A usable access token: cached, refreshed, or from a new sign-in — in that order."""
        if self._tokens is not None and self._tokens.fresh(time.time()):
            return self._tokens.access_token
        config = self.config
        cached = self.cache.get(self.cache_key)
        if cached is not None and cached.issued_for(config):
            if cached.fresh(time.time()):
                self._tokens = cached
                return cached.access_token
            try:
                refreshed = Cognito.for_config(config).refresh(cached)
            except CognitoUnreachable:
                raise
            except SignInFailed:
                pass  # revoked, expired or from a pool made anew: a password sign-in decides
            else:
                self._remember(refreshed)
                return refreshed.access_token
        return self.sign_in()

    def sign_in(self) -> str:
        tokens = Cognito.for_config(self.config).sign_in(self.username, self._password(), self._new_password,
                                                         self._on_refused_password)
        self._remember(tokens)
        self._signed_in_now = True
        return tokens.access_token

    def _remember(self, tokens: Tokens) -> None:
        self._tokens = tokens
        self.cache.put(self.cache_key, tokens)

    def forget(self) -> bool:
        """Sign out here: revoke the refresh token when Cognito can be reached, and drop the cached tokens."""
        dropped = self.cache.forget(self.cache_key)
        for tokens in dropped:
            revoke_quietly(tokens)
        self._tokens = None
        return bool(dropped)

    # -- calling the API

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                idempotent_create: bool = False) -> httpx.Response:
        """``path`` is below the API base ("/users"). A 2xx answer is returned; any other raises
        :class:`ApiError`. A 401 signs in again, once."""
        url = self.config.api_base + path
        headers = {"Accept": "application/json"}
        if idempotent_create:
            # One key per command run: the retry after a re-sign-in is the same create, not a second one.
            headers["Idempotency-Key"] = str(uuid.uuid4())
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._authorised(method, url, headers, query, json)
        if response.status_code == 401:
            if self._signed_in_now:
                raise self._not_accepted(response)
            self.sign_in()
            response = self._authorised(method, url, headers, query, json)
            if response.status_code == 401:
                raise self._not_accepted(response)
        if response.is_success:
            return response
        raise api_error(response)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def pages(self, path: str, params: dict[str, Any], *, follow: bool) -> Iterator[dict[str, Any]]:
        """Each page of a cursor-paged list (``{items, next_cursor}``); only the first unless ``follow``."""
        cursor = None
        while True:
            page = self.request("GET", path, params={**params, "cursor": cursor}).json()
            yield page
            cursor = page.get("next_cursor")
            if not follow or not cursor:
                return

    def download(self, url: str) -> httpx.Response:
        """GET a pre-signed link. Without our Authorization header: the signature in the URL is the grant, and
        S3 refuses a request that carries two."""
        response = self._send("GET", url)
        if not response.is_success:
            raise AdminClientError(f"the download link answered HTTP {response.status_code}")
        return response

    def _authorised(self, method: str, url: str, headers: dict[str, str], params: dict[str, Any],
                    json: Any) -> httpx.Response:
        headers = {**headers, "Authorization": f"Bearer {self.access_token()}"}
        content = orjson.dumps(json) if json is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        return self._send(method, url, headers=headers, params=params, content=content)

    def _send(self, method: str, url: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **options)
        except httpx.TimeoutException:
            raise AdminClientError(f"no answer from {_origin(url)} in time ({method} {urlsplit(url).path})"
                                   ) from None
        except httpx.TransportError as error:
            raise AdminClientError(f"cannot reach {_origin(url)}: {error or type(error).__name__}") from None

    def _not_accepted(self, response: httpx.Response) -> NotAccepted:
        detail = api_error(response).message
        return NotAccepted(f"signed in as {self.username} but not accepted by the admin API at "
                           f"{self.config.api_base}: {detail}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def api_error(response: httpx.Response) -> ApiError:
    """The API's error body (``{"error": {type, message, fields}}``) or, from something else, the status."""
    try:
        error = orjson.loads(response.content)["error"]
        fields = [(str(f.get("field")), str(f.get("message"))) for f in error.get("fields") or []]
        return ApiError(response.status_code, str(error.get("type") or ""), str(error.get("message") or ""), fields)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        reason = response.reason_phrase or "error"
        return ApiError(response.status_code, "http_error", f"{response.request.url.path} answered {reason}", [])
