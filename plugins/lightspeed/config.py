"""The chain config (include/shops.yaml): which shops to import and how, validated up front.

The DAG file reads this at every parse, so loading is pure (no network, no database, no
Airflow) and cheap. Every mistake is one `ConfigError` naming the file, the shop entry and
what to change, because a half-valid config would silently drop a shop's DAG.

Shape (one Lightspeed account, the common case)::

    connection: lightspeed_default     # Airflow connection of the Lightspeed account
    warehouse: lightspeed_warehouse    # Airflow connection of the PostgreSQL warehouse
    defaults: {initial_days: 3, lookback_hours: 48}
    shops:
      - shop_id: 1
        sensor: pearl                  # pearl (hourly) or 3d_scope (15 minutes)
        time_zone: US/Eastern
        label: Downtown
        opening_hours: {mon-sat: "09:00-21:00", sun: closed}

Several accounts: replace `connection` + `shops` by `accounts: [{connection, shops}, ...]`.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from lightspeed.errors import ConfigError

CONFIG_ENV = "LIGHTSPEED_SHOPS_CONFIG"
DEFAULT_LIGHTSPEED_CONN_ID = "lightspeed_default"
DEFAULT_WAREHOUSE_CONN_ID = "lightspeed_warehouse"

# Bucket length of each people-counter model: T.M.A.S. joins sales to traffic per bucket.
SENSOR_INTERVAL_MINUTES: dict[str, int] = {"pearl": 60, "3d_scope": 15}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = time(0)  # "24:00": a closing time of 00:00 means midnight, as in aggregates

# Airflow ids (dag_id, pool) are built from these, so only characters valid there are allowed.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_HOURS_PATTERN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")

_TOP_KEYS = {"connection", "warehouse", "defaults", "shops", "accounts"}
_ACCOUNT_KEYS = {"connection", "shops"}
_SHOP_KEYS = {
    "shop_id",
    "location_id",
    "location_id_override",
    "sensor",
    "time_zone",
    "label",
    "enabled",
    "opening_hours",
}


@dataclass(frozen=True)
class Defaults:
    """Tuning shared by every shop; each has a safe default so most configs omit them."""

    initial_days: int = 3  # history a new shop's first run reaches back (T.M.A.S. does 3)
    lookback_hours: int = 48  # re-read behind the watermark: late voids and edits
    retries: int = 3
    retry_delay_seconds: int = 60
    max_retry_delay_minutes: int = 15
    max_quarantine_ratio: float = 0.01


_DEFAULT_LIMITS: dict[str, tuple[type, float, float]] = {
    "initial_days": (int, 1, 3650),
    "lookback_hours": (int, 0, 24 * 30),
    "retries": (int, 0, 20),
    "retry_delay_seconds": (int, 1, 3600),
    "max_retry_delay_minutes": (int, 1, 24 * 60),
    "max_quarantine_ratio": (float, 0, 1),
}


_KIND_NAMES = {int: "a whole number", float: "a number"}


@dataclass(frozen=True)
class ShopConfig:
    """One Lightspeed shop = one T.M.A.S. location = one DAG."""

    shop_id: int
    location_id: str
    sensor: str
    time_zone: str
    label: str | None = None
    enabled: bool = True
    # (weekday 0=Mon, open, close) local times; None = open the whole day, every day.
    opening_hours: tuple[tuple[int, time, time], ...] | None = None

    @property
    def interval_minutes(self) -> int:
        return SENSOR_INTERVAL_MINUTES[self.sensor]

    @property
    def dag_id(self) -> str:
        return f"lightspeed_shop_{self.location_id}"

    def opening_hours_by_weekday(self) -> dict[int, tuple[time, time]] | None:
        """The shape aggregates.LocationSpec takes: a missing weekday is a closed day."""
        if self.opening_hours is None:
            return None
        return {day: (opens, closes) for day, opens, closes in self.opening_hours}


@dataclass(frozen=True)
class AccountConfig:
    """One Lightspeed account (one Airflow connection) and its shops."""

    conn_id: str
    shops: tuple[ShopConfig, ...]

    @property
    def enabled_shops(self) -> tuple[ShopConfig, ...]:
        return tuple(shop for shop in self.shops if shop.enabled)

    @property
    def pool(self) -> str:
        """All API tasks of the account share this pool: one rate-limit bucket per account."""
        return f"lightspeed_{self.conn_id}"

    @property
    def dag_id(self) -> str:
        return f"lightspeed_account_{self.conn_id}"


@dataclass(frozen=True)
class ChainConfig:
    path: str
    warehouse_conn_id: str
    defaults: Defaults
    accounts: tuple[AccountConfig, ...] = field(default_factory=tuple)

    @property
    def pools(self) -> tuple[str, ...]:
        """Airflow pools the DAGs use: create them (`airflow pools set NAME SLOTS DESC`),
        the scheduler does not run tasks of a pool that does not exist."""
        return tuple(account.pool for account in self.accounts)


def default_config_path(project_dir: str | os.PathLike[str] | None = None) -> Path:
    """LIGHTSPEED_SHOPS_CONFIG if set, else include/shops.yaml under `project_dir`.

    The DAG file passes its folder's parent, so a deployment that installs this package
    elsewhere still finds the config next to its dags/ folder.
    """
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    root = Path(project_dir) if project_dir is not None else Path(__file__).resolve().parents[2]
    return root / "include" / "shops.yaml"


def spread_minute(key: str, period: int) -> int:
    """A stable minute offset in [0, period) for `key`, so DAGs don't all fire at :00.

    crc32, not hash(): Python salts str hashes per process, and the schedule must be the
    same in the dag-processor, the scheduler and every worker.
    """
    return zlib.crc32(key.encode()) % period


def load_config(path: str | os.PathLike[str] | None = None) -> ChainConfig:
    """Read and validate the chain config; raise ConfigError with one actionable message."""
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: chain config not found. Write one with `lightspeed shops --output {file}` "
            f"or point {CONFIG_ENV} at yours."
        ) from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file}: not valid YAML{where}: {problem}. Fix the syntax.") from None
    return parse_config(document, source=str(file))


def parse_config(document: Any, *, source: str = "<config>") -> ChainConfig:
    """Validate an already-parsed YAML document (tests and `lightspeed shops` use this)."""
    return _Parser(source).chain(document)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ConfigError:
        prefix = f"{self.source}: {where}: " if where else f"{self.source}: "
        return ConfigError(prefix + message)

    def chain(self, document: Any) -> ChainConfig:
        if document is None:
            raise self.fail("", "the file is empty. Add `connection:` and a `shops:` list.")
        if not isinstance(document, dict):
            raise self.fail("", "the top level must be a mapping with `connection:` and `shops:`.")
        self.unknown_keys(document, _TOP_KEYS, "top level")
        warehouse = self.conn_id(document, "warehouse", DEFAULT_WAREHOUSE_CONN_ID, "top level")
        defaults = self.defaults(document.get("defaults"))
        if "accounts" in document:
            if "shops" in document or "connection" in document:
                raise self.fail(
                    "top level",
                    "use either `accounts:` (several Lightspeed accounts) or `connection:` + "
                    "`shops:` (one account), not both.",
                )
            accounts = self.accounts(document["accounts"])
        else:
            accounts = (self.account(document, "top level", "shops"),)
        self.check_unique_across_accounts(accounts)
        return ChainConfig(self.source, warehouse, defaults, accounts)

    def unknown_keys(self, mapping: dict, allowed: set[str], where: str) -> None:
        unknown = sorted(str(key) for key in mapping if key not in allowed)
        if unknown:
            raise self.fail(
                where,
                f"unknown key {unknown[0]!r}. Allowed keys: {', '.join(sorted(allowed))}.",
            )

    def conn_id(self, mapping: dict, key: str, default: str, where: str) -> str:
        value = mapping.get(key, default)
        if not isinstance(value, str) or not _ID_PATTERN.match(value):
            raise self.fail(
                where,
                f"`{key}: {value!r}` is not a valid Airflow connection id. Use letters, digits "
                "and _ . - only (e.g. lightspeed_default).",
            )
        return value

    def defaults(self, raw: Any) -> Defaults:
        if raw is None:
            return Defaults()
        if not isinstance(raw, dict):
            raise self.fail("defaults", "must be a mapping, e.g. `defaults: {initial_days: 3}`.")
        self.unknown_keys(raw, set(_DEFAULT_LIMITS), "defaults")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            kind, low, high = _DEFAULT_LIMITS[key]
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if kind is int and not isinstance(value, int):
                numeric = False
            if not numeric or not low <= value <= high:
                raise self.fail(
                    "defaults",
                    f"`{key}: {value!r}` must be {_KIND_NAMES[kind]} between {low:g} and {high:g}.",
                )
            values[key] = kind(value)
        return Defaults(**values)

    def accounts(self, raw: Any) -> tuple[AccountConfig, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(
                "accounts", "must be a non-empty list of `{connection: ..., shops: [...]}`."
            )
        accounts = []
        seen: set[str] = set()
        for index, entry in enumerate(raw):
            where = f"accounts[{index}]"
            if not isinstance(entry, dict):
                raise self.fail(where, "must be a mapping with `connection:` and `shops:`.")
            self.unknown_keys(entry, _ACCOUNT_KEYS, where)
            if "connection" not in entry:
                raise self.fail(
                    where, "missing `connection:` (the Lightspeed Airflow connection id)."
                )
            account = self.account(entry, where, f"{where}.shops")
            if account.conn_id in seen:
                raise self.fail(
                    where,
                    f"connection {account.conn_id!r} is listed twice. Put all its shops under one entry.",
                )
            seen.add(account.conn_id)
            accounts.append(account)
        return tuple(accounts)

    def account(self, mapping: dict, where: str, shops_where: str) -> AccountConfig:
        conn_id = self.conn_id(mapping, "connection", DEFAULT_LIGHTSPEED_CONN_ID, where)
        raw_shops = mapping.get("shops")
        if not isinstance(raw_shops, list) or not raw_shops:
            raise self.fail(
                shops_where,
                "must be a non-empty list of shops (`- shop_id: 1`, `sensor: pearl`, ...). "
                "`lightspeed shops` writes a starting list from the API.",
            )
        shops = tuple(
            self.shop(entry, f"{shops_where}[{index}]") for index, entry in enumerate(raw_shops)
        )
        seen: dict[int, int] = {}
        for index, shop in enumerate(shops):
            if shop.shop_id in seen:
                raise self.fail(
                    f"{shops_where}[{index}] (shop_id {shop.shop_id})",
                    f"duplicate shop: shop_id {shop.shop_id} is already {shops_where}"
                    f"[{seen[shop.shop_id]}]. Keep one entry per shop.",
                )
            seen[shop.shop_id] = index
        return AccountConfig(conn_id, shops)

    def check_unique_across_accounts(self, accounts: tuple[AccountConfig, ...]) -> None:
        # Location IDs name the DAGs and the T.M.A.S. locations: unique across the whole chain.
        seen: dict[str, str] = {}
        for number, account in enumerate(accounts):
            prefix = f"accounts[{number}].shops" if len(accounts) > 1 else "shops"
            for index, shop in enumerate(account.shops):
                here = f"{prefix}[{index}] (shop_id {shop.shop_id})"
                if shop.location_id in seen:
                    raise self.fail(
                        here,
                        f"duplicate location ID {shop.location_id!r}: {seen[shop.location_id]} "
                        "already uses it. Give one of them another `location_id` "
                        "(with `location_id_override: true`).",
                    )
                seen[shop.location_id] = here

    def shop(self, raw: Any, where: str) -> ShopConfig:
        if not isinstance(raw, dict):
            raise self.fail(where, "each shop must be a mapping, e.g. `- shop_id: 1`.")
        if "shop_id" not in raw:
            raise self.fail(where, "missing `shop_id:` (the Lightspeed shopID, e.g. `shop_id: 1`).")
        shop_id = self.shop_id(raw["shop_id"], where)
        where = f"{where} (shop_id {shop_id})"
        self.unknown_keys(raw, _SHOP_KEYS, where)
        return ShopConfig(
            shop_id=shop_id,
            location_id=self.location_id(raw, shop_id, where),
            sensor=self.sensor(raw.get("sensor"), where),
            time_zone=self.time_zone(raw.get("time_zone"), where),
            label=self.label(raw.get("label"), where),
            enabled=self.flag(raw, "enabled", True, where),
            opening_hours=self.opening_hours(raw.get("opening_hours"), where),
        )

    def shop_id(self, value: Any, where: str) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise self.fail(where, f"`shop_id: {value!r}` must be a positive whole number.")
        return value

    def location_id(self, raw: dict, shop_id: int, where: str) -> str:
        expected = f"{shop_id:04d}"
        override = self.flag(raw, "location_id_override", False, where)
        value = raw.get("location_id")
        if value is None:
            if override:
                raise self.fail(where, "`location_id_override: true` needs a `location_id:`.")
            return expected
        if not isinstance(value, str):
            # YAML reads 0010 as the octal number 8: an unquoted ID would be silently wrong.
            raise self.fail(
                where,
                f'`location_id: {value!r}` must be quoted text, e.g. `location_id: "{expected}"`.',
            )
        if not _ID_PATTERN.match(value):
            raise self.fail(
                where,
                f"`location_id: {value!r}` may only contain letters, digits and _ . -",
            )
        if value != expected and not override:
            raise self.fail(
                where,
                f"location ID {value!r} does not match the shop ID (expected {expected!r}). "
                f"Remove `location_id` to use {expected!r}, or add `location_id_override: true` "
                "if this location really has another T.M.A.S. ID.",
            )
        return value

    def sensor(self, value: Any, where: str) -> str:
        allowed = ", ".join(SENSOR_INTERVAL_MINUTES)
        if value is None:
            raise self.fail(where, f"missing `sensor:`. Use one of: {allowed}.")
        if value not in SENSOR_INTERVAL_MINUTES:
            raise self.fail(where, f"unknown sensor {value!r}. Use one of: {allowed}.")
        return value

    def time_zone(self, value: Any, where: str) -> str:
        if value is None:
            raise self.fail(
                where,
                "missing `time_zone:`. Use the shop's Lightspeed timeZone, e.g. US/Eastern.",
            )
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                where,
                f"unknown time zone {value!r}. Use an IANA name such as America/New_York or "
                "US/Eastern (the shop's timeZone in Lightspeed).",
            ) from None
        return value

    def label(self, value: Any, where: str) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise self.fail(where, f"`label: {value!r}` must be text.")

    def flag(self, raw: dict, key: str, default: bool, where: str) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(where, f"`{key}: {value!r}` must be true or false.")
        return value

    def opening_hours(self, raw: Any, where: str) -> tuple[tuple[int, time, time], ...] | None:
        if raw is None:
            return None
        hint = (
            'Write e.g. `opening_hours: {mon-fri: "09:00-21:00", sat: "10:00-18:00", '
            "sun: closed}` (or `daily: ...`), covering every day."
        )
        if not isinstance(raw, Mapping) or not raw:
            raise self.fail(where, f"bad opening hours. {hint}")
        found: dict[int, tuple[time, time] | None] = {}
        for key, value in raw.items():
            for day in self.days(key, where, hint):
                if day in found:
                    raise self.fail(
                        where, f"bad opening hours: {WEEKDAYS[day]} is given twice. {hint}"
                    )
                found[day] = self.hours(value, key, where, hint)
        missing = [WEEKDAYS[day] for day in range(7) if day not in found]
        if missing:
            raise self.fail(
                where,
                f"bad opening hours: {', '.join(missing)} missing (give hours or `closed`). {hint}",
            )
        return tuple(
            (day, span[0], span[1]) for day, span in sorted(found.items()) if span is not None
        )

    def days(self, key: Any, where: str, hint: str) -> list[int]:
        text = str(key).strip().lower()
        if text == "daily":
            return list(range(7))
        first, _, last = text.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise self.fail(where, f"bad opening hours: unknown day {key!r}. {hint}")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise self.fail(where, f"bad opening hours: day range {key!r} runs backwards. {hint}")
        return list(range(start, end + 1))

    def hours(self, value: Any, key: Any, where: str, hint: str) -> tuple[time, time] | None:
        if isinstance(value, str) and value.strip().lower() == "closed":
            return None
        match = _HOURS_PATTERN.match(value.strip()) if isinstance(value, str) else None
        if not match:
            raise self.fail(
                where,
                f"bad opening hours for {key}: {value!r} is not HH:MM-HH:MM or closed. {hint}",
            )
        oh, om, ch, cm = (int(part) for part in match.groups())
        if oh > 23 or om > 59 or cm > 59 or ch > 24 or (ch == 24 and cm):
            raise self.fail(where, f"bad opening hours for {key}: {value!r} is not a time of day.")
        opens = time(oh, om)
        closes = END_OF_DAY if ch == 24 else time(ch, cm)
        if closes != END_OF_DAY and closes <= opens:
            raise self.fail(
                where,
                f"bad opening hours for {key}: {value!r} closes before it opens. Hours past "
                "midnight are not supported: close at 24:00.",
            )
        return opens, closes
