"""Sample receipts: the printer test page, the docs previews and the benchmarks.

The data is made up; the phone number only ever appears masked.
"""

from __future__ import annotations

import datetime as dt

from pos_app.devices.receipt import Language, MemberBlock, Receipt, ReceiptLine, Tender

SAMPLE_TIME = dt.datetime(2024, 5, 18, 14, 3, 22, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SAMPLE_MALL_URL = "https://mall.example.cn/m/7QK2M9XD?from=receipt"
SAMPLE_LINES: tuple[ReceiptLine, ...] = (
    ReceiptLine("农夫山泉 饮用天然水 550ml", 2, 200, 400),
    ReceiptLine("可口可乐 Coca-Cola 330ml", 3, 350, 1050),
    ReceiptLine("德芙 Dove 丝滑牛奶巧克力 252g 碗装 (会员价)", 1, 4990, 3990, 1000),
    ReceiptLine("USB-C cable 1m", 1, 2900, 2900),
    ReceiptLine("蓝月亮 深层洁净护理洗衣液 薰衣草香 3kg+1kg 超值装", 1, 5990, 5990),
)


def sample_member() -> MemberBlock:
    """A gold member who earned points on member day."""
    return MemberBlock(
        masked_phone="138****1234",
        tier_name="金卡",
        points_earned=384,
        balance_after=12650,
        earn_breakdown=("基础 128 + 金卡 ×2 +128 + 会员日 +128",),
        expiring_points=800,
        expiring_date=dt.date(2024, 6, 15),
        tier_progress="已是最高等级 金卡，享 2 倍积分",
        suggestions=(
            "可兑换 星巴克中杯券（1200 积分）",
            "再攒 350 积分即可兑换 蓝牙耳机",
        ),
        mall_url=SAMPLE_MALL_URL,
    )


def sample_receipt(
    *,
    member: bool = True,
    reprint: bool = False,
    refund: bool = False,
    language: Language = "zh_CN",
) -> Receipt:
    """A realistic receipt: mixed Chinese/ASCII names, a long name, a member block.

    Args:
        member: Include the member block (else a join prompt is printed).
        reprint: Mark as a reprint.
        refund: A refund of the first two lines instead of a sale.
        language: Label language.

    Returns:
        The receipt.
    """
    if refund:
        lines = SAMPLE_LINES[:2]
        subtotal = sum(line.amount_fen for line in lines)
        return Receipt(
            kind="refund",
            store_name="优选生活超市（人民广场店）",
            store_address="上海市黄浦区南京东路 100 号",
            till_id="T02",
            cashier_name="李娜",
            printed_at=SAMPLE_TIME + dt.timedelta(days=1),
            receipt_no="R0120240519-0007",
            lines=lines,
            subtotal_fen=subtotal,
            total_paid_fen=subtotal,
            tenders=(Tender("微信支付", subtotal),),
            member=MemberBlock(
                masked_phone="138****1234",
                tier_name="金卡",
                points_earned=28,
                balance_after=12622,
            )
            if member
            else None,
            refund_of="S0120240518-0042",
            reprint=reprint,
            footer="退款将原路退回，请注意查收",
            language=language,
        )
    subtotal = sum(line.amount_fen for line in SAMPLE_LINES)
    points_used, points_value = 1000, 1000
    coupon = 500
    total = subtotal - coupon - (points_value if member else 0)
    return Receipt(
        kind="sale",
        store_name="优选生活超市（人民广场店）",
        store_address="上海市黄浦区南京东路 100 号",
        till_id="T02",
        cashier_name="王小明",
        printed_at=SAMPLE_TIME,
        receipt_no="S0120240518-0042",
        lines=SAMPLE_LINES,
        subtotal_fen=subtotal,
        coupon_fen=coupon,
        points_used=points_used if member else 0,
        points_value_fen=points_value if member else 0,
        total_paid_fen=total,
        tenders=(Tender("微信支付", total - 10000), Tender("现金", 10000)),
        change_fen=0,
        member=sample_member() if member else None,
        reprint=reprint,
        join_prompt="" if member else "注册会员，本单可得 128 积分！",
        footer="谢谢惠顾，欢迎再次光临\n退换货请保留小票，7 日内凭票办理",
        language=language,
    )
