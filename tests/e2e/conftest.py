"""End-to-end fixtures: `overspill dev` as a real subprocess, against a fake Anthropic on loopback.

Every process the suite runs has its output captured to a file under build/e2e-logs/<session>/, and every secret
the suite makes or sends (access keys, upstream credentials, passwords, tokens, the pepper, Bedrock secrets, prompt
and completion texts) is registered in ``SECRETS``: after each test its new log lines are scanned, and a leak fails
that test; at the end of the session every log is scanned again against every secret (tests/support/secret_scan.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from overspill.keys import DISPLAY_PREFIX_CHARS
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_anthropic import RecordedRequest as AnthropicRequest
from tests.support.fake_bedrock import FakeBedrock
from tests.support.fake_bedrock import RecordedRequest as BedrockRequest
from tests.support.secret_scan import Leak, process_registry

ROOT = Path(__file__).resolve().parents[2]
EXPORT_LINE = re.compile(r"^export ANTHROPIC_BASE_URL=(http://[^/]+)/ak/(\S+)$")
PASSWORD_LINE = re.compile(r"^Admin password \(shown this once; kept in (.+)\): (\S+)$")
LOG_ROOT = ROOT / "build" / "e2e-logs"
KEEP_LOGS_S = 24 * 3600  # other runs' logs are left alone (one may be running now) until they are a day old
SECRETS = process_registry()


def register_key(plain: str) -> None:
    """An access key the suite issued or tried: logs may show its display prefix, nothing more."""
    SECRETS.add("access key", plain, visible_prefix=DISPLAY_PREFIX_CHARS)


def log_file(label: str) -> Path:
    """A new file under build/e2e-logs/, named after the running test and what writes it."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "session").split(" ")[0].rsplit("::", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{next(SECRETS.log_numbers):03d}-{test}-{label}")[:150]
    assert SECRETS.log_dir is not None, "the session's log directory is made by the _log_directory fixture"
    return SECRETS.log_dir / f"{name}.log"


def capture_output(label: str, done: subprocess.CompletedProcess, *, stdout_shows_a_secret: bool = False) -> None:
    """A finished command's output, kept and scanned. ``stdout_shows_a_secret``: its answer shows a secret once on
    purpose (``keys issue`` prints the new key): the answer is kept but only its stderr is scanned."""
    for stream, text in (("stdout", done.stdout), ("stderr", done.stderr)):
        path = log_file(f"{label}-{stream}")
        path.write_text(text or "")
        if not (stream == "stdout" and stdout_shows_a_secret):
            SECRETS.capture(path, f"{label} {stream}")


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
    state_dir: Path | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/ak/{self.key}"

    def log_text(self) -> str:
        return "".join(self.output)


def start_dev(anthropic_url: str, state_dir: Path, port: int | None = None, timeout_s: float = 60,
              bedrock_url: str | None = None, flags: tuple[str, ...] = (), **settings: str) -> DevRun:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSPILL_")}
    env.update({f"OVERSPILL_{name.upper()}": value for name, value in settings.items()})
    bedrock = ["--bedrock-endpoint-url", bedrock_url] if bedrock_url else []
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "overspill"), "dev", "--port", str(port), "--anthropic-url", anthropic_url,
         "--state-dir", str(state_dir), *bedrock, *flags],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    output: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()
    if "admin_password" in settings:
        SECRETS.add("admin password", settings["admin_password"])
    log_path = log_file("overspill-dev")
    SECRETS.capture(log_path, "overspill dev")
    SECRETS.capture(state_dir / "aws-emulator.log", "AWS emulator (moto)")

    def read() -> None:
        assert process.stdout is not None
        with log_path.open("a", buffering=1) as log:
            for line in process.stdout:
                # The banner shows the demo key and a generated admin password on purpose, once each.
                if password := PASSWORD_LINE.match(line.strip()):
                    SECRETS.add("admin password", password.group(2))
                    SECRETS.capture(log_path, "overspill dev", shown_once=[line])
                match = EXPORT_LINE.match(line.strip())
                if match:
                    register_key(match.group(2))
                    SECRETS.capture(log_path, "overspill dev", shown_once=[line])
                log.write(line)
                output.append(line)
                if match:
                    found.update(url=match.group(1), key=match.group(2))
                    ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(timeout_s):
        process.kill()
        raise AssertionError("overspill dev did not print its export line:\n" + "".join(output))
    run = DevRun(process, found["url"], found["key"], output, reader, state_dir)
    pepper = state_dir / "pepper"
    SECRETS.add("pepper", pepper.read_text().strip())
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
    for log in sorted(run.state_dir.glob("*.log")) if run.state_dir else []:  # whatever else the run logged
        SECRETS.capture(log, f"{log.name} in the state directory")


