"""Records are a pure function of (seed, shop, hour) and the data clock, never of start-up time."""

from __future__ import annotations

from datetime import datetime, timedelta

from lightspeed_emulator.generator import EPOCH

from .conftest import NOW, Emulator  # noqa: F401 - fixtures live there too

RELATIONS = ("load_relations", '["SaleLines","SaleLines.Item","SalePayments"]')


def _window(field: str, start: str, end: str) -> tuple[str, str]:
    return field, f"><,{start},{end}"


def test_two_emulators_with_one_seed_serve_identical_history(make_emulator) -> None:
    started_earlier = make_emulator(now=NOW - timedelta(hours=30), days=5)
    started_earlier.clock.set(NOW)
    started_now = make_emulator(now=NOW, days=2)
    queries = {
        "Sale": [
            _window("completeTime", "2024-06-13T00:00:00+00:00", "2024-06-13T23:59:59+00:00"),
            ("archived", "true"),
            RELATIONS,
        ],
        "SaleLine": [
            _window("timeStamp", "2024-06-13T10:00:00+00:00", "2024-06-13T20:00:00+00:00")
        ],
        "EmployeeHours": [
            _window("checkIn", "2024-06-13T00:00:00+00:00", "2024-06-14T00:00:00+00:00")
        ],
        "Item": [("archived", "true")],
    }
    for entity, query in queries.items():
        first = started_earlier.all(entity, query)
        assert first, entity
        assert first == started_now.all(entity, query), entity


def test_another_seed_gives_other_sales(make_emulator) -> None:
    query = [_window("completeTime", "2024-06-13T00:00:00+00:00", "2024-06-13T23:59:59+00:00")]
    assert make_emulator(seed=1).all("Sale", query) != make_emulator(seed=2).all("Sale", query)


def _times(value, found: list[str]) -> list[str]:
    if isinstance(value, dict):
        for item in value.values():
            _times(item, found)
    elif isinstance(value, list):
        for item in value:
            _times(item, found)
    elif isinstance(value, str) and len(value) == 25 and value[10:11] == "T":
        found.append(value)
    return found


def test_no_record_lies_in_the_future(emulator: Emulator) -> None:
    for entity, relations in {
        "Sale": "all",
        "SaleLine": "all",
        "SalePayment": "all",
        "EmployeeHours": "",
        "Employee": "",
        "Item": "all",
        "Category": "",
        "Shop": "all",
    }.items():
        query = [("archived", "true")] + ([("load_relations", relations)] if relations else [])
        stamps = _times(emulator.all(entity, query), [])
        assert stamps, entity
        assert all(stamp.endswith("+00:00") for stamp in stamps), entity
        assert max(datetime.fromisoformat(s) for s in stamps) <= NOW, entity


def test_history_reaches_the_configured_days_back(emulator: Emulator) -> None:
    first = emulator.ok("Sale", "limit=1&archived=true")["Sale"]
    first_time = datetime.fromisoformat(first["createTime"])
    assert NOW - timedelta(days=3, hours=1) <= first_time <= NOW - timedelta(days=2)


def test_new_sales_appear_as_the_clock_advances(emulator: Emulator) -> None:
    before = int(emulator.ok("Sale", "count=1")["@attributes"]["count"])
    emulator.clock.advance(6 * 3600)
    after = int(emulator.ok("Sale", "count=1")["@attributes"]["count"])
    assert after > before
    newest = emulator.ok("Sale", "sort=-completeTime&limit=1")["Sale"]
    assert datetime.fromisoformat(newest["completeTime"]) > NOW


def test_a_data_clock_before_the_epoch_is_refused(make_emulator) -> None:
    try:
        make_emulator(now=EPOCH + timedelta(days=1), days=3)
    except ValueError as error:
        assert "--now" in str(error)
    else:
        raise AssertionError("expected ValueError")
