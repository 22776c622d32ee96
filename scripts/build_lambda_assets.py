#!/usr/bin/env python3
"""Build every Lambda artefact for linux/arm64 (CPython 3.12, Graviton) with pip, without Docker.

``make build`` (``python scripts/build_lambda_assets.py``) writes, under ``build/``:

- ``layers/core/python/…``: the ``overspill`` package plus its runtime dependencies (the ``[project]
  dependencies`` of pyproject.toml, locked by constraints.txt), installed by pip for ``manylinux2014_aarch64``;
  Lambda mounts a layer at ``/opt``, so ``python/`` becomes ``/opt/python``, which is on the handler's path;
- ``layers/streaming/``: the streaming runtime layer (``streaming-bootstrap`` and ``python/lambda_streaming``);
- ``functions/<name>/``: each function's own code (the handler file: the rest is in the core layer);
- ``dist/<artefact>.zip`` with ``dist/<artefact>.zip.sha256`` (``sha256sum -c`` format) and ``dist/manifest.json``.

The zips are reproducible: the same files give the same bytes (sorted entries, every timestamp 1980-01-01, modes
0644 or 0755 by the source's execute bit, no directories, no ``__pycache__``/``*.pyc``, relative names only).
The files are those the CDK app ships (``infra/assets.py``: the same excludes; tests/infra/test_build_assets.py
compares them with a synth), so the sizes checked here are the deployed ones: each zip against Lambda's 50 MB
for a direct upload, each function with its layers against Lambda's 250 MB unzipped, and the proxy with its
layers against a tighter budget of ours (``Limits``; docs/deploy.md). Over a limit, the build fails
naming the artefact and the limit.

Fast and idempotent: pip runs only when the dependency stamp (a hash of the dependency list, constraints.txt
and the pip target) changed; the ``overspill`` package is re-copied on every call (it is small), so a build
never ships stale code. The CDK app calls :func:`build_core_layer` at synth time (and zips the same
directories itself).

Usage: ``python scripts/build_lambda_assets.py [--force]`` (``--force`` re-runs pip).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
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

# What never ships (infra/assets.py ASSET_EXCLUDES): bytecode of the build machine's interpreter, test caches.
EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache"})
EXCLUDED_FILES = ("*.pyc", "*.pyo")
# The streaming layer's README is documentation, not code (infra/components/proxy.py excludes "*.md" too).
STREAMING_EXCLUDES = ("*.md",)
# The earliest time a zip entry can carry (MS-DOS dates start in 1980): no build time leaks into the bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_LEVEL = 9
FILE_MODE, EXECUTABLE_MODE = 0o644, 0o755
# Lambda's quotas say "MB" and mean MiB: 250 MB unzipped is 262,144,000 bytes.
MB = 1024 * 1024

CORE_LAYER = "layer-core"
STREAMING_LAYER = "layer-streaming"
# The layers of each function, as the CDK app attaches them (the test compares with a synth); others: the core.
FUNCTION_LAYERS = {"proxy": (STREAMING_LAYER, CORE_LAYER)}
DEFAULT_LAYERS = (CORE_LAYER,)


@dataclass(frozen=True, slots=True)
class Limits:
    """What fails the build. Lambda's own limits, and our budget for the proxy, whose cold start a developer
    waits for: a new instance downloads and unpacks its code and layers before it imports the handler, which
    docs/performance.md measured at 235 ms of a 300 ms target (pynamodb, botocore and Powertools are most of it).
    The proxy ships ~52 MB today; 80 MB leaves room for ordinary growth (botocore's service models grow with
    every release) and stops the next big dependency at review time, long before Lambda's 250 MB would."""

    # Lambda: a function's code and all its layers, unzipped.
    unzipped_with_layers: int = 250 * MB
    # Lambda: a .zip uploaded directly (the CDK goes through S3, but `aws lambda update-function-code
    # --zip-file` does not; holding every artefact to it keeps that door open).
    zipped: int = 50 * MB
    # Ours: the proxy with its layers, unzipped.
    proxy_unzipped_with_layers: int = 80 * MB


LIMITS = Limits()


