from __future__ import annotations

import pytest

from lightspeed.auth import AuthorizationFailed
from lightspeed.authorize import ShopInfo, _code_from
from lightspeed.connection import from_airflow_connection, load_connection


def test_providers_manager_sees_the_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["lightspeed"]  # what tasks resolve hooks with
    assert hook is not None and hook.hook_class_name == "lightspeed.hook.LightspeedHook"
    assert hook.connection_id_attribute_name == "lightspeed_conn_id"
    assert hook.hook_name == "Lightspeed Retail (R-Series)"
    manager = ProvidersManager()  # what the API server builds the connection form from
    assert "lightspeed-tmas" in manager.providers
    widgets = manager.connection_form_widgets
    assert "extra__lightspeed__oauth_base_url" in widgets
    assert widgets["extra__lightspeed__token_encryption_key"].is_sensitive
    behaviour = manager.field_behaviours["lightspeed"]
    assert behaviour["relabeling"]["login"] == "OAuth client ID"


def test_connection_from_env_json_with_defaults(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LS_ENV",
        '{"conn_type": "lightspeed", "login": "cid", "password": "csecret", '
        '"host": "http://127.0.0.1:9999/", "extra": {"scopes": "employee:all"}}',
    )
    conn = load_connection("ls_env")
    assert (conn.client_id, conn.client_secret) == ("cid", "csecret")
    assert conn.api_base_url == "http://127.0.0.1:9999"
    assert conn.oauth_base_url == "https://cloud.lightspeedapp.com"
    assert conn.scopes == ("employee:all",)
    assert conn.token_store_conn_id == "lightspeed_warehouse"
    assert "csecret" not in repr(conn)


def test_bare_host_means_https(monkeypatch) -> None:
    from airflow.sdk import Connection

    conn = from_airflow_connection(
        Connection(
            conn_id="x",
            conn_type="lightspeed",
            host="api.lightspeedapp.com",
            login="a",
            password="b",
        )
    )
    assert conn.api_base_url == "https://api.lightspeedapp.com"


def test_missing_connection_says_how_to_create_it() -> None:
    with pytest.raises(Exception, match="airflow connections add nope --conn-type lightspeed"):
        load_connection("nope")


def test_cli_prints_the_error_without_traceback(capsys) -> None:
    from lightspeed.cli import main

    assert main(["authorize", "--conn-id", "nope", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("Error: Airflow connection 'nope' was not found") and "Traceback" not in err
    )


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"code": "c", "state": "other"}, "state does not match"),
        ({"error": "access_denied", "state": "s"}, "refused in the browser"),
        ({"error": "invalid_scope", "state": "s"}, "invalid_scope"),
        ({"state": "s"}, "no authorization code"),
    ],
)
def test_callback_problems_say_what_to_do(params: dict, match: str) -> None:
    with pytest.raises(AuthorizationFailed, match=match) as info:
        _code_from(params, "s")
    assert "lightspeed authorize" in str(info.value)


def test_location_id_is_the_zero_padded_shop_id() -> None:
    assert ShopInfo(1, "Main", "US/Eastern").location_id == "0001"
    assert ShopInfo(12345, "Big", "UTC").location_id == "12345"


def test_missing_scope_is_explained(ls_conn) -> None:
    from lightspeed.authorize import _check_scopes

    _check_scopes(ls_conn, ("employee:all",))
    with pytest.raises(
        AuthorizationFailed, match="lacks the scope\\(s\\) employee:admin_employees"
    ):
        _check_scopes(ls_conn, ("employee:register", "employee:inventory"))


def test_unreachable_warehouse_is_explained(monkeypatch, capsys) -> None:
    from lightspeed.cli import main

    monkeypatch.setenv(
        "AIRFLOW_CONN_LIGHTSPEED_DEFAULT",
        '{"conn_type": "lightspeed", "login": "cid", "password": "csecret"}',
    )
    dsn = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    assert main(["authorize", "--warehouse", dsn, "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "Cannot connect to the warehouse" in err and "Traceback" not in err
