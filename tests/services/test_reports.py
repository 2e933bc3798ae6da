"""The manager's views on a real till file: tiers, reminders, ledger, day report, shift."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from pos_app.services import auth, mall, members, refunds, reports
from pos_app.services.context import TillContext
from pos_app.services.errors import AuthError
from pos_app.services.mall import MallItemInput
from pos_app.store.models import Member, PointLot
from pos_app.store.types import new_id
from tests.services.conftest import Clock
from tests.services.support import give_points, item, scalar, sell

TODAY = dt.date(2026, 11, 17)


def test_a_cashier_gets_a_clear_refusal_everywhere(
    ctx: TillContext, cashier: auth.UserInfo, member: members.MemberSummary, tmp_path: Path
) -> None:
    calls = [
        lambda: reports.tier_counts(ctx, cashier.id),
        lambda: reports.near_next_tier(ctx, cashier.id),
        lambda: reports.expiring_soon(ctx, cashier.id),
        lambda: reports.member_detail(ctx, cashier.id, member.id),
        lambda: reports.day_report(ctx, cashier.id, TODAY),
        lambda: reports.export_day_report(ctx, cashier.id, TODAY, tmp_path / "r.csv"),
        lambda: reports.shift_figures(ctx, cashier.id),
        lambda: reports.close_shift(ctx, cashier.id, float_fen=0, counted_fen=0),
    ]
    for call in calls:
        with pytest.raises(AuthError, match="Only a manager"):
            call()
    assert not (tmp_path / "r.csv").exists()
    with pytest.raises(AuthError, match="Unknown user"):
        reports.tier_counts(ctx, "nobody")


def test_tier_counts_follow_the_ladder(
    ctx: TillContext, manager: auth.UserInfo, member, friend
) -> None:
    with ctx.db.write() as session:
        row = session.get(Member, friend.id)
        assert row is not None
        row.tier = "gold"
    counts = reports.tier_counts(ctx, manager.id)
    assert [(c.tier, c.members, c.points) for c in counts] == [
        ("regular", 1, 100),
        ("silver", 0, 0),
        ("gold", 1, 100),
    ]
    assert counts[2].name == "金卡会员"


def test_members_close_to_the_next_tier(
    ctx: TillContext, manager: auth.UserInfo, cashier: auth.UserInfo, member, friend
) -> None:
    # Silver needs 300 yuan or 1000 points: 260 yuan (300 points) is within 20%;
    # 100 yuan (500 points: a first purchase earns x5) is not.
    sell(ctx, cashier.id, member.id, [item(1_000)])
    sell(ctx, cashier.id, member.id, [item(25_000)])
    sell(ctx, cashier.id, friend.id, [item(10_000)])
    near = reports.near_next_tier(ctx, manager.id)
    assert [(n.member_id, n.next_tier, n.spend_needed_fen) for n in near] == [
        (member.id, "silver", 4_000)
    ]
    assert near[0].masked_phone == "138****1234"
    assert reports.near_next_tier(ctx, manager.id, within_percent=90)[-1].member_id == friend.id


def test_close_to_the_next_tier_measures_spend_as_the_tier_does(
    ctx: TillContext, manager: auth.UserInfo, cashier: auth.UserInfo, member
) -> None:
    # A refund gives back its share of the cash and of the points value: 1 of 10 units
    # of 290.00 paid with 2,000 points (20.00) and 270.00 cash gives back 27.00 + 2.00.
    give_points(ctx, manager.id, member.id, 2_000)
    sell(ctx, cashier.id, member.id, [item(100)])  # the first purchase (x5) out of the way
    sale = sell(ctx, cashier.id, member.id, [item(2_900, qty=10)], points=2_000)
    (line,) = refunds.find_sale(ctx, sale.receipt_no).lines
    refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=sale.receipt_no,
        request={line.id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin="9999",
        reason="测试退货",
    )
    summary = members.summary(ctx, member.id)
    (near,) = reports.near_next_tier(ctx, manager.id)
    assert near.spend_fen == summary.spend_12m_fen == 100 + 29_000 - 2_700 - 200
    assert near.points == summary.points_12m
    assert near.spend_needed_fen == 30_000 - near.spend_fen


def test_the_reminder_list_of_expiring_points(
    ctx: TillContext, clock: Clock, manager: auth.UserInfo, member, friend
) -> None:
    with ctx.db.write() as session:
        for lot in session.query(PointLot).filter(PointLot.member_id == member.id):
            lot.expires_on = TODAY + dt.timedelta(days=10)
    listing = reports.expiring_soon(ctx, manager.id)
    assert listing.until == TODAY + dt.timedelta(days=30)
    assert (listing.members, listing.points) == (1, 100)
    (row,) = listing.rows
    assert (row.member_id, row.points, row.first_date, row.masked_phone) == (
        member.id,
        100,
        TODAY + dt.timedelta(days=10),
        "138****1234",
    )


def test_member_detail_has_the_full_ledger_with_running_balance(
    ctx: TillContext, manager: auth.UserInfo, cashier: auth.UserInfo, member
) -> None:
    sale = sell(ctx, cashier.id, member.id, [item(10_000)])
    give_points(ctx, manager.id, member.id, 50)
    detail = reports.member_detail(ctx, manager.id, member.id)
    assert [(e.kind, e.points) for e in detail.entries] == [
        ("adjust", 50),
        ("earn", 500),  # first purchase x5
        ("bonus", 100),
    ]
    assert detail.entries[0].balance_after == detail.summary.balance == 650
    assert detail.entries[1].receipt_no == sale.receipt_no
    assert detail.entries[1].actor == "王收银"


def test_the_day_report_and_its_csv(
    ctx: TillContext,
    clock: Clock,
    manager: auth.UserInfo,
    cashier: auth.UserInfo,
    member,
    tmp_path: Path,
) -> None:
    mall.upsert_items(ctx, [MallItemInput("BAG", "帆布袋", 200, stock=5, cash_price_fen=500)])
    sell(ctx, cashier.id, member.id, [item(10_000)])  # 100 yuan, 500 points (first x5)
    sell(ctx, manager.id, None, [item(2_000)])  # no member
    mall.redeem(
        ctx,
        redemption_id=new_id(),
        member_id=member.id,
        item_id="BAG",
        actor_id=cashier.id,
        cash_method="cash",
    )
    clock.advance(days=1)
    sell(ctx, cashier.id, member.id, [item(5_000)])  # the next day: not in the report
    report = reports.day_report(ctx, manager.id, TODAY)
    assert (report.sales, report.sales_fen, report.cash_due_fen) == (2, 12_000, 12_000)
    assert (report.redemptions, report.redemption_points) == (1, 200)
    assert report.points_issued == 100 + 500  # registration bonus + the sale
    assert report.points_spent == 200
    assert report.points_expired == 0
    assert report.liability_points == 400  # 600 - 200 at the end of the day
    assert report.liability_fen == 400  # 100 points = 1 yuan: 4.00 yuan
    by_name = {c.name: c for c in report.cashiers}
    assert (by_name["王收银"].sales, by_name["王收银"].points_issued) == (1, 500)
    assert by_name["王收银"].redemptions == 1
    assert by_name["李店长"].amount_fen == 2_000

    path = reports.export_day_report(ctx, manager.id, TODAY, tmp_path / "out" / "day.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM for spreadsheets
    table = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert ["sales_amount_yuan", "120.00"] in table
    assert ["points_liability_yuan", "4.00"] in table
    header = table.index(
        [
            "cashier_id",
            "cashier",
            "sales",
            "amount_yuan",
            "cash_yuan",
            "points_issued",
            "points_spent",
            "mall_redemptions",
        ]
    )
    assert any(row[1] == "王收银" and row[2] == "1" for row in table[header + 1 :])


def test_shift_close_counts_expected_against_counted_cash(
    ctx: TillContext, clock: Clock, manager: auth.UserInfo, cashier: auth.UserInfo, member
) -> None:
    mall.upsert_items(ctx, [MallItemInput("BAG", "帆布袋", 100, cash_price_fen=500)])
    sell(ctx, cashier.id, member.id, [item(10_000)])  # cash 100.00
    sell(ctx, cashier.id, None, [item(3_000)], method="wechat")  # not cash
    mall.redeem(
        ctx,
        redemption_id=new_id(),
        member_id=member.id,
        item_id="BAG",
        actor_id=cashier.id,
        cash_method="cash",
    )  # cash 5.00
    figures = reports.shift_figures(ctx, manager.id)
    assert (figures.sales, figures.cash_sales_fen, figures.cash_mall_fen) == (2, 10_000, 500)
    result = reports.close_shift(
        ctx, manager.id, float_fen=20_000, counted_fen=30_400, note="少 1 元"
    )
    assert result.expected_fen == 30_500
    assert result.difference_fen == -100
    assert scalar(ctx, "SELECT COUNT(*) FROM outbox WHERE kind = 'shift_close'") == 1
    clock.advance(hours=1)
    after = reports.shift_figures(ctx, manager.id)
    assert after.opened_at == result.figures.until
    assert (after.sales, after.cash_sales_fen) == (0, 0)
    with pytest.raises(Exception, match="whole fen"):
        reports.close_shift(ctx, manager.id, float_fen=-1, counted_fen=0)