class BuildError(RuntimeError):
    """An artefact could not be built, or is over a limit; the message says which and what to do."""


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


def core_layer_dir(root: Path = ROOT, build_dir: Path | None = None) -> Path:
    """The directory the CDK app uses as the core layer's asset (it contains ``python/``)."""
    return (build_dir or root / "build") / "layers" / "core"


def build_core_layer(root: Path = ROOT, *, force: bool = False, log=None, build_dir: Path | None = None) -> Path:
    """Make ``build/layers/core`` current and return it. Safe to call concurrently (file lock)."""
    log = log or _log
    layer = core_layer_dir(root, build_dir)
    layer.parent.mkdir(parents=True, exist_ok=True)
    with _core_lock(layer):
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


# --- make build: every artefact, zipped reproducibly, sized and checked.

@dataclass(frozen=True, slots=True)
class Artefact:
    name: str            # "layer-core", "function-proxy"
    directory: Path      # what was zipped (under build/)
    zip_path: Path
    sha256: str
    zipped: int          # bytes of the zip
    unzipped: int        # bytes of the files in it
    files: int


@dataclass(frozen=True, slots=True)
class FunctionPackage:
    """A function as Lambda counts it: its code and its layers."""

    name: str
    artefacts: tuple[str, ...]   # its code first, then its layers
    unzipped: int
    limit: int
    limit_name: str


@dataclass(slots=True)
class BuildResult:
    artefacts: dict[str, Artefact]
    functions: list[FunctionPackage]
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [("artefact", "zipped", "unzipped", "files", "sha256")]
        rows += [(a.name, human_size(a.zipped), human_size(a.unzipped), str(a.files), a.sha256[:12])
                 for a in self.artefacts.values()]
        lines = _columns(rows, right=(1, 2, 3))
        lines.append("")
        rows = [("function", "unzipped with layers", "limit", "layers")]
        rows += [(f.name, human_size(f.unzipped), f"{human_size(f.limit)} ({f.limit_name})", ", ".join(f.artefacts[1:]))
                 for f in self.functions]
        lines += _columns(rows, right=(1, 2))
        return "\n".join(lines)


def function_names(root: Path = ROOT) -> list[str]:
    """Every ``functions/<name>/handler.py``: what Lambda runs as ``handler.handler``."""
    return sorted(p.parent.name for p in (root / "functions").glob("*/handler.py"))


def package_files(directory: Path, extra_excludes: tuple[str, ...] = ()) -> list[tuple[str, Path]]:
    """What a zip of ``directory`` holds, sorted by name: (name in the zip, file). Symlinks are refused: what
    they point to may not exist on Lambda, and the zip would depend on the machine."""
    found: list[tuple[str, Path]] = []
    for current, dirs, files in os.walk(directory):
        base = Path(current)
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS]
        for name in dirs + files:
            if (base / name).is_symlink():
                raise BuildError(f"{base / name} is a symbolic link; a Lambda artefact must hold plain files")
        for name in files:
            if any(fnmatch(name, pattern) for pattern in (*EXCLUDED_FILES, *extra_excludes)):
                continue
            path = base / name
            found.append((path.relative_to(directory).as_posix(), path))
    return sorted(found)


def write_zip(directory: Path, target: Path, extra_excludes: tuple[str, ...] = ()) -> tuple[int, int]:
    """Zip ``directory`` into ``target`` reproducibly; return (number of files, unzipped bytes)."""
    entries = package_files(directory, extra_excludes)
    partial = target.with_name(target.name + ".partial")
    unzipped = 0
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so that Lambda honours the mode below
            mode = EXECUTABLE_MODE if path.stat().st_mode & 0o111 else FILE_MODE
            info.external_attr = (stat.S_IFREG | mode) << 16
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL)
    partial.replace(target)
    return len(entries), unzipped


