"""Receipts built from the stored sale: member block, reprints, refunds, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from pos_app.cli.main import main
from pos_app.core.quote import BasketLine
from pos_app.core.rules import load_rule_set
from pos_app.devices.escpos_render import PrinterProfile, render
from pos_app.devices.layout import iter_text, layout_receipt
from pos_app.devices.receipt import Receipt
from pos_app.services import members, refunds
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownSale
from pos_app.services.receipts import (
    ReceiptSettings,
    build_receipt,
    build_refund_receipt,
    find_receipt,
    receipt_settings,
    set_receipt_settings,
)
from pos_app.services.users import UserInfo
from pos_app.store.models import MallItemRow
from pos_app.store.types import new_id
from tests.devices.escpos_stream import parse
from tests.devices.fake_printer import FakePrinter
from tests.services.conftest import Clock, RefundBy
from tests.services.support import (
    BASKET,
    balance,
    give_points,
    item,
    scalar,
    sell,
)

FULL_PHONE = "13812341234"


def printed_text(receipt: Receipt, columns: int = 48) -> str:
    """The receipt's lines as laid out, with line wraps undone."""
    body = "\n".join(iter_text(layout_receipt(receipt, columns)))
    return re.sub(r"\s*\n\s*", "", body)


@pytest.fixture
def mall(ctx: TillContext) -> None:
    with ctx.db.write() as session:
        session.add_all(
            [
                MallItemRow(id="CUP", name="星巴克中杯券", points_price=200, level="low"),
                MallItemRow(id="BAG", name="环保购物袋", points_price=100, level="low"),
                MallItemRow(id="EAR", name="蓝牙耳机", points_price=900, level="middle"),
                MallItemRow(id="OUT", name="售罄的保温杯", points_price=50, stock=0),
                MallItemRow(id="VIP", name="金卡专享礼盒", points_price=100, min_tier="gold"),
            ]
        )


# --- tier prices -----------------------------------------------------------------------------


def test_a_tier_price_and_its_saving_print_under_the_line(
    ctx: TillContext, cashier: UserInfo, regular: str
) -> None:
    document = json.loads(ctx.rules.to_json())
    document["version"] = "tiers-1"
    document["perks"] = {"tier_price_percent": {"regular": 95}}
    ctx.install_rule_set(load_rule_set(document))
    tea = BasketLine("TEA", "龙井茶叶", "food", 2, 10_000, member_price_fen=9_000)
    sale = sell(ctx, cashier.id, regular, [tea, item(3_000, sku="CUP")])
    assert sale.total_fen == 2 * 8_550 + 3_000
    receipt = build_receipt(ctx, sale.receipt_no)
    first, second = receipt.lines
    assert (first.unit_price_fen, first.amount_fen) == (8_550, 17_100)
    assert (first.tier_saving_fen, first.price_name) == (2_900, "普通会员")
    assert second.tier_saving_fen == 0
    for columns in (32, 48):  # 58 mm and 80 mm paper
        assert re.search(r"普通会员价 已省\s+-29\.00", printed_text(receipt, columns))
    english = build_receipt(ctx, sale.receipt_no, language="en")
    assert re.search(r"普通会员 price saves\s+-29\.00", printed_text(english, 48))


# --- a member sale -----------------------------------------------------------------------------


def test_member_sale_receipt(
    ctx: TillContext, cashier: UserInfo, regular: str, mall: None, clock: Clock
) -> None:
    clock.set(2026, 11, 18, 15, 30)  # member day (the 18th): double points
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    receipt = build_receipt(ctx, sale.receipt_no)
    assert receipt == build_receipt(ctx, sale.sale_id)  # by id or by number
    assert receipt.kind == "sale"
    assert receipt.receipt_no == sale.receipt_no
    assert receipt.store_name == ctx.store_name
    assert receipt.cashier_name == "王收银"
    assert receipt.till_id == ctx.till_id
    assert receipt.printed_at == dt.datetime(2026, 11, 18, 15, 30, tzinfo=ctx.rules.zone)
    assert receipt.printed_at.utcoffset() == dt.timedelta(hours=8)
    assert [(line.name, line.quantity, line.amount_fen) for line in receipt.lines] == [
        ("龙井茶叶", 2, 10_000),
        ("白瓷杯", 1, 3_000),
    ]
    assert receipt.subtotal_fen == 13_000
    assert receipt.total_paid_fen == 13_000
    assert [(t.method, t.amount_fen) for t in receipt.tenders] == [("现金", 13_000)]
    assert not receipt.reprint
    assert receipt.join_prompt == ""
    member = receipt.member
    assert member is not None
    assert member.masked_phone == "138****1234"
    assert member.tier_name == "普通会员"
    assert member.points_earned == sale.points_earned == 260
    assert member.earn_breakdown == ("基础 130 + 会员日 +130",)
    assert member.balance_after == balance(ctx, regular) == 150 + 260
    assert member.tier_progress == "再消费 160 元 / 再得 690 积分升级银卡会员"
    # Redeemable first (the dearest), one slot kept for "within reach"; never sold out
    # or above the member's tier.
    assert member.suggestions == (
        "可兑换 星巴克中杯券（200积分）",
        "可兑换 环保购物袋（100积分）",
        "再攒 490 积分即可兑换 蓝牙耳机",
    )
    code = members.summary(ctx, regular).code
    assert member.mall_url == f"https://mall.example.cn/m/{code}"
    assert member.expiring_points == 0


