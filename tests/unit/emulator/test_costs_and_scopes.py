"""Request costs (reference §7) and the scopes each endpoint accepts."""

from __future__ import annotations

import pytest

from .conftest import Emulator


@pytest.mark.parametrize(
    ("entity", "record_id", "query", "cost"),
    [
        ("Sale", None, [], 1.0),
        ("Sale", None, [("count", "1")], 10.0),
        ("Sale", None, [("load_relations", '["SaleLines","SalePayments"]')], 1.8),
        ("Sale", "5", [("load_relations", '["SaleLines","SalePayments"]')], 1.4),
        ("Sale", None, [("load_relations", '["SaleLines","SaleLines.Item"]')], 1.8),
        ("SaleLine", None, [("load_relations", '["Item"]')], 1.2),
        ("Item", "3", [("load_relations", '["Category"]')], 1.1),
        ("Sale", None, [("load_relations", "all")], 1 + 0.4 + 0.4 + 0.4 + 0.4 + 0.2),
        ("Sale", None, [("load_relations", "not json")], 1.0),
        ("Nope", None, [], 1.0),
    ],
)
def test_request_cost(emulator: Emulator, entity, record_id, query, cost) -> None:
    assert emulator.api.request_cost(entity, record_id, query) == pytest.approx(cost)


def test_required_scopes(emulator: Emulator) -> None:
    api = emulator.api
    for entity in ("Sale", "SaleLine", "SalePayment"):
        assert {
            "employee:register",
            "employee:register_read",
            "employee:all",
        } <= api.required_scopes(entity)
    for entity in ("Employee", "EmployeeHours"):
        assert api.required_scopes(entity) == {"employee:admin_employees", "employee:all"}
    assert "employee:inventory_read" in api.required_scopes("Item")
    assert "employee:register" in api.required_scopes("Shop")
    with pytest.raises(KeyError):
        api.required_scopes("Nope")
