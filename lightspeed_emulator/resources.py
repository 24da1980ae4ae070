"""The emulator's data side: the generated chain behind Lightspeed's query engine and JSON.

The HTTP layer (app.py) authenticates, throttles and then calls `ResourceAPI.handle` with
the decoded query; everything about records, filters, sorting, cursors and the JSON quirks
is decided here, so it can be tested in-process without a server.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from lightspeed_emulator.clock import DataClock
from lightspeed_emulator.config import EmulatorConfig
from lightspeed_emulator.data_scan import DELETED, SOURCES, Overrides, PartitionSource, Scan
from lightspeed_emulator.data_schema import ALL_RELATIONS, SPECS, EntitySpec
from lightspeed_emulator.generator import EPOCH, Chain, hour_index
from lightspeed_emulator.query import Query, QueryError, parse_query, parse_value
from lightspeed_emulator.serialize import (
    DT,
    PRICES,
    count_body,
    error_body,
    list_body,
    relation_block,
    single_body,
    to_wire,
)

RELATION_DEPTH = 3
RelationTree = dict[str, "RelationTree"]


@dataclass
class ApiResponse:
    status: int
    body: dict  # JSON-able envelope, exactly as Lightspeed serializes it


def _relation_paths(spec: EntitySpec, depth: int = RELATION_DEPTH, prefix: str = "") -> list[str]:
    paths = []
    for name, relation in spec.relations.items():
        paths.append(prefix + name)
        if relation.target and depth > 1:
            paths += _relation_paths(SPECS[relation.target], depth - 1, f"{prefix}{name}.")
    return paths


RELATION_PATHS = {name: frozenset(_relation_paths(spec)) for name, spec in SPECS.items()}


def _relation_tree(entity: str, names: tuple[str, ...]) -> RelationTree:
    if names == ("all",):
        names = ALL_RELATIONS.get(entity, ())
    tree: RelationTree = {}
    for name in names:
        node = tree
        for part in name.split("."):
            node = node.setdefault(part, {})
    return tree


class ResourceAPI:
    """Generated chain + query engine + Lightspeed JSON serialization."""

    def __init__(self, config: EmulatorConfig, clock: DataClock) -> None:
        now = clock.now()
        if now - timedelta(days=config.days) < EPOCH:
            raise ValueError(
                f"The emulator's data starts at {EPOCH:%Y-%m-%d}: pick a --now at least "
                f"{config.days} days (--days) after that."
            )
        self._config = config
        self._clock = clock
        self._chain = Chain(config.seed, config.shops, config.sales_per_day)
        # Pinned at start, so records never vanish from the history while the emulator runs.
        self._first_hour = hour_index(now) - config.days * 24
        self._overrides: dict[str, Overrides] = {name: {} for name in SPECS}
        self._lock = threading.Lock()
        self._sources: dict[str, PartitionSource] = {
            name: source(self._chain, self._overrides[name]) for name, source in SOURCES.items()
        }

    # --- the interface the HTTP side calls ----------------------------------------------------

    def account_list(self) -> dict:
        account_id = str(self._config.account_id)
        return {
            "@attributes": {"count": "1"},
            "Account": {
                "accountID": account_id,
                "name": self._config.account_name,
                "link": {"@attributes": {"href": f"/API/V3/Account/{account_id}"}},
            },
        }

    def handle(
        self, entity: str, record_id: str | None, query: list[tuple[str, str]], base_url: str
    ) -> ApiResponse:
        spec = SPECS.get(entity)
        if spec is None:
            return _error(
                404,
                f"Unknown endpoint '{entity}'. Available: {', '.join(sorted(SPECS))}.",
                "NotFoundException",
            )
        now = self._clock.now()
        try:
            parsed = parse_query(spec, query, RELATION_PATHS[entity])
            if record_id is not None:
                return self._single(spec, record_id, parsed, now)
            if parsed.count:
                return ApiResponse(200, count_body(self._count(parsed, now)))
            return ApiResponse(200, self._page(parsed, base_url, now))
        except QueryError as error:
            return _error(400, str(error), "Exception")

    def request_cost(
        self, entity: str, record_id: str | None, query: list[tuple[str, str]]
    ) -> float:
        """GET cost in drips (reference §7); never raises, even for a query that will be a 400."""
        spec = SPECS.get(entity)
        if spec is None:
            return 1.0
        values = dict(query)
        if record_id is None and values.get("count", "").lower() in ("1", "true"):
            return 10.0
        relations = [("load_relations", values.get("load_relations", ""))]
        try:
            names = parse_query(spec, relations, RELATION_PATHS[entity]).relations
        except QueryError:
            names = ()  # the request itself will be a 400; charge the base cost
        query_factor = 2 if record_id is None else 1
        return round(
            1 + _relations_cost(spec, _relation_tree(entity, names), query_factor, False), 4
        )

    def required_scopes(self, entity: str) -> frozenset[str]:
        """Any one of these scopes is enough; KeyError for an unknown entity (a 404 later)."""
        return SPECS[entity].scopes

    def shops(self) -> list[dict]:
        return [
            to_wire(SPECS["Shop"].fields, record)
            for record in self._static("Shop", self._clock.now())
        ]

    def mutate(self, entity: str, record_id: int, fields: dict[str, str] | None) -> None:
        """Test control: override fields (timeStamp moves to now) or delete/archive a record.

        Raises:
            KeyError: unknown entity.
            LookupError: no such record (yet).
            ValueError: a field that does not exist, or a deletion the API would refuse.
        """
        spec = SPECS[entity]
        now = self._clock.now().replace(microsecond=0)
        record = self._find(entity, record_id, now)
        if record is None:
            raise LookupError(f"{entity} {record_id} does not exist at the data clock's now")
        if fields is None:
            override = self._deletion(spec, record, now)
        else:
            override = self._edit(spec, record_id, fields, now)
        with self._lock:
            self._overrides[entity][record_id] = override

    # --- answering ----------------------------------------------------------------------------

    def _single(self, spec: EntitySpec, record_id: str, query: Query, now: datetime) -> ApiResponse:
        try:
            pk = int(record_id)
        except ValueError:
            pk = None
        record = self._find(spec.name, pk, now) if pk is not None else None
        if record is None:
            return _error(404, f"{spec.name} {record_id} was not found.", "NotFoundException")
        tree = _relation_tree(spec.name, query.relations)
        return ApiResponse(200, single_body(spec.name, self._wire(spec, record, tree, now)))

    def _count(self, query: Query, now: datetime) -> int:
        source = self._sources.get(query.spec.name)
        if source is not None:
            return Scan(source, query, now, self._first_hour).count()
        return sum(1 for record in self._static(query.spec.name, now) if _matches(query, record))

    def _page(self, query: Query, base_url: str, now: datetime) -> dict[str, Any]:
        limit = query.limit
        backwards = query.before is not None
        cursor = query.before if backwards else query.after
        rows = list(
            itertools.islice(
                self._iterate(query, now, query.descending != backwards, cursor), limit + 1
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
            next_url = self._page_url(query, base_url, "after", rows[-1]) if rows else ""
            previous_url = (
                self._page_url(query, base_url, "before", rows[0]) if rows and more else ""
            )
        else:
            next_url = self._page_url(query, base_url, "after", rows[-1]) if rows and more else ""
            has_previous = rows and query.after is not None
            previous_url = (
                self._page_url(query, base_url, "before", rows[0]) if has_previous else ""
            )
        tree = _relation_tree(query.spec.name, query.relations)
        records = [self._wire(query.spec, row, tree, now) for row in rows]
        return list_body(query.spec.name, records, next_url, previous_url)

    @staticmethod
    def _page_url(query: Query, base_url: str, name: str, row: dict[str, Any]) -> str:
        return f"{base_url}?{urlencode([*query.page_params(), (name, query.cursor(row))])}"

    def _iterate(
        self, query: Query, now: datetime, descending: bool, cursor: tuple[Any, ...] | None
    ) -> Iterator[dict[str, Any]]:
        source = self._sources.get(query.spec.name)
        if source is not None:
            return Scan(source, query, now, self._first_hour).iterate(descending, cursor)
        rows = sorted(
            (r for r in self._static(query.spec.name, now) if _matches(query, r)),
            key=query.sort_key,
            reverse=descending,
        )
        if cursor is not None:
            rows = [
                r
                for r in rows
                if (query.sort_key(r) < cursor if descending else query.sort_key(r) > cursor)
            ]
        return iter(rows)

    # --- records ------------------------------------------------------------------------------

    def _static(self, entity: str, now: datetime) -> list[dict[str, Any]]:
        """The small, account-wide entities, generated whole (at most ~500 records)."""
        chain = self._chain
        if entity == "Shop":
            records = [chain.shop_record(shop) for shop in chain.shops]
        elif entity == "Register":
            records = chain.register_records()
        elif entity == "PaymentType":
            records = chain.payment_type_records()
        elif entity == "Category":
            records = [chain.category_record(c, now) for c in chain.categories]
        elif entity == "Item":
            records = [chain.item_record(item, now) for item in chain.items]
        elif entity == "Employee":
            clocked_in = chain.clocked_in(now)
            records = [chain.employee_record(e, now, clocked_in) for e in chain.employees]
        else:
            raise KeyError(entity)
        return self._with_overrides(SPECS[entity], records)

    def _static_one(self, entity: str, pk: int, now: datetime) -> dict[str, Any] | None:
        """One small-entity record by ID without generating its siblings (relations need many)."""
        chain = self._chain
        record: dict[str, Any] | None = None
        if entity == "Item":
            item = chain.item(pk)
            record = chain.item_record(item, now) if item is not None else None
        elif entity == "Category":
            found = [c for c in chain.categories if c["categoryID"] == pk]
            record = chain.category_record(found[0], now) if found else None
        elif entity == "Shop":
            record = chain.shop_record(chain.shop(pk)) if chain.has_shop(pk) else None
        else:
            spec = SPECS[entity]
            return next((r for r in self._static(entity, now) if r[spec.pk] == pk), None)
        if record is None:
            return None
        shown = self._with_overrides(SPECS[entity], [record])
        return shown[0] if shown else None

    def _with_overrides(
        self, spec: EntitySpec, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        overrides = self._overrides[spec.name]
        if not overrides:
            return records
        out = []
        for record in records:
            override = overrides.get(record[spec.pk], {})
            if override is not DELETED:
                out.append({**record, **override})
        return out

    def _find(self, entity: str, pk: int, now: datetime) -> dict[str, Any] | None:
        source = self._sources.get(entity)
        if source is None:
            return self._static_one(entity, pk, now)
        shop_id, hour = source.partition_of(pk)
        if not self._chain.has_shop(shop_id) or not self._first_hour <= hour <= hour_index(now):
            return None
        found = (c for c in source.candidates(shop_id, hour, now) if c.pk == pk)
        candidate = next(found, None)
        return candidate.full() if candidate is not None else None

    def _related(
        self, spec: EntitySpec, name: str, record: dict[str, Any], now: datetime
    ) -> list[dict[str, Any]]:
        relation = spec.relations[name]
        if relation.target is None:
            return []  # nothing behind it in the emulator: omitted like an empty relation
        if relation.many:
            if spec.name == "Shop":
                return [r for r in self._static("Register", now) if r["shopID"] == record["shopID"]]
            stub = self._chain.stub(record["saleID"])
            if stub is None:
                return []
            detail = self._chain.sale_detail(stub)
            rows = detail.lines if name == "SaleLines" else detail.payments
            return self._with_overrides(SPECS[relation.target], list(rows))
        key = record.get(relation.key)
        if not key:
            return []  # foreign key 0 = none
        found = self._find(relation.target, key, now)
        return [found] if found is not None else []

    def _wire(
        self, spec: EntitySpec, record: dict[str, Any], tree: RelationTree, now: datetime
    ) -> dict[str, Any]:
        out = to_wire(spec.fields, record)
        for name, subtree in tree.items():
            relation = spec.relations[name]
            if relation.target is None:
                continue
            target = SPECS[relation.target]
            children = [
                self._wire(target, child, subtree, now)
                for child in self._related(spec, name, record, now)
            ]
            if relation.many:
                block = relation_block(target.name, children)
                if block is not None:
                    out[name] = block
            elif children:
                out[name] = children[0]
        return out

    # --- mutations ----------------------------------------------------------------------------

    def _deletion(
        self, spec: EntitySpec, record: dict[str, Any], now: datetime
    ) -> dict[str, Any] | None:
        if spec.name == "EmployeeHours":
            return DELETED  # a real hard delete: the row is gone
        if spec.name == "Sale" and record.get("completed"):
            raise ValueError(
                f"Sale {record['saleID']} is completed; only incomplete sales can be archived."
            )
        if not spec.archivable:
            raise ValueError(f"{spec.name} records cannot be deleted.")
        previous = self._overrides[spec.name].get(record[spec.pk]) or {}
        return {**previous, **self._stamped(spec, {"archived": True}, now)}

    def _edit(
        self, spec: EntitySpec, pk: int, fields: dict[str, str], now: datetime
    ) -> dict[str, Any]:
        typed: dict[str, Any] = {}
        for name, value in fields.items():
            kind = spec.kind(name)
            if kind is None or kind == PRICES or name == spec.pk:
                raise ValueError(f"{spec.name} has no editable field '{name}'.")
            try:
                typed[name] = None if kind == DT and value == "" else parse_value(name, kind, value)
            except QueryError as error:
                raise ValueError(str(error)) from None
        previous = self._overrides[spec.name].get(pk) or {}
        return {**previous, **self._stamped(spec, typed, now)}

    @staticmethod
    def _stamped(spec: EntitySpec, typed: dict[str, Any], now: datetime) -> dict[str, Any]:
        """An edit moves timeStamp (and a sale's updatetime) to now unless given explicitly."""
        stamps = {name: now for name in ("timeStamp", "updatetime") if spec.kind(name) == DT}
        return {**stamps, **typed}


def _matches(query: Query, record: dict[str, Any]) -> bool:
    return all(c.matches(record.get(c.field)) for c in query.conditions) and query.matches_archived(
        record
    )


def _relations_cost(
    spec: EntitySpec, tree: RelationTree, query_factor: int, under_many: bool
) -> float:
    """+0.1 per x-to-one, +0.2 per x-to-many; doubled on query endpoints and under an x-to-many."""
    total = 0.0
    for name, subtree in tree.items():
        relation = spec.relations.get(name)
        if relation is None:
            continue
        total += (0.2 if relation.many else 0.1) * query_factor * (2 if under_many else 1)
        if relation.target:
            total += _relations_cost(
                SPECS[relation.target], subtree, query_factor, under_many or relation.many
            )
    return total


def _error(status: int, message: str, error_class: str) -> ApiResponse:
    return ApiResponse(status, error_body(status, message, error_class))
