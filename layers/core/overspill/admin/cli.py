"""``overspill admin``: the admin API from a terminal (users, keys, Bedrock credentials, breakers, usage,
exports, pricing, model mappings, the audit log), signed in with the same Cognito account as the dashboard.

Tables by default (money with 2–6 decimals, times in UTC); ``--json`` prints the API's answer as it came.
Errors go to stderr with exit code 1. Secrets (Bedrock keys, passwords) are read from stdin or a hidden prompt,
never from the command line, where other users of the machine and the shell history would see them."""

from __future__ import annotations

import calendar
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import click
import orjson

from overspill.admin.client import (
    AdminClient,
    AdminClientError,
    TokenCache,
    default_cache_path,
    normalise_url,
    revoke_quietly,
)

PASSWORD_ENV = "OVERSPILL_ADMIN_PASSWORD"  # noqa: S105  # nosec B105  # the variable's name, not a password
ROUTING_MODES = ("plan_first", "bedrock_only", "plan_only")
USER_STATUSES = ("active", "inactive", "deleted")


# --- the session: who signs in where, and how answers are shown -------------------------------------------

class Session:
    def __init__(self, url: str | None, username: str, as_json: bool) -> None:
        self.raw_url, self.username, self.as_json = url, username, as_json
        self.cache = TokenCache(default_cache_path(os.environ))
        self._client: AdminClient | None = None

    @property
    def url(self) -> str:
        if not self.raw_url:
            raise click.UsageError("say which Overspill to manage: --url or OVERSPILL_ADMIN_URL (the dashboard's "
                                   "URL; http://127.0.0.1:8787 for `overspill dev`)")
        return normalise_url(self.raw_url)

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            self._client = AdminClient(self.url, self.username, cache=self.cache, password=self._password,
                                       new_password=self._new_password, on_refused_password=self._refused)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _password(self) -> str:
        if os.environ.get(PASSWORD_ENV):
            return os.environ[PASSWORD_ENV]
        try:
            return ask_secret(f"Password for {self.username} at {self.url}")
        except click.Abort:
            raise AdminClientError(f"signing in as {self.username} needs a password: set {PASSWORD_ENV} or run "
                                   "this in a terminal") from None

    def _new_password(self) -> str:
        click.echo(f"{self.username} has a temporary password: choose a permanent one (at least 12 characters "
                   "with upper- and lower-case letters, a digit and a symbol).", err=True)
        try:
            return ask_secret("New password", confirm="Repeat the new password")
        except click.Abort:
            raise AdminClientError(f"{self.username} must choose a new password: run this in a terminal") from None

    @staticmethod
    def _refused(reason: str) -> None:
        click.echo(f"Cognito refused that password: {reason}", err=True)

    # -- output

    def show(self, answer: Any, render: Callable[[Any], None]) -> None:
        if self.as_json:
            click.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        else:
            render(answer)


class AdminGroup(click.Group):
    """Turns the client's errors into click's (message on stderr, exit code 1) for every subcommand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AdminClientError as error:
            raise click.ClickException(str(error)) from None


def _session() -> Session:
    return click.get_current_context().find_object(Session)


def _json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Session).as_json = True


def ask_secret(prompt: str, *, confirm: str | None = None) -> str:
    """A secret typed at a hidden prompt, or one line of a pipe (a script; getpass would warn that it cannot
    hide the input). ``click.Abort`` when there is nothing to read."""
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm or False, err=True)
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise click.Abort
    if confirm and sys.stdin.readline().rstrip("\r\n") != value:
        raise AdminClientError(f"{prompt}: the two entries differ")
    return value


json_option = click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_json_flag,
                           help="Print the API's JSON as is.")


@click.group("admin", cls=AdminGroup)
@click.option("--url", envvar="OVERSPILL_ADMIN_URL", metavar="URL",
              help="The Overspill URL (the dashboard's; http://127.0.0.1:8787 for `overspill dev`) "
                   "[OVERSPILL_ADMIN_URL].")
@click.option("--username", envvar="OVERSPILL_ADMIN_USERNAME", default="admin", show_default=True,
              help="Cognito user to sign in as [OVERSPILL_ADMIN_USERNAME]; the password comes from "
                   "OVERSPILL_ADMIN_PASSWORD or a prompt.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON as is.")
@click.pass_context
def admin_command(ctx: click.Context, url: str | None, username: str, as_json: bool) -> None:
    """Manage Overspill through its admin API (signed in with Cognito; tokens cached privately)."""
    ctx.obj = Session(url, username, as_json)
    ctx.call_on_close(ctx.obj.close)


# --- formatting -------------------------------------------------------------------------------------------

_MONEY_STEP = Decimal("0.000001")


def money(value: Any) -> str:
    """USD with at least 2 and at most 6 decimals: 12.50, 0.000123, 1234.5678."""
    if value is None or value == "":
        return "-"
    try:
        amount = Decimal(str(value)).quantize(_MONEY_STEP, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return str(value)
    whole, _, decimals = f"{amount:,f}".partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"{whole}.{decimals}"


def when(value: Any) -> str:
    """An API time as ``YYYY-MM-DD HH:MM UTC`` (the API may answer in any offset)."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def percent(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f}%"


