"""Import time of the proxy handler module in a fresh interpreter (what a cold start pays before init)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def handler_import_ms(runs: int = 7, top: int = 8) -> tuple[float, list[tuple[str, float]]]:
    """(median ms to import functions/proxy/handler.py, the third-party packages costing the most)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core")}
    totals: list[float] = []
    by_package: dict[str, dict[int, float]] = {}
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import handler"],
                                cwd=ROOT / "functions" / "proxy", env=env, capture_output=True, text=True,
                                check=True)
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            _, cumulative_us, name = line[len("import time:"):].split("|")
            module = name.strip()
            if module == "handler":
                totals.append(int(cumulative_us) / 1000)
                continue
            # A package's outermost import contains its inner ones: keep the largest figure per package.
            package = module.split(".")[0]
            run = by_package.setdefault(package, {})
            run[len(totals)] = max(run.get(len(totals), 0.0), int(cumulative_us) / 1000)
    heaviest = sorted(((p, statistics.median(r.values())) for p, r in by_package.items() if p != "overspill"),
                      key=lambda row: -row[1])[:top]
    return statistics.median(totals), heaviest
