"""Which bedrock-runtime client serves a user's fallback: the function's role, or the user's own credentials.

Per instance, each user costs one DynamoDB GetItem per ``credentials_cache_ttl_s`` and one KMS Decrypt per
change of their credentials: the cache keys the client on the stored item's version, so a read that finds
the same version keeps the client it has. Loads are single-flight per user, so a burst of first requests
reads and decrypts once.

Importing this module does not import ``aws_encryption_sdk``; only the first decrypt does (see vault.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialResolver
from botocore.tokens import FrozenAuthToken, TokenProviderChain

from overspill.config import Settings, env_name
from overspill.credentials.domain import BedrockCredentials, CredentialKind, CredentialsUnavailable
from overspill.observability import logger

if TYPE_CHECKING:
    from overspill.credentials.store import BedrockCredentialRepository, StoredCredentials
    from overspill.credentials.vault import CredentialVault

ClientSource = Literal["role", "api_key", "access_key"]
SERVICE = "bedrock-runtime"


@dataclass(frozen=True, slots=True, eq=False)
class BedrockClient:
    """A botocore ``bedrock-runtime`` client and where its authority comes from (for logs and usage events).
    Compared by identity: two users with equal-looking credentials still have two clients."""

    client: Any = field(repr=False)
    source: ClientSource
    region: str
    hint: str | None = None       # of the user's credentials; None for the role
    revision: int | None = None   # of the stored item the client was built from


@dataclass(frozen=True, slots=True)
class _Entry:
    version: tuple[int, datetime] | None  # None: the user has no stored credentials (the role serves them)
    client: BedrockClient
    expires_at: float


class BedrockClients:
    """Per-instance source of Bedrock clients. Thread-safe; build one per process and keep it."""

    def __init__(self, settings: Settings, repository: BedrockCredentialRepository, vault: CredentialVault, *,
                 clock: Callable[[], float] = time.monotonic, max_users: int = 10_000) -> None:
        self._settings = settings
        self._repository = repository
        self._vault = vault
        self._clock = clock
        self._ttl = settings.credentials_cache_ttl_s
        self._max_users = max_users
        self._builder = _ClientBuilder(settings)
        self._lock = threading.Lock()                   # guards the two dicts below and the role client
        self._entries: dict[str, _Entry] = {}
        self._user_locks: dict[str, threading.Lock] = {}
        self._role: BedrockClient | None = None

    def for_user(self, user_id: str) -> BedrockClient:
        """The client for ``user_id``'s fallback. Raises :class:`CredentialsUnavailable` when the user has
        stored credentials that cannot be used: silently using the role would bill the wrong account."""
        entry = self._fresh(user_id)
        if entry is not None:
            return entry.client
        with self._user_lock(user_id):
            entry = self._fresh(user_id)  # another thread may have loaded it while this one waited
            if entry is not None:
                return entry.client
            return self._load(user_id)

    def role(self) -> BedrockClient:
        """The function's own role (botocore's default credential chain) in the deployment's Bedrock region."""
        with self._lock:
            if self._role is None:
                region = self._settings.bedrock_region
                self._role = BedrockClient(self._builder.role(region), source="role", region=region)
            return self._role

    def forget(self, user_id: str) -> None:
        """Drop a user's cached client (e.g. right after an admin changed their credentials in this process)."""
        with self._lock:
            self._entries.pop(user_id, None)

    # --- loading -------------------------------------------------------------------------------------------

    def _load(self, user_id: str) -> BedrockClient:
        now = self._clock()
        with self._lock:
            previous = self._entries.get(user_id)
        try:
            stored = self._repository.get(user_id)
        except Exception as error:  # noqa: BLE001 - DynamoDB down or throttled; any failure means the same here
            if previous is not None:
                # Keep serving the client we have rather than fail a fallback on a storage hiccup; the next
                # request reads again.
                logger.warning("bedrock credentials read failed; using the cached client",
                               extra={"user_id": user_id, "error": type(error).__name__})
                return previous.client
            raise CredentialsUnavailable(
                "store_unavailable", f"cannot read the Bedrock credentials of user {user_id!r} from table "
                                     f"{self._settings.credentials_table} ({type(error).__name__}).") from error
        if stored is None:
            client, version = self.role(), None
        elif previous is not None and previous.version == stored.version:
            client, version = previous.client, stored.version  # unchanged: no decrypt
        else:
            client, version = self._open(stored), stored.version
        with self._lock:
            self._entries.pop(user_id, None)  # re-insert at the end: the dict's order is the eviction order
            self._entries[user_id] = _Entry(version, client, now + self._ttl)
            self._evict(now)
        return client

    def _open(self, stored: StoredCredentials) -> BedrockClient:
        try:
            credentials = self._vault.decrypt(stored.user_id, stored.ciphertext)
        except CredentialsUnavailable as error:
            logger.warning("stored bedrock credentials unavailable",
                           extra={"user_id": stored.user_id, "reason": error.reason, "revision": stored.revision})
            raise
        region = credentials.region or self._settings.bedrock_region
        if credentials.kind is CredentialKind.API_KEY:
            client = self._builder.api_key(credentials, region)
        else:
            client = self._builder.access_key(credentials, region)
        logger.info("bedrock credentials loaded", extra={
            "user_id": stored.user_id, "source": credentials.kind.value, "region": region,
            "hint": credentials.hint, "revision": stored.revision})
        return BedrockClient(client, source=credentials.kind.value, region=region, hint=credentials.hint,
                             revision=stored.revision)

    # --- cache bookkeeping ---------------------------------------------------------------------------------

    def _fresh(self, user_id: str) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(user_id)
        if entry is not None and entry.expires_at > self._clock():
            return entry
        return None

    def _user_lock(self, user_id: str) -> threading.Lock:
        with self._lock:
            return self._user_locks.setdefault(user_id, threading.Lock())

    def _evict(self, now: float) -> None:
        if len(self._entries) <= self._max_users:
            return
        for user_id in [u for u, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[user_id]
            self._user_locks.pop(user_id, None)
        while len(self._entries) > self._max_users:
            user_id = next(iter(self._entries))
            del self._entries[user_id]
            self._user_locks.pop(user_id, None)


class _ClientBuilder:
    """Builds bedrock-runtime clients. Nothing process-wide changes: an API key lives only in its own
    client's signer, an access key only in its own client's credentials."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()  # botocore sessions are not thread-safe while creating clients
        self._session: botocore.session.Session | None = None

    def role(self, region: str) -> Any:
        with self._lock:
            return self._base().create_client(SERVICE, region_name=region, endpoint_url=self._endpoint(),
                                              config=self._config(region, "v4"))

    def access_key(self, credentials: BedrockCredentials, region: str) -> Any:
        with self._lock:
            return self._base().create_client(
                SERVICE, region_name=region, endpoint_url=self._endpoint(), config=self._config(region, "v4"),
                aws_access_key_id=credentials.access_key_id, aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )

    def api_key(self, credentials: BedrockCredentials, region: str) -> Any:
        endpoint = self._endpoint()
        if endpoint is not None and not endpoint.startswith("https://"):
            raise CredentialsUnavailable(
                "insecure_endpoint", f"Bedrock API keys are only sent over HTTPS, but "
                                     f"{env_name('bedrock_endpoint_url')} is {endpoint}.")
        assert credentials.api_key is not None  # nosec B101  # type narrowing: validated as an api_key kind
        with self._lock:
            # botocore's own support for Bedrock API keys reads AWS_BEARER_TOKEN_BEDROCK from the process
            # environment: one key per process. Here each key gets a session of its own whose token provider
            # yields only that key and whose credential chain is empty (so the client can never fall back on
            # the role). The service models are shared with the base session: ~10 ms per client instead of ~50.
            session = botocore.session.Session()
            session.register_component("data_loader", self._base().get_component("data_loader"))
            session.register_component("credential_provider", CredentialResolver(providers=[]))
            session.register_component("token_provider", TokenProviderChain([_StaticToken(credentials.api_key)]))
            return session.create_client(SERVICE, region_name=region, endpoint_url=endpoint,
                                         config=self._config(region, "bearer"))

    def _base(self) -> botocore.session.Session:
        if self._session is None:
            self._session = botocore.session.Session()
        return self._session

    def _endpoint(self) -> str | None:
        return self._settings.bedrock_endpoint_url

    def _config(self, region: str, signature_version: str) -> Config:
        settings = self._settings
        return Config(
            region_name=region,
            # Explicit, so that an AWS_BEARER_TOKEN_BEDROCK in the environment cannot turn a role or access-key
            # client into a bearer one (botocore prefers the env token when nothing is set in code).
            signature_version=signature_version,
            connect_timeout=settings.bedrock_connect_timeout_s,
            # A long extended-thinking stream; under Lambda's 15 minutes so a stall ends as a visible error.
            read_timeout=settings.upstream_read_timeout_s,
            # One attempt: the gateway decides what a failure means, and Claude Code retries on its own.
            retries={"mode": "standard", "total_max_attempts": 1},
            tcp_keepalive=True,
            max_pool_connections=settings.upstream_max_connections,
            user_agent_appid="overspill",
        )


class _StaticToken:
    """A botocore token provider that yields one Bedrock API key (and is never printed)."""

    METHOD = "overspill-bedrock-api-key"

    def __init__(self, token: str) -> None:
        self._token = FrozenAuthToken(token)

    def load_token(self, **_: Any) -> FrozenAuthToken:
        return self._token

    def __repr__(self) -> str:
        return "_StaticToken(<redacted>)"
