"""Lambda-shaped costs of the proxy: its cold start through the streaming runtime, its imports, the deployment
packages, the AWS calls of each request (counted), and what a million Claude Code requests cost on AWS.

Cold start: the real handler (functions/proxy/handler.py) run by layers/streaming's exec wrapper and runtime
client in a fresh process, against the Runtime API emulator the tests use (tests/support/runtime_api.py), with
AWS on a moto server and a fake Anthropic in its own process, both on loopback. The invocation is queued before
the process starts, so the emulator's answer to the runtime's first ``/next`` marks the end of runtime start and
imports; its first payload chunk is the first response byte. Three variants (``VARIANTS``), alternating: the
real handler with only the core layer's packages importable (as on Lambda), the same handler wrapped to time its
phases from inside (``time.monotonic()`` is one clock for every process on Linux), and the real handler with the
dev venv's packages.

``python -m bench.lambda_costs [--quick]`` prints the docs/performance.md sections; ``run()`` returns the
numbers, ``render_markdown(results)`` the sections.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import aws_calls, cost_model

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "layers" / "streaming" / "streaming-bootstrap"
DIST = ROOT / "build" / "dist"
MB = 1024 * 1024
# plain: the real handler, with the core layer's packages only; phased: the same, timed from inside; venv: the
# real handler with the dev venv's packages.
VARIANTS = ("plain", "phased", "venv")
TARGET_COLD_START_MS = 400.0     # runtime + imports (issue 8)
TARGET_WARM_READS = 1            # DynamoDB reads and writes per warm plan request (issue 8)
TARGET_WARM_WRITES = 1
# Lambda's own limits, and the build's budget for the proxy with its layers (scripts/build_lambda_assets.py).
LIMIT_ZIPPED = 50 * MB
LIMIT_UNZIPPED_WITH_LAYERS = 250 * MB
BUDGET_PROXY_UNZIPPED = 80 * MB
FUNCTION_LAYERS = {"proxy": ("layer-streaming", "layer-core"), "admin": ("layer-core",),
                   "rollup": ("layer-core",), "export": ("layer-core",)}

# The same handler, with the time of each phase (written once the first invocation's init is done).
PHASED_HANDLER = '''
import json, os, time
_import_start = time.monotonic()
import handler as _proxy  # functions/proxy/handler.py
_import_end = time.monotonic()
from overspill.proxy import app as _app
_marks = {"warm_connections_s": 0.0}
_warm_connections = _app.warm_connections


def _timed_warm_connections():  # the part of the build that creates a botocore client per table
    started = time.monotonic()
    _warm_connections()
    _marks["warm_connections_s"] += time.monotonic() - started


_app.warm_connections = _timed_warm_connections


def handler(event, context):
    if "init_start" not in _marks:
        _marks.update(import_start=_import_start, import_end=_import_end, init_start=time.monotonic())
        _app.instance_proxy()  # what the first invocation builds before its request (Proxy, clients)
        _marks["init_end"] = time.monotonic()
        with open(os.environ["BENCH_MARKS"], "w") as out:
            json.dump(_marks, out)
    return _proxy.handler(event, context)
'''


# --------------------------------------------------------------------------------------------------------
# 1. Cold start through the streaming runtime


def cold_start(runs: int, warm_after: int = 2) -> dict[str, Any]:
    from bench.harness import fake_anthropic_process
    from bench.latency import BODY, HEADERS
    from overspill.local.function_url import function_url_event
    from tests.support.lambda_proxy import LambdaProxy
    from tests.support.runtime_api import RuntimeApiEmulator

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request lines
    samples: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    with (fake_anthropic_process(delay_ms=0, event_interval_ms=0, text_events=20) as upstream,
          LambdaProxy("127.0.0.1:9", upstream) as aws, tempfile.TemporaryDirectory() as tmp):
        (Path(tmp) / "bench_phased.py").write_text(PHASED_HANDLER)
        layer = layer_like_environment(Path(tmp))
        event = function_url_event("POST", f"/ak/{aws.key}/v1/messages", "beta=true", list(HEADERS.items()), BODY)
        probe = function_url_event("HEAD", f"/ak/{aws.key}", "", [], b"")
        for number in range(runs):
            for variant in VARIANTS:
                # An emulator per process: a killed runtime leaves its last /next waiting for an event.
                with RuntimeApiEmulator() as api:
                    samples[variant].append(_one_cold_start(api, aws, variant, Path(tmp), number, event, probe,
                                                            warm_after, layer))
        interpreter = [_bare_interpreter_ms(layer["python"]) for _ in range(runs)]
    return {"runs": runs, "warm_after": warm_after, "samples": samples, "bare_interpreter_ms": interpreter,
            "layer_packages": layer["packages"], "layer_missing": layer["missing"],
            "summary": _summarize_cold(samples, interpreter)}


def layer_like_environment(tmp: Path) -> dict[str, Any]:
    """An interpreter that sees what the proxy sees on Lambda: no site-packages (``-S``), only the packages the
    core layer ships (build/dist/layer-core.zip's top level), linked from this machine's venv — the layer
    itself holds arm64 binaries. The dev venv has more (httpx, for one, then imports its CLI: rich, click)."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    with zipfile.ZipFile(DIST / "layer-core.zip") as archive:
        names = sorted({n.split("/")[1] for n in archive.namelist() if n.startswith("python/") and n.count("/") >= 1})
    linked, missing = [], []
    target = tmp / "layer-site"
    target.mkdir()
    for name in names:
        if name == "overspill":
            continue  # from the source tree, on PYTHONPATH
        if name.endswith(".dist-info"):
            project = name.split("-")[0].lower()
            found = [p for p in site.glob("*.dist-info") if p.name.split("-")[0].lower() == project]
        elif name.endswith(".so"):
            found = list(site.glob(name.split(".")[0] + ".*.so"))
        else:
            found = [site / name] if (site / name).exists() else []
        if not found:
            missing.append(name)
            continue
        (target / found[0].name).symlink_to(found[0])
        if not name.endswith(".dist-info"):
            linked.append(name)
    python = tmp / "python-layer"
    python.write_text(f'#!/bin/sh\nexec {sys._base_executable} -S "$@"\n')
    python.chmod(0o755)
    return {"python": str(python), "site": str(target), "packages": linked, "missing": missing}


def _one_cold_start(api: Any, aws: Any, variant: str, tmp: Path, number: int, event: dict, probe: dict,
                    warm_after: int, layer: dict[str, Any]) -> dict[str, Any]:
    from tests.support.gateway import TEST_AWS_ENV

    marks_file = tmp / f"marks-{variant}-{number}.json"
    phased = variant == "phased"
    env = {
        "PATH": os.environ["PATH"], **TEST_AWS_ENV, **aws.settings.as_env(),
        "_HANDLER": "bench_phased.handler" if phased else "handler.handler",
        "LAMBDA_TASK_ROOT": str(tmp if phased else ROOT / "functions" / "proxy"),
        # On Lambda the core layer is /opt/python; here the package comes from the source tree.
        "PYTHONPATH": os.pathsep.join([*([str(ROOT / "functions" / "proxy")] if phased else []),
                                       str(ROOT / "layers" / "core"),
                                       *([layer["site"]] if variant != "venv" else [])]),
        "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": "overspill-proxy",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/overspill-proxy", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "POWERTOOLS_SERVICE_NAME": "overspill", "POWERTOOLS_LOG_LEVEL": "INFO",  # the CDK app's default level
        "BENCH_MARKS": str(marks_file),
    }
    log_path = tmp / f"log-{variant}-{number}.txt"
    first = api.invoke(event)  # queued first: the runtime's first /next is answered at once
    with log_path.open("wb") as log:
        started = time.monotonic()
        python = sys.executable if variant == "venv" else layer["python"]
        process = subprocess.Popen([str(WRAPPER), python, "/var/runtime/bootstrap.py"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(first)
            cold_first_byte = _checked_first_byte(first)
            warm = []
            for _ in range(warm_after):
                warm.append(_wait(api.invoke(event)))
            # The runtime asks for the next event only once the previous body's close() (the usage write) ran.
            end = _wait(api.invoke(probe))
        finally:
            process.kill()
            process.wait(10)
    invocations = [first, *warm, end]
    sample: dict[str, Any] = {
        "runtime_and_imports_ms": (first.delivered_at - started) * 1000,
        "first_prelude_ms": (first.chunks[0].at - started) * 1000,
        "first_byte_ms": (cold_first_byte - started) * 1000,
        # Lambda bills an invocation until the runtime asks for the next one (after the body's close()).
        "warm_billed_ms": [(later.delivered_at - w.delivered_at) * 1000
                           for w, later in zip(warm, invocations[2:], strict=True)],
        "warm_first_byte_ms": [(_checked_first_byte(w) - w.delivered_at) * 1000 for w in warm],
        "log_bytes_per_request": log_path.stat().st_size / (1 + warm_after),
        "log_lines_per_request": len(log_path.read_bytes().splitlines()) / (1 + warm_after),
    }
    if phased:
        marks = json.loads(marks_file.read_text())
        sample.update(
            runtime_start_ms=(marks["import_start"] - started) * 1000,
            handler_import_ms=(marks["import_end"] - marks["import_start"]) * 1000,
            next_ms=(marks["init_start"] - marks["import_end"]) * 1000,
            init_ms=(marks["init_end"] - marks["init_start"]) * 1000,
            warm_connections_ms=marks["warm_connections_s"] * 1000,
            request_to_first_byte_ms=(cold_first_byte - marks["init_end"]) * 1000,
        )
        if number == 0:
            sample["log_sample"] = log_path.read_text(errors="replace")[-3000:]
    return sample


def _wait(exchange: Any) -> Any:
    try:
        return exchange.wait(timeout=60)
    except AssertionError:
        # The exchange's repr holds the whole event: say only what went wrong.
        raise RuntimeError(f"cold start: no answer to {exchange.request_id} within 60 s "
                           f"(delivered: {exchange.delivered_at is not None})") from None


def _checked_first_byte(exchange: Any) -> float:
    """When the first byte of the payload (after the prelude and its 8 NULs) arrived; the answer must be a
    complete 200 stream, or an empty 200 for the probe."""
    from tests.support.runtime_api import DELIMITER

    if exchange.kind != "response" or exchange.problems or exchange.prelude["statusCode"] != 200:
        raise RuntimeError(f"cold start: unexpected answer {exchange.kind} {exchange.problems} {exchange.body[:300]!r}")
    if not exchange.payload.rstrip().endswith(b'{"type":"message_stop"}'):
        raise RuntimeError(f"cold start: incomplete stream {exchange.payload[-300:]!r}")
    seen = b""
    for chunk in exchange.chunks:
        seen += chunk.data
        if DELIMITER in seen and seen.partition(DELIMITER)[2]:
            return chunk.at
    raise RuntimeError("cold start: no payload byte")


def _bare_interpreter_ms(python: str) -> float:
    started = time.monotonic()
    subprocess.run([python, "-c", "pass"], check=True)
    return (time.monotonic() - started) * 1000


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _summarize_cold(samples: dict[str, list[dict[str, Any]]], interpreter: list[float]) -> dict[str, Any]:
    phased = samples["phased"]
    summary = {f"{variant}_{k}": _stats([s[k] for s in samples[variant]]) for variant in ("plain", "venv")
               for k in ("runtime_and_imports_ms", "first_prelude_ms", "first_byte_ms")}
    summary.update({f"phased_{k}": _stats([s[k] for s in phased]) for k in (
        "runtime_start_ms", "handler_import_ms", "next_ms", "init_ms", "warm_connections_ms",
        "request_to_first_byte_ms", "runtime_and_imports_ms", "first_byte_ms")})
    every = [s for variant in VARIANTS for s in samples[variant]]
    summary["warm_first_byte_ms"] = _stats([v for s in every for v in s["warm_first_byte_ms"]])
    summary["warm_billed_ms"] = _stats([v for s in every for v in s["warm_billed_ms"]])
    summary["log_bytes_per_request"] = statistics.median(s["log_bytes_per_request"] for s in every)
    summary["log_lines_per_request"] = statistics.median(s["log_lines_per_request"] for s in every)
    summary["bare_interpreter_ms"] = _stats(interpreter)
    return summary


# --------------------------------------------------------------------------------------------------------
# 2. Imports, 3. packages


def imports(runs: int) -> dict[str, Any]:
    from bench.imports import handler_import_ms

    # bench/imports.py's figures (its top list is as long as it makes it).
    total, heaviest = handler_import_ms(runs, top=10)
    return {"runs": runs, "total_ms": total, "heaviest": heaviest}


def package_sizes() -> dict[str, Any]:
    """Each zip in build/dist (built first if missing), its size zipped and unzipped, and what is largest in the
    core layer."""
    built_now = False
    if not (DIST / "manifest.json").exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_lambda_assets.py")], cwd=ROOT, check=True)
        built_now = True
    artefacts = {}
    for path in sorted(DIST.glob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        artefacts[path.stem] = {"zipped": path.stat().st_size, "unzipped": sum(i.file_size for i in infos),
                                "files": len(infos), "built": datetime.fromtimestamp(path.stat().st_mtime, UTC)
                                .strftime("%Y-%m-%d %H:%M UTC")}
        if path.stem == "layer-core":
            by_package: dict[str, int] = {}
            for info in infos:
                parts = info.filename.split("/")
                name = parts[1] if len(parts) > 2 else parts[-1]
                name = name.split("-")[0] if name.endswith((".dist-info", ".data")) else name
                by_package[name] = by_package.get(name, 0) + info.file_size
            artefacts[path.stem]["largest"] = sorted(by_package.items(), key=lambda kv: -kv[1])[:8]
    functions = {}
    for name, layers in FUNCTION_LAYERS.items():
        key = f"function-{name}"
        if key in artefacts and all(layer in artefacts for layer in layers):
            functions[name] = sum(artefacts[a]["unzipped"] for a in (key, *layers))
    return {"artefacts": artefacts, "functions_unzipped_with_layers": functions, "built_now": built_now}


# --------------------------------------------------------------------------------------------------------
# 5. The cost model's inputs


def _default_from(path: Path, name: str) -> Any:
    """A constant or dataclass field default from the CDK app's source, without importing the CDK."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == name and node.value is not None:
            return ast.literal_eval(node.value)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{name} not found in {path}")


def cost_inputs(cold: dict[str, Any], calls: dict[str, Any]) -> cost_model.Inputs:
    summary = cold["summary"]
    paced, open_ = calls["paced_day"], calls["breaker_open"]
    usage_put = next(c for c in calls["cold"]["request"]["calls"] if c["operation"] == "PutItem")
    return cost_model.Inputs(
        memory_mb=_default_from(ROOT / "infra" / "config.py", "proxy_memory_mb"),
        gateway_s=summary["warm_billed_ms"]["median"] / 1000,
        init_s=(summary["plain_first_byte_ms"]["median"]) / 1000,
        plan=cost_model.PathCost(paced["read_units"], paced["write_units"], paced["index_write_units"],
                                 paced["kms"]),
        bedrock=cost_model.PathCost(open_["read_units"], open_["write_units"], open_["index_write_units"],
                                    open_["kms"]),
        rollup_plan_write_units=_rollup_units(calls, "plan"),
        rollup_bedrock_write_units=_rollup_units(calls, "bedrock"),
        rollup_memory_mb=_default_from(ROOT / "infra" / "components" / "rollup.py", "MEMORY_MB"),
        log_bytes=summary["log_bytes_per_request"],
        # The item, its by_day copy (all attributes) and its by_user entry (keys only, ~100 B).
        stored_bytes=cost_model.stored_bytes(usage_put["item_bytes"], usage_put["item_bytes"] + 100),
    )


def _rollup_units(calls: dict[str, Any], route: str) -> float:
    row = calls["rollup"].get(route)
    return 0.0 if row is None else row["write_units"] + row["index_write_units"]


# --------------------------------------------------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    """Every measurement of this module as plain data (quick: fewer runs, for a smoke test)."""
    started = time.monotonic()
    packages = package_sizes()  # first: the cold start takes the core layer's package list from it
    cold = cold_start(runs=2 if quick else 7)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "cold_start": cold,
        "imports": imports(runs=3 if quick else 7),
        "packages": packages,
        "calls": aws_calls.count_calls(quick=quick),
    }
    inputs = cost_inputs(cold, results["calls"])
    items = cost_model.line_items(inputs)
    results["cost"] = {"inputs": asdict(inputs), "items": [asdict(i) for i in items],
                       "total_usd": cost_model.total(items),
                       "storage_per_month_usd": cost_model.storage_per_month(inputs).usd}
    results["seconds"] = time.monotonic() - started
    return results


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['median']:.0f} ms ({stats['min']:.0f}–{stats['max']:.0f})"


def render_markdown(results: dict[str, Any]) -> str:
    return "\n".join([*_render_cold(results), *_render_packages(results), *_render_calls(results),
                      *_render_cost(results)])


def _render_cold(results: dict[str, Any]) -> list[str]:
    cold, s = results["cold_start"], results["cold_start"]["summary"]
    plain = s["plain_runtime_and_imports_ms"]["median"]
    venv = s["venv_runtime_and_imports_ms"]["median"]
    phased_sum = sum(s[f"phased_{k}"]["median"] for k in ("runtime_start_ms", "handler_import_ms"))
    imp = results["imports"]
    missing = f" (not found here: {', '.join(cold['layer_missing'])})" if cold["layer_missing"] else ""
    return [
        "## Proxy cold start on the streaming runtime",
        "",
        f"{cold['runs']} fresh processes per variant (median, min–max), Python {results['python']} on this "
        "machine. Each process: `layers/streaming/streaming-bootstrap` → `python -m lambda_streaming` → "
        "`functions/proxy/handler.py`, against the Runtime API emulator (`tests/support/runtime_api.py`), with AWS "
        "on a moto server and a fake Anthropic (answering at once) on loopback. The interpreter runs without "
        "site-packages and sees only the packages the core layer ships (`build/dist/layer-core.zip`'s "
        f"{len(cold['layer_packages'])} top-level names, linked from the dev venv: the layer holds arm64 "
        f"binaries){missing}, the `overspill` package from the source tree. The first invocation is Claude Code's "
        "streaming request (fixture `opus-default-stream`); every answer is checked: a 200 prelude and a "
        "complete SSE stream.",
        "",
        "| phase | time | how it is measured |",
        "|---|---|---|",
        f"| process start → first `/next` (runtime + imports) | **{_ms(s['plain_runtime_and_imports_ms'])}** | "
        "the real handler; the emulator answers the `/next` |",
        f"| → first response byte (prelude: status and headers) | {_ms(s['plain_first_prelude_ms'])} | |",
        f"| → first payload byte (SSE `message_start`) | **{_ms(s['plain_first_byte_ms'])}** | |",
        f"| split: interpreter + exec wrapper + `lambda_streaming` | {_ms(s['phased_runtime_start_ms'])} | "
        "a wrapper handler module times its own import of the handler and the first invocation; bare "
        f"`python -S -c pass`: {_ms(s['bare_interpreter_ms'])} |",
        f"| split: import of `functions/proxy/handler.py` | {_ms(s['phased_handler_import_ms'])} | |",
        f"| split: the runtime fetches the event | {_ms(s['phased_next_ms'])} | |",
        f"| split: init — `build_proxy`, done by the first invocation | {_ms(s['phased_init_ms'])} | of which "
        f"`warm_connections` (a botocore client per table): {_ms(s['phased_warm_connections_ms'])} |",
        f"| split: first request → first payload byte | {_ms(s['phased_request_to_first_byte_ms'])} | the pepper "
        "(Secrets Manager), key, user, breaker and price-override reads on moto over loopback, the plan call |",
        f"| same instance, later requests: `/next` → first payload byte | {_ms(s['warm_first_byte_ms'])} | "
        f"{cold['warm_after']} per process |",
        "| with the dev venv's packages instead: process start → first `/next` | "
        f"{_ms(s['venv_runtime_and_imports_ms'])} | → first payload byte {_ms(s['venv_first_byte_ms'])} |",
        "",
        f"Target: proxy cold start (runtime + imports) ≤ {TARGET_COLD_START_MS:.0f} ms — measured **{plain:.0f} ms** "
        f"({'met' if plain <= TARGET_COLD_START_MS else 'MISSED'}; timed from inside: {phased_sum:.0f} ms; with "
        f"the dev venv's packages {venv:.0f} ms). But the first byte comes "
        f"{s['plain_first_byte_ms']['median']:.0f} ms after the process started: the first invocation's "
        f"`build_proxy` takes {s['phased_init_ms']['median']:.0f} ms, "
        f"{s['phased_warm_connections_ms']['median']:.0f} ms of it in `warm_connections` "
        "(`overspill/store/models.py`): a botocore client per table, each from a session of its own (pynamodb's), "
        "sharing one loader so that DynamoDB's model and endpoint rules are parsed once (before that was shared, "
        "this step took 685 ms: the same JSON parsed for every table). On Lambda a cold start "
        "also downloads and unpacks the code and layers first, and a 1,024 MB function gets ~58 % of a vCPU "
        "(1,769 MB = one vCPU): CPU-bound phases (imports, init) can take up to ~1.7× as long there (an "
        "estimate, not measured).",
        "",
        f"Import time of the handler alone (`bench/imports.py`: `-X importtime` in the dev venv, median of "
        f"{imp['runs']} fresh interpreters): **{imp['total_ms']:.0f} ms**. Heaviest packages (cumulative; they "
        "overlap; in the dev venv `httpx` also imports its command line, `rich` and `click`, which the layer "
        "does not ship):",
        "",
        "| package | ms |",
        "|---|---|",
        *[f"| {name} | {ms:.0f} |" for name, ms in imp["heaviest"]],
        "",
    ]


def _render_packages(results: dict[str, Any]) -> list[str]:
    packages = results["packages"]
    artefacts = packages["artefacts"]
    lines = [
        "## Deployment packages",
        "",
        f"`build/dist` (`make build`, arm64 wheels; built {artefacts['layer-core']['built']}"
        f"{', by this run' if packages['built_now'] else ''}). Lambda's limits: {LIMIT_ZIPPED // MB} MB zipped "
        f"for a direct upload, {LIMIT_UNZIPPED_WITH_LAYERS // MB} MB unzipped for a function with its layers; "
        f"ours for the proxy: {BUDGET_PROXY_UNZIPPED // MB} MB.",
        "",
        "| artefact | files | zipped | unzipped | zipped vs 50 MB |",
        "|---|---|---|---|---|",
    ]
    for name, a in artefacts.items():
        lines.append(f"| {name} | {a['files']:,} | {_size(a['zipped'])} | {_size(a['unzipped'])} | "
                     f"{a['zipped'] / LIMIT_ZIPPED:.1%} |")
    lines += ["", "| function with its layers | unzipped | vs 250 MB | vs our budget |", "|---|---|---|---|"]
    for name, size in packages["functions_unzipped_with_layers"].items():
        budget = f"{size / BUDGET_PROXY_UNZIPPED:.0%} of {BUDGET_PROXY_UNZIPPED // MB} MB" if name == "proxy" else "—"
        lines.append(f"| {name} | {size / MB:.1f} MB | {size / LIMIT_UNZIPPED_WITH_LAYERS:.0%} | {budget} |")
    largest = artefacts["layer-core"].get("largest", [])
    lines += ["", "Largest in the core layer (unzipped): " + ", ".join(f"{n} {b / MB:.1f} MB" for n, b in largest)
              + ".", ""]
    return lines


def _size(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1024:.1f} KB"


def _calls_cell(t: dict[str, Any]) -> str:
    return (f"{_num(t['dynamodb_reads'])} | {_num(t['dynamodb_writes'])} | {_num(t['read_units'])} | "
            f"{_num(t['write_units'])} + {_num(t['index_write_units'])} | {_num(t['kms'])} | "
            f"{_num(t['secretsmanager'])} | {_num(t['bedrock'])}")


def _num(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _reads_share(results: dict[str, Any]) -> str:
    """The proxy's reads against the whole, from the cost model's line items ("$0.18 of $230.21")."""
    cost = results.get("cost") or {}
    reads = next((item["usd"] for item in cost.get("items", []) if item["what"].startswith("proxy reads")), None)
    if reads is None or "total_usd" not in cost:
        return "not computed"
    return f"${reads:,.2f} of ${cost['total_usd']:,.2f}"


def _render_calls(results: dict[str, Any]) -> list[str]:
    calls = results["calls"]
    cold, warm = calls["cold"], calls["warm"]
    busy, day = calls["paced_busy"], calls["paced_day"]
    met = warm["max_reads"] <= TARGET_WARM_READS and warm["max_writes"] <= TARGET_WARM_WRITES

    def verdict(paced: dict[str, Any]) -> str:
        ok = paced["dynamodb_reads"] <= TARGET_WARM_READS and paced["dynamodb_writes"] <= TARGET_WARM_WRITES
        return (f"one request every {paced['gap_s']:g} s: **{'met' if ok else 'MISSED'}** "
                f"({paced['dynamodb_reads']:.2f} reads, {paced['dynamodb_writes']:.2f} writes per request)")

    lines = [
        "## AWS calls per request (counted)",
        "",
        "The real proxy (`build_proxy`) on moto in-process, with the fake Anthropic and the fake Bedrock on "
        "loopback; every botocore client it creates is hooked through botocore's events "
        "(`before-parameter-build`, `after-call`), `bench/aws_calls.py`. Each request is Claude Code's "
        f"streaming request ({calls['body_bytes']:,} bytes), driven as the streaming runtime drives it — handler, "
        "every body chunk, then `close()` — so the writes after the response count. Units: DynamoDB on-demand "
        "request units from the items' sizes as sent and read (eventually consistent reads ½ unit per 4 KB; "
        "a transaction's writes 2 units per KB; index writes by projection).",
        "",
        "| path | DynamoDB reads | writes | read units | write units (table + indexes) | KMS | Secrets Manager "
        "| Bedrock |",
        "|---|---|---|---|---|---|---|---|",
        f"| cold: init (`build_proxy`) | {_calls_cell(cold['init'])} |",
        f"| cold: first request of a fresh instance | {_calls_cell(cold['request'])} |",
        f"| cold, and the key unused for 5 min (its last-used write) | {_calls_cell(calls['first_use_of_key'])} |",
        f"| warm plan request, key and breaker cached (mean of {warm['requests']}) | {_calls_cell(warm)} |",
        *[f"| warm plan request at Claude Code's pace, one every {p['gap_s']:g} s (mean of {p['requests']}) "
          f"| {_calls_cell(p)} |" for p in (busy, day)],
        f"| plan answers a plan-limit 429 → Bedrock (warm instance) | {_calls_cell(calls['fallback'])} |",
        f"| warm, breaker open → Bedrock (mean of {calls['breaker_open']['requests']}) | "
        f"{_calls_cell(calls['breaker_open'])} |",
        *[f"| rollup function, per {route} event | {_calls_cell(row)} |" for route, row in calls["rollup"].items()],
        "",
        "Each call, where the package makes it (innermost frame first), with the item's size as DynamoDB counts "
        "it. The usage event is just over 1 KB, so it costs 2 write units, and 2 more in its `by_day` index "
        "(all attributes; `by_user`, keys only, 1): under 1 KB it would cost 3 in all.",
        "",
        "| path | call | read / write units (item) | where |",
        "|---|---|---|---|",
    ]
    for name, t in (("cold request", cold["request"]), ("cold, key unused 5 min", calls["first_use_of_key"]),
                    ("plan 429 → Bedrock", calls["fallback"])):
        for c in t["calls"]:
            units = c["read_units"] if c["kind"] == "read" else f"{c['write_units']} + {c['index_write_units']}"
            units = f"{units} ({c['item_bytes']:,} B)" if c["service"] == "dynamodb" else "—"
            lines.append(f"| {name} | {c['label']} | {units} | `{c['site']}` |")
    for name, t in (("warm", warm), (f"every {busy['gap_s']:g} s", busy), (f"every {day['gap_s']:g} s", day),
                    ("breaker open", calls["breaker_open"])):
        for c in t["per_request"]:
            units = "—" if not c["label"].startswith("dynamodb") else (
                _num(c["read_units"]) if c["read_units"] else f"{_num(c['write_units'])} (table + indexes)")
            lines.append(f"| {name} | {c['label']} ({c['per_request']:.2f} per request) | {units} each | "
                         f"`{c['site']}` |")
    ttls = busy["ttls"]
    lines += [
        "",
        f"Target: ≤ {TARGET_WARM_READS} DynamoDB read and ≤ {TARGET_WARM_WRITES} write per warm plan request — "
        f"back to back: **{'met' if met else 'MISSED'}** ({_num(warm['dynamodb_reads'])} reads, "
        f"{_num(warm['dynamodb_writes'])} write: the usage event, after the response); at Claude Code's pace, "
        f"{verdict(busy)}; {verdict(day)}. At that pace the instance's copies expire between a developer's "
        f"requests: the breaker's after {ttls['breaker_cache_ttl_s']:g} s (`OVERSPILL_BREAKER_CACHE_TTL_S`: one "
        "GetItem, `overspill/breaker.py:169` → `store/breakers.py:14`), the key's after "
        f"{ttls['key_cache_ttl_s']:g} s (`OVERSPILL_KEY_CACHE_TTL_S`: the key — a Query filtered to usable keys "
        "—, then its user — a GetItem; `Authenticator._lookup` in `overspill/auth.py`), and the key's last-used "
        "time is written again once "
        f"{ttls['key_last_used_interval_s']:g} s old (`OVERSPILL_KEY_LAST_USED_INTERVAL_S`: a conditional "
        "UpdateItem after the response, `overspill/auth.py:91`). The paced runs use a faster clock (every TTL and "
        f"the gap divided by {busy['scale']:g} and {day['scale']:g}); the calls are the real code's. Each read "
        "is ½ unit (eventually consistent, items under 4 KB).",
        "",
        "What meeting it at that pace would take, and why it is not done: each copy's lifetime is a promise. The "
        "key's 30 s is how long a revoked key may still work; the breaker's 5 s is how soon an instance learns that "
        "another one saw the plan limited (a stale closed copy costs one plan request answered 429, then the "
        "fallback, ~100 ms more for that request). Keeping the closed breaker as long as the key, and reading the "
        "key and its user in one BatchGetItem, would make a request every 10 s cost one read call; a request every "
        "72 s would still read everything, unless the copies outlived a minute. In money the reads are a rounding "
        f"error (the cost model below: {_reads_share(results)} per million requests); they are counted here "
        "because the issue set the target.",
        "",
    ]
    return lines


def _inputs(data: dict[str, Any]) -> cost_model.Inputs:
    paths = {name: cost_model.PathCost(**data[name]) for name in ("plan", "bedrock")}
    return cost_model.Inputs(**{**data, **paths})


def _render_cost(results: dict[str, Any]) -> list[str]:
    inputs = _inputs(results["cost"]["inputs"])
    return [
        "## AWS cost per million Claude Code requests",
        "",
        f"From the measurements above: the proxy's memory ({inputs.memory_mb} MB, `infra/config.py`), its own "
        f"billed time per warm request ({inputs.gateway_s * 1000:.1f} ms: `/next` to the next `/next` with the "
        f"fake answering at once, usage write included), a cold start's billed init ({inputs.init_s * 1000:.0f} ms: "
        "process start to first byte), the DynamoDB units counted per path (the plan path at docs/deploy.md's "
        "daily pace, the Bedrock path with the breaker open, back to back), the rollup's units per event, and the "
        "proxy's log output "
        f"({inputs.log_bytes:,.0f} bytes per request at `INFO`: the request log and the EMF metrics). Assumed, "
        f"from docs/deploy.md: an answer streams for {inputs.answer_s:g} s (Lambda bills the whole stream), "
        f"{inputs.fallback_fraction:.0%} of requests fall back to Bedrock, "
        f"{inputs.cold_start_fraction:.1%} of requests start an instance, "
        f"{inputs.request_body_bytes / 1000:.0f} KB request bodies.",
        "",
        *cost_model.render(inputs),
        "",
        "The answer's streaming time is nearly all of it: Lambda bills N × t × M, so the gateway's own "
        "milliseconds and its DynamoDB calls are a rounding error beside a 15 s answer; memory is the lever "
        "(512 MB halves the first line, if the cold start and the added latency hold at half the CPU).",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = run(quick=args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(render_markdown(results))
    print(f"(took {results['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
