"""``overspill admin``: the CLI as an admin runs it, against a real admin API on loopback that signs in with
moto's Cognito (a moto server: the API fetches the pool's JWKS over HTTP, as on AWS) and serves the
dashboard's ``/config.json``, exactly as the local run and a deployment do.

The CLI's Cognito traffic goes through a TCP tee, so the tests count real sign-ins (InitiateAuth calls)
instead of trusting the CLI's own word."""

from __future__ import annotations

import json
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner, Result
from moto.server import ThreadedMotoServer

from overspill.admin.api import AdminApi
from overspill.admin.audit import Actor
from overspill.admin.identity import Principal, Role
from overspill.admin.services import AdminServices
from overspill.aws import client
from overspill.cli import main
from overspill.config import Settings
from overspill.local.cognito import (
    ADMIN_GROUP,
    FINANCE_GROUP,
    LocalUserPool,
    create_app_client,
    ensure_member,
    ensure_user_pool,
    jwks_url,
)
from overspill.local.function_url import FunctionUrlServer
from overspill.local.provision import provision
from tests.support.gateway import TEST_AWS_ENV
from tests.support.tcp_tee import TcpTee

ADMIN_PASSWORD = "Adm1n-Passw0rd!"
FINANCE_PASSWORD = "F1nance-Passw0rd!"


@dataclass
class Deployment:
    url: str
    settings: Settings
    pool: LocalUserPool
    services: AdminServices
    config: dict[str, Any]     # what /config.json answers; a test may change it (and must put it back)
    cognito_tee: TcpTee

    def sign_ins(self) -> list[str]:
        """The AuthFlow of every InitiateAuth the CLI sent to Cognito, in order."""
        flows = []
        for request in self.cognito_tee.requests():
            if request.header("x-amz-target") == "AWSCognitoIdentityProviderService.InitiateAuth":
                flows.append(orjson.loads(request.body)["AuthFlow"])
        return flows


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in TEST_AWS_ENV.items():
            env.setenv(name, value)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.post(f"{endpoint}/moto-api/reset")  # moto's state is per process: start from nothing
        tee = TcpTee(port)
        server: FunctionUrlServer | None = None
        try:
            settings = Settings(aws_endpoint_url=endpoint)
            pool = ensure_user_pool(settings, admin_password=ADMIN_PASSWORD)
            ensure_member(settings, pool.pool_id, "fin", FINANCE_PASSWORD, FINANCE_GROUP)
            settings = replace(settings, cognito_user_pool_id=pool.pool_id, cognito_client_ids=pool.client_id,
                               cognito_jwks_url=jwks_url(settings, pool.pool_id),
                               proxy_public_url="http://127.0.0.1:8787")
            _, settings = provision(settings)
            services = AdminServices(settings)
            config = {"apiBase": "/api", "cognito": {"region": settings.region, "userPoolId": pool.pool_id,
                                                     "clientId": pool.client_id, "endpoint": tee.url}}

            def config_json() -> tuple[int, dict[str, str], bytes]:
                return 200, {"content-type": "application/json"}, orjson.dumps(config)

            server = FunctionUrlServer(("127.0.0.1", 0), AdminApi(services).handle, function_name="overspill-admin",
                                       extra_routes={"/config.json": config_json})
            server.serve_in_background()
            yield Deployment(server.url, settings, pool, services, config, tee)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
            tee.close()
            moto.stop()


