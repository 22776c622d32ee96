"""Processes and clients for the benchmarks: the fake upstream and `overspill dev` as separate processes,
so the gateway is measured as it runs, not sharing an interpreter with the load generator."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXPORT_LINE = re.compile(r"^export ANTHROPIC_BASE_URL=(\S+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def fake_process(module: str, *args: str, probe: str) -> Iterator[str]:
    """A fake upstream (tests.support.fake_anthropic / fake_bedrock) in its own process; yields its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + probe)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def fake_anthropic_process(*, delay_ms: float = 0, event_interval_ms: float = 0, text_events: int = 20,
                           extra: tuple[str, ...] = ()):
    return fake_process("tests.support.fake_anthropic", "--delay-ms", str(delay_ms), "--event-interval-ms",
                        str(event_interval_ms), "--text-events", str(text_events), *extra, probe="/v1/models")


def fake_bedrock_process(*, delay_ms: float, event_interval_ms: float, text_events: int):
    return fake_process("tests.support.fake_bedrock", "--delay-ms", str(delay_ms), "--event-interval-ms",
                        str(event_interval_ms), "--text-events", str(text_events), probe="/")


class DevProcess:
    def __init__(self, process: subprocess.Popen, base_url: str, state_dir: Path) -> None:
        self.process = process
        self.base_url = base_url  # http://host:port/ak/<key>
        self.state_dir = state_dir  # its runtime.json names its tables and its AWS emulator's endpoint

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def overspill_dev_process(anthropic_url: str, *, bedrock_url: str | None = None,
                          settings: dict[str, str] | None = None, flags: tuple[str, ...] = (),
                          save_state: bool = True) -> Iterator[DevProcess]:
    """`overspill dev` in its own process. `save_state=False` kills it at the end instead of letting it save its
    tables (a large usage table takes many seconds to save; a benchmark's state is thrown away anyway)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSPILL_")}
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # as in production, where INFO goes to CloudWatch asynchronously
    env.update({f"OVERSPILL_{name.upper()}": value for name, value in (settings or {}).items()})
    bedrock = ["--bedrock-endpoint-url", bedrock_url] if bedrock_url else []
    with tempfile.TemporaryDirectory() as state:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "overspill"), "dev", "--port", str(free_port()), "--anthropic-url",
             anthropic_url, "--state-dir", state, *bedrock, *flags],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        found: dict[str, str] = {}
        ready = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                match = EXPORT_LINE.match(line.strip())
                if match:
                    found["url"] = match.group(1)
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not ready.wait(90):
                raise RuntimeError("overspill dev did not start")
            yield DevProcess(process, found["url"], Path(state))
        finally:
            if save_state:
                process.terminate()
            else:
                process.kill()  # its AWS emulator follows it (PR_SET_PDEATHSIG)
            process.wait(120)  # on SIGTERM it drains pending usage writes and saves its state first


def machine() -> str:
    """The machine a report's numbers come from: cores, CPU model, Python, platform."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.platform()}"
