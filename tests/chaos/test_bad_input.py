"""Bad input: malformed API payloads and records are quarantined whole or fail the run with a
message a user can act on; never a bare traceback, never part of a sale.

Extends tests/unit/warehouse (transform fuzzing) and tests/integration/warehouse (COPY and
upsert fuzzing) to the layers around them: the JSON normalizer and the paginator on
arbitrary JSON, `extract_entity` end to end on fuzzed pages, and records the real emulator
serves broken.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import harness
import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightspeed import entities, normalize
from lightspeed.errors import DataQualityError, LightspeedError
from lightspeed.extract import extract_entity
from lightspeed.pagination import CursorPaginator
from lightspeed.transform import Context, Rejected, Rows, transform_record
from lightspeed.windows import Window

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
CTX = Context(account_id=7, extracted_at=NOW, shop_id=1, known_shop_ids=frozenset({1}))
ENTITIES = [entities.SALES, entities.EMPLOYEE_HOURS, entities.ITEMS, entities.SHOPS]

_KEYS = st.sampled_from(
    [
        "Sale", "SaleLines", "SaleLine", "SalePayments", "SalePayment", "Prices", "ItemPrice",
        "EmployeeHours", "Item", "Shop", "saleID", "shopID", "timeStamp", "calcSubtotal",
        "@attributes", "next", "count", "",
    ]
) | st.text(max_size=6)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "1", "0", "-1", "true", "NaN", "1e400", "2026-03-04T10:00:00+00:00"])
)
JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=5),
    max_leaves=30,
)


def _relations_are_lists(value: Any) -> bool:
    if isinstance(value, dict):
        return all(
            (key not in normalize.RELATION_ITEMS or isinstance(item, list))
            and _relations_are_lists(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return all(_relations_are_lists(item) for item in value)
    return True


@settings(max_examples=300, deadline=None)
@given(payload=JSON, entity=st.sampled_from(ENTITIES))
def test_normalizer_and_transform_take_any_json(payload: Any, entity: entities.Entity) -> None:
    """Any JSON page: the normalizer returns a list whose relations are lists, and each
    record becomes rows or a quarantine reason (never an exception)."""
    wrapped = payload if isinstance(payload, dict) else {entity.endpoint: payload}
    records = normalize.records(wrapped, entity.endpoint)
    assert isinstance(records, list)
    normalize.attributes(wrapped)
    for record in records:
        result = transform_record(entity, record, CTX)
        assert isinstance(result, Rows | Rejected)
        if isinstance(record, dict):
            assert _relations_are_lists(record)
        else:
            assert isinstance(result, Rejected), "only an object can be a record"
        if isinstance(result, Rejected):
            assert result.reason and "\n" not in result.reason[:200]


@settings(max_examples=200, deadline=None)
@given(payload=JSON)
def test_paginator_takes_any_json(payload: Any) -> None:
    """Any page: a next URL, the end, or PaginationError (a LightspeedError saying what to do)."""
    paginator = CursorPaginator("https://api.example/API/V3/Account/1/Sale.json?limit=100")
    try:
        for _ in range(3):
            url = paginator.next_url(payload)
            assert url is None or url.startswith("https://api.example/") or "://" in url
    except LightspeedError as exc:
        assert "Retry later" in str(exc) or "narrow" in str(exc)


# -- extract_entity end to end on fuzzed pages ----------------------------------------------


def _sale(sale_id: int) -> dict[str, Any]:
    """A valid completed sale of shop 1 with two lines and one payment."""
    stamp = (NOW - timedelta(hours=1)).isoformat()
    lines = [(sale_id * 10 + 1, "10.00"), (sale_id * 10 + 2, "5.50")]
    return {
        "saleID": str(sale_id),
        "timeStamp": stamp,
        "completed": "true",
        "voided": "false",
        "archived": "false",
        "completeTime": stamp,
        "calcSubtotal": "15.50",
        "calcDiscount": "0",
        "calcTotal": "15.50",
        "shopID": "1",
        "SaleLines": {
            "SaleLine": [
                {
                    "saleLineID": str(line_id),
                    "saleID": str(sale_id),
                    "shopID": "1",
                    "unitQuantity": "1",
                    "unitPrice": amount,
                    "calcSubtotal": amount,
                    "calcLineDiscount": "0",
                    "calcTransactionDiscount": "0",
                    "calcTotal": amount,
                }
                for line_id, amount in lines
            ]
        },
        "SalePayments": {
            "SalePayment": {"salePaymentID": str(sale_id * 10), "saleID": str(sale_id), "amount": "15.50"}
        },
    }  # fmt: skip


class Pages:
    """A page source (what extract_entity needs from the hook) serving raw JSON pages
    through the real normalizer."""

    def __init__(self, account_id: int, pages: list[dict[str, Any]]) -> None:
        self.account_id = account_id
        self._pages = pages

    def paginate(self, entity: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        for page in self._pages:
            yield normalize.records(page, entity)

    def server_now(self) -> datetime:
        return NOW


def _mutate(record: dict[str, Any], data: st.DataObject) -> None:
    """Break one to three fields of the sale, a line or the payment (chosen before any
    change, so a replaced container is never written into)."""
    lines = record["SaleLines"]["SaleLine"]
    payment = record["SalePayments"]["SalePayment"]
    fields = [(target, key) for target in (record, *lines, payment) for key in sorted(target)]
    for index in data.draw(st.sets(st.integers(0, len(fields) - 1), min_size=1, max_size=3)):
        target, key = fields[index]
        target[key] = data.draw(JSON)


_accounts = itertools.count(1000)


@pytest.fixture
def conn(warehouse_dsn: str) -> Iterator[Any]:
    connection = psycopg2.connect(warehouse_dsn)
    yield connection
    connection.close()


def _staged(conn: Any, account_id: int) -> dict[int, tuple[int, int]]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT s.sale_id, "
            "(SELECT count(*) FROM lightspeed_staging.sale_line l "
            " WHERE l.account_id = s.account_id AND l.sale_id = s.sale_id), "
            "(SELECT count(*) FROM lightspeed_staging.sale_payment p "
            " WHERE p.account_id = s.account_id AND p.sale_id = s.sale_id) "
            "FROM lightspeed_staging.sale s WHERE s.account_id = %s",
            (account_id,),
        )
        rows = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
    conn.rollback()
    return rows


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_pages_load_whole_sales_or_quarantine_them(conn, data: st.DataObject) -> None:
    """Valid and broken sales on the same pages: every staged sale has all its lines and its
    payment, broken ones are quarantined, and an error is a DataQualityError with advice."""
    account_id = next(_accounts)
    sales = [_sale(n) for n in range(1, 9)]
    broken = set(data.draw(st.sets(st.integers(1, 8), min_size=1, max_size=3)))
    for sale_id in broken:
        _mutate(sales[sale_id - 1], data)
    pages = [{"Sale": sales[:4]}, {"Sale": sales[4:]}]
    ratio = data.draw(st.sampled_from([1.0, 0.01]))
    window = Window("completeTime", NOW - timedelta(days=1), NOW, "days_back")
    try:
        result = extract_entity(
            Pages(account_id, pages), conn, entities.SALES, shop_id=1, window=window,
            run_id=f"fuzz-{account_id}", known_shop_ids={1}, max_quarantine_ratio=ratio,
        )  # fmt: skip
    except DataQualityError as exc:
        assert "lightspeed_staging.quarantine" in str(exc)
        assert _staged(conn, account_id) == {}, "a failed run loads nothing"
        return
    staged = _staged(conn, account_id)
    assert result.fetched == 8 and result.quarantined == 8 - len(staged)
    assert set(range(1, 9)) - broken <= set(staged), "valid sales are all loaded"
    for sale_id, (lines, payments) in staged.items():
        record = normalize.records({"Sale": sales[sale_id - 1]}, "Sale")[0]
        assert lines == len(record.get("SaleLines", [])), f"sale {sale_id}: partial lines"
        assert payments == len(record.get("SalePayments", [])), f"sale {sale_id}: partial payments"


# -- records the real emulator serves broken ------------------------------------------------


def _sale_ids(world: harness.World, count: int) -> list[int]:
    """Sales of shop 1 completed in the window the first import reads."""
    with psycopg2.connect(world.dsn) as pg, pg.cursor() as cur:
        cur.execute(
            "SELECT sale_id FROM lightspeed_staging.sale WHERE shop_id = 1 AND completed "
            "ORDER BY sale_id DESC LIMIT %s",
            (count,),
        )
        ids = [row[0] for row in cur.fetchall()]
    pg.close()
    return ids


def _break_totals(world: harness.World, sale_ids: list[int]) -> None:
    for sale_id in sale_ids:
        # A subtotal its lines do not add up to: a record transform must refuse whole.
        world.emulator.resources.mutate("Sale", sale_id, {"calcSubtotal": "99999.99"})


def _rows_of(world: harness.World, sale_ids: list[int]) -> tuple[int, int, int]:
    with psycopg2.connect(world.dsn) as pg, pg.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM lightspeed_staging.sale WHERE sale_id = ANY(%(ids)s)), "
            "(SELECT count(*) FROM lightspeed_staging.sale_line WHERE sale_id = ANY(%(ids)s)), "
            "(SELECT count(*) FROM lightspeed_staging.quarantine WHERE entity = 'sale' "
            " AND record_key = ANY(%(keys)s))",
            {"ids": sale_ids, "keys": [str(i) for i in sale_ids]},
        )
        row = cur.fetchone()
    pg.close()
    return row


def test_a_broken_sale_from_the_api_is_quarantined_whole(make_world) -> None:
    world = make_world("broken-sale")
    world.tick(2)
    (victim,) = _sale_ids(world, 1)
    _break_totals(world, [victim])
    world.advance(3600)
    (run, _) = world.tick(0)
    assert run.state == "success", run.failure
    sales, lines, quarantined = _rows_of(world, [victim])
    # The sale stays as last loaded (whole); the broken version is only in the quarantine.
    assert (sales, quarantined) == (1, 1) and lines > 0
    with psycopg2.connect(world.dsn) as pg, pg.cursor() as cur:
        cur.execute(
            "SELECT calc_subtotal FROM lightspeed_staging.sale WHERE sale_id = %s", (victim,)
        )
        assert cur.fetchone()[0] != Decimal("99999.99")
        cur.execute(
            "SELECT reason FROM lightspeed_staging.quarantine WHERE record_key = %s", (str(victim),)
        )
        assert "subtotal" in cur.fetchone()[0].lower()
    pg.close()


def test_too_many_broken_sales_fail_the_run_with_advice(make_world) -> None:
    world = make_world("broken-sales")
    world.tick(2)
    victims = _sale_ids(world, 6)
    _break_totals(world, victims)
    world.advance(3600)
    (run, _) = world.tick(0)
    assert run.state == "failed"
    assert [a.task for a in run.attempts if a.outcome == "failed"] == ["import_sales"]
    assert len(run.attempts) == 2, "bad data is not retried"
    assert "lightspeed_staging.quarantine" in run.failure and "max_quarantine_ratio" in run.failure
    assert "Traceback" not in run.failure
    sales, _, quarantined = _rows_of(world, victims)
    assert (sales, quarantined) == (6, 6), "evidence kept, old versions untouched"
