"""The test control hook: edits move timeStamp to now and are found by windowed reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import NOW, Emulator

SINCE_NOW = "timeStamp=%3E%3D%2C2024-06-14T12%3A00%3A00%2B00%3A00"


def test_an_edit_overrides_fields_and_moves_timestamp(emulator: Emulator) -> None:
    emulator.api.mutate("Item", 42, {"description": "Renamed Tent"})
    item = emulator.ok("Item", record_id="42")["Item"]
    assert item["description"] == "Renamed Tent"
    assert item["timeStamp"] == "2024-06-14T12:00:00+00:00"
    assert [i["itemID"] for i in emulator.all("Item", SINCE_NOW)] == ["42"]


def test_an_edited_old_sale_shows_up_in_a_recent_window(emulator: Emulator) -> None:
    old = emulator.ok("Sale", "limit=1")["Sale"]
    emulator.clock.advance(60)
    emulator.api.mutate("Sale", int(old["saleID"]), {"referenceNumber": "fixed-123"})
    recent = emulator.all("Sale", f"{SINCE_NOW}&sort=timeStamp")
    assert [s["saleID"] for s in recent][-1:] == [old["saleID"]]
    assert recent[-1]["referenceNumber"] == "fixed-123"
    assert recent[-1]["updatetime"] == recent[-1]["timeStamp"] == "2024-06-14T12:01:00+00:00"
    counted = emulator.ok("Sale", f"count=1&{SINCE_NOW}")["@attributes"]["count"]
    assert int(counted) == len(recent)


def test_hard_deleting_employee_hours(emulator: Emulator) -> None:
    row = emulator.ok("EmployeeHours", "limit=1")["EmployeeHours"]
    emulator.api.mutate("EmployeeHours", int(row["employeeHoursID"]), None)
    assert emulator.get("EmployeeHours", record_id=row["employeeHoursID"]).status == 404
    ids = [r["employeeHoursID"] for r in emulator.all("EmployeeHours")]
    assert row["employeeHoursID"] not in ids and ids


def test_deleting_a_sale_archives_it_but_only_if_incomplete(emulator: Emulator) -> None:
    completed = emulator.ok("Sale", "completed=true&limit=1")["Sale"]
    with pytest.raises(ValueError, match="only incomplete sales"):
        emulator.api.mutate("Sale", int(completed["saleID"]), None)
    parked = emulator.ok("Sale", "completed=false&limit=1")["Sale"]
    emulator.api.mutate("Sale", int(parked["saleID"]), None)
    assert parked["saleID"] not in [s["saleID"] for s in emulator.all("Sale", "completed=false")]
    archived = emulator.ok("Sale", record_id=parked["saleID"])["Sale"]
    assert archived["archived"] == "true" and archived["timeStamp"] == "2024-06-14T12:00:00+00:00"
    assert parked["saleID"] in [s["saleID"] for s in emulator.all("Sale", "archived=only")]


def test_mutate_refuses_what_does_not_exist(emulator: Emulator) -> None:
    with pytest.raises(KeyError):
        emulator.api.mutate("Customer", 1, {"firstName": "x"})
    with pytest.raises(LookupError):
        emulator.api.mutate("Sale", 1, {"referenceNumber": "x"})
    with pytest.raises(ValueError, match="no editable field"):
        emulator.api.mutate("Item", 1, {"colour": "red"})
    with pytest.raises(ValueError, match="cannot be deleted"):
        emulator.api.mutate("Category", 2, None)
    emulator.clock.set(NOW - timedelta(days=1))
    with pytest.raises(LookupError):  # not sold yet at the data clock's now
        emulator.api.mutate(
            "Sale", int(emulator.ok("Sale", "sort=-saleID&limit=1")["Sale"]["saleID"]) + 10**8, {}
        )
