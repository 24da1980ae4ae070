"""The query language of a list endpoint: filters with operators, archived, sort, limit, cursors.

The server hands over the query string already decoded once (parse_qsl), so a raw
`timeStamp=>=,2024-...` and its percent-encoded twin arrive as the same pairs. What the
decoding cannot repair is a raw `+` in a UTC offset: it became a space, and that is a 400
with a message saying to encode it, never a silent fix, because the real API would not
fix it either.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lightspeed_emulator.data_schema import EntitySpec
from lightspeed_emulator.serialize import BOOL, DEC, DT, INT, PRICES, format_value

MAX_LIMIT = 100
MAX_IN_VALUES = 100
# Longest first, so ">=" is not read as ">" followed by "=".
OPERATORS = ("><", ">=", "<=", "!=", "!~", "IN", ">", "<", "=", "~")
RESERVED = {"load_relations", "sort", "limit", "after", "before", "count", "archived"}
IGNORED = {"pretty_print"}
REMOVED_IN_V3 = {"offset", "orderby", "orderby_desc"}
_SPACE_FOR_PLUS = re.compile(r"T\d{2}(:?\d{2}){1,2}(\.\d+)? \d{2}:?\d{2}$")


class QueryError(Exception):
    """A query the API answers with 400; the message says what to change."""


@dataclass(frozen=True)
class Condition:
    """One `field=<op>,<value>[,<value2>]` filter, operands already typed."""

    field: str
    kind: str
    op: str
    operands: tuple[Any, ...]

    def matches(self, value: Any) -> bool:
        if value is None:
            return False  # SQL semantics: a missing value matches no comparison
        op, ops = self.op, self.operands
        if op in ("~", "!~"):
            text = value if isinstance(value, str) else format_value(self.kind, value)
            found = ops[0].fullmatch(text) is not None
            return found if op == "~" else not found
        if op == "=":
            return value == ops[0]
        if op == "!=":
            return value != ops[0]
        if op == ">":
            return value > ops[0]
        if op == ">=":
            return value >= ops[0]
        if op == "<":
            return value < ops[0]
        if op == "<=":
            return value <= ops[0]
        if op == "><":
            return ops[0] <= value <= ops[1]
        return value in ops  # IN

    def range(self) -> tuple[Any, Any] | None:
        """(low, high) inclusive bounds this condition puts on its field (None = open end)."""
        op, ops = self.op, self.operands
        if op == "=":
            return ops[0], ops[0]
        if op in (">", ">="):
            return ops[0], None
        if op in ("<", "<="):
            return None, ops[0]
        if op == "><":
            return ops[0], ops[1]
        if op == "IN" and ops:
            return min(ops), max(ops)
        return None


@dataclass
class Query:
    """A parsed list (or count) request against one entity."""

    spec: EntitySpec
    conditions: list[Condition]
    archived: str  # "false" | "true" | "only"
    sort_field: str
    descending: bool
    limit: int
    after: tuple[Any, ...] | None  # sort key of the cursor row
    before: tuple[Any, ...] | None
    count: bool
    relations: tuple[str, ...]
    params: list[tuple[str, str]]  # what the client sent, minus after/before

    def sort_key(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """Records order by (sort field, primary key); a missing value sorts lowest."""
        value = record.get(self.sort_field)
        pk = record[self.spec.pk]
        return (0, pk) if value is None else (1, value, pk)

    def cursor(self, record: dict[str, Any]) -> str:
        """The opaque cursor Lightspeed writes: base64 of JSON [sort value..., primary key]."""
        pk = record[self.spec.pk]
        if self.sort_field == self.spec.pk:
            values: list[Any] = [pk]
        else:
            kind = self.spec.kind(self.sort_field) or INT
            raw = record.get(self.sort_field)
            values = [raw if kind == INT or raw is None else format_value(kind, raw), pk]
        return base64.b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()

    def page_params(self) -> list[tuple[str, str]]:
        """Every original parameter plus the `sort` and `limit` defaults, as `next` repeats them."""
        params = list(self.params)
        names = {name for name, _ in params}
        if "sort" not in names:
            params.append(("sort", self.spec.pk))
        if "limit" not in names:
            params.append(("limit", str(MAX_LIMIT)))
        return params

    def matches_archived(self, record: dict[str, Any]) -> bool:
        if not self.spec.archivable or self.archived == "true":
            return True
        return bool(record.get("archived")) == (self.archived == "only")


def parse_query(
    spec: EntitySpec, pairs: Iterable[tuple[str, str]], relation_names: Collection[str]
) -> Query:
    """Validate and type a decoded query string; raises QueryError with a fix in the message."""
    pairs = list(pairs)
    names = [name for name, _ in pairs]
    values = dict(pairs)  # repeated control parameters: the last one wins
    for name in names:
        if name in REMOVED_IN_V3:
            raise QueryError(
                f"The parameter '{name}' was removed in API V3. Page with the "
                "@attributes.next URL and order with sort=<field> (prefix - for descending)."
            )
    count = values.get("count", "").lower() in ("1", "true")
    if count and any(name in values for name in ("limit", "sort", "after", "before")):
        raise QueryError(
            "count=1 cannot be combined with limit, sort, after or before. "
            "Send count=1 with only your filters."
        )
    if "after" in values and "before" in values:
        raise QueryError(
            "Send either after or before, not both; use the next/previous URL as given."
        )
    sort_field, descending = _parse_sort(spec, values.get("sort"))
    query = Query(
        spec=spec,
        conditions=[
            parse_condition(spec, name, value)
            for name, value in pairs
            if name not in RESERVED | IGNORED
        ],
        archived=_parse_archived(values.get("archived", "false")),
        sort_field=sort_field,
        descending=descending,
        limit=_parse_limit(values.get("limit")),
        after=None,
        before=None,
        count=count,
        relations=_parse_relations(spec, values.get("load_relations"), relation_names),
        params=[(n, v) for n, v in pairs if n not in ("after", "before")],
    )
    if "after" in values:
        query.after = _decode_cursor(query, values["after"])
    if "before" in values:
        query.before = _decode_cursor(query, values["before"])
    return query


def parse_condition(spec: EntitySpec, name: str, raw: str) -> Condition:
    if "." in name:
        raise QueryError(
            f"Filtering on relation fields ('{name}') is not supported by the emulator; "
            "filter on fields of the endpoint's own records."
        )
    if name == "or":
        raise QueryError("The 'or' parameter is not supported by the emulator.")
    kind = spec.kind(name)
    if kind is None:
        raise QueryError(f"'{name}' is not a field of {spec.name}; check the spelling and case.")
    if kind == PRICES:
        raise QueryError("Prices cannot be filtered; filter on the Item's own fields.")
    op, rest = "=", raw
    for candidate in OPERATORS:
        if raw.startswith(candidate + ","):
            op, rest = candidate, raw[len(candidate) + 1 :]
            break
    if op in ("~", "!~"):
        return Condition(name, kind, op, (_like_pattern(rest),))
    if op == "><":
        parts = rest.split(",")
        if len(parts) != 2:
            raise QueryError(f"{name}=><,low,high needs exactly two values, got '{rest}'.")
        return Condition(name, kind, op, tuple(parse_value(name, kind, p) for p in parts))
    if op == "IN":
        items = _in_items(rest)
        if len(items) > MAX_IN_VALUES:
            raise QueryError(f"IN accepts at most {MAX_IN_VALUES} values; split the request.")
        return Condition(name, kind, op, tuple(parse_value(name, kind, i) for i in items))
    return Condition(name, kind, op, (parse_value(name, kind, rest),))


def parse_value(name: str, kind: str, text: str) -> Any:
    """A query operand typed like the field it is compared with."""
    text = text.strip()
    try:
        if kind == INT:
            return int(text)
        if kind == DEC:
            return Decimal(text)
    except (ValueError, InvalidOperation):
        raise QueryError(f"{name}: '{text}' is not a number.") from None
    if kind == BOOL:
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise QueryError(f"{name}: '{text}' is not a boolean; use true or false.")
        return lowered in ("true", "1")
    if kind == DT:
        return parse_instant(name, text)
    return text


def parse_instant(name: str, text: str) -> datetime:
    """An instant from ISO-8601 with any offset (+00:00, -0400, Z) or a bare date (UTC)."""
    if _SPACE_FOR_PLUS.search(text):
        raise QueryError(
            f"{name}: '{text}' is not a valid date-time: the '+' of its UTC offset arrived as "
            "a space, because a raw '+' in a query string means a space. Percent-encode it "
            "as %2B (e.g. 2024-01-01T00:00:00%2B00:00) or send the offset as Z."
        )
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{name}: '{text}' is not a valid date-time; use ISO-8601 such as "
            "2024-01-01T00:00:00%2B00:00, 2024-01-01T00:00:00-0400 or 2024-01-01."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _like_pattern(text: str) -> re.Pattern[str]:
    # MySQL LIKE: % is any run, _ is one character; case-insensitive like the default collation.
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in text]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _in_items(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            text = text.strip("[]")
        else:
            if isinstance(parsed, list):
                return [str(item) for item in parsed]
    return [item for item in text.split(",") if item.strip()]


def _parse_sort(spec: EntitySpec, raw: str | None) -> tuple[str, bool]:
    if not raw:
        return spec.pk, False
    descending = raw.startswith("-")
    name = raw[1:] if descending else raw
    if name not in spec.sortable:
        raise QueryError(
            f"Cannot sort {spec.name} by '{name}'. Sortable fields: {', '.join(spec.sortable)}; "
            "prefix a field with - for descending order."
        )
    return name, descending


def _parse_archived(raw: str) -> str:
    lowered = raw.lower()
    mapped = {"0": "false", "1": "true"}.get(lowered, lowered)
    if mapped not in ("false", "true", "only"):
        raise QueryError(f"archived must be false, true or only, got '{raw}'.")
    return mapped


def _parse_limit(raw: str | None) -> int:
    if raw is None:
        return MAX_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise QueryError(f"limit must be an integer from 0 to {MAX_LIMIT}, got '{raw}'.") from None
    if limit < 0:
        raise QueryError(f"limit must be an integer from 0 to {MAX_LIMIT}, got '{raw}'.")
    return min(limit, MAX_LIMIT)


def _parse_relations(
    spec: EntitySpec, raw: str | None, relation_names: Collection[str]
) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if raw == "all":
        return ("all",)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(name, str) for name in parsed):
        raise QueryError(
            'load_relations must be a JSON array of relation names, e.g. ["SaleLines"], or all.'
        )
    unknown = [name for name in parsed if name not in relation_names]
    if unknown:
        raise QueryError(
            f"Unknown relation {', '.join(unknown)} for {spec.name}. "
            f"Valid: {', '.join(sorted(relation_names)) or 'none'}."
        )
    return tuple(dict.fromkeys(parsed))


def _decode_cursor(query: Query, text: str) -> tuple[Any, ...]:
    """The sort key a cursor stands for; a cursor from another query is a 400, not a guess."""
    problem = QueryError(
        "The after/before cursor is not valid for this query. Use the next/previous URL "
        "exactly as the previous page returned it."
    )
    try:
        values = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError):
        raise problem from None
    spec, field = query.spec, query.sort_field
    if not isinstance(values, list) or not values or not isinstance(values[-1], int):
        raise problem
    pk = values[-1]
    if field == spec.pk:
        if len(values) != 1:
            raise problem
        return (1, pk, pk)
    if len(values) != 2:
        raise problem
    if values[0] is None:
        return (0, pk)
    try:
        return (1, parse_value(field, spec.kind(field) or INT, str(values[0])), pk)
    except QueryError:
        raise problem from None
