"""Which slice of an entity a run reads: from the stored watermark and the API's clock.

Windows never come from Airflow's data interval (zero-width or None for cron and manual
runs in Airflow 3.3) nor from the local clock: `server_now` is the API's own time (its Date
header), so an emulator pinned in the past, or a worker whose clock drifts, still reads the
right records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import psycopg2.extensions

from lightspeed.entities import Entity

log = logging.getLogger(__name__)

Mode = Literal["incremental", "initial", "days_back", "backfill", "full"]

DEFAULT_LOOKBACK = timedelta(hours=48)
DEFAULT_INITIAL_DAYS = 3
# Longest plausible shift: EmployeeHours has no timeStamp, so an edit (a late check-out, a
# corrected check-in) is only seen by re-reading every shift that could still be changing.
SHIFT_BOUND = timedelta(days=2)


@dataclass(frozen=True)
class Window:
    """The records one run reads: `field` within [start, end] (both inclusive, as `><`).

    Attributes:
        field: The API field filtered on (timeStamp, completeTime, checkIn), None for full.
        start: Lower bound, None for "from the beginning".
        end: Upper bound: the API's clock when the run was planned.
        mode: Why this window: incremental (from the watermark), initial (first run),
            days_back (an explicit re-read), backfill (a given range), full (whole table).
    """

    field: str | None
    start: datetime | None
    end: datetime
    mode: Mode

    def params(self) -> dict[str, Any]:
        """The hook filter for this window (the API's `><` is inclusive at both ends)."""
        if self.field is None:
            return {}
        if self.start is None:
            return {self.field: ("<=", self.end)}
        return {self.field: ("><", self.start, self.end)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat(),
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        """The inverse of `as_dict` (a window travelling through XCom)."""
        start = data.get("start")
        return cls(
            field=data.get("field"),
            start=_parse(start) if start else None,
            end=_parse(data["end"]),
            mode=data["mode"],
        )


def _parse(value: str | datetime) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"window bound {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def read_watermark(
    conn: psycopg2.extensions.connection, entity: Entity, *, account_id: int, shop_id: int | None
) -> datetime | None:
    """The stored high-water mark of (account, entity, shop), None before the first run."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT high_water FROM lightspeed_staging.watermark "
            "WHERE account_id = %s AND entity = %s AND shop_id = %s",
            (account_id, entity.name, shop_id or 0),
        )
        row = cur.fetchone()
    return row[0].astimezone(UTC) if row else None


def plan_window(
    conn: psycopg2.extensions.connection,
    entity: Entity,
    *,
    account_id: int,
    shop_id: int | None,
    server_now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    initial_days: int = DEFAULT_INITIAL_DAYS,
    days_back: int = 0,
    backfill_range: tuple[datetime, datetime] | None = None,
) -> Window:
    """The window the next run of `entity` for `shop_id` reads.

    Precedence: an explicit backfill range, then days_back, then full reloads, then the
    watermark (incremental), else the initial window.

    Args:
        conn: Warehouse connection (reads lightspeed_staging.watermark only).
        entity: The entity to read.
        account_id: Lightspeed account (watermarks are per account).
        shop_id: The shop for shop-scoped entities, None for account-scoped ones.
        server_now: The API's clock (`hook.server_now()`), timezone-aware.
        lookback: How far before the watermark an incremental read starts again, so sales
            voided or edited after they were read are read again.
        initial_days: Days of history a shop's first run reads.
        days_back: > 0 re-reads that many days on the range field (a manual full reload).
        backfill_range: [start, end] of an Airflow backfill run, read on the range field.

    Returns:
        The window; `Window.params()` gives the hook filter.
    """
    if server_now.tzinfo is None:
        raise ValueError("server_now must be timezone-aware (the API's Date header is UTC)")
    now = server_now.astimezone(UTC)
    ranged = entity.range_field or entity.cursor_field
    if backfill_range is not None:
        start, end = (t.astimezone(UTC) for t in backfill_range)
        if start > end:
            raise ValueError(f"backfill range starts after it ends: {start} > {end}")
        return Window(ranged, start, end, "backfill")
    if days_back > 0:
        start = now - timedelta(days=days_back) if entity.range_field else None
        return Window(ranged, start, now, "days_back")
    if entity.full_reload:
        return Window(None, None, now, "full")
    watermark = read_watermark(conn, entity, account_id=account_id, shop_id=shop_id)
    if watermark is None:
        # Account dimensions have no date range: their first read is everything so far.
        start = now - timedelta(days=initial_days) if entity.range_field else None
        return Window(ranged, start, now, "initial")
    if watermark > now:
        log.warning(
            "%s watermark %s is ahead of the API clock %s (emulator reset or another "
            "account?): reading from the API clock minus the lookback instead",
            entity.name,
            watermark.isoformat(),
            now.isoformat(),
        )
        watermark = now
    start = watermark - lookback
    if entity.cursor_field is None:
        # No last-modified field: re-read every record that could still change.
        start = min(start, now - max(lookback, SHIFT_BOUND))
        return Window(entity.range_field, start, now, "incremental")
    return Window(entity.cursor_field, start, now, "incremental")
