"""LiteLLM's proxy as the benchmarks' point of comparison: installed by the bench into its own virtual
environment (never a project dependency), configured for Anthropic in front of a fake upstream, and run as a
process on loopback with its telemetry, callbacks and database off.

    .venv/bin/python -m bench.litellm_gateway      # install (once) and print the version and the venv

Two ways a team puts LiteLLM in front of Claude Code, both served by one process started here:

- the model route, ``<url>/v1/messages`` with a ``model_list`` entry per Claude model (``anthropic/<id>`` with
  the fake as ``api_base``): what LiteLLM's and Anthropic's Claude Code guides set ``ANTHROPIC_BASE_URL`` to,
  and the only route on which LiteLLM's router applies retries and fallbacks;
- the pass-through route, ``<url>/anthropic/v1/messages``, forwarding to ``ANTHROPIC_API_BASE``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import httpx
from packaging.requirements import Requirement

from bench.harness import ROOT, free_port

VERSION = "1.109.1"
VENV = ROOT / "build" / "bench" / "litellm-venv"
RUN_DIR = ROOT / "build" / "bench" / "litellm-run"
MASTER_KEY = "sk-bench-litellm-master"  # what the load generator sends as x-api-key, like Claude Code would
# Pins of litellm 1.109.1[proxy] that this machine's package index cannot meet, installed at the newest it has.
LOOSENED = {
    "certifi": "the index's newest is 2026.10.18, one release older than the pin (a CA bundle; unused on loopback)",
    "litellm-proxy-extras": "0.4.113 is not on the index (it holds Prisma migrations; unused without a database)",
}
# No telemetry, no model-price download, no proxy-side network: anything that still tries to reach a host
# other than loopback goes to a dead loopback port instead of leaving the machine.
OFFLINE_ENV = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY_DISABLED": "true",
    "DO_NOT_TRACK": "1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
}


@dataclass(frozen=True)
class Install:
    python: Path
    version: str
    loosened: dict[str, str]  # requirement name -> why; empty when pip resolved litellm[proxy] as published


def ensure_venv(log=print) -> Install:
    """LiteLLM's own venv under build/bench, created on first use and reused while its version matches."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".bench-install.json"
    if python.exists() and stamp.exists():
        recorded = json.loads(stamp.read_text())
        if recorded.get("version") == VERSION:
            return Install(python, VERSION, recorded.get("loosened", {}))
    shutil.rmtree(VENV, ignore_errors=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    log(f"litellm: creating {VENV.relative_to(ROOT)} with litellm[proxy]=={VERSION} (once; ~1 minute)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    strict = subprocess.run([*pip, "install", f"litellm[proxy]=={VERSION}"], capture_output=True, text=True)
    loosened: dict[str, str] = {}
    if strict.returncode != 0:
        loosened = _install_loosened(pip)
    stamp.write_text(json.dumps({"version": VERSION, "loosened": loosened}))
    return Install(python, VERSION, loosened)


def _install_loosened(pip: list[str]) -> dict[str, str]:
    """litellm[proxy] with the pins in LOOSENED relaxed: its requirements read from the wheel's metadata and
    installed first, then the wheel itself without dependency resolution."""
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([*pip, "download", "--no-deps", f"litellm=={VERSION}", "-d", download], check=True,
                       capture_output=True)
        wheel = next(Path(download).glob("litellm-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
        requirements = proxy_requirements(metadata.decode(), loosen=set(LOOSENED))
        listing = Path(download) / "requirements.txt"
        listing.write_text("\n".join(requirements) + "\n")
        subprocess.run([*pip, "install", "-r", str(listing)], check=True, capture_output=True)
        subprocess.run([*pip, "install", "--no-deps", str(wheel)], check=True, capture_output=True)
    return dict(LOOSENED)


def proxy_requirements(metadata: str, *, loosen: set[str]) -> list[str]:
    """The requirements of `litellm[proxy]` for this interpreter, with the version pins of `loosen` dropped."""
    requirements = []
    for line in Parser().parsestr(metadata).get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": "proxy"}):
            continue
        requirement.marker = None
        if requirement.name in loosen:
            requirement.specifier = type(requirement.specifier)("")
        requirements.append(str(requirement))
    return list(dict.fromkeys(requirements))


# ----------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------


def _base_settings() -> dict:
    return {
        # A master key and nothing else: no database, so no virtual keys, spend logs or budgets.
        "general_settings": {"master_key": MASTER_KEY, "disable_spend_logs": True,
                             "disable_adding_master_key_hash_to_db": True},
        "litellm_settings": {"telemetry": False, "callbacks": [], "success_callback": [], "failure_callback": [],
                             "drop_params": False, "set_verbose": False},
    }


def anthropic_config(anthropic_url: str, models: list[str]) -> dict:
    """Each Claude model id Claude Code sends, routed to Anthropic (here: the fake) with an API key."""
    return {
        "model_list": [{"model_name": model, "litellm_params": {"model": f"anthropic/{model}",
                                                                "api_base": anthropic_url,
                                                                "api_key": "sk-ant-bench-upstream"}}
                       for model in models],
        **_base_settings(),
        "router_settings": {"num_retries": 0},
    }


def fallback_config(anthropic_url: str, bedrock_url: str, model: str, bedrock_model_id: str) -> dict:
    """`model` on Anthropic (the fake), falling back to `bedrock-<model>` on Bedrock (the fake Bedrock)."""
    bedrock_name = f"bedrock-{model}"
    config = anthropic_config(anthropic_url, [model])
    config["model_list"].append({"model_name": bedrock_name, "litellm_params": {
        "model": f"bedrock/{bedrock_model_id}",
        "aws_bedrock_runtime_endpoint": bedrock_url,
        "aws_region_name": "us-east-1",
        "aws_access_key_id": "AKIAOVERSPILLBENCH01",
        "aws_secret_access_key": "x" * 40,
    }})
    config["router_settings"] = {"num_retries": 0, "fallbacks": [{model: [bedrock_name]}]}
    return config


# ----------------------------------------------------------------------------------------------------
# The process
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiteLLMProcess:
    process: subprocess.Popen
    url: str  # http://127.0.0.1:<port>: ANTHROPIC_BASE_URL for the model route
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def passthrough_url(self) -> str:
        return self.url + "/anthropic"


def _environment(anthropic_url: str) -> dict[str, str]:
    home = RUN_DIR / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ}
    env.update(OFFLINE_ENV)
    env.update({
        "HOME": str(home),  # its caches and any files it writes stay under build/
        "ANTHROPIC_API_BASE": anthropic_url,  # the pass-through route's upstream
        "ANTHROPIC_API_KEY": "sk-ant-bench-upstream",
        "LITELLM_LOG": "ERROR",
    })
    return env


@contextmanager
def litellm_process(config: dict, *, anthropic_url: str, install: Install | None = None,
                    startup_timeout_s: float = 120) -> Iterator[LiteLLMProcess]:
    """LiteLLM's proxy (its CLI's defaults: uvicorn, one worker) on a free loopback port; stopped on exit.
    Its config and log stay under build/bench/litellm-run only when something failed."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_path = RUN_DIR / f"config-{port}.yaml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log_path = RUN_DIR / f"litellm-{port}.log"
    install = install or ensure_venv()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(install.python.parent / "litellm"), "--config", str(config_path),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=RUN_DIR, env=_environment(anthropic_url), stdout=log, stderr=subprocess.STDOUT)
    handle = LiteLLMProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_ready(handle, startup_timeout_s)
        yield handle
    finally:
        stop(handle)
    config_path.unlink()
    log_path.unlink()


def wait_ready(handle: LiteLLMProcess, timeout_s: float = 120) -> float:
    """Seconds until its liveness probe answered (it imports ~800k objects before it listens)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if handle.process.poll() is not None:
            raise RuntimeError(f"litellm exited with {handle.process.returncode}; see {handle.log}")
        try:
            if httpx.get(handle.url + "/health/liveliness", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"litellm did not start in {timeout_s:.0f} s; see {handle.log}")


def stop(handle: LiteLLMProcess) -> None:
    if handle.process.poll() is None:
        handle.process.terminate()
        try:
            handle.process.wait(20)
        except subprocess.TimeoutExpired:
            handle.process.kill()
            handle.process.wait(10)


def installed_version(install: Install) -> str:
    return subprocess.run([str(install.python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                          capture_output=True, text=True, check=True, env={**os.environ, **OFFLINE_ENV}).stdout.strip()


if __name__ == "__main__":
    found = ensure_venv()
    print(f"litellm {installed_version(found)} in {VENV}; loosened pins: {found.loosened or 'none'}")