class _RegisteringFakeAnthropic(FakeAnthropic):
    """Registers the credential and texts of every request the gateway forwarded, as it arrives (tests clear
    ``received`` midway)."""

    def _record(self, request: AnthropicRequest) -> None:
        SECRETS.add_request(request.body, request.headers)
        super()._record(request)


class _RegisteringFakeBedrock(FakeBedrock):
    def _record(self, request: BedrockRequest) -> None:
        SECRETS.add_request(request.body, request.headers)
        super()._record(request)


@pytest.fixture(scope="session")
def anthropic() -> Iterator[FakeAnthropic]:
    with _RegisteringFakeAnthropic() as fake:
        yield fake


@pytest.fixture(scope="session")
def bedrock() -> Iterator[FakeBedrock]:
    with _RegisteringFakeBedrock() as fake:
        yield fake


@pytest.fixture(scope="session", autouse=True)
def _log_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """build/e2e-logs/<start time>-<pid>/: this session's own (sessions may run side by side)."""
    LOG_ROOT.mkdir(parents=True, exist_ok=True)
    for old in LOG_ROOT.iterdir():
        if old.is_dir() and time.time() - old.stat().st_mtime > KEEP_LOGS_S:
            shutil.rmtree(old, ignore_errors=True)
    SECRETS.log_dir = LOG_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    SECRETS.log_dir.mkdir()
    # Logs name state directories under it, and Claude Code tells the model its working directory under it.
    SECRETS.add_public_directory(str(tmp_path_factory.getbasetemp()))


@pytest.fixture(autouse=True)
def _no_secret_in_logs(_log_directory, request: pytest.FixtureRequest) -> Iterator[None]:
    """After the test (and its own fixtures) finished: what every process wrote meanwhile holds no secret."""
    SECRETS.current_test = request.node.nodeid
    yield
    leaks = SECRETS.scan_new()
    if leaks:
        pytest.fail(describe_leaks(leaks), pytrace=False)


def describe_leaks(leaks: list[Leak]) -> str:
    return "secrets in the logs (file:line: what):\n" + "\n".join(f"  {leak}" for leak in leaks)


_session_leaks: list[Leak] | None = None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every log in full against every secret, including those registered after the log was written."""
    global _session_leaks
    if not SECRETS.logs():
        return
    _session_leaks = SECRETS.scan_all()
    if _session_leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if _session_leaks is None:
        return
    logs = [log for log in SECRETS.logs() if log.path.exists()]
    size = sum(log.path.stat().st_size for log in logs)
    kinds: dict[str, int] = {}
    for secret in SECRETS.secrets():
        kinds[secret.kind] = kinds.get(secret.kind, 0) + 1
    terminalreporter.section("secrets in logs")
    terminalreporter.write_line(
        f"scanned {len(logs)} captured logs ({size / 1024:.0f} KiB, in {SECRETS.log_dir}) for {sum(kinds.values())} "
        f"secrets: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    if _session_leaks:
        terminalreporter.write_line(describe_leaks(_session_leaks), red=True)
    else:
        terminalreporter.write_line("none found", green=True)


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
    register_browser_tokens(page)
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot(page, f"failure-{request.node.name}")
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def register_browser_tokens(page) -> None:
    """The Cognito tokens the dashboard kept in the page's localStorage."""
    try:
        stored = page.evaluate("() => localStorage.getItem('overspill.session')")
    except Exception:  # noqa: BLE001 - a page that never loaded the app holds no session
        return
    for name, value in (json.loads(stored) if stored else {}).items():
        if name.endswith("Token") and isinstance(value, str) and len(value) >= 8:
            SECRETS.add(f"Cognito {name}", value)


def register_token_cache(cache_home: Path) -> None:
    """The Cognito tokens the admin CLI kept in its cache ($XDG_CACHE_HOME/overspill/admin-tokens.json)."""
    cache = cache_home / "overspill" / "admin-tokens.json"
    for entry in (json.loads(cache.read_text())["entries"].values() if cache.exists() else []):
        for name in ("access_token", "refresh_token", "id_token"):
            if isinstance(entry, dict) and len(entry.get(name) or "") >= 8:
                SECRETS.add(f"Cognito {name}", entry[name])
