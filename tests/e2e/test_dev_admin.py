"""`overspill dev` serves the admin API and its sign-in on the gateway's port: the admin signs in through the
local Cognito (moto) with the password the banner printed once, and the same password still works after a
restart (moto forgets the pool; the state directory does not)."""

from __future__ import annotations

import http.client
import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from overspill.local.dev import Dashboard
from overspill.local.function_url import FunctionUrlServer
from tests.e2e.conftest import ROOT, SECRETS, DevRun, capture_output, free_port, start_dev, stop_dev

PASSWORD_LINE = re.compile(r"^Admin password \(shown this once; kept in (.+)\): (\S+)$", re.MULTILINE)
ENV_PASSWORD = "Env-Chosen-Passw0rd!"
# `make test` builds the dashboard first; `overspill dev` then serves it (and says so) at /.
DASHBOARD_BUILT = (ROOT / "admin_web" / "dist" / "index.html").is_file()


@dataclass
class AdminDev:
    """The module's one `overspill dev`, restarted in place by the restart test."""

    state_dir: Path
    run: DevRun
    first_log: str
    password: str


@pytest.fixture(scope="module")
def admin_dev(anthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminDev]:
    state_dir = tmp_path_factory.mktemp("admin-state")
    run = start_dev(anthropic.url, state_dir)
    match = PASSWORD_LINE.search(run.log_text())
    assert match, "no admin password in the banner:\n" + run.log_text()
    dev = AdminDev(state_dir, run, run.log_text(), match.group(2))
    yield dev
    stop_dev(dev.run)


