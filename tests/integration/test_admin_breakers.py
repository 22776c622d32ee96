"""A user's breaker through the admin API (the real function on loopback, moto): see it, reset it, find the
reset in its history and in the audit log; and a reset reaching a warm proxy instance (the real proxy)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from overspill.admin.audit import Actor, AuditLog
from overspill.admin.breakers import BreakerAdmin
from overspill.admin.identity import Principal, Role
from overspill.breaker import BreakerService, BreakerState
from overspill.fallback import FallbackReason, FallbackSignal
from overspill.store.audit import AuditRepository
from overspill.store.breakers import BreakerRepository
from overspill.store.users import UserRepository
from tests.support.fake_anthropic import Scenario
from tests.support.gateway import LocalGateway, wait_for_usage


def open_breaker(user_id: str, *, hours: float = 1) -> datetime:
    """Open the user's breaker the way the proxy does on a plan limit; returns when it would lift."""
    breakers = BreakerService(BreakerRepository(), cache_ttl_s=5, failure_threshold=3,
                              failure_window=timedelta(seconds=60), failure_cooldown=timedelta(seconds=120),
                              probe_lease=timedelta(seconds=60), open_recheck_s=30)
    until = (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)
    write = breakers.plan_failed(breakers.decide(user_id), FallbackSignal(FallbackReason.PLAN_LIMIT, 429, until))
    assert write is not None
    write()
    return until


def parsed(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def test_an_admin_sees_why_a_breaker_is_open_resets_it_and_finds_the_reset_in_history_and_audit(admin):
    user = UserRepository().create("Ada")
    until = open_breaker(user.user_id)

    seen = admin.call("GET", f"/api/users/{user.user_id}/breaker")
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["user_id"], body["state"], body["reason"], body["last_status"], body["trips"], body["revision"]) == \
        (user.user_id, "open", "plan_limit", 429, 1, 1)
    assert parsed(body["open_until"]) == until
    assert [(t["state"], t["reason"], t["last_status"]) for t in body["history"]] == [("open", "plan_limit", 429)]

    reset = admin.call("POST", f"/api/users/{user.user_id}/breaker/reset")
    assert reset.status_code == 200, reset.text
    after = reset.json()
    assert (after["state"], after["open_until"], after["probe_until"], after["revision"]) == ("closed", None, None, 2)
    assert [(t["state"], t["reason"]) for t in after["history"]] == [("closed", "admin_reset"),
                                                                       ("open", "plan_limit")]  # newest first
    assert admin.call("GET", f"/api/users/{user.user_id}/breaker").json() == after
    assert BreakerRepository().get(user.user_id, consistent=True).state is BreakerState.CLOSED

    [entry] = admin.audit(target_type="breaker")
    assert (entry["action"], entry["target_id"], entry["actor"]) == ("breaker.reset", user.user_id, "alice")
    assert (entry["before"]["state"], entry["before"]["reason"]) == ("open", "plan_limit")
    assert (entry["after"]["state"], entry["after"]["revision"]) == ("closed", 2)


def test_a_user_who_never_hit_a_limit_shows_a_closed_breaker_and_a_reset_is_still_recorded(admin):
    user = UserRepository().create("Grace")

    body = admin.call("GET", f"/api/users/{user.user_id}/breaker").json()
    assert (body["state"], body["trips"], body["history"], body["updated_at"], body["revision"]) == \
        ("closed", 0, [], None, 0)

    reset = admin.call("POST", f"/api/users/{user.user_id}/breaker/reset")
    assert reset.status_code == 200, reset.text
    assert reset.json()["state"] == "closed"
    assert [t["reason"] for t in reset.json()["history"]] == ["admin_reset"]
    [entry] = admin.audit(target_type="breaker", target_id=user.user_id)
    assert (entry["action"], entry["before"]["state"], entry["after"]["state"]) == \
        ("breaker.reset", "closed", "closed")


@pytest.mark.parametrize(("method", "suffix"), [("GET", "breaker"), ("POST", "breaker/reset")])
def test_an_unknown_user_is_404_and_nothing_is_written(admin, method, suffix):
    response = admin.call(method, f"/api/users/usr_nobody/{suffix}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "not_found"
    assert "usr_nobody" in response.json()["error"]["message"]
    assert BreakerRepository().get("usr_nobody", consistent=True).revision == 0  # no item
    assert admin.audit(target_type="breaker") == []


@pytest.mark.parametrize(("method", "suffix"), [("GET", "breaker"), ("POST", "breaker/reset")])
def test_a_malformed_user_id_is_422_naming_user_id(admin, method, suffix):
    response = admin.call(method, f"/api/users/ada%20lovelace/{suffix}")
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["user_id"]
    assert admin.audit(target_type="breaker") == []


@pytest.mark.parametrize(("method", "suffix"), [("GET", "breaker"), ("POST", "breaker/reset")])
def test_finance_may_neither_see_nor_reset_a_breaker(admin, method, suffix):
    user = UserRepository().create("Ada")
    open_breaker(user.user_id)

    response = admin.call(method, f"/api/users/{user.user_id}/{suffix}", token=admin.finance_token)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["type"] == "permission_error"
    assert BreakerRepository().get(user.user_id, consistent=True).state is BreakerState.OPEN
    assert admin.audit(target_type="breaker") == []


# -- the reset reaching a warm proxy instance ---------------------------------------------------------------

RECHECK_S = 1.0


@pytest.fixture
def quick_gateway(anthropic, bedrock) -> Iterator[LocalGateway]:
    with LocalGateway(anthropic.url, bedrock.url, key_cache_ttl_s=0.3, upstream_connect_timeout_s=1.0,
                      breaker_open_recheck_s=RECHECK_S) as gateway:
        yield gateway


def ask(developer, gateway) -> httpx.Response:
    body = {"model": "claude-opus-4-8", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(developer.base_url(gateway) + "/v1/messages", json=body, timeout=30,
                          headers={"x-api-key": "sk-ant-api03-dev", "anthropic-version": "2023-06-01"})
    assert response.status_code == 200, response.text
    wait_for_usage(gateway, response.headers["x-overspill-request-id"])  # its breaker write is done too
    return response


def test_a_reset_sends_a_developer_back_to_the_plan_without_waiting_for_the_limit_to_lift(quick_gateway,
                                                                                          anthropic, bedrock):
    developer = quick_gateway.add_developer("Ada")
    anthropic.enqueue(Scenario.plan_limit(int(time.time() + 3600)))
    assert ask(developer, quick_gateway).headers["x-overspill-route"] == "bedrock"
    again = ask(developer, quick_gateway)  # the warm instance holds a copy saying "open" for an hour
    assert (again.headers["x-overspill-route"], again.headers["x-overspill-fallback-reason"]) == \
        ("bedrock", "breaker_open")

    operator = Actor(Principal("alice", "sub-alice", ("admins",), Role.ADMIN))
    BreakerAdmin(AuditLog(AuditRepository())).reset(operator, developer.user_id)
    time.sleep(RECHECK_S + 0.2)

    back = ask(developer, quick_gateway)
    assert back.headers["x-overspill-route"] == "plan"
    assert [r.route_path for r in anthropic.received].count("/v1/messages") == 2  # the limited one, then this
