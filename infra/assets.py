"""Where the Lambda assets come from: source directories used as-is, and the core layer built by
``scripts/build_lambda_assets.py`` (pip for linux/arm64, no Docker)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
PROXY_CODE_DIR = REPO_ROOT / "functions" / "proxy"
# Thin doorways: the handler file alone; what it imports is the overspill package in the core layer.
ROLLUP_CODE_DIR = REPO_ROOT / "functions" / "rollup"
EXPORT_CODE_DIR = REPO_ROOT / "functions" / "export"
USAGE_REPLAY_CODE_DIR = REPO_ROOT / "functions" / "usage_replay"
STREAMING_LAYER_DIR = REPO_ROOT / "layers" / "streaming"
# Never ship bytecode compiled by the build machine's interpreter, nor test caches.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/*.pyo", "**/.pytest_cache"]


@cache
def _build_script() -> ModuleType:
    path = REPO_ROOT / "scripts" / "build_lambda_assets.py"
    spec = importlib.util.spec_from_file_location("overspill_build_lambda_assets", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is part of the repository
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def core_layer_dir() -> Path:
    """Build (or refresh) the core layer once per process and return its asset directory.

    pip runs only when the dependency stamp changed; the overspill package is re-copied every time, so a
    synth never packages stale code.
    """
    return _build_script().build_core_layer(REPO_ROOT)
