"""The embedded AWS emulator: a moto server in a child process of ``overspill dev``.

A child process rather than a thread: moto parses and answers every DynamoDB call in Python, and sharing
the gateway's interpreter (and its GIL) would make the local run measure moto instead of Overspill.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess  # nosec B404  # runs moto: this interpreter, fixed arguments, no shell
import sys
import time
from pathlib import Path

import httpx


def _die_with_parent() -> None:
    # Linux: the emulator must not outlive `overspill dev`, even when that is killed with SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class AwsEmulator:
    def __init__(self, *, port: int = 0, log_path: Path | None = None) -> None:
        self.port = port or _free_port()
        self.log_path = log_path
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(  # nosec B603  # sys.executable and fixed arguments, no shell
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the AWS emulator (moto) exited at start; see {self.log_path}")
            try:
                httpx.get(self.url + "/moto-api/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the AWS emulator (moto) did not answer on {self.url} within {timeout_s:.0f}s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