def text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    cell: Callable[[dict[str, Any]], str]
    right: bool = False   # numbers and money line up on the right


def field(name: str, show: Callable[[Any], str] = text, header: str | None = None, *, right: bool = False
          ) -> Column:
    return Column(header or name.upper().replace("_", " "), lambda row: show(row.get(name)), right)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    cells = [[c.header for c in columns]] + [[_one_line(c.cell(row)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = []
    for line in cells:
        parts = [v.rjust(w) if c.right else v.ljust(w) for v, w, c in zip(line, widths, columns, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def details(pairs: Iterable[tuple[str, str]]) -> str:
    pairs = list(pairs)
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{label + ':':<{width + 1}} {_one_line(value)}" for label, value in pairs)


def _one_line(value: str) -> str:
    # Names come from other admins: a line break or an escape sequence in one must not garble the table.
    return "".join(ch if ch.isprintable() else "?" for ch in value)


def echo_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], *, empty: str) -> None:
    click.echo(table(rows, columns) if rows else empty)


# --- users ------------------------------------------------------------------------------------------------

USER_COLUMNS = [
    field("user_id", header="USER ID"), field("name"), field("team"), field("status"),
    field("routing_mode", header="ROUTING"), field("budget_usd", money, "BUDGET USD", right=True), field("email"),
]


def user_details(user: dict[str, Any]) -> str:
    return details([
        ("user", text(user.get("user_id"))), ("name", text(user.get("name"))), ("email", text(user.get("email"))),
        ("team", text(user.get("team"))), ("cost centre", text(user.get("cost_center"))),
        ("routing", text(user.get("routing_mode"))), ("status", text(user.get("status"))),
        ("monthly budget", f"{money(user.get('budget_usd'))} USD" if user.get("budget_usd") is not None else "none"),
        ("created", when(user.get("created_at"))), ("updated", when(user.get("updated_at"))),
        ("version", text(user.get("version"))),
    ])


def _path(*parts: str) -> str:
    # Ids come from the command line: quoted, so that "../" or "?" cannot reach another endpoint.
    return "".join("/" + quote(part, safe="") for part in parts)


@admin_command.group("users", cls=AdminGroup)
def users() -> None:
    """Developers whose requests Overspill routes."""


@users.command("list")
@click.option("--search", help="Part of a name or email.")
@click.option("--team")
@click.option("--status", type=click.Choice(USER_STATUSES))
@click.option("--routing-mode", type=click.Choice(ROUTING_MODES))
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True, help="Users per page.")
@click.option("--all", "follow", is_flag=True, help="Every page, not just the first.")
@json_option
def users_list(search: str | None, team: str | None, status: str | None, routing_mode: str | None, limit: int,
               follow: bool) -> None:
    """List users."""
    session = _session()
    params = {"search": search, "team": team, "status": status, "routing_mode": routing_mode, "limit": limit}
    items, next_cursor = _collect(session.client.pages("/users", params, follow=follow))

    def render(_: Any) -> None:
        echo_table(items, USER_COLUMNS, empty="No users match.")
        _more(next_cursor)

    session.show({"items": items, "next_cursor": next_cursor}, render)


def _collect(pages: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    items: list[dict[str, Any]] = []
    next_cursor = None
    for page in pages:
        items.extend(page.get("items") or [])
        next_cursor = page.get("next_cursor")
    return items, next_cursor


def _more(next_cursor: str | None) -> None:
    if next_cursor:
        click.echo("(more: --all lists every page)", err=True)


def _user_fields(name: str | None, email: str | None, team: str | None, cost_center: str | None,
                 routing_mode: str | None, budget: str | None) -> dict[str, Any]:
    # Only what was given; an empty value (or "none" for the budget) clears the field.
    given = {"name": name, "email": email, "team": team, "cost_center": cost_center, "routing_mode": routing_mode}
    body: dict[str, Any] = {k: (v if v != "" else None) for k, v in given.items() if v is not None}
    if budget is not None:
        body["budget_usd"] = None if budget.strip().lower() in ("", "none") else budget.strip()
    return body


def user_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--email"),
        click.option("--team"),
        click.option("--cost-center"),
        click.option("--routing-mode", type=click.Choice(ROUTING_MODES)),
        click.option("--budget", metavar="USD", help="Monthly budget in USD; 'none' for no budget."),
    ]):
        func = option(func)
    return func


@users.command("create")
@click.argument("name")
@user_options
@json_option
def users_create(name: str, email: str | None, team: str | None, cost_center: str | None, routing_mode: str | None,
                 budget: str | None) -> None:
    """Create a user named NAME."""
    session = _session()
    body = _user_fields(name, email, team, cost_center, routing_mode, budget)
    user = session.client.request("POST", "/users", json=body, idempotent_create=True).json()
    session.show(user, lambda u: click.echo(f"Created {u.get('user_id')}.\n{user_details(u)}"))


@users.command("show")
@click.argument("user_id")
@json_option
def users_show(user_id: str) -> None:
    """Show a user."""
    session = _session()
    session.show(session.client.get(_path("users", user_id)), lambda u: click.echo(user_details(u)))


@users.command("update")
@click.argument("user_id")
@click.option("--name")
@user_options
@json_option
def users_update(user_id: str, name: str | None, email: str | None, team: str | None, cost_center: str | None,
                 routing_mode: str | None, budget: str | None) -> None:
    """Change a user (only the fields given; an empty value clears one)."""
    changes = _user_fields(name, email, team, cost_center, routing_mode, budget)
    if not changes:
        raise click.UsageError("nothing to change: give at least one of --name, --email, --team, --cost-center, "
                               "--routing-mode, --budget")
    session = _session()
    # The version read here makes the change refuse (409) if someone else changed the user in between.
    current = session.client.get(_path("users", user_id))
    user = session.client.request("PATCH", _path("users", user_id),
                                  json={"version": current.get("version"), **changes}).json()
    session.show(user, lambda u: click.echo(f"Updated {u.get('user_id')}.\n{user_details(u)}"))


def _set_active(user_id: str, verb: str) -> None:
    session = _session()
    user = session.client.request("POST", _path("users", user_id, verb)).json()
    session.show(user, lambda u: click.echo(f"{u.get('user_id')} is now {u.get('status')}."))


@users.command("deactivate")
@click.argument("user_id")
@json_option
def users_deactivate(user_id: str) -> None:
    """Deactivate a user: their keys stop working."""
    _set_active(user_id, "deactivate")


@users.command("reactivate")
@click.argument("user_id")
@json_option
def users_reactivate(user_id: str) -> None:
    """Reactivate a user."""
    _set_active(user_id, "reactivate")


@users.command("delete")
@click.argument("user_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def users_delete(user_id: str, yes: bool) -> None:
    """Delete a user (kept for usage history; every key revoked)."""
    session = _session()
    if not yes:
        current = session.client.get(_path("users", user_id))
        click.confirm(f"Delete {user_id} ({current.get('name')}) and revoke every key of theirs?", abort=True,
                      err=True)
    user = session.client.request("DELETE", _path("users", user_id)).json()
    session.show(user, lambda u: click.echo(f"Deleted {u.get('user_id')}; their keys are revoked."))


# --- access keys ------------------------------------------------------------------------------------------

KEY_COLUMNS = [
    field("key_id", header="KEY ID"), field("prefix"), field("status"), field("created_at", when, "CREATED"),
    field("last_used_at", when, "LAST USED"), field("expires_at", when, "EXPIRES"),
    field("revoked_at", when, "REVOKED"),
]


@admin_command.group("keys", cls=AdminGroup)
def keys() -> None:
    """Users' access keys (ANTHROPIC_BASE_URL for Claude Code)."""


@keys.command("list")
@click.argument("user_id")
@json_option
def keys_list(user_id: str) -> None:
    """List a user's keys (never the keys themselves)."""
    session = _session()
    answer = session.client.get(_path("users", user_id, "keys"))
    session.show(answer, lambda a: echo_table(a.get("items") or [], KEY_COLUMNS, empty=f"{user_id} has no keys."))


def _print_issued(issued: dict[str, Any]) -> None:
    if not issued.get("key"):
        click.echo(f"Key {issued.get('key_id')} was issued by an earlier run of this request and cannot be shown "
                   "again: revoke it and issue another if it was not received.")
        return
    click.echo(f"Key {issued.get('key_id')} ({issued.get('prefix')}) for {issued.get('user_id')}:")
    click.echo(f"  {issued['key']}")
    if issued.get("expires_at"):
        click.echo(f"Expires {when(issued['expires_at'])}.")
    if issued.get("export_line"):
        click.echo("For Claude Code, paste into the developer's shell:")
        click.echo(f"  {issued['export_line']}")
    previous = issued.get("previous")
    if previous:
        click.echo(f"The previous key {previous.get('key_id')} ({previous.get('prefix')}) keeps working until "
                   f"{when(previous.get('expires_at'))}.")
    click.echo("This key will not be shown again: copy it now.", err=True)


@keys.command("issue")
@click.argument("user_id")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Expire the key after N days [never].")
@json_option
def keys_issue(user_id: str, expires_in_days: int | None) -> None:
    """Issue a key; it is shown once, with the ANTHROPIC_BASE_URL line to paste."""
    session = _session()
    body = {"expires_in_days": expires_in_days} if expires_in_days else {}
    issued = session.client.request("POST", _path("users", user_id, "keys"), json=body,
                                    idempotent_create=True).json()
    session.show(issued, _print_issued)


@keys.command("revoke")
@click.argument("user_id")
@click.argument("key_id")
@json_option
def keys_revoke(user_id: str, key_id: str) -> None:
    """Revoke a key now."""
    session = _session()
    key = session.client.request("POST", _path("users", user_id, "keys", key_id, "revoke")).json()
    session.show(key, lambda k: click.echo(f"Revoked {k.get('key_id')} ({k.get('prefix')}) of {user_id}."))


@keys.command("rotate")
@click.argument("user_id")
@click.argument("key_id")
@click.option("--grace-hours", type=click.FloatRange(min=0), help="How long the old key keeps working "
              "[the deployment's default].")
@json_option
def keys_rotate(user_id: str, key_id: str, grace_hours: float | None) -> None:
    """Issue a replacement key; the old one keeps working for a grace period."""
    session = _session()
    body = {"grace_seconds": round(grace_hours * 3600)} if grace_hours is not None else {}
    issued = session.client.request("POST", _path("users", user_id, "keys", key_id, "rotate"), json=body,
                                    idempotent_create=True).json()
    session.show(issued, _print_issued)


# --- Bedrock credentials ----------------------------------------------------------------------------------

def _credentials_path(user_id: str, *more: str) -> str:
    return _path("users", user_id, "bedrock-credentials", *more)


@admin_command.group("credentials", cls=AdminGroup)
def credentials() -> None:
    """A user's own Bedrock credentials for the fallback."""


@credentials.command("show")
@click.argument("user_id")
@json_option
def credentials_show(user_id: str) -> None:
    """Show a user's Bedrock credentials, masked."""
    session = _session()
    answer = session.client.get(_credentials_path(user_id))
    session.show(answer, lambda c: click.echo(details([
        ("user", text(c.get("user_id"))), ("kind", text(c.get("kind"))), ("secret", text(c.get("hint"))),
        ("region", text(c.get("region"))), ("updated", when(c.get("updated_at"))),
    ])))


def _secret_lines(count: int) -> list[str]:
    lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    if len(lines) < count:
        raise click.UsageError(f"expected {count} non-empty line(s) on stdin, got {len(lines)}")
    return lines[:count]


def _hidden(prompt: str) -> str:
    try:
        value = ask_secret(prompt).strip()
    except click.Abort:
        raise click.UsageError(f"no {prompt} given: type it at the prompt or pipe it in with --…-stdin") from None
    if not value:
        raise click.UsageError(f"no {prompt} given")
    return value


@credentials.command("set")
@click.argument("user_id")
@click.option("--api-key-stdin", is_flag=True, help="Read a Bedrock API key from stdin.")
@click.option("--access-key-id", help="An IAM access key id (its secret from stdin or a prompt).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret access key from stdin (first line).")
@click.option("--session-token-stdin", is_flag=True,
              help="Read a session token from stdin too (the line after the secret).")
@click.option("--region", help="Bedrock region for this user [the deployment's].")
@json_option
def credentials_set(user_id: str, api_key_stdin: bool, access_key_id: str | None, secret_stdin: bool,
                    session_token_stdin: bool, region: str | None) -> None:
    """Set a user's Bedrock credentials: a Bedrock API key, or an IAM access key pair.

    Without --api-key-stdin or --secret-stdin the secret is asked for without echoing it."""
    if access_key_id is None and (secret_stdin or session_token_stdin):
        raise click.UsageError("--secret-stdin and --session-token-stdin go with --access-key-id")
    if access_key_id is not None and api_key_stdin:
        raise click.UsageError("give either --api-key-stdin (a Bedrock API key) or --access-key-id, not both")
    if session_token_stdin and not secret_stdin:
        raise click.UsageError("--session-token-stdin needs --secret-stdin (the secret on the first line, the "
                               "token on the second)")
    body: dict[str, Any]
    if access_key_id is None:
        api_key = _secret_lines(1)[0] if api_key_stdin else _hidden("Bedrock API key")
        body = {"kind": "api_key", "api_key": api_key}
    else:
        if secret_stdin:
            lines = _secret_lines(2 if session_token_stdin else 1)
            secret, token = lines[0], (lines[1] if session_token_stdin else None)
        else:
            secret, token = _hidden("Secret access key"), None
        body = {"kind": "access_key", "access_key_id": access_key_id, "secret_access_key": secret}
        if token:
            body["session_token"] = token
    if region:
        body["region"] = region
    session = _session()
    answer = session.client.request("PUT", _credentials_path(user_id), json=body).json()
    session.show(answer, lambda c: click.echo(f"Stored {c.get('kind')} credentials ({c.get('hint')}) for "
                                              f"{c.get('user_id')}; `credentials test {user_id}` tries them."))


@credentials.command("test")
@click.argument("user_id")
@json_option
def credentials_test(user_id: str) -> None:
    """Try the credentials the fallback would use for this user (exit code 1 if Bedrock refuses them)."""
    session = _session()
    result = session.client.request("POST", _credentials_path(user_id, "test")).json()

    def render(r: dict[str, Any]) -> None:
        verdict = "ok" if r.get("ok") else "FAILED"
        notes = [{"user": "the user's own credentials", "role": "the gateway's role"}.get(r.get("credentials"),
                                                                                         "credentials")]
        notes += [f"model {r['model_id']}"] if r.get("model_id") else []
        notes += [f"HTTP {r['status']}"] if r.get("status") is not None else []
        notes.append(f"{float(r.get('latency_ms') or 0):.0f} ms")
        click.echo(f"{verdict}: {r.get('message')} ({'; '.join(notes)})")

    session.show(result, render)
    if not result.get("ok"):
        raise click.exceptions.Exit(1)


@credentials.command("delete")
@click.argument("user_id")
def credentials_delete(user_id: str) -> None:
    """Delete a user's Bedrock credentials (the gateway's own role serves them again)."""
    _session().client.request("DELETE", _credentials_path(user_id))
    click.echo(f"Deleted the Bedrock credentials of {user_id}.")


# --- breakers ---------------------------------------------------------------------------------------------

def breaker_details(breaker: dict[str, Any]) -> None:
    click.echo(details([
        ("user", text(breaker.get("user_id"))), ("state", text(breaker.get("state"))),
        ("open until", when(breaker.get("open_until"))), ("reason", text(breaker.get("reason"))),
        ("plan status", text(breaker.get("last_status"))), ("trips", number(breaker.get("trips"))),
        ("changed", when(breaker.get("updated_at"))),
    ]))
    history = breaker.get("history") or []
    if history:
        click.echo("\nRecent transitions:")
        click.echo(table(history, [field("at", when), field("state"), field("reason"),
                                   field("open_until", when, "OPEN UNTIL"),
                                   field("last_status", text, "PLAN STATUS", right=True)]))


# --- teams ------------------------------------------------------------------------------------------------

TEAM_COLUMNS = [
    field("team"), field("members", number, right=True),
    Column("BUDGET USD", lambda r: money(r.get("budget_usd")) if r.get("budget_usd") is not None else "-", right=True),
    field("cost_center"),
]


@admin_command.group("teams", cls=AdminGroup)
def teams() -> None:
    """Teams: their monthly budgets and cost centres."""


@teams.command("list")
@json_option
def teams_list() -> None:
    """List teams (named by users, or with settings)."""
    session = _session()
    answer = session.client.get("/teams")
    session.show(answer, lambda a: echo_table(a.get("items") or [], TEAM_COLUMNS, empty="No teams yet."))


@teams.command("set")
@click.argument("team")
@click.option("--budget", metavar="USD", help="Monthly budget in USD for the whole team; 'none' for no budget.")
@click.option("--cost-center", help="The team's cost centre; '' to clear it.")
@json_option
def teams_set(team: str, budget: str | None, cost_center: str | None) -> None:
    """Set a team's monthly budget and cost centre (what is not given stays as it is)."""
    session = _session()
    current = next((t for t in session.client.get("/teams").get("items") or [] if t.get("team") == team), None)
    body: dict[str, Any] = {"team": team, "version": (current or {}).get("version", 0),
                            "budget_usd": (current or {}).get("budget_usd"),
                            "cost_center": (current or {}).get("cost_center")}
    if budget is not None:
        body["budget_usd"] = None if budget.strip().lower() in ("", "none") else budget.strip()
    if cost_center is not None:
        body["cost_center"] = cost_center.strip() or None
    answer = session.client.request("PUT", "/teams", json=body).json()
    session.show(answer, lambda a: echo_table([a], TEAM_COLUMNS, empty=""))


@admin_command.group("breaker", cls=AdminGroup)
def breaker() -> None:
    """A user's breaker (open: the plan is skipped and Bedrock answers)."""


@breaker.command("show")
@click.argument("user_id")
@json_option
def breaker_show(user_id: str) -> None:
    """Show a user's breaker and its recent transitions."""
    session = _session()
    session.show(session.client.get(_path("users", user_id, "breaker")), breaker_details)


@breaker.command("reset")
@click.argument("user_id")
@json_option
def breaker_reset(user_id: str) -> None:
    """Close a user's breaker now."""
    session = _session()
    answer = session.client.request("POST", _path("users", user_id, "breaker", "reset")).json()
    session.show(answer, breaker_details)


# --- usage ------------------------------------------------------------------------------------------------

def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _month(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f"{value!r} is not a month (YYYY-MM)")
    return value


def range_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--month", metavar="YYYY-MM", callback=_month, help="A whole month (UTC).")(func)
    func = click.option("--to", "last", metavar="YYYY-MM-DD", callback=_day,
                        help="Last day (UTC, included) [today].")(func)
    return click.option("--from", "first", metavar="YYYY-MM-DD", callback=_day,
                        help="First day (UTC) [29 days before --to].")(func)


def _range(first: str | None, last: str | None, month: str | None) -> dict[str, str | None]:
    if month and (first or last):
        raise click.UsageError("give --month or --from/--to, not both")
    if month:
        year, number_ = (int(part) for part in month.split("-"))
        first = date(year, number_, 1).isoformat()
        last = date(year, number_, calendar.monthrange(year, number_)[1]).isoformat()
    return {"from": first, "to": last}


TOTAL_COLUMNS = [field("requests", number, right=True), field("errors", number, right=True),
                 field("tokens", number, right=True), field("cost_usd", money, "COST USD", right=True),
                 field("unpriced_requests", number, "UNPRICED", right=True)]


def _period(answer: dict[str, Any]) -> str:
    return f"{answer.get('from')} … {answer.get('to')} (UTC)"


@admin_command.group("usage", cls=AdminGroup)
def usage() -> None:
    """Usage and cost from the rollups (admins and finance)."""


@usage.command("overview")
@range_options
@json_option
def usage_overview(first: str | None, last: str | None, month: str | None) -> None:
    """Totals for a range, split by route, with the fallback rate and each day."""
    session = _session()
    answer = session.client.get("/usage/overview", **_range(first, last, month))

    def render(a: dict[str, Any]) -> None:
        click.echo(f"Usage {_period(a)}; fallback rate {percent(a.get('fallback_rate'))}")
        by_route = a.get("by_route") or {}
        rows = [{"route": route, **(by_route.get(route) or {})} for route in ("plan", "bedrock")]
        rows.append({"route": "total", **(a.get("totals") or {})})
        click.echo(table(rows, [field("route"), *TOTAL_COLUMNS]))
        days = [d for d in a.get("series") or [] if d.get("requests")]
        click.echo()
        echo_table(days, [field("day"), field("requests", number, right=True),
                          field("bedrock_requests", number, "BEDROCK", right=True),
                          field("tokens", number, right=True), field("cost_usd", money, "COST USD", right=True)],
                   empty="No usage on any day of the range.")

    session.show(answer, render)


@usage.command("top-users")
@range_options
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--order-by", type=click.Choice(("cost", "requests", "tokens")), default="cost", show_default=True)
@json_option
def usage_top_users(first: str | None, last: str | None, month: str | None, limit: int, order_by: str) -> None:
    """The users who used the most."""
    session = _session()
    answer = session.client.get("/usage/top-users", limit=limit, order_by=order_by, **_range(first, last, month))

    def render(a: dict[str, Any]) -> None:
        click.echo(f"Top users by {a.get('order_by', order_by)}, {_period(a)}")
        echo_table(a.get("users") or [], [
            field("user_id", header="USER ID"), field("name"), field("team"), field("requests", number, right=True),
            field("tokens", number, right=True), field("cost_usd", money, "COST USD", right=True),
            field("bedrock_requests", number, "BEDROCK", right=True),
            field("bedrock_cost_usd", money, "BEDROCK USD", right=True),
            field("bedrock_share", percent, "BEDROCK SHARE", right=True),
        ], empty="No usage in the range.")

    session.show(answer, render)


@usage.command("fallback-reasons")
@range_options
@json_option
def usage_fallback_reasons(first: str | None, last: str | None, month: str | None) -> None:
    """Why Bedrock answered: requests per fallback reason."""
    session = _session()
    answer = session.client.get("/usage/fallback-reasons", **_range(first, last, month))

    def render(a: dict[str, Any]) -> None:
        click.echo(f"Fallbacks {_period(a)}: {number(a.get('requests'))} requests")
        rows = [{"reason": r.get("reason"), **(r.get("totals") or {})} for r in a.get("reasons") or []]
        echo_table(rows, [field("reason"), *TOTAL_COLUMNS], empty="No fallbacks in the range.")

    session.show(answer, render)


@usage.command("budgets")
@click.option("--month", metavar="YYYY-MM", callback=_month, help="The month (UTC) [the current one].")
@json_option
def usage_budgets(month: str | None) -> None:
    """Every user and team budget of a month, with what has been spent."""
    session = _session()
    answer = session.client.get("/usage/budgets", month=month)
    budget_columns = [field("budget_usd", money, "BUDGET USD", right=True),
                      field("spent_usd", money, "SPENT USD", right=True),
                      field("remaining_usd", money, "LEFT USD", right=True),
                      field("percent_used", lambda v: "-" if v is None else f"{float(v):.1f}%", "USED", right=True),
                      field("exhausted")]

    def render(a: dict[str, Any]) -> None:
        click.echo(f"Budgets for {a.get('month')} (counting {a.get('counts')} spend); spent "
                   f"{money(a.get('spent_usd'))} USD of a total cost of {money(a.get('cost_usd'))} USD")
        click.echo()
        echo_table(a.get("users") or [], [field("user_id", header="USER ID"), field("name"), field("team"),
                                          *budget_columns], empty="No user has a budget.")
        click.echo()
        echo_table(a.get("teams") or [], [field("team"), *budget_columns], empty="No team has a budget.")

    session.show(answer, render)


@usage.command("series")
@click.option("--group-by", type=click.Choice(("user", "team", "model", "route")), default="user",
              show_default=True)
@click.option("--from", "first", metavar="YYYY-MM-DD", callback=_day, help="First day (UTC).")
@click.option("--to", "last", metavar="YYYY-MM-DD", callback=_day, help="Last day (UTC, included).")
@click.option("--user", "user_id", help="Only this user's usage.")
@click.option("--team", help="Only usage made as a member of this team.")
@json_option
def usage_series(group_by: str, first: str | None, last: str | None, user_id: str | None, team: str | None) -> None:
    """Usage per user, team, model or route (totals per group; --json has each day)."""
    session = _session()
    answer = session.client.get("/usage/series", group_by=group_by, user_id=user_id, team=team,
                                **{"from": first, "to": last})

    def render(a: dict[str, Any]) -> None:
        click.echo(f"Usage by {a.get('group_by', group_by)}, {_period(a)}")
        rows = [{"key": g.get("key"), "name": g.get("name"), "active_days": len(g.get("points") or []),
                 **(g.get("totals") or {})} for g in a.get("groups") or []]
        columns = [field("key", header=group_by.upper())]
        if group_by == "user":
            columns.append(field("name"))
        columns += [*TOTAL_COLUMNS, field("active_days", number, "DAYS USED", right=True)]
        echo_table(rows, columns, empty="No usage in the range.")

    session.show(answer, render)


# --- exports ----------------------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    field("kind"), field("period"), field("rows", number, right=True),
    Column("REQUESTS", lambda r: number((r.get("totals") or {}).get("requests")), right=True),
    Column("COST USD", lambda r: money((r.get("totals") or {}).get("cost_usd")), right=True),
    field("complete"), field("generated_at", when, "GENERATED"), field("csv_bytes", number, "BYTES", right=True),
]


@admin_command.group("exports", cls=AdminGroup)
def exports() -> None:
    """Finance exports (CSV per day and per month)."""


@exports.command("list")
@click.option("--kind", type=click.Choice(("daily", "monthly")), default="daily", show_default=True)
@click.option("--from", "first", metavar="YYYY-MM-DD", callback=_day, help="First day (UTC).")
@click.option("--to", "last", metavar="YYYY-MM-DD", callback=_day, help="Last day (UTC, included).")
@json_option
def exports_list(kind: str, first: str | None, last: str | None) -> None:
    """List the exports in the bucket."""
    session = _session()
    answer = session.client.get("/exports", kind=kind, **{"from": first, "to": last})

    def render(a: dict[str, Any]) -> None:
        click.echo(f"{a.get('kind', kind).capitalize()} exports {_period(a)}")
        echo_table(a.get("items") or [], EXPORT_COLUMNS, empty="None in the range.")

    session.show(answer, render)


@exports.command("download")
@click.argument("kind", type=click.Choice(("daily", "monthly")))
@click.argument("period", metavar="PERIOD")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Where to write the CSV ('-': stdout) [its own file name, here].")
def exports_download(kind: str, period: str, out: Path | None) -> None:
    """Download one export's CSV (PERIOD: YYYY-MM-DD daily, YYYY-MM monthly)."""
    session = _session()
    link = session.client.get(_path("exports", kind, period, "download"))
    url = link.get("url")
    if not url:
        raise click.ClickException("the API answered without a download link")
    content = session.client.download(url).content
    if out is not None and str(out) == "-":
        click.get_binary_stream("stdout").write(content)
        return
    target = out or Path(_file_name(link, url, kind, period))
    target.write_bytes(content)
    click.echo(f"Wrote {target} ({len(content):,} bytes).")


def _file_name(link: dict[str, Any], url: str, kind: str, period: str) -> str:
    # The API's name, else the object's; never a path of the server's choosing.
    name = str(link.get("filename") or unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "")
    name = os.path.basename(name.replace("\\", "/"))
    return name if name not in ("", ".", "..") else f"overspill-{kind}-{period}.csv"


@exports.command("run")
@click.option("--kind", type=click.Choice(("daily", "monthly")), required=True)
@click.option("--from", "first", metavar="YYYY-MM-DD", callback=_day, required=True, help="First day (UTC).")
@click.option("--to", "last", metavar="YYYY-MM-DD", callback=_day, required=True,
              help="Last day (UTC, included).")
@json_option
def exports_run(kind: str, first: str, last: str) -> None:
    """Run the export for a range now (the same files as the scheduled export)."""
    session = _session()
    answer = session.client.request("POST", "/exports", json={"kind": kind, "from": first, "to": last}).json()

    def render(a: dict[str, Any]) -> None:
        written = a.get("written") or []
        click.echo(f"Exported {_period(a)}: {len(written)} file(s), {number(a.get('events_read'))} events read")
        if written:
            click.echo(table(written, EXPORT_COLUMNS))

    session.show(answer, render)


# --- pricing and model mappings ---------------------------------------------------------------------------

def _read_object(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error.strerror}") from None
    except orjson.JSONDecodeError as error:
        raise click.BadParameter(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise click.BadParameter(f"{path} must hold a JSON object")
    return document


def _stored(answer: dict[str, Any]) -> str:
    if not answer.get("version"):
        return "none stored yet"
    changed = f"changed {when(answer.get('updated_at'))} by {text(answer.get('updated_by'))}"
    return f"version {answer.get('version')}, {changed}"


def _problem(answer: dict[str, Any]) -> None:
    if answer.get("problem"):
        click.echo(f"PROBLEM (the stored document is ignored): {answer['problem']}")


def _long_context(tier: Any) -> str:
    if not tier:
        return "-"
    return (f"over {number(tier.get('above_input_tokens'))} in: x{tier.get('input_factor')} in, "
            f"x{tier.get('output_factor')} out")


def pricing_details(answer: dict[str, Any]) -> None:
    click.echo(f"USD per million tokens (list prices as of {answer.get('table_as_of')}; overrides "
               f"{_stored(answer)}; proxies apply changes within {text(answer.get('refresh_s'))} s)")
    _problem(answer)
    click.echo(table(answer.get("models") or [], [
        field("model"), field("input", money, right=True), field("output", money, right=True),
        field("cache_write_5m", money, "CACHE WRITE 5M", right=True),
        field("cache_write_1h", money, "CACHE WRITE 1H", right=True),
        field("cache_read", money, "CACHE READ", right=True), field("long_context", _long_context, "LONG CONTEXT"),
        field("bedrock_geography_premium", text, "BEDROCK PREMIUM"), field("overridden"),
    ]))
    multipliers = answer.get("bedrock_multipliers") or {}
    click.echo("Bedrock price = list price x " + ", ".join(f"{geo} {money(m)}" for geo, m in multipliers.items()))


def _body_with_version(fields: dict[str, Any], version: Any, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    # The version the file was made from, when it says; else the one read now. Either way a change someone made
    # in between is refused (409) instead of overwritten.
    return {**fields, "version": version if version is not None else read().get("version")}


@admin_command.group("pricing", cls=AdminGroup)
def pricing() -> None:
    """Model prices: the built-in list prices and the admins' overrides."""


@pricing.command("show")
@json_option
def pricing_show() -> None:
    """Show the prices in force."""
    session = _session()
    session.show(session.client.get("/pricing"), pricing_details)


@pricing.command("set-overrides")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def pricing_set_overrides(file: Path) -> None:
    """Replace the price overrides with FILE: {"models": {name: {input, output, …}}, "bedrock_multipliers":
    {geography: multiplier}}, or `pricing show --json` output with its "overrides" edited."""
    document = _read_object(file)
    overrides = document.get("overrides") if isinstance(document.get("overrides"), dict) else document
    fields = {k: v for k, v in overrides.items() if k != "version"}
    session = _session()
    body = _body_with_version(fields, document.get("version"), lambda: session.client.get("/pricing"))
    answer = session.client.request("PUT", "/pricing/overrides", json=body).json()
    session.show(answer, lambda a: (click.echo(f"Saved the price overrides ({_stored(a)})."), pricing_details(a)))


def mappings_details(answer: dict[str, Any]) -> None:
    click.echo(f"Model mappings (built-in geography {answer.get('geography')}; admin map {_stored(answer)}; "
               f"proxies apply changes within {text(answer.get('refresh_s'))} s)")
    _problem(answer)
    click.echo(table(answer.get("effective") or [], [
        field("model"), field("bedrock_model_id", header="BEDROCK MODEL"), field("source"), field("problem"),
    ]))


@admin_command.group("models", cls=AdminGroup)
def models() -> None:
    """Model mappings: which Bedrock model answers each model name."""


@models.command("show")
@json_option
def models_show() -> None:
    """Show the model mappings in force and where each comes from."""
    session = _session()
    session.show(session.client.get("/model-mappings"), mappings_details)


@models.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def models_set(file: Path) -> None:
    """Replace the admins' model map with FILE: {model name: Bedrock model id}, {"mappings": {…}}, or
    `models show --json` output with its "admin" map edited."""
    document = _read_object(file)
    if isinstance(document.get("mappings"), dict):
        mappings, version = document["mappings"], document.get("version")
    elif isinstance(document.get("admin"), dict) and "effective" in document:
        mappings, version = document["admin"], document.get("version")
    else:
        mappings, version = document, None
    session = _session()
    body = _body_with_version({"mappings": mappings}, version, lambda: session.client.get("/model-mappings"))
    answer = session.client.request("PUT", "/model-mappings", json=body).json()
    session.show(answer, lambda a: (click.echo(f"Saved the model map ({_stored(a)})."), mappings_details(a)))


# --- audit, whoami, logout --------------------------------------------------------------------------------

AUDIT_COLUMNS = [
    field("at", when), field("actor"), field("action"),
    Column("TARGET", lambda e: ":".join(text(v) for v in (e.get("target_type"), e.get("target_id")) if v)),
]


@admin_command.group("audit", cls=AdminGroup)
def audit() -> None:
    """The audit log: who changed what, when."""


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True, help="Entries per page.")
@click.option("--target-type", help="Only entries about this kind of thing (user, key, credentials, …).")
@click.option("--target-id", help="Only entries about this one (a user id, a key id, …).")
@click.option("--actor", help="Only changes by this admin.")
@click.option("--all", "follow", is_flag=True, help="Every page, not just the first.")
@json_option
def audit_list(limit: int, target_type: str | None, target_id: str | None, actor: str | None, follow: bool) -> None:
    """List audit entries, newest first."""
    session = _session()
    params = {"limit": limit, "target_type": target_type, "target_id": target_id, "actor": actor}
    items, next_cursor = _collect(session.client.pages("/audit", params, follow=follow))

    def render(_: Any) -> None:
        echo_table(items, AUDIT_COLUMNS, empty="No audit entries match.")
        _more(next_cursor)

    session.show({"items": items, "next_cursor": next_cursor}, render)


@admin_command.command("whoami")
@json_option
def whoami() -> None:
    """Who you are signed in as, and with which role."""
    session = _session()
    me = session.client.get("/me")
    session.show(me, lambda m: click.echo(f"{m.get('username')} at {session.url}: role {m.get('role')} (groups: "
                                          f"{', '.join(m.get('groups') or []) or 'none'})"))


@admin_command.command("logout")
@click.option("--all", "everywhere", is_flag=True, help="Forget every cached sign-in, for every URL and user.")
def logout(everywhere: bool) -> None:
    """Forget the cached sign-in (and revoke it with Cognito when reachable)."""
    session = _session()
    if everywhere:
        dropped = session.cache.forget()
        for tokens in dropped:
            revoke_quietly(tokens)
        click.echo(f"Forgot {len(dropped)} cached sign-in(s).")
        return
    if session.client.forget():
        click.echo(f"Signed out of {session.url} as {session.username}.")
    else:
        click.echo(f"No cached sign-in for {session.username} at {session.url}.")
