"""Pages, quirks, faults and pacing against the emulator's generated chain."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

SALE_RELATIONS = ["SaleLines", "SalePayments"]


@pytest.fixture
def authorized_hook(kit, shared_emulator):
    """A hook with fresh tokens on the shared chain; faults are cleared afterwards."""
    conn, result = kit.authorize(shared_emulator)
    kit.control(shared_emulator, "faults", {"clear": True})

    def make(**kwargs):
        return kit.hook(conn, **kwargs)

    make.shop_ids = [s.shop_id for s in result.shops]
    yield make
    kit.control(shared_emulator, "faults", {"clear": True})


def sale_params(hook, shop_id: int, days: int = 7) -> dict:
    now = hook.server_now()
    return {
        "shopID": shop_id,
        "timeStamp": (">=", now - timedelta(days=days)),
        "sort": "timeStamp",
        "archived": "true",
        "load_relations": SALE_RELATIONS,
    }


def ids(pages, key: str) -> list[str]:
    return [record[key] for page in pages for record in page]


def test_many_pages_with_every_quirk(authorized_hook) -> None:
    hook = authorized_hook()
    shop = authorized_hook.shop_ids[0]
    params = sale_params(hook, shop)
    before = hook.request_count
    pages = list(hook.paginate("Sale", params))
    sales = [sale for page in pages for sale in page]
    assert len(pages) > 3 and hook.request_count - before == len(pages)
    assert len(sales) == len({s["saleID"] for s in sales})  # each sale once
    assert len(pages) <= math.ceil(len(sales) / 100) + 1
    assert all(
        isinstance(v, str)
        for s in sales
        for k, v in s.items()
        if k not in ("SaleLines", "SalePayments")
    )
    for sale in sales:
        for relation in ("SaleLines", "SalePayments"):
            assert isinstance(sale.get(relation, []), list)
            assert all(isinstance(item, dict) for item in sale.get(relation, []))
    assert any(len(s.get("SaleLines", [])) == 1 for s in sales)  # the single-object quirk
    assert any(len(s.get("SaleLines", [])) > 1 for s in sales)
    assert any("completeTime" not in s for s in sales)  # incomplete: null datetime omitted
    assert any(s["voided"] == "true" for s in sales)
    assert any(s["archived"] == "true" for s in sales)
    assert any("SalePayments" not in s for s in sales)  # empty relation omitted, not invented
    # A window with nothing in it: the entity key is absent, the page is empty.
    future = {"shopID": shop, "timeStamp": (">", hook.server_now() + timedelta(days=1))}
    assert list(hook.paginate("Sale", future)) == [[]]


def test_items_carry_prices_as_lists(authorized_hook) -> None:
    hook = authorized_hook()
    items = [item for page in hook.paginate("Item", {"archived": "true"}) for item in page]
    assert items and all(isinstance(item["Prices"], list) for item in items)
    assert {p["useType"] for p in items[0]["Prices"]} >= {"Default", "MSRP"}
    assert any(item["archived"] == "true" for item in items)


def test_token_expiring_mid_pagination_loses_nothing(authorized_hook, kit, shared_emulator) -> None:
    shop = authorized_hook.shop_ids[0]
    clean = authorized_hook()
    expected = ids(clean.paginate("Sale", sale_params(clean, shop)), "saleID")
    hook = authorized_hook()
    params = sale_params(hook, shop)
    kit.control(shared_emulator, "faults", {"add": "expire-token:after=3"})
    got = ids(hook.paginate("Sale", params), "saleID")
    assert got == expected and hook.stats.refreshes == 1
    assert hook.stats.by_status.get(401) == 1


def test_faults_leave_every_record_exactly_once(authorized_hook, kit, shared_emulator) -> None:
    shop = authorized_hook.shop_ids[1]
    clean = authorized_hook()
    params = sale_params(clean, shop)
    expected = ids(clean.paginate("Sale", params), "saleID")
    # Spread over the run so no page meets more failures than the retry budget: respond
    # faults count only requests they are considered for, body faults hit the next free ones.
    faults = [
        "429:count=3:retry_after=2",
        "5xx:count=2:status=503:after=5",
        "5xx:status=502:after=7",
        "try-later:after=9",
        "drop",
        "truncate",
        "truncate:mode=length",
    ]
    kit.control(shared_emulator, "faults", {"add": faults})
    slept: list[float] = []
    hook = authorized_hook(sleep=slept.append)  # the emulator counts requests, not seconds
    got = ids(hook.paginate("Sale", params), "saleID")
    assert got == expected and len(got) == len(set(got))
    assert hook.stats.retry_reasons == {
        "429": 3,
        "503": 2,
        "502": 1,
        "400": 1,
        "ChunkedEncodingError": 2,
        "invalid-json": 1,
    }, hook.stats.as_dict()
    # Retry-After (2 s) honoured, plus at most the policy's jitter (0.3 x 2 s).
    assert [2.05 <= s <= 2.65 for s in slept if s > 1] == [True, True, True]


def test_steady_state_meets_no_429(kit) -> None:
    emulator = kit.start(shops=1, days=2, sales_per_day=60, bucket_size=10.0, drip_rate=25.0)
    conn, _ = kit.authorize(emulator)
    hook = kit.hook(conn)
    hook.get_account()
    pages = list(hook.paginate("SaleLine", {"limit": 5, "sort": "saleLineID"}))
    stats = kit.stats(emulator)
    assert len(pages) >= 40
    assert hook.stats.throttled == 0 and stats["rate_limited"] == 0
    # Paced at the drip rate: after the first bucketful, one request per 1/25 s, and no more
    # waiting than that (the pacer's own account; wall time is for the benchmarks).
    paced = hook.stats.paced_seconds
    assert (len(pages) - 10) / 25 * 0.8 <= paced <= len(pages) / 25 * 1.2