def sign_in(run: DevRun, username: str, password: str) -> str:
    """As the dashboard and the CLI do: the pool from /config.json, USER_PASSWORD_AUTH, unsigned."""
    cognito_config = httpx.get(run.url + "/config.json").json()["cognito"]
    cognito: Any = botocore.session.get_session().create_client(
        "cognito-idp", region_name=cognito_config["region"], endpoint_url=cognito_config["endpoint"],
        config=Config(signature_version=UNSIGNED))
    answer = cognito.initiate_auth(ClientId=cognito_config["clientId"], AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": username, "PASSWORD": password})
    assert "ChallengeName" not in answer, answer["ChallengeName"]
    for name in ("AccessToken", "IdToken", "RefreshToken"):
        SECRETS.add(f"Cognito {name}", answer["AuthenticationResult"][name])
    return answer["AuthenticationResult"]["AccessToken"]


def me(run: DevRun, token: str) -> httpx.Response:
    return httpx.get(run.url + "/api/me", headers={"Authorization": f"Bearer {token}"})


def test_the_first_start_prints_the_admin_sign_in_once_and_keeps_the_password_private(admin_dev: AdminDev):
    log = admin_dev.first_log
    dashboard = f", dashboard at {admin_dev.run.url}/" if DASHBOARD_BUILT else ""
    assert f"Admin API at {admin_dev.run.url}/api{dashboard}: sign in as admin" in log
    assert log.count(admin_dev.password) == 1
    kept = admin_dev.state_dir / "admin-password"
    assert PASSWORD_LINE.search(log).group(1) == str(kept)
    assert kept.read_text().strip() == admin_dev.password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # Not among what other commands and the dashboard read.
    for shared in ("runtime.json", "config.json"):
        assert admin_dev.password not in (admin_dev.state_dir / shared).read_text()


def test_the_admin_signs_in_with_the_printed_password_and_has_the_admin_role(admin_dev: AdminDev):
    token = sign_in(admin_dev.run, "admin", admin_dev.password)
    answer = me(admin_dev.run, token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"username": "admin", "role": "admin", "groups": ["admins"]}


def test_health_is_open_and_everything_else_under_api_needs_a_token(admin_dev: AdminDev):
    health = httpx.get(admin_dev.run.url + "/api/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    for path in ("/api/me", "/api"):
        refused = httpx.get(admin_dev.run.url + path)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["error"]["type"] == "authentication_error"
    # Only /api and what is under it is the admin API's: a look-alike path is the dashboard's (a route of the app)
    # when it is built, the gateway's 404 otherwise.
    lookalike = httpx.get(admin_dev.run.url + "/apiary")
    if DASHBOARD_BUILT:
        assert lookalike.status_code == 200 and lookalike.headers["content-type"].startswith("text/html")
    else:
        assert lookalike.status_code == 404 and lookalike.headers["x-overspill-error"] == "not_found_error"


def test_config_json_names_the_local_pool_and_is_never_cached(admin_dev: AdminDev):
    answer = httpx.get(admin_dev.run.url + "/config.json")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    config = answer.json()
    assert config["apiBase"] == "/api"
    assert set(config["cognito"]) == {"region", "userPoolId", "clientId", "endpoint"}
    assert config["cognito"]["userPoolId"].startswith(config["cognito"]["region"] + "_")
    assert httpx.get(config["cognito"]["endpoint"] + "/moto-api/").status_code == 200
    assert json.loads((admin_dev.state_dir / "config.json").read_text()) == config  # for tools that read files


def test_claude_code_requests_still_reach_the_gateway(admin_dev: AdminDev):
    answer = httpx.post(admin_dev.run.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e"},
                        json={"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": []})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-overspill-route"] == "plan"


def test_after_a_restart_the_same_password_works_and_is_not_printed_again(admin_dev: AdminDev, anthropic):
    old_token = sign_in(admin_dev.run, "admin", admin_dev.password)
    stop_dev(admin_dev.run)
    admin_dev.run = start_dev(anthropic.url, admin_dev.state_dir)
    log = admin_dev.run.log_text()
    assert admin_dev.password not in log
    assert PASSWORD_LINE.search(log) is None
    assert f"Admin password: in {admin_dev.state_dir / 'admin-password'}" in log

    answer = me(admin_dev.run, sign_in(admin_dev.run, "admin", admin_dev.password))
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "admin"
    # The pool is a new one: a token of the last run is no longer accepted.
    assert me(admin_dev.run, old_token).status_code == 401


def test_a_password_set_in_the_environment_is_the_admins(anthropic, tmp_path: Path):
    run = start_dev(anthropic.url, tmp_path, admin_password=ENV_PASSWORD)
    try:
        log = run.log_text()
        assert "Admin password: the one in OVERSPILL_ADMIN_PASSWORD" in log
        assert ENV_PASSWORD not in log
        assert not (tmp_path / "admin-password").exists()
        answer = me(run, sign_in(run, "admin", ENV_PASSWORD))
        assert answer.status_code == 200, answer.text
        assert answer.json()["role"] == "admin"
    finally:
        stop_dev(run)


def test_a_password_the_pool_refuses_stops_the_start_with_the_reason(anthropic, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSPILL_")}
    env["OVERSPILL_ADMIN_PASSWORD"] = "tooshort"
    SECRETS.add("admin password", "tooshort")
    finished = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "overspill"), "dev", "--port", str(free_port()), "--anthropic-url",
         anthropic.url, "--state-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    capture_output("overspill dev (refused)", finished)
    SECRETS.capture(tmp_path / "aws-emulator.log", "AWS emulator (moto)")
    assert finished.returncode != 0
    assert "cannot start: the admin password from OVERSPILL_ADMIN_PASSWORD is refused" in finished.stderr
    assert "at least 12 characters" in finished.stderr
    assert "tooshort" not in finished.stdout + finished.stderr
    assert "ANTHROPIC_BASE_URL" not in finished.stdout  # it never served


# The dashboard's files as `overspill dev` serves them once admin_web/dist is built, on the same server class
# and routes (a dist/ of its own here: the real one belongs to the dashboard's build).

def _answer(status: int, name: str) -> Any:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": status, "headers": {"x-function": name}, "body": event["rawPath"]}
    return handler


@pytest.fixture
def dashboard_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("not for the browser")
    server = FunctionUrlServer(("127.0.0.1", 0), _answer(404, "proxy"), owned_prefixes=("/ak/", "/v1/"),
                               functions={"/api": (_answer(200, "admin"), "admin")}, site=Dashboard(dist).answer)
    server.serve_in_background()
    try:
        yield server.url, dist
    finally:
        server.shutdown()
        server.server_close()


def raw_get(url: str, path: str) -> tuple[int, str, bytes]:
    """The path exactly as written (httpx would resolve dot segments before sending)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def test_a_built_dashboard_is_served_beside_the_api_with_its_routes_falling_back_to_index(dashboard_server):
    url, dist = dashboard_server
    # Not built yet: paths outside the API stay the gateway's.
    assert httpx.get(url + "/").headers["x-function"] == "proxy"

    (dist / "index.html").write_text("<!doctype html><title>Overspill</title>")
    (dist / "assets" / "app-1a2b.js").write_text("console.log('hi')")
    (dist / "assets" / "app-1a2b.css").write_text("body{}")
    page = httpx.get(url + "/")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "<title>Overspill</title>" in page.text
    script = httpx.get(url + "/assets/app-1a2b.js")
    assert (script.headers["content-type"], script.text) == ("text/javascript; charset=utf-8", "console.log('hi')")
    assert httpx.get(url + "/assets/app-1a2b.css").headers["content-type"] == "text/css; charset=utf-8"
    # The app's own routes load the app (its router shows the page).
    assert "<title>Overspill</title>" in httpx.get(url + "/users/usr_demo").text
    # Nothing outside dist/, however the path is spelt.
    for sneaky in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        status, _, body = raw_get(url, sneaky)
        assert status == 200 and b"not for the browser" not in body and b"<title>Overspill</title>" in body
    # The API and the gateway keep their paths; a POST is never the dashboard's.
    assert httpx.get(url + "/api/users").headers["x-function"] == "admin"
    assert httpx.get(url + "/ak/key/v1/models").headers["x-function"] == "proxy"
    assert httpx.post(url + "/users").headers["x-function"] == "proxy"
