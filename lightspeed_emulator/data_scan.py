"""Ordered, lazy scans over the time-partitioned entities (Sale, SaleLine, SalePayment, EmployeeHours).

Records live in partitions (shop, UTC hour) and every time field of a partition's records
lies within known bounds of the hour (edits at most `MAX_EDIT_DELAY` later). That turns a
query into a walk over a few partitions:

- sorted by the primary key (or saleID): hours in order, since IDs start with the hour;
- sorted by a time field: one-hour slices of that field's value, each gathering only the
  partitions whose bounds reach into the slice; older partitions contribute only their few
  records with late edits, which the cheap sale stubs reveal without generating lines.

So a page costs about the page plus the partitions it touches, never the whole entity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from lightspeed_emulator.generator import (
    CHILD,
    HOUR,
    MAX_EDIT_DELAY,
    SALE_HOUR,
    Chain,
    SaleStub,
    hour_index,
    hour_start,
    split_sale_id,
)
from lightspeed_emulator.query import Query

DELETED = None  # an override value meaning "hard-deleted"
Overrides = dict[int, dict[str, Any] | None]


class Candidate:
    """A record found in a partition: cheap fields now, the full record only when needed."""

    __slots__ = ("pk", "cheap", "_load", "_full")

    def __init__(
        self, pk: int, cheap: dict[str, Any], load: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        self.pk = pk
        self.cheap = cheap
        self._load = load
        self._full: dict[str, Any] | None = None if load else cheap

    def get(self, name: str) -> Any:
        if name in self.cheap:
            return self.cheap[name]
        return self.full().get(name)

    def full(self) -> dict[str, Any]:
        if self._full is None:
            assert self._load is not None
            self._full = self._load()
        return self._full


def apply_override(record: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    return {**record, **override}


class PartitionSource:
    """One time-partitioned entity: where its records live and how to list a partition."""

    entity = ""
    pk_field = ""
    pk_divisor = SALE_HOUR  # pk // pk_divisor = the partition hour
    # field -> (lo, hi): every record of partition h has the field in [h + lo, h + hi].
    bounds: dict[str, tuple[timedelta, timedelta]] = {}
    tight_hi = HOUR  # the hi bound of records without late edits
    # Fields whose value // pk_divisor is the partition hour (the value 0 excepted).
    monotone: tuple[str, ...] = ()
    # Sort fields that can be missing (or 0 for saleID): such records sort first.
    low_fields: tuple[str, ...] = ()
    has_shop_field = True

    def __init__(self, chain: Chain, overrides: Overrides) -> None:
        self.chain = chain
        self.overrides = overrides

    def partition_of(self, pk: int) -> tuple[int, int]:
        hour, shop_id, _ = split_sale_id(pk // (self.pk_divisor // SALE_HOUR))
        return shop_id, hour

    def divisor(self, field: str) -> int:
        """What to divide a value of `field` by to get its hour (saleID is a sale ID anywhere)."""
        return self.pk_divisor if field == self.pk_field else SALE_HOUR

    def candidates(
        self, shop_id: int, hour: int, now: datetime, late_only: bool = False
    ) -> list[Candidate]:
        raise NotImplementedError

    def low_candidates(self, shop_id: int, hour: int, now: datetime, field: str) -> list[Candidate]:
        """Records whose `field` is missing or 0 (they sort first); subclasses make it cheap."""
        return [c for c in self.candidates(shop_id, hour, now) if not c.get(field)]

    def _overridden(self, record: dict[str, Any]) -> dict[str, Any] | None:
        pk = record[self.pk_field]
        if pk not in self.overrides:
            return record
        override = self.overrides[pk]
        return None if override is DELETED else apply_override(record, override)

    def _typed(self, records: Iterable[dict[str, Any]]) -> list[Candidate]:
        out = []
        for record in records:
            shown = self._overridden(record)
            if shown is not None:
                out.append(Candidate(shown[self.pk_field], shown))
        return out


class SaleSource(PartitionSource):
    entity = "Sale"
    pk_field = "saleID"
    low_fields = ("completeTime",)
    bounds = {
        "timeStamp": (-HOUR, 2 * HOUR + MAX_EDIT_DELAY),
        "updatetime": (-HOUR, 2 * HOUR + MAX_EDIT_DELAY),
        "createTime": (-HOUR, HOUR),
        "completeTime": (timedelta(0), HOUR),
    }
    monotone = ("saleID",)

    def candidates(
        self, shop_id: int, hour: int, now: datetime, late_only: bool = False
    ) -> list[Candidate]:
        out = []
        for stub in self.chain.sale_stubs(shop_id, hour):
            if stub.visible_at > now:
                break  # stubs are in time order
            overridden = stub.sale_id in self.overrides
            late = stub.void_time is not None or stub.archive_time is not None
            if late_only and not (late or overridden):
                continue
            if overridden:
                record = self._overridden(self.chain.sale_record(stub, now))
                if record is not None:
                    out.append(Candidate(stub.sale_id, record))
            else:
                out.append(Candidate(stub.sale_id, stub.state(now), self._loader(stub, now)))
        return out

    def low_candidates(self, shop_id: int, hour: int, now: datetime, field: str) -> list[Candidate]:
        return [c for c in self.candidates(shop_id, hour, now) if c.get(field) is None]

    def _loader(self, stub: SaleStub, now: datetime) -> Callable[[], dict[str, Any]]:
        return lambda: self.chain.sale_record(stub, now)


class _SaleChildSource(PartitionSource):
    """Lines and payments share their sale's partition and never move in time."""

    pk_divisor = SALE_HOUR * CHILD
    bounds = {"timeStamp": (-HOUR, HOUR), "createTime": (-HOUR, HOUR)}
    monotone = ("saleID",)
    part = "lines"

    def candidates(
        self, shop_id: int, hour: int, now: datetime, late_only: bool = False
    ) -> list[Candidate]:
        rows = self._rows(shop_id, hour, now)
        if late_only:
            rows = (row for row in rows if row[self.pk_field] in self.overrides)
        return self._typed(rows)

    def _rows(self, shop_id: int, hour: int, now: datetime) -> Iterator[dict[str, Any]]:
        for stub in self.chain.sale_stubs(shop_id, hour):
            if stub.visible_at > now:
                break
            yield from getattr(self.chain.sale_detail(stub), self.part)


