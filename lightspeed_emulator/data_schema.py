"""One declaration per emulated endpoint: fields in wire order, sort whitelist, relations, scopes.

Field lists and sortable fields follow the reference (docs/.. lightspeed-r-series-api.md §5,
§9); the kind of each field drives both serialization and how a query value is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lightspeed_emulator.serialize import BOOL, DT, PRICES


@dataclass(frozen=True)
class Relation:
    """A loadable relation. `target` None: accepted, but the emulator has nothing to put there."""

    target: str | None
    many: bool = False
    key: str = ""  # the foreign key on the parent for x-to-one relations


@dataclass(frozen=True)
class EntitySpec:
    name: str
    pk: str
    fields: tuple[tuple[str, str], ...]  # wire order
    sortable: tuple[str, ...]
    scopes: frozenset[str]
    relations: dict[str, Relation] = field(default_factory=dict)
    # Filterable and sortable, never written (SalePayment.timeStamp is absent from samples).
    hidden: tuple[tuple[str, str], ...] = ()

    def kind(self, name: str) -> str | None:
        for field_name, kind in (*self.fields, *self.hidden):
            if field_name == name:
                return kind
        return None

    @property
    def archivable(self) -> bool:
        return self.kind("archived") == BOOL


def _fields(spec: str) -> tuple[tuple[str, str], ...]:
    """'saleID:int timeStamp:dt ...' -> (("saleID", "int"), ...); keeps declarations short."""
    return tuple(tuple(part.split(":")) for part in spec.split())  # type: ignore[misc]


_ALL = "employee:all"
_REGISTER = frozenset({_ALL, "employee:register", "employee:register_read", "employee:cfd"})
_SETUP = _REGISTER | {
    "employee:inventory_base", "employee:reports", "employee:workbench", "employee:customers",
    "employee:admin", "employee:inventory", "employee:inventory_read",
}  # fmt: skip
_INVENTORY = frozenset({
    _ALL, "employee:inventory", "employee:inventory_read", "employee:cfd", "employee:register",
    "employee:product_cost", "employee:reports", "employee:workbench", "employee:customers",
    "employee:admin", "employee:admin_inventory",
})  # fmt: skip
_STAFF = frozenset({_ALL, "employee:admin_employees"})

SALE_FIELDS = _fields(
    "saleID:int timeStamp:dt discountPercent:dec completed:bool archived:bool voided:bool "
    "enablePromotions:bool isTaxInclusive:bool tipEnabled:bool createTime:dt updatetime:dt "
    "completeTime:dt referenceNumber:str referenceNumberSource:str tax1Rate:dec tax2Rate:dec "
    "change:dec receiptPreference:str displayableSubtotal:dec ticketNumber:str calcDiscount:dec "
    "calcTotal:dec calcSubtotal:dec calcTaxable:dec calcNonTaxable:dec calcAvgCost:dec "
    "calcFIFOCost:dec calcTax1:dec calcTax2:dec calcPayments:dec calcTips:dec calcItemFees:dec "
    "total:dec totalDue:dec displayableTotal:dec balance:dec customerID:int discountID:int "
    "employeeID:int tipEmployeeID:int quoteID:int registerID:int shipToID:int shopID:int "
    "taxCategoryID:int taxTotal:dec"
)
SALE_LINE_FIELDS = _fields(
    "saleLineID:int createTime:dt timeStamp:dt unitQuantity:int unitPrice:dec "
    "normalUnitPrice:dec discountAmount:dec discountPercent:dec avgCost:dec fifoCost:dec "
    "tax:bool tax1Rate:dec tax2Rate:dec isLayaway:bool isWorkorder:bool isSpecialOrder:bool "
    "displayableSubtotal:dec displayableUnitPrice:dec calcLineDiscount:dec "
    "calcTransactionDiscount:dec calcTotal:dec calcSubtotal:dec calcTax1:dec calcTax2:dec "
    "taxClassID:int customerID:int discountID:int employeeID:int itemID:int noteID:int "
    "parentSaleLineID:int shopID:int taxCategoryID:int saleID:int itemFeeID:int lineType:str"
)
SALE_PAYMENT_FIELDS = _fields(
    "salePaymentID:int amount:dec tipAmount:dec createTime:dt archived:bool remoteReference:str "
    "paymentID:str saleID:int paymentTypeID:int ccChargeID:int refPaymentID:int registerID:int "
    "employeeID:int creditAccountID:int"
)
ITEM_FIELDS = _fields(
    "itemID:int systemSku:str defaultCost:dec avgCost:dec discountable:bool tax:bool "
    "archived:bool itemType:str serialized:bool description:str modelYear:int upc:str ean:str "
    "customSku:str manufacturerSku:str createTime:dt timeStamp:dt publishToEcom:bool "
    "categoryID:int taxClassID:int departmentID:int itemMatrixID:int manufacturerID:int "
    "seasonID:int defaultVendorID:int"
) + (("Prices", PRICES),)

_SALE_EMPTY = ("Customer", "Discount", "TaxCategory", "ShipTo", "Quote", "SaleNotes")

SPECS: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "Sale", "saleID", SALE_FIELDS,
            ("saleID", "timeStamp", "completeTime", "updatetime"), _REGISTER,
            {
                "SaleLines": Relation("SaleLine", many=True),
                "SalePayments": Relation("SalePayment", many=True),
                "Shop": Relation("Shop", key="shopID"),
                **{name: Relation(None) for name in _SALE_EMPTY},
            },
        ),
        EntitySpec(
            "SaleLine", "saleLineID", SALE_LINE_FIELDS, ("saleLineID", "timeStamp", "saleID"),
            _REGISTER,
            {
                "Item": Relation("Item", key="itemID"),
                **{name: Relation(None) for name in ("Discount", "TaxClass", "Note")},
            },
        ),
        EntitySpec(
            "SalePayment", "salePaymentID", SALE_PAYMENT_FIELDS,
            ("salePaymentID", "timeStamp", "saleID"), _REGISTER,
            {
                "PaymentType": Relation("PaymentType", key="paymentTypeID"),
                **{name: Relation(None) for name in ("CCCharge", "SaleAccounts")},
            },
            hidden=(("timeStamp", DT),),
        ),
        EntitySpec(
            "Item", "itemID", ITEM_FIELDS, ("itemID", "timeStamp", "description"), _INVENTORY,
            {
                "Category": Relation("Category", key="categoryID"),
                **{name: Relation(None) for name in ("TaxClass", "Manufacturer", "Note", "ItemShops")},
            },
        ),
        EntitySpec(
            "Category", "categoryID",
            _fields(
                "categoryID:int name:str nodeDepth:int fullPathName:str leftNode:int "
                "rightNode:int createTime:dt timeStamp:dt parentID:int"
            ),
            ("categoryID", "timeStamp", "leftNode", "rightNode"),
            _INVENTORY | {"employee:categories"},
            {"Parent": Relation("Category", key="parentID")},
        ),
        EntitySpec(
            "Shop", "shopID",
            _fields(
                "shopID:int name:str serviceRate:dec timeZone:str taxLabor:bool labelTitle:str "
                "labelMsrp:bool archived:bool timeStamp:dt companyRegistrationNumber:str "
                "vatNumber:str zebraBrowserPrint:bool contactID:int taxCategoryID:int "
                "receiptSetupID:int ccGatewayID:int gatewayConfigID:int priceLevelID:int"
            ),
            ("shopID",), _SETUP | {"employee:admin_shops"},
            {
                "Registers": Relation("Register", many=True),
                **{name: Relation(None) for name in ("Contact", "ReceiptSetup", "TaxCategory")},
            },
        ),
        EntitySpec(
            "Register", "registerID",
            _fields(
                "registerID:int name:str open:bool openTime:dt archived:bool tipEnabled:bool "
                "openEmployeeID:int shopID:int ccTerminalID:int"
            ),
            ("registerID",), _SETUP,
        ),
        EntitySpec(
            "PaymentType", "paymentTypeID",
            _fields(
                "paymentTypeID:int name:str requireCustomer:bool archived:bool "
                "internalReserved:bool type:str refundAsPaymentTypeID:int"
            ),
            ("paymentTypeID",), _SETUP | {"employee:admin_purchases"},
        ),
        EntitySpec(
            "Employee", "employeeID",
            _fields(
                "employeeID:int firstName:str lastName:str lockOut:bool archived:bool "
                "timeStamp:dt contactID:int clockInEmployeeHoursID:int employeeRoleID:int "
                "limitToShopID:int lastShopID:int lastSaleID:int lastRegisterID:int"
            ),
            ("employeeID", "timeStamp"), _STAFF,
            {name: Relation(None) for name in ("Contact", "EmployeeRole", "EmployeeRights")},
        ),
        EntitySpec(
            "EmployeeHours", "employeeHoursID",
            _fields("employeeHoursID:int checkIn:dt checkOut:dt employeeID:int shopID:int"),
            ("employeeHoursID",), _STAFF,
        ),
    )
}  # fmt: skip

# What load_relations=all loads (heavy, like the real thing): every relation the emulator
# fills, nested ones included.
ALL_RELATIONS: dict[str, tuple[str, ...]] = {
    "Sale": ("SaleLines", "SaleLines.Item", "SalePayments", "SalePayments.PaymentType", "Shop"),
    "SaleLine": ("Item",),
    "SalePayment": ("PaymentType",),
    "Item": ("Category",),
    "Category": ("Parent",),
    "Shop": ("Registers",),
}