@dataclass
class Admin:
    """Runs ``overspill admin …`` as a person at a terminal would, with a token cache of their own."""

    deployment: Deployment
    home: Path
    username: str = "admin"
    password: str | None = ADMIN_PASSWORD

    @property
    def cache_file(self) -> Path:
        return self.home / "overspill" / "admin-tokens.json"

    def run(self, *args: str, input: str | None = None, url: str | None = None) -> Result:  # noqa: A002
        env = {"XDG_CACHE_HOME": str(self.home), "OVERSPILL_ADMIN_URL": url or self.deployment.url,
               "OVERSPILL_ADMIN_USERNAME": self.username, "OVERSPILL_ADMIN_PASSWORD": self.password}
        result = CliRunner().invoke(main, ["admin", *args], env=env, input=input)
        self.assert_no_secret_in(result.output)
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:  # noqa: A002
        result = self.run(*args, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    def cached(self) -> dict[str, Any]:
        entries = orjson.loads(self.cache_file.read_bytes())["entries"]
        return entries[f"{self.deployment.url} {self.username}"]

    def edit_cache(self, **changes: Any) -> None:
        document = orjson.loads(self.cache_file.read_bytes())
        document["entries"][f"{self.deployment.url} {self.username}"].update(changes)
        self.cache_file.write_bytes(orjson.dumps(document))

    def assert_no_secret_in(self, output: str) -> None:
        if self.password:
            assert self.password not in output
        if self.cache_file.exists():
            for entry in orjson.loads(self.cache_file.read_bytes())["entries"].values():
                for name in ("access_token", "refresh_token"):
                    # The whole token, or its last part (a JWT's signature; the header is the same for all).
                    assert entry[name] not in output and entry[name][-24:] not in output, f"the {name} was printed"


@pytest.fixture
def admin(deployment: Deployment, tmp_path: Path) -> Admin:
    return Admin(deployment, tmp_path / "cache")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- signing in -------------------------------------------------------------------------------------------

def test_whoami_signs_in_once_and_keeps_the_tokens_private(admin: Admin, deployment: Deployment):
    before = len(deployment.sign_ins())
    first = admin.ok("whoami")
    assert first.stdout.strip() == f"admin at {deployment.url}: role admin (groups: admins)"
    assert deployment.sign_ins()[before:] == ["USER_PASSWORD_AUTH"]

    assert stat.S_IMODE(admin.cache_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(admin.cache_file.parent.stat().st_mode) & 0o077 == 0
    cached = admin.cached()
    assert cached["access_token"] and cached["refresh_token"]
    assert ADMIN_PASSWORD not in admin.cache_file.read_text()

    written = admin.cache_file.stat().st_mtime_ns
    admin.password = None  # the second run must not need it
    second = admin.ok("whoami")
    assert second.stdout == first.stdout
    assert deployment.sign_ins()[before:] == ["USER_PASSWORD_AUTH"]   # no new sign-in, not even a refresh
    assert admin.cache_file.stat().st_mtime_ns == written


def test_an_access_token_about_to_expire_is_refreshed_without_the_password(admin: Admin, deployment: Deployment):
    admin.ok("whoami")
    signed_in = admin.cached()
    admin.edit_cache(expires_at=time.time() + 30)  # within the 60 s margin
    before = len(deployment.sign_ins())

    admin.password = None
    assert "role admin" in admin.ok("whoami", input="").stdout

    assert deployment.sign_ins()[before:] == ["REFRESH_TOKEN_AUTH"]
    refreshed = admin.cached()
    assert refreshed["access_token"] != signed_in["access_token"]
    assert refreshed["refresh_token"] == signed_in["refresh_token"]
    assert refreshed["expires_at"] > time.time() + 3000


def test_a_refresh_token_cognito_refuses_signs_in_again_with_the_password(admin: Admin, deployment: Deployment):
    admin.ok("whoami")
    admin.edit_cache(expires_at=time.time() - 10, refresh_token="not-a-refresh-token")
    before = len(deployment.sign_ins())

    assert "role admin" in admin.ok("whoami").stdout
    assert deployment.sign_ins()[before:] == ["REFRESH_TOKEN_AUTH", "USER_PASSWORD_AUTH"]
    assert admin.cached()["refresh_token"] != "not-a-refresh-token"


def test_a_cached_token_the_api_refuses_is_replaced_by_one_new_sign_in(admin: Admin, deployment: Deployment):
    admin.ok("whoami")
    admin.edit_cache(access_token="eyJhbGciOiJSUzI1NiJ9.e30.c2ln")  # still "fresh", but not a token of the pool
    before = len(deployment.sign_ins())

    assert "role admin" in admin.ok("whoami").stdout
    assert deployment.sign_ins()[before:] == ["USER_PASSWORD_AUTH"]


def test_a_sign_in_the_api_does_not_accept_is_reported_as_such(admin: Admin, deployment: Deployment):
    # config.json naming an app client the API does not trust: Cognito signs in, the API says 401.
    other_client = create_app_client(deployment.settings, deployment.pool.pool_id, name="not-the-dashboard")
    trusted = deployment.config["cognito"]["clientId"]
    deployment.config["cognito"]["clientId"] = other_client
    try:
        before = len(deployment.sign_ins())
        result = admin.run("whoami")
    finally:
        deployment.config["cognito"]["clientId"] = trusted
    assert result.exit_code == 1
    assert "signed in as admin but not accepted by the admin API" in result.stderr
    assert deployment.sign_ins()[before:] == ["USER_PASSWORD_AUTH"]  # a second sign-in would change nothing


def test_a_wrong_password_is_refused_with_cognitos_reason(admin: Admin):
    admin.password = "Not-the-Passw0rd!"
    result = admin.run("whoami")
    assert result.exit_code == 1
    assert "sign-in refused: Incorrect username or password." in result.stderr
    assert "Traceback" not in result.output
    assert not admin.cache_file.exists()


def test_without_a_password_and_no_terminal_it_says_how_to_give_one(admin: Admin):
    admin.password = None
    result = admin.run("whoami", input="")
    assert result.exit_code == 1
    assert "set OVERSPILL_ADMIN_PASSWORD" in result.stderr


def test_an_unreachable_url_is_named(admin: Admin):
    url = f"http://127.0.0.1:{_closed_port()}"
    result = admin.run("whoami", url=url)
    assert result.exit_code == 1
    assert f"cannot reach {url}" in result.stderr
    assert "Traceback" not in result.output


def test_a_url_that_is_not_overspill_is_told_apart(admin: Admin, deployment: Deployment):
    moto_url = deployment.settings.aws_endpoint_url
    assert moto_url is not None
    result = admin.run("whoami", url=moto_url)
    assert result.exit_code == 1
    assert f"{moto_url}/config.json" in result.stderr and "Overspill URL" in result.stderr


def test_a_temporary_password_is_replaced_at_the_first_sign_in(admin: Admin, deployment: Deployment,
                                                               tmp_path: Path):
    cognito: Any = client("cognito-idp", deployment.settings)
    cognito.admin_create_user(UserPoolId=deployment.pool.pool_id, Username="newbie",
                              TemporaryPassword="Temp-Passw0rd-1", MessageAction="SUPPRESS")
    cognito.admin_add_user_to_group(UserPoolId=deployment.pool.pool_id, Username="newbie", GroupName=ADMIN_GROUP)
    admin.username, admin.password = "newbie", "Temp-Passw0rd-1"

    # A weak one first: Cognito's policy refuses it and the CLI asks again.
    result = admin.ok("whoami", input="weak\nweak\nN3w-Passw0rd-2!\nN3w-Passw0rd-2!\n")
    assert "newbie at" in result.stdout and "role admin" in result.stdout
    assert "Cognito refused that password" in result.stderr
    assert "N3w-Passw0rd-2!" not in result.output

    again = Admin(deployment, tmp_path / "elsewhere", username="newbie", password="N3w-Passw0rd-2!")
    assert "role admin" in again.ok("whoami").stdout


def test_logout_forgets_the_sign_in(admin: Admin, deployment: Deployment):
    admin.ok("whoami")
    assert admin.ok("logout").stdout.strip() == f"Signed out of {deployment.url} as admin."
    assert orjson.loads(admin.cache_file.read_bytes())["entries"] == {}
    assert stat.S_IMODE(admin.cache_file.stat().st_mode) == 0o600

    admin.password = None
    result = admin.run("whoami", input="")
    assert result.exit_code == 1 and "needs a password" in result.stderr
    assert "No cached sign-in" in admin.ok("logout").stdout


def test_sign_ins_are_kept_per_url_and_user(admin: Admin, deployment: Deployment):
    admin.ok("whoami")
    finance = Admin(deployment, admin.home, username="fin", password=FINANCE_PASSWORD)
    assert finance.ok("whoami").stdout.strip() == f"fin at {deployment.url}: role finance (groups: finance)"
    admin.password = finance.password = None
    assert "role admin" in admin.ok("whoami").stdout
    assert "role finance" in finance.ok("whoami").stdout


# --- what the API says ------------------------------------------------------------------------------------

def test_finance_is_told_the_audit_log_is_not_theirs(deployment: Deployment, tmp_path: Path):
    finance = Admin(deployment, tmp_path, username="fin", password=FINANCE_PASSWORD)
    result = finance.run("audit", "list")
    assert result.exit_code == 1
    assert "(HTTP 403)" in result.stderr
    assert result.stdout == ""


def _record(deployment: Deployment, action: str, target_type: str, target_id: str, **after: Any) -> None:
    actor = Actor(Principal("alice", "sub-alice", ("admins",), Role.ADMIN), "req-1")
    deployment.services.audit.record(actor, action, target_type, target_id, after=after or None)


def test_audit_list_shows_who_changed_what_newest_first(admin: Admin, deployment: Deployment):
    _record(deployment, "user.create", "user", "usr_audit1", name="Ada")
    _record(deployment, "key.issue", "key", "key_audit1")

    lines = admin.ok("audit", "list", "--limit", "200").stdout.splitlines()
    assert lines[0].split() == ["AT", "ACTOR", "ACTION", "TARGET"]
    rows = [line.split() for line in lines[1:]]
    mine = [row for row in rows if row[-1] in ("user:usr_audit1", "key:key_audit1")]
    # AT is "YYYY-MM-DD HH:MM UTC": three words before the actor
    assert [(row[3], row[4], row[5], row[2]) for row in mine] == [
        ("alice", "key.issue", "key:key_audit1", "UTC"), ("alice", "user.create", "user:usr_audit1", "UTC")]

    filtered = admin.ok("audit", "list", "--target-type", "user", "--target-id", "usr_audit1", "--json")
    answer = json.loads(filtered.stdout)
    assert [(e["action"], e["target_id"], e["after"]) for e in answer["items"]] == [
        ("user.create", "usr_audit1", {"name": "Ada"})]
    assert answer["next_cursor"] is None


def test_audit_list_follows_every_page_with_all(admin: Admin, deployment: Deployment):
    for n in range(3):
        _record(deployment, "user.update", "user", "usr_paged", n=n)
    first = admin.run("audit", "list", "--target-id", "usr_paged", "--limit", "2")
    assert first.exit_code == 0 and len(first.stdout.splitlines()) == 1 + 2
    assert "--all" in first.stderr
    every = json.loads(admin.ok("audit", "list", "--target-id", "usr_paged", "--limit", "2", "--all",
                                "--json").stdout)
    assert [e["after"]["n"] for e in every["items"]] == [2, 1, 0]


def test_a_refused_request_prints_the_apis_message_and_the_field(admin: Admin):
    result = admin.run("usage", "overview", "--from", "2026-03-10", "--to", "2026-03-01")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: the range ends (2026-03-01) before it starts (2026-03-10) (HTTP 422)",
        "  to: the range ends (2026-03-01) before it starts (2026-03-10)",
    ]
    assert result.stdout == ""


# --- users and keys ---------------------------------------------------------------------------------------

def test_users_list_shows_a_table_and_the_apis_json(admin: Admin):
    created = json.loads(admin.ok("users", "create", "Grace Hopper", "--email", "grace@example.com", "--team",
                                  "compilers", "--budget", "1234.5", "--json").stdout)
    admin.ok("users", "create", "Tiny Budget", "--team", "compilers", "--budget", "0.000123")

    table = admin.ok("users", "list", "--team", "compilers").stdout.splitlines()
    assert table[0].split() == ["USER", "ID", "NAME", "TEAM", "STATUS", "ROUTING", "BUDGET", "USD", "EMAIL"]
    grace = next(line for line in table if "Grace Hopper" in line)
    assert created["user_id"] in grace and "1,234.50" in grace and "plan_first" in grace
    assert "0.000123" in next(line for line in table if "Tiny Budget" in line)

    answer = json.loads(admin.ok("users", "list", "--team", "compilers", "--json").stdout)
    assert {u["name"] for u in answer["items"]} == {"Grace Hopper", "Tiny Budget"}
    assert next(u for u in answer["items"] if u["name"] == "Grace Hopper") == created


def test_users_update_sends_only_the_changes_with_the_version_read(admin: Admin):
    user = json.loads(admin.ok("users", "create", "Linus", "--team", "kernel", "--json").stdout)
    changed = json.loads(admin.ok("users", "update", user["user_id"], "--routing-mode", "bedrock_only",
                                  "--budget", "50", "--json").stdout)
    assert (changed["routing_mode"], changed["budget_usd"], changed["team"]) == ("bedrock_only", "50", "kernel")
    assert changed["version"] > user["version"]
    cleared = json.loads(admin.ok("users", "update", user["user_id"], "--budget", "none", "--json").stdout)
    assert cleared["budget_usd"] is None

    refused = admin.run("users", "update", user["user_id"], "--email", "not an email")
    assert refused.exit_code == 1 and "email" in refused.stderr


def test_a_team_budget_is_set_and_listed(admin: Admin):
    team = f"compilers-{uuid.uuid4().hex[:6]}"  # the module's deployment is shared: a team of this test's own
    admin.ok("users", "create", "Grace", "--team", team)
    set_ = json.loads(admin.ok("teams", "set", team, "--budget", "750", "--cost-center", "CC-9",
                               "--json").stdout)
    assert (set_["budget_usd"], set_["cost_center"], set_["members"]) == ("750", "CC-9", 1)
    again = json.loads(admin.ok("teams", "set", team, "--budget", "none", "--json").stdout)
    assert (again["budget_usd"], again["cost_center"]) == (None, "CC-9")  # what was not given stays
    listed = admin.ok("teams", "list").stdout
    assert team in listed and "CC-9" in listed


def test_a_key_is_shown_once_with_the_line_to_paste(admin: Admin):
    user = json.loads(admin.ok("users", "create", "Margaret", "--json").stdout)
    issued = admin.ok("keys", "issue", user["user_id"])
    lines = issued.stdout.splitlines()
    assert lines[2] == "For Claude Code, paste into the developer's shell:"
    export_line = lines[3].strip()
    key = lines[1].strip()
    assert export_line == f"export ANTHROPIC_BASE_URL=http://127.0.0.1:8787/ak/{key}"
    assert "will not be shown again" in issued.stderr

    listed = admin.ok("keys", "list", user["user_id"]).stdout
    assert key not in listed and "active" in listed


def test_deleting_a_user_asks_first(admin: Admin):
    user = json.loads(admin.ok("users", "create", "Temporary", "--json").stdout)
    declined = admin.run("users", "delete", user["user_id"], input="n\n")
    assert declined.exit_code == 1
    assert json.loads(admin.ok("users", "show", user["user_id"], "--json").stdout)["status"] == "active"
    admin.ok("users", "delete", user["user_id"], "--yes")
    assert json.loads(admin.ok("users", "show", user["user_id"], "--json").stdout)["status"] == "deleted"



def test_bedrock_secrets_are_read_from_stdin_and_never_shown(admin: Admin):
    user = json.loads(admin.ok("users", "create", "Barbara", "--json").stdout)
    secret = "ABSK-bedrock-api-key-0123456789"
    stored = admin.ok("credentials", "set", user["user_id"], "--api-key-stdin", "--region", "us-west-2",
                      input=secret + "\n")
    shown = admin.ok("credentials", "show", user["user_id"])
    assert "kind:    api_key" in shown.stdout and "region:  us-west-2" in shown.stdout
    for output in (stored.output, shown.output):
        assert secret not in output and "0123456789" not in output

    empty = admin.run("credentials", "set", user["user_id"], "--api-key-stdin", input="\n")
    assert empty.exit_code == 2 and "expected 1 non-empty line(s) on stdin" in empty.stderr

    admin.ok("credentials", "delete", user["user_id"])
    gone = admin.run("credentials", "show", user["user_id"])
    assert gone.exit_code == 1 and "(HTTP 404)" in gone.stderr


def test_price_overrides_are_replaced_from_a_file(admin: Admin, tmp_path: Path):
    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps({"models": {"claude-opus-4-8": {"input": "4.5", "output": "22.5"}}}))
    saved = admin.ok("pricing", "set-overrides", str(overrides)).stdout
    assert "Saved the price overrides (version 1" in saved
    opus = next(line for line in saved.splitlines() if line.startswith("claude-opus-4-8 "))
    assert opus.split()[1:3] == ["4.50", "22.50"] and opus.split()[-1] == "yes"

    # The `pricing show --json` output, edited, is accepted too; its version guards against lost updates.
    shown = json.loads(admin.ok("pricing", "show", "--json").stdout)
    shown["overrides"]["models"] = {}
    stale = dict(shown, version=shown["version"] - 1)
    overrides.write_text(json.dumps(stale))
    refused = admin.run("pricing", "set-overrides", str(overrides))
    assert refused.exit_code == 1 and "(HTTP 409)" in refused.stderr
    overrides.write_text(json.dumps(shown))
    assert "version 2" in admin.ok("pricing", "set-overrides", str(overrides)).stdout


