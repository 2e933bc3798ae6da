"""``pos-app demo-data``: a realistic store database (catalogue, members, a year of sales).

Members are generated in bulk with raw executemany (a million in well under two minutes);
the sales history is quoted with the real loyalty core so every figure obeys the rule
set. Every member's balance equals their ledger sum, and their lots hold it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import multiprocessing
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pos_app.core.codes import ean_valid
from pos_app.core.lots import expiry_for
from pos_app.core.privacy import phone_hint
from pos_app.core.quote import BasketLine, MemberContext, quote_basket
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.core.tiers import tier_after_activity, window_start_at
from pos_app.services.context import TillContext
from pos_app.store import bulk, setting_keys
from pos_app.store.bulk import LoadConnection, bulk_connection, insert_rows
from pos_app.store.database import PhoneSecrets

Progress = Callable[[str, int, int], None]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志强海燕雪梅晓东婷宇浩然子涵欣怡梓萱一诺"
PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "186",
    "187",
    "188",
    "189",
)

CATALOGUE: list[tuple[str, str, int, int]] = [
    # (category, name, price_fen, count of variants)
    ("food", "东北大米 5kg", 4990, 3),
    ("food", "金龙鱼花生油 5L", 8990, 2),
    ("food", "五常稻花香米 10kg", 12900, 1),
    ("food", "手工挂面 1kg", 1290, 3),
    ("food", "老干妈风味豆豉", 990, 2),
    ("food", "海天生抽 1.9L", 2390, 2),
    ("food", "有机鸡蛋 30枚", 3990, 2),
    ("food", "进口牛排 300g", 6990, 2),
    ("food", "新疆红枣 500g", 3590, 2),
    ("snacks", "三只松鼠坚果礼盒", 12800, 2),
    ("snacks", "良品铺子肉脯", 2990, 3),
    ("snacks", "乐事薯片 大包", 890, 4),
    ("snacks", "德芙巧克力 礼盒装", 6990, 2),
    ("drinks", "农夫山泉 24瓶", 3590, 2),
    ("drinks", "伊利纯牛奶 24盒", 6590, 2),
    ("drinks", "西湖龙井 250g", 29800, 1),
    ("drinks", "雀巢咖啡 100条", 8900, 1),
    ("drinks", "可口可乐 12罐", 3990, 2),
    ("home", "洗衣液 3kg", 4990, 3),
    ("home", "抽纸 24包", 5990, 2),
    ("home", "不锈钢保温杯", 12900, 3),
    ("home", "四件套 纯棉", 39900, 2),
    ("care", "洗发水 750ml", 5990, 3),
    ("care", "牙膏 三支装", 2990, 3),
    ("care", "护手霜礼盒", 8800, 2),
    ("baby", "婴儿纸尿裤 L码", 13900, 2),
    ("baby", "婴幼儿奶粉 900g", 29800, 2),
    ("fresh", "红富士苹果 5斤", 3980, 2),
    ("fresh", "海南香蕉 3斤", 1590, 2),
    ("fresh", "阳光玫瑰葡萄", 4990, 2),
    ("gift_card", "礼品卡 100元", 10000, 1),
    ("gift_card", "礼品卡 500元", 50000, 1),
]

#: HQ's front-page picks in the demo mall (item id -> {section: position}), as tills
#: pull them with the items: the front page (F11) shows them first.
DEMO_FRONT_PICKS: dict[str, dict[str, int]] = {
    "MALL005": {"hot": 0},
    "MALL006": {"new": 0},
    "MALL001": {"member_day": 0},
    "MALL003": {"member_day": 1},
}

MALL = [
    # (name, points, cash_fen, level, category, min_tier, stock, kind, brand, keywords,
    #  per-member limit, new, coupon fen off, coupon minimum order fen)
    ("5元无门槛券", 500, 0, "low", "coupon", None, None, "coupon", "", "券 代金券", 5, 0, 500, 0),
    (
        "10元满100可用券",
        800,
        0,
        "low",
        "coupon",
        None,
        None,
        "coupon",
        "",
        "券 满减",
        5,
        0,
        1000,
        10000,
    ),
    ("免费停车券", 300, 0, "low", "coupon", None, None, "coupon", "", "停车", 10, 0, 0, 0),
    ("精美帆布袋", 1200, 0, "low", "home", None, 200, "goods", "积分生活", "袋 环保", 2, 0, 0, 0),
    ("品牌保温杯", 3500, 0, "middle", "home", None, 50, "goods", "象印", "杯 保温", 1, 0, 0, 0),
    (
        "蓝牙耳机",
        6000,
        0,
        "middle",
        "electronics",
        None,
        30,
        "goods",
        "华为",
        "耳机 音乐",
        1,
        1,
        0,
        0,
    ),
    (
        "电动牙刷",
        4500,
        2000,
        "middle",
        "care",
        None,
        40,
        "goods",
        "飞利浦",
        "牙刷 护理",
        1,
        0,
        0,
        0,
    ),
    (
        "空气炸锅",
        12000,
        0,
        "middle",
        "home",
        "silver",
        15,
        "goods",
        "美的",
        "厨房 炸锅",
        1,
        1,
        0,
        0,
    ),
    (
        "扫地机器人",
        50000,
        0,
        "top",
        "electronics",
        "gold",
        3,
        "goods",
        "科沃斯",
        "清洁",
        1,
        0,
        0,
        0,
    ),
    ("三亚双人游", 200000, 0, "top", "travel", "gold", 1, "goods", "", "旅游 度假", 1, 0, 0, 0),
    ("抽奖券 (一次)", 200, 0, "low", "lottery", None, None, "lottery", "", "抽奖", None, 0, 0, 0),
    ("会员日双倍券", 1000, 0, "low", "coupon", "silver", None, "coupon", "", "会员日", 2, 0, 0, 0),
    ("有机大米 5kg", 2500, 0, "middle", "food", None, 80, "goods", "五常", "米 粮油", 2, 0, 0, 0),
    (
        "进口坚果礼盒",
        1800,
        0,
        "low",
        "snacks",
        None,
        60,
        "goods",
        "三只松鼠",
        "坚果 零食",
        2,
        1,
        0,
        0,
    ),
]


BULK_TABLES = (
    "members",
    "ledger_entries",
    "point_lots",
    "lot_moves",
    "sales",
    "sale_lines",
    "tenders",
)


class _Ids:
    """Fast time-ordered ids for bulk loading (same 32-hex shape as ``new_id``)."""

    def __init__(self, rng: random.Random) -> None:
        self.prefix = f"{time.time_ns() // 1_000_000:012x}7"
        self._salt = rng.getrandbits(32)
        self._n = 0

    def __call__(self) -> str:
        self._n += 1
        return f"{self.prefix}{self._salt:08x}{self._n:011x}"


def _t(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


CHUNK = 50_000
SALES_CHUNK = 10_000
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class _Plan:
    """Everything a worker process needs to generate its share (picklable)."""

    members: int
    seed: int
    key: bytes
    local_key: bytes
    tiers: tuple[str, ...]
    day_prefix: tuple[str, ...]
    expiry_by_day: tuple[str | None, ...]
    version: str
    store_id: str
    id_prefix: str
    rules: RuleSet
    now: dt.datetime
    products: tuple[tuple[Any, ...], ...]


def tier_of(i: int, tiers: tuple[str, ...]) -> str:
    """Demo tier of member ``i``: about 8% top tier, 22% middle, the rest entry level."""
    r = (i * 2_654_435_761 + 97) % 1000
    if r < 80:
        return tiers[-1]
    if r < 300:
        return tiers[min(1, len(tiers) - 1)]
    return tiers[0]


def member_id(plan: _Plan, i: int) -> str:
    """Id of demo member ``i`` (32 hex-like characters, unique per build)."""
    return f"{plan.id_prefix}m{i:010x}"


def _stamp(plan: _Plan, day: int, frac: float) -> str:
    secs = int(frac * 86_399)
    return f"{plan.day_prefix[day]}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}.000000+00:00"


def _member_rows(plan: _Plan, start: int, end: int) -> tuple[Rows, Rows, Rows, Rows]:
    """Members ``start`` to ``end`` with their opening ledger entry and lot."""
    rng = random.Random(plan.seed * 1_000_003 + start)
    rnd = rng.random
    n_surnames, n_given = len(SURNAMES), len(GIVEN)
    members: Rows = []
    entries: Rows = []
    lots: Rows = []
    moves: Rows = []
    phone = PhoneSecrets.of(plan.local_key)
    for i in range(start, end):
        national = demo_phone(i)
        e164 = "+86" + national
        digest = hmac.digest(plan.key, e164.encode(), "sha256")
        tier = tier_of(i, plan.tiers)
        low, high = ((0, 2900), (400, 7900), (1900, 29900))[min(plan.tiers.index(tier), 2)]
        opening = low + int(rnd() * (high - low))
        reg_day = 30 + int(rnd() * 1070)
        open_day = min(reg_day, 1 + int(rnd() * 728))
        reg_t = _stamp(plan, reg_day, rnd())
        open_t = _stamp(plan, open_day, rnd())
        seen_t = _stamp(plan, int(rnd() * 365), rnd())
        name = (
            SURNAMES[int(rnd() * n_surnames)]
            + GIVEN[int(rnd() * n_given)]
            + (GIVEN[int(rnd() * n_given)] if rnd() < 0.6 else "")
        )
        birthday = f"{1950 + int(rnd() * 57)}-{1 + int(rnd() * 12):02d}-{1 + int(rnd() * 28):02d}"
        mid = member_id(plan, i)
        points = 100 + opening
        members.append(
            (
                mid,
                i + 1,
                digest,
                e164[-4:],
                phone_hint(national[:3], national[-4:], phone.hint_key),
                phone.masks.seal(national[:3] + "****" + national[-4:]),
                name,
                birthday,
                tier,
                reg_t,
                None,
                f"D{i + 1:07d}",
                None,
                reg_t,
                plan.store_id,
                None,
                None,
                points,
                seen_t,
            )
        )
        entry_id = f"{plan.id_prefix}b{i:010x}"
        entries.append(
            (
                entry_id,
                mid,
                "adjust",
                points,
                open_t,
                None,
                None,
                plan.version,
                "hq",
                "opening balance from HQ (registration bonus included)",
                None,
            )
        )
        lots.append((entry_id, mid, points, points, open_t, plan.expiry_by_day[open_day]))
        moves.append((entry_id, entry_id, points))
    return members, entries, lots, moves


@dataclass
class _SalesChunk:
    sales: Rows
    lines: Rows
    tenders: Rows
    entries: Rows
    lots: Rows
    moves: Rows
    earned: dict[str, int]
    first_sale: dict[str, str]
    window: dict[str, list[int]]  # member -> [spend fen, points] in the tier window


def _sales_rows(plan: _Plan, start: int, end: int) -> _SalesChunk:
    """Sales ``start`` to ``end`` of the year's history, quoted by the real core."""
    rng = random.Random(plan.seed * 7_919 + start)
    out = _SalesChunk([], [], [], [], [], [], {}, {}, {})
    rules, products, zone = plan.rules, plan.products, plan.rules.zone
    since = window_start_at(rules, plan.now)
    expiry_cache: dict[dt.date, str | None] = {}
    for k in range(start, end):
        mi = rng.randrange(plan.members)
        mid = member_id(plan, mi)
        at = plan.now - dt.timedelta(days=rng.uniform(1, 365))
        basket = []
        for _ in range(rng.randint(1, 4)):
            p = products[rng.randrange(len(products))]
            basket.append(
                BasketLine(p[0], p[2], p[3], rng.randint(1, 3), p[4], member_price_fen=p[5])
            )
        q = quote_basket(
            rules, basket, member=MemberContext(mid, tier_of(mi, plan.tiers), 0), at=at
        )
        day = at.astimezone(zone)
        sale_id = f"{plan.id_prefix}s{k:010x}"
        t = _t(at)
        out.sales.append(
            (
                sale_id,
                f"R00100{day:%y%m%d}8{k:06d}",
                plan.store_id,
                "00",
                "history",
                mid,
                t,
                q.subtotal_fen,
                q.line_discount_fen,
                0,
                q.total_fen,
                0,
                0,
                q.cash_due_fen,
                q.points_earned,
                0,
                rules.version,
                '{"history": true}',
            )
        )
        for ql in q.lines:
            out.lines.append(
                (
                    f"{plan.id_prefix}l{k:08x}{ql.index:02x}",
                    sale_id,
                    ql.index + 1,
                    ql.line.sku,
                    ql.line.name,
                    ql.line.category,
                    ql.line.quantity,
                    ql.line.unit_price_fen,
                    0,
                    ql.net_fen,
                    0,
                    0,
                    0,
                    ql.cash_fen,
                    ql.earn_points,
                    0,
                )
            )
        out.tenders.append(
            (
                f"{plan.id_prefix}t{k:010x}",
                sale_id,
                rng.choice(("cash", "wechat", "alipay", "card")),
                q.cash_due_fen,
                q.cash_due_fen,
                0,
            )
        )
        if q.points_earned:
            entry_id = f"{plan.id_prefix}e{k:010x}"
            if day.date() not in expiry_cache:
                found = expiry_for(rules, at)
                expiry_cache[day.date()] = found.isoformat() if found else None
            out.entries.append(
                (
                    entry_id,
                    mid,
                    "earn",
                    q.points_earned,
                    t,
                    sale_id,
                    None,
                    rules.version,
                    "history",
                    None,
                    None,
                )
            )
            out.lots.append(
                (entry_id, mid, q.points_earned, q.points_earned, t, expiry_cache[day.date()])
            )
            out.moves.append((entry_id, entry_id, q.points_earned))
            out.earned[mid] = out.earned.get(mid, 0) + q.points_earned
        if mid not in out.first_sale or t < out.first_sale[mid]:
            out.first_sale[mid] = t
        if at >= since:
            figures = out.window.setdefault(mid, [0, 0])
            figures[0] += q.total_fen
            figures[1] += q.points_earned
    return out


