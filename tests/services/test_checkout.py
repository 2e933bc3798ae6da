"""Checkout against a real till database file, with the numbers worked by hand.

Default rules (pos_app/core/default_rules.json): earn 1 point per yuan of cash, tier
multipliers regular 1 / silver 1.5 / gold 2, promotions combined by "max" (member day
on the 18th x2, first purchase x5), caps 20 000 per order and 50 000 per member per day;
spend 100 points = 1 yuan, orders of 50 yuan or more, at most 20 %, multiples of 100,
no points with a coupon, 2 000 points offline. The clock starts on Tuesday 2026-11-17.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.exc import IntegrityError

from pos_app.core.errors import InvalidInput, SpendNotAllowed
from pos_app.core.quote import BasketLine
from pos_app.services import checkout, members, refunds
from pos_app.services.checkout import TenderInput
from pos_app.services.errors import ConflictError, PaymentError, UnknownMember
from pos_app.store.encryption import driver
from pos_app.store.models import Coupon
from pos_app.store.types import new_id
from tests.services.support import (
    BASKET,
    CUP,
    TEA,
    add_coupon,
    assert_ledger_consistent,
    balance,
    give_points,
    item,
    ledger,
    lots,
    nothing_written,
    rows,
    scalar,
    sell,
)

EXPIRY = dt.date(2028, 11, 17)  # 24 months after 2026-11-17


def complete(ctx, cashier, member_id, lines, tenders, *, points=0, sale_id=None, coupons=()):
    return checkout.complete_sale(
        ctx,
        sale_id=new_id() if sale_id is None else sale_id,
        lines=lines,
        member_id=member_id,
        tenders=tenders,
        cashier_id=cashier.id,
        coupon_codes=coupons,
        points_to_use=points,
    )


# -- the basic sale --------------------------------------------------------------------


def test_points_and_cash_first_purchase(ctx, cashier, member):
    # Basket 2 x 50.00 + 1 x 30.00 = 130.00. Balance 100 (registration bonus).
    # Usable: min(20 % of 130.00 = 26.00 -> 2 600 points, balance 100) = 100.
    q = checkout.quote(ctx, BASKET, member_id=member.id)
    assert q.max_usable_points == 100
    assert q.binding_limit is not None
    assert q.binding_limit.code == "balance"

    res = complete(
        ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_900, 13_000)], points=100
    )

    # 100 points pay 1.00; cash due 129.00, paid with 130.00 -> change 1.00.
    assert (res.total_fen, res.points_used, res.points_value_fen) == (13_000, 100, 100)
    assert (res.cash_due_fen, res.change_fen) == (12_900, 100)
    # Earned: 129 yuan of cash -> 129 points, x5 first purchase = 645.
    assert res.points_earned == 645
    assert res.bonus_points == 0
    # Balance: 100 - 100 + 645 = 645.
    assert res.balance_after == 645
    assert res.receipt_no == "R0010126111700001"  # R + store 001 + till 01 + 261117 + 0 + 0001
    assert not res.replayed

    assert ledger(ctx, member.id) == [("bonus", 100), ("spend", -100), ("earn", 645)]
    # The spend emptied the registration lot; the earn opened a lot of 645.
    assert lots(ctx, member.id) == [(100, 0, EXPIRY), (645, 645, EXPIRY)]
    assert rows(
        ctx,
        "SELECT e.kind, m.points FROM lot_moves m JOIN ledger_entries e ON e.id = m.entry_id "
        "ORDER BY m.id",
    ) == [("bonus", 100), ("spend", -100), ("earn", 645)]
    # Per line: 100 points split 10 000 : 3 000 -> 76.9 / 23.1 -> 77 / 23 (largest remainder);
    # cash 10 000 - 77 = 9 923 and 3 000 - 23 = 2 977; earn 645 split 9 923 : 2 977
    # -> 496.2 / 148.8 -> 496 / 149.
    assert rows(
        ctx,
        "SELECT sku, quantity, net_fen, points_used, points_value_fen, cash_fen, earn_points "
        "FROM sale_lines ORDER BY line_no",
    ) == [("TEA", 2, 10_000, 77, 77, 9_923, 496), ("CUP", 1, 3_000, 23, 23, 2_977, 149)]
    assert rows(ctx, "SELECT method, amount_fen, received_fen, change_fen FROM tenders") == [
        ("cash", 12_900, 13_000, 100)
    ]
    assert scalar(ctx, "SELECT first_purchase_at IS NOT NULL FROM members") == 1
    assert_ledger_consistent(ctx)


def test_points_and_cash_later_purchase(ctx, cashier, regular):
    # Balance 150 (100 registration + 50 first purchase). Same 130.00 basket, 100 points:
    # cash 129.00 -> 129 points x1 (regular, no promotion). 150 - 100 + 129 = 179.
    res = sell(ctx, cashier.id, regular, BASKET, points=100)
    assert (res.cash_due_fen, res.points_earned, res.balance_after) == (12_900, 129, 179)
    assert ledger(ctx, regular)[-2:] == [("spend", -100), ("earn", 129)]
    # The registration lot (opened first, same expiry) pays first.
    assert lots(ctx, regular) == [(100, 0, EXPIRY), (50, 50, EXPIRY), (129, 129, EXPIRY)]
    assert_ledger_consistent(ctx)


def test_spending_takes_the_soonest_expiring_lot(ctx, cashier, manager, regular, clock):
    clock.set(2026, 12, 1, 10, 0)
    give_points(ctx, manager.id, regular, 1_000)  # expires 2028-12-01
    clock.set(2026, 12, 2, 10, 0)
    # 1 x 100.00, 200 points: the two 2028-11-17 lots (100 + 50) go first, then 50 from
    # the 2028-12-01 lot. Earn: 98 points.
    sell(ctx, cashier.id, regular, [item(10_000)], points=200)
    assert lots(ctx, regular) == [
        (100, 0, EXPIRY),
        (50, 0, EXPIRY),
        (1_000, 950, dt.date(2028, 12, 1)),
        (98, 98, dt.date(2028, 12, 2)),
    ]
    assert_ledger_consistent(ctx)


def test_sale_without_member(ctx, cashier):
    res = complete(ctx, cashier, None, BASKET, [TenderInput("card", 13_000)])
    assert (res.points_earned, res.balance_after, res.member_id) == (0, None, None)
    assert scalar(ctx, "SELECT COUNT(*) FROM ledger_entries") == 0
    with nothing_written(ctx), pytest.raises(SpendNotAllowed, match="identified member"):
        complete(ctx, cashier, None, BASKET, [TenderInput("card", 12_900)], points=100)


def test_excluded_category_earns_nothing(ctx, cashier, regular):
    # A 100.00 gift card earns nothing and cannot be paid with points; 30.00 of cups earn 30.
    gift = BasketLine("GC100", "礼品卡", "gift_card", 1, 10_000)
    q = checkout.quote(ctx, [gift, CUP], member_id=regular)
    # 20 % of 130.00 = 26.00, but only the 30.00 of cups may be paid with points: 2 600
    # -> round to the balance 150 -> 100.
    assert q.max_usable_points == 100
    res = sell(ctx, cashier.id, regular, [gift, CUP])
    assert res.points_earned == 30


# -- idempotency --------------------------------------------------------------------------


def test_retry_with_same_id_returns_first_result(ctx, cashier, member):
    sale_id = new_id()
    tenders = [TenderInput("cash", 12_900, 13_000)]
    first = complete(ctx, cashier, member.id, BASKET, tenders, points=100, sale_id=sale_id)
    with nothing_written(ctx):
        again = complete(ctx, cashier, member.id, BASKET, tenders, points=100, sale_id=sale_id)
        # Even with other tenders (the till crashed before printing; the cashier re-keys).
        third = complete(
            ctx,
            cashier,
            member.id,
            BASKET,
            [TenderInput("card", 12_900)],
            points=100,
            sale_id=sale_id,
        )
    assert again.replayed
    assert third.replayed
    for replay in (again, third):
        assert replay.receipt_no == first.receipt_no
        assert replay.points_earned == first.points_earned == 645
        assert replay.balance_after == first.balance_after == 645
        assert replay.change_fen == first.change_fen == 100
        assert replay.quote == first.quote
    assert balance(ctx, member.id) == 645
    assert scalar(ctx, "SELECT COUNT(*) FROM outbox WHERE kind = 'sale'") == 1


@pytest.mark.parametrize(
    ("lines", "points"),
    [
        ((TEA,), 100),  # a line missing
        ((TEA, CUP), 0),  # other points
        ((BasketLine("TEA", "龙井茶叶", "food", 3, 5000), CUP), 100),  # another quantity
    ],
)
def test_same_id_with_another_basket_refused(ctx, cashier, member, lines, points):
    sale_id = new_id()
    complete(
        ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_900)], points=100, sale_id=sale_id
    )
    q = checkout.quote(ctx, lines, member_id=member.id)
    with nothing_written(ctx), pytest.raises(ConflictError, match="already used for another"):
        complete(
            ctx,
            cashier,
            member.id,
            lines,
            [TenderInput("cash", q.cash_due_fen - points)],
            points=points,
            sale_id=sale_id,
        )


def test_sale_id_is_required(ctx, cashier, member):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="client-generated id"):
        complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 13_000)], sale_id="")


# -- tenders ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenders", "message"),
    [
        ([TenderInput("cash", 12_800)], "add up to 128.00 but 129.00 is due"),
        ([TenderInput("cash", 13_000)], "add up to 130.00 but 129.00 is due"),
        ([], "add up to 0.00 but 129.00 is due"),
        ([TenderInput("cash", 13_900), TenderInput("card", -1_000)], "above zero"),
        ([TenderInput("cash", 0), TenderInput("card", 12_900)], "above zero"),
        ([TenderInput("card", 12_900, 13_000)], "Only cash gives change"),
        ([TenderInput("cash", 12_900, 12_000)], "less than the amount"),
        ([TenderInput("bitcoin", 12_900)], "Unknown payment method"),
    ],
)
def test_tenders_must_pay_exactly(ctx, cashier, member, tenders, message):
    with nothing_written(ctx), pytest.raises(PaymentError, match=message):
        complete(ctx, cashier, member.id, BASKET, tenders, points=100)


def test_split_tenders(ctx, cashier, member):
    res = complete(
        ctx,
        cashier,
        member.id,
        BASKET,
        [TenderInput("cash", 5_000, 10_000), TenderInput("wechat", 7_900)],
        points=100,
    )
    assert res.change_fen == 5_000
    assert rows(ctx, "SELECT method, amount_fen, change_fen FROM tenders ORDER BY amount_fen") == [
        ("cash", 5_000, 5_000),
        ("wechat", 7_900, 0),
    ]


# -- refused baskets and spends -------------------------------------------------------------


@pytest.mark.parametrize("qty", [0, -1, -5])
def test_non_positive_quantity_refused(ctx, cashier, member, qty):
    lines = [BasketLine("TEA", "龙井茶叶", "food", qty, 5000), CUP]
    with nothing_written(ctx), pytest.raises(InvalidInput, match="quantity must be a whole number"):
        complete(ctx, cashier, member.id, lines, [TenderInput("cash", 3_000)])


def test_empty_basket_and_negative_price_refused(ctx, cashier, member):
    with nothing_written(ctx):
        with pytest.raises(InvalidInput, match="basket is empty"):
            complete(ctx, cashier, member.id, [], [])
        with pytest.raises(InvalidInput, match="price must not be negative"):
            complete(ctx, cashier, member.id, [item(-100)], [])


def test_unknown_member_refused(ctx, cashier, member):
    with nothing_written(ctx), pytest.raises(UnknownMember):
        complete(ctx, cashier, "f" * 32, BASKET, [TenderInput("cash", 13_000)])
    with pytest.raises(UnknownMember):
        checkout.quote(ctx, BASKET, member_id="f" * 32)


@pytest.mark.parametrize(
    ("lines", "points", "message"),
    [
        # 20 % of 130.00 = 26.00 = 2 600 points at most.
        (BASKET, 2_700, "At most 2600 points .*at most 20% of the order"),
        # 49.00 is under the 50.00 minimum: no points at all.
        ([item(4_900)], 100, "At most 0 points .*orders of ¥50.00 or more"),
        # 50.00 less a 1.00 line discount is 49.00: the minimum counts after discounts.
        ([BasketLine("TEA", "龙井茶叶", "food", 1, 5_000, 100)], 100, "At most 0 points"),
        # Whole units of 100 points only.
        (BASKET, 150, "multiples of 100; 150 is not one"),
        (BASKET, 50, "multiples of 100; 50 is not one"),
    ],
)
def test_spending_beyond_the_rules_refused(ctx, cashier, manager, member, lines, points, message):
    give_points(ctx, manager.id, member.id, 10_000)  # plenty: only the rule limits bind
    q = checkout.quote(ctx, lines, member_id=member.id)
    with nothing_written(ctx), pytest.raises(SpendNotAllowed, match=message):
        complete(
            ctx,
            cashier,
            member.id,
            lines,
            [TenderInput("cash", q.total_fen - points)],
            points=points,
        )


def test_spending_more_than_the_balance_refused(ctx, cashier, member):
    # Balance 100; the order would allow 2 600.
    with nothing_written(ctx), pytest.raises(SpendNotAllowed, match="The member has 100 points"):
        complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_800)], points=200)


def test_negative_points_refused(ctx, cashier, member):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="points to use"):
        complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 13_100)], points=-100)


def test_exactly_the_limits_allowed(ctx, cashier, manager, member):
    give_points(ctx, manager.id, member.id, 10_000)
    # 50.00 is the minimum; 20 % = 10.00 = 1 000 points.
    res = sell(ctx, cashier.id, member.id, [item(5_000)], points=1_000)
    assert (res.cash_due_fen, res.points_used) == (4_000, 1_000)


# -- coupons ------------------------------------------------------------------------------


def test_coupon_blocks_points(ctx, cashier, manager, regular, clock):
    give_points(ctx, manager.id, regular, 5_000)
    add_coupon(ctx, clock)
    q = checkout.quote(ctx, BASKET, member_id=regular, coupon_codes=["save10"])
    assert q.coupon_fen == 1_000
    assert q.total_fen == 12_000
    assert q.max_usable_points == 0
    assert q.binding_limit is not None
    assert q.binding_limit.code == "coupon"
    with nothing_written(ctx), pytest.raises(SpendNotAllowed, match="together with a coupon"):
        complete(
            ctx,
            cashier,
            regular,
            BASKET,
            [TenderInput("cash", 11_900)],
            points=100,
            coupons=["SAVE10"],
        )
    # Without points the coupon is taken: 130.00 - 10.00 = 120.00 -> 120 points.
    res = sell(ctx, cashier.id, regular, BASKET, coupons=["SAVE10"])
    assert (res.total_fen, res.cash_due_fen, res.points_earned) == (12_000, 12_000, 120)
    assert scalar(ctx, "SELECT sale_id FROM coupon_uses") == res.sale_id


def test_coupon_used_twice_refused(ctx, cashier, regular, member, clock):
    add_coupon(ctx, clock)
    sell(ctx, cashier.id, regular, BASKET, coupons=["SAVE10"])
    with nothing_written(ctx), pytest.raises(InvalidInput, match="already been used"):
        complete(ctx, cashier, regular, BASKET, [TenderInput("cash", 12_000)], coupons=["SAVE10"])
    add_coupon(ctx, clock, code="TWICE")
    with nothing_written(ctx), pytest.raises(InvalidInput, match="given twice"):
        complete(
            ctx, cashier, regular, BASKET, [TenderInput("cash", 11_000)], coupons=["TWICE", "twice"]
        )


def test_coupon_of_another_member_refused(ctx, cashier, member, friend, clock):
    add_coupon(ctx, clock, code="MINE", member_id=friend.id)
    with nothing_written(ctx), pytest.raises(InvalidInput, match="belongs to another member"):
        complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_000)], coupons=["MINE"])
    with nothing_written(ctx), pytest.raises(InvalidInput, match="Unknown coupon"):
        complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_000)], coupons=["NOPE"])


def test_coupon_use_is_unique_in_the_database(ctx, cashier, regular, clock):
    add_coupon(ctx, clock)
    first = sell(ctx, cashier.id, regular, BASKET, coupons=["SAVE10"])
    coupon_id = scalar(ctx, "SELECT id FROM coupons")
    with pytest.raises(IntegrityError) as info, ctx.db.write() as session:
        session.execute(
            Coupon.metadata.tables["coupon_uses"]
            .insert()
            .values(coupon_id=coupon_id, sale_id=first.sale_id, used_at=clock())
        )
    assert isinstance(info.value.orig, driver.IntegrityError)


# -- tiers, caps, promotions ------------------------------------------------------------------


def test_tier_upgrade_at_once(ctx, cashier, member):
    # Silver at 300.00 of spend in 12 months (or 1 000 points), gold at 1 000.00 (or 5 000).
    # 20.00 first purchase: 20 x5 = 100 points; spend 20.00, points 100 -> regular.
    a = sell(ctx, cashier.id, member.id, [item(2_000)])
    assert (a.points_earned, a.tier_after) == (100, "regular")
    # 270.00: 270 points; spend 290.00, points 370 -> still regular.
    b = sell(ctx, cashier.id, member.id, [item(27_000)])
    assert (b.points_earned, b.tier_after) == (270, "regular")
    # 10.00: earns at the old multiplier (10 points) and crosses 300.00 -> silver now.
    c = sell(ctx, cashier.id, member.id, [item(1_000)])
    assert (c.points_earned, c.tier_after) == (10, "silver")
    # The next sale earns at silver x1.5: 100.00 -> 150 points; spend 400.00.
    d = sell(ctx, cashier.id, member.id, [item(10_000)])
    assert (d.points_earned, d.tier_after) == (150, "silver")
    # 600.00 at x1.5 = 900 points; spend 1 000.00 -> gold (points 1 430 < 5 000).
    e = sell(ctx, cashier.id, member.id, [item(60_000)])
    assert (e.points_earned, e.tier_after) == (900, "gold")
    f = sell(ctx, cashier.id, member.id, [item(10_000)])
    assert f.points_earned == 200  # gold x2
    summary = members.summary(ctx, member.id)
    assert (summary.tier, summary.spend_12m_fen, summary.points_12m) == ("gold", 110_000, 1_630)
    assert summary.progress.next_tier is None


def test_tier_upgrade_by_points(ctx, cashier, member):
    # 200.00 first purchase x5 = 1 000 points -> silver, although spend is only 200.00.
    res = sell(ctx, cashier.id, member.id, [item(20_000)])
    assert (res.points_earned, res.tier_after) == (1_000, "silver")


def test_tier_not_upgraded_by_points_paid_then_refunded(ctx, cashier, manager, regular):
    # Buying with points and refunding must not leave spend behind: 10 rounds of a
    # 250.00 basket paid 50.00 with points and refunded in full would otherwise count
    # 10 x 50.00 = 500.00 of "spend" -> silver with nothing bought.
    give_points(ctx, manager.id, regular, 50_000)
    for _ in range(10):
        sale = sell(ctx, cashier.id, regular, [item(25_000)], points=5_000)
        view = refunds.find_sale(ctx, sale.receipt_no)
        refunds.refund(
            ctx,
            refund_id=new_id(),
            receipt_no=sale.receipt_no,
            request={ln.id: ln.quantity for ln in view.lines},
            cashier_id=cashier.id,
            manager_id=manager.id,
            manager_pin="9999",
            reason="测试退货",
        )
    summary = members.summary(ctx, regular)
    # Only the 10.00 first purchase is left; 10 + 0 points earned net.
    assert summary.spend_12m_fen == 1_000
    assert summary.points_12m == 50
    assert summary.tier == "regular"
    # A 250.00 purchase now: spend 260.00 -> still regular (it would be silver at 760.00).
    assert sell(ctx, cashier.id, regular, [item(25_000)]).tier_after == "regular"


def test_daily_cap(ctx, cashier, member, clock):
    # 5 000.00 first purchase: 5 000 x5 = 25 000 -> per-order cap 20 000. Spend -> gold.
    a = sell(ctx, cashier.id, member.id, [item(500_000)])
    assert (a.points_earned, a.tier_after) == (20_000, "gold")
    # 15 000.00 at gold x2 = 30 000 -> 20 000 (order cap); today 40 000.
    b = sell(ctx, cashier.id, member.id, [item(1_500_000)])
    assert b.points_earned == 20_000
    # 10 000.00 x2 = 20 000, but only 50 000 - 40 000 = 10 000 are left today.
    c = sell(ctx, cashier.id, member.id, [item(1_000_000)])
    assert c.points_earned == 10_000
    assert any("Daily cap" in note["text"] for note in c.quote["earn_breakdown"])
    # The cap is reached: 100.00 earns nothing and no zero-point entry is written.
    d = sell(ctx, cashier.id, member.id, [item(10_000)])
    assert d.points_earned == 0
    assert scalar(ctx, "SELECT COUNT(*) FROM ledger_entries WHERE sale_id = :s", s=d.sale_id) == 0
    # Next day (store time): earning again, 100.00 x2 = 200.
    clock.set(2026, 11, 19, 0, 0, 1)  # (the 18th would be the member day)
    assert sell(ctx, cashier.id, member.id, [item(10_000)]).points_earned == 200
    assert balance(ctx, member.id) == 100 + 20_000 + 20_000 + 10_000 + 200
    assert_ledger_consistent(ctx)


def test_daily_cap_not_reopened_by_refunding_an_older_sale(ctx, cashier, manager, member, clock):
    # Day 1: 5 000.00 first purchase -> 20 000 (order cap); tier gold.
    old = sell(ctx, cashier.id, member.id, [item(500_000)])
    assert old.points_earned == 20_000
    # Day 2 (not the member day): reach the daily cap of 50 000.
    clock.set(2026, 11, 19, 10, 0)
    earned = [
        sell(ctx, cashier.id, member.id, [item(p)]).points_earned
        for p in (1_000_000, 1_000_000, 500_000)
    ]
    assert earned == [20_000, 20_000, 10_000]
    # Refunding the day-1 sale takes its 20 000 back; it does not give today's purchases
    # 20 000 points of room again.
    view = refunds.find_sale(ctx, old.receipt_no)
    refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=old.receipt_no,
        request={view.lines[0].id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin="9999",
        reason="测试退货",
    )
    assert sell(ctx, cashier.id, member.id, [item(10_000)]).points_earned == 0
    # Refunding one of today's sales does free its room.
    today = refunds.find_sale(
        ctx,
        rows(
            ctx, "SELECT receipt_no FROM sales WHERE total_fen = 500000 ORDER BY rowid DESC LIMIT 1"
        )[0][0],
    )
    refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=today.receipt_no,
        request={today.lines[0].id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin="9999",
        reason="测试退货",
    )
    assert sell(ctx, cashier.id, member.id, [item(10_000)]).points_earned == 200
    assert_ledger_consistent(ctx)


def test_member_day_doubles(ctx, cashier, regular, clock):
    # (Spend stays under 300.00, so the member stays regular x1 throughout.)
    # On the 17th: 50.00 -> 50 points.
    assert sell(ctx, cashier.id, regular, [item(5_000)]).points_earned == 50
    # The 18th is the member day: x2 -> 100.
    clock.set(2026, 11, 18, 9, 0)
    res = sell(ctx, cashier.id, regular, [item(5_000)])
    assert res.points_earned == 100
    assert res.quote["member_day"] is True
    # Member day starts at midnight in Shanghai, not UTC: 2026-12-17 23:30 in Shanghai is
    # still the 17th; 2026-12-18 00:30 in Shanghai is the 18th (16:30 UTC on the 17th).
    clock.set(2026, 12, 17, 23, 30)
    assert sell(ctx, cashier.id, regular, [item(5_000)]).points_earned == 50
    clock.set(2026, 12, 18, 0, 30)
    assert sell(ctx, cashier.id, regular, [item(5_000)]).points_earned == 100
    assert members.summary(ctx, regular).tier == "regular"


def test_member_day_does_not_stack_with_first_purchase(ctx, cashier, member, clock):
    # Combine "max": first purchase x5 beats member day x2 -> 100.00 earns 500, not 1 000.
    clock.set(2026, 11, 18, 9, 0)
    assert sell(ctx, cashier.id, member.id, [item(10_000)]).points_earned == 500


def test_offline_allowance_across_unsynced_sales(
    ctx, cashier, manager, regular, online_flag, clock
):
    give_points(ctx, manager.id, regular, 10_000)
    online_flag["online"] = False
    # 100.00 orders allow 2 000 points by the 20 % rule; offline the allowance is 2 000 in all.
    q = checkout.quote(ctx, [item(10_000)], member_id=regular)
    assert q.max_usable_points == 2_000
    sell(ctx, cashier.id, regular, [item(10_000)], points=1_000)
    q = checkout.quote(ctx, [item(10_000)], member_id=regular)
    assert q.max_usable_points == 1_000
    assert q.binding_limit is not None
    assert q.binding_limit.code == "offline"
    sell(ctx, cashier.id, regular, [item(10_000)], points=1_000)
    assert checkout.quote(ctx, [item(10_000)], member_id=regular).max_usable_points == 0
    with nothing_written(ctx), pytest.raises(SpendNotAllowed, match="HQ cannot be reached"):
        complete(ctx, cashier, regular, [item(10_000)], [TenderInput("cash", 9_900)], points=100)
    # A sale without points still goes through offline.
    sell(ctx, cashier.id, regular, [item(10_000)])
    # Back online, the balance and the 20 % rule are the only limits.
    online_flag["online"] = True
    assert checkout.quote(ctx, [item(10_000)], member_id=regular).max_usable_points == 2_000
    # Offline again: the allowance counts sales HQ has not acknowledged yet...
    online_flag["online"] = False
    assert checkout.quote(ctx, [item(10_000)], member_id=regular).max_usable_points == 0
    # ...and once the outbox has sent them, the allowance is whole again.
    with ctx.db.write() as session:
        session.execute(Coupon.metadata.tables["outbox"].update().values(sent_at=clock()))
    assert checkout.quote(ctx, [item(10_000)], member_id=regular).max_usable_points == 2_000
    assert_ledger_consistent(ctx)


# -- outbox ---------------------------------------------------------------------------------


def test_one_outbox_event_per_sale(ctx, cashier, member, regular):
    before = scalar(ctx, "SELECT COUNT(*) FROM outbox WHERE kind = 'sale'")
    sales = [sell(ctx, cashier.id, member.id, BASKET, points=100) for _ in range(3)]
    sales.append(sell(ctx, cashier.id, None, BASKET))
    events = rows(
        ctx,
        "SELECT aggregate_id FROM outbox WHERE kind = 'sale' ORDER BY seq LIMIT -1 OFFSET :n",
        n=before,
    )
    assert [e[0] for e in events] == [s.sale_id for s in sales]
    payload = json.loads(
        scalar(ctx, "SELECT payload FROM outbox WHERE aggregate_id = :s", s=sales[0].sale_id)
    )
    assert payload["sale"]["receipt_no"] == sales[0].receipt_no
    assert sorted((e["kind"], e["points"]) for e in payload["entries"]) == [
        ("earn", 129),
        ("spend", -100),
    ]
    # Failures write no event.
    with nothing_written(ctx):
        for bad in (
            lambda: complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 1)]),
            lambda: complete(ctx, cashier, member.id, [item(1_000, qty=0)], []),
            lambda: complete(
                ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_800)], points=200_000
            ),
        ):
            with pytest.raises((PaymentError, InvalidInput, SpendNotAllowed)):
                bad()


def test_sale_and_outbox_commit_together(ctx, cashier, member):
    # If the outbox insert fails, the sale and its points must not be there either.
    with ctx.db.write() as session:
        session.connection().exec_driver_sql(
            "CREATE TRIGGER test_outbox_down BEFORE INSERT ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"
        )
    with nothing_written(ctx), pytest.raises(IntegrityError, match="outbox unavailable"):
        complete(ctx, cashier, member.id, BASKET, [TenderInput("cash", 12_900)], points=100)
    assert balance(ctx, member.id) == 100
    with ctx.db.write() as session:
        session.connection().exec_driver_sql("DROP TRIGGER test_outbox_down")
    res = sell(ctx, cashier.id, member.id, BASKET, points=100)
    assert res.receipt_no == "R0010126111700001"  # the failed attempt used no number
