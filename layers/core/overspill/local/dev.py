"""``overspill dev``: the whole product on one machine — moto for AWS (Cognito sign-in included), the proxy
and the admin API behind one Function URL emulator, the built dashboard beside them, state kept under the state
directory."""

from __future__ import annotations

import importlib.util
import ipaddress
import mimetypes
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote

import orjson

from overspill.config import Settings
from overspill.dashboard_policy import content_security_policy
from overspill.keys import generate_key
from overspill.local.aws_emulator import AwsEmulator
from overspill.local.cognito import ensure_user_pool, generate_password, jwks_url
from overspill.local.function_url import Answer, FunctionUrlServer
from overspill.local.provision import provision
from overspill.local.queue_poller import QueuePoller
from overspill.local.state import ADMIN_PASSWORD_FILE, CONFIG_FILE, DEMO_KEY_FILE, PEPPER_FILE, LocalState
from overspill.local.stream_poller import StreamPoller
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.models import bind_models
from overspill.store.users import UserRepository

SNAPSHOT_INTERVAL_S = 30.0
# moto accepts any credentials; never send a developer's real ones, even to loopback. A placeholder, no secret.
_MOTO_CREDENTIAL = "overspill-local"
_LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": _MOTO_CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": _MOTO_CREDENTIAL,
    "AWS_SESSION_TOKEN": _MOTO_CREDENTIAL,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # botocore 1.44 + moto DynamoDB Streams (PROTOCOL §6)
}
# EMF metric lines are for CloudWatch; on a terminal they drown the logs. POWERTOOLS_METRICS_DISABLED=false
# in the environment brings them back.
_LOCAL_DEFAULTS = {"POWERTOOLS_METRICS_DISABLED": "true"}
# Not a Settings field: settings are handed to every function and written to runtime.json; a password is not.
ADMIN_PASSWORD_ENV = "OVERSPILL_ADMIN_PASSWORD"  # nosec B105  # the variable's name, not a password
ADMIN_USERNAME = "admin"
API_PREFIX = "/api"
# The proxy's paths go straight to it (one prefix check); /api goes to the admin function, the rest to the
# dashboard when it is built.
_PROXY_PREFIXES = ("/ak/", "/v1/")


def source_root() -> Path:
    root = Path(__file__).resolve().parents[4]
    if not (root / "functions").is_dir():
        raise RuntimeError(f"overspill dev runs from a source checkout; no functions/ under {root}")
    return root


def load_function(name: str) -> Any:
    """Import ``functions/<name>/handler.py`` as Lambda would, and return its ``handler``."""
    path = source_root() / "functions" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"overspill_function_{name}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _is_wildcard(host: str) -> bool:
    """0.0.0.0, ::, or another spelling of "every interface" (a host name is not)."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


class StartError(Exception):
    """``overspill dev`` cannot start as configured; the message says why and what to change."""


class Dashboard:
    """The built dashboard (``admin_web/dist``), served as a single-page app: a file by its path, any other path
    ``index.html`` (the app's router takes it from there). Read from disk per request, so a rebuild shows."""

    # What a built web app holds, typed as browsers expect (RFC 9239 for scripts); anything else from the standard
    # library's own table, not the machine's /etc/mime.types: the same types everywhere.
    _types = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
              ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml",
              ".webmanifest": "application/manifest+json", ".wasm": "application/wasm", ".woff2": "font/woff2"}
    _other_types = mimetypes.MimeTypes()

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        # The headers CloudFront adds on AWS; the CSP names the local Cognito endpoint once it is known.
        self.security_headers = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                                 "referrer-policy": "strict-origin-when-cross-origin"}

    def allow_sign_in_at(self, cognito_origin: str) -> None:
        self.security_headers["content-security-policy"] = content_security_policy(cognito_origin)

    @property
    def built(self) -> bool:
        return (self.root / "index.html").is_file()

    def answer(self, path: str) -> Answer | None:
        index = self.root / "index.html"
        if not index.is_file():
            return None  # not built: those paths stay what they were
        file = self._file(path) or index
        content_type = (self._types.get(file.suffix.lower()) or self._other_types.guess_type(file.name)[0]
                        or "application/octet-stream")
        if content_type.startswith("text/") or content_type in ("application/json", "image/svg+xml"):
            content_type += "; charset=utf-8"
        return 200, {"content-type": content_type, "cache-control": "no-cache", **self.security_headers}, \
            file.read_bytes()

    def _file(self, path: str) -> Path | None:
        relative = unquote(path).lstrip("/")
        if not relative:
            return None
        try:
            candidate = (self.root / relative).resolve()
            # Never a file outside dist/, whatever ../ or symlink the path holds.
            return candidate if candidate.is_relative_to(self.root) and candidate.is_file() else None
        except (OSError, ValueError):  # a NUL byte, a name too long: not a file of the dashboard
            return None


