"""Admins set a team's monthly budget and cost centre; the budget then holds the team's Bedrock spend."""

from __future__ import annotations

import pytest

from overspill.store.teams import TeamRepository
from tests.support.admin import AdminHarness


def test_teams_named_by_users_are_listed_and_get_a_budget(admin: AdminHarness):
    for name, team in [("Ann", "platform"), ("Ben", "platform"), ("Cy", "web")]:
        admin.call("POST", "/api/users", json={"name": name, "team": team})
    listed = admin.call("GET", "/api/teams").json()["items"]
    assert [(t["team"], t["members"], t["version"], t["budget_usd"]) for t in listed] == \
        [("platform", 2, 0, None), ("web", 1, 0, None)]

    response = admin.call("PUT", "/api/teams", json={"team": "platform", "version": 0, "budget_usd": "500",
                                                     "cost_center": "CC-7"})
    assert response.status_code == 200, response.text
    assert (response.json()["budget_usd"], response.json()["version"], response.json()["members"]) == ("500", 1, 2)
    stored = TeamRepository().get("platform")
    assert stored is not None and str(stored.budget_usd) == "500" and stored.cost_center == "CC-7"
    [entry] = admin.audit(target_type="team")
    assert (entry["action"], entry["before"], entry["after"]["budget_usd"]) == ("team.update", None, "500")


def test_a_stale_team_version_is_a_409_and_changes_nothing(admin: AdminHarness):
    admin.call("PUT", "/api/teams", json={"team": "data", "version": 0, "budget_usd": 100})
    stale = admin.call("PUT", "/api/teams", json={"team": "data", "version": 0, "budget_usd": 1})
    assert stale.status_code == 409
    assert str(TeamRepository().get("data").budget_usd) == "100"
    cleared = admin.call("PUT", "/api/teams", json={"team": "data", "version": 1, "budget_usd": None})
    assert cleared.status_code == 200 and cleared.json()["budget_usd"] is None


@pytest.mark.parametrize(("body", "field"), [
    ({"team": "data", "version": 0, "budget_usd": -5}, "budget_usd"),
    ({"team": "da\nta", "version": 0}, "team"),
    ({"team": "data", "version": 0, "budget": 5}, "budget"),
    ({"team": "data"}, "version"),
    ({"team": "data", "version": 0, "cost_center": "x" * 65}, "cost_center"),
])
def test_bad_team_input_is_refused_naming_the_field(admin: AdminHarness, body: dict, field: str):
    response = admin.call("PUT", "/api/teams", json=body)
    assert response.status_code == 422
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert TeamRepository().all() == []


def test_finance_may_not_set_a_team_budget(admin: AdminHarness):
    response = admin.call("PUT", "/api/teams", token=admin.finance_token, json={"team": "x", "version": 0})
    assert response.status_code == 403
