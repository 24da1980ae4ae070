"""The simulated chain as pure data: shops, catalogue, staff, and what each shop did each hour.

Everything is a function of the seed and of absolute time, never of when the emulator
started: a shop's sales in a given UTC hour (and every later edit to them: voids, archives)
come from a random stream seeded by (seed, shop, hour), so two emulators with the same seed
serve identical records. IDs encode the hour (`hour * 10**7 + shop * 10**4 + seq`, hours
counted from `EPOCH`), so ID order follows time and a cursor tells which hour to resume in.

Records here are typed dicts (int, Decimal, bool, datetime, str); `serialize.py` turns
them into Lightspeed's all-strings JSON.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
# Every later edit (void, archive, forgotten clock-out fixed) lands within this delay, so a
# window on timeStamp only needs to look this far back for records that moved.
MAX_EDIT_DELAY = timedelta(hours=48)
SALE_HOUR = 10**7  # sale_id = hour * SALE_HOUR + shop_id * SHOP_SPAN + seq
SHOP_SPAN = 10**4
MAX_SHOPS = 999
MAX_SALES_PER_HOUR = 8999
RESERVATION_SEQ = 9000  # pseudo-sale numbers of unattached layaway lines
CHILD = 10  # saleLineID / salePaymentID = sale_id * CHILD + k

SALE, INCOMPLETE, REFUND = "sale", "incomplete", "refund"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

CASH, CARD, GIFT_CARD, CREDIT_ACCOUNT, CHECK, OLD_DEBIT = 1, 2, 3, 4, 5, 6


def hour_index(when: datetime) -> int:
    """Hours since EPOCH, floored: the partition a time falls in."""
    return math.floor((when - EPOCH) / HOUR)


def hour_start(index: int) -> datetime:
    return EPOCH + index * HOUR


def sale_id_of(hour: int, shop_id: int, seq: int) -> int:
    return hour * SALE_HOUR + shop_id * SHOP_SPAN + seq


def split_sale_id(sale_id: int) -> tuple[int, int, int]:
    """(hour, shop_id, seq) of a sale ID (or of a pseudo-sale for reservations)."""
    hour, rest = divmod(sale_id, SALE_HOUR)
    shop_id, seq = divmod(rest, SHOP_SPAN)
    return hour, shop_id, seq


def q2(value: Decimal) -> Decimal:
    """Money rounding, symmetric for refunds (negative amounts)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _mix(*parts: object) -> int:
    """A stable 64-bit hash (Python's hash() changes per process)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# --- the chain's fixed shape ----------------------------------------------------------------

# name, legacy IANA zone (as Lightspeed stores it), opens, closes, Sunday hours or None,
# tax1, tax2. Phoenix, Honolulu and Regina keep no DST; the rest do.
_SHOP_PROFILES: tuple[tuple[str, str, int, int, tuple[int, int] | None, str, str], ...] = (
    ("Boston Downtown", "US/Eastern", 9, 21, (11, 18), "0.0625", "0"),
    ("Phoenix Desert Ridge", "America/Phoenix", 9, 21, None, "0.056", "0.023"),
    ("Seattle Capitol Hill", "US/Pacific", 10, 20, (11, 17), "0.065", "0.036"),
    ("Toronto Queen West", "America/Toronto", 10, 21, (11, 18), "0.05", "0.08"),
    ("London Covent Garden", "Europe/London", 9, 20, (12, 18), "0.2", "0"),
    ("Chicago Wicker Park", "US/Central", 9, 21, None, "0.0625", "0.0475"),
    ("Denver LoDo", "US/Mountain", 10, 20, (11, 17), "0.029", "0.0481"),
    ("Honolulu Ala Moana", "Pacific/Honolulu", 9, 21, (10, 18), "0.04", "0.005"),
    ("Regina Cathedral", "America/Regina", 10, 18, None, "0.05", "0.06"),
    ("Vancouver Gastown", "America/Vancouver", 10, 20, (11, 18), "0.05", "0.07"),
)
_HOUR_WEIGHT = {
    9: 0.6, 10: 0.8, 11: 1.0, 12: 1.3, 13: 1.2, 14: 1.0,
    15: 1.0, 16: 1.1, 17: 1.3, 18: 1.2, 19: 0.9, 20: 0.6,
}  # fmt: skip
_WEEKDAY_WEIGHT = (0.8, 0.85, 0.9, 1.0, 1.2, 1.45, 0.9)  # Monday .. Sunday

_PAYMENT_TYPES = (
    (CASH, "Cash", "cash", False, False),
    (CARD, "Credit Card", "credit card", False, False),
    (GIFT_CARD, "Gift Card", "gift card", False, False),
    (CREDIT_ACCOUNT, "Credit Account", "credit account", True, False),
    (CHECK, "Check", "user defined", False, False),
    (OLD_DEBIT, "Debit (retired)", "user defined", False, True),
)

# (name, parent index or None); a small outdoor-store tree, written depth first.
_CATEGORIES: tuple[tuple[str, int | None], ...] = (
    ("Apparel", None), ("Jackets", 0), ("Base Layers", 0), ("Socks", 0),
    ("Footwear", None), ("Hiking Boots", 4), ("Trail Runners", 4),
    ("Camping", None), ("Tents", 7), ("Sleeping Bags", 7), ("Cookware", 7),
    ("Climbing", None), ("Ropes", 11), ("Hardware", 11),
    ("Accessories", None), ("Headlamps", 14), ("Water Bottles", 14), ("Maps & Guides", 14),
)  # fmt: skip
# Per leaf category: nouns and a price range in dollars.
_LEAF_GOODS: dict[str, tuple[tuple[str, ...], int, int]] = {
    "Jackets": (("Rain Shell", "Down Jacket", "Softshell", "Fleece"), 60, 320),
    "Base Layers": (("Merino Crew", "Zip Neck", "Long Johns"), 35, 110),
    "Socks": (("Hiker Sock", "Liner Sock", "Ski Sock"), 12, 28),
    "Hiking Boots": (("Mid Boot", "Leather Boot", "Approach Shoe"), 120, 290),
    "Trail Runners": (("Trail Runner", "Race Flat"), 90, 180),
    "Tents": (("2P Tent", "Ultralight Tent", "Family Tent", "Tarp"), 90, 650),
    "Sleeping Bags": (("Down Bag", "Synthetic Bag", "Quilt"), 80, 480),
    "Cookware": (("Stove", "Pot Set", "Mug", "Spork"), 6, 140),
    "Ropes": (("Dynamic Rope", "Static Rope", "Cord"), 15, 280),
    "Hardware": (("Carabiner", "Belay Device", "Quickdraw", "Nut Set"), 9, 120),
    "Headlamps": (("Headlamp", "Lantern"), 25, 90),
    "Water Bottles": (("Bottle", "Filter", "Bladder"), 12, 60),
    "Maps & Guides": (("Trail Map", "Guidebook"), 9, 35),
}
_ADJECTIVES = ("Alpine", "Summit", "Ridge", "Canyon", "Glacier", "Cedar", "Granite", "Aurora",
               "Tundra", "Sierra", "Coastal", "Boreal")  # fmt: skip
_FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery",
          "Quinn", "Drew", "Robin", "Kai", "Noor", "Mina", "Luis")  # fmt: skip
_LAST = ("Nguyen", "Smith", "Garcia", "Okafor", "Kowalski", "Martin", "Haddad", "Ito",
         "Silva", "Brown", "Dubois", "Novak")  # fmt: skip
CATALOGUE_CREATED = datetime(2019, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ShopProfile:
    shop_id: int
    name: str
    time_zone: str
    opens: int
    closes: int
    sunday: tuple[int, int] | None
    tax1: Decimal
    tax2: Decimal
    registers: tuple[int, ...]
    staff: tuple[int, ...]  # active employees working the floor
    crew: tuple[int, ...]  # round-the-clock stockroom crew (flagship only)
    tips: bool
    tz: ZoneInfo

    def window(self, day: date) -> tuple[int, int] | None:
        """Opening hours (local) on a date, or None when closed."""
        if day.weekday() == 6:
            return self.sunday
        return self.opens, self.closes


@dataclass(frozen=True)
class ItemSpec:
    item_id: int
    description: str
    category_id: int
    base_price: Decimal
    taxable: bool
    archived: bool
    item_type: str
    popularity: float
    edit_period: timedelta
    edit_phase: timedelta


@dataclass(frozen=True)
class EmployeeSpec:
    employee_id: int
    shop_id: int
    first_name: str
    last_name: str
    archived: bool
    role_id: int


@dataclass(frozen=True, slots=True)
class SaleStub:
    """What a sale is and when things happened to it: enough to filter on times cheaply."""

    sale_id: int
    shop_id: int
    hour: int
    seq: int
    kind: str
    create_time: datetime
    complete_time: datetime | None  # None: never completed (parked, maybe archived later)
    void_time: datetime | None
    archive_time: datetime | None
    refund_of: int  # sale ID this refund reverses, 0 otherwise

    @property
    def visible_at(self) -> datetime:
        # A completed sale shows up once it is complete; a parked one once it exists.
        return self.complete_time or self.create_time

    def state(self, now: datetime) -> dict[str, Any]:
        """The header fields that depend on which later events have happened by `now`."""
        stamp = self.visible_at
        voided = self.void_time is not None and self.void_time <= now
        archived = self.archive_time is not None and self.archive_time <= now
        if voided:
            stamp = self.void_time
        if archived:
            stamp = self.archive_time
        return {
            "saleID": self.sale_id,
            "shopID": self.shop_id,
            "timeStamp": stamp,
            "updatetime": stamp,
            "createTime": self.create_time,
            "completeTime": self.complete_time,
            "completed": self.complete_time is not None,
            "voided": voided,
            "archived": archived,
        }


@dataclass(frozen=True, slots=True)
class SaleDetail:
    header: dict[str, Any]  # static Sale fields (money, register, employee)
    lines: tuple[dict[str, Any], ...]
    payments: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Shift:
    employee_hours_id: int
    employee_id: int
    shop_id: int
    check_in: datetime
    check_out: datetime
    check_out_known_at: datetime  # later than check_out when a forgotten clock-out is fixed
    deleted_at: datetime | None  # hard-deleted by a manager at this time

    def record(self, now: datetime) -> dict[str, Any] | None:
        """The row as the API shows it at `now`, or None if not (or no longer) there."""
        if self.check_in > now or (self.deleted_at is not None and self.deleted_at <= now):
            return None
        return {
            "employeeHoursID": self.employee_hours_id,
            "checkIn": self.check_in,
            "checkOut": self.check_out if self.check_out_known_at <= now else None,
            "employeeID": self.employee_id,
            "shopID": self.shop_id,
        }


@dataclass(frozen=True, slots=True)
class _Slot:
    seq: int
    at: datetime
    kind: str
    lead: timedelta
    void_delay: timedelta | None
    archive_delay: timedelta | None
    back_hours: int
    pick: float


@dataclass(frozen=True, slots=True)
class _LineSpec:
    item_id: int
    quantity: int
    unit_price: Decimal
    line_pct: Decimal
    trans_pct: Decimal
    taxable: bool
    cost: Decimal
    parent_line_id: int = 0
    line_type: str = ""
    item_fee_id: int = 0
    layaway: bool = False


class Chain:
    """The whole simulated account; cheap to build, generates history lazily with small caches."""

    def __init__(self, seed: int, shops: int, sales_per_day: int) -> None:
        if not 1 <= shops <= MAX_SHOPS:
            raise ValueError(f"shops must be between 1 and {MAX_SHOPS}, got {shops}")
        self.seed = seed
        self.sales_per_day = max(0, sales_per_day)
        self.shops = tuple(self._make_shop(i + 1) for i in range(shops))
        self._shops_by_id = {shop.shop_id: shop for shop in self.shops}
        self.employees = tuple(self._make_employees())
        self.categories = self._make_categories()
        self.items = tuple(self._make_items())
        self._items_by_id = {item.item_id: item for item in self.items}
        sellable = [item for item in self.items if not item.archived]
        self._sellable = sellable
        self._sellable_cum = _cumulative([item.popularity for item in sellable])
        self.slots = lru_cache(maxsize=32768)(self._slots)
        self.sale_stubs = lru_cache(maxsize=16384)(self._sale_stubs)
        self.sale_detail = lru_cache(maxsize=8192)(self._sale_detail)
        self.reservations = lru_cache(maxsize=16384)(self._reservations)
        self.day_plan = lru_cache(maxsize=4096)(self._day_plan)

    def _rng(self, *parts: object) -> random.Random:
        # String seeds hash with SHA-512: stable across processes and Python builds.
        return random.Random("|".join(str(part) for part in (self.seed, *parts)))

    # --- fixed shape ------------------------------------------------------------------------

    def _make_shop(self, shop_id: int) -> ShopProfile:
        name, zone, opens, closes, sunday, tax1, tax2 = _SHOP_PROFILES[
            (shop_id - 1) % len(_SHOP_PROFILES)
        ]
        if shop_id > len(_SHOP_PROFILES):
            name = f"{name} #{(shop_id - 1) // len(_SHOP_PROFILES) + 1}"
        registers = tuple(shop_id * 10 + k for k in range(1, 2 + shop_id % 3))
        staff_count = 4
        crew_count = 3 if shop_id == 1 else 0
        base = shop_id * 100
        staff = tuple(base + k for k in range(1, staff_count + 1))
        crew = tuple(base + staff_count + k for k in range(1, crew_count + 1))
        return ShopProfile(
            shop_id, name, zone, opens, closes, sunday, Decimal(tax1), Decimal(tax2),
            registers, staff, crew, tips=shop_id % 4 == 3, tz=ZoneInfo(zone),
        )  # fmt: skip

    def shop(self, shop_id: int) -> ShopProfile:
        return self._shops_by_id[shop_id]

    def has_shop(self, shop_id: int) -> bool:
        return shop_id in self._shops_by_id

    def _make_employees(self) -> list[EmployeeSpec]:
        out = []
        for shop in self.shops:
            rng = self._rng("employees", shop.shop_id)
            active = shop.staff + shop.crew
            for number, employee_id in enumerate((*active, shop.shop_id * 100 + 99)):
                out.append(
                    EmployeeSpec(
                        employee_id,
                        shop.shop_id,
                        rng.choice(_FIRST),
                        rng.choice(_LAST),
                        archived=employee_id not in active,
                        role_id=1 if number == 0 else 2,
                    )  # fmt: skip
                )
        return out

    def _make_categories(self) -> list[dict[str, Any]]:
        children: dict[int | None, list[int]] = {}
        for index, (_, parent) in enumerate(_CATEGORIES):
            children.setdefault(parent, []).append(index)
        left: dict[int, int] = {}
        right: dict[int, int] = {}
        counter = 0

        def visit(index: int) -> None:
            nonlocal counter
            counter += 1
            left[index] = counter
            for child in children.get(index, []):
                visit(child)
            counter += 1
            right[index] = counter

        for root in children[None]:
            visit(root)
        out = []
        for index, (name, parent) in enumerate(_CATEGORIES):
            path, depth, node = [name], 0, parent
            while node is not None:
                path.insert(0, _CATEGORIES[node][0])
                node = _CATEGORIES[node][1]
                depth += 1
            out.append(
                {
                    "categoryID": index + 1,
                    "name": name,
                    "nodeDepth": depth,
                    "fullPathName": "/".join(path),
                    "leftNode": left[index],
                    "rightNode": right[index],
                    "createTime": CATALOGUE_CREATED - timedelta(days=30 - index),
                    "parentID": 0 if parent is None else parent + 1,
                }
            )
        return out

    def _make_items(self) -> list[ItemSpec]:
        rng = self._rng("catalogue")
        leaves = [c for c in self.categories if c["name"] in _LEAF_GOODS]
        out = []
        for item_id in range(1, 481):
            category = leaves[(item_id * 7) % len(leaves)]
            nouns, low, high = _LEAF_GOODS[category["name"]]
            noun = nouns[item_id % len(nouns)]
            price = Decimal(rng.randint(low, high)) + Decimal("0.99")
            period = timedelta(days=rng.randint(10, 45), seconds=rng.randrange(86400))
            out.append(
                ItemSpec(
                    item_id=item_id,
                    description=f"{rng.choice(_ADJECTIVES)} {noun} {item_id:03d}",
                    category_id=category["categoryID"],
                    base_price=price,
                    taxable=category["name"] != "Maps & Guides",
                    archived=rng.random() < 0.03,
                    item_type="non_inventory" if category["name"] == "Maps & Guides" else "default",
                    popularity=1.0 / (1 + (item_id % 97)) ** 0.8,
                    edit_period=period,
                    edit_phase=timedelta(seconds=rng.randrange(int(period.total_seconds()))),
                )
            )
        return out

    def item(self, item_id: int) -> ItemSpec | None:
        return self._items_by_id.get(item_id)

    # --- time-varying catalogue -------------------------------------------------------------

    @staticmethod
    def _edits_until(phase: timedelta, period: timedelta, now: datetime) -> int:
        """How many periodic edits (at EPOCH + phase + k * period) happened by `now`."""
        elapsed = now - EPOCH - phase
        return 0 if elapsed < timedelta(0) else math.floor(elapsed / period) + 1

    def item_price(self, item: ItemSpec, when: datetime) -> Decimal:
        edits = self._edits_until(item.edit_phase, item.edit_period, when)
        if edits == 0:
            return item.base_price
        factor = 1 + 0.04 * ((_mix(self.seed, item.item_id, edits) % 5) - 2)
        return Decimal(int(float(item.base_price) * factor)) + Decimal("0.99")

    def item_record(self, item: ItemSpec, now: datetime) -> dict[str, Any]:
        created = CATALOGUE_CREATED + timedelta(hours=item.item_id)
        if item.archived:
            stamp = created + timedelta(days=30)  # discontinued before the emulated history
        else:
            edits = self._edits_until(item.edit_phase, item.edit_period, now)
            stamp = EPOCH + item.edit_phase + (edits - 1) * item.edit_period if edits else created
        price = self.item_price(item, now)
        return {
            "itemID": item.item_id,
            "systemSku": 210000000000 + item.item_id,
            "defaultCost": q2(price * Decimal("0.5")),
            "avgCost": q2(price * Decimal("0.5")),
            "discountable": True,
            "tax": item.taxable,
            "archived": item.archived,
            "itemType": item.item_type,
            "serialized": False,
            "description": item.description,
            "modelYear": 0,
            "upc": f"{400000000000 + item.item_id * 37:012d}",
            "ean": "",
            "customSku": "",
            "manufacturerSku": f"MFR-{item.item_id:05d}",
            "createTime": created,
            "timeStamp": stamp,
            "publishToEcom": item.item_id % 3 == 0,
            "categoryID": item.category_id,
            "taxClassID": 1 if item.taxable else 0,
            "departmentID": 0,
            "itemMatrixID": 0,
            "manufacturerID": 0,
            "seasonID": 0,
            "defaultVendorID": 0,
            "Prices": (
                {"amount": str(price), "useTypeID": "1", "useType": "Default"},
                {"amount": str(q2(price * Decimal("1.2"))), "useTypeID": "2", "useType": "MSRP"},
                {"amount": str(price), "useTypeID": "3", "useType": "Online"},
            ),
        }

    def category_record(self, category: dict[str, Any], now: datetime) -> dict[str, Any]:
        period = timedelta(days=20 + _mix(self.seed, "cat", category["categoryID"]) % 40)
        phase = _phase(period, self.seed, "catphase", category["categoryID"])
        edits = self._edits_until(phase, period, now)
        stamp = EPOCH + phase + (edits - 1) * period if edits else category["createTime"]
        return {**category, "timeStamp": stamp}

    def employee_record(
        self, employee: EmployeeSpec, now: datetime, clocked_in: dict[int, int]
    ) -> dict[str, Any]:
        created = datetime(2019, 4, 1, tzinfo=UTC) + timedelta(days=employee.employee_id % 97)
        if employee.archived:
            stamp = created + timedelta(days=120)
        else:
            period = timedelta(days=30 + _mix(self.seed, "emp", employee.employee_id) % 60)
            phase = _phase(period, self.seed, "empphase", employee.employee_id)
            edits = self._edits_until(phase, period, now)
            stamp = EPOCH + phase + (edits - 1) * period if edits else created
        return {
            "employeeID": employee.employee_id,
            "firstName": employee.first_name,
            "lastName": employee.last_name,
            "lockOut": False,
            "archived": employee.archived,
            "timeStamp": stamp,
            "contactID": 5000 + employee.employee_id,
            "clockInEmployeeHoursID": clocked_in.get(employee.employee_id, 0),
            "employeeRoleID": employee.role_id,
            "limitToShopID": employee.shop_id,
            "lastShopID": employee.shop_id,
            "lastSaleID": 0,
            "lastRegisterID": 0,
        }

    def shop_record(self, shop: ShopProfile) -> dict[str, Any]:
        return {
            "shopID": shop.shop_id,
            "name": shop.name,
            "serviceRate": ZERO,
            "timeZone": shop.time_zone,
            "taxLabor": False,
            "labelTitle": "Shop Name",
            "labelMsrp": False,
            "archived": False,
            "timeStamp": datetime(2019, 3, 1, tzinfo=UTC) + timedelta(days=shop.shop_id),
            "companyRegistrationNumber": "",
            "vatNumber": "",
            "zebraBrowserPrint": False,
            "contactID": shop.shop_id,
            "taxCategoryID": shop.shop_id,
            "receiptSetupID": 1,
            "ccGatewayID": 0,
            "gatewayConfigID": 0,
            "priceLevelID": 1,
        }

    def register_records(self) -> list[dict[str, Any]]:
        return [
            {
                "registerID": register_id,
                "name": f"Register {register_id % 10}",
                "open": False,
                "openTime": None,
                "archived": False,
                "tipEnabled": shop.tips,
                "openEmployeeID": 0,
                "shopID": shop.shop_id,
                "ccTerminalID": 0,
            }
            for shop in self.shops
            for register_id in shop.registers
        ]

    @staticmethod
    def payment_type_records() -> list[dict[str, Any]]:
        return [
            {
                "paymentTypeID": type_id,
                "name": name,
                "requireCustomer": requires_customer,
                "archived": archived,
                "internalReserved": False,
                "type": kind,
                "refundAsPaymentTypeID": type_id,
            }
            for type_id, name, kind, requires_customer, archived in _PAYMENT_TYPES
        ]

    # --- sales ------------------------------------------------------------------------------

    def _expected_sales(self, shop: ShopProfile, local: datetime) -> float:
        window = shop.window(local.date())
        if window is None or not window[0] <= local.hour < window[1]:
            return 0.0
        open_days = [d for d in range(7) if d != 6 or shop.sunday is not None]
        per_day = (self.sales_per_day * 7 * _WEEKDAY_WEIGHT[local.weekday()]) / sum(
            _WEEKDAY_WEIGHT[d] for d in open_days
        )
        hours = range(window[0], window[1])
        return (
            per_day
            * _HOUR_WEIGHT.get(local.hour, 0.5)
            / sum(_HOUR_WEIGHT.get(h, 0.5) for h in hours)
        )

    def _slots(self, shop_id: int, hour: int) -> tuple[_Slot, ...]:
        """Phase one of an hour: how many sales, when, and what becomes of them (no refund links)."""
        shop = self.shop(shop_id)
        start = hour_start(hour)
        expected = self._expected_sales(shop, start.astimezone(shop.tz))
        if expected <= 0:
            return ()
        rng = self._rng("slots", shop_id, hour)
        count = min(_poisson(rng, expected), MAX_SALES_PER_HOUR)
        draw = rng.random  # random() arithmetic: several times faster than randrange here
        offsets = sorted(int(draw() * 3600) for _ in range(count))
        slots = []
        for seq, offset in enumerate(offsets):
            roll = draw()
            kind = INCOMPLETE if roll < 0.03 else REFUND if roll < 0.045 else SALE
            void = archive = None
            if kind == SALE:
                fate = rng.random()
                if fate < 0.01:
                    void = timedelta(seconds=rng.randrange(120, 1200))
                elif fate < 0.025:  # voided the next day: the sale's timeStamp jumps late
                    void = timedelta(seconds=rng.randrange(8 * 3600, 40 * 3600))
            elif kind == INCOMPLETE and rng.random() < 0.4:
                archive = timedelta(seconds=rng.randrange(3600, 30 * 3600))
            slots.append(
                _Slot(
                    seq,
                    start + timedelta(seconds=offset),
                    kind,
                    lead=timedelta(seconds=60 + int(draw() * 840)),
                    void_delay=void,
                    archive_delay=archive,
                    back_hours=2 + int(draw() * 95),
                    pick=draw(),
                )
            )
        return tuple(slots)

    def _sale_stubs(self, shop_id: int, hour: int) -> tuple[SaleStub, ...]:
        """Phase two: refunds get their original sale, picked from an earlier hour's slots."""
        stubs = []
        for slot in self.slots(shop_id, hour):
            kind, refund_of = slot.kind, 0
            if kind == REFUND:
                refund_of = self._refund_target(shop_id, hour - slot.back_hours, slot.pick)
                if not refund_of:
                    kind = SALE
            complete = None if kind == INCOMPLETE else slot.at
            stubs.append(
                SaleStub(
                    sale_id=sale_id_of(hour, shop_id, slot.seq),
                    shop_id=shop_id,
                    hour=hour,
                    seq=slot.seq,
                    kind=kind,
                    create_time=slot.at - slot.lead if complete else slot.at,
                    complete_time=complete,
                    void_time=slot.at + slot.void_delay if slot.void_delay else None,
                    archive_time=slot.at + slot.archive_delay if slot.archive_delay else None,
                    refund_of=refund_of,
                )
            )
        return tuple(stubs)

    def _refund_target(self, shop_id: int, hour: int, pick: float) -> int:
        eligible = [
            slot
            for slot in self.slots(shop_id, hour)
            if slot.kind == SALE and slot.void_delay is None
        ]
        if not eligible:
            return 0
        return sale_id_of(hour, shop_id, eligible[int(pick * len(eligible))].seq)

    def stub(self, sale_id: int) -> SaleStub | None:
        hour, shop_id, seq = split_sale_id(sale_id)
        if not self.has_shop(shop_id):
            return None
        stubs = self.sale_stubs(shop_id, hour)
        return stubs[seq] if seq < len(stubs) else None

    def _pick_item(self, rng: random.Random) -> ItemSpec:
        return rng.choices(self._sellable, cum_weights=self._sellable_cum)[0]

    def _sale_detail(self, stub: SaleStub) -> SaleDetail:
        shop = self.shop(stub.shop_id)
        rng = self._rng("sale", stub.sale_id)
        employee = rng.choice(shop.staff)
        register = rng.choice(shop.registers)
        at = stub.visible_at
        refund_method = CASH
        if stub.kind == REFUND:
            specs, refund_method = self._refund_specs(stub, rng)
            tenders = []
        elif stub.kind == INCOMPLETE:
            count = 0 if rng.random() < 0.3 else rng.randint(1, 3)
            specs = [self._item_line(rng, at, Decimal(0)) for _ in range(count)]
            tenders = [(ZERO, ZERO, CARD, False)] if rng.random() < 0.5 else []
        else:
            specs = self._sale_specs(rng, at)
            tenders = []
        lines = [
            self._line_record(stub, shop, index, spec, employee) for index, spec in enumerate(specs)
        ]
        total = sum((line["calcTotal"] for line in lines), ZERO)
        if stub.kind == SALE:
            tenders = self._tenders(rng, total, shop)
        elif stub.kind == REFUND:  # money goes back the way it came in, as one negative payment
            tenders = [(total, ZERO, refund_method, False)]
        payments = [
            self._payment_record(stub, index, tender, register, employee)
            for index, tender in enumerate(tenders)
        ]
        header = self._header(stub, shop, lines, payments, register, employee)
        return SaleDetail(header, tuple(lines), tuple(payments))

    def _item_line(self, rng: random.Random, at: datetime, trans_pct: Decimal) -> _LineSpec:
        item = self._pick_item(rng)
        line_pct = Decimal(rng.choice(("0.1", "0.15", "0.2"))) if rng.random() < 0.1 else ZERO
        price = self.item_price(item, at)
        return _LineSpec(
            item.item_id, rng.choices((1, 2, 3), (80, 15, 5))[0], price, line_pct, trans_pct,
            item.taxable, q2(price * Decimal("0.5")),
        )  # fmt: skip

    def _sale_specs(self, rng: random.Random, at: datetime) -> list[_LineSpec]:
        trans_pct = Decimal(rng.choice(("0.05", "0.1"))) if rng.random() < 0.05 else ZERO
        count = rng.choices((1, 2, 3, 4, 5, 6), (35, 28, 18, 10, 6, 3))[0]
        specs = [self._item_line(rng, at, trans_pct) for _ in range(count)]
        if rng.random() < 0.01:  # paying off a layaway item in this sale
            layaway = self._item_line(rng, at, ZERO)
            specs.append(replace(layaway, layaway=True))
        if rng.random() < 0.05:
            specs.append(
                _LineSpec(
                    0,
                    rng.randint(1, 2),
                    Decimal("0.10"),
                    ZERO,
                    ZERO,
                    False,
                    ZERO,
                    line_type="item_fee",
                    item_fee_id=1,
                )  # fmt: skip
            )
        return specs

    def _refund_specs(self, stub: SaleStub, rng: random.Random) -> tuple[list[_LineSpec], int]:
        original = self.stub(stub.refund_of)
        assert original is not None  # refund targets are picked among existing slots
        detail = self.sale_detail(original)
        candidates = [
            line
            for line in detail.lines
            if line["itemID"] and not line["lineType"] and not line["isLayaway"]
        ]
        chosen = candidates[: rng.randint(1, len(candidates))]
        specs = [
            _LineSpec(
                line["itemID"],
                -rng.randint(1, line["unitQuantity"]),
                line["unitPrice"],
                line["discountPercent"],
                line["_transPct"],
                line["tax"],
                line["avgCost"],
                parent_line_id=line["saleLineID"],
            )  # fmt: skip
            for line in chosen
        ]
        paid = [p for p in detail.payments if not p["archived"]]
        return specs, paid[0]["paymentTypeID"] if paid else CASH

    def _tenders(
        self, rng: random.Random, total: Decimal, shop: ShopProfile
    ) -> list[tuple[Decimal, Decimal, int, bool]]:
        """(amount, tip, payment type, archived) per payment; live ones sum to total + tips."""
        tenders: list[tuple[Decimal, Decimal, int, bool]] = []
        if rng.random() < 0.02:  # a declined card attempt, archived, before the real tender
            tenders.append((total, ZERO, CARD, True))
        if rng.random() < 0.08 and total > Decimal("1.00"):
            first = q2(total * Decimal(str(round(rng.uniform(0.2, 0.8), 2))))
            tenders.append((first, ZERO, rng.choice((GIFT_CARD, CASH)), False))
            tenders.append((total - first, ZERO, CARD, False))
            return tenders
        method = rng.choices((CASH, CARD, GIFT_CARD, CHECK), (30, 62, 5, 3))[0]
        tip = ZERO
        if method == CARD and shop.tips and total > 0 and rng.random() < 0.3:
            tip = q2(total * Decimal("0.1"))
        tenders.append((total + tip, tip, method, False))
        return tenders

    def _line_record(
        self, stub: SaleStub, shop: ShopProfile, index: int, spec: _LineSpec, employee: int
    ) -> dict[str, Any]:
        amounts = line_amounts(spec, shop.tax1, shop.tax2)
        return {
            "saleLineID": stub.sale_id * CHILD + index,
            "createTime": stub.create_time,
            "timeStamp": stub.visible_at,
            "unitQuantity": spec.quantity,
            "unitPrice": spec.unit_price,
            "normalUnitPrice": spec.unit_price,
            "discountAmount": ZERO,
            "discountPercent": spec.line_pct,
            "avgCost": spec.cost,
            "fifoCost": spec.cost,
            "tax": spec.taxable,
            "tax1Rate": shop.tax1 if spec.taxable else Decimal(0),
            "tax2Rate": shop.tax2 if spec.taxable else Decimal(0),
            "isLayaway": spec.layaway,
            "isWorkorder": False,
            "isSpecialOrder": False,
            "displayableSubtotal": amounts["subtotal"] - amounts["line_discount"],
            "displayableUnitPrice": spec.unit_price,
            "calcLineDiscount": amounts["line_discount"],
            "calcTransactionDiscount": amounts["transaction_discount"],
            "calcTotal": amounts["total"],
            "calcSubtotal": amounts["subtotal"],
            "calcTax1": amounts["tax1"],
            "calcTax2": amounts["tax2"],
            "taxClassID": 1 if spec.taxable else 0,
            "customerID": 0,
            "discountID": 0,
            "employeeID": employee,
            "itemID": spec.item_id,
            "noteID": 0,
            "parentSaleLineID": spec.parent_line_id,
            "shopID": shop.shop_id,
            "taxCategoryID": shop.shop_id,
            "saleID": stub.sale_id,
            "itemFeeID": spec.item_fee_id,
            "lineType": spec.line_type,
            "_transPct": spec.trans_pct,  # kept so a refund can repeat the original discount
        }

    def _payment_record(
        self,
        stub: SaleStub,
        index: int,
        tender: tuple[Decimal, Decimal, int, bool],
        register: int,
        employee: int,
    ) -> dict[str, Any]:
        amount, tip, method, archived = tender
        return {
            "salePaymentID": stub.sale_id * CHILD + index,
            "amount": amount,
            "tipAmount": tip,
            "createTime": stub.visible_at,
            "archived": archived,
            "remoteReference": "",
            "paymentID": "",
            "saleID": stub.sale_id,
            "paymentTypeID": method,
            "ccChargeID": 0,
            "refPaymentID": 0,
            "registerID": register,
            "employeeID": employee,
            "creditAccountID": 0,
            "timeStamp": stub.visible_at,  # sortable, never serialized (absent in real samples)
        }

    def _header(
        self,
        stub: SaleStub,
        shop: ShopProfile,
        lines: list[dict[str, Any]],
        payments: list[dict[str, Any]],
        register: int,
        employee: int,
    ) -> dict[str, Any]:
        def total_of(key: str, rows: list[dict[str, Any]]) -> Decimal:
            return sum((row[key] for row in rows), ZERO)

        subtotal = total_of("calcSubtotal", lines)
        discount = sum(
            (ln["calcLineDiscount"] + ln["calcTransactionDiscount"] for ln in lines), ZERO
        )
        tax1, tax2 = total_of("calcTax1", lines), total_of("calcTax2", lines)
        total = subtotal - discount + tax1 + tax2
        live = [p for p in payments if not p["archived"]]
        paid, tips = total_of("amount", live), total_of("tipAmount", live)
        taxable = [ln for ln in lines if ln["tax"]]
        net = {
            id(ln): ln["calcSubtotal"] - ln["calcLineDiscount"] - ln["calcTransactionDiscount"]
            for ln in lines
        }
        return {
            "discountPercent": Decimal(0),
            "enablePromotions": True,
            "isTaxInclusive": False,
            "tipEnabled": shop.tips,
            "referenceNumber": "",
            "referenceNumberSource": "",
            "tax1Rate": shop.tax1,
            "tax2Rate": shop.tax2,
            "change": ZERO,
            "receiptPreference": "printed",
            "displayableSubtotal": subtotal - discount,
            "ticketNumber": f"22{stub.sale_id:014d}",
            "calcDiscount": discount,
            "calcTotal": total,
            "calcSubtotal": subtotal,
            "calcTaxable": sum((net[id(ln)] for ln in taxable), ZERO),
            "calcNonTaxable": sum((net[id(ln)] for ln in lines if not ln["tax"]), ZERO),
            "calcAvgCost": sum((ln["avgCost"] * ln["unitQuantity"] for ln in lines), ZERO),
            "calcFIFOCost": sum((ln["fifoCost"] * ln["unitQuantity"] for ln in lines), ZERO),
            "calcTax1": tax1,
            "calcTax2": tax2,
            "calcPayments": paid,
            "calcTips": tips,
            "calcItemFees": sum((ln["calcTotal"] for ln in lines if ln["lineType"]), ZERO),
            "total": total,
            "totalDue": total,
            "displayableTotal": total,
            "balance": total - (paid - tips),
            "customerID": 0,
            "discountID": 0,
            "employeeID": employee,
            "tipEmployeeID": employee if tips else 0,
            "quoteID": 0,
            "registerID": register,
            "shipToID": 0,
            "taxCategoryID": shop.shop_id,
            "taxTotal": tax1 + tax2,
        }

    def sale_record(self, stub: SaleStub, now: datetime) -> dict[str, Any]:
        return {**self.sale_detail(stub).header, **stub.state(now)}

    # --- unattached layaway reservations ----------------------------------------------------

    def _reservations(self, shop_id: int, hour: int) -> tuple[dict[str, Any], ...]:
        """Layaway lines with saleID 0: cheap on purpose, a SaleLine sort on saleID scans them."""
        shop = self.shop(shop_id)
        start = hour_start(hour)
        if self._expected_sales(shop, start.astimezone(shop.tz)) <= 0:
            return ()
        rng = self._rng("reservation", shop_id, hour)
        if rng.random() >= 0.04:
            return ()
        at = start + timedelta(seconds=rng.randrange(3600))
        pseudo = SaleStub(
            sale_id_of(hour, shop_id, RESERVATION_SEQ), shop_id, hour, RESERVATION_SEQ, SALE,
            at, at, None, None, 0,
        )  # fmt: skip
        spec = replace(self._item_line(rng, at, ZERO), layaway=True)
        line = self._line_record(pseudo, shop, 0, spec, rng.choice(shop.staff))
        line.update(saleID=0, customerID=rng.randint(1000, 9999))
        return (line,)

    # --- staff shifts -----------------------------------------------------------------------

    def _day_plan(self, shop_id: int, day: date) -> tuple[Shift, ...]:
        """A shop's shifts checking in on a local date, with later fixes and deletions."""
        shop = self.shop(shop_id)
        rng = self._rng("shifts", shop_id, day.isoformat())
        midnight = datetime(day.year, day.month, day.day, tzinfo=shop.tz)

        def local(minutes: float) -> datetime:
            # Wall-clock arithmetic, then UTC: a 22:00-06:00 shift spans a DST change correctly.
            # Whole seconds, like every time here: cursors carry second-precision values.
            return (midnight + timedelta(seconds=round(minutes * 60))).astimezone(UTC)

        def jitter() -> float:
            return rng.uniform(0, 10)

        planned: list[tuple[int, datetime, datetime]] = []
        rota = day.toordinal()
        window = shop.window(day)
        if window:
            opens, closes = window[0] * 60, window[1] * 60
            staff = [shop.staff[(rota + k) % len(shop.staff)] for k in range(3)]
            closing_out = closes + rng.uniform(30, 60)
            if day.weekday() == 5:  # Saturday stock count runs past local midnight
                closing_out = 24 * 60 + rng.uniform(15, 55)
            planned.append((staff[0], local(opens - 30 + jitter()), local(opens + 450 + jitter())))
            if closes - opens >= 9 * 60:
                mid_in, mid_out = local(opens + 180 + jitter()), local(closes - 60 + jitter())
                planned.append((staff[1], mid_in, mid_out))
            planned.append((staff[2], local(closes - 480 + jitter()), local(closing_out)))
        for number, employee in enumerate(shop.crew):
            # Three overlapping 8h20 shifts: someone is always clocked in at the flagship.
            start = 345 + number * 480
            planned.append((employee, local(start + jitter()), local(start + 500 + jitter())))
        shifts = [(e, cin, cout, cout, None) for e, cin, cout in planned]
        if window and rng.random() < 0.25:  # the closer forgets to clock out; fixed next day
            employee, cin, cout, _, _ = shifts[len(planned) - 1 - len(shop.crew)]
            fixed = cin + timedelta(seconds=rng.randrange(20 * 3600, 44 * 3600))
            shifts[len(planned) - 1 - len(shop.crew)] = (employee, cin, cout, fixed, None)
        if shifts and rng.random() < 0.3:  # a double clock-in, hard-deleted by a manager later
            employee, cin = shifts[0][0], shifts[0][1] + timedelta(seconds=rng.randrange(60, 180))
            cout = cin + timedelta(seconds=rng.randrange(60, 300))
            deleted = cin + timedelta(seconds=rng.randrange(3600, 30 * 3600))
            shifts.append((employee, cin, cout, cout, deleted))
        shifts.sort(key=lambda shift: shift[1])
        out, seq_in_hour = [], {}
        for employee, cin, cout, known, deleted in shifts:
            hour = hour_index(cin)
            seq = seq_in_hour.get(hour, 0)
            seq_in_hour[hour] = seq + 1
            out.append(
                Shift(sale_id_of(hour, shop_id, seq), employee, shop_id, cin, cout, known, deleted)
            )
        return tuple(out)

    def shifts(self, shop_id: int, hour: int) -> tuple[Shift, ...]:
        """Shifts of a shop that check in during one UTC hour."""
        shop = self.shop(shop_id)
        start = hour_start(hour)
        last_second = start + HOUR - timedelta(seconds=1)
        days = {start.astimezone(shop.tz).date(), last_second.astimezone(shop.tz).date()}
        return tuple(
            shift
            for day in sorted(days)
            for shift in self.day_plan(shop_id, day)
            if hour_index(shift.check_in) == hour
        )

    def clocked_in(self, now: datetime) -> dict[int, int]:
        """employeeID -> the open EmployeeHours row they are clocked in on at `now`."""
        out: dict[int, int] = {}
        for shop in self.shops:
            today = now.astimezone(shop.tz).date()
            for day in (today - timedelta(days=2), today - timedelta(days=1), today):
                for shift in self.day_plan(shop.shop_id, day):
                    row = shift.record(now)
                    if row is not None and row["checkOut"] is None:
                        out[shift.employee_id] = shift.employee_hours_id
        return out


def line_amounts(spec: _LineSpec, tax1: Decimal, tax2: Decimal) -> dict[str, Decimal]:
    """A line's money, rounded per line so a sale's totals are exact sums of its lines."""
    subtotal = q2(spec.unit_price * spec.quantity)
    line_discount = q2(subtotal * spec.line_pct)
    transaction_discount = q2((subtotal - line_discount) * spec.trans_pct)
    net = subtotal - line_discount - transaction_discount
    t1 = q2(net * tax1) if spec.taxable else ZERO
    t2 = q2(net * tax2) if spec.taxable else ZERO
    return {
        "subtotal": subtotal,
        "line_discount": line_discount,
        "transaction_discount": transaction_discount,
        "tax1": t1,
        "tax2": t2,
        "total": net + t1 + t2,
    }


def _phase(period: timedelta, *parts: object) -> timedelta:
    """A stable offset within one period, in whole seconds."""
    return timedelta(seconds=_mix(*parts) % int(period.total_seconds()))


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out
