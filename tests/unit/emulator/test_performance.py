"""Serving stays page-sized: figures for the report come from bench-like runs of these."""

from __future__ import annotations

import time

from .conftest import Emulator


def test_all_sale_pages_of_a_default_chain_are_served_quickly(make_emulator) -> None:
    emulator = make_emulator(shops=3, days=7, sales_per_day=120)
    started = time.perf_counter()
    sales = emulator.all("Sale", "load_relations=%5B%22SaleLines%22%2C%22SalePayments%22%5D")
    elapsed = time.perf_counter() - started
    assert 1800 < len(sales) < 3200
    assert elapsed < 20  # measured ~1 s on 2 cores; generous for a loaded CI box


def test_a_large_chain_serves_its_first_pages_without_generating_everything(make_emulator) -> None:
    emulator: Emulator = make_emulator(shops=50, days=30, sales_per_day=500)
    started = time.perf_counter()
    pages = 0
    for _ in emulator.pages("Sale", "sort=-timeStamp&load_relations=%5B%22SaleLines%22%5D"):
        pages += 1
        if pages == 3:
            break
    assert time.perf_counter() - started < 20  # measured ~1.5 s: hours touched, not 750k sales
    cached = emulator.api._chain.sale_detail.cache_info().currsize
    assert cached < 1000
