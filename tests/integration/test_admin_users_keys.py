"""Admins manage users and their access keys through the admin API: every change audited, keys shown once,
bad input refused naming the field with nothing changed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from overspill.keys import hash_key
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.users import UserRepository
from tests.support.admin import AdminHarness


def create(admin: AdminHarness, **fields) -> dict:
    response = admin.call("POST", "/api/users", json={"name": "Ada Lovelace", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_admin_creates_a_user_and_the_audit_log_says_who(admin: AdminHarness):
    user = create(admin, email="ada@example.com", team="platform", cost_center="CC-42", budget_usd="150.50",
                  routing_mode="bedrock_only")
    assert user["user_id"].startswith("usr_") and user["status"] == "active" and user["version"] == 1
    assert (user["budget_usd"], user["routing_mode"], user["team"]) == ("150.5", "bedrock_only", "platform")
    assert admin.call("GET", f"/api/users/{user['user_id']}").json() == user
    [entry] = admin.audit(target_id=user["user_id"])
    assert (entry["actor"], entry["action"], entry["before"]) == ("alice", "user.create", None)
    assert entry["after"]["email"] == "ada@example.com"


def test_users_are_listed_by_name_with_search_filters_and_cursor_pages(admin: AdminHarness):
    for name, team in [("Carol", "web"), ("alice", "platform"), ("Bob", "platform"), ("Dave", "web")]:
        create(admin, name=name, email=f"{name.lower()}@corp.example", team=team)
    page = admin.call("GET", "/api/users", params={"limit": 3}).json()
    assert [u["name"] for u in page["items"]] == ["alice", "Bob", "Carol"]
    rest = admin.call("GET", "/api/users", params={"limit": 3, "cursor": page["next_cursor"]}).json()
    assert [u["name"] for u in rest["items"]] == ["Dave"] and rest["next_cursor"] is None
    assert [u["name"] for u in admin.call("GET", "/api/users", params={"team": "web"}).json()["items"]] == \
        ["Carol", "Dave"]
    assert [u["name"] for u in admin.call("GET", "/api/users", params={"search": "BOB@"}).json()["items"]] == ["Bob"]
    assert admin.call("GET", "/api/users", params={"status": "deleted"}).json()["items"] == []


def test_an_update_needs_the_current_version_and_a_stale_one_is_a_409(admin: AdminHarness):
    user = create(admin, budget_usd="10")
    changed = admin.call("PATCH", f"/api/users/{user['user_id']}",
                         json={"version": user["version"], "team": "data", "budget_usd": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["team"], changed.json()["budget_usd"], changed.json()["version"]) == ("data", None, 2)
    stale = admin.call("PATCH", f"/api/users/{user['user_id']}", json={"version": user["version"], "name": "X"})
    assert stale.status_code == 409 and stale.json()["error"]["type"] == "conflict"
    assert admin.call("GET", f"/api/users/{user['user_id']}").json()["name"] == "Ada Lovelace"
    entry = admin.audit(target_id=user["user_id"])[0]
    assert entry["action"] == "user.update"
    assert (entry["before"]["budget_usd"], entry["after"]["budget_usd"]) == ("10", None)


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Ada", "nickname": "A"}, "nickname"),
    ({"name": 42}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "Ada\nInjected"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "Ada", "email": "not-an-email"}, "email"),
    ({"name": "Ada", "budget_usd": "-1"}, "budget_usd"),
    ({"name": "Ada", "budget_usd": "lots"}, "budget_usd"),
    ({"name": "Ada", "team": "plat\tform"}, "team"),
    ({"name": "Ada", "cost_center": "c" * 65}, "cost_center"),
    ({"name": "Ada", "routing_mode": "sometimes"}, "routing_mode"),
    ({}, "name"),
])
def test_bad_user_input_is_refused_naming_the_field_and_nothing_is_created(admin: AdminHarness, body, field):
    response = admin.call("POST", "/api/users", json=body)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert UserRepository().all() == []


def test_a_body_that_is_not_json_is_refused(admin: AdminHarness):
    response = admin.call("POST", "/api/users", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert UserRepository().all() == []


@pytest.mark.parametrize("user_id", ["12345", "usr_", "usr_" + "a" * 65, "usr_a.b", "USR_abc"])
def test_a_user_id_of_another_shape_is_refused_naming_it(admin: AdminHarness, user_id: str):
    response = admin.call("GET", f"/api/users/{user_id}")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "user_id"


def test_an_unknown_user_is_a_404(admin: AdminHarness):
    assert admin.call("GET", "/api/users/usr_nobody").status_code == 404
    assert admin.call("PATCH", "/api/users/usr_nobody", json={"version": 1, "name": "X"}).status_code == 404


def test_a_repeated_idempotency_key_creates_one_user(admin: AdminHarness):
    key = str(uuid.uuid4())
    first = admin.call("POST", "/api/users", json={"name": "Once"}, headers={"Idempotency-Key": key})
    again = admin.call("POST", "/api/users", json={"name": "Once"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json()["user_id"] == first.json()["user_id"] and again.headers["Idempotent-Replayed"] == "true"
    assert len(UserRepository().all()) == 1
    other = admin.call("POST", "/api/users", json={"name": "Twice"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    assert len(UserRepository().all()) == 1
    assert len(admin.audit(target_type="user")) == 1


def test_deactivate_reactivate_and_soft_delete_which_revokes_every_key(admin: AdminHarness):
    user = create(admin)
    path = f"/api/users/{user['user_id']}"
    keys = [admin.call("POST", f"{path}/keys").json() for _ in range(2)]
    assert admin.call("POST", f"{path}/deactivate").json()["status"] == "inactive"
    assert admin.call("POST", f"{path}/keys").status_code == 409   # no keys for inactive users
    assert admin.call("POST", f"{path}/reactivate").json()["status"] == "active"
    deleted = admin.call("DELETE", path)
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert {k["status"] for k in admin.call("GET", f"{path}/keys").json()["items"]} == {"revoked"}
    twice = admin.call("DELETE", path)
    assert twice.status_code == 409 and "already deleted" in twice.json()["error"]["message"]
    assert admin.call("POST", f"{path}/reactivate").status_code == 409
    assert admin.call("GET", path).json()["status"] == "deleted"       # kept for the usage history
    actions = [e["action"] for e in admin.audit(target_type="user", target_id=user["user_id"])]
    assert actions == ["user.delete", "user.reactivate", "user.deactivate", "user.create"]
    assert {e["target_id"] for e in admin.audit(target_type="key") if e["action"] == "key.revoke"} == \
        {k["key_id"] for k in keys}


def test_a_key_is_shown_once_with_the_line_to_paste_and_never_again(admin: AdminHarness):
    user = create(admin)
    issued = admin.call("POST", f"/api/users/{user['user_id']}/keys", json={"expires_in_days": 30})
    assert issued.status_code == 201
    body = issued.json()
    key = body["key"]
    assert key.startswith("ak_") and body["prefix"] == key[:10]
    assert body["base_url"] == f"http://127.0.0.1:8787/ak/{key}"
    assert body["export_line"] == f"export ANTHROPIC_BASE_URL=http://127.0.0.1:8787/ak/{key}"
    stored = AccessKeyRepository().find(hash_key(key, admin.pepper.encode()))
    assert stored is not None and stored.key_id == body["key_id"] and stored.user_id == user["user_id"]
    listed = admin.call("GET", f"/api/users/{user['user_id']}/keys")
    assert key not in listed.text and listed.json()["items"][0]["prefix"] == key[:10]
    everything = "".join(e.__repr__() for e in admin.audit()) + admin.call("GET", "/api/audit").text
    assert key not in everything


def test_a_replayed_key_issue_never_shows_the_key_again(admin: AdminHarness):
    user = create(admin)
    headers = {"Idempotency-Key": "issue-1"}
    first = admin.call("POST", f"/api/users/{user['user_id']}/keys", headers=headers).json()
    again = admin.call("POST", f"/api/users/{user['user_id']}/keys", headers=headers)
    assert again.status_code == 201 and again.json()["key_id"] == first["key_id"]
    assert again.json()["key"] is None and first["key"] not in again.text
    assert len(admin.call("GET", f"/api/users/{user['user_id']}/keys").json()["items"]) == 1


def test_revoke_then_revoke_again_is_a_409(admin: AdminHarness):
    user = create(admin)
    key = admin.call("POST", f"/api/users/{user['user_id']}/keys").json()
    revoked = admin.call("POST", f"/api/users/{user['user_id']}/keys/{key['key_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert admin.call("POST", f"/api/users/{user['user_id']}/keys/{key['key_id']}/revoke").status_code == 409
    assert admin.call("POST", f"/api/users/{user['user_id']}/keys/key_unknown/revoke").status_code == 404


def test_rotation_gives_a_new_key_and_the_old_one_a_grace_period(admin: AdminHarness):
    user = create(admin)
    old = admin.call("POST", f"/api/users/{user['user_id']}/keys").json()
    rotated = admin.call("POST", f"/api/users/{user['user_id']}/keys/{old['key_id']}/rotate",
                         json={"grace_seconds": 3600})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"] != old["key"] and new["key_id"] != old["key_id"] and new["status"] == "active"
    stops = datetime.fromisoformat(new["previous"]["expires_at"])
    assert timedelta(minutes=59) < stops - datetime.now(UTC) <= timedelta(hours=1)
    assert new["previous"]["status"] == "active"  # still working, for the grace period


def test_rotating_a_revoked_key_is_refused_naming_the_key(admin: AdminHarness):
    user = create(admin)
    key = admin.call("POST", f"/api/users/{user['user_id']}/keys").json()
    admin.call("POST", f"/api/users/{user['user_id']}/keys/{key['key_id']}/revoke")
    response = admin.call("POST", f"/api/users/{user['user_id']}/keys/{key['key_id']}/rotate")
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "key_id"
    assert len(admin.call("GET", f"/api/users/{user['user_id']}/keys").json()["items"]) == 1


@pytest.mark.parametrize("body", [{"grace_seconds": -1}, {"grace_seconds": "soon"}, {"grace": 5},
                                  {"expires_in_days": 0}])
def test_bad_rotation_input_is_refused_and_no_key_is_issued(admin: AdminHarness, body):
    user = create(admin)
    key = admin.call("POST", f"/api/users/{user['user_id']}/keys").json()
    response = admin.call("POST", f"/api/users/{user['user_id']}/keys/{key['key_id']}/rotate", json=body)
    assert response.status_code == 422
    assert len(admin.call("GET", f"/api/users/{user['user_id']}/keys").json()["items"]) == 1