def build_all(root: Path = ROOT, *, build_dir: Path | None = None, force: bool = False,
              limits: Limits = LIMITS, log: Callable[[str], None] | None = None) -> BuildResult:
    """``make build``: every artefact under ``build_dir`` (default ``build/``), zipped, hashed and checked."""
    log = log or _log
    build_dir = build_dir or root / "build"
    dist = build_dir / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    artefacts: dict[str, Artefact] = {}

    core = build_core_layer(root, force=force, log=log, build_dir=build_dir)
    # Under the layer's lock: a synth running meanwhile re-copies the package into the same directory.
    with _core_lock(core):
        artefacts[CORE_LAYER] = _zip_artefact(CORE_LAYER, core, dist)
    streaming = _copy_tree(root / "layers" / "streaming", build_dir / "layers" / "streaming", STREAMING_EXCLUDES)
    artefacts[STREAMING_LAYER] = _zip_artefact(STREAMING_LAYER, streaming, dist)
    names = function_names(root)
    if not names:
        raise BuildError(f"no functions/<name>/handler.py under {root}")
    for name in names:
        code = _copy_tree(root / "functions" / name, build_dir / "functions" / name)
        artefacts[f"function-{name}"] = _zip_artefact(f"function-{name}", code, dist)

    result = BuildResult(artefacts, [_function_package(name, artefacts, limits) for name in names])
    result.problems = check_limits(result, limits)
    manifest = {name: {"zip": a.zip_path.name, "sha256": a.sha256, "zipped_bytes": a.zipped,
                       "unzipped_bytes": a.unzipped, "files": a.files}
                for name, a in artefacts.items()}
    (dist / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return result


def check_limits(result: BuildResult, limits: Limits = LIMITS) -> list[str]:
    """Every limit an artefact or a function is over, each naming both."""
    problems = [
        f"{a.zip_path.name} is {human_size(a.zipped)} zipped: over Lambda's {human_size(limits.zipped)} limit "
        f"for a direct upload"
        for a in result.artefacts.values() if a.zipped > limits.zipped
    ]
    for package in result.functions:
        if package.unzipped > package.limit:
            problems.append(
                f"function {package.name} with its layers ({', '.join(package.artefacts)}) is "
                f"{human_size(package.unzipped)} unzipped: over {package.limit_name} of {human_size(package.limit)}")
    return problems


def human_size(size: int) -> str:
    if size < MB:
        return f"{size / 1024:.1f} KB"
    return f"{size / MB:.1f} MB"


def _function_package(name: str, artefacts: dict[str, Artefact], limits: Limits) -> FunctionPackage:
    parts = (f"function-{name}", *FUNCTION_LAYERS.get(name, DEFAULT_LAYERS))
    unzipped = sum(artefacts[part].unzipped for part in parts)
    if name == "proxy":
        limit, limit_name = limits.proxy_unzipped_with_layers, "the proxy's cold-start budget"
    else:
        limit, limit_name = limits.unzipped_with_layers, "Lambda's limit"
    return FunctionPackage(name, parts, unzipped, limit, limit_name)


def _zip_artefact(name: str, directory: Path, dist: Path) -> Artefact:
    target = dist / f"{name}.zip"
    files, unzipped = write_zip(directory, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (dist / f"{target.name}.sha256").write_text(f"{digest}  {target.name}\n")
    return Artefact(name, directory, target, digest, target.stat().st_size, unzipped, files)


def _copy_tree(source: Path, target: Path, extra_excludes: tuple[str, ...] = ()) -> Path:
    """A fresh copy of what ships from ``source`` (a removed file must not linger in ``target``)."""
    shutil.rmtree(target, ignore_errors=True)
    for name, path in package_files(source, extra_excludes):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    return target


def _columns(rows: list[tuple[str, ...]], right: tuple[int, ...]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


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
def _core_lock(layer: Path) -> Iterator[None]:
    with _locked(layer.parent / ".core.lock"):
        yield


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


def main(argv: list[str] | None = None, *, root: Path = ROOT, limits: Limits = LIMITS) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="re-run pip even if the stamp matches")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        result = build_all(root, force=args.force, limits=limits)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(result.table())
    if result.problems:
        for problem in result.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    dist = next(iter(result.artefacts.values())).zip_path.parent
    print(f"\n{len(result.artefacts)} artefacts in {dist} ({time.monotonic() - started:.1f} s); "
          f"within every limit")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
