"""`lightspeed shops`: write a starting chain config from the shops the Lightspeed API reports.

The API knows each shop's ID, name and time zone; it does not know which people counter a
shop has or its opening hours, so the file is a start to review (sensor for all shops from
--sensor, whole-day hours). The written text is validated like the DAG file will read it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from lightspeed.config import (
    CONFIG_ENV,
    DEFAULT_LIGHTSPEED_CONN_ID,
    DEFAULT_WAREHOUSE_CONN_ID,
    SENSOR_INTERVAL_MINUTES,
    parse_config,
)
from lightspeed.errors import ConfigError


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shops",
        help="write a starting chain config (include/shops.yaml) from the API's shops",
        description="List the account's shops through the API and write a chain config for "
        "them. Review the sensor and add opening hours before deploying.",
    )
    parser.add_argument(
        "--conn-id",
        default=DEFAULT_LIGHTSPEED_CONN_ID,
        help="Lightspeed Airflow connection (default: %(default)s)",
    )
    parser.add_argument(
        "--output",
        default=os.environ.get(CONFIG_ENV) or "include/shops.yaml",
        help=f"file to write (default: ${CONFIG_ENV} or %(default)s)",
    )
    parser.add_argument(
        "--sensor",
        default="pearl",
        choices=sorted(SENSOR_INTERVAL_MINUTES),
        help="people counter of every shop, to review per shop (default: %(default)s)",
    )
    parser.add_argument(
        "--warehouse",
        default=None,
        help="token store: Airflow connection id or PostgreSQL DSN (default: the "
        "connection's token_store_conn_id)",
    )
    parser.add_argument(
        "--warehouse-conn-id",
        default=DEFAULT_WAREHOUSE_CONN_ID,
        help="warehouse connection written into the config (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.force:
        raise ConfigError(
            f"{output} already exists. Pass --force to overwrite it, or --output another file."
        )
    shops = fetch_shops(args.conn_id, args.warehouse)
    text = render_config(
        shops,
        conn_id=args.conn_id,
        warehouse_conn_id=args.warehouse_conn_id,
        sensor=args.sensor,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    try:
        config = parse_config(yaml.safe_load(text), source=str(output))
    except ConfigError as exc:
        # Written anyway: the user fixes the named entry instead of starting over.
        raise ConfigError(f"Wrote {output}, but edit it before use: {exc}") from None
    account = config.accounts[0]
    print(f"Wrote {output}: {len(account.shops)} shops ({len(account.enabled_shops)} enabled).")
    for shop in account.shops:
        state = "" if shop.enabled else "  (archived: disabled)"
        print(f"  shop {shop.shop_id:>5} -> {shop.dag_id}  {shop.time_zone}{state}")
    print(
        f"Review each shop's sensor and opening hours. The API tasks share the pool "
        f"{account.pool}: create it with `airflow pools set {account.pool} 4 "
        f"'Lightspeed account {account.conn_id}'`."
    )
    return 0


def fetch_shops(conn_id: str, warehouse: str | None) -> list[dict]:
    """The account's shops, archived ones included (written disabled, so they stay visible)."""
    from lightspeed.hook import LightspeedHook

    hook = LightspeedHook(lightspeed_conn_id=conn_id, warehouse=warehouse, allow_metadata_db=True)
    return hook.get_shops(include_archived=True)


def render_config(
    shops: Iterable[Mapping[str, Any]],
    *,
    conn_id: str = DEFAULT_LIGHTSPEED_CONN_ID,
    warehouse_conn_id: str = DEFAULT_WAREHOUSE_CONN_ID,
    sensor: str = "pearl",
) -> str:
    """The YAML text of a chain config for these API Shop records (shopID, name, timeZone)."""
    lines = [
        "# Chain config written by `lightspeed shops` from the Lightspeed API.",
        "# Review: the sensor of each shop (pearl = hourly, 3d_scope = 15-minute buckets) and",
        '# opening hours (e.g. opening_hours: {mon-sat: "09:00-21:00", sun: closed}; omitted =',
        "# the whole day). location_id defaults to the shop ID padded to 4 digits.",
        f"connection: {conn_id}",
        f"warehouse: {warehouse_conn_id}",
        "defaults:",
        "  initial_days: 3",
        "  lookback_hours: 48",
        "shops:",
    ]
    records = sorted(shops, key=lambda shop: int(shop["shopID"]))
    if not records:
        raise ConfigError(
            "The API reports no shops for this account: check that the authorization is for "
            "the right account (`lightspeed authorize`)."
        )
    for shop in records:
        lines += _shop_lines(shop, sensor)
    return "\n".join(lines) + "\n"


def _shop_lines(shop: Mapping[str, Any], sensor: str) -> list[str]:
    time_zone = str(shop.get("timeZone") or "").strip()
    lines = [f"  - shop_id: {int(shop['shopID'])}"]
    if shop.get("name"):
        lines.append(f"    label: {json.dumps(str(shop['name']), ensure_ascii=False)}")
    lines.append(f"    sensor: {sensor}")
    if time_zone:
        lines.append(f"    time_zone: {json.dumps(time_zone)}")
    else:
        # Left for the user to fill: validation names this shop and what to write.
        lines.append("    # Lightspeed reports no timeZone for this shop: add time_zone.")
    if str(shop.get("archived", "false")).lower() == "true":
        lines.append("    enabled: false  # archived in Lightspeed")
    return lines
