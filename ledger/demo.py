"""``python -m ledger demo``: a realistic Zhejiang cold chain, written through the services.

Everything goes through the functions the API calls (grid import, organisations, sites,
products, batches, scans, transformations, a recall), so every fact is a ledger entry, custody
rules hold and the projections agree with the entries; no projection row is written here.

The cast: a Ningbo frozen-meat importer with a bonded warehouse in Xiaoshan, a dairy and a
vegetable cooperative in Yuhang, two cold stores, a trunk carrier and a city carrier, a central
kitchen that turns meat and vegetables into its own meals and dumplings, three supermarkets,
two school canteens, and the city bureau (an inspector) that opens one recall.

Each batch travels producer → carrier → cold store → carrier → shops, canteens or the kitchen,
with temperatures in band, partial quantities and some sales.  A few percent have a
temperature excursion, a few are shipped and never received, and the kitchen's outputs travel
on to canteens and shops.  The meat of one kitchen transformation is recalled.

Reruns: lots, journeys and ``client_event_id``s follow from the seed alone, and times are
placed in the days before the run.  A second run with a seed whose recall is already in the
ledger appends nothing and says so.  A run that stopped part-way (the seed's first batch is in,
its recall is not) is refused, not continued: its times were placed before a moment that has
passed, so resending them would change what the ledger already holds.  Another seed adds
another set of batches to the same roster.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import groupby
from time import perf_counter
from typing import Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from ledger.db import store
from ledger.db.engine import transaction
from ledger.db.tables import Batch, Grid, LedgerEntry, Organisation, Product, Recall, Scan
from ledger.domain.food import batch_spec, product_spec
from ledger.domain.gs1 import digital_link, gtin_check_digit
from ledger.domain.scans import scan_spec
from ledger.domain.transformation import transformation_spec
from ledger.domain.uscc import check_character
from ledger.errors import LedgerError
from ledger.services import food, grids, lineage, orgs, recalls, scans, transformations

BEIJING = timezone(timedelta(hours=8))
CHUNK_BATCHES = 25  # batches per transaction: a few hundred entries each
EXCURSION_SHARE = 0.03
LOST_SHARE = 0.02
HISTORY = timedelta(days=30)  # how far back deliveries are placed

# How long a shipment may stay unreceived: a day for chilled and frozen goods, two otherwise.
ROUTE_LIMITS = {"frozen": timedelta(hours=24), "chilled": timedelta(hours=24)}
DEFAULT_ROUTE_LIMIT = timedelta(hours=48)
LOST_AGE = timedelta(days=3)  # a lost shipment is at least this old, well past any route limit


class DemoRefused(LedgerError):
    """A demo run cannot go ahead without contradicting what the ledger already holds."""

    title = "Demo refused"
    type = "demo-refused"
    status = 409


# --- the roster ---------------------------------------------------------------------------------

GRID_CSV = """code,name,level,parent_code
330100,杭州市市场监督管理局,city,
330102,上城区市场监督管理局,district,330100
33010201,湖滨市场监管所,station,330102
3301020101,湖滨第一网格,grid,33010201
3301020102,湖滨第二网格,grid,33010201
330106,西湖区市场监督管理局,district,330100
33010601,西溪市场监管所,station,330106
3301060101,西溪第一网格,grid,33010601
3301060102,西溪第二网格,grid,33010601
330109,萧山区市场监督管理局,district,330100
33010901,宁围市场监管所,station,330109
3301090101,宁围第一网格,grid,33010901
3301090102,宁围第二网格,grid,33010901
330110,余杭区市场监督管理局,district,330100
33011001,仓前市场监管所,station,330110
3301100101,仓前第一网格,grid,33011001
3301100102,仓前第二网格,grid,33011001
"""
CITY = "330100"


@dataclass(frozen=True)
class OrgPlan:
    key: str
    name: str
    roles: tuple[str, ...]
    division: str  # the administrative division in its credit code
    person: str
    phone: str
    site: str
    address: str
    grid: str
    place: tuple[float, float]  # latitude, longitude of the site
    scopes: tuple[str, ...] = ()

    @property
    def uscc(self) -> str:
        """A well-formed credit code that stays the same from run to run, so a rerun finds it."""
        number = int.from_bytes(hashlib.sha256(self.key.encode()).digest()[:4], "big") % 100_000
        body = f"91{self.division}MA2H{number:05d}"
        return body + check_character(body)


ORGS = (
    OrgPlan("importer", "宁波甬港进口冷冻食品有限公司", ("producer",), "330206", "陈建国", "0574-86880001",
            "萧山保税分拨冷库", "杭州市萧山区宁围街道鸿宁路 1688 号", "3301090101", (30.2380, 120.2590)),
    OrgPlan("dairy", "杭州西溪牧歌乳业有限公司", ("producer",), "330110", "周丽萍", "0571-88010002",
            "仓前乳品加工厂", "杭州市余杭区仓前街道良睦路 1399 号", "3301100101", (30.2950, 120.0030)),
    OrgPlan("farm", "杭州余杭绿源蔬菜专业合作社", ("producer",), "330110", "沈国强", "0571-88010003",
            "仓前蔬菜基地", "杭州市余杭区仓前街道葛巷村", "3301100102", (30.3030, 119.9880)),
    OrgPlan("store_xs", "杭州萧山临空冷链物流中心有限公司", ("cold_store",), "330109", "王海峰", "0571-82800004",
            "临空冷库 A 区", "杭州市萧山区宁围街道利一路 99 号", "3301090102", (30.2290, 120.2720)),
    OrgPlan("store_yh", "杭州余杭仓前冷库有限公司", ("cold_store",), "330110", "李红", "0571-88010005",
            "仓前冷库 2 号库", "杭州市余杭区仓前街道龙泉路 20 号", "3301100102", (30.2880, 120.0100)),
    OrgPlan("trunk", "浙江甬杭冷链运输有限公司", ("carrier",), "330206", "赵志勇", "0574-86880006",
            "萧山车队场站", "杭州市萧山区宁围街道市心北路 2000 号", "3301090101", (30.2420, 120.2650)),
    OrgPlan("city", "杭州城配冷链配送有限公司", ("carrier",), "330102", "孙建华", "0571-87000007",
            "湖滨配送站", "杭州市上城区湖滨街道东坡路 8 号", "3301020101", (30.2570, 120.1650)),
    OrgPlan("kitchen", "杭州西溪中央厨房有限公司", ("canteen", "processor"), "330106", "吴敏", "0571-88900008",
            "西溪中央厨房", "杭州市西湖区西溪街道文二西路 588 号", "3301060101", (30.2800, 120.1130)),
    OrgPlan("mart_hb", "杭州湖滨鲜达超市有限公司", ("retailer",), "330102", "郑晓东", "0571-87000009",
            "湖滨店", "杭州市上城区湖滨街道延安路 258 号", "3301020102", (30.2580, 120.1670)),
    OrgPlan("mart_xx", "杭州西溪邻里生鲜超市有限公司", ("retailer",), "330106", "冯佳", "0571-88900010",
            "西溪店", "杭州市西湖区西溪街道古墩路 701 号", "3301060102", (30.2870, 120.1050)),
    OrgPlan("mart_cq", "杭州仓前万家福超市有限公司", ("retailer",), "330110", "褚伟", "0571-88010011",
            "仓前店", "杭州市余杭区仓前街道文一西路 1818 号", "3301100101", (30.2900, 120.0080)),
    OrgPlan("school_xx", "杭州市西溪第一小学学生食堂", ("canteen",), "330106", "卫芳", "0571-88900012",
            "学生食堂", "杭州市西湖区西溪街道教工路 66 号", "3301060102", (30.2760, 120.1330)),
    OrgPlan("school_cq", "杭州市仓前实验中学学生食堂", ("canteen",), "330110", "蒋涛", "0571-88010013",
            "学生食堂", "杭州市余杭区仓前街道海曙路 58 号", "3301100101", (30.2930, 120.0190)),
    OrgPlan("bureau", "杭州市市场监督管理局", ("inspector",), "330100", "韩静", "0571-12315000",
            "食品安全监管处", "杭州市上城区解放东路 18 号", "3301020101", (30.2450, 120.2100), (CITY,)),
)  # fmt: skip
RETAILERS = ("mart_hb", "mart_xx", "mart_cq")
SCHOOLS = ("school_xx", "school_cq")
COLD_STORES = ("store_xs", "store_yh")
TRUNK, CITY_CARRIER, KITCHEN, BUREAU = "trunk", "city", "kitchen", "bureau"
TRUCKS = {"trunk": "浙B·7K215 冷藏车", "city": "浙A·D3906 冷藏车"}
ORG_PLAN = {plan.key: plan for plan in ORGS}


def gtin13(company: str, item: int) -> str:
    """A Chinese GTIN-13 (GS1 China prefixes 690-699) with its check digit."""
    body = f"{company}{item:0{12 - len(company)}d}"
    return body + str(gtin_check_digit(body))


@dataclass(frozen=True)
class ProductPlan:
    key: str
    producer: str
    gtin: str
    name_zh: str
    name_en: str
    category: str
    storage_class: str
    unit: str
    quantity: tuple[int, int]
    shelf_days: int
    age_days: tuple[int, int]  # production date this many days before the batch leaves
    origin: dict[str, str]
    documents: tuple[str, ...]
    brand: str | None = None

    @property
    def gtin14(self) -> str:
        """As the store keeps it."""
        return self.gtin.zfill(14)

    def body(self) -> dict[str, Any]:
        country = self.origin["country"]
        return {
            "gtin": self.gtin,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "brand": self.brand,
            "category": self.category,
            "storage_class": self.storage_class,
            "origin_country": country if country != "CN" else None,
        }


HANGZHOU = {"country": "CN", "province": "浙江", "city": "杭州"}
IMPORTS = ("inspection_quarantine", "customs_declaration", "disinfection")
PRODUCTS = (
    ProductPlan("pork", "importer", gtin13("6921880", 1001), "冷冻猪五花肉", "Frozen pork belly", "meat", "frozen",
                "箱", (200, 800), 540, (30, 120), {"country": "ES", "place": "Zaragoza plant 10.2093"}, IMPORTS,
                "甬港"),
    ProductPlan("beef", "importer", gtin13("6921880", 1002), "冷冻去骨牛腩", "Frozen boneless beef brisket", "meat",
                "frozen", "箱", (150, 600), 540, (30, 120), {"country": "AU", "place": "Queensland est. 243"},
                IMPORTS, "甬港"),
    ProductPlan("wings", "importer", gtin13("6921880", 1003), "冷冻鸡翅中", "Frozen chicken mid-wings", "meat",
                "frozen", "箱", (200, 900), 365, (20, 90), {"country": "BR", "place": "Paraná SIF 1001"}, IMPORTS,
                "甬港"),
    ProductPlan("lamb", "importer", gtin13("6921880", 1004), "新西兰冷冻羊肉卷", "Frozen lamb rolls", "meat",
                "frozen", "箱", (100, 500), 540, (30, 150), {"country": "NZ", "place": "Canterbury plant 27"},
                IMPORTS, "甬港"),
    ProductPlan("milk", "dairy", gtin13("6935126", 2001), "巴氏杀菌鲜牛奶 950ml", "Pasteurised milk 950 ml",
                "dairy", "chilled", "箱", (300, 1200), 7, (0, 0), {**HANGZHOU, "place": "仓前乳品加工厂"},
                ("test_report",), "牧歌"),
    ProductPlan("yogurt", "dairy", gtin13("6935126", 2002), "低温原味酸奶 200g×12", "Plain yogurt 12 x 200 g",
                "dairy", "chilled", "箱", (200, 800), 21, (0, 1), {**HANGZHOU, "place": "仓前乳品加工厂"},
                ("test_report",), "牧歌"),
    ProductPlan("uht", "dairy", gtin13("6935126", 2003), "常温纯牛奶 250ml×24", "UHT milk 24 x 250 ml", "dairy",
                "ambient", "箱", (300, 1500), 180, (1, 10), {**HANGZHOU, "place": "仓前乳品加工厂"},
                ("test_report",), "牧歌"),
    ProductPlan("broccoli", "farm", gtin13("6972345", 3001), "西兰花", "Broccoli", "vegetables", "fresh", "千克",
                (500, 3000), 5, (0, 0), {**HANGZHOU, "place": "仓前蔬菜基地"}, ("test_report",)),
    ProductPlan("greens", "farm", gtin13("6972345", 3002), "上海青", "Bok choy", "vegetables", "fresh", "千克",
                (400, 2500), 4, (0, 0), {**HANGZHOU, "place": "仓前蔬菜基地"}, ("test_report",)),
    ProductPlan("tomato", "farm", gtin13("6972345", 3003), "番茄", "Tomatoes", "vegetables", "fresh", "千克",
                (500, 3000), 7, (0, 1), {**HANGZHOU, "place": "仓前蔬菜基地"}, ("test_report",)),
    ProductPlan("potato", "farm", gtin13("6972345", 3004), "土豆", "Potatoes", "vegetables", "ambient", "千克",
                (800, 4000), 30, (1, 5), {**HANGZHOU, "place": "仓前蔬菜基地"}, ("test_report",)),
    ProductPlan("meal", "kitchen", gtin13("6958810", 4001), "红烧肉学生套餐", "Braised pork school meal",
                "prepared food", "chilled", "份", (300, 1500), 3, (0, 0), {**HANGZHOU, "place": "西溪中央厨房"},
                ("test_report",), "西溪厨房"),
    ProductPlan("dumplings", "kitchen", gtin13("6958810", 4002), "猪肉白菜水饺 1kg", "Pork and cabbage dumplings 1 kg",
                "prepared food", "frozen", "袋", (300, 1500), 365, (0, 0), {**HANGZHOU, "place": "西溪中央厨房"},
                ("test_report",), "西溪厨房"),
)  # fmt: skip
PRODUCT = {p.key: p for p in PRODUCTS}
TRAVELLING = tuple(p for p in PRODUCTS if p.producer != KITCHEN)
KITCHEN_MEAT = ("pork", "beef")
KITCHEN_VEG = ("broccoli", "greens", "tomato", "potato")
LOT_PREFIX = {"importer": "IM", "dairy": "MG", "farm": "LY", "kitchen": "CK"}

# Readings inside each storage class's band, and the excursions (a failed reefer, a door left open).
IN_BAND = {"frozen": (-21.5, -18.6), "chilled": (1.0, 3.6), "fresh": (1.5, 6.5), "ambient": (14.0, 26.0)}
OUT_OF_BAND = {"frozen": (-13.0, -9.0), "chilled": (6.5, 9.5), "fresh": (10.0, 13.5)}


@dataclass
class Roster:
    org_ids: dict[str, str]
    site_ids: dict[str, int]
    new_api_keys: dict[str, str] = field(default_factory=dict)

    def org(self, key: str) -> str:
        return self.org_ids[key]


def _grid_codes(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Grid.code, Grid.level)).all())


def _ensure_grids(session: Session) -> dict[str, str]:
    """The demo's Hangzhou tree, unless the database already has a grid tree of its own."""
    if not _grid_codes(session):
        grids.import_grids(session, GRID_CSV, orgs.SYSTEM_ACTOR)
    return _grid_codes(session)


