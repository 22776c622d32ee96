"""End-to-end fixtures: `overspill dev` as a real subprocess, against a fake Anthropic on loopback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_bedrock import FakeBedrock

ROOT = Path(__file__).resolve().parents[2]
EXPORT_LINE = re.compile(r"^export ANTHROPIC_BASE_URL=(http://[^/]+)/ak/(\S+)$")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DevRun:
    process: subprocess.Popen
    url: str
    key: str
    output: list[str]
    reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/ak/{self.key}"

    def log_text(self) -> str:
        return "".join(self.output)


def start_dev(anthropic_url: str, state_dir: Path, port: int | None = None, timeout_s: float = 60,
              bedrock_url: str | None = None, **settings: str) -> DevRun:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSPILL_")}
    env.update({f"OVERSPILL_{name.upper()}": value for name, value in settings.items()})
    bedrock = ["--bedrock-endpoint-url", bedrock_url] if bedrock_url else []
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "overspill"), "dev", "--port", str(port), "--anthropic-url", anthropic_url,
         "--state-dir", str(state_dir), *bedrock],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    output: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = EXPORT_LINE.match(line.strip())
            if match:
                found.update(url=match.group(1), key=match.group(2))
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(timeout_s):
        process.kill()
        raise AssertionError("overspill dev did not print its export line:\n" + "".join(output))
    run = DevRun(process, found["url"], found["key"], output, reader)
    deadline = time.monotonic() + 10
    while httpx.get(run.url + "/healthz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return run


def stop_dev(run: DevRun) -> None:
    run.process.terminate()
    try:
        run.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        run.process.kill()
        run.process.wait()
    if run.reader is not None:
        run.reader.join(timeout=10)  # its last lines (e.g. "saving state") are read after the exit


@pytest.fixture(scope="session")
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture(scope="session")
def bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        yield fake


@pytest.fixture(scope="session")
def dev(anthropic: FakeAnthropic, bedrock: FakeBedrock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevRun]:
    run = start_dev(anthropic.url, tmp_path_factory.mktemp("state"), bedrock_url=bedrock.url)
    yield run
    stop_dev(run)


@pytest.fixture(autouse=True)
def _fresh_fakes(anthropic: FakeAnthropic, bedrock: FakeBedrock) -> None:
    anthropic.clear()
    bedrock.clear()


def python() -> str:
    return sys.executable


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keeps each phase's report on the test, so the browser fixture can screenshot a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import CHROMIUM, DIST_INDEX, LAUNCH_ARGS

    assert CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package"
    assert DIST_INDEX.exists(), f"the dashboard is not built ({DIST_INDEX}): `make test` builds it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A fresh browser context (no stored session) at 1280 px; screenshotted when the test fails."""
    from tests.e2e.browser import WIDE, screenshot

    context = browser.new_context(viewport=WIDE, locale="en-US", timezone_id="Europe/Paris")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot(page, f"failure-{request.node.name}")
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