def _earned_tiers(plan: _Plan, window: dict[str, list[int]]) -> list[tuple[str, str]]:
    """(tier, member id) of the members whose history in the tier window earns a
    higher tier than the one they were given: they sit at the tier they earned."""
    out = []
    for mid, (spend, points) in window.items():
        given = tier_of(int(mid[-10:], 16), plan.tiers)
        earned = tier_after_activity(plan.rules, given, spend, points)
        if earned != given:
            out.append((earned, mid))
    return out


def _run_task(task: tuple[str, _Plan, int, int]) -> Any:
    kind, plan, start, end = task
    return _sales_rows(plan, start, end) if kind == "sales" else _member_rows(plan, start, end)


def _results(tasks: list[tuple[str, _Plan, int, int]], parallel: bool) -> Iterator[Any]:
    """Task results in order; big loads are generated by two worker processes while
    this one inserts."""
    if not parallel:
        for task in tasks:
            yield _run_task(task)
        return
    mp = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=mp) as pool:
        window = 4
        pending = [pool.submit(_run_task, task) for task in tasks[:window]]
        for task in tasks[window:]:
            result = pending.pop(0).result()
            pending.append(pool.submit(_run_task, task))
            yield result
        for fut in pending:
            yield fut.result()


@dataclass(frozen=True)
class DemoStats:
    """What was built, and how long it took."""

    members: int
    sales: int
    products: int
    seconds: float


