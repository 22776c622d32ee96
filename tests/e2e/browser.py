"""Headless Debian Chromium driven by Playwright (no browser download: the project installs Debian's package),
with the helpers the dashboard's tests share: signing in, sections by heading, axe, screenshots."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import ROOT

CHROMIUM = Path(os.environ.get("OVERSPILL_CHROMIUM", "/usr/bin/chromium"))
# The machine's network is closed: without these Chromium retries Google's hosts at every start.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-default-apps"]
SCREENSHOTS = ROOT / "build" / "e2e-screenshots"
AXE_SCRIPT = ROOT / "admin_web" / "node_modules" / "axe-core" / "axe.min.js"
DIST_INDEX = ROOT / "admin_web" / "dist" / "index.html"
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


def submit_sign_in(page: Page, username: str, password: str) -> None:
    """Fill and send the sign-in form on the page as it is (no waiting for the outcome)."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, base_url: str, username: str, password: str, path: str = "/") -> None:
    page.goto(base_url + path)
    submit_sign_in(page, username, password)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def new_user_form(page: Page, name: str, email: str) -> Locator:
    """The Users page's "New user" form, opened, with a name and an email typed in."""
    page.get_by_role("button", name="New user").click()
    form = section(page, "New user")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Email").fill(email)
    return form


def section(page: Page, heading: str) -> Locator:
    """A page section by its h2, as a person scanning the page finds it."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, level=2, exact=True))


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA rules on the page as it is now: the violations of the given impacts."""
    # Evaluated through the debugging protocol: the page's CSP (script-src 'self') refuses an injected <script>.
    page.evaluate(f"() => {{ {AXE_SCRIPT.read_text()}\n window.axe = axe; }}")
    result = page.evaluate("""async () => await axe.run(document, {
        runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
        resultTypes: ["violations"]})""")
    return [violation for violation in result["violations"] if violation["impact"] in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps([{"id": v["id"], "impact": v["impact"], "help": v["help"],
                        "targets": [node["target"] for node in v["nodes"]][:5]} for v in violations], indent=1)
