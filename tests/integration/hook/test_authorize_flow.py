"""`lightspeed authorize` end to end: the emulator's login form, the loopback callback, the store."""

from __future__ import annotations

import json

import psycopg2
import pytest
import requests

from lightspeed.auth import AuthorizationFailed
from lightspeed.authorize import authorize, drive_login_form, format_result
from lightspeed.token_store import TokenStore


def test_authorize_stores_tokens_and_lists_shops(kit, shared_emulator) -> None:
    conn, result = kit.authorize(shared_emulator)
    assert (result.account_id, result.account_name) == (120645, "Demo Outdoor Co.")
    assert len(result.shops) == 3
    assert [s.location_id for s in result.shops] == [f"{s.shop_id:04d}" for s in result.shops]
    assert all(s.time_zone and s.name for s in result.shops)
    assert set(result.scopes) >= {"employee:register", "employee:admin_employees"}
    stored = TokenStore.for_connection(conn, kit.warehouse_dsn).get()
    assert stored.account_id == 120645 and stored.account_name == "Demo Outdoor Co."
    text = format_result(result)
    assert text.startswith("Authenticated: account Demo Outdoor Co. (ID 120645)")
    assert result.shops[0].location_id in text and result.shops[0].time_zone in text


def test_cli_authorize_prints_account_and_shops(kit, shared_emulator, monkeypatch, capsys) -> None:
    from lightspeed.cli import main

    monkeypatch.setenv(
        "AIRFLOW_CONN_LIGHTSPEED_DEFAULT",
        json.dumps(
            {
                "conn_type": "lightspeed",
                "login": "demo-client",
                "password": "demo-secret",
                "host": shared_emulator.url,
                "extra": {"oauth_base_url": shared_emulator.url},
            }
        ),
    )
    # The browser: submit the login and consent forms as a user would.
    monkeypatch.setattr("webbrowser.open", lambda url: drive_login_form(url, "owner", "owner"))
    code = main(["authorize", "--port", "0", "--warehouse", kit.warehouse_dsn, "--timeout", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Open this URL" in out and "Authenticated: account Demo Outdoor Co." in out
    assert "demo-secret" not in out
    with psycopg2.connect(kit.warehouse_dsn) as pg, pg.cursor() as cur:
        cur.execute("SELECT conn_id, account_id FROM lightspeed_auth.token_set")
        assert cur.fetchall() == [("lightspeed_default", 120645)]


def test_deny_is_explained(kit, shared_emulator) -> None:
    with pytest.raises(AuthorizationFailed, match="refused in the browser"):
        kit.authorize(shared_emulator, decision="deny")


@pytest.mark.parametrize(
    ("user", "password", "match"),
    [
        ("clerk", "clerk", "may not authorize"),
        ("owner", "wrong", "Login failed"),
    ],
)
def test_failed_login_is_explained(kit, shared_emulator, user, password, match) -> None:
    with pytest.raises(AuthorizationFailed, match=match) as info:
        kit.authorize(shared_emulator, username=user, password=password)
    assert "lightspeed authorize" in str(info.value)


def test_state_mismatch_is_refused(kit, shared_emulator) -> None:
    conn = kit.connection(shared_emulator)

    def forge_state(url: str) -> None:
        forged = (
            url.split("&state=")[0] + "&state=forged&" + url.split("&state=")[1].split("&", 1)[1]
        )
        drive_login_form(forged, "owner", "owner")

    with pytest.raises(AuthorizationFailed, match="state does not match"):
        authorize(
            conn,
            warehouse=kit.warehouse_dsn,
            port=0,
            open_browser=False,
            show=lambda _: None,
            on_url=forge_state,
            timeout=20,
        )


def test_no_browser_answer_times_out_with_advice(kit, shared_emulator) -> None:
    conn = kit.connection(shared_emulator)
    with pytest.raises(AuthorizationFailed, match="No answer from the browser within 1 s"):
        authorize(
            conn,
            warehouse=kit.warehouse_dsn,
            port=0,
            open_browser=False,
            show=lambda _: None,
            timeout=1,
        )


def test_callback_ignores_unrelated_requests(kit, shared_emulator) -> None:
    conn = kit.connection(shared_emulator)
    seen: list[int] = []

    def poke_then_login(url: str) -> None:
        redirect = requests.utils.unquote(url.split("redirect_uri=")[1].split("&")[0])
        seen.append(
            requests.get(redirect.replace("/callback", "/favicon.ico"), timeout=5).status_code
        )
        seen.append(requests.get(redirect, timeout=5).status_code)  # no code, no error
        drive_login_form(url, "owner", "owner")

    result = authorize(
        conn,
        warehouse=kit.warehouse_dsn,
        port=0,
        open_browser=False,
        show=lambda _: None,
        on_url=poke_then_login,
        timeout=20,
    )
    assert seen == [404, 404] and result.account_id == 120645