def test_the_full_phone_number_never_reaches_paper(
    ctx: TillContext, cashier: UserInfo, regular: str, mall: None
) -> None:
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    receipt = build_receipt(ctx, sale.receipt_no)
    data = render(receipt, PrinterProfile(columns=32))
    assert FULL_PHONE.encode() not in data
    assert FULL_PHONE not in printed_text(receipt)
    assert "138****1234" in "\n".join(parse(data).text("gb18030"))


def test_bonuses_and_first_purchase_in_the_breakdown(
    ctx: TillContext, cashier: UserInfo, member: members.MemberSummary, clock: Clock
) -> None:
    clock.set(2027, 3, 10, 12, 0)  # birthday month (born 5 March): a birthday gift too
    sale = sell(ctx, cashier.id, member.id, [item(10_000)])
    block = build_receipt(ctx, sale.receipt_no).member
    assert block is not None
    assert sale.bonus_points == 200
    assert block.points_earned == sale.points_earned + 200
    (line,) = block.earn_breakdown
    assert line.startswith("基础 100 + ")
    assert "首单 +400" in line
    assert line.endswith(" + 生日礼 +200")


def test_plain_points_need_no_breakdown(ctx: TillContext, cashier: UserInfo, regular: str) -> None:
    sale = sell(ctx, cashier.id, regular, [item(5000)])
    block = build_receipt(ctx, sale.receipt_no).member
    assert block is not None
    assert (block.points_earned, block.earn_breakdown) == (50, ())


def test_points_paid_and_change(
    ctx: TillContext, cashier: UserInfo, manager: UserInfo, regular: str
) -> None:
    from pos_app.services import checkout

    give_points(ctx, manager.id, regular, 1000)
    lines = list(BASKET)
    q = checkout.quote(ctx, lines, member_id=regular, points_to_use=1000)
    sale = checkout.complete_sale(
        ctx,
        sale_id=new_id(),
        lines=lines,
        member_id=regular,
        tenders=[
            checkout.TenderInput("wechat", 2000),
            checkout.TenderInput("cash", q.cash_due_fen - 2000, received_fen=20_000),
        ],
        cashier_id=cashier.id,
        points_to_use=1000,
    )
    receipt = build_receipt(ctx, sale.receipt_no)
    assert (receipt.points_used, receipt.points_value_fen) == (1000, 1000)
    assert receipt.total_paid_fen == 12_000
    assert [(t.method, t.amount_fen) for t in receipt.tenders] == [
        ("微信支付", 2000),
        ("现金", 20_000),
    ]
    assert receipt.change_fen == 20_000 - 10_000
    assert receipt.member is not None
    assert receipt.member.balance_after == sale.balance_after


# --- figures as they stood right after the sale ------------------------------------------------


def test_a_reprint_shows_the_balance_right_after_that_sale(
    ctx: TillContext,
    cashier: UserInfo,
    manager: UserInfo,
    regular: str,
    clock: Clock,
    refund_by: RefundBy,
) -> None:
    first = sell(ctx, cashier.id, regular, list(BASKET))
    clock.advance(hours=1)
    second = sell(ctx, cashier.id, regular, [item(20_000)])
    clock.advance(hours=1)
    give_points(ctx, manager.id, regular, 500)
    view = refunds.find_sale(ctx, first.receipt_no)
    refund_by(first.receipt_no, {view.lines[0].id: 1}, reason="测试退货")
    assert balance(ctx, regular) != first.balance_after
    copy = build_receipt(ctx, first.receipt_no, reprint=True)
    assert copy.reprint
    assert copy.member is not None
    assert copy.member.balance_after == first.balance_after
    assert copy.member.tier_name == "普通会员"
    assert "** 重印 **" in printed_text(copy)
    later = build_receipt(ctx, second.receipt_no, reprint=True).member
    assert later is not None
    assert later.balance_after == second.balance_after
    # The second sale took the member past 300 yuan: silver at once, and said so.
    assert second.tier_after == "silver"
    assert later.tier_name == "银卡会员"
    assert later.tier_progress.endswith("升级金卡会员")
    # Unchanged apart from the mark: a reprint is a copy.
    original = build_receipt(ctx, first.receipt_no)
    assert original.member == copy.member
    assert original.lines == copy.lines