class SaleLineSource(_SaleChildSource):
    entity = "SaleLine"
    pk_field = "saleLineID"
    low_fields = ("saleID",)

    def _rows(self, shop_id: int, hour: int, now: datetime) -> Iterator[dict[str, Any]]:
        yield from super()._rows(shop_id, hour, now)
        # Reservations use the highest numbers of the hour, so pk order is kept.
        yield from self._reservations(shop_id, hour, now)

    def _reservations(self, shop_id: int, hour: int, now: datetime) -> Iterator[dict[str, Any]]:
        return (r for r in self.chain.reservations(shop_id, hour) if r["createTime"] <= now)

    def low_candidates(self, shop_id: int, hour: int, now: datetime, field: str) -> list[Candidate]:
        if field == "saleID":  # only reservations have saleID 0: skip generating the sales
            rows = list(self._reservations(shop_id, hour, now))
            if any(self.partition_of(pk) == (shop_id, hour) for pk in list(self.overrides)):
                rows += [
                    r
                    for r in super()._rows(shop_id, hour, now)
                    if r[self.pk_field] in self.overrides
                ]
            return [c for c in self._typed(rows) if not c.get(field)]
        return super().low_candidates(shop_id, hour, now, field)


class SalePaymentSource(_SaleChildSource):
    entity = "SalePayment"
    pk_field = "salePaymentID"
    part = "payments"
    has_shop_field = False


class EmployeeHoursSource(PartitionSource):
    entity = "EmployeeHours"
    pk_field = "employeeHoursID"
    bounds = {"checkIn": (timedelta(0), HOUR), "checkOut": (timedelta(0), 16 * HOUR)}

    def candidates(
        self, shop_id: int, hour: int, now: datetime, late_only: bool = False
    ) -> list[Candidate]:
        rows = [
            row
            for shift in self.chain.shifts(shop_id, hour)
            if (row := shift.record(now)) is not None
        ]
        if late_only:
            rows = [row for row in rows if row["employeeHoursID"] in self.overrides]
        return self._typed(rows)


