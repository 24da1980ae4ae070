"""Whatever transform accepts, PostgreSQL accepts: fuzzed records through COPY and upsert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warehouse_helpers import T0, make_hours, make_sale

from lightspeed import entities
from lightspeed.load import StagingLoad
from lightspeed.transform import Context, Rows, transform_record
from lightspeed.windows import Window

CTX = Context(account_id=7, extracted_at=T0, shop_id=1, known_shop_ids=frozenset({1}))

_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "9999999999.99995",
            "-9999999999.9999",
            "1e-30",
            "0.00005",
            "9223372036854775807",
            "9223372036854775808",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2026-05-04T10:00:00.123456+05:30",
            "tab\there\\back\nslash",
            '{"json": "in a string"}',
            "\u2028\U0001f600",
        ]
    )
)


def _mutate(record: dict[str, Any], data: st.DataObject, children: tuple[str, ...]) -> None:
    for _ in range(data.draw(st.integers(1, 4))):
        target = record
        relation = data.draw(st.sampled_from((None, *children)))
        nested = record.get(relation) if relation else None
        if isinstance(nested, list) and nested and all(isinstance(n, dict) for n in nested):
            target = data.draw(st.sampled_from(nested))
        target[data.draw(st.sampled_from(sorted(target)))] = data.draw(_values)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_sales_and_hours_never_break_the_load(conn, data: st.DataObject) -> None:
    entity = data.draw(st.sampled_from([entities.SALES, entities.EMPLOYEE_HOURS]))
    if entity is entities.SALES:
        records = [make_sale(n) for n in (1, 2)]
        _mutate(records[0], data, ("SaleLines", "SalePayments"))
    else:
        records = [make_hours(n, check_in=T0 - timedelta(hours=n), check_out=None) for n in (1, 2)]
        _mutate(records[0], data, ())
    load = StagingLoad(conn, entity, account_id=7, run_id="fuzz", flush_rows=1)
    try:
        load.create_temp_tables()
        for record in records:
            result = transform_record(entity, record, CTX)
            if isinstance(result, Rows):
                load.add(result.rows)
            else:
                load.quarantine([(result.key, result.reason, record)])
        window = Window(entity.range_field, T0 - timedelta(days=1), T0, "days_back")
        outcome = load.finish(window, shop_id=1)
        assert outcome.tables[entity.table.name].upserted == load.records
    finally:
        conn.rollback()
