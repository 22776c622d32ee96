#!/usr/bin/env python3
"""Build the Lambda assets that are not used from the source tree as-is, without Docker.

The core layer (``build/layers/core``) is the ``overspill`` package plus its runtime dependencies (the
``[project] dependencies`` of pyproject.toml, locked by constraints.txt), installed with pip for Lambda's
platform: CPython 3.12 on linux/arm64 (Graviton). Layout: ``python/…`` is what Lambda mounts at
``/opt/python``, which is on the handler's ``sys.path``.

Fast and idempotent: pip runs only when the dependency stamp (a hash of the dependency list, constraints.txt
and the pip target) changed; the ``overspill`` package is re-copied on every call (it is small), so a build
never ships stale code. The CDK app calls :func:`build_core_layer` at synth time.

Usage: ``python scripts/build_lambda_assets.py [--force]`` (prints the layer's path and unzipped size).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lambda's runtime for every function: python3.12 on arm64. manylinux2014 (glibc 2.17) wheels run on
# Amazon Linux 2023 (glibc 2.34).
PIP_PLATFORM_ARGS = (
    "--platform", "manylinux2014_aarch64",
    "--implementation", "cp",
    "--python-version", "3.12",
    "--only-binary=:all:",
)
# Kept beside the layer directory, not in it, so that neither ends up in the layer's zip.
STAMP_NAME = ".core-deps-stamp.json"
STAGING_NAME = ".core-python.partial"
# Bump when the layout or the way the layer is built changes, to force a rebuild of existing build dirs.
BUILD_FORMAT = 1


class BuildError(RuntimeError):
    """The layer could not be built; the message says what to do."""


def runtime_dependencies(root: Path = ROOT) -> list[str]:
    """The pinned runtime requirements from pyproject.toml ``[project] dependencies``."""
    with (root / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def dependency_stamp(root: Path = ROOT) -> str:
    """What the installed dependencies depend on: if this hash is unchanged, pip would do the same again."""
    material = {
        "format": BUILD_FORMAT,
        "dependencies": runtime_dependencies(root),
        "constraints": (root / "constraints.txt").read_text(),
        "pip": list(PIP_PLATFORM_ARGS),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def core_layer_dir(root: Path = ROOT) -> Path:
    """The directory the CDK app uses as the core layer's asset (it contains ``python/``)."""
    return root / "build" / "layers" / "core"


def build_core_layer(root: Path = ROOT, *, force: bool = False, log=None) -> Path:
    """Make ``build/layers/core`` current and return it. Safe to call concurrently (file lock)."""
    log = log or _log
    layer = core_layer_dir(root)
    layer.parent.mkdir(parents=True, exist_ok=True)
    with _locked(layer.parent / ".core.lock"):
        stamp = dependency_stamp(root)
        stamp_file = layer.parent / STAMP_NAME
        site = layer / "python"
        current = _read_stamp(stamp_file)
        if force or current != stamp or not site.is_dir():
            why = "forced" if force else ("first build" if current is None else "dependencies changed")
            _install_dependencies(root, layer, why, log)
            stamp_file.write_text(json.dumps({"stamp": stamp}) + "\n")
        else:
            log(f"core layer: dependencies unchanged (stamp {stamp[:12]}), pip skipped")
        _copy_package(root / "layers" / "core" / "overspill", site / "overspill")
        log(f"core layer: {layer} ({directory_size(site) / 1_000_000:.1f} MB unzipped)")
    return layer


def directory_size(path: Path) -> int:
    """Unzipped size in bytes (what counts against Lambda's 250 MB limit)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _install_dependencies(root: Path, layer: Path, why: str, log) -> None:
    requirements = runtime_dependencies(root)
    staging = layer.parent / STAGING_NAME
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install",
        *PIP_PLATFORM_ARGS,
        "--target", str(staging),
        "-c", str(root / "constraints.txt"),
        # .pyc files compiled by this (host) interpreter would be useless on Lambda's python3.12.
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        *requirements,
    ]
    log(f"core layer ({why}): pip install for linux/arm64 cp312 -> {layer / 'python'}")
    log("  " + " ".join(command[3:]))
    started = time.monotonic()
    result = subprocess.run(command, cwd=root, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(
            f"pip could not build the core Lambda layer (exit {result.returncode}); see pip's output above. "
            "It needs PyPI (or a configured index) for linux/arm64 cp312 wheels of every dependency."
        )
    # Console scripts are of no use in a layer (and name the host interpreter in their shebang).
    shutil.rmtree(staging / "bin", ignore_errors=True)
    for cache in list(staging.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    site = layer / "python"
    shutil.rmtree(layer, ignore_errors=True)
    layer.mkdir(parents=True)
    staging.rename(site)
    log(f"  pip done in {time.monotonic() - started:.1f} s")


def _copy_package(source: Path, target: Path) -> None:
    if not (source / "__init__.py").is_file():
        raise BuildError(f"{source} is not a Python package; cannot build the core layer")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))


def _read_stamp(stamp_file: Path) -> str | None:
    try:
        return json.loads(stamp_file.read_text())["stamp"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _log(message: str) -> None:
    # stderr: the CDK CLI reads the app's stdout.
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="re-run pip even if the stamp matches")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        layer = build_core_layer(force=args.force)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = directory_size(layer / "python")
    print(f"{layer} ({size / 1_000_000:.1f} MB unzipped, {time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