def test_points_expiring_soon(
    ctx: TillContext, cashier: UserInfo, regular: str, clock: Clock
) -> None:
    # Everything so far (registration 100 + first purchase 50) was earned on
    # 2026-11-17 and lasts 24 months, to 2028-11-17.
    clock.set(2028, 11, 1, 9, 0)
    sale = sell(ctx, cashier.id, regular, [item(3000)])
    block = build_receipt(ctx, sale.receipt_no).member
    assert block is not None
    assert (block.expiring_points, block.expiring_date) == (150, dt.date(2028, 11, 17))
    assert "150 积分将于 2028-11-17 到期" in printed_text(build_receipt(ctx, sale.receipt_no))
    clock.set(2028, 10, 1, 9, 0)  # a month earlier: not yet within the 30 days
    earlier = sell(ctx, cashier.id, regular, [item(3000)])
    block = build_receipt(ctx, earlier.receipt_no).member
    assert block is not None
    assert block.expiring_points == 0


# --- no member, refunds, languages, settings ------------------------------------------------


def test_no_member_sale_has_a_join_prompt(ctx: TillContext, cashier: UserInfo) -> None:
    lines = [*BASKET, item(5000, sku="GIFT", category="gift_card")]
    sale = sell(ctx, cashier.id, None, lines)
    receipt = build_receipt(ctx, sale.receipt_no)
    assert receipt.member is None
    # Gift cards earn nothing, so only the 130 yuan of the basket count.
    assert receipt.join_prompt == "注册会员，本单可得 130 积分！\n现在注册即送 100 积分"
    assert "注册会员，本单可得 130 积分！" in printed_text(receipt)
    english = build_receipt(ctx, sale.receipt_no, language="en")
    assert english.join_prompt.startswith("Join as a member: this order would earn 130 pts!")
    assert english.footer == "Thank you for shopping with us"


def test_refund_receipt(
    ctx: TillContext, cashier: UserInfo, manager: UserInfo, regular: str, refund_by: RefundBy
) -> None:
    give_points(ctx, manager.id, regular, 1000)
    sale = sell(ctx, cashier.id, regular, list(BASKET), points=1000)
    view = refunds.find_sale(ctx, sale.receipt_no)
    tea = next(line for line in view.lines if line.sku == "TEA")
    result = refund_by(sale.receipt_no, {tea.id: 2}, reason="不新鲜")
    receipt = build_receipt(ctx, result.refund_no)
    assert receipt == build_refund_receipt(ctx, result.refund_no)
    assert receipt.kind == "refund"
    assert receipt.receipt_no == result.refund_no
    assert receipt.refund_of == sale.receipt_no
    (line,) = receipt.lines
    assert (line.name, line.quantity) == ("龙井茶叶", 2)
    q = result.quote
    assert receipt.points_used == q.points_restored > 0
    assert receipt.subtotal_fen - receipt.points_value_fen == q.gross_cash_fen
    assert receipt.total_paid_fen == q.cash_refund_fen
    assert [(t.method, t.amount_fen) for t in receipt.tenders] == [("现金", q.cash_refund_fen)]
    member = receipt.member
    assert member is not None
    assert member.points_earned == q.points_reversed
    assert member.balance_after == result.balance_after == balance(ctx, regular)
    assert member.earn_breakdown == (f"退回抵扣积分 +{q.points_restored}",)
    text = printed_text(receipt)
    assert "退货小票" in text
    assert f"原单号：{sale.receipt_no}" in text
    assert f"本单扣回 {q.points_reversed} 积分" in text
    assert "退款将原路退回" in text
    assert find_receipt(ctx, result.refund_no).kind == "refund"


def test_unknown_receipts(ctx: TillContext) -> None:
    with pytest.raises(UnknownSale):
        build_receipt(ctx, "R0010126111709999")
    with pytest.raises(UnknownSale):
        build_refund_receipt(ctx, "R0010126111709999")
    with pytest.raises(UnknownSale):
        find_receipt(ctx, "nothing")


