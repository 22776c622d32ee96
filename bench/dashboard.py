"""The dashboard's JavaScript as a browser downloads it: what `npm run build` checks against its budget, read back
from the built files (admin_web/scripts/bundle-size.mjs) for docs/performance.md."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "admin_web" / "scripts" / "bundle-size.mjs"


def run() -> dict | None:
    """The bundle sizes of the current build; None when the dashboard is not built (`make web`)."""
    if not (ROOT / "admin_web" / "dist" / ".vite" / "manifest.json").is_file():
        return None
    done = subprocess.run(["node", str(SCRIPT), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def render_markdown(sizes: dict | None) -> str:
    lines = ["## Dashboard bundle", ""]
    if sizes is None:
        return "\n".join([*lines, "Not measured: the dashboard is not built (`make web`).", ""])
    budget = sizes["budgetKb"]
    lines += [
        "The built dashboard's JavaScript, gzip -9, as `npm run build` measures it (and fails above the budget of "
        f"{budget} KB for a first load):",
        "",
        "| what the browser downloads | JavaScript, gzipped |",
        "|---|---|",
        f"| first load: the sign-in page (React, the router, the Cognito client, the frame) | "
        f"{sizes['firstLoadKb']:.1f} KB |",
        f"| signed in, landing on the overview (adds the overview page and Chart.js) | {sizes['overviewKb']:.1f} KB |",
        f"| every chunk of the app together | {sizes['allKb']:.1f} KB |",
        "",
        f"Budget: {budget} KB — {'met' if max(sizes['firstLoadKb'], sizes['overviewKb']) <= budget else 'MISSED'}. "
        "Each page is its own chunk, loaded on first visit; Chart.js comes with the first page that draws a chart.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(run()))