class Scan:
    """One query's walk over a source's partitions, within the served history."""

    def __init__(
        self, source: PartitionSource, query: Query, now: datetime, first_hour: int
    ) -> None:
        self.source = source
        self.query = query
        self.now = now
        self.first_hour = first_hour
        self.last_hour = hour_index(now)
        self.shops = self._shops()
        self.lo, self.hi = self._hour_range()
        self.conditions = query.conditions
        archivable = query.spec.archivable and query.archived != "true"
        self.archived_wanted = (query.archived == "only") if archivable else None
        self.extra = sorted(
            # list() copies atomically: mutate() may add overrides from another thread.
            {source.partition_of(pk) for pk in list(source.overrides)},
            key=lambda part: (part[1], part[0]),
        )

    # --- what to scan -----------------------------------------------------------------------

    def _shops(self) -> list[int]:
        shops = [shop.shop_id for shop in self.source.chain.shops]
        if not self.source.has_shop_field:
            return shops
        for condition in self.query.conditions:
            if condition.field == "shopID" and condition.op in ("=", "IN"):
                shops = [s for s in shops if s in condition.operands]
        return shops

    def _hour_range(self) -> tuple[int, int]:
        lo, hi = self.first_hour, self.last_hour
        source = self.source
        for condition in self.query.conditions:
            bounds = condition.range()
            if bounds is None:
                continue
            low, high = bounds
            if condition.field == self.query.spec.pk or condition.field in source.monotone:
                if low is not None and low > 0:
                    lo = max(lo, low // source.divisor(condition.field))
                    if high is not None:
                        hi = min(hi, high // source.divisor(condition.field))
            elif condition.field in source.bounds:
                lo_delta, hi_delta = source.bounds[condition.field]
                if low is not None:
                    lo = max(lo, hour_index(low - hi_delta))
                if high is not None:
                    hi = min(hi, hour_index(high - lo_delta))
        return lo, hi

    def partitions_at(self, hour: int) -> list[tuple[int, int]]:
        parts = [(shop, hour) for shop in self.shops] if self.lo <= hour <= self.hi else []
        for part in self.extra:
            if part[1] == hour and part not in parts and self.first_hour <= hour <= self.last_hour:
                parts.append(part)
        return parts

    def hours(self, lo: int, hi: int, descending: bool) -> list[int]:
        """Hours with something to scan in [lo, hi], natural range plus overridden partitions."""
        natural = range(max(lo, self.lo), min(hi, self.hi) + 1)
        extra = {h for _, h in self.extra if lo <= h <= hi and not self.lo <= h <= self.hi}
        hours = sorted(set(natural) | extra) if extra else list(natural)
        return hours[::-1] if descending else hours

    # --- matching ---------------------------------------------------------------------------

    def passes(self, candidate: Candidate) -> bool:
        if self.conditions:
            cheap = candidate.cheap
            conditions = sorted(self.conditions, key=lambda c: c.field not in cheap)
            if not all(c.matches(candidate.get(c.field)) for c in conditions):
                return False
        if self.archived_wanted is None:
            return True
        return bool(candidate.get("archived")) == self.archived_wanted

    def count(self) -> int:
        total = 0
        for hour in self.hours(self.first_hour, self.last_hour, False):
            for shop, part_hour in self.partitions_at(hour):
                total += sum(
                    1 for c in self.source.candidates(shop, part_hour, self.now) if self.passes(c)
                )
        return total

    # --- ordered iteration --------------------------------------------------------------------

    def iterate(self, descending: bool, cursor: tuple[Any, ...] | None) -> Iterator[dict[str, Any]]:
        """Full records in (sort field, pk) order, strictly beyond `cursor` in that direction.

        Records whose sort value is missing (or saleID 0) form a "low" segment that sorts
        before all others; it is scanned separately because bounds say nothing about it.
        """
        field = self.query.sort_field
        has_low = field in self.source.low_fields and not self._low_excluded(field)
        in_low = cursor is not None and self._is_low_key(cursor, field)
        low_cursor = cursor if in_low else None
        main_cursor = None if in_low else cursor
        segments: list[Iterator[Candidate]] = []
        if descending:
            if not in_low:
                segments.append(self._main(field, True, main_cursor))
            if has_low:
                segments.append(self._low(field, True, low_cursor))
        else:
            if has_low and (cursor is None or in_low):
                segments.append(self._low(field, False, low_cursor))
            segments.append(self._main(field, False, main_cursor))
        for segment in segments:
            for candidate in segment:
                yield candidate.full()

    def _main(
        self, field: str, descending: bool, cursor: tuple[Any, ...] | None
    ) -> Iterator[Candidate]:
        if field == self.query.spec.pk or field in self.source.monotone:
            return self._by_hour(field, descending, cursor)
        return self._by_slice(field, descending, cursor)

    def _is_low_key(self, key: tuple[Any, ...], field: str) -> bool:
        return key[0] == 0 or (field in self.source.monotone and key[1] == 0)

    def _low_excluded(self, field: str) -> bool:
        """True when a filter on the sort field rejects its low value (missing, or saleID 0)."""
        low_value = 0 if field in self.source.monotone else None
        return any(c.field == field and not c.matches(low_value) for c in self.query.conditions)

    @staticmethod
    def _key(candidate: Candidate, field: str) -> tuple[Any, ...]:
        value = candidate.get(field)
        return (0, candidate.pk) if value is None else (1, value, candidate.pk)

    def _emit(
        self,
        parts: Iterable[tuple[int, int]],
        descending: bool,
        cursor: tuple[Any, ...] | None,
        keep: Callable[[Candidate], bool],
        late_before: int | None = None,
        low: bool = False,
    ) -> list[Candidate]:
        """Matching candidates of some partitions beyond the cursor, sorted."""
        field = self.query.sort_field
        found = []
        for shop, hour in parts:
            if low:
                rows = self.source.low_candidates(shop, hour, self.now, field)
            else:
                late_only = late_before is not None and hour < late_before
                rows = self.source.candidates(shop, hour, self.now, late_only=late_only)
            for candidate in rows:
                if not keep(candidate):
                    continue
                key = self._key(candidate, field)
                if cursor is not None and not (key < cursor if descending else key > cursor):
                    continue
                if self.passes(candidate):
                    found.append((key, candidate))
        found.sort(key=lambda pair: pair[0], reverse=descending)
        return [candidate for _, candidate in found]

    def _low(
        self, field: str, descending: bool, cursor: tuple[Any, ...] | None
    ) -> Iterator[Candidate]:
        lo, hi = self.first_hour, self.last_hour
        if cursor is not None:  # low records are in pk order, so the cursor's pk says the hour
            cursor_hour = cursor[-1] // self.source.pk_divisor
            lo, hi = (lo, min(hi, cursor_hour)) if descending else (max(lo, cursor_hour), hi)
        for hour in self.hours(lo, hi, descending):
            yield from self._emit(
                self.partitions_at(hour), descending, cursor, lambda c: True, low=True
            )

    def _by_hour(
        self, field: str, descending: bool, cursor: tuple[Any, ...] | None
    ) -> Iterator[Candidate]:
        lo, hi = self.first_hour, self.last_hour
        if cursor is not None:
            cursor_hour = cursor[1] // self.source.divisor(field)
            lo, hi = (lo, min(hi, cursor_hour)) if descending else (max(lo, cursor_hour), hi)

        def keep(candidate: Candidate) -> bool:
            return bool(candidate.get(field))  # saleID 0 belongs to the low segment

        for hour in self.hours(lo, hi, descending):
            yield from self._emit(self.partitions_at(hour), descending, cursor, keep)

    def _slice_range(self, field: str, cursor: tuple[Any, ...] | None, descending: bool) -> range:
        low_value = hour_start(self.first_hour) + self.source.bounds[field][0]
        high_value = self.now
        for condition in self.query.conditions:
            bounds = condition.range() if condition.field == field else None
            if bounds and bounds[0] is not None:
                low_value = max(low_value, bounds[0])
            if bounds and bounds[1] is not None:
                high_value = min(high_value, bounds[1])
        first, last = hour_index(low_value), hour_index(high_value)
        if cursor is not None:
            cursor_slice = hour_index(cursor[1])
            first, last = (
                (first, min(last, cursor_slice)) if descending else (max(first, cursor_slice), last)
            )
        return range(first, last + 1)

    def _by_slice(
        self, field: str, descending: bool, cursor: tuple[Any, ...] | None
    ) -> Iterator[Candidate]:
        lo_delta, hi_delta = self.source.bounds[field]
        back = math.ceil(hi_delta / HOUR)
        ahead = -math.floor(lo_delta / HOUR)
        tight = math.ceil(self.source.tight_hi / HOUR)
        slices = self._slice_range(field, cursor, descending)
        edited_hours = {hour for _, hour in self.extra}
        for slice_hour in reversed(slices) if descending else slices:
            start, end = hour_start(slice_hour), hour_start(slice_hour + 1)
            # Edited records can carry any timeStamp, so their partitions join every slice.
            hours = set(self.hours(slice_hour - back, slice_hour + ahead, False)) | edited_hours
            parts = [part for hour in sorted(hours) for part in self.partitions_at(hour)]

            def in_slice(
                candidate: Candidate, start: datetime = start, end: datetime = end
            ) -> bool:
                value = candidate.get(field)
                return value is not None and start <= value < end

            # Partitions older than the slice can only reach it through late edits.
            yield from self._emit(
                parts, descending, cursor, in_slice, late_before=slice_hour - tight
            )


SOURCES: dict[str, type[PartitionSource]] = {
    source.entity: source
    for source in (SaleSource, SaleLineSource, SalePaymentSource, EmployeeHoursSource)
}