def test_english_receipt(ctx: TillContext, cashier: UserInfo, regular: str) -> None:
    sale = sell(ctx, cashier.id, regular, list(BASKET), method="alipay")
    receipt = build_receipt(ctx, sale.receipt_no, language="en")
    assert receipt.language == "en"
    assert [t.method for t in receipt.tenders] == ["Alipay"]
    assert receipt.member is not None
    assert receipt.member.tier_progress == "Spend 160 yuan or earn 820 pts more for 银卡会员"
    assert "SALES RECEIPT" in printed_text(receipt)


def test_receipt_settings(ctx: TillContext, cashier: UserInfo, regular: str) -> None:
    assert receipt_settings(ctx) == ReceiptSettings()
    set_receipt_settings(
        ctx,
        ReceiptSettings(
            mall_base_url="https://m.shop.example.com/vip/",
            store_address="上海市黄浦区南京东路 100 号",
            footer="七日无理由退换",
        ),
    )
    sale = sell(ctx, cashier.id, regular, [item(1000)])
    receipt = build_receipt(ctx, sale.receipt_no)
    assert receipt.store_address == "上海市黄浦区南京东路 100 号"
    assert receipt.footer == "七日无理由退换"
    assert receipt.member is not None
    code = members.summary(ctx, regular).code
    assert receipt.member.mall_url == f"https://m.shop.example.com/vip/m/{code}"
    with pytest.raises(ValueError, match="http"):
        set_receipt_settings(ctx, ReceiptSettings(mall_base_url="mall.example.cn"))


# --- pos-app receipt ---------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "pixels"), [(58, 384), (80, 576)])
def test_cli_preview_writes_a_png(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    width: int,
    pixels: int,
) -> None:
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    out = tmp_path / "out" / "receipt.png"
    args = ["--db", str(ctx.db.path), "receipt", "preview", sale.receipt_no.lower()]
    assert main([*args, "--png", str(out), "--width", str(width)]) == 0
    with Image.open(out) as image:
        assert image.width == pixels
        assert image.height > 1000
    assert sale.receipt_no in capsys.readouterr().out


def test_cli_print_sends_to_a_printer(
    ctx: TillContext, cashier: UserInfo, regular: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    db = ["--db", str(ctx.db.path)]
    with FakePrinter() as printer:
        code = main([*db, "receipt", "print", sale.receipt_no, "--printer", printer.uri,
                     "--encoding", "gbk", "--width", "58"])  # fmt: skip
        assert code == 0
        (received,) = printer.wait_for_jobs(1)
    stream = parse(received)
    text = "\n".join(stream.text("gbk"))
    assert f"单号：{sale.receipt_no}" in text
    assert "重印" not in text  # the queue has not printed it yet
    assert all(len(line.raw) <= 32 for line in stream.lines)
    assert stream.cuts == [1]
    assert "printed" in capsys.readouterr().out
    # The till's queue has not been touched.
    assert scalar(ctx, "SELECT status FROM print_jobs WHERE ref_id = :s", s=sale.sale_id) == (
        "pending"
    )


def test_cli_errors(
    ctx: TillContext, cashier: UserInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sale = sell(ctx, cashier.id, None, [item(1000)])
    db = ["--db", str(ctx.db.path)]
    png = str(tmp_path / "x.png")
    assert main([*db, "receipt", "preview", "R000", "--png", png]) == 2
    assert "No sale has receipt number R000" in capsys.readouterr().err
    missing = ["--db", str(tmp_path / "none.sqlite")]
    assert main([*missing, "receipt", "preview", sale.receipt_no, "--png", png]) == 2
    assert not (tmp_path / "none.sqlite").exists()
    closed = "tcp://127.0.0.1:1"
    assert main([*db, "receipt", "print", sale.receipt_no, "--printer", closed]) == 1
    assert "offline" in capsys.readouterr().err


def test_cli_setup_and_status(ctx: TillContext, capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--db", str(ctx.db.path)]
    args = ["receipt", "setup", "--printer", "tcp://10.0.0.9:9100", "--width", "58"]
    assert main([*db, *args, "--encoding", "gbk", "--qr", "image", "--drawer-kick", "on"]) == 0
    assert "tcp://10.0.0.9:9100, 58 mm, gbk" in capsys.readouterr().out
    assert main([*db, "receipt", "status"]) == 0
    out = capsys.readouterr().out
    assert "printer: tcp://10.0.0.9:9100 (58 mm, gbk, QR image)" in out
    assert "state: ok" in out
