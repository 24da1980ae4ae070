"""extract_entity(): one window of one entity, from the API into staging, in one transaction.

Pages stream from `hook.paginate` through `transform` into COPY (a few pages in memory at a
time, never the entity); then one upsert per table, deletion reconciliation, checks, the
watermark and a load_log row, and a single commit. Any error, including a worker killed half
way, rolls everything back: the warehouse is exactly as before the run, watermark included,
so a retry reads the same window again.

The one deliberate exception: when too many records fail validation, the quarantine rows
are committed (so the reasons can be read) and nothing else is, then DataQualityError is
raised.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg2.extensions

from lightspeed.entities import Entity
from lightspeed.errors import DataQualityError
from lightspeed.load import DEFAULT_FLUSH_ROWS, StagingLoad, write_watermark
from lightspeed.transform import Context, Rejected, transform_record
from lightspeed.windows import Window

log = logging.getLogger(__name__)

DEFAULT_MAX_QUARANTINE_RATIO = 0.01
DEFAULT_MAX_QUARANTINED = 100
# Backfills re-read the past: they must never move the watermark (and thus skip changes).
_MODES_KEEPING_WATERMARK = {"backfill"}


class PageSource(Protocol):
    """What extract_entity needs from LightspeedHook (tests pass a fake with the same three)."""

    account_id: int

    def paginate(self, entity: str, params: dict[str, Any]) -> Any: ...

    def server_now(self) -> datetime: ...


@dataclass(frozen=True)
class ExtractResult:
    """What one extraction read and changed; `as_dict()` is what XCom carries.

    Attributes:
        entity: Entity name (lightspeed.entities).
        shop_id: The shop read, None for account-scoped entities.
        fetched: Records the API returned (parents: sales, items, ...).
        upserted: Records inserted or changed in the entity's own table.
        unchanged: Records already stored as read (or stored in a newer version).
        deleted: Rows deleted or archived by reconciliation, child rows included.
        quarantined: Records rejected into lightspeed_staging.quarantine.
        window: The window read.
        touched_from: Earliest business time (UTC) whose data changed, None if none did.
        touched_to: Latest business time (UTC) whose data changed, None if none did.
        pages: Pages read.
        tables: Per staging table: rows staged, upserted, deleted.
    """

    entity: str
    shop_id: int | None
    fetched: int
    upserted: int
    unchanged: int
    deleted: int
    quarantined: int
    window: Window
    touched_from: datetime | None
    touched_to: datetime | None
    pages: int = 0
    tables: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Small and JSON-able: counts, the window and ISO timestamps, never records."""
        return {
            "entity": self.entity,
            "shop_id": self.shop_id,
            "fetched": self.fetched,
            "upserted": self.upserted,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
            "window": self.window.as_dict(),
            "touched_from": self.touched_from.isoformat() if self.touched_from else None,
            "touched_to": self.touched_to.isoformat() if self.touched_to else None,
            "pages": self.pages,
            "tables": self.tables,
        }


def extract_entity(
    hook: PageSource,
    conn: psycopg2.extensions.connection,
    entity: Entity,
    *,
    shop_id: int | None,
    window: Window,
    run_id: str,
    known_shop_ids: set[int] | None = None,
    max_quarantine_ratio: float = DEFAULT_MAX_QUARANTINE_RATIO,
    max_quarantined: int = DEFAULT_MAX_QUARANTINED,
    flush_rows: int = DEFAULT_FLUSH_ROWS,
) -> ExtractResult:
    """Read `window` of `entity` (for `shop_id`) into staging and commit, or change nothing.

    The call owns the transaction on `conn`: it commits on success and rolls back on any
    error, so `conn` must carry no other pending work. Concurrent calls for the same
    (account, entity, shop) wait for each other (advisory lock).

    Args:
        hook: LightspeedHook (or anything with paginate/server_now/account_id).
        conn: Warehouse connection, autocommit off.
        entity: What to read (lightspeed.entities).
        shop_id: Shop for shop-scoped entities; None for account-scoped ones.
        window: From `windows.plan_window`.
        run_id: Written to changed rows, the quarantine and load_log.
        known_shop_ids: Shops of the chain config; records of other shops are quarantined.
        max_quarantine_ratio: Fail when more than this share of records is rejected...
        max_quarantined: ...or more than this many.
        flush_rows: Rows buffered before each COPY.

    Returns:
        The counts and the business-time range the run changed.

    Raises:
        DataQualityError: Too many rejected records, or a post-load check failed.
    """
    started = time.monotonic()
    account_id = int(hook.account_id)
    shop = shop_id if entity.scope == "shop" else None
    _check_window(entity, window)
    params = {**entity.base_params(shop), **window.params()}
    try:
        _lock(conn, account_id, entity, shop)
        load = StagingLoad(
            conn, entity, account_id=account_id, run_id=run_id, flush_rows=flush_rows
        )
        load.create_temp_tables()
        fetched, pages, reasons = _stream(hook, entity, params, load, shop, known_shop_ids)
        quarantined = fetched - load.records
        _enforce_threshold(
            conn, entity, shop, run_id, fetched, quarantined, reasons,
            max_quarantine_ratio, max_quarantined,
        )  # fmt: skip
        outcome = load.finish(window, shop_id=shop)
        upserted = outcome.tables[entity.table.name].upserted
        result = ExtractResult(
            entity=entity.name,
            shop_id=shop,
            fetched=fetched,
            upserted=upserted,
            unchanged=fetched - quarantined - upserted,
            deleted=sum(t.deleted for t in outcome.tables.values()),
            quarantined=quarantined,
            window=window,
            touched_from=outcome.touched_from,
            touched_to=outcome.touched_to,
            pages=pages,
            tables={name: vars(counts) for name, counts in outcome.tables.items()},
        )
        if result.unchanged < 0:
            raise DataQualityError(
                f"{entity.name}: {upserted} rows changed from {fetched - quarantined} accepted "
                "records. Nothing was committed; report this bug with the run id."
            )
        with conn.cursor() as cur:
            if window.mode not in _MODES_KEEPING_WATERMARK:
                write_watermark(
                    cur,
                    account_id=account_id,
                    entity=entity,
                    shop_id=shop,
                    high_water=window.end,
                    run_id=run_id,
                )
            _write_load_log(cur, account_id, run_id, result)
        conn.commit()
    except BaseException:
        # A dropped connection has nothing to roll back; keep the error that says why.
        if not conn.closed:
            conn.rollback()
        raise
    log.info(
        "%s shop %s %s window %s..%s: fetched %d, upserted %d, unchanged %d, deleted %d, "
        "quarantined %d in %.1fs",
        entity.name,
        shop,
        window.mode,
        window.start.isoformat() if window.start else "-",
        window.end.isoformat(),
        result.fetched,
        result.upserted,
        result.unchanged,
        result.deleted,
        result.quarantined,
        time.monotonic() - started,
    )
    return result


