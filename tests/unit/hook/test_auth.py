"""Refresh before expiry and on a 401, through the real token store and crafted responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import time_machine

from lightspeed.auth import OAuthClient, missing_scopes
from lightspeed.errors import ConfigError, ReauthorizeRequired
from lightspeed.hook import LightspeedHook
from lightspeed.token_store import TokenSet, TokenStore

SHOP_PAGE = {"@attributes": {"next": "", "previous": ""}, "Shop": {"shopID": "1"}}


@pytest.fixture
def setup(warehouse_dsn, ls_conn, crafted, fake_time, kit):
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    old_access = kit.make_jwt(acct=777, jti="old")
    store.save(TokenSet(old_access, "refresh-old", datetime.now(UTC) + timedelta(minutes=10), 777))
    hook = LightspeedHook(
        connection=ls_conn, token_store=store, sleep=fake_time.sleep, clock=fake_time.clock
    )
    hook.session.mount("https://", crafted)
    hook.auth.oauth.session.mount("https://", crafted)
    return hook, store, old_access


def bearer(request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


def shops(hook: LightspeedHook) -> list[dict]:
    return [s for page in hook.paginate("Shop", {}) for s in page]


def test_fresh_token_is_used_without_refresh(setup, crafted, kit) -> None:
    hook, _, old_access = setup
    crafted.add("GET", f"{kit.API}/API/V3/Account/777/Shop.json", body=SHOP_PAGE)
    assert shops(hook) == [{"shopID": "1"}]
    assert bearer(crafted.sent[0]) == old_access and hook.auth.refresh_count == 0


def test_refresh_before_expiry_stores_then_uses_the_new_token(setup, crafted, kit) -> None:
    hook, store, _ = setup
    new_access = kit.make_jwt(acct=777, jti="new")
    crafted.add(
        "POST", f"{kit.OAUTH}/auth/oauth/token", body=kit.token_body(new_access, "refresh-new")
    )
    crafted.add("GET", f"{kit.API}/API/V3/Account/777/Shop.json", body=SHOP_PAGE)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6), tick=False):
        shops(hook)
    token_request, api_request = crafted.sent
    form = parse_qs(token_request.body)
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {
        "client_id": ["unit-client"],
        "client_secret": ["unit-secret-value"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-old"],
    }  # no scope
    assert bearer(api_request) == new_access
    stored = store.get()
    assert (stored.access_token, stored.refresh_token) == (new_access, "refresh-new")
    assert stored.scopes == (
        "employee:register",
        "employee:inventory_read",
        "employee:admin_employees",
    )


def test_401_refreshes_once_and_retries(setup, crafted, kit) -> None:
    hook, store, old_access = setup
    new_access = kit.make_jwt(acct=777, jti="new")
    crafted.add(
        "GET",
        f"{kit.API}/API/V3/Account/777/Shop.json",
        status=401,
        body={"error": "access_denied", "hint": "Access token could not be verified"},
    )
    crafted.add("POST", f"{kit.OAUTH}/auth/oauth/token", body=kit.token_body(new_access, "r2"))
    crafted.add("GET", f"{kit.API}/API/V3/Account/777/Shop.json", body=SHOP_PAGE)
    assert shops(hook) == [{"shopID": "1"}]
    assert [bearer(crafted.sent[0]), bearer(crafted.sent[2])] == [old_access, new_access]
    assert store.get().refresh_token == "r2" and hook.stats.refreshes == 1


def test_revoked_refresh_token_means_reauthorize(setup, crafted, kit) -> None:
    hook, store, _ = setup
    crafted.add(
        "POST",
        f"{kit.OAUTH}/auth/oauth/token",
        status=400,
        body={
            "error": "invalid_grant",
            "error_description": "The refresh token is invalid.",
            "hint": "Token has been revoked",
        },
    )
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=30), tick=False):
        with pytest.raises(ReauthorizeRequired) as info:
            shops(hook)
    message = str(info.value)
    assert "Token has been revoked" in message
    assert "lightspeed authorize --conn-id lightspeed_unit" in message
    assert "refresh-old" not in message and "unit-secret-value" not in message
    assert store.get().refresh_token == "refresh-old"  # nothing half-written


def test_bad_client_credentials_are_a_config_error(setup, crafted, kit) -> None:
    hook, _, _ = setup
    crafted.add(
        "POST",
        f"{kit.OAUTH}/auth/oauth/token",
        status=401,
        body={"error": "invalid_client", "error_description": "Client authentication failed"},
    )
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=30), tick=False):
        with pytest.raises(ConfigError, match="client ID/secret"):
            shops(hook)


def test_token_endpoint_5xx_is_retried(setup, crafted, kit, fake_time) -> None:
    hook, _, _ = setup
    crafted.add("POST", f"{kit.OAUTH}/auth/oauth/token", status=503, body={})
    crafted.add(
        "POST", f"{kit.OAUTH}/auth/oauth/token", body=kit.token_body(kit.make_jwt(acct=777), "r2")
    )
    crafted.add("GET", f"{kit.API}/API/V3/Account/777/Shop.json", body=SHOP_PAGE)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=30), tick=False):
        shops(hook)
    assert len(fake_time.slept) == 1


def test_authorization_url_and_code_exchange(ls_conn, crafted, kit) -> None:
    oauth = OAuthClient(ls_conn)
    oauth.session.mount("https://", crafted)
    url, state = oauth.authorization_url(redirect_uri="http://127.0.0.1:9/cb")
    assert url.startswith("https://cloud.test/auth/oauth/authorize?response_type=code")
    assert "scope=employee%3Aregister+employee%3Ainventory_read+employee%3Aadmin_employees" in url
    assert f"state={state}" in url and len(state) >= 20
    crafted.add(
        "POST",
        f"{kit.OAUTH}/auth/oauth/token",
        body=kit.token_body(kit.make_jwt(acct=42, scope="employee:all"), "r1", 1800),
    )
    before = datetime.now(UTC)
    tokens = oauth.exchange_code("the-code", redirect_uri="http://127.0.0.1:9/cb")
    form = parse_qs(crafted.sent[0].body)
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["the-code"]
    assert tokens.account_id == 42 and tokens.scopes == ("employee:all",)
    assert timedelta(seconds=1790) < tokens.expires_at - before <= timedelta(seconds=1801)


def test_expired_code_says_what_to_do(ls_conn, crafted, kit) -> None:
    oauth = OAuthClient(ls_conn)
    oauth.session.mount("https://", crafted)
    crafted.add(
        "POST",
        f"{kit.OAUTH}/auth/oauth/token",
        status=400,
        body={"error": "invalid_grant", "error_description": "Authorization code has expired"},
    )
    with pytest.raises(Exception, match="within a minute"):
        oauth.exchange_code("old-code")


@pytest.mark.parametrize(
    ("granted", "missing"),
    [
        (["employee:all"], []),
        (["employee:register", "employee:inventory", "employee:admin_employees"], []),
        (["employee:register"], ["employee:inventory_read", "employee:admin_employees"]),
    ],
)
def test_missing_scopes(granted: list[str], missing: list[str]) -> None:
    requested = ["employee:register", "employee:inventory_read", "employee:admin_employees"]
    assert missing_scopes(requested, granted) == missing
