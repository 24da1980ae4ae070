"""Totaling, Data Export and dashboard through the CLI, checked against the answer key."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import psycopg2
import pytest

from lightspeed.cli import main
from lightspeed.dashboard import render_location_day
from lightspeed.traffic import load_traffic


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_hourly_export_matches_answer_key_to_the_cent(
    chain_warehouse: str, scenario: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "report",
        "export",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-03",
        "--warehouse",
        chain_warehouse,
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Location ID,Date,Hour,Sales,Transactions,Items,Staff"
    chain = scenario.build_chain()
    days = scenario.days_of(scenario.AUTUMN)
    expected = []
    for spec in scenario.LOCATIONS:
        hourly = scenario.expected_hourly(scenario.expected_buckets(chain, spec, days))
        expected += scenario.export_lines(spec, hourly, "%H")
    assert lines[1:] == expected
    boston_sunday = [line for line in lines if line.startswith("0001,2025-11-02,")]
    assert [line.split(",")[2] for line in boston_sunday] == [f"{h:02d}" for h in range(24)]


def test_spring_export_has_no_skipped_hour_and_15min_rows(
    chain_warehouse: str,
    scenario: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    output = tmp_path / "export.csv"
    code, out, err = run(
        capsys,
        "report",
        "export",
        "--from",
        "2025-03-09",
        "--to",
        "2025-03-09",
        "--grain",
        "15min",
        "--output",
        str(output),
        "--warehouse",
        chain_warehouse,
    )
    assert code == 0 and out == ""
    # The hourly PEARL shops cannot be split into quarters: skipped, and the user is told.
    assert "0002, 0003" in err and "--grain hour" in err
    lines = output.read_text().splitlines()
    expected = scenario.expected_buckets(
        scenario.build_chain(), scenario.BOSTON, [date(2025, 3, 9)]
    )
    assert lines[1:] == scenario.export_lines(scenario.BOSTON, expected, "%H:%M")
    assert len(lines) == 1 + 92
    assert not any(line.split(",")[2].startswith("02:") for line in lines[1:])
    assert lines[1].startswith("0001,2025-03-09,00:00,")


def test_15min_export_of_only_hourly_locations_is_an_error(
    chain_warehouse: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "report",
        "export",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-01",
        "--grain",
        "15min",
        "--location",
        "0002",
        "--warehouse",
        chain_warehouse,
    )
    assert code == 2 and out == ""
    assert "counted hourly (PEARL)" in err and "--grain hour" in err


def test_opening_hours_only_drops_out_of_hours_activity(
    chain_warehouse: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("report", "export", "--from", "2025-11-02", "--to", "2025-11-02", "--location", "0002")
    _, everything, _ = run(capsys, *args, "--warehouse", chain_warehouse)
    _, strict, _ = run(capsys, *args, "--opening-hours-only", "--warehouse", chain_warehouse)
    assert len(everything.splitlines()) > 1  # Phoenix sells on its closed Sunday
    assert strict.splitlines() == ["Location ID,Date,Hour,Sales,Transactions,Items,Staff"]


def _traffic_csv(path: Path) -> Path:
    rows = ["Location ID,Date,Time,In,Out"]
    rows += [f"0003,2025-11-02,{h:02d}:00,{10 + h},{9 + h}" for h in range(10, 24)]
    rows += ["0003,2025-11-02,01:00,7,7", "0003,2025-11-02,01:00,5,4"]  # the repeated hour
    rows += [f"0002,2025-11-03,{h:02d}:00,{20 + h},{20 + h}" for h in range(9, 13)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _expected_totals(scenario: SimpleNamespace) -> dict[str, dict[str, str]]:
    chain = scenario.build_chain()
    days = scenario.days_of(scenario.AUTUMN)
    traffic = {
        "0003": (
            {f"2025-11-02 {h:02d}:00" for h in range(10, 24)} | {"2025-11-02 01:00"},
            sum(10 + h for h in range(10, 24)) + 12,
        ),
        "0002": (
            {f"2025-11-03 {h:02d}:00" for h in range(9, 13)},
            sum(20 + h for h in range(9, 13)),
        ),
    }
    result: dict[str, dict[str, str]] = {}
    sums: dict[str, list] = {}
    for spec in scenario.LOCATIONS:
        table = scenario.expected_hourly(scenario.expected_buckets(chain, spec, days))
        covered_keys, visitors = traffic.get(spec.location_id, (set(), None))
        covered = table[[f"{ts:%Y-%m-%d %H:%M}" in covered_keys for ts in table.index]]
        sums[spec.location_id] = [
            sum(table["sales"], Decimal(0)),
            int(table["transactions"].sum()),
            sum(table["items"], Decimal(0)),
            Decimal(int(table["staff_seconds"].sum())) / 3600,
            visitors,
            sum(covered["sales"], Decimal(0)),
            int(covered["transactions"].sum()),
            Decimal(int(covered["staff_seconds"].sum())) / 3600,
        ]
    sums["Chain"] = [
        sum((s[i] for s in sums.values() if s[i] is not None), Decimal(0) if i != 4 else 0)
        for i in range(8)
    ]
    for name, (sales, txns, items, hours, visitors, t_sales, t_txns, t_hours) in sums.items():
        ratio = lambda a, b: None if not b else Decimal(a) / Decimal(b)  # noqa: E731
        result[name] = {
            "Sales": scenario.cents(sales),
            "Transactions": str(txns),
            "Items": scenario.items_text(items),
            "Staff hours": scenario.cents(hours),
            "ATV": scenario.cents(ratio(sales, txns)),
            "UPT": scenario.cents(ratio(items, txns)),
            "Sales/staff hour": scenario.cents(ratio(sales, hours)),
            "Traffic": "" if not visitors else str(visitors),
            "Conversion %": scenario.cents(None if not visitors else 100 * ratio(t_txns, visitors)),
            "Sales/shopper": scenario.cents(ratio(t_sales, visitors)),
            "STAR": scenario.cents(ratio(visitors, t_hours)),
        }
    return result


def test_totaling_with_traffic_matches_answer_key(
    chain_warehouse: str,
    scenario: SimpleNamespace,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, out, _ = run(
        capsys,
        "traffic",
        "load",
        str(_traffic_csv(tmp_path / "counter.csv")),
        "--warehouse",
        chain_warehouse,
    )
    assert code == 0 and "20 traffic rows" in out and "20 new" in out
    code, out, _ = run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-03",
        "--format",
        "csv",
        "--warehouse",
        chain_warehouse,
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = _expected_totals(scenario)
    got = {row["Location"].split(" ")[0]: row for row in rows}
    assert list(got) == ["0001", "0002", "0003", "Chain"]
    for name, figures in expected.items():
        assert {k: got[name][k] for k in figures} == figures, name


def test_totaling_table_and_json(chain_warehouse: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-03-08",
        "--to",
        "2025-03-10",
        "--location",
        "0001",
        "0003",
        "--warehouse",
        chain_warehouse,
    )
    assert code == 0
    title, blank, header, rule, *body = out.splitlines()
    assert title == "Totaling 2025-03-08 to 2025-03-10 (local business dates)" and blank == ""
    assert header.split("  ")[0] == "Location" and "Sales/staff hour" in header
    assert "Traffic" not in header  # no counter data: no traffic columns
    assert [line.split()[0] for line in body] == ["0001", "0003", "Chain"]
    # Aligned: every line ends at the same column, numbers right-aligned under their header.
    assert len({len(line) for line in [header, rule, *body]}) == 1

    code, out, _ = run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-03-08",
        "--to",
        "2025-03-10",
        "--format",
        "json",
        "--warehouse",
        chain_warehouse,
    )
    payload = json.loads(out)
    assert [loc["location_id"] for loc in payload["locations"]] == ["0001", "0002", "0003"]
    total = sum(Decimal(str(loc["sales"])) for loc in payload["locations"])
    assert abs(total - Decimal(str(payload["chain"]["sales"]))) <= Decimal("0.02")
    assert payload["chain"]["traffic"] is None and payload["chain"]["conversion_pct"] is None


def test_unknown_location_and_reversed_range_are_clear_errors(
    chain_warehouse: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-02",
        "--location",
        "0009",
        "--warehouse",
        chain_warehouse,
    )
    assert code == 2 and "Unknown location(s) 0009; known: 0001, 0002, 0003" in err
    code, _, err = run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-11-03",
        "--to",
        "2025-11-01",
        "--warehouse",
        chain_warehouse,
    )
    assert code == 2 and "after --to" in err


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_dashboard_is_self_contained(
    chain_warehouse: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "dash.html"
    code, out, _ = run(
        capsys,
        "report",
        "dashboard",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-03",
        "--output",
        str(output),
        "--warehouse",
        chain_warehouse,
    )
    assert code == 0 and str(output) in out
    page = output.read_text()
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert not [a for a in parser.attrs if a[0] in ("src", "href")]
    assert "url(" not in page and "@import" not in page
    assert parser.tags.count("section") == 9  # 3 locations x 3 days
    assert parser.tags.count("svg") == 9 * 4
    assert "0001 Boston" in page and "0003 Hartford" in page

    # The Totaling beside the charts is the Totaling of the CLI.
    run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-03",
        "--format",
        "csv",
        "--warehouse",
        chain_warehouse,
    )
    code, out, _ = run(
        capsys,
        "report",
        "totaling",
        "--from",
        "2025-11-01",
        "--to",
        "2025-11-03",
        "--format",
        "csv",
        "--warehouse",
        chain_warehouse,
    )
    chain_sales = list(csv.DictReader(io.StringIO(out)))[-1]["Sales"]
    assert f"<td>{chain_sales}</td>" in page


def test_one_location_day_fragment(chain_warehouse: str, tmp_path: Path) -> None:
    load_conn = psycopg2.connect(chain_warehouse)
    try:
        path = tmp_path / "t.csv"
        path.write_text("Location ID,Date,Time,In,Out\n0001,2025-11-02,09:15,3,2\n")
        load_traffic(load_conn, path)
        fragment = render_location_day(load_conn, "0001", date(2025, 11, 2))
        page = render_location_day(load_conn, "0001", date(2025, 11, 2), standalone=True)
    finally:
        load_conn.close()
    assert fragment.startswith("<section") and fragment.count("<svg") == 5  # + traffic chart
    assert page.startswith("<!DOCTYPE html>") and fragment in page
