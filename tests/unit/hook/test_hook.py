"""The hook's wiring: query encoding, verbatim cursors, the API clock, account discovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote

import pytest

from lightspeed.hook import LightspeedHook, encode_query
from lightspeed.token_store import TokenSet, TokenStore


@pytest.fixture
def hook(warehouse_dsn, ls_conn, crafted, fake_time, kit):
    store = TokenStore.for_connection(ls_conn, warehouse_dsn)
    expires = datetime.now(UTC) + timedelta(hours=1)
    store.save(TokenSet(kit.make_jwt(acct=555), "refresh-1", expires, account_id=None))
    hook = LightspeedHook(
        connection=ls_conn, token_store=store, sleep=fake_time.sleep, clock=fake_time.clock
    )
    hook.session.mount("https://", crafted)
    return hook


def test_operators_datetimes_and_relations_are_encoded() -> None:
    start = datetime(2024, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=5)))
    end = datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
    query = encode_query(
        {
            "timeStamp": (">=", start),
            "completeTime": ("><", start, end),
            "shopID": 1,
            "load_relations": ["SaleLines", "SalePayments"],
            "archived": "true",
            "itemID": ("IN", [1, 2, 3]),
            "sort": "timeStamp",
            "skipped": None,
        }
    )
    assert query.split("&") == [
        "timeStamp=%3E%3D%2C2024-01-01T00%3A00%3A00%2B00%3A00",
        "completeTime=%3E%3C%2C2024-01-01T00%3A00%3A00%2B00%3A00%2C2024-01-31T23%3A59%3A59%2B00%3A00",
        "shopID=1",
        "load_relations=%5B%22SaleLines%22%2C%22SalePayments%22%5D",
        "archived=true",
        "itemID=IN%2C%5B1%2C2%2C3%5D",
        "sort=timeStamp",
    ]
    assert unquote("load_relations=%5B%22SaleLines%22%2C%22SalePayments%22%5D").endswith(
        '["SaleLines","SalePayments"]'
    )


def test_bad_operator_and_naive_datetime_are_refused() -> None:
    with pytest.raises(ValueError, match="operator"):
        encode_query({"timeStamp": ("=>", "x")})
    with pytest.raises(ValueError, match="naive"):
        encode_query({"timeStamp": (">=", datetime(2024, 1, 1))})


def test_paginate_follows_next_verbatim_and_normalizes(hook, crafted, kit) -> None:
    first = f"{kit.API}/API/V3/Account/555/Sale.json?shopID=1&limit=100"
    nxt = f"{kit.API}/API/V3/Account/555/Sale.json?shopID=1&sort=saleID&limit=100&after=WzEwMF0%3D"
    crafted.add(
        "GET",
        first,
        body={
            "@attributes": {"next": nxt, "previous": ""},
            "Sale": [{"saleID": "1", "SaleLines": {"SaleLine": {"saleLineID": "9"}}}],
        },
    )
    crafted.add(
        "GET", nxt, body={"@attributes": {"next": "", "previous": first}, "Sale": {"saleID": "2"}}
    )
    pages = list(hook.paginate("Sale", {"shopID": 1}))
    assert pages == [[{"saleID": "1", "SaleLines": [{"saleLineID": "9"}]}], [{"saleID": "2"}]]
    assert crafted.sent[0].url == first and crafted.sent[1].url == nxt
    assert hook.request_count == 2 and hook.stats.requests == 2


def test_empty_result_yields_one_empty_page(hook, crafted, kit) -> None:
    crafted.add(
        "GET",
        f"{kit.API}/API/V3/Account/555/Sale.json",
        body={"@attributes": {"next": "", "previous": ""}},
    )
    assert list(hook.paginate("Sale", {})) == [[]]


def test_server_now_is_the_date_header_of_the_last_response(hook, crafted, kit) -> None:
    crafted.add(
        "GET",
        f"{kit.API}/API/V3/Account.json",
        body={"@attributes": {"count": "1"}, "Account": {"accountID": "555", "name": "Shop Co"}},
        headers={"Date": "Tue, 05 Mar 2024 10:00:00 GMT"},
    )
    assert hook.server_now() == datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    crafted.add(
        "GET",
        f"{kit.API}/API/V3/Account/555/Shop.json",
        body={"@attributes": {"next": ""}},
        headers={"Date": "Tue, 05 Mar 2024 10:00:07 GMT"},
    )
    hook.get_shops()
    assert hook.server_now() == datetime(2024, 3, 5, 10, 0, 7, tzinfo=UTC)  # no new request
    assert len(crafted.sent) == 2


def test_account_from_jwt_and_account_json(hook, crafted, kit) -> None:
    assert hook.account_id == 555  # from the JWT acct claim: no request
    crafted.add(
        "GET",
        f"{kit.API}/API/V3/Account.json",
        body={
            "Account": [
                {"accountID": "111", "name": "Other"},
                {"accountID": "555", "name": "Shop Co"},
            ]
        },
    )
    assert hook.get_account() == {"accountID": "555", "name": "Shop Co"}


def test_secrets_are_masked_in_logs(hook, ls_conn) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact

    token = hook.auth.tokens()
    text = f"{ls_conn.client_secret} {token.access_token} {token.refresh_token}"
    redacted = redact(text)
    assert ls_conn.client_secret not in redacted and token.access_token not in redacted
    assert "refresh-1" not in redacted


def test_construction_touches_nothing() -> None:
    hook = LightspeedHook(lightspeed_conn_id="does_not_exist")  # parse time: no lookup, no I/O
    assert hook.lightspeed_conn_id == "does_not_exist" and hook.request_count == 0