def _grid_for(plan: OrgPlan, index: int, codes: dict[str, str]) -> str:
    """The planned grid when it exists, otherwise one of the tree's own grids."""
    if plan.grid in codes:
        return plan.grid
    leaves = sorted(code for code, level in codes.items() if level == "grid") or sorted(codes)
    return leaves[index % len(leaves)]


def _scopes_for(plan: OrgPlan, session: Session, codes: dict[str, str]) -> tuple[str, ...]:
    if not plan.scopes:
        return ()
    if all(code in codes for code in plan.scopes):
        return plan.scopes
    return tuple(session.scalars(select(Grid.code).where(Grid.parent_code.is_(None)).order_by(Grid.code)))


def _ensure_org(session: Session, plan: OrgPlan, codes: dict[str, str], roster: Roster) -> None:
    """Found by its credit code on a rerun; created (with its first API key) otherwise."""
    found = session.scalars(select(Organisation.id).where(Organisation.uscc == plan.uscc)).first()
    if found is not None:
        roster.org_ids[plan.key] = found
        return
    contact = {"person": plan.person, "phone": plan.phone}
    spec = orgs.OrgSpec(plan.name, plan.roles, plan.uscc, contact, _scopes_for(plan, session, codes))
    created = orgs.create_organisation(session, spec)
    roster.org_ids[plan.key] = created.org_id
    roster.new_api_keys[plan.key] = created.api_key


