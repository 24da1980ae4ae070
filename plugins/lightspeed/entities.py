"""Every Lightspeed entity the warehouse imports, declared as data.

One frozen `Entity` per API entity says how to read it (endpoint, filters, relations, cursor
and range fields, shop or account scope) and where it lands (staging tables, keys, how
deletions are reconciled). extract.py, load.py and windows.py are generic over these
declarations, so adding an entity is one declaration, one transform function and one upsert
file, and every SQL identifier comes from here, never from user text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["shop", "account"]
# How rows that the API no longer returns are handled:
#   "children"       child rows of a re-read parent that the parent no longer lists are deleted
#   "window"         rows of the shop whose range field lies in the re-read window are deleted
#   "archive_absent" a full reload marks rows it did not see as archived (they stay, flagged)
#   "none"           nothing is reconciled (incremental reads cannot see hard deletes)
Reconcile = Literal["none", "children", "window", "archive_absent"]


@dataclass(frozen=True)
class Table:
    """One staging table in lightspeed_staging (the DDL in include/sql/ddl is the truth).

    Attributes:
        name: Table name; its upsert lives in include/sql/upsert/<name>.sql.
        key: Primary-key columns after account_id.
        columns: The columns a transformed row fills, in row order (account_id first).
            loaded_at and run_id are set by the upsert, not by the row.
        version: The column whose larger value marks the newer version (time_stamp), or None
            when the newest read wins.
        parent_key: For a child table, the column holding the parent's key.
        has_run_id: False for tables without run_id/loaded_at (item_price).
        time_from: Business-time column whose changes the aggregates must rebuild.
        time_to: Columns (first non-NULL wins) ending that business-time span.
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    version: str | None = None
    parent_key: str | None = None
    has_run_id: bool = True
    time_from: str | None = None
    time_to: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"lightspeed_staging.{self.name}"

    @property
    def temp(self) -> str:
        """Temp table the pages are copied into (ON COMMIT DROP)."""
        return f"tmp_{self.name}"

    @property
    def chosen(self) -> str:
        """Temp table of the deduplicated, non-stale parent versions of this run."""
        return f"src_{self.name}"


@dataclass(frozen=True)
class Entity:
    """How one Lightspeed entity is read and where it is stored.

    Attributes:
        name: Stable name used in watermarks, load_log, quarantine and task ids.
        endpoint: API entity (`/API/V3/Account/{id}/<endpoint>.json`).
        record_key: The envelope key holding the records.
        primary_key: The API's ID field of one record.
        table: The staging table of the records themselves.
        children: Staging tables filled from the record's relations (replaced per parent).
        cursor_field: Field for incremental reads (last-modified), None for full reloads.
        range_field: Field for explicit date ranges (initial, days_back, backfill).
        range_column: The staging column holding `range_field` (window reconciliation).
        relations: `load_relations` to request.
        scope: "shop" queries one shop at a time (shopID), "account" the whole account.
        archived: Send archived=true so records archived later are seen and updated.
        sort: Sort field; the primary key keeps paging stable while records are edited.
        reconcile: How deletions upstream are reflected (see `Reconcile`).
        filters: Fixed query parameters (e.g. completed sales only).
    """

    name: str
    endpoint: str
    record_key: str
    primary_key: str
    table: Table
    children: tuple[Table, ...] = ()
    cursor_field: str | None = None
    range_field: str | None = None
    range_column: str | None = None
    relations: tuple[str, ...] = ()
    scope: Scope = "account"
    archived: bool = False
    sort: str = ""
    reconcile: Reconcile = "none"
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.table, *self.children)

    @property
    def full_reload(self) -> bool:
        return self.cursor_field is None and self.range_field is None

    def base_params(self, shop_id: int | None) -> dict[str, object]:
        """Query parameters every read of this entity carries (the window adds its filter)."""
        params: dict[str, object] = dict(self.filters)
        if self.scope == "shop":
            if shop_id is None:
                raise ValueError(f"{self.name} is read per shop: pass shop_id")
            params["shopID"] = shop_id
        if self.archived:
            params["archived"] = "true"
        if self.relations:
            params["load_relations"] = list(self.relations)
        params["sort"] = self.sort or self.primary_key
        return params