def _check_window(entity: Entity, window: Window) -> None:
    allowed = {entity.cursor_field, entity.range_field, None}
    if window.field not in allowed:
        raise ValueError(f"{entity.name} cannot be read by {window.field!r} (window {window})")


def _lock(
    conn: psycopg2.extensions.connection, account_id: int, entity: Entity, shop: int | None
) -> None:
    """Serialize runs of the same (account, entity, shop): their watermarks would race."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"lightspeed-extract:{account_id}:{entity.name}:{shop or 0}",),
        )


def _stream(
    hook: PageSource,
    entity: Entity,
    params: dict[str, Any],
    load: StagingLoad,
    shop: int | None,
    known_shop_ids: set[int] | None,
) -> tuple[int, int, Counter[str]]:
    """Pages -> transform -> COPY buffers; returns (records fetched, pages, reject reasons)."""
    known = frozenset(known_shop_ids) if known_shop_ids is not None else None
    fetched = pages = 0
    reasons: Counter[str] = Counter()
    for page in hook.paginate(entity.endpoint, params):
        pages += 1
        # The API's clock right after this page: how long an open shift had run when read.
        ctx = Context(
            account_id=load.account_id,
            extracted_at=hook.server_now(),
            shop_id=shop,
            known_shop_ids=known if entity.scope == "shop" else None,
        )
        rejected = []
        for record in page:
            fetched += 1
            result = transform_record(entity, record, ctx)
            if isinstance(result, Rejected):
                rejected.append((result.key, result.reason, record))
                reasons[result.reason] += 1
            else:
                load.add(result.rows)
        load.quarantine(rejected)
    return fetched, pages, reasons


def _enforce_threshold(
    conn: psycopg2.extensions.connection,
    entity: Entity,
    shop: int | None,
    run_id: str,
    fetched: int,
    quarantined: int,
    reasons: Counter[str],
    max_ratio: float,
    max_count: int,
) -> None:
    if not quarantined:
        return
    top = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(3))
    log.warning(
        "%s shop %s: quarantined %d of %d (%s)", entity.name, shop, quarantined, fetched, top
    )
    if quarantined <= max_count and quarantined / fetched <= max_ratio:
        return
    # Nothing but the quarantine rows has reached a real table yet (the rest sits in temp
    # tables), so committing keeps the evidence and still loads nothing.
    conn.commit()
    raise DataQualityError(
        f"{entity.name} (shop {shop or '-'}): {quarantined} of {fetched} records failed "
        f"validation, above the threshold ({max_ratio:.1%} or {max_count}); nothing was "
        f"loaded. Most common: {top}. The records and reasons are in "
        f"lightspeed_staging.quarantine (run_id {run_id!r}); fix the source data or raise "
        "max_quarantine_ratio in include/shops.yaml, then rerun."
    )


def _write_load_log(
    cur: psycopg2.extensions.cursor, account_id: int, run_id: str, result: ExtractResult
) -> None:
    cur.execute(
        "INSERT INTO lightspeed_staging.load_log (run_id, account_id, entity, shop_id, "
        "window_field, window_start, window_end, fetched, upserted, deleted, quarantined) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            run_id,
            account_id,
            result.entity,
            result.shop_id or 0,
            result.window.field,
            result.window.start,
            result.window.end,
            result.fetched,
            result.upserted,
            result.deleted,
            result.quarantined,
        ),
    )
