"""The dashboard in headless Chromium against a real `overspill dev` with the fake upstreams: what an admin does
in a day (create a developer, hand out a key, see their traffic and its cost, set Bedrock credentials, watch the
breaker open on a plan limit, revoke the key) and what finance may not do."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import anthropic as anthropic_sdk
import boto3
import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import (
    NARROW,
    WIDE,
    axe_violations,
    describe,
    new_user_form,
    screenshot,
    section,
    sign_in,
    submit_sign_in,
)
from tests.e2e.conftest import SECRETS, DevRun, register_key, start_dev, stop_dev
from tests.support.fake_anthropic import Scenario

PASSWORD = "E2e-Dashboard-Passw0rd!"
FINANCE_PASSWORD = "E2e-Finance-Passw0rd!"
KEY_CACHE_TTL_S = 1.0
MODEL = "claude-haiku-4-5-20251001"
EXPORT_LINE = re.compile(r"export ANTHROPIC_BASE_URL=(\S+)")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dev(anthropic, bedrock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevRun]:
    run = start_dev(anthropic.url, tmp_path_factory.mktemp("dashboard-state"), bedrock_url=bedrock.url,
                    admin_password=PASSWORD, key_cache_ttl_s=str(KEY_CACHE_TTL_S))
    yield run
    stop_dev(run)


def cognito_admin(dev: DevRun) -> tuple[Any, str]:
    """moto's Cognito, as an operator with the AWS console would use it: (client, pool id)."""
    config = httpx.get(dev.url + "/config.json").json()["cognito"]
    client = boto3.client("cognito-idp", region_name=config["region"], endpoint_url=config["endpoint"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client, config["userPoolId"]


def ask(base_url: str, text: str = "reply with: counted") -> anthropic_sdk.types.Message:
    SECRETS.add_text("prompt", text)  # refused ones (after the revoke) never reach the fake upstream that registers
    client = anthropic_sdk.Anthropic(base_url=base_url, api_key="sk-ant-api03-e2e", max_retries=0)
    return client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": text}])


def reload_until(page: Page, check, timeout_s: float = 30) -> None:
    """Usage is rolled up from the table's stream a moment after the request: reload until it shows."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(1)
        page.reload()


def test_an_admins_day_in_the_dashboard(dev: DevRun, page: Page, anthropic, bedrock):
    sign_in(page, dev.url, "admin", PASSWORD, path="/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")

    # Add a developer.
    new_user = new_user_form(page, "Grace Hopper", "grace@example.com")
    new_user.get_by_label("Team").fill("compilers")
    new_user.get_by_role("button", name="Create user").click()
    expect(page).to_have_url(re.compile(r"/users/usr_[A-Za-z0-9_-]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grace Hopper")
    user_id = page.url.rsplit("/", 1)[1]
    screenshot(page, "user-detail-new")

    # Hand out a key: shown once, ready to paste.
    keys = section(page, "Access keys")
    keys.get_by_role("button", name="Issue key").click()
    export_line = page.get_by_test_id("issued-export").text_content() or ""
    match = EXPORT_LINE.search(export_line)
    assert match, export_line
    base_url = match.group(1)
    assert base_url.startswith(dev.url + "/ak/")
    register_key(base_url.rsplit("/ak/", 1)[1])
    screenshot(page, "user-detail-key-issued")

    # The developer's request, through the gateway with that key, shows in their usage and on the overview.
    assert ask(base_url).content[0].text
    reload_until(page, lambda: expect(section(page, "Usage by model")).to_contain_text(MODEL, timeout=1000))
    screenshot(page, "user-detail-usage")
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(page.get_by_role("img", name="Requests per day")).to_be_visible()
    reload_until(page, lambda: expect(page.locator("table").filter(
        has=page.get_by_text("Top users by cost")).first).to_contain_text("Grace Hopper", timeout=1000))
    screenshot(page, "overview")

    # Bedrock credentials for the fallback: saved, shown masked, never echoed.
    page.goto(f"{dev.url}/users/{user_id}")
    credentials = section(page, "Bedrock credentials")
    # An IAM access key: a Bedrock API key is only ever sent over HTTPS, and the fake Bedrock is plain HTTP.
    credentials.get_by_label("Credential type").select_option("access_key")
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    SECRETS.add("Bedrock secret access key", secret)
    credentials.get_by_label("Access key ID").fill("AKIAIOSFODNN7E2ETEST")
    credentials.get_by_label("Secret access key").fill(secret)
    credentials.get_by_label("Region").fill("us-east-1")
    credentials.get_by_role("button", name="Save credentials").click()
    expect(credentials).to_contain_text("TEST")  # the key id's hint: AKIA…TEST
    expect(credentials.get_by_label("Secret access key")).to_have_value("")
    assert secret not in page.content()

    # The plan runs out: the request still succeeds (through Bedrock), and the breaker shows open with why.
    anthropic.set_default(Scenario.plan_limit(int(time.time()) + 3600))
    assert ask(base_url, "after the limit").content
    fallback = bedrock.requests_for()
    assert fallback, "the fallback did not reach Bedrock"
    # signed with the access key the admin set in the page, not the gateway's role
    assert "Credential=AKIAIOSFODNN7E2ETEST/" in (fallback[-1].header("authorization") or "")
    page.reload()
    breaker = section(page, "Breaker")
    expect(breaker.locator(".badge").first).to_have_text(re.compile(r"^\s*open\s*$", re.IGNORECASE))
    expect(breaker).to_contain_text("plan_limit")
    expect(breaker.get_by_role("button", name="Reset breaker")).to_be_visible()
    screenshot(page, "user-detail-breaker-open")
    anthropic.set_default(None)

    # Revoke the key (confirmed), and the gateway refuses it within its key cache TTL.
    keys = section(page, "Access keys")
    keys.get_by_role("button", name="Revoke", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(keys).to_contain_text(re.compile("revoked", re.IGNORECASE))
    revoked_at = time.monotonic()
    while True:
        try:
            ask(base_url, "after revoke")
        except anthropic_sdk.AuthenticationError:
            break
        assert time.monotonic() - revoked_at < KEY_CACHE_TTL_S + 5, "the revoked key kept working"
        time.sleep(0.2)


def test_a_form_with_bad_values_shows_the_apis_errors_beside_the_fields(dev: DevRun, page: Page):
    sign_in(page, dev.url, "admin", PASSWORD, path="/users")
    form = new_user_form(page, "Bad Input", "not-an-email")
    form.get_by_label("Monthly budget (USD)").fill("-5")
    form.get_by_role("button", name="Create user").click()
    email = form.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    described = email.get_attribute("aria-describedby") or ""
    assert described, "the email's error is not tied to the field"
    expect(page.locator(f"[id='{described.split()[-1]}']")).to_contain_text(re.compile(r"\S"))
    expect(form.get_by_label("Monthly budget (USD)")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "users-new-invalid")
    expect(page).to_have_url(re.compile(r"/users$"))  # nothing was created


def test_the_session_survives_a_reload_and_an_expired_one_returns_to_the_same_page(dev: DevRun, page: Page):
    sign_in(page, dev.url, "admin", PASSWORD)
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert "token" not in page.url.lower()
    target = "/usage?from=2026-11-01&to=2026-11-20&group_by=model"
    # Tokens a pool no longer accepts (as after a password reset or a sign-out elsewhere): refresh fails too.
    page.evaluate("""() => {
        const session = JSON.parse(localStorage.getItem("overspill.session"));
        session.accessToken = "expired.token.value"; session.refreshToken = "revoked-refresh-token";
        session.expiresAt = Date.now() - 1000;
        localStorage.setItem("overspill.session", JSON.stringify(session));
    }""")
    page.goto(dev.url + target)
    expect(page).to_have_url(re.compile(r"/sign-in\?"))
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    submit_sign_in(page, "admin", PASSWORD)
    expect(page).to_have_url(dev.url + target)
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage")
    tokens = page.evaluate("() => JSON.stringify(localStorage)")
    assert "expired.token.value" not in tokens
    assert "token" not in page.url.lower().replace("/sign-in", "")


def test_the_api_down_shows_a_banner_not_a_blank_page(dev: DevRun, page: Page):
    sign_in(page, dev.url, "admin", PASSWORD)
    page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    page.get_by_role("link", name="Users").click()
    banner = page.get_by_role("alert").filter(has_text="admin API is unavailable")
    expect(banner).to_be_visible()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    screenshot(page, "api-down")
    page.unroute("**/api/**")
    page.get_by_role("button", name="Try again").click()
    expect(banner).to_have_count(0)


def test_finance_signs_in_with_a_new_password_and_finds_no_admin_actions(dev: DevRun, page: Page):
    cognito, pool_id = cognito_admin(dev)
    SECRETS.add("Cognito temporary password", "Temp-Passw0rd-123!")
    SECRETS.add("finance password", FINANCE_PASSWORD)
    cognito.admin_create_user(UserPoolId=pool_id, Username="fiona", TemporaryPassword="Temp-Passw0rd-123!",
                              MessageAction="SUPPRESS")
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="fiona", GroupName="finance")

    page.goto(dev.url + "/")
    submit_sign_in(page, "fiona", "Temp-Passw0rd-123!")
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    screenshot(page, "sign-in-new-password")
    page.get_by_label("New password", exact=True).fill(FINANCE_PASSWORD)
    page.get_by_label("Repeat the new password").fill(FINANCE_PASSWORD + "x")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("differ")
    page.get_by_label("Repeat the new password").fill(FINANCE_PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(["Overview", "Usage", "Exports", "Settings"])
    page.get_by_role("link", name="Exports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Exports")
    expect(page.get_by_role("button", name="Run export")).to_have_count(0)
    expect(page.get_by_role("heading", name="Run an export")).to_have_count(0)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Pricing")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)
    screenshot(page, "finance-settings")
    page.goto(dev.url + "/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not available")
    expect(page.get_by_role("button", name="New user")).to_have_count(0)


PAGES = [("overview", "/", "Overview"), ("users", "/users", "Users"), ("usage", "/usage", "Usage"),
         ("exports", "/exports", "Exports"), ("settings", "/settings", "Settings"), ("audit", "/audit", "Audit log")]


@pytest.mark.parametrize("viewport_name,viewport", [("wide", WIDE), ("narrow", NARROW)])
def test_every_page_renders_with_no_serious_accessibility_violations(dev: DevRun, page: Page, viewport_name: str,
                                                                       viewport: dict[str, int]):
    page.set_viewport_size(viewport)
    page.goto(dev.url + "/sign-in")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    problems = {"sign-in": axe_violations(page)}
    screenshot(page, f"sign-in-{viewport_name}")
    sign_in(page, dev.url, "admin", PASSWORD)
    user_id = _any_user(page, dev)
    for name, path, heading in [*PAGES, ("user-detail", f"/users/{user_id}", None)]:
        page.goto(dev.url + path)
        if heading:
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        problems[name] = axe_violations(page)
        screenshot(page, f"{name}-{viewport_name}")
        if viewport_name == "narrow":  # nothing wider than the screen but tables, which scroll in their box
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} is {overflow}px wider than a {viewport['width']}px screen"
    found = {name: describe(found) for name, found in problems.items() if found}
    assert not found, f"serious accessibility violations: {found}"


def _any_user(page: Page, dev: DevRun) -> str:
    """The demo user `overspill dev` made (its detail page is part of the tour)."""
    page.goto(dev.url + "/users")
    link = page.get_by_role("table").get_by_role("link").first
    href = link.get_attribute("href") or ""
    assert href.startswith("/users/usr_"), href
    return href.rsplit("/", 1)[1]


def test_the_dashboard_runs_under_the_deployed_content_security_policy(dev: DevRun, page: Page):
    """`overspill dev` sends infra's CSP (Cognito's origin being the local emulator's), so every browser test runs
    the app as CloudFront serves it; here the browser also reports anything the policy blocks."""
    from infra.components.web import content_security_policy

    cognito_origin = httpx.get(dev.url + "/config.json").json()["cognito"]["endpoint"]
    document = httpx.get(dev.url + "/users")
    assert document.headers["content-security-policy"] == content_security_policy(cognito_origin)
    assert document.headers["x-frame-options"] == "DENY"

    page.add_init_script("""window.__cspViolations = [];
        document.addEventListener("securitypolicyviolation",
            (event) => window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI));""")
    sign_in(page, dev.url, "admin", PASSWORD)
    for path in ("/", "/users", "/usage", "/exports", "/settings", "/audit"):
        page.goto(dev.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        assert page.evaluate("() => window.__cspViolations") == [], path
