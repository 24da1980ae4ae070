"""Unit tests of the chain config: what a valid file gives, and one clear message per mistake."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import yaml

from lightspeed.config import (
    END_OF_DAY,
    Defaults,
    default_config_path,
    load_config,
    parse_config,
    spread_minute,
)
from lightspeed.errors import ConfigError, LightspeedError

REPO = Path(__file__).resolve().parents[2]


def _shop(**overrides: object) -> dict:
    shop = {"shop_id": 1, "sensor": "pearl", "time_zone": "US/Eastern"}
    shop.update(overrides)
    return shop


def _error(document: object, tmp_path: Path) -> str:
    """Write the document as YAML, load it, return the ConfigError message."""
    path = tmp_path / "shops.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), "every message names the file"
    return message


def test_minimal_config_gets_defaults() -> None:
    config = parse_config({"shops": [_shop()]})
    assert config.warehouse_conn_id == "lightspeed_warehouse"
    assert config.defaults == Defaults(initial_days=3, lookback_hours=48)
    (account,) = config.accounts
    assert account.conn_id == "lightspeed_default"
    assert account.pool == "lightspeed_lightspeed_default"
    assert account.dag_id == "lightspeed_account_lightspeed_default"
    (shop,) = account.shops
    assert (shop.location_id, shop.enabled, shop.label, shop.opening_hours) == (
        "0001",
        True,
        None,
        None,
    )
    assert shop.dag_id == "lightspeed_shop_0001"
    assert shop.interval_minutes == 60


def test_sensor_sets_the_bucket_length() -> None:
    config = parse_config({"shops": [_shop(), _shop(shop_id=2, sensor="3d_scope")]})
    assert [s.interval_minutes for s in config.accounts[0].shops] == [60, 15]


def test_location_id_default_pads_to_four_digits_and_override_is_explicit() -> None:
    config = parse_config(
        {
            "shops": [
                _shop(shop_id=7),
                _shop(shop_id=12345),
                _shop(shop_id=8, location_id="0008"),
                _shop(shop_id=9, location_id="X-9", location_id_override=True),
            ]
        }
    )
    assert [s.location_id for s in config.accounts[0].shops] == ["0007", "12345", "0008", "X-9"]


def test_opening_hours_days_ranges_closed_and_midnight() -> None:
    hours = {"mon-fri": "09:00-21:00", "sat": "10:00 - 24:00", "sun": "closed"}
    (shop,) = parse_config({"shops": [_shop(opening_hours=hours)]}).accounts[0].shops
    by_day = shop.opening_hours_by_weekday()
    assert by_day is not None
    assert by_day[0] == by_day[4] == (time(9), time(21))
    assert by_day[5] == (time(10), END_OF_DAY)
    assert 6 not in by_day, "a closed day is absent, as aggregates.LocationSpec expects"
    daily = parse_config({"shops": [_shop(opening_hours={"daily": "08:30-17:00"})]})
    assert len(daily.accounts[0].shops[0].opening_hours or ()) == 7


def test_several_accounts_share_one_warehouse() -> None:
    config = parse_config(
        {
            "warehouse": "wh",
            "accounts": [
                {"connection": "ls_east", "shops": [_shop()]},
                {
                    "connection": "ls_west",
                    "shops": [_shop(location_id="W001", location_id_override=True)],
                },
            ],
        }
    )
    assert [a.conn_id for a in config.accounts] == ["ls_east", "ls_west"]
    assert [a.pool for a in config.accounts] == ["lightspeed_ls_east", "lightspeed_ls_west"]


def test_disabled_shops_are_kept_but_not_enabled() -> None:
    config = parse_config({"shops": [_shop(), _shop(shop_id=2, enabled=False)]})
    assert [s.shop_id for s in config.accounts[0].enabled_shops] == [1]
    assert len(config.accounts[0].shops) == 2


def test_checked_in_configs_are_valid() -> None:
    for path in (REPO / "include" / "shops.yaml", REPO / "tests" / "fixtures" / "shops.yaml"):
        config = load_config(path)
        assert config.accounts[0].enabled_shops


def test_config_path_from_env_or_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIGHTSPEED_SHOPS_CONFIG", str(tmp_path / "x.yaml"))
    assert default_config_path(REPO) == tmp_path / "x.yaml"
    monkeypatch.delenv("LIGHTSPEED_SHOPS_CONFIG")
    assert default_config_path(tmp_path) == tmp_path / "include" / "shops.yaml"


def test_spread_minute_is_stable_and_in_range() -> None:
    minutes = {spread_minute(f"{i:04d}", 15) for i in range(1, 200)}
    assert minutes <= set(range(15)) and len(minutes) > 10
    # crc32 is fixed: the scheduler, dag-processor and workers must agree across processes.
    assert spread_minute("0001", 60) == spread_minute("0001", 60) == 16


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"shops": [_shop(sensor="pearl2")]},
            "shops[0] (shop_id 1): unknown sensor 'pearl2'. Use one of: pearl, 3d_scope.",
        ),
        (
            {"shops": [_shop(location_id="0002")]},
            "shops[0] (shop_id 1): location ID '0002' does not match the shop ID (expected '0001')",
        ),
        (
            {"shops": [_shop(), _shop(time_zone="US/Pacific")]},
            "shops[1] (shop_id 1): duplicate "
            "shop: shop_id 1 is already shops[0]. Keep one entry per shop.",
        ),
        (
            {"shops": [_shop(), _shop(shop_id=2, location_id="0001", location_id_override=True)]},
            "shops[1] (shop_id 2): duplicate location ID '0001': shops[0] (shop_id 1) already uses it",
        ),
        (
            {"shops": [_shop(time_zone="Mars/Olympus")]},
            "shops[0] (shop_id 1): unknown time zone 'Mars/Olympus'. Use an IANA name",
        ),
        ({"shops": [{"sensor": "pearl", "time_zone": "UTC"}]}, "shops[0]: missing `shop_id:`"),
        (
            {"shops": [_shop(opening_hours={"mon-sun": "21:00-09:00"})]},
            "bad opening hours for mon-sun: '21:00-09:00' closes before it opens",
        ),
        (
            {"shops": [_shop(opening_hours={"mon-fri": "09:00-17:00"})]},
            "bad opening hours: sat, sun missing (give hours or `closed`)",
        ),
        (
            {"shops": [_shop(opening_hours={"monday": "09:00-17:00"})]},
            "bad opening hours: unknown day 'monday'",
        ),
        ({"shops": [_shop(opening_hours={"daily": "9am-5pm"})]}, "'9am-5pm' is not HH:MM-HH:MM"),
        (
            {"shops": [_shop(opening_hours={"daily": "09:00-17:00", "sun": "closed"})]},
            "bad opening hours: sun is given twice",
        ),
        ({"shops": [_shop(sensor=None)]}, "missing `sensor:`. Use one of: pearl, 3d_scope."),
        ({"shops": [_shop(time_zone=None)]}, "missing `time_zone:`"),
        ({"shops": [_shop(shop_id=0)]}, "`shop_id: 0` must be a positive whole number"),
        ({"shops": [_shop(sensr="pearl")]}, "unknown key 'sensr'. Allowed keys:"),
        ({"shops": [_shop(enabled="no way")]}, "`enabled: 'no way'` must be true or false"),
        ({"shops": []}, "shops: must be a non-empty list of shops"),
        (
            {"shops": [_shop()], "defaults": {"initial_days": 0}},
            "`initial_days: 0` must be a whole number between 1 and 3650",
        ),
        ({"shops": [_shop()], "connection": "bad id!"}, "is not a valid Airflow connection id"),
        ({"shops": [_shop()], "accounts": []}, "use either `accounts:`"),
        (
            {
                "accounts": [
                    {"connection": "a", "shops": [_shop()]},
                    {"connection": "b", "shops": [_shop()]},
                ]
            },
            "accounts[1].shops[0] (shop_id 1): duplicate location ID '0001': "
            "accounts[0].shops[0] (shop_id 1) already uses it",
        ),
    ],
)
def test_each_mistake_gives_one_clear_message(
    document: dict, expected: str, tmp_path: Path
) -> None:
    message = _error(document, tmp_path)
    assert expected in message
    assert message.count("\n") == 0


def test_unquoted_location_id_is_refused(tmp_path: Path) -> None:
    # YAML 1.1 reads 0010 as octal 8: accepting numbers would silently rename a location.
    text = "shops:\n  - {shop_id: 10, location_id: 0010, sensor: pearl, time_zone: UTC}\n"
    assert 'must be quoted text, e.g. `location_id: "0010"`' in _error(text, tmp_path)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    message = _error("shops:\n  - shop_id: 1\n   sensor: [pearl\n", tmp_path)
    assert "not valid YAML at line" in message


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="chain config not found. Write one with `lightspeed shops"
    ):
        load_config(tmp_path / "nope.yaml")
    assert "the file is empty" in _error("", tmp_path)


def test_config_error_is_a_lightspeed_error() -> None:
    assert issubclass(ConfigError, LightspeedError)
