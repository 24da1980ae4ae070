"""Lightspeed's JSON, quirks included: typed records in, the wire format out.

The real API's JSON is a mechanical conversion of its XML, so every scalar is a string, a
single result is an object instead of a one-element list, empty relations and null
datetimes are left out, and an empty page has no entity key at all. Clients must survive
all of that, so the emulator reproduces it in this one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# Field kinds: how a typed value is written on the wire and how a query value is parsed.
INT = "int"
DEC = "dec"
BOOL = "bool"
STR = "str"
DT = "dt"
PRICES = "prices"  # Item.Prices: an always-present nested block, not a relation

HTTP_MESSAGES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with an explicit `+00:00`, as the API writes every stored time."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def format_value(kind: str, value: Any) -> Any:
    """The wire form of one typed value; None means "leave the key out"."""
    if value is None:
        return None
    if kind == BOOL:
        return "true" if value else "false"
    if kind == DT:
        return format_datetime(value)
    if kind == DEC:
        return _format_decimal(value)
    if kind == PRICES:
        return {"ItemPrice": [dict(price) for price in value]}
    return str(value)


def _format_decimal(value: Decimal) -> str:
    # Decimal keeps the scale it was computed with ("12.50", "0.0625"); "-0.00" is a wart
    # no real API response shows, so it is normalized.
    text = str(value)
    return text[1:] if text.startswith("-") and value == 0 else text


def to_wire(fields: Sequence[tuple[str, str]], record: Mapping[str, Any]) -> dict[str, Any]:
    """A record in wire order, every scalar a string, null datetimes omitted."""
    out: dict[str, Any] = {}
    for name, kind in fields:
        wire = format_value(kind, record.get(name))
        if wire is not None:
            out[name] = wire
    return out


def one_or_many(items: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """One item as a bare object, several as a list: the XML-to-JSON quirk."""
    return items[0] if len(items) == 1 else items


def relation_block(child_key: str, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """`{"SaleLine": ...}` for an x-to-many relation, or None when empty (the key is omitted)."""
    if not items:
        return None
    return {child_key: one_or_many(items)}


def list_body(
    entity: str, records: list[dict[str, Any]], next_url: str, previous_url: str
) -> dict[str, Any]:
    """A query page; no entity key at all when nothing matched."""
    body: dict[str, Any] = {"@attributes": {"next": next_url, "previous": previous_url}}
    if records:
        body[entity] = one_or_many(records)
    return body


def single_body(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"@attributes": {"count": "1"}, entity: record}


def count_body(count: int) -> dict[str, Any]:
    return {"@attributes": {"count": str(count)}}


def error_body(status: int, message: str, error_class: str) -> dict[str, Any]:
    """The resource server's error shape; `httpCode` is a string like every other scalar."""
    return {
        "httpCode": str(status),
        "httpMessage": HTTP_MESSAGES.get(status, "Error"),
        "message": message,
        "errorClass": error_class,
    }
