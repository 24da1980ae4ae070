"""`lightspeed shops`: the config text it writes from API Shop records, and its refusals.

The run against the real API (emulator) is in tests/e2e/test_shops_cli_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lightspeed.cli import main
from lightspeed.config import load_config, parse_config
from lightspeed.shops_cli import render_config

# Shop records as the hook returns them: normalized, every scalar a string.
SHOPS = [
    {"shopID": "2", "name": 'Harbour "West" #2', "timeZone": "US/Pacific", "archived": "false"},
    {"shopID": "1", "name": "Downtown", "timeZone": "US/Eastern", "archived": "false"},
    {"shopID": "7", "name": "Old Mall", "timeZone": "America/Phoenix", "archived": "true"},
]


def test_render_config_round_trips_through_validation(tmp_path: Path) -> None:
    path = tmp_path / "shops.yaml"
    path.write_text(render_config(SHOPS, conn_id="ls_east", sensor="3d_scope"))
    config = load_config(path)
    (account,) = config.accounts
    assert account.conn_id == "ls_east"
    assert [(s.shop_id, s.location_id, s.time_zone, s.label) for s in account.shops] == [
        (1, "0001", "US/Eastern", "Downtown"),
        (2, "0002", "US/Pacific", 'Harbour "West" #2'),
        (7, "0007", "America/Phoenix", "Old Mall"),
    ]
    assert {s.sensor for s in account.shops} == {"3d_scope"}
    assert [s.shop_id for s in account.enabled_shops] == [1, 2], "archived shop written disabled"


def test_shop_without_time_zone_is_left_for_the_user() -> None:
    text = render_config([{"shopID": "3", "name": "New"}])
    assert "add time_zone" in text
    with pytest.raises(Exception, match=r"shops\[0\] \(shop_id 3\): missing `time_zone:`"):
        parse_config(yaml.safe_load(text))


def test_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "shops.yaml"
    existing.write_text("keep me\n")
    assert main(["shops", "--output", str(existing)]) == 2
    assert "already exists. Pass --force to overwrite it" in capsys.readouterr().err
    assert existing.read_text() == "keep me\n"


def test_unknown_sensor_is_refused_by_argparse(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["shops", "--output", str(tmp_path / "x.yaml"), "--sensor", "lidar"])