def _ean13(rng: random.Random) -> str:
    while True:
        body = "69" + "".join(str(rng.randrange(10)) for _ in range(10))
        total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
        code = body + str((10 - total % 10) % 10)
        if ean_valid(code):
            return code


def demo_phone(i: int) -> str:
    """The i-th demo mobile number (national form), unique for i < 2.6e9.

    The first few are easy to type in a demo: 13812341234, 13912345678, 13600001111.
    """
    fixed = ("13812341234", "13912345678", "13600001111")
    if i < len(fixed):
        return fixed[i]
    prefix = PREFIXES[i % len(PREFIXES)]
    n = (i // len(PREFIXES) * 7_919_731 + 12_345_679) % 100_000_000
    return f"{prefix}{n:08d}"


MEMBER_COLUMNS = (
    "id",
    "member_no",
    "phone_hash",
    "phone_last4",
    "phone_hint",
    "phone_mask_sealed",
    "name",
    "birthday",
    "tier",
    "tier_since",
    "last_review",
    "referral_code",
    "referred_by",
    "registered_at",
    "registered_store",
    "first_purchase_at",
    "birthday_gift_year",
    "balance",
    "last_seen_at",
)
ENTRY_COLUMNS = (
    "id",
    "member_id",
    "kind",
    "points",
    "created_at",
    "sale_id",
    "refund_id",
    "rule_set_version",
    "actor_id",
    "reason",
    "detail",
)
SALE_COLUMNS = (
    "id",
    "receipt_no",
    "store_id",
    "till_id",
    "cashier_id",
    "member_id",
    "created_at",
    "subtotal_fen",
    "line_discount_fen",
    "coupon_fen",
    "total_fen",
    "points_used",
    "points_value_fen",
    "cash_due_fen",
    "points_earned",
    "bonus_points",
    "rule_set_version",
    "quote_json",
)
LINE_COLUMNS = (
    "id",
    "sale_id",
    "line_no",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price_fen",
    "line_discount_fen",
    "net_fen",
    "coupon_fen",
    "points_used",
    "points_value_fen",
    "cash_fen",
    "earn_points",
    "is_reward",
)


def build_demo_data(
    ctx: TillContext,
    *,
    members: int,
    sales: int | None = None,
    seed: int = 2026,
    progress: Progress | None = None,
) -> DemoStats:
    """Fill an EMPTY till database with demo data.

    The steps: draw the catalogue and the plan (seeded, so the same seed gives the same
    data); load the catalogue, the mall and the bearer coupons; load members and sales
    chunk by chunk (in worker processes for big loads); then the members' balances,
    first purchases and tiers from what their sales earned.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    now = ctx.now()
    report = progress or (lambda _stage, _done, _total: None)
    sales = (min(members * 2, 60_000) if sales is None else sales) if members else 0
    ids = _Ids(rng)
    products = _demo_products(rng)
    if not ctx.rules.perks.tier_price_percent:
        ctx.install_rule_set(demo_rule_set(ctx.rules))
    plan = _demo_plan(ctx, rng, ids, seed, members, now, products)
    tasks: list[tuple[str, _Plan, int, int]] = [
        ("sales", plan, k, min(k + SALES_CHUNK, sales)) for k in range(0, sales, SALES_CHUNK)
    ] + [("members", plan, i, min(i + CHUNK, members)) for i in range(0, members, CHUNK)]
    with bulk_connection(ctx.db, BULK_TABLES) as conn:
        if bulk.count_members(conn):
            raise RuntimeError("demo data goes into an empty till database")
        _load_catalogue(conn, products, ids, now)
        totals = _load_members_and_sales(conn, tasks, members, sales, report)
        bulk.add_to_balances(conn, [(pts, mid) for mid, pts in totals.earned.items()])
        bulk.set_first_purchases(conn, [(t, mid) for mid, t in totals.first_sale.items()])
        bulk.set_tiers(conn, _earned_tiers(plan, totals.window))
        bulk.put_setting(conn, setting_keys.DEMO.key, "1")
        report("indexes", 0, 1)
    report("done", 1, 1)
    return DemoStats(members, sales, len(products), time.perf_counter() - started)


#: The demo store's tier prices (会员等级价): the share of the member price each tier pays.
DEMO_TIER_PRICES = {"silver": 98, "gold": 95}


def demo_rule_set(rules: RuleSet) -> RuleSet:
    """``rules`` with the demo store's tier prices (a version of its own)."""
    document = json.loads(rules.to_json())
    document["version"] = f"{rules.version}-demo"[:64]
    document["perks"] = {
        **document.get("perks", {}),
        "tier_price_percent": {
            tier: pct for tier, pct in DEMO_TIER_PRICES.items() if tier in rules.tier_codes()
        },
    }
    return load_rule_set(document)


def _demo_products(rng: random.Random) -> list[tuple[Any, ...]]:
    """The catalogue's rows: each product of :data:`CATALOGUE` in its variants."""
    products: list[tuple[Any, ...]] = []
    for cat, name, price, variants in CATALOGUE:
        for v in range(variants):
            sku = f"SKU{len(products) + 1:05d}"
            label = name if variants == 1 else f"{name} {'ABCD'[v]}款"
            member_price = price * 95 // 100 if cat not in ("gift_card", "fresh") else None
            products.append((sku, _ean13(rng), label, cat, price + v * 100, member_price, 1))
    return products


def _demo_plan(
    ctx: TillContext,
    rng: random.Random,
    ids: _Ids,
    seed: int,
    members: int,
    now: dt.datetime,
    products: list[tuple[Any, ...]],
) -> _Plan:
    """What every chunk needs to make its rows (picklable for the worker processes)."""
    rules = ctx.rules

    def expires(d: int) -> str | None:
        found = expiry_for(rules, now - dt.timedelta(days=d))
        return found.isoformat() if found else None

    return _Plan(
        members=members,
        seed=seed,
        key=ctx.phone_key,
        local_key=ctx.db.keys.local_key,
        tiers=tuple(rules.tier_codes()),
        day_prefix=tuple(_t(now - dt.timedelta(days=d))[:11] for d in range(1101)),
        expiry_by_day=tuple(expires(d) for d in range(1101)),
        version=rules.version,
        store_id=ctx.store_id,
        id_prefix=ids.prefix + f"{rng.getrandbits(32):08x}",
        rules=rules,
        now=now,
        products=tuple(products),
    )


def _load_catalogue(
    conn: LoadConnection, products: list[tuple[Any, ...]], ids: _Ids, now: dt.datetime
) -> None:
    """The products, the mall's items and twenty bearer coupons."""
    insert_rows(
        conn,
        "products",
        ("sku", "barcode", "name", "category", "price_fen", "member_price_fen", "active"),
        products,
    )
    insert_rows(
        conn,
        "mall_items",
        (
            "id",
            "name",
            "points_price",
            "cash_price_fen",
            "level",
            "category",
            "min_tier",
            "stock",
            "brand",
            "keywords",
            "discount_percent",
            "discount_from",
            "discount_to",
            "kind",
            "per_member_limit",
            "is_new",
            "coupon_amount_off_fen",
            "coupon_min_order_fen",
            "coupon_valid_days",
            "lottery_winners",
            "featured",
        ),
        [
            (
                f"MALL{i + 1:03d}",
                n,
                p,
                c,
                lv,
                cat,
                mt,
                st,
                brand,
                words,
                50 if i == 5 else 0,
                _t(now - dt.timedelta(days=1)) if i == 5 else None,
                _t(now + dt.timedelta(days=6)) if i == 5 else None,
                kind,
                limit,
                new,
                off,
                minimum,
                30,
                3,
                json.dumps(DEMO_FRONT_PICKS.get(f"MALL{i + 1:03d}", {}), sort_keys=True),
            )
            for i, (n, p, c, lv, cat, mt, st, kind, brand, words, limit, new, off, minimum) in (
                enumerate(MALL)
            )
        ],
    )
    valid_from, valid_to = _t(now - dt.timedelta(days=1)), _t(now + dt.timedelta(days=365))
    insert_rows(
        conn,
        "coupons",
        (
            "id",
            "code",
            "member_id",
            "name",
            "amount_off_fen",
            "percent_off",
            "min_order_fen",
            "valid_from",
            "valid_to",
            "issued_at",
            "source",
        ),
        [
            (
                ids(),
                f"DEMO{i:02d}",
                None,
                "满100减10",
                1000,
                0,
                10000,
                valid_from,
                valid_to,
                valid_from,
                "demo",
            )
            for i in range(1, 21)
        ],
    )


@dataclass
class _Totals:
    """What the members' sales add up to: points earned, first purchase, the tier
    window's (spend, points), per member."""

    earned: dict[str, int] = field(default_factory=dict)
    first_sale: dict[str, str] = field(default_factory=dict)
    window: dict[str, list[int]] = field(default_factory=dict)

    def add(self, chunk: _SalesChunk) -> None:
        """Count one chunk of sales in."""
        for mid, pts in chunk.earned.items():
            self.earned[mid] = self.earned.get(mid, 0) + pts
        for mid, t in chunk.first_sale.items():
            if mid not in self.first_sale or t < self.first_sale[mid]:
                self.first_sale[mid] = t
        for mid, (spend, points) in chunk.window.items():
            figures = self.window.setdefault(mid, [0, 0])
            figures[0] += spend
            figures[1] += points


def _load_members_and_sales(
    conn: LoadConnection,
    tasks: list[tuple[str, _Plan, int, int]],
    members: int,
    sales: int,
    report: Progress,
) -> _Totals:
    """Load every chunk as it is made (in worker processes for 200,000 rows and more)."""
    totals = _Totals()
    done_sales = done_members = 0
    for result in _results(tasks, parallel=members + sales >= 200_000):
        if isinstance(result, _SalesChunk):
            insert_rows(conn, "sales", SALE_COLUMNS, result.sales)
            insert_rows(conn, "sale_lines", LINE_COLUMNS, result.lines)
            insert_rows(
                conn,
                "tenders",
                ("id", "sale_id", "method", "amount_fen", "received_fen", "change_fen"),
                result.tenders,
            )
            _flush_members(conn, [], result.entries, result.lots, result.moves)
            totals.add(result)
            done_sales += len(result.sales)
            report("sales", done_sales, sales)
        else:
            done_members += len(result[0])
            _flush_members(conn, *result)
            report("members", done_members, members)
    return totals


def _flush_members(
    conn: Any, member_rows: Rows, entry_rows: Rows, lot_rows: Rows, move_rows: Rows
) -> None:
    if member_rows:
        insert_rows(conn, "members", MEMBER_COLUMNS, member_rows)
    insert_rows(conn, "ledger_entries", ENTRY_COLUMNS, entry_rows)
    insert_rows(
        conn,
        "point_lots",
        ("id", "member_id", "points", "remaining", "earned_at", "expires_on"),
        lot_rows,
    )
    insert_rows(conn, "lot_moves", ("entry_id", "lot_id", "points"), move_rows)
    member_rows.clear()
    entry_rows.clear()
    lot_rows.clear()
    move_rows.clear()
