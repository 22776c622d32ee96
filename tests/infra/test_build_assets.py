"""scripts/build_lambda_assets.py: pip for linux/arm64 cp312, once per dependency change; fresh code always."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ELF_MACHINE_AARCH64 = 183  # e_machine EM_AARCH64


def _load():
    spec = importlib.util.spec_from_file_location("build_lambda_assets_under_test",
                                                  ROOT / "scripts" / "build_lambda_assets.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = _load()


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A repository with the real pyproject/constraints and a tiny overspill package; pip is faked."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "constraints.txt", tmp_path / "constraints.txt")
    package = tmp_path / "layers" / "core" / "overspill"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    pip_calls: list[list[str]] = []

    def fake_run(command, cwd=None, check=False):
        pip_calls.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "somedep" / "__pycache__").mkdir(parents=True)
        (target / "somedep" / "__init__.py").write_text("")
        (target / "somedep" / "__pycache__" / "x.pyc").write_bytes(b"")
        (target / "bin").mkdir()
        (target / "bin" / "tool").write_text("#!/host/python\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(build.subprocess, "run", fake_run)
    return tmp_path, pip_calls


def test_pip_targets_lambda_and_installs_the_pinned_runtime_dependencies(fake_repo):
    root, pip_calls = fake_repo
    layer = build.build_core_layer(root, log=lambda _: None)
    (command,) = pip_calls
    args = " ".join(command)
    assert "--platform manylinux2014_aarch64 --implementation cp --python-version 3.12" in args
    assert "--only-binary=:all:" in command and "--no-compile" in command
    assert command[command.index("-c") + 1] == str(root / "constraints.txt")
    requirements = command[-len(build.runtime_dependencies(root)):]
    assert requirements == build.runtime_dependencies(root)
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", r) for r in requirements), "pins must be exact"
    assert "botocore==1.44.5" in requirements  # kept: Lambda's bundled botocore is not our pinned version
    site = layer / "python"
    assert (site / "somedep" / "__init__.py").is_file()
    assert not (site / "bin").exists()
    assert (site / "overspill" / "__init__.py").read_text() == "VERSION = 1\n"
    assert not list(site.rglob("__pycache__")) and not list(site.rglob("*.pyc"))
    # Nothing but python/ in the asset directory (the stamp and the lock sit beside it).
    assert [p.name for p in layer.iterdir()] == ["python"]


def test_second_build_skips_pip_but_refreshes_the_package(fake_repo):
    root, pip_calls = fake_repo
    build.build_core_layer(root, log=lambda _: None)
    (root / "layers" / "core" / "overspill" / "__init__.py").write_text("VERSION = 2\n")
    (root / "layers" / "core" / "overspill" / "new.py").write_text("")
    messages: list[str] = []
    layer = build.build_core_layer(root, log=messages.append)
    assert len(pip_calls) == 1
    assert any("pip skipped" in m for m in messages)
    assert (layer / "python" / "overspill" / "__init__.py").read_text() == "VERSION = 2\n"
    assert (layer / "python" / "overspill" / "new.py").is_file()
    (root / "layers" / "core" / "overspill" / "new.py").unlink()
    build.build_core_layer(root, log=lambda _: None)
    assert not (layer / "python" / "overspill" / "new.py").exists()  # removed files do not linger


def test_changed_dependencies_rerun_pip(fake_repo):
    root, pip_calls = fake_repo
    build.build_core_layer(root, log=lambda _: None)
    before = build.dependency_stamp(root)
    constraints = root / "constraints.txt"
    constraints.write_text(constraints.read_text().replace("httpx==0.28.1", "httpx==0.28.0"))
    assert build.dependency_stamp(root) != before
    build.build_core_layer(root, log=lambda _: None)
    assert len(pip_calls) == 2
    build.build_core_layer(root, log=lambda _: None, force=True)
    assert len(pip_calls) == 3


def test_a_lost_layer_directory_is_rebuilt(fake_repo):
    root, pip_calls = fake_repo
    layer = build.build_core_layer(root, log=lambda _: None)
    shutil.rmtree(layer)
    build.build_core_layer(root, log=lambda _: None)
    assert len(pip_calls) == 2 and (layer / "python" / "somedep").is_dir()


def test_a_failed_pip_says_so_and_leaves_no_half_built_layer(fake_repo, monkeypatch):
    root, _ = fake_repo
    monkeypatch.setattr(build.subprocess, "run",
                        lambda command, cwd=None, check=False: subprocess.CompletedProcess(command, 1))
    with pytest.raises(build.BuildError, match="pip could not build the core Lambda layer"):
        build.build_core_layer(root, log=lambda _: None)
    assert not (root / "build" / "layers" / "core" / "python").exists()
    assert not (root / "build" / "layers" / build.STAGING_NAME).exists()


# --- The real layer, as built for the synth.

def test_real_layer_has_the_pinned_versions_for_arm64_cp312(dev):
    site = build.core_layer_dir(ROOT) / "python"
    dist_infos = {p.name.lower() for p in site.glob("*.dist-info")}
    for requirement in build.runtime_dependencies(ROOT):
        name, version = requirement.split("==")
        normalized = re.sub(r"[-_.]+", "_", name).lower()
        assert f"{normalized}-{version}.dist-info" in dist_infos, requirement
    extensions = list(site.rglob("*.so"))
    assert extensions, "expected compiled extensions (orjson, pydantic_core)"
    for extension in extensions:
        # The ELF header, not the name: abi3 wheels (cryptography's _rust.abi3.so) name no architecture.
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF" and header[4] == 2 and header[5] == 1, f"not 64-bit LE ELF: {extension}"
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, f"not arm64: {extension}"
        assert ".cpython-" not in extension.name or ".cpython-312-" in extension.name, extension
    assert not list(site.rglob("*.pyc"))
    # Lambda's limit is 250 MB unzipped for the function and all its layers together.
    assert build.directory_size(site) < 100 * 1024 * 1024
