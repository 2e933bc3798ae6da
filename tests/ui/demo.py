"""A small, deterministic demo till for the UI tests and the screenshots.

Products go in through :func:`pos_app.services.till_session.upsert_products`, members
through :func:`pos_app.services.members.register`, users through
:func:`pos_app.services.till_session.ensure_demo_users`: the same code paths the till uses.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from pos_app.core.codes import luhn_digit
from pos_app.core.member_codes import DEMO_KEY_ID, DEMO_PRIVATE_KEY, sign_dynamic_code
from pos_app.core.quote import BasketLine
from pos_app.services import checkout, mall, members
from pos_app.services.context import TillContext, open_till
from pos_app.services.mall import MallItemInput
from pos_app.services.members import MemberSummary
from pos_app.services.till_session import (
    ProductInput,
    ensure_demo_users,
    new_client_id,
    upsert_products,
)
from pos_app.services.users import UserInfo
from pos_app.store import repo

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A Tuesday, not the member day (the 18th).
TEST_TIME = dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI)


def ean13(body: str) -> str:
    """``body`` (12 digits) with its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


WATER = ean13("690123400001")
OIL = ean13("690123400002")
MILK = ean13("690123400003")
TISSUE = ean13("690123400004")
BEER = ean13("690123400005")
RICE = ean13("690123400006")
GIFT = ean13("690123400007")

PRODUCTS = (
    ProductInput("W550", "农夫山泉 550ml", "drinks", 200, WATER, 180),
    ProductInput("OIL5L", "金龙鱼花生油 5L", "food", 8990, OIL, 8490),
    ProductInput("MILK24", "伊利纯牛奶 24盒", "drinks", 6590, MILK),
    ProductInput("TISSUE", "维达抽纸 3层 10包", "household", 2490, TISSUE),
    ProductInput("BEER500", "青岛啤酒 500ml", "drinks", 650, BEER),
    ProductInput("RICE10", "五常稻花香米 10kg", "food", 12900, RICE),
    ProductInput("GIFT100", "超市礼品卡 100元", "gift_card", 10000, GIFT),
)


def mall_items(now: dt.datetime) -> tuple[MallItemInput, ...]:
    """The demo mall: a coupon, goods at every level, a points + cash item, a lottery;
    HQ features the toothbrush first among the hot campaigns and puts the coupon and the
    toothbrush in the member-day zone."""
    return (
        MallItemInput(
            "CPN5",
            "5元无门槛券",
            100,
            level="low",
            category="coupon",
            keywords=("券", "代金券"),
            kind="coupon",
            coupon_amount_off_fen=500,
            per_member_limit=5,
            featured=(("member_day", 0),),
        ),
        MallItemInput("PARK", "免费停车券", 300, level="low", category="coupon", kind="coupon"),
        MallItemInput(
            "BAG",
            "精美帆布袋",
            800,
            stock=20,
            level="low",
            category="home",
            brand="积分生活",
            keywords=("袋", "环保"),
            per_member_limit=2,
        ),
        MallItemInput(
            "CUP",
            "品牌保温杯",
            3000,
            stock=8,
            category="home",
            brand="象印",
            keywords=("杯", "保温"),
            discount_percent=50,
            discount_from=now - dt.timedelta(days=1),
            discount_to=now + dt.timedelta(days=6),
        ),
        MallItemInput(
            "BRUSH",
            "电动牙刷",
            4500,
            cash_price_fen=2000,
            stock=12,
            category="care",
            brand="飞利浦",
            keywords=("牙刷",),
            featured=(("hot", 0), ("member_day", 1)),
        ),
        MallItemInput(
            "EAR",
            "蓝牙耳机",
            6000,
            stock=5,
            category="electronics",
            brand="华为",
            keywords=("耳机", "音乐"),
            is_new=True,
        ),
        MallItemInput(
            "FRYER", "空气炸锅", 12000, stock=3, category="home", brand="美的", min_tier="silver"
        ),
        MallItemInput(
            "ROBOT",
            "扫地机器人",
            50000,
            stock=2,
            level="top",
            category="electronics",
            brand="科沃斯",
            min_tier="gold",
        ),
        MallItemInput("DRAW", "幸运抽奖券", 200, level="low", category="lottery", kind="lottery"),
    )


ZHANG_PHONE = "13812341234"
LI_PHONE = "13912341234"  # same last 4 digits as Zhang
WANG_PHONE = "13700005678"


class Clock:
    """A settable, timezone-aware clock."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Demo:
    """The demo till and who is in it."""

    ctx: TillContext
    clock: Clock
    cashier: UserInfo
    manager: UserInfo
    zhang: MemberSummary
    li: MemberSummary
    wang: MemberSummary


def demo_code(member_no: int, at: dt.datetime, private: bytes = DEMO_PRIVATE_KEY) -> str:
    """A dynamic member code signed with the embedded demo key (as the demo HQ signs)."""
    return sign_dynamic_code(
        private, key_id=DEMO_KEY_ID, member_no=member_no, issued_at=at, nonce=os.urandom(8)
    )


def member_code_of(summary: MemberSummary) -> str:
    """The member card code (M + 10 digits + Luhn), as printed on the card."""
    body = f"{summary.member_no:010d}"
    return f"M{body}{luhn_digit(body)}"


def build_demo(
    path: Path,
    *,
    now: dt.datetime = TEST_TIME,
    history: bool = False,
    online: Callable[[], bool] = lambda: False,
) -> Demo:
    """Create the demo till at ``path``.

    Args:
        path: The SQLite file.
        now: The till's (fixed) clock.
        history: Give Zhang San a past sale, so he has points and a tier to show.
        online: Whether HQ is reachable.
    """
    clock = Clock(now)
    ctx = open_till(path, clock=clock, online=online)
    users = {u.role: u for u in ensure_demo_users(ctx)}
    upsert_products(ctx, PRODUCTS)
    mall.upsert_items(ctx, mall_items(now))
    with ctx.db.write() as session:  # a demo till (pos-app demo-data): the demo key
        repo.put_setting(session, "demo", "1")
    zhang = members.register(ctx, phone=ZHANG_PHONE, name="张三", birthday=dt.date(1990, 11, 20))
    li = members.register(ctx, phone=LI_PHONE, name="李四")
    wang = members.register(ctx, phone=WANG_PHONE, name="王五", referral_code=zhang.referral_code)
    if history:
        clock.now = now - dt.timedelta(days=40)
        lines = [BasketLine("RICE10", "五常稻花香米 10kg", "food", 3, 12900)]
        checkout.complete_sale(
            ctx,
            sale_id=new_client_id(),
            lines=lines,
            member_id=zhang.id,
            tenders=[checkout.TenderInput("cash", 38700, 40000)],
            cashier_id=users["cashier"].id,
        )
        clock.now = now
        zhang = members.summary(ctx, zhang.id)
    return Demo(ctx, clock, users["cashier"], users["manager"], zhang, li, wang)