def _ensure_site(session: Session, plan: OrgPlan, grid: str, roster: Roster) -> None:
    org_id = roster.org(plan.key)
    payload = orgs.site_payload(org_id, {"name": plan.site, "address": plan.address, "grid_code": grid})
    site = orgs.register_site(session, payload, {"org": org_id}, f"demo:site:{plan.key}")
    roster.site_ids[plan.key] = site.id


def _ensure_products(session: Session, roster: Roster) -> None:
    for product in PRODUCTS:
        producer = roster.org(product.producer)
        spec = product_spec(product.body())
        food.register_product(session, spec, producer, {"org": producer}, f"demo:product:{product.gtin}")


def ensure_roster(session: Session) -> Roster:
    """Grids, organisations, their sites and products: created once, found again on a rerun."""
    codes = _ensure_grids(session)
    roster = Roster({}, {})
    for index, plan in enumerate(ORGS):
        _ensure_org(session, plan, codes, roster)
        _ensure_site(session, plan, _grid_for(plan, index, codes), roster)
    _ensure_products(session, roster)
    return roster


# --- journeys: legs at times relative to the journey's start ---------------------------------------

# Stages order the operations of one transaction so that custody holds: every shipment before
# its receipt, every receipt before the goods move on.  Within a stage, one organisation's
# scans go to the service as one list, as a device uploading its queue would send them.
REGISTER, PICKUP, PICKED, TRUNK_SHIP, ARRIVED, STORED, DISPATCH, LOADED, DELIVER, DELIVERED, SOLD = range(11)
TRANSFORM = 11
OUTPUT_STAGE = 12  # a kitchen output travels through stages OUTPUT_STAGE + PICKUP ... + SOLD
CARRIERS = (TRUNK, CITY_CARRIER)
TRANSIT_EVERY = timedelta(minutes=15)
STORAGE_EVERY = timedelta(hours=3)
STAY_DAYS = {"frozen": (1.0, 6.0), "chilled": (0.2, 1.0), "fresh": (0.1, 0.5), "ambient": (1.0, 4.0)}


