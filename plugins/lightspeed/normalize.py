"""Lightspeed's JSON quirks, handled in one place (reference §4, §11).

The JSON is a mechanical conversion of the XML API: one result is an object instead of a
one-element list, zero results drop the entity key, empty relations are missing or `""`, and
containers wrap their items (`"SaleLines": {"SaleLine": [...]}`). Records leave this module
with every known relation as a plain list (`sale["SaleLines"]` is a list of line dicts,
`item["Prices"]` a list of ItemPrice dicts) and values still strings: typing is transform.py's
job, so nothing is lost or guessed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Container key -> item key, for the relations and nested collections we read.
RELATION_ITEMS: dict[str, str] = {
    "SaleLines": "SaleLine",
    "SalePayments": "SalePayment",
    "SaleNotes": "SaleNote",
    "TaxClassTotals": "Tax",
    "Prices": "ItemPrice",
    "ItemPrices": "ItemPrice",
    "ItemShops": "ItemShop",
    "ItemVendorNums": "ItemVendorNum",
    "ItemComponents": "ItemComponent",
    "Images": "Image",
    "Registers": "Register",
    "ShelfLocations": "ShelfLocation",
    "EmployeeRights": "EmployeeRight",
    "InventorySales": "InventorySale",
    "SaleAccounts": "SaleAccount",
    "Signatures": "Signature",
    "ProcessingFees": "ProcessingFee",
    "CustomFieldValues": "CustomFieldValue",
    "TagRelations": "TagRelation",
    "Addresses": "ContactAddress",
    "Phones": "ContactPhone",
    "Emails": "ContactEmail",
    "Websites": "ContactWebsite",
}


def one_or_many(value: Any) -> list[Any]:
    """A missing, empty, single-object or list value as a list (§4.2-§4.4)."""
    if value is None or value == "" or value == {}:
        return []
    if isinstance(value, list):
        return [item for item in value if item not in (None, "")]
    return [value]


def records(payload: Mapping[str, Any] | None, entity: str) -> list[dict[str, Any]]:
    """The normalized records of one page; an absent entity key means an empty page."""
    if not isinstance(payload, Mapping):
        return []
    return [normalize_record(record) for record in one_or_many(payload.get(entity))]


def normalize_record(record: Any) -> Any:
    """Turn every known relation container in `record` (recursively) into a list."""
    if not isinstance(record, Mapping):
        return record
    out: dict[str, Any] = {}
    for key, value in record.items():
        item_key = RELATION_ITEMS.get(key)
        if item_key is not None:
            out[key] = [normalize_record(item) for item in _relation_items(value, item_key)]
        elif isinstance(value, Mapping):
            out[key] = normalize_record(value)
        elif isinstance(value, list):
            out[key] = [normalize_record(item) for item in value]
        else:
            out[key] = value
    return out


def _relation_items(value: Any, item_key: str) -> list[Any]:
    # Either the container ({"SaleLine": ...}) or, if something already unwrapped it, the items.
    if isinstance(value, Mapping) and (item_key in value or not value):
        return one_or_many(value.get(item_key))
    return one_or_many(value)


def get_ci(record: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """A field by case-insensitive name: `updatetime` vs `updateTime` (§4.9)."""
    if key in record:
        return record[key]
    lowered = key.lower()
    for name, value in record.items():
        if name.lower() == lowered:
            return value
    return default


def update_time(record: Mapping[str, Any]) -> str | None:
    """The record's `updatetime`, whatever its casing; None when absent or empty."""
    return get_ci(record, "updatetime") or None


def attributes(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The page's `@attributes` block (next/previous/count), empty when missing."""
    if not isinstance(payload, Mapping):
        return {}
    value = payload.get("@attributes")
    return dict(value) if isinstance(value, Mapping) else {}
