"""The admin API's doorway: health is open, everything else needs the right token, errors name the field."""

from __future__ import annotations

from tests.support.admin import AdminHarness


def test_health_answers_without_a_token(admin: AdminHarness):
    response = admin.call("GET", "/api/health", token=None)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_me_names_the_signed_in_user_and_role(admin: AdminHarness):
    assert admin.call("GET", "/api/me").json() == {"username": "alice", "role": "admin", "groups": ["admins"]}
    assert admin.call("GET", "/api/me", token=admin.finance_token).json()["role"] == "finance"


def test_no_token_is_a_401_with_an_anthropic_like_error_body(admin: AdminHarness):
    response = admin.call("GET", "/api/me", token=None)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "Sign in" in response.json()["error"]["message"]


def test_an_unknown_endpoint_needs_a_token_before_it_is_a_404(admin: AdminHarness):
    assert admin.call("GET", "/api/nothing-here", token=None).status_code == 401
    assert admin.call("GET", "/api/nothing-here").status_code == 404


def test_finance_may_not_read_the_audit_log(admin: AdminHarness):
    response = admin.call("GET", "/api/audit", token=admin.finance_token)
    assert response.status_code == 403 and response.json()["error"]["type"] == "permission_error"


def test_a_bad_query_value_is_refused_naming_the_field(admin: AdminHarness):
    response = admin.call("GET", "/api/audit", params={"limit": 0})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["limit"]
    response = admin.call("GET", "/api/audit", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "cursor"


def test_a_misspelt_filter_is_refused_rather_than_ignored(admin: AdminHarness):
    # Ignored, ?tema=… would answer with everyone's usage as if it were the team's.
    response = admin.call("GET", "/api/usage/series", params={"from": "2026-11-01", "to": "2026-11-02",
                                                              "group_by": "team", "tema": "platform"})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["tema"]
    assert admin.call("GET", "/api/usage/series", params={"from": "2026-11-01", "to": "2026-11-02",
                                                          "group_by": "team", "team": "platform"}).status_code == 200


def test_config_tells_a_client_that_knows_only_this_url_how_to_sign_in(admin: AdminHarness):
    response = admin.call("GET", "/api/config", token=None)
    assert response.status_code == 200
    assert response.json() == {"apiBase": "/api", "cognito": {
        "region": "us-east-1", "userPoolId": admin.settings.cognito_user_pool_id,
        "clientId": admin.settings.cognito_client_ids, "endpoint": None}}


def test_a_refusal_before_the_resolver_still_carries_cors_for_the_dashboard_origin():
    with AdminHarness(admin_cors_origin="https://admin.example.com") as admin:
        response = admin.call("GET", "/api/me", token=None, headers={"Origin": "https://admin.example.com"})
        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == "https://admin.example.com"
        other = admin.call("GET", "/api/me", token=None, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_a_failure_of_ours_is_a_500_with_a_request_id_and_no_details(admin: AdminHarness, captured_logs):
    from overspill.aws import client

    client("dynamodb", admin.settings).delete_table(TableName=admin.settings.users_table)  # breaks every user read
    response = admin.call("GET", "/api/users")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "api_error" and "request id" in error["message"]
    assert "Table" not in error["message"] and "Traceback" not in response.text
    assert "admin request failed" in captured_logs.getvalue()


def test_dynamodb_out_of_reach_is_a_503_to_retry(admin: AdminHarness):
    import socket
    from dataclasses import replace

    from overspill.admin.api import AdminApi
    from overspill.admin.services import AdminServices
    from overspill.local.function_url import FunctionUrlServer
    from overspill.store.models import bind_models

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    unreachable = AdminServices(replace(admin.settings, aws_endpoint_url=f"http://127.0.0.1:{closed}"))
    server = FunctionUrlServer(("127.0.0.1", 0), AdminApi(unreachable).handle)
    server.serve_in_background()
    try:
        response = admin.http.get(f"{server.url}/api/users", headers={"Authorization": f"Bearer {admin.admin_token}"})
        assert response.status_code == 503 and response.json()["error"]["type"] == "unavailable"
    finally:
        server.shutdown()
        server.server_close()
        bind_models(admin.settings)


def test_an_admin_api_without_its_user_pool_says_it_is_not_configured():
    with AdminHarness(cognito_user_pool_id=None) as admin:
        response = admin.call("GET", "/api/me")
        assert response.status_code == 503
        assert "OVERSPILL_COGNITO_USER_POOL_ID" in response.json()["error"]["message"]
        assert admin.call("GET", "/api/health", token=None).status_code == 200
