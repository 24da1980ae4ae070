"""Serving stays page-sized: a large chain is generated lazily, never all at once.

Speed itself is measured by the benchmarks (bench/), not asserted here."""

from __future__ import annotations

from .conftest import Emulator


def test_all_sale_pages_of_a_default_chain_are_served(make_emulator) -> None:
    emulator = make_emulator(shops=3, days=7, sales_per_day=120)
    sales = emulator.all("Sale", "load_relations=%5B%22SaleLines%22%2C%22SalePayments%22%5D")
    assert 1800 < len(sales) < 3200


def test_a_large_chain_serves_its_first_pages_without_generating_everything(make_emulator) -> None:
    emulator: Emulator = make_emulator(shops=50, days=30, sales_per_day=500)
    pages = 0
    for _ in emulator.pages("Sale", "sort=-timeStamp&load_relations=%5B%22SaleLines%22%5D"):
        pages += 1
        if pages == 3:
            break
    cached = emulator.api._chain.sale_detail.cache_info().currsize
    assert cached < 1000
