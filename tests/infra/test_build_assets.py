"""scripts/build_lambda_assets.py (``make build``): pip for linux/arm64 cp312, once per dependency change; fresh
code always; reproducible zips of exactly what the CDK app deploys, checked against Lambda's limits."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import zipfile
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
    return tmp_path, _fake_pip(monkeypatch)


def _fake_pip(monkeypatch) -> list[list[str]]:
    """pip replaced by what it leaves behind: a dependency (always the same bytes), its bytecode, a console script."""
    pip_calls: list[list[str]] = []

    def fake_run(command, cwd=None, check=False):
        pip_calls.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "somedep" / "__pycache__").mkdir(parents=True)
        (target / "somedep" / "__init__.py").write_text("")
        # Incompressible, so that the zipped sizes are not all tiny.
        (target / "somedep" / "_native.so").write_bytes(random.Random(7).randbytes(64 * 1024))
        (target / "somedep" / "__pycache__" / "x.pyc").write_bytes(b"")
        (target / "bin").mkdir()
        (target / "bin" / "tool").write_text("#!/host/python\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(build.subprocess, "run", fake_run)
    return pip_calls


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


# --- make build: every artefact zipped, reproducibly, and checked against the limits.

def _snapshot_sources(target: Path) -> Path:
    """The repository's Lambda sources, copied once: others may edit the working tree while the test runs."""
    for name in ("pyproject.toml", "constraints.txt"):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for tree in ("functions", "layers/streaming", "layers/core/overspill"):
        shutil.copytree(ROOT / tree, target / tree, ignore=ignore)
    return target


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A copy of the real Lambda sources; pip is faked, everything else (copying, zipping, hashing) is real."""
    return _snapshot_sources(tmp_path / "src"), _fake_pip(monkeypatch)


def _quiet(_message):
    pass


def _hashes(result) -> dict[str, str]:
    return {name: artefact.sha256 for name, artefact in result.artefacts.items()}


def test_make_build_zips_every_layer_and_function(sources, tmp_path):
    root, _ = sources
    result = build.build_all(root, build_dir=tmp_path / "build", log=_quiet)
    functions = sorted(p.name for p in (root / "functions").iterdir() if (p / "handler.py").is_file())
    assert functions and {"proxy", "admin"} <= set(functions)
    assert list(result.artefacts) == ["layer-core", "layer-streaming", *(f"function-{f}" for f in functions)]
    dist = tmp_path / "build" / "dist"
    for name, artefact in result.artefacts.items():
        data = (dist / f"{name}.zip").read_bytes()
        # `sha256sum -c` format beside each zip, and the same in the manifest.
        assert (dist / f"{name}.zip.sha256").read_text() == f"{hashlib.sha256(data).hexdigest()}  {name}.zip\n"
        assert artefact.sha256 == hashlib.sha256(data).hexdigest() and artefact.zipped == len(data)
    with zipfile.ZipFile(dist / "function-proxy.zip") as z:
        assert z.namelist() == ["handler.py"]
        assert z.read("handler.py") == (root / "functions" / "proxy" / "handler.py").read_bytes()
    with zipfile.ZipFile(dist / "layer-core.zip") as z:
        names = z.namelist()
        assert "python/overspill/__init__.py" in names and "python/somedep/_native.so" in names
        assert result.artefacts["layer-core"].unzipped == sum(i.file_size for i in z.infolist())
    with zipfile.ZipFile(dist / "layer-streaming.zip") as z:
        assert "streaming-bootstrap" in z.namelist() and "python/lambda_streaming/__init__.py" in z.namelist()
        assert not [n for n in z.namelist() if n.endswith(".md")]
    assert (tmp_path / "build" / "functions" / "proxy" / "handler.py").is_file()
    assert (tmp_path / "build" / "layers" / "streaming" / "streaming-bootstrap").is_file()


def test_same_sources_build_byte_identical_zips(sources, tmp_path):
    """Two checkouts of the same code, made at different times, with another umask and leftover bytecode, give
    the same zips, byte for byte."""
    first, _ = sources
    second = tmp_path / "second"
    shutil.copytree(first, second, copy_function=shutil.copy)  # fresh timestamps
    later = 2_000_000_000
    for path in second.rglob("*"):
        os.utime(path, (later, later))
    (second / "functions" / "proxy" / "handler.py").chmod(0o600)
    (second / "layers" / "streaming" / "streaming-bootstrap").chmod(0o700)
    (second / "functions" / "proxy" / "__pycache__").mkdir()
    (second / "functions" / "proxy" / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"stale")
    (second / "layers" / "streaming" / "python" / "lambda_streaming" / "stray.pyc").write_bytes(b"stale")

    one = build.build_all(first, build_dir=tmp_path / "out-1", log=_quiet)
    two = build.build_all(second, build_dir=tmp_path / "out-2", log=_quiet)
    assert _hashes(one) == _hashes(two)
    assert len(set(_hashes(one).values())) == len(one.artefacts), "each artefact its own bytes"

    for artefact in two.artefacts.values():
        with zipfile.ZipFile(artefact.zip_path) as z:
            infos = z.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names) and names
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
            assert "__pycache__" not in info.filename and not info.filename.endswith((".pyc", ".pyo"))
            assert not info.is_dir()
            mode = stat.S_IMODE(info.external_attr >> 16)
            executable = info.filename == "streaming-bootstrap"
            assert mode == (0o755 if executable else 0o644), (info.filename, oct(mode))


def test_a_changed_file_changes_only_its_own_zip(sources, tmp_path):
    root, pip_calls = sources
    out = tmp_path / "build"
    before = _hashes(build.build_all(root, build_dir=out, log=_quiet))
    handler = root / "functions" / "rollup" / "handler.py"
    handler.write_text(handler.read_text() + "# changed\n")
    (root / "layers" / "streaming" / "python" / "lambda_streaming" / "wire.py").unlink()
    after = _hashes(build.build_all(root, build_dir=out, log=_quiet))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"function-rollup", "layer-streaming"}
    assert len(pip_calls) == 1
    with zipfile.ZipFile(out / "dist" / "layer-streaming.zip") as z:
        assert "python/lambda_streaming/wire.py" not in z.namelist()  # a removed file does not linger
    assert not (out / "layers" / "streaming" / "python" / "lambda_streaming" / "wire.py").exists()


def test_within_the_limits_make_build_prints_each_artefact_and_function(sources, capsys):
    root, _ = sources
    assert build.main([], root=root) == 0
    out = capsys.readouterr().out
    for name in ("layer-core", "layer-streaming", "function-proxy", "function-admin"):
        digest = (root / "build" / "dist" / f"{name}.zip.sha256").read_text()[:12]
        assert re.search(rf"^{name} +[\d.]+ KB +[\d.]+ KB +\d+ +{digest}$", out, re.M), out
    assert re.search(r"^proxy +[\d.]+ KB +80\.0 MB \(the proxy's cold-start budget\) +layer-streaming, layer-core$",
                     out, re.M), out
    assert re.search(r"^admin +[\d.]+ KB +250\.0 MB \(Lambda's limit\) +layer-core$", out, re.M), out
    assert "within every limit" in out


def test_over_a_limit_the_build_fails_naming_the_artefact_and_the_limit(sources, tmp_path, capsys):
    """Real limits need hundreds of MB; the same checks, scaled down to just under what this build makes."""
    root, _ = sources
    sized = build.build_all(root, build_dir=tmp_path / "sizing", log=_quiet)
    core = sized.artefacts["layer-core"]
    proxy = next(f for f in sized.functions if f.name == "proxy")
    largest = max(f.unzipped for f in sized.functions if f.name != "proxy")
    limits = build.Limits(zipped=core.zipped - 1, unzipped_with_layers=largest - 1,
                          proxy_unzipped_with_layers=proxy.unzipped - 1)

    assert build.main([], root=root, limits=limits) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    size = build.human_size
    expected = [f"error: layer-core.zip is {size(core.zipped)} zipped: over Lambda's {size(core.zipped - 1)} limit "
                "for a direct upload"]
    for function in sized.functions:
        if function.name == "proxy":
            expected.append(f"error: function proxy with its layers (function-proxy, layer-streaming, layer-core) is "
                            f"{size(proxy.unzipped)} unzipped: over the proxy's cold-start budget of "
                            f"{size(proxy.unzipped - 1)}")
        elif function.unzipped == largest:
            expected.append(f"error: function {function.name} with its layers (function-{function.name}, layer-core) "
                            f"is {size(largest)} unzipped: over Lambda's limit of {size(largest - 1)}")
    assert errors == expected and len(errors) >= 3

def test_the_limits_are_lambdas_and_the_proxy_budget_is_tighter():
    limits = build.LIMITS
    assert limits.unzipped_with_layers == 250 * 1024 * 1024 == 262_144_000  # Lambda's quota, in bytes
    assert limits.zipped == 50 * 1024 * 1024
    assert limits.proxy_unzipped_with_layers < limits.unzipped_with_layers


def test_a_symlink_in_an_artefact_is_refused_by_name(sources, tmp_path):
    root, _ = sources
    link = root / "functions" / "proxy" / "shared.py"
    link.symlink_to(root / "functions" / "admin" / "handler.py")
    with pytest.raises(build.BuildError, match=r"functions/proxy/shared\.py is a symbolic link"):
        build.build_all(root, build_dir=tmp_path / "build", log=_quiet)


# --- What make build zips is what the CDK app deploys (a synth, with its staged assets).

def _staged_files(directory: Path) -> list[tuple[str, Path]]:
    return sorted((p.relative_to(directory).as_posix(), p) for p in directory.rglob("*") if p.is_file())


def _digest(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def test_make_build_packages_exactly_what_the_cdk_app_deploys(dev):
    """Same files in each artefact (so the sizes checked are the deployed sizes), same functions, same layers.
    Ours are the functions whose entry point is ``handler.handler`` (functions/<name>/handler.py) and their layers;
    helpers the CDK brings along for its own constructs (a bucket deployment's, say) are not built here."""
    functions = {logical_id: resource for logical_id, resource in dev.resources("AWS::Lambda::Function").items()
                 if resource["Properties"].get("Handler") == "handler.handler"}
    layer_ids = {ref["Ref"] for resource in functions.values() for ref in resource["Properties"].get("Layers", [])}
    staged_layers: dict[str, str] = {}
    for logical_id in sorted(layer_ids):
        staged = dev.asset_dir(logical_id)
        files = _staged_files(staged)
        if (staged / "streaming-bootstrap").is_file():
            staged_layers[logical_id] = build.STREAMING_LAYER
            expected = build.package_files(ROOT / "layers" / "streaming", build.STREAMING_EXCLUDES)
            assert _digest(files) == _digest(expected), "the streaming layer differs from what make build zips"
        else:
            staged_layers[logical_id] = build.CORE_LAYER
            package = "python/overspill/"
            assert any(name.startswith(package) for name, _ in files), f"{logical_id}: neither of our layers"
            # Nothing the CDK ships would make build leave out …
            assert build.package_files(staged) == files
            # … the dependencies are the same files (read under the lock a synth re-copies the package under) …
            with build._core_lock(build.core_layer_dir(ROOT)):
                built = build.package_files(build.core_layer_dir(ROOT))
            assert [n for n, _ in files if not n.startswith(package)] == [n for n, _ in built
                                                                           if not n.startswith(package)]
            # … and the package is the source as it was at synth time.
            assert {n[len(package):] for n, _ in files if n.startswith(package)} == \
                {p.as_posix() for p in dev.overspill_source}
    assert sorted(staged_layers.values()) == sorted([build.CORE_LAYER, build.STREAMING_LAYER])

    by_code = {_digest(build.package_files(ROOT / "functions" / name)): name for name in build.function_names(ROOT)}
    assert len(by_code) == len(build.function_names(ROOT)), "two functions with the same code"
    deployed: dict[str, set[str]] = {}
    for logical_id, resource in functions.items():
        code = _digest(_staged_files(dev.asset_dir(logical_id)))
        assert code in by_code, f"{logical_id} deploys code that make build does not build"
        deployed[by_code[code]] = {staged_layers[ref["Ref"]] for ref in resource["Properties"].get("Layers", [])}
    assert deployed == {name: set(build.FUNCTION_LAYERS.get(name, build.DEFAULT_LAYERS))
                        for name in build.function_names(ROOT)}
