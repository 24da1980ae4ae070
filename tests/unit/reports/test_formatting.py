"""Report formatting: two decimals, items, the aligned table, CSV/JSON, SVG charts."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from lightspeed.aggregates import StoredLocation
from lightspeed.dashboard import DayPanel, Point, bar_chart, render_panel
from lightspeed.reports import Totals, aligned_table, format_totaling, quantity, two_decimals


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0"), "0.00"),
        (Decimal("1.005"), "1.01"),
        (Decimal("-1.005"), "-1.01"),
        (Decimal("-0.004"), "0.00"),
        (Decimal("12.3449"), "12.34"),
        (Decimal(18) / Decimal(3600), "0.01"),  # 18 seconds = 0.005 h rounds up
        (7, "7.00"),
        (None, ""),
    ],
)
def test_two_decimals(value: Decimal | int | None, text: str) -> None:
    assert two_decimals(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("3.0000"), "3"),
        (Decimal("-2"), "-2"),
        (Decimal("1.5000"), "1.5"),
        (Decimal("0"), "0"),
    ],
)
def test_items_are_integers_when_whole(value: Decimal, text: str) -> None:
    assert quantity(value) == text


def totals(location_id: str | None, traffic: int | None = None) -> Totals:
    return Totals(
        location_id=location_id,
        label="Boston" if location_id else None,
        sales=Decimal("1234.5"),
        transactions=10,
        items=Decimal("25"),
        staff_hours=Decimal("8.25"),
        atv=Decimal("123.45"),
        upt=Decimal("2.5"),
        sales_per_staff_hour=Decimal("149.6364"),
        traffic=traffic,
        conversion_pct=Decimal("12.5") if traffic else None,
        sales_per_shopper=Decimal("15.43125") if traffic else None,
        star=Decimal("9.69") if traffic else None,
    )


def test_table_aligns_numbers_right() -> None:
    text = aligned_table(["Location", "Sales"], [["0001 Boston", "5.00"], ["Chain", "1234.50"]])
    assert text.splitlines() == [
        "Location       Sales",
        "-----------  -------",
        "0001 Boston     5.00",
        "Chain        1234.50",
    ]


def test_traffic_columns_only_with_traffic() -> None:
    without = format_totaling(
        [totals("0001"), totals(None)], "csv", date(2025, 1, 1), date(2025, 1, 2)
    )
    assert without.splitlines()[0] == (
        "Location,Sales,Transactions,Items,Staff hours,ATV,UPT,Sales/staff hour"
    )
    assert without.splitlines()[2] == "Chain,1234.50,10,25,8.25,123.45,2.50,149.64"
    with_traffic = format_totaling(
        [totals("0001", 80), totals(None, 80)], "csv", date(2025, 1, 1), date(2025, 1, 1)
    )
    assert with_traffic.splitlines()[1].endswith(",80,12.50,15.43,9.69")


def test_json_has_locations_and_chain() -> None:
    payload = json.loads(
        format_totaling([totals("0001"), totals(None)], "json", date(2025, 1, 1), date(2025, 1, 2))
    )
    assert payload["from"] == "2025-01-01" and payload["chain"]["location_id"] is None
    assert payload["locations"][0]["sales"] == 1234.5 and payload["locations"][0]["traffic"] is None


def point(hour: int, sales: str) -> Point:
    return Point(
        datetime(2025, 1, 1, hour), 60, hour >= 9, Decimal(sales), 1, Decimal(1), Decimal(1), None
    )


def test_bar_chart_draws_refund_buckets_below_zero_and_escapes() -> None:
    svg = bar_chart(
        "Sales <net>", [point(8, "10"), point(9, "-5")], lambda p: p.sales, two_decimals
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Sales &lt;net&gt;" in svg and "<net>" not in svg
    assert svg.count("<rect") == 2 and "-5.00" in svg
    assert 'fill="#9aa5b1"' in svg  # 08:00 is outside opening hours: grey


def test_empty_day_panel_says_why() -> None:
    location = StoredLocation("0001", 1, 1, "US/Eastern", 60, None, "Boston")
    html = render_panel(DayPanel(location, date(2025, 1, 1), (), None))
    assert "No buckets for this day" in html and "0001 Boston" in html
