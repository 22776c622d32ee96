"""``overspill dev``: the whole product on one machine — moto for AWS, the proxy behind a Function URL
emulator, state kept under the state directory."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

from overspill.config import Settings
from overspill.keys import generate_key
from overspill.local.aws_emulator import AwsEmulator
from overspill.local.function_url import FunctionUrlServer
from overspill.local.provision import provision
from overspill.local.state import DEMO_KEY_FILE, PEPPER_FILE, LocalState
from overspill.local.stream_poller import StreamPoller
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.models import bind_models
from overspill.store.users import UserRepository

SNAPSHOT_INTERVAL_S = 30.0
_LOCAL_AWS_ENV = {
    # moto accepts any credentials; never send a developer's real ones, even to loopback.
    "AWS_ACCESS_KEY_ID": "overspill-local",
    "AWS_SECRET_ACCESS_KEY": "overspill-local",
    "AWS_SESSION_TOKEN": "overspill-local",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # botocore 1.44 + moto DynamoDB Streams (PROTOCOL §6)
}
# EMF metric lines are for CloudWatch; on a terminal they drown the logs. POWERTOOLS_METRICS_DISABLED=false
# in the environment brings them back.
_LOCAL_DEFAULTS = {"POWERTOOLS_METRICS_DISABLED": "true"}


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


class DevServer:
    def __init__(self, settings: Settings, *, aws_port: int = 0) -> None:
        self.settings = settings
        self.aws_port = aws_port
        self.state = LocalState(Path(settings.state_dir))
        self._moto: AwsEmulator | None = None
        self._server: FunctionUrlServer | None = None
        self._rollups: StreamPoller | None = None
        self._stop = threading.Event()
        self.demo_key: str | None = None

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
        # The rollup function follows the usage stream from its LATEST position: restored events were counted
        # before the restart. Started before the proxy serves, so that no new event is written ahead of it.
        self._rollups = StreamPoller(self.settings, load_function("rollup"), forget_markers=True)
        self._rollups.start()

        self._server = FunctionUrlServer(
            (self.settings.host, self.settings.port), load_function("proxy"),
            function_name="overspill-proxy", extra_routes={"/healthz": self._health},
        )
        self._server.serve_in_background()
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

    def _health(self) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "application/json"}, orjson.dumps({"status": "ok"})

    @property
    def public_url(self) -> str:
        host = self.settings.host if self.settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self._server.server_address[1] if self._server else self.settings.port}"

    def banner(self) -> str:
        lines = [
            f"Overspill is running at {self.public_url} (AWS emulator at {self.settings.aws_endpoint_url}; "
            f"plan upstream {self.settings.anthropic_base}; Bedrock "
            f"{self.settings.bedrock_endpoint_url or 'in ' + self.settings.bedrock_region}; "
            f"state in {self.state.directory})",
            "Point Claude Code at it by pasting this into your shell:",
        ]
        if self.demo_key:
            lines.append(f"export ANTHROPIC_BASE_URL={self.public_url}/ak/{self.demo_key}")
        else:
            lines.append("(no demo key on record: issue one with the admin tools)")
        return "\n".join(lines)

    def _snapshot_periodically(self) -> None:
        while not self._stop.wait(SNAPSHOT_INTERVAL_S):
            self._save()

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
        if self._rollups is not None:
            self._rollups.stop()  # delivers what the stream still holds, so the saved rollups match the events
        if self._server is not None:
            self._save()
        if self._moto is not None:
            self._moto.stop()


def run(settings: Settings, *, aws_port: int = 0) -> None:
    # Many short-lived threads share one interpreter here (unlike Lambda, one request per process): hand
    # the GIL over sooner than the default 5 ms, or a stream waits behind another request's bookkeeping.
    sys.setswitchinterval(0.0005)
    server = DevServer(settings, aws_port=aws_port)
    server.start()
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
