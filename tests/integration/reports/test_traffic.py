"""`lightspeed traffic load`: idempotent upsert, the repeated autumn hour, whole-file errors."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg2
import pytest

from lightspeed.cli import main


def _count(dsn: str) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT location_id, interval_start, interval_minutes, visitors_in, visitors_out "
            "FROM lightspeed_agg.traffic ORDER BY 1, 2"
        )
        rows = cur.fetchall()
    conn.close()
    return rows


def test_load_is_idempotent_and_places_the_repeated_hour(
    warehouse_dsn: str,
    scenario: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario.rebuild_days(warehouse_dsn, scenario.BOSTON, (date(2025, 11, 2), date(2025, 11, 2)))
    path = tmp_path / "counter.csv"
    path.write_text(
        "Location ID,Date,Time,In,Out\n"
        "0001,2025-11-02,01:45,4,3\n"
        "0001,2025-11-02,01:45,6,5\n"  # the second 01:45, after the clocks went back
        "0001,2025-11-02,09:00,12,10\n"
    )
    args = ["traffic", "load", str(path), "--warehouse", warehouse_dsn]
    assert main(args) == 0
    assert "3 new, 0 updated, 0 unchanged" in capsys.readouterr().out
    rows = _count(warehouse_dsn)
    assert [(r[1].isoformat(), r[3]) for r in rows] == [
        ("2025-11-02T05:45:00+00:00", 4),
        ("2025-11-02T06:45:00+00:00", 6),
        ("2025-11-02T14:00:00+00:00", 12),
    ]
    assert main(args) == 0
    assert "0 new, 0 updated, 3 unchanged" in capsys.readouterr().out
    path.write_text(path.read_text().replace("09:00,12,10", "09:00,13,10"))
    assert main(args) == 0
    assert "0 new, 1 updated, 2 unchanged" in capsys.readouterr().out
    assert len(_count(warehouse_dsn)) == 3

    with psycopg2.connect(warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT local_start, traffic_in FROM lightspeed_agg.interval_report('2025-11-02', "
            "'2025-11-02', ARRAY['0001']) WHERE traffic_in IS NOT NULL ORDER BY 1"
        )
        assert cur.fetchall() == [
            (datetime(2025, 11, 2, 1, 45), 10),
            (datetime(2025, 11, 2, 9, 0), 13),
        ]
    conn.close()


def test_bad_file_loads_nothing_and_names_every_line(
    warehouse_dsn: str,
    scenario: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario.rebuild_days(warehouse_dsn, scenario.BOSTON, (date(2025, 3, 9), date(2025, 3, 9)))
    path = tmp_path / "bad.csv"
    path.write_text(
        "Location ID,Date,Time,In,Out\n"
        "0001,2025-03-09,09:00,5,5\n"
        "0001,2025-03-09,09:07,5,5\n"
        "0001,2025-03-09,02:15,5,5\n"
        "0009,2025-03-09,10:00,5,5\n"
        "0001,2025-03-09,10:00,-1,5\n"
        "0001,03/09/2025,10:00,1,5\n"
        "0001,2025-03-09,09:00,6,6\n"
    )
    assert main(["traffic", "load", str(path), "--warehouse", warehouse_dsn]) == 2
    err = capsys.readouterr().err
    assert "Nothing was loaded" in err
    assert "bad.csv line 3: Time 09:07 is not the start of a 15-minute interval" in err
    assert "bad.csv line 4: 2025-03-09 02:15 does not exist in US/Eastern" in err
    assert "bad.csv line 5: unknown Location ID '0009' (known: 0001)" in err
    assert "bad.csv line 6: In '-1'" in err
    assert "bad.csv line 7: Date '03/09/2025'" in err
    assert "bad.csv line 8: duplicate of line 2" in err
    assert "line 2:" not in err
    assert _count(warehouse_dsn) == []
