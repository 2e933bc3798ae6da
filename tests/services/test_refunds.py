"""Refunds against a real till database file, with the numbers worked by hand."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.exc import IntegrityError

from pos_app.core.errors import InvalidInput, RefundNotAllowed
from pos_app.core.rules import default_rule_set, load_rule_set
from pos_app.services import adjustments, auth, receipts, refunds
from pos_app.services.errors import AuthError, ConflictError, UnknownSale
from pos_app.store.encryption import driver
from pos_app.store.models import Refund, RefundLine
from pos_app.store.types import new_id
from tests.services.support import (
    BASKET,
    CASHIER_PIN,
    MANAGER_PIN,
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

EXPIRY = dt.date(2028, 11, 17)


def do_refund(
    ctx, cashier, manager, receipt_no, request, *, pin=MANAGER_PIN, manager_id=None, refund_id=None
):
    """A refund approved by ``manager`` (a new id, or ``refund_id`` to retry one)."""
    return refunds.refund(
        ctx,
        refund_id=refund_id or new_id(),
        receipt_no=receipt_no,
        request=request,
        cashier_id=cashier.id,
        manager_id=manager.id if manager_id is None else manager_id,
        manager_pin=pin,
        reason="顾客退货",
    )


def lines_of(ctx, receipt_no):
    return refunds.find_sale(ctx, receipt_no).lines


def install_rules(ctx, version, **refund_policy):
    document = json.loads(default_rule_set().to_json())
    document["version"] = version
    document["refunds"] = refund_policy
    ctx.install_rule_set(load_rule_set(document))
    assert ctx.rules.version == version


# -- one line of a points + cash sale -----------------------------------------------------


def test_refund_one_line_of_points_and_cash_sale(ctx, cashier, manager, member, clock):
    # The first purchase of test_checkout: 130.00 with 100 points; lines TEA (2 x 50.00:
    # points 77, cash 99.23, earned 496) and CUP (1 x 30.00: points 23, cash 29.77, earned
    # 149). Balance after: 645.
    sale = sell(ctx, cashier.id, member.id, BASKET, points=100)
    assert sale.balance_after == 645
    tea, cup = lines_of(ctx, sale.receipt_no)
    assert (cup.sku, cup.cash_fen, cup.points_used, cup.earn_points) == ("CUP", 2_977, 23, 149)

    clock.set(2026, 12, 17, 15, 0)  # a month later
    preview = refunds.preview_refund(ctx, sale.receipt_no, {cup.id: 1})
    res = do_refund(ctx, cashier, manager, sale.receipt_no, {cup.id: 1})

    assert res.quote == preview
    # Cash back 29.77; the 149 points the cup earned are taken back, the 23 it spent given back.
    assert res.quote.cash_refund_fen == 2_977
    assert (res.quote.points_reversed, res.quote.points_restored) == (149, 23)
    # Balance: 645 + 23 - 149 = 519.
    assert res.balance_after == 519 == balance(ctx, member.id)
    assert res.refund_no == "R0010126121790001"  # kind digit 9, first refund of 2026-12-17
    assert res.sale_receipt_no == sale.receipt_no
    assert ledger(ctx, member.id)[-2:] == [("refund_restore", 23), ("refund_reversal", -149)]
    # The 149 came out of the sale's own lot (645 -> 496); the 23 came back with the
    # expiry of the registration lot they were spent from, not 24 months from today.
    assert lots(ctx, member.id) == [(100, 0, EXPIRY), (645, 496, EXPIRY), (23, 23, EXPIRY)]
    assert rows(ctx, "SELECT method, amount_fen FROM tenders WHERE refund_id IS NOT NULL") == [
        ("cash", -2_977)
    ]
    assert rows(ctx, "SELECT actor_id, action, subject FROM audit_log WHERE action='refund'") == [
        (manager.id, "refund", sale.receipt_no)
    ]
    assert rows(ctx, "SELECT kind, aggregate_id FROM outbox WHERE kind = 'refund'") == [
        ("refund", res.refund_id)
    ]
    view = refunds.find_sale(ctx, sale.receipt_no)
    assert [ln.refunded_qty for ln in view.lines] == [0, 1]
    assert not view.fully_refunded
    assert_ledger_consistent(ctx)

    # The rest of the sale: TEA returns 99.23, 77 points back, 496 taken -> 519 + 77 - 496.
    rest = do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 2})
    assert rest.balance_after == 100
    assert rest.refund_no == "R0010126121790002"
    assert refunds.find_sale(ctx, sale.receipt_no).fully_refunded
    # Back where the member started: the registration bonus, nothing more.
    assert balance(ctx, member.id) == 100
    assert_ledger_consistent(ctx)


def test_refund_of_sale_without_member(ctx, cashier, manager):
    sale = sell(ctx, cashier.id, None, BASKET, method="card")
    tea, _cup = lines_of(ctx, sale.receipt_no)
    res = do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 1})
    assert (res.quote.cash_refund_fen, res.balance_after) == (5_000, None)
    assert rows(ctx, "SELECT method, amount_fen FROM tenders WHERE refund_id IS NOT NULL") == [
        ("card", -5_000)
    ]
    assert scalar(ctx, "SELECT COUNT(*) FROM ledger_entries") == 0


# -- partial quantities ---------------------------------------------------------------------


def test_partial_refunds_add_up_to_the_whole(ctx, cashier, manager, regular):
    give_points(ctx, manager.id, regular, 5_000)  # balance 150 + 5 000 = 5 150
    # 3 x 33.33 = 99.99. 20 % = 19.99 -> 1 900 points (whole hundreds). Cash 80.99 -> 80
    # points (regular x1). Balance 5 150 - 1 900 + 80 = 3 330.
    sale = sell(ctx, cashier.id, regular, [item(3_333, qty=3)], points=1_900)
    assert (sale.cash_due_fen, sale.points_earned, sale.balance_after) == (8_099, 80, 3_330)
    (line,) = lines_of(ctx, sale.receipt_no)

    # Cumulative rounding: after k of 3 units, floor(8 099 k/3) cash, ceil(80 k/3) points
    # taken back and floor(1 900 k/3) given back.
    #   k=1: 2 699, 27, 633   k=2: 5 399, 54, 1 266   k=3: 8 099, 80, 1 900
    expected = [(2_699, 27, 633), (2_700, 27, 633), (2_700, 26, 634)]
    got = []
    for _ in range(3):
        q = do_refund(ctx, cashier, manager, sale.receipt_no, {line.id: 1}).quote
        got.append((q.cash_refund_fen, q.points_reversed, q.points_restored))
    assert got == expected
    assert [sum(col) for col in zip(*got, strict=True)] == [8_099, 80, 1_900]
    assert balance(ctx, regular) == 5_150
    assert_ledger_consistent(ctx)


def test_whole_and_piecewise_refunds_agree(ctx, cashier, manager, regular, friend):
    give_points(ctx, manager.id, regular, 5_000)
    give_points(ctx, manager.id, friend.id, 5_000)
    sell(ctx, cashier.id, friend.id, [item(100)])  # first purchase out of the way
    basket = [item(3_333, qty=3, sku="A"), item(1_717, qty=7, sku="B")]
    one = sell(ctx, cashier.id, regular, basket, points=2_100)
    two = sell(ctx, cashier.id, friend.id, basket, points=2_100)
    before_one, before_two = balance(ctx, regular), balance(ctx, friend.id)
    whole = do_refund(
        ctx,
        cashier,
        manager,
        one.receipt_no,
        {ln.id: ln.quantity for ln in lines_of(ctx, one.receipt_no)},
    )
    pieces = []
    a, b = lines_of(ctx, two.receipt_no)
    for request in ({a.id: 2}, {b.id: 3}, {a.id: 1, b.id: 1}, {b.id: 3}):
        pieces.append(do_refund(ctx, cashier, manager, two.receipt_no, request).quote)
    for field in ("cash_refund_fen", "points_reversed", "points_restored"):
        assert getattr(whole.quote, field) == sum(getattr(p, field) for p in pieces), field
    assert balance(ctx, regular) - before_one == balance(ctx, friend.id) - before_two
    assert_ledger_consistent(ctx)


def test_refund_twice_or_beyond_the_quantity_refused(ctx, cashier, manager, regular):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea, cup = lines_of(ctx, sale.receipt_no)
    do_refund(ctx, cashier, manager, sale.receipt_no, {cup.id: 1, tea.id: 1})
    with nothing_written(ctx):
        with pytest.raises(RefundNotAllowed, match="Only 0 of 1 units"):
            do_refund(ctx, cashier, manager, sale.receipt_no, {cup.id: 1})
        with pytest.raises(RefundNotAllowed, match="Only 1 of 2 units"):
            do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 2})
        # A refund id is used once.
        refund_id = scalar(ctx, "SELECT id FROM refunds")
        with pytest.raises(ConflictError, match="already recorded"):
            refunds.refund(
                ctx,
                refund_id=refund_id,
                receipt_no=sale.receipt_no,
                request={tea.id: 1},
                cashier_id=cashier.id,
                manager_id=manager.id,
                manager_pin=MANAGER_PIN,
                reason="测试退货",
            )


@pytest.mark.parametrize(
    ("request_of", "error", "message"),
    [
        (lambda tea, cup: {}, InvalidInput, "at least one line"),
        (lambda tea, cup: {tea.id: 0}, InvalidInput, "above zero"),
        (lambda tea, cup: {tea.id: -1}, InvalidInput, "above zero"),
        (lambda tea, cup: {"nope": 1}, InvalidInput, "not part of this sale"),
        (lambda tea, cup: {tea.id: 3}, RefundNotAllowed, "Only 2 of 2 units"),
    ],
)
def test_bad_refund_requests_refused(ctx, cashier, manager, regular, request_of, error, message):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea, cup = lines_of(ctx, sale.receipt_no)
    with nothing_written(ctx), pytest.raises(error, match=message):
        do_refund(ctx, cashier, manager, sale.receipt_no, request_of(tea, cup))


def test_unknown_receipt(ctx, cashier, manager):
    with nothing_written(ctx), pytest.raises(UnknownSale):
        do_refund(ctx, cashier, manager, "R0010126111700099", {"x": 1})


def test_database_trigger_refuses_refunding_beyond_the_quantity(ctx, cashier, manager, regular):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea, cup = lines_of(ctx, sale.receipt_no)
    do_refund(ctx, cashier, manager, sale.receipt_no, {cup.id: 1, tea.id: 1})

    def insert_directly(line_id, quantity):
        with ctx.db.write() as session:
            refund_id = new_id()
            session.add(
                Refund(
                    id=refund_id,
                    refund_no=f"X{refund_id[-8:]}",
                    sale_id=sale.sale_id,
                    created_at=ctx.now(),
                    cashier_id=cashier.id,
                    approved_by=manager.id,
                    gross_cash_fen=0,
                    cash_refund_fen=0,
                    cash_deducted_fen=0,
                    points_reversed=0,
                    points_restored=0,
                    debt_points=0,
                    flagged=False,
                    reason="bypass",
                )
            )
            session.flush()
            session.add(
                RefundLine(
                    id=new_id(),
                    refund_id=refund_id,
                    sale_line_id=line_id,
                    quantity=quantity,
                    cash_fen=0,
                    points_reversed=0,
                    points_restored=0,
                )
            )

    with nothing_written(ctx):
        for line_id, quantity in ((cup.id, 1), (tea.id, 2)):
            with pytest.raises(IntegrityError, match="refund exceeds the quantity sold") as info:
                insert_directly(line_id, quantity)
            assert isinstance(info.value.orig, driver.IntegrityError)
    # The one unit of tea still left can be recorded.
    insert_directly(tea.id, 1)


# -- approval ---------------------------------------------------------------------------------


def test_refund_needs_a_managers_approval(ctx, cashier, manager, regular):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea, _cup = lines_of(ctx, sale.receipt_no)
    other = auth.create_user(ctx, "赵收银", "cashier", "2222")
    with nothing_written(ctx):
        with pytest.raises(AuthError, match="Wrong PIN"):
            do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 1}, pin="0000")
        # The manager's id with the cashier's PIN.
        with pytest.raises(AuthError, match="Wrong PIN"):
            do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 1}, pin=CASHIER_PIN)
        # A cashier approving her own refund with her own (correct) PIN.
        with pytest.raises(AuthError, match="cannot approve her own refund"):
            do_refund(
                ctx,
                cashier,
                manager,
                sale.receipt_no,
                {tea.id: 1},
                manager_id=cashier.id,
                pin=CASHIER_PIN,
            )
        with pytest.raises(AuthError, match="Only a manager"):
            do_refund(
                ctx, cashier, manager, sale.receipt_no, {tea.id: 1}, manager_id=other.id, pin="2222"
            )
        with pytest.raises(AuthError, match="Unknown user"):
            do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 1}, manager_id="nobody")
        with pytest.raises(AuthError):
            do_refund(ctx, cashier, manager, sale.receipt_no, {tea.id: 1}, pin="")


# -- earned points already spent ------------------------------------------------------------


def spend_the_earned_points(ctx, cashier, member):
    """Sale 1 earns 500, sale 2 spends them; returns sale 1.

    Sale 1 (first purchase): 100.00 -> 100 x5 = 500; balance 100 + 500 = 600.
    Sale 2: 300.00, 600 points (20 % would allow 6 000); cash 294.00 -> 294 points
    (regular x1: the upgrade to silver comes after the sale). Balance 0 + 294 = 294.
    """
    first = sell(ctx, cashier.id, member.id, [item(10_000, sku="BAG")])
    assert first.balance_after == 600
    second = sell(ctx, cashier.id, member.id, [item(30_000, sku="COAT")], points=600)
    assert (second.points_earned, second.balance_after, second.tier_after) == (294, 294, "silver")
    return first


def test_deduct_cash_when_earned_points_were_spent(ctx, cashier, manager, member):
    assert ctx.rules.refunds.when_earned_points_spent == "deduct_cash"
    first = spend_the_earned_points(ctx, cashier, member)
    (line,) = lines_of(ctx, first.receipt_no)
    # Refunding sale 1 should take back 500, but the member has 294: 206 are short.
    # Their value (100 points = 1.00 -> 2.06) is kept from the cash: 100.00 - 2.06 = 97.94.
    res = do_refund(ctx, cashier, manager, first.receipt_no, {line.id: 1})
    q = res.quote
    assert (q.gross_cash_fen, q.cash_refund_fen, q.cash_deducted_fen) == (10_000, 9_794, 206)
    assert (q.shortfall_points, q.points_reversed, q.debt_points) == (206, 294, 0)
    assert not q.flagged
    assert res.balance_after == 0
    assert ledger(ctx, member.id)[-1] == ("refund_reversal", -294)
    assert rows(ctx, "SELECT cash_refund_fen, cash_deducted_fen, points_reversed FROM refunds") == [
        (9_794, 206, 294)
    ]
    assert rows(ctx, "SELECT amount_fen FROM tenders WHERE refund_id IS NOT NULL") == [(-9_794,)]
    assert_ledger_consistent(ctx)
    # A retry answers with the same figures, the shortfall included.
    again = do_refund(
        ctx, cashier, manager, first.receipt_no, {line.id: 1}, refund_id=res.refund_id
    )
    assert again.replayed
    assert again.quote.shortfall_points == 206
    assert (again.quote.points_reversed, again.quote.cash_deducted_fen) == (294, 206)


def test_negative_balance_policy(ctx, cashier, manager, member):
    first = spend_the_earned_points(ctx, cashier, member)
    (line,) = lines_of(ctx, first.receipt_no)

    # A floor of -100 cannot take the 206-point debt: refused, nothing written.
    install_rules(
        ctx, "test-negative-100", when_earned_points_spent="negative_balance", negative_floor=-100
    )
    with nothing_written(ctx), pytest.raises(RefundNotAllowed, match="below the allowed -100"):
        do_refund(ctx, cashier, manager, first.receipt_no, {line.id: 1})

    install_rules(
        ctx,
        "test-negative-1000",
        when_earned_points_spent="negative_balance",
        negative_floor=-1_000,
    )
    res = do_refund(ctx, cashier, manager, first.receipt_no, {line.id: 1})
    q = res.quote
    # The whole 100.00 comes back; the balance goes 294 - 500 = -206 and is flagged.
    assert (q.cash_refund_fen, q.cash_deducted_fen, q.debt_points) == (10_000, 0, 206)
    assert (q.points_reversed, q.balance_after, q.flagged) == (500, -206, True)
    assert res.balance_after == -206 == balance(ctx, member.id)
    assert scalar(ctx, "SELECT flagged FROM refunds") == 1
    assert all(remaining == 0 for _p, remaining, _e in lots(ctx, member.id))
    assert_ledger_consistent(ctx)

    # No points can be used while in debt.
    from pos_app.services import checkout

    assert checkout.quote(ctx, [item(50_000)], member_id=member.id).max_usable_points == 0

    # The next earn repays the debt first: 200.00 at silver x1.5 = 300 -> 206 repaid,
    # a lot of 94 opened. Balance 94.
    lot_count = len(lots(ctx, member.id))
    third = sell(ctx, cashier.id, member.id, [item(20_000)])
    assert (third.points_earned, third.balance_after) == (300, 94)
    assert ledger(ctx, member.id)[-1] == ("earn", 300)
    new_lots = lots(ctx, member.id)[lot_count:]
    assert new_lots == [(94, 94, dt.date(2028, 11, 17))]
    assert_ledger_consistent(ctx)


def test_small_earn_only_reduces_the_debt(ctx, cashier, manager, member):
    first = spend_the_earned_points(ctx, cashier, member)
    install_rules(
        ctx, "test-negative", when_earned_points_spent="negative_balance", negative_floor=-1_000
    )
    (line,) = lines_of(ctx, first.receipt_no)
    do_refund(ctx, cashier, manager, first.receipt_no, {line.id: 1})
    lot_count = len(lots(ctx, member.id))
    # 60.00 at x1.5 = 90: the debt goes from 206 to 116, no lot is opened.
    assert sell(ctx, cashier.id, member.id, [item(6_000)]).balance_after == -116
    assert len(lots(ctx, member.id)) == lot_count
    # A manager's adjustment repays debt the same way; a deduction cannot go deeper.
    assert give_points(ctx, manager.id, member.id, 200) == 84
    assert lots(ctx, member.id)[lot_count:] == [(84, 84, dt.date(2028, 11, 17))]
    assert_ledger_consistent(ctx)


# -- restored points keep their expiry ------------------------------------------------------


def restored_by_expiry(ctx, member_id):
    out: dict[str, int] = {}
    for points, expires in rows(
        ctx,
        "SELECT m.points, l.expires_on FROM lot_moves m "
        "JOIN ledger_entries e ON e.id = m.entry_id JOIN point_lots l ON l.id = m.lot_id "
        "WHERE e.kind = 'refund_restore' AND e.member_id = :m",
        m=member_id,
    ):
        out[expires] = out.get(expires, 0) + points
    return out


def test_restored_points_keep_their_expiry_over_partial_refunds(
    ctx, cashier, manager, regular, clock
):
    # Lots: registration 100 and first purchase 50, both to 2028-11-17; a month later a
    # manager adds 5 000 (to 2028-12-17).
    clock.set(2026, 12, 17, 10, 0)
    give_points(ctx, manager.id, regular, 5_000)
    # 2 x 150.00 = 300.00; 20 % = 6 000; balance 5 150 -> 5 100 usable. The spend takes
    # the soonest lots first: 100 + 50 (2028-11-17) and 4 950 (2028-12-17).
    sale = sell(ctx, cashier.id, regular, [item(15_000, qty=2)], points=5_100)
    (line,) = lines_of(ctx, sale.receipt_no)

    clock.set(2027, 3, 1, 10, 0)
    do_refund(ctx, cashier, manager, sale.receipt_no, {line.id: 1})  # 2 550 back
    do_refund(ctx, cashier, manager, sale.receipt_no, {line.id: 1})  # 2 550 back
    # Together the two refunds give back exactly what was spent, each part with the
    # expiry of the lot it came from; none gains time.
    assert restored_by_expiry(ctx, regular) == {"2028-11-17": 150, "2028-12-17": 4_950}
    assert balance(ctx, regular) == 5_150
    assert_ledger_consistent(ctx)


def test_restored_points_whose_date_passed_get_the_reminder_window(
    ctx, cashier, manager, regular, clock
):
    sale = sell(ctx, cashier.id, regular, [item(10_000)], points=100)
    (line,) = lines_of(ctx, sale.receipt_no)
    # The refund comes after 2028-11-17, the last day of the lot the 100 came from:
    # they are given back until today + 30 days.
    clock.set(2028, 12, 1, 10, 0)
    do_refund(ctx, cashier, manager, sale.receipt_no, {line.id: 1})
    assert restored_by_expiry(ctx, regular) == {"2028-12-31": 100}


def test_a_retried_refund_gets_the_first_answer_and_refunds_once(ctx, cashier, manager, regular):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea, cup = lines_of(ctx, sale.receipt_no)
    first = do_refund(ctx, cashier, manager, sale.receipt_no, {cup.id: 1})
    balance_after_first = balance(ctx, regular)
    with nothing_written(ctx):
        again = do_refund(
            ctx, cashier, manager, sale.receipt_no, {cup.id: 1}, refund_id=first.refund_id
        )
    assert again.replayed
    assert again.refund_no == first.refund_no
    assert again.quote.cash_refund_fen == first.quote.cash_refund_fen
    assert again.quote.points_reversed == first.quote.points_reversed
    assert again.quote.points_restored == first.quote.points_restored
    assert balance(ctx, regular) == balance_after_first
    assert tea.id  # the other line is untouched and still refundable


def test_points_that_expired_are_not_taken_again(ctx, cashier, manager, regular, clock):
    # 2026-12-01 (a plain Tuesday): 3 x 100.00 cash earns 300 points in one lot, valid
    # to 2028-12-01. Balance 150 (registration 100 + first purchase 50) + 300 = 450.
    clock.set(2026, 12, 1, 12, 0)
    sale = sell(ctx, cashier.id, regular, [item(10_000, 3, sku="KETTLE")])
    assert (sale.points_earned, sale.balance_after) == (300, 450)
    (kettle,) = lines_of(ctx, sale.receipt_no)

    # One kettle comes back a month later: its 100 points are taken back from the lot.
    clock.set(2027, 1, 5, 12, 0)
    first = do_refund(ctx, cashier, manager, sale.receipt_no, {kettle.id: 1})
    assert (first.quote.points_reversed, first.quote.expired_points) == (100, 0)
    assert first.balance_after == 350

    # Two years on everything has expired: 150 on 2028-11-17, the 200 left of the
    # sale's lot on 2028-12-01.
    clock.set(2028, 12, 5, 12, 0)
    assert adjustments.run_expiry(ctx) == 350
    assert balance(ctx, regular) == 0

    # The other two kettles come back. Their 200 points expired already: the expiry took
    # them once, the refund takes nothing again (before, under the default deduct_cash
    # policy, it kept 2.00 of the 200.00 cash for "points already spent").
    preview = refunds.preview_refund(ctx, sale.receipt_no, {kettle.id: 2})
    assert (preview.points_reversed, preview.expired_points) == (0, 200)
    res = do_refund(ctx, cashier, manager, sale.receipt_no, {kettle.id: 2})
    assert res.quote == preview
    assert (res.quote.cash_refund_fen, res.quote.cash_deducted_fen) == (20_000, 0)
    assert (res.quote.shortfall_points, res.quote.debt_points) == (0, 0)
    assert res.balance_after == 0 == balance(ctx, regular)
    assert ledger(ctx, regular)[-1] == ("expire", -350)  # no reversal entry was written
    assert scalar(ctx, f"SELECT points_expired FROM refunds WHERE id = '{res.refund_id}'") == 200
    assert_ledger_consistent(ctx)

    # A retry answers with the same figures; the refund receipt says why nothing was taken.
    again = do_refund(
        ctx, cashier, manager, sale.receipt_no, {kettle.id: 2}, refund_id=res.refund_id
    )
    assert again.replayed
    assert (again.quote.points_reversed, again.quote.expired_points) == (0, 200)
    assert (again.quote.shortfall_points, again.quote.cash_deducted_fen) == (0, 0)
    receipt = receipts.build_refund_receipt(ctx, res.refund_no)
    assert receipt.member is not None
    assert receipt.member.points_earned == 0
    assert "本单积分已过期 200，不再扣回" in receipt.member.earn_breakdown


def test_expired_points_do_not_excuse_spent_ones(ctx, cashier, manager, regular, clock):
    # 300 earned in one lot; the member spends 200 of it, the other 100 expire. A refund
    # of the sale forgives the 100 that expired and takes back the 200 that were spent,
    # from what the member has now (a 400-point top-up and what the lamp earned).
    clock.set(2026, 12, 1, 12, 0)
    sale = sell(ctx, cashier.id, regular, [item(10_000, 3, sku="KETTLE")])
    (kettle,) = lines_of(ctx, sale.receipt_no)
    clock.set(2028, 11, 20, 12, 0)  # the 150 of 2028-11-17 expired: 300 left, all the sale's
    assert adjustments.run_expiry(ctx) == 150
    spent = sell(ctx, cashier.id, regular, [item(25_000, sku="LAMP")], points=200)
    assert spent.points_used == 200
    clock.set(2028, 12, 5, 12, 0)  # the 100 left of the sale's lot expire
    assert adjustments.run_expiry(ctx) == 100
    give_points(ctx, manager.id, regular, 400)
    before = balance(ctx, regular)
    res = do_refund(ctx, cashier, manager, sale.receipt_no, {kettle.id: 3})
    assert (res.quote.points_reversed, res.quote.expired_points) == (200, 100)
    assert res.quote.cash_deducted_fen == 0
    assert res.balance_after == before - 200 == balance(ctx, regular)
    assert_ledger_consistent(ctx)