def test_model_mappings_are_replaced_from_a_file(admin: Admin, tmp_path: Path):
    mappings = tmp_path / "models.json"
    mappings.write_text(json.dumps({"claude-opus-9": "us.anthropic.claude-opus-9-v1:0"}))
    saved = admin.ok("models", "set", str(mappings)).stdout
    line = next(line for line in saved.splitlines() if line.startswith("claude-opus-9 "))
    assert line.split()[1:3] == ["us.anthropic.claude-opus-9-v1:0", "admin"]


def test_an_export_is_run_and_downloaded_through_its_link(admin: Admin, tmp_path: Path):
    ran = admin.ok("exports", "run", "--kind", "daily", "--from", "2026-02-01", "--to", "2026-02-01").stdout
    assert ran.startswith("Exported 2026-02-01 … 2026-02-01 (UTC): 1 file(s)")
    target = tmp_path / "feb1.csv"
    wrote = admin.ok("exports", "download", "daily", "2026-02-01", "--out", str(target)).stdout
    assert wrote.strip() == f"Wrote {target} ({target.stat().st_size:,} bytes)."
    assert target.read_text().startswith("date,user_id,user_name,team")

    missing = admin.run("exports", "download", "daily", "2025-01-01", "--out", str(tmp_path / "none.csv"))
    assert missing.exit_code == 1 and "(HTTP 404)" in missing.stderr and not (tmp_path / "none.csv").exists()


def test_the_admin_apis_own_url_is_enough_to_sign_in(admin: Admin, deployment: Deployment):
    # A deployment whose dashboard is not up yet: no /config.json, only the admin function's Function URL.
    bare = FunctionUrlServer(("127.0.0.1", 0), AdminApi(deployment.services).handle, function_name="overspill-admin")
    bare.serve_in_background()
    try:
        result = admin.run("--json", "whoami", url=bare.url)
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout)["role"] == "admin"
    finally:
        bare.shutdown()
        bare.server_close()