@dataclass
class Leg:
    """One scan before its time is placed: ``at`` and the readings are relative to the start."""

    stage: int
    org: str
    action: str
    at: timedelta
    quantity: int
    celsius: float
    readings: list[tuple[timedelta, float]] = field(default_factory=list)
    to: str | None = None
    source: str | None = None


@dataclass
class Route:
    """Where a batch goes after the cold store, in delivery order, and what goes wrong."""

    destinations: list[str]
    kitchen_first: bool = False
    lost_stop: int | None = None  # the delivery that is never received
    lost_trunk: bool = False  # the trunk run the cold store never receives


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low, high)))


def _celsius(rng: random.Random, storage: str) -> float:
    low, high = IN_BAND[storage]
    return round(rng.uniform(low, high), 1)


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` whole, positive shares."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


class Journey:
    """The legs of one batch from its producer to its last sale, on a clock that starts at zero."""

    def __init__(self, rng: random.Random, product: ProductPlan, stage_base: int = 0) -> None:
        self.rng = rng
        self.storage = product.storage_class
        self.base = stage_base
        self.legs: list[Leg] = []
        self.clock = timedelta(0)
        self.kitchen_leg: int | None = None
        self.kitchen_quantity = 0

    def scan(
        self, stage: int, org: str, action: str, quantity: int, to: str | None = None, source: str | None = None
    ) -> Leg:
        celsius = _celsius(self.rng, self.storage)
        leg = Leg(self.base + stage, org, action, self.clock, quantity, celsius, to=to, source=source)
        self.legs.append(leg)
        return leg

    def wait(self, low_minutes: float, high_minutes: float) -> None:
        self.clock += _minutes(self.rng, low_minutes, high_minutes)

    def logged(self, since: timedelta, every: timedelta) -> list[tuple[timedelta, float]]:
        """A data logger's readings from ``since`` to now, both ends excluded (scans read those)."""
        readings, moment = [], since + every
        while moment < self.clock:
            readings.append((moment, _celsius(self.rng, self.storage)))
            moment += every
        return readings

    def hand_over(self, stage: int, sender: str, receiver: str, quantity: int, logged: timedelta | None = None) -> Leg:
        """A shipment (with the readings logged since ``logged``) and, minutes later, its receipt."""
        shipped = self.scan(stage, sender, "ship", quantity, to=receiver)
        if logged is not None:
            shipped.readings = self.logged(logged, STORAGE_EVERY if sender in COLD_STORES else TRANSIT_EVERY)
        self.wait(5, 20)
        self.scan(stage + 1, receiver, "receive", quantity, source=sender)
        return shipped

    def drive(self, stage: int, carrier: str, receiver: str, quantity: int, hours: tuple[float, float]) -> Leg:
        """The carrier drives to ``receiver`` with its logger on and hands the goods over."""
        began = self.clock
        self.wait(hours[0] * 60, hours[1] * 60)
        return self.hand_over(stage, carrier, receiver, quantity, logged=began)

    def sell(self, stage: int, org: str, received: int) -> None:
        """Up to four fifths of what arrived, sold in up to three sales over the next day and a half."""
        left = int(received * 0.8)
        for _ in range(self.rng.randint(0, 3)):
            if left < 1:
                return
            self.wait(60, 12 * 60)
            quantity = self.rng.randint(1, max(1, left // 2))
            self.scan(stage, org, "sell", quantity)
            left -= quantity

    def spoil(self, leg: Leg) -> None:
        """A run of consecutive readings out of the band: the excursion an inspector should see."""
        low, high = OUT_OF_BAND[self.storage]
        length = min(len(leg.readings), self.rng.randint(3, 5))
        first = self.rng.randrange(0, len(leg.readings) - length + 1)
        for index in range(first, first + length):
            leg.readings[index] = (leg.readings[index][0], round(self.rng.uniform(low, high), 1))

    def end(self) -> timedelta:
        return max(leg.at for leg in self.legs)


def producer_journey(rng: random.Random, product: ProductPlan, quantity: int, route: Route, spoil: bool) -> Journey:
    """Producer → trunk carrier → cold store → city carrier → the route's destinations."""
    journey = Journey(rng, product)
    trunk_quantity = max(1, round(quantity * rng.uniform(0.6, 1.0)))
    journey.hand_over(PICKUP, product.producer, TRUNK, trunk_quantity)
    journey.wait(10, 40)
    cold_store = rng.choice(COLD_STORES)
    trunk = journey.drive(TRUNK_SHIP, TRUNK, cold_store, trunk_quantity, (1.0, 3.0))
    if spoil:
        journey.spoil(trunk)
    if route.lost_trunk:
        journey.legs.pop()  # the cold store never scans it in
        return journey
    journey.wait(15, 45)
    journey.scan(STORED, cold_store, "store", trunk_quantity)
    stored_at = journey.clock
    low, high = STAY_DAYS[product.storage_class]
    journey.wait(low * 24 * 60, high * 24 * 60)
    dispatched = max(len(route.destinations), round(trunk_quantity * rng.uniform(0.5, 1.0)))
    journey.hand_over(DISPATCH, cold_store, CITY_CARRIER, dispatched, logged=stored_at)
    deliver(journey, route, dispatched)
    return journey


def deliver(journey: Journey, route: Route, quantity: int) -> None:
    """The city carrier's round, one stop per destination, then the sales at each stop."""
    shares = _split(journey.rng, quantity, len(route.destinations))
    if route.kitchen_first:
        shares.sort(reverse=True)  # the kitchen orders the most
    journey.wait(20, 60)
    arrivals = []
    for stop, (destination, share) in enumerate(zip(route.destinations, shares, strict=True)):
        journey.drive(DELIVER, CITY_CARRIER, destination, share, (0.5, 1.5))
        if stop == route.lost_stop:
            journey.legs.pop()
            continue
        if destination == KITCHEN:
            journey.kitchen_leg, journey.kitchen_quantity = len(journey.legs) - 1, share
        arrivals.append((destination, share, journey.clock))
    for destination, share, arrived in arrivals:
        if destination != KITCHEN:
            journey.clock = arrived
            journey.sell(SOLD, destination, share)


def output_journey(rng: random.Random, product: ProductPlan, quantity: int, destinations: list[str]) -> Journey:
    """A kitchen output: picked up by the city carrier and delivered to canteens or shops."""
    journey = Journey(rng, product, OUTPUT_STAGE)
    shipped = max(len(destinations), round(quantity * rng.uniform(0.7, 1.0)))
    journey.hand_over(PICKUP, KITCHEN, CITY_CARRIER, shipped)
    deliver(journey, Route(destinations), shipped)
    return journey


# --- the plan: batches placed in time, grouped in chunks -------------------------------------------


@dataclass
class BatchPlan:
    product: ProductPlan
    lot: str
    quantity: int
    produced: date
    journey: Journey
    start: datetime  # when the journey's clock reads zero
    event_prefix: str  # every client_event_id of the batch starts with it
    excursion: bool = False
    lost: bool = False

    @property
    def expiry(self) -> date:
        return self.produced + timedelta(days=self.product.shelf_days)


@dataclass
class TransformationPlan:
    event_id: str
    at: datetime
    inputs: list[tuple[BatchPlan, int]]
    output: BatchPlan


@dataclass
class Chunk:
    batches: list[BatchPlan] = field(default_factory=list)
    transformations: list[TransformationPlan] = field(default_factory=list)


@dataclass
class Plan:
    seed: int
    anchor: datetime
    chunks: list[Chunk]
    recalled: BatchPlan

    @property
    def recall_event_id(self) -> str:
        return f"demo:{self.seed}:recall"

    @property
    def first_event(self) -> tuple[str, str]:
        """(producer key, client_event_id) of the seed's first batch registration."""
        first = self.chunks[0].batches[0]
        return first.product.producer, f"{first.event_prefix}:coded"

    def batches(self) -> Iterator[BatchPlan]:
        for chunk in self.chunks:
            yield from chunk.batches
            yield from (t.output for t in chunk.transformations)


def seed_tag(seed: int) -> str:
    """Three characters of the seed in every lot, so that another seed makes other lots."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(digits[seed % 36**3 // 36**power % 36] for power in (2, 1, 0))


class Planner:
    """Every batch, journey and transformation of one seed, placed in the days before ``anchor``."""

    def __init__(self, seed: int, count: int, anchor: datetime) -> None:
        self.seed, self.count, self.anchor = seed, count, anchor.replace(microsecond=0)
        self.latest = self.anchor - timedelta(minutes=10)  # nothing later, so nothing in the future
        self.tag = seed_tag(seed)
        picker = random.Random(f"demo:{seed}:plan")  # noqa: S311 - a reproducible demo, not a secret
        self.kitchen_chunk: dict[int, int] = {}  # transformation number → the chunk it is written in
        self.kitchen = self._kitchen_slots(picker)
        self.products = [self._product(index) for index in range(count)]
        self.lost = self._pick(picker, LOST_SHARE, lambda i: i not in self.kitchen)
        self.spoiled = self._pick(picker, EXCURSION_SHARE, lambda i: self.products[i].storage_class in OUT_OF_BAND)

    def rng(self, *what: object) -> random.Random:
        return random.Random(":".join(map(str, ("demo", self.seed, *what))))  # noqa: S311

    def _kitchen_slots(self, picker: random.Random) -> dict[int, tuple[int, int]]:
        """Batch index → (transformation number, input position): two meals per chunk, each
        from one meat and two vegetable batches of that chunk."""
        slots: dict[int, tuple[int, int]] = {}
        for first in range(0, self.count, CHUNK_BATCHES):
            size = min(CHUNK_BATCHES, self.count - first)
            chosen = picker.sample(range(first, first + size), 3 * min(2, size // 3))
            for group in range(len(chosen) // 3):
                number = len(self.kitchen_chunk)
                self.kitchen_chunk[number] = first // CHUNK_BATCHES
                slots.update((chosen[3 * group + position], (number, position)) for position in range(3))
        return slots

    def _product(self, index: int) -> ProductPlan:
        rng = self.rng("product", index)
        slot = self.kitchen.get(index)
        if slot is None:
            return rng.choice(TRAVELLING)
        return PRODUCT[rng.choice(KITCHEN_MEAT if slot[1] == 0 else KITCHEN_VEG)]

    def _pick(self, picker: random.Random, share: float, eligible: Callable[[int], bool]) -> set[int]:
        candidates = [index for index in range(self.count) if eligible(index)]
        wanted = min(len(candidates), max(1, round(self.count * share)))
        return set(picker.sample(candidates, wanted))

    def plan(self) -> Plan:
        chunks = [Chunk() for _ in range(0, self.count, CHUNK_BATCHES)]
        meals: dict[int, list[tuple[BatchPlan, int]]] = {}
        meal_times = {number: self._meal_time(number) for number, _ in self.kitchen.values()}
        for index in range(self.count):
            batch, used = self._batch(index, meal_times)
            chunks[index // CHUNK_BATCHES].batches.append(batch)
            if index in self.kitchen:
                meals.setdefault(self.kitchen[index][0], []).append((batch, used))
        for number, inputs in sorted(meals.items()):
            inputs.sort(key=lambda pair: pair[0].product.key not in KITCHEN_MEAT)  # the meat first
            made = self._transformation(number, inputs, meal_times[number])
            chunks[self.kitchen_chunk[number]].transformations.append(made)
        recalled = next((t.inputs[0][0] for c in chunks for t in c.transformations), chunks[0].batches[0])
        return Plan(self.seed, self.anchor, chunks, recalled)

    def _meal_time(self, number: int) -> datetime:
        rng = self.rng("meal-time", number)
        return self.anchor - timedelta(days=3) - _minutes(rng, 0, (HISTORY - timedelta(days=3)).total_seconds() / 60)

    def _route(self, index: int, rng: random.Random) -> Route:
        if index in self.kitchen:
            extra = [rng.choice(RETAILERS)] if rng.random() < 0.5 else []
            return Route([KITCHEN, *extra], kitchen_first=True)
        stops = rng.sample((*RETAILERS, *SCHOOLS), rng.randint(1, 3))
        route = Route(stops)
        if index in self.lost:
            if rng.random() < 0.5:
                route.lost_trunk = True
            else:
                route.lost_stop = rng.randrange(len(stops))
        return route

    def _batch(self, index: int, meal_times: dict[int, datetime]) -> tuple[BatchPlan, int]:
        product, rng = self.products[index], self.rng("batch", index)
        quantity = rng.randint(*product.quantity)
        route = self._route(index, rng)
        journey = producer_journey(rng, product, quantity, route, index in self.spoiled)
        if journey.kitchen_leg is not None:
            arrived = meal_times[self.kitchen[index][0]] - _minutes(rng, 2 * 60, 36 * 60)
            start = arrived - journey.legs[journey.kitchen_leg].at
        else:
            recent = LOST_AGE if index in self.lost else timedelta(minutes=10)
            start = (
                self.anchor - _minutes(rng, recent.total_seconds() / 60, HISTORY.total_seconds() / 60) - journey.end()
            )
        start = min(start, self.latest - journey.end())  # earlier if need be: nothing after ``latest``
        produced = (start - timedelta(days=rng.randint(*product.age_days))).astimezone(BEIJING).date()
        batch = self._placed(product, quantity, journey, start, produced, index)
        batch.excursion, batch.lost = index in self.spoiled, index in self.lost
        used = max(1, round(journey.kitchen_quantity * rng.uniform(0.5, 1.0))) if journey.kitchen_quantity else 0
        return batch, used

    def _placed(
        self, product: ProductPlan, quantity: int, journey: Journey, start: datetime, produced: date, number: int
    ) -> BatchPlan:
        made_here = product.producer == KITCHEN
        lot = f"{LOT_PREFIX[product.producer]}{produced:%y%m%d}-{self.tag}-{number:05d}"
        prefix = f"demo:{self.seed}:{'t' if made_here else 'b'}{number:05d}"
        return BatchPlan(product, lot, quantity, produced, journey, start, prefix)

    def _transformation(self, number: int, inputs: list[tuple[BatchPlan, int]], at: datetime) -> TransformationPlan:
        """Meals for the schools on even numbers, dumplings for the shops on odd ones.  Made at
        least three days ago, so that their journey ends before ``latest`` without moving."""
        rng = self.rng("meal", number)
        product = PRODUCT["meal" if number % 2 == 0 else "dumplings"]
        quantity = rng.randint(*product.quantity)
        destinations = list(SCHOOLS) if product.key == "meal" else rng.sample(RETAILERS, rng.randint(1, 2))
        journey = output_journey(rng, product, quantity, destinations)
        start = at + _minutes(rng, 60, 240)
        output = self._placed(product, quantity, journey, start, at.astimezone(BEIJING).date(), number)
        return TransformationPlan(f"{output.event_prefix}:made", at, inputs, output)


def make_plan(seed: int, count: int, anchor: datetime) -> Plan:
    """The whole demo for one seed; the same seed and anchor always give the same plan."""
    if count < 1:
        raise ValueError("the demo needs at least one batch")
    return Planner(seed, count, anchor).plan()


# --- writing the plan through the services ---------------------------------------------------------

RECALL_REASON = "市场监督抽检检出沙门氏菌，责令召回该批次及其制成品"
DOCUMENT_CODES = {"inspection_quarantine": "IQ", "customs_declaration": "CD", "disinfection": "XD", "test_report": "JC"}


@dataclass(frozen=True)
class Op:
    """One service call's worth of input: what a device or a clerk would send to the API."""

    stage: int
    org: str  # roster key of the organisation writing it
    kind: str  # "batch", "scan" or "transform"
    body: dict[str, Any]
    client_event_id: str


def _local(moment: datetime) -> str:
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def batch_body(batch: BatchPlan, roster: Roster) -> dict[str, Any]:
    product = batch.product
    number = f"{batch.produced:%Y%m%d}{batch.lot[-5:]}"
    return {
        "gtin": product.gtin,
        "lot": batch.lot,
        "site_id": roster.site_ids[product.producer],
        "origin": product.origin,
        "production_date": batch.produced.isoformat(),
        "expiry_date": batch.expiry.isoformat(),
        "quantity": batch.quantity,
        "unit": product.unit,
        "documents": [{"type": kind, "number": f"{DOCUMENT_CODES[kind]}{number}"} for kind in product.documents],
    }


def scan_body(leg: Leg, batch: BatchPlan, number: int, roster: Roster) -> dict[str, Any]:
    """The scan as a handheld would send it to ``POST /api/v1/scans``."""
    body: dict[str, Any] = {
        "client_event_id": f"{batch.event_prefix}:{number:02d}",
        "action": leg.action,
        "gtin": batch.product.gtin,
        "lot": batch.lot,
        "quantity": leg.quantity,
        "unit": batch.product.unit,
        "event_time": _local(batch.start + leg.at),
        "temperature_c": leg.celsius,
    }
    if leg.readings:
        body["readings"] = [{"time": _local(batch.start + at), "celsius": c} for at, c in leg.readings]
    if leg.org in CARRIERS:  # from the truck: its GPS at the other party's site, and the truck
        latitude, longitude = ORG_PLAN[leg.to or leg.source or leg.org].place
        body.update(latitude=latitude, longitude=longitude, device=TRUCKS[leg.org])
    else:
        body["site_id"] = roster.site_ids[leg.org]
    if leg.to is not None:
        body["to_org_id"] = roster.org(leg.to)
        if leg.to not in CARRIERS:
            body["to_site_id"] = roster.site_ids[leg.to]
    if leg.source is not None:
        body["from_org_id"] = roster.org(leg.source)
    return body


def transformation_body(plan: TransformationPlan, roster: Roster) -> dict[str, Any]:
    return {
        "client_event_id": plan.event_id,
        "event_time": _local(plan.at),
        "inputs": [
            {"gtin": batch.product.gtin, "lot": batch.lot, "quantity": used, "unit": batch.product.unit}
            for batch, used in plan.inputs
        ],
        "output": batch_body(plan.output, roster),
        "device": "中央厨房生产管理系统",
    }


def _travel(batch: BatchPlan, roster: Roster) -> list[Op]:
    return [
        Op(leg.stage, leg.org, "scan", scan_body(leg, batch, number, roster), f"{batch.event_prefix}:{number:02d}")
        for number, leg in enumerate(batch.journey.legs)
    ]


def chunk_ops(chunk: Chunk, roster: Roster) -> list[Op]:
    """The chunk's operations in stage order; within a stage, grouped by who writes them."""
    ops = []
    for batch in chunk.batches:
        ops.append(
            Op(REGISTER, batch.product.producer, "batch", batch_body(batch, roster), f"{batch.event_prefix}:coded")
        )
        ops.extend(_travel(batch, roster))
    for made in chunk.transformations:
        ops.append(Op(TRANSFORM, KITCHEN, "transform", transformation_body(made, roster), made.event_id))
        ops.extend(_travel(made.output, roster))
    return sorted(ops, key=lambda op: (op.stage, op.org))


def _register_batches(session: Session, org_id: str, ops: Sequence[Op], now: datetime) -> None:
    for op in ops:
        spec = batch_spec(op.body)
        payload = food.batch_payload(session, spec, org_id)
        food.register_batch(session, spec, payload, {"org": org_id}, op.client_event_id)


def _record_scans(session: Session, org_id: str, ops: Sequence[Op], now: datetime) -> None:
    actor = {"org": org_id}
    scans.record_scans(session, org_id, [scans.ScanRequest(scan_spec(op.body, now), actor) for op in ops])


def _transform(session: Session, org_id: str, ops: Sequence[Op], now: datetime) -> None:
    actor = {"org": org_id}
    for op in ops:
        spec = transformation_spec(op.body, now)
        payload = food.batch_payload(session, spec.output, org_id)
        transformations.record_transformation(session, spec, org_id, actor, actor, payload)


HANDLERS: dict[str, Callable[[Session, str, Sequence[Op], datetime], None]] = {
    "batch": _register_batches,
    "scan": _record_scans,
    "transform": _transform,
}


def execute(session: Session, roster: Roster, ops: Sequence[Op]) -> None:
    """Each run of one organisation's operations of one kind in one stage: one service call
    (batches and transformations one by one: their services take one at a time)."""
    now = datetime.now(UTC)
    for (_, org, kind), group in groupby(ops, key=lambda op: (op.stage, op.org, op.kind)):
        HANDLERS[kind](session, roster.org(org), list(group), now)


def _earlier_run(session: Session, plan: Plan, roster: Roster) -> int | None:
    """The seq of this seed's recall when a run with it completed; refused when one stopped part-way."""
    producer, first_event = plan.first_event
    recall_key = (roster.org(BUREAU), plan.recall_event_id)
    found = store.previous_appends(session, {recall_key, (roster.org(producer), first_event)})
    if recall_key in found:
        return found[recall_key].seq
    if found:
        raise DemoRefused(
            f"a demo run with seed {plan.seed} stopped part-way: its first batches are in the ledger but not its "
            "recall. Nothing was appended; load the demo into a fresh database or use another --seed."
        )
    return None


def open_demo_recall(session: Session, plan: Plan, roster: Roster) -> None:
    """The city bureau recalls the meat of the first kitchen transformation."""
    batch = food.get_batch(session, plan.recalled.product.gtin14, plan.recalled.lot)
    recalls.open_recall(session, batch, RECALL_REASON, {"org": roster.org(BUREAU)}, plan.recall_event_id)


def chunk_count(count: int) -> int:
    return -(-count // CHUNK_BATCHES)


def _require_schema(engine: Engine) -> None:
    if not inspect(engine).has_table(LedgerEntry.__tablename__):
        raise DemoRefused("the database has no ledger yet: run 'python -m ledger init' first")


def run(
    engine: Engine,
    public_url: str,
    count: int = 1000,
    seed: int = 1,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoReport:
    """Write the demo for ``seed`` (roster, then ``count`` batches in chunks, then the recall)."""
    _require_schema(engine)
    started = perf_counter()
    with transaction(engine) as session:
        first_seq = store.tree_size(session)
        roster = ensure_roster(session)
    plan = make_plan(seed, count, now or datetime.now(UTC))
    with transaction(engine, readonly=True) as session:
        recall_seq = _earlier_run(session, plan, roster)
    if recall_seq is not None:
        with transaction(engine, readonly=True) as session:
            return already_loaded(session, plan, recall_seq, public_url)
    for chunk in plan.chunks:
        with transaction(engine) as session:
            execute(session, roster, chunk_ops(chunk, roster))
        if progress is not None:
            progress(1)
    with transaction(engine) as session:
        open_demo_recall(session, plan, roster)
    seconds = perf_counter() - started
    with transaction(engine, readonly=True) as session:
        return summarise(session, plan, roster, first_seq, seconds, public_url)


# --- what the run did ------------------------------------------------------------------------------


def route_limit(storage_class: str | None) -> timedelta:
    return ROUTE_LIMITS.get(storage_class or "", DEFAULT_ROUTE_LIMIT)


def overdue_shipments(session: Session, now: datetime) -> list[Scan]:
    """Shipments nobody received within their route's limit: goods lost, or a receiver that did not scan."""
    query = (
        select(Scan, Product.storage_class)
        .outerjoin(Product, Product.gtin == Scan.gtin)
        .where(Scan.action == "ship", Scan.matched_scan_id.is_(None))
        .order_by(Scan.event_time)
    )
    return [scan for scan, storage in session.execute(query) if now - scan.event_time > route_limit(storage)]


@dataclass
class DemoReport:
    seed: int
    appended: dict[str, int]
    seconds: float
    transactions: int
    recall: str
    links: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        total = sum(self.appended.values())
        lines = [f"demo seed {self.seed}: {total:,} entries appended in {self.transactions} transactions, "
                 f"{self.seconds:.1f} s"]  # fmt: skip
        lines += [f"  {kind:<28} {count:>8,}" for kind, count in sorted(self.appended.items())]
        lines += [self.recall, *self.notes]
        if self.links:
            lines.append("Digital Links to try:")
            lines += [f"  {label:<22} {url}" for label, url in self.links]
        return lines


def _link(batch: BatchPlan, public_url: str) -> str:
    return digital_link(public_url, batch.product.gtin14, batch.lot, batch.expiry)


def _recall_line(session: Session, gtin: str, lot: str) -> str:
    batch = food.get_batch(session, gtin, lot)
    traced = lineage.trace(session, batch.id, "forward")
    (recall,) = recalls.recalls_of(session, [batch.id])[:1]
    return (
        f"recalled: {gtin} lot {lot} (seq {recall.opened_seq}): {recall.reason}; trace forward reaches "
        f"{len(traced.batches)} batches and {len(traced.holders())} holders"
    )


def summarise(
    session: Session, plan: Plan, roster: Roster, first_seq: int, seconds: float, public_url: str
) -> DemoReport:
    counts = session.execute(
        select(LedgerEntry.kind, func.count()).where(LedgerEntry.seq >= first_seq).group_by(LedgerEntry.kind)
    )
    batches = list(plan.batches())
    made_from = next((t.output for c in plan.chunks for t in c.transformations), None)
    picks = [
        ("recalled batch", plan.recalled),
        ("made from it", made_from),
        ("temperature excursion", next((b for b in batches if b.excursion), None)),
        ("lost in transit", next((b for b in batches if b.lost), None)),
    ]
    overdue = overdue_shipments(session, datetime.now(UTC))
    notes = [
        f"batches with a temperature excursion: {sum(b.excursion for b in batches)}; "
        f"shipments open beyond their route limit: {len(overdue)}",
        "sign a checkpoint now with: python -m ledger checkpoint",
    ]
    if BUREAU in roster.new_api_keys:
        notes.append(f"API key of {ORG_PLAN[BUREAU].name} (inspector; shown once): {roster.new_api_keys[BUREAU]}")
    return DemoReport(
        plan.seed,
        {kind: count for kind, count in counts},
        seconds,
        len(plan.chunks) + 2,
        _recall_line(session, plan.recalled.product.gtin14, plan.recalled.lot),
        [(label, _link(batch, public_url)) for label, batch in picks if batch is not None],
        notes,
    )


def already_loaded(session: Session, plan: Plan, recall_seq: int, public_url: str) -> DemoReport:
    """A rerun of a seed that completed: nothing appended, and where its recall is."""
    recall = session.scalars(select(Recall).where(Recall.opened_seq == recall_seq)).one()
    batch = session.get_one(Batch, recall.batch_id)
    note = f"seed {plan.seed} is already loaded: nothing appended; another --seed adds another set of batches"
    link = ("recalled batch", digital_link(public_url, batch.gtin, batch.lot, batch.expiry_date))
    return DemoReport(plan.seed, {}, 0.0, 0, _recall_line(session, batch.gtin, batch.lot), [link], [note])