SALE = Table(
    name="sale",
    key=("sale_id",),
    columns=(
        "account_id",
        "sale_id",
        "shop_id",
        "register_id",
        "employee_id",
        "customer_id",
        "completed",
        "voided",
        "archived",
        "create_time",
        "complete_time",
        "update_time",
        "time_stamp",
        "calc_subtotal",
        "calc_discount",
        "calc_tax1",
        "calc_tax2",
        "calc_total",
        "total",
        "raw",
    ),
    version="time_stamp",
    time_from="complete_time",
    time_to=("complete_time",),
)
SALE_LINE = Table(
    name="sale_line",
    key=("sale_line_id",),
    columns=(
        "account_id",
        "sale_line_id",
        "sale_id",
        "shop_id",
        "item_id",
        "line_type",
        "unit_quantity",
        "unit_price",
        "calc_subtotal",
        "calc_line_discount",
        "calc_transaction_discount",
        "calc_total",
        "parent_sale_line_id",
        "is_layaway",
        "time_stamp",
        "raw",
    ),
    parent_key="sale_id",
)
SALE_PAYMENT = Table(
    name="sale_payment",
    key=("sale_payment_id",),
    columns=(
        "account_id",
        "sale_payment_id",
        "sale_id",
        "payment_type_id",
        "amount",
        "tip_amount",
        "archived",
        "create_time",
        "raw",
    ),
    parent_key="sale_id",
)
EMPLOYEE_HOURS_TABLE = Table(
    name="employee_hours",
    key=("employee_hours_id",),
    columns=(
        "account_id",
        "employee_hours_id",
        "employee_id",
        "shop_id",
        "check_in",
        "check_out",
        "extracted_at",
        "raw",
    ),
    time_from="check_in",
    time_to=("check_out", "extracted_at"),
)
ITEM = Table(
    name="item",
    key=("item_id",),
    columns=(
        "account_id",
        "item_id",
        "description",
        "category_id",
        "item_type",
        "default_price",
        "archived",
        "time_stamp",
        "raw",
    ),
    version="time_stamp",
)
ITEM_PRICE = Table(
    name="item_price",
    key=("item_id", "use_type_id"),
    columns=("account_id", "item_id", "use_type_id", "use_type", "amount"),
    parent_key="item_id",
    has_run_id=False,
)
CATEGORY = Table(
    name="category",
    key=("category_id",),
    columns=(
        "account_id",
        "category_id",
        "name",
        "full_path_name",
        "parent_id",
        "time_stamp",
        "raw",
    ),
    version="time_stamp",
)
EMPLOYEE = Table(
    name="employee",
    key=("employee_id",),
    columns=(
        "account_id",
        "employee_id",
        "first_name",
        "last_name",
        "archived",
        "lock_out",
        "time_stamp",
        "raw",
    ),
    version="time_stamp",
)
SHOP = Table(
    name="shop",
    key=("shop_id",),
    columns=("account_id", "shop_id", "name", "time_zone", "archived", "time_stamp", "raw"),
    version="time_stamp",
)
REGISTER = Table(
    name="register",
    key=("register_id",),
    columns=("account_id", "register_id", "shop_id", "name", "archived", "raw"),
)
PAYMENT_TYPE = Table(
    name="payment_type",
    key=("payment_type_id",),
    columns=("account_id", "payment_type_id", "name", "type", "archived", "raw"),
)

# Completed sales only: a full reload reads by completeTime, which incomplete sales lack, so
# keeping them from incremental reads would make the warehouse depend on how it was loaded.
# Voided sales stay completed and are read; archived=true is harmless (only incomplete sales
# can be archived) and keeps a future change of that rule visible.
SALES = Entity(
    name="sale",
    endpoint="Sale",
    record_key="Sale",
    primary_key="saleID",
    table=SALE,
    children=(SALE_LINE, SALE_PAYMENT),
    cursor_field="timeStamp",
    range_field="completeTime",
    range_column="complete_time",
    relations=("SaleLines", "SalePayments"),
    scope="shop",
    archived=True,
    sort="saleID",
    reconcile="children",
    filters=(("completed", "true"),),
)
# No timeStamp and hard deletes: every run re-reads a trailing checkIn window and deletes
# the shop's rows of that window the API no longer returns.
EMPLOYEE_HOURS = Entity(
    name="employee_hours",
    endpoint="EmployeeHours",
    record_key="EmployeeHours",
    primary_key="employeeHoursID",
    table=EMPLOYEE_HOURS_TABLE,
    range_field="checkIn",
    range_column="check_in",
    scope="shop",
    sort="employeeHoursID",
    reconcile="window",
)
# Prices are always part of an Item (not a relation); they go to item_price.
ITEMS = Entity(
    name="item",
    endpoint="Item",
    record_key="Item",
    primary_key="itemID",
    table=ITEM,
    children=(ITEM_PRICE,),
    cursor_field="timeStamp",
    archived=True,
    sort="itemID",
    reconcile="children",
)
CATEGORIES = Entity(
    name="category",
    endpoint="Category",
    record_key="Category",
    primary_key="categoryID",
    table=CATEGORY,
    cursor_field="timeStamp",
    sort="categoryID",
)
EMPLOYEES = Entity(
    name="employee",
    endpoint="Employee",
    record_key="Employee",
    primary_key="employeeID",
    table=EMPLOYEE,
    cursor_field="timeStamp",
    archived=True,
    sort="employeeID",
)
# Small dimensions: reloaded in full each run; a row missing from a complete reload is
# marked archived rather than deleted, so sales that reference it keep their names.
SHOPS = Entity(
    name="shop",
    endpoint="Shop",
    record_key="Shop",
    primary_key="shopID",
    table=SHOP,
    archived=True,
    sort="shopID",
    reconcile="archive_absent",
)
REGISTERS = Entity(
    name="register",
    endpoint="Register",
    record_key="Register",
    primary_key="registerID",
    table=REGISTER,
    archived=True,
    sort="registerID",
    reconcile="archive_absent",
)
PAYMENT_TYPES = Entity(
    name="payment_type",
    endpoint="PaymentType",
    record_key="PaymentType",
    primary_key="paymentTypeID",
    table=PAYMENT_TYPE,
    archived=True,
    sort="paymentTypeID",
    reconcile="archive_absent",
)

SHOP_ENTITIES: tuple[Entity, ...] = (SALES, EMPLOYEE_HOURS)
ACCOUNT_ENTITIES: tuple[Entity, ...] = (
    SHOPS,
    REGISTERS,
    PAYMENT_TYPES,
    CATEGORIES,
    ITEMS,
    EMPLOYEES,
)
ALL_ENTITIES: tuple[Entity, ...] = ACCOUNT_ENTITIES + SHOP_ENTITIES
BY_NAME: dict[str, Entity] = {e.name: e for e in ALL_ENTITIES}


def get_entity(name: str) -> Entity:
    """The declaration called `name` (e.g. "sale"); the error lists the valid names."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"Unknown entity {name!r}; known: {', '.join(sorted(BY_NAME))}") from None