class DevServer:
    def __init__(self, settings: Settings, *, aws_port: int = 0, admin_password: str | None = None,
                 rollups: bool = True, snapshot_every_s: float = SNAPSHOT_INTERVAL_S) -> None:
        self.settings = settings
        self.aws_port = aws_port
        self.rollups = rollups
        self.snapshot_every_s = snapshot_every_s  # 0: only on stop
        self.state = LocalState(Path(settings.state_dir))
        self.dashboard = Dashboard(source_root() / "admin_web" / "dist")
        self._moto: AwsEmulator | None = None
        self._server: FunctionUrlServer | None = None
        self._rollups: StreamPoller | None = None
        self._usage_replay: QueuePoller | None = None
        self._stop = threading.Event()
        self._invocations = 0  # requests the functions took: a periodic save is due only after some
        self._invocations_lock = threading.Lock()
        self.demo_key: str | None = None
        self._admin_password = admin_password
        self.new_admin_password: str | None = None  # generated by this start: the banner shows it, once
        self._config = b""

    def start(self) -> None:
        os.environ.update(_LOCAL_AWS_ENV)
        for name, value in _LOCAL_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self._moto = AwsEmulator(port=self.aws_port, log_path=self.state.directory / "aws-emulator.log")
        self._moto.start()
        self.settings = replace(self.settings, aws_endpoint_url=self._moto.url)
        # The functions read their settings from the environment, exactly as on Lambda.
        os.environ.update(self.settings.as_env())

        pepper, self.settings = provision(self.settings, pepper=self.state.read(PEPPER_FILE))
        os.environ.update(self.settings.as_env())
        self.state.write_secret(PEPPER_FILE, pepper)
        self.state.restore_tables(self.settings)
        bind_models(self.settings)
        self.demo_key = self._ensure_demo_key(pepper.encode())
        self._ensure_sign_in()
        # The rollup function follows the usage stream from its LATEST position: restored events were counted
        # before the restart. Started before the proxy serves, so that no new event is written ahead of it.
        if self.rollups:
            self._rollups = StreamPoller(self.settings, load_function("rollup"), forget_markers=True)
            self._rollups.start()
        # The usage_replay function on the usage spill queue: what the proxy could not write to DynamoDB.
        if self.settings.usage_spill_queue_url:
            self._usage_replay = QueuePoller(self.settings, load_function("usage_replay"),
                                             self.settings.usage_spill_queue_url,
                                             function_name="overspill-usage-replay")
            self._usage_replay.start()

        self._server = FunctionUrlServer(
            (self.settings.host, self.settings.port), self._counted(load_function("proxy")),
            function_name="overspill-proxy", owned_prefixes=_PROXY_PREFIXES,
            extra_routes={"/healthz": self._health, "/config.json": self._runtime_config},
            functions={API_PREFIX: (self._counted(load_function("admin")), "overspill-admin")},
            site=self.dashboard.answer,
        )
        self._server.serve_in_background()
        if self.snapshot_every_s > 0:
            threading.Thread(target=self._snapshot_periodically, name="snapshot", daemon=True).start()
        # Other commands (``overspill export``, ``overspill rollups rebuild``) find this run through it.
        self.state.write_runtime(self.settings, pid=os.getpid())

    def _ensure_demo_key(self, pepper: bytes) -> str | None:
        users = UserRepository()
        if users.any_exists():
            return self.state.read(DEMO_KEY_FILE)
        user = users.create("Demo Developer", email="demo@example.com", team="demo", user_id="usr_demo")
        new_key = generate_key(pepper)
        AccessKeyRepository().add(user.user_id, new_key)
        self.state.write_secret(DEMO_KEY_FILE, new_key.plain)
        self.state.save_tables(self.settings)
        return new_key.plain

    def _ensure_sign_in(self) -> None:
        """The Cognito pool with the ``admin`` user, and the settings the admin function verifies tokens with.
        moto starts empty: the pool is made anew on every start, with the admin password of the first."""
        password, source = self._admin_password, ADMIN_PASSWORD_ENV
        if password is None:
            password, source = self.state.read(ADMIN_PASSWORD_FILE), str(self.admin_password_path)
        if password is None:
            password = self.new_admin_password = generate_password()
        try:
            pool = ensure_user_pool(self.settings, admin_username=ADMIN_USERNAME, admin_password=password)
        except ValueError as error:
            raise StartError(f"the admin password from {source} is refused: {error}") from None
        if self.new_admin_password is not None:
            self.state.write_secret(ADMIN_PASSWORD_FILE, password)
        self.settings = replace(
            self.settings, cognito_user_pool_id=pool.pool_id, cognito_client_ids=pool.client_id,
            cognito_jwks_url=jwks_url(self.settings, pool.pool_id),
            proxy_public_url=self.settings.proxy_public_url or self.public_url,
        )
        # Before the admin function first runs: it reads its settings once, as on Lambda.
        os.environ.update(self.settings.as_env())
        config = {"apiBase": API_PREFIX, "cognito": {
            "region": self.settings.region, "userPoolId": pool.pool_id, "clientId": pool.client_id,
            "endpoint": self.settings.aws_endpoint_url,
        }}
        self._config = orjson.dumps(config)
        self.dashboard.allow_sign_in_at(self.settings.aws_endpoint_url)
        self.state.write(CONFIG_FILE, orjson.dumps(config, option=orjson.OPT_INDENT_2).decode())

    @property
    def admin_password_path(self) -> Path:
        return self.state.directory / ADMIN_PASSWORD_FILE

    def _health(self) -> Answer:
        return 200, {"content-type": "application/json"}, orjson.dumps({"status": "ok"})

    def _runtime_config(self) -> Answer:
        # A restart makes a new pool: a cached copy would send the dashboard to one that no longer exists.
        return 200, {"content-type": "application/json", "cache-control": "no-store"}, self._config

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if _is_wildcard(self.settings.host) else self.settings.host  # a URL one can open
        return f"http://{host}:{self._server.server_address[1] if self._server else self.settings.port}"

    def banner(self) -> str:
        lines = [
            f"Overspill is running at {self.public_url} (AWS emulator at {self.settings.aws_endpoint_url}; "
            f"plan upstream {self.settings.anthropic_base}; Bedrock "
            f"{self.settings.bedrock_endpoint_url or 'in ' + self.settings.bedrock_region}; "
            f"state in {self.state.directory})",
        ]
        if not self.rollups:
            lines.append("Rollups are off (--no-rollups): usage events are written, the dashboard's totals do not "
                         "move; `overspill rollups rebuild` counts past days later")
        admin = f"Admin API at {self.public_url}{API_PREFIX}"
        if self.dashboard.built:
            admin += f", dashboard at {self.public_url}/"
        lines.append(f"{admin}: sign in as {ADMIN_USERNAME}")
        if self.new_admin_password is not None:
            lines.append(f"Admin password (shown this once; kept in {self.admin_password_path}): "
                         f"{self.new_admin_password}")
        elif self._admin_password is not None:
            lines.append(f"Admin password: the one in {ADMIN_PASSWORD_ENV}")
        else:
            lines.append(f"Admin password: in {self.admin_password_path}")
        lines.append("Point Claude Code at it by pasting this into your shell:")
        if self.demo_key:
            lines.append(f"export ANTHROPIC_BASE_URL={self.public_url}/ak/{self.demo_key}")
        else:
            lines.append("(no demo key on record: issue one with the admin tools)")
        return "\n".join(lines)

    def _counted(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            with self._invocations_lock:
                self._invocations += 1
            return handler(event, context)
        return invoke

    def _snapshot_periodically(self) -> None:
        """A save every interval while the functions are used, and one more interval after the last use (its
        usage writes and rollups land after the response); none while idle — a save reads every table whole."""
        two_ticks_ago, last_tick = -1, -1  # invocation counts (-1: the first two ticks save what start-up wrote)
        while not self._stop.wait(self.snapshot_every_s):
            with self._invocations_lock:
                count = self._invocations
            if count != two_ticks_ago:
                self._save()
            two_ticks_ago, last_tick = last_tick, count

    def _save(self) -> None:
        try:
            self.state.save_tables(self.settings)
        except Exception as error:  # noqa: BLE001 - a failed snapshot must not take the server down
            print(f"overspill dev: could not save local state: {type(error).__name__}: {error}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
        self.state.clear_runtime()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._usage_replay is not None:
            self._usage_replay.stop()  # before the rollup's last poll: a replayed event is then counted too
        if self._rollups is not None:
            self._rollups.stop()  # delivers what the stream still holds, so the saved rollups match the events
        if self._server is not None:
            self._save()
        if self._moto is not None:
            self._moto.stop()


def run(settings: Settings, *, aws_port: int = 0, rollups: bool = True,
        snapshot_every_s: float = SNAPSHOT_INTERVAL_S) -> None:
    # Many short-lived threads share one interpreter here (unlike Lambda, one request per process): hand
    # the GIL over sooner than the default 5 ms, or a stream waits behind another request's bookkeeping.
    sys.setswitchinterval(0.0005)
    # Taken out of the environment, so that no child process (the AWS emulator) inherits it.
    admin_password = os.environ.pop(ADMIN_PASSWORD_ENV, "") or None
    server = DevServer(settings, aws_port=aws_port, admin_password=admin_password, rollups=rollups,
                       snapshot_every_s=snapshot_every_s)
    try:
        server.start()
    except StartError as error:
        server.stop()
        raise SystemExit(f"overspill dev: cannot start: {error}") from None
    print(server.banner(), flush=True)
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # Python runs signal handlers on the main thread only, and a signal the kernel hands to another thread
        # (here, often the rollup poller waking every 0.5 s) does not wake an untimed wait: wake up regularly.
        while not stopped.wait(0.5):
            pass
    finally:
        print("overspill dev: saving state and stopping", flush=True)
        server.stop()
