"""Extract a whole 3-shop, 7-day chain and report records, requests and 429s per entity.

`test_full_chain_requests_are_bounded` runs with a fast drip (part of `make test`): the whole
7-day chain costs ~62 drips, less than one real bucket. `test_thirty_days_at_the_real_bucket_rate`
uses Lightspeed's real 90-drip bucket at 1 drip/s over 30 days and takes a few minutes
(`-m slow`). Both print their table (`pytest -s`).
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest

ACCOUNT_QUERIES = {
    "Shop": {"archived": "true"},
    "Register": {"archived": "true"},
    "PaymentType": {"archived": "true"},
    "Employee": {"archived": "true", "sort": "timeStamp"},
    "Category": {"archived": "true", "sort": "timeStamp"},
    "Item": {"archived": "true", "sort": "timeStamp"},
}


def extract_all(hook, shop_ids: list[int], days: int = 7) -> dict[str, dict]:
    since = hook.server_now() - timedelta(days=days)
    queries: list[tuple[str, dict]] = list(ACCOUNT_QUERIES.items())
    for shop in shop_ids:
        queries.append(
            (
                "Sale",
                {
                    "shopID": shop,
                    "timeStamp": (">=", since),
                    "sort": "timeStamp",
                    "archived": "true",
                    "load_relations": ["SaleLines", "SalePayments"],
                },
            )
        )
        queries.append(("EmployeeHours", {"shopID": shop, "checkIn": (">=", since)}))
    figures: dict[str, dict] = {}
    for entity, params in queries:
        before = hook.stats.as_dict()
        records = lines = payments = pages = 0
        for page in hook.paginate(entity, params):
            pages += 1
            records += len(page)
            lines += sum(len(r.get("SaleLines", [])) for r in page)
            payments += sum(len(r.get("SalePayments", [])) for r in page)
        after = hook.stats.as_dict()
        # One query's requests: the pages plus retries, never more than a page per 100 records + 1.
        assert pages <= math.ceil(records / 100) + 1, (entity, records, pages)
        row = figures.setdefault(
            entity,
            {
                "queries": 0,
                "records": 0,
                "lines": 0,
                "payments": 0,
                "requests": 0,
                "throttled": 0,
                "cost": 0.0,
            },
        )
        row["queries"] += 1
        row["records"] += records
        row["lines"] += lines
        row["payments"] += payments
        row["requests"] += after["requests"] - before["requests"]
        row["throttled"] += after["throttled"] - before["throttled"]
        row["cost"] += after["total_cost"] - before["total_cost"]
    return figures


def report(title: str, figures: dict[str, dict], elapsed: float) -> None:
    print(f"\n{title} ({elapsed:.1f} s)")
    print(
        f"{'entity':<14}{'queries':>8}{'records':>9}{'lines':>7}{'payments':>9}"
        f"{'requests':>9}{'429s':>6}{'cost':>8}"
    )
    for entity, row in figures.items():
        print(
            f"{entity:<14}{row['queries']:>8}{row['records']:>9}{row['lines']:>7}"
            f"{row['payments']:>9}{row['requests']:>9}{row['throttled']:>6}{row['cost']:>8.1f}"
        )
    total = {k: sum(r[k] for r in figures.values()) for k in ("records", "requests", "throttled")}
    print(
        f"{'total':<14}{'':>8}{total['records']:>9}{'':>7}{'':>9}{total['requests']:>9}"
        f"{total['throttled']:>6}"
    )


def test_full_chain_requests_are_bounded(kit, shared_emulator) -> None:
    conn, result = kit.authorize(shared_emulator, conn_id="ls_figures")
    hook = kit.hook(conn)
    started = time.monotonic()
    figures = extract_all(hook, [s.shop_id for s in result.shops])
    report("3 shops x 7 days, fast drip", figures, time.monotonic() - started)
    assert (
        figures["Sale"]["records"] > 1000 and figures["Sale"]["lines"] > figures["Sale"]["records"]
    )
    assert sum(row["throttled"] for row in figures.values()) == 0


@pytest.mark.slow
def test_thirty_days_at_the_real_bucket_rate(kit) -> None:
    """Past the first bucketful the run is paced at 1 drip/s and meets no 429 (~3 minutes)."""
    emulator = kit.start(days=30, bucket_size=None, drip_rate=None)  # 90 drips, 1 drip/s
    conn, result = kit.authorize(emulator, conn_id="ls_figures_real")
    hook = kit.hook(conn)
    started = time.monotonic()
    figures = extract_all(hook, [s.shop_id for s in result.shops], days=30)
    elapsed = time.monotonic() - started
    report("3 shops x 30 days, real bucket 90 / 1 per s", figures, elapsed)
    cost = sum(row["cost"] for row in figures.values())
    assert sum(row["throttled"] for row in figures.values()) == 0
    assert kit.stats(emulator)["rate_limited"] == 0
    assert cost - 90 <= elapsed <= (cost - 90) * 1.2 + 10  # near the drip rate, not slower
