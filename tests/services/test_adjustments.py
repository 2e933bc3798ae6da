"""Manual adjustments and the expiry run against a real till database file."""

from __future__ import annotations

import datetime as dt

import pytest

from pos_app.core.errors import InsufficientPoints, InvalidInput
from pos_app.services import adjustments, auth, members
from pos_app.services.errors import AuthError, UnknownMember
from pos_app.store.models import User
from tests.services.conftest import SHANGHAI
from tests.services.support import (
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


def adjust(ctx, user, member_id, points, reason="补录积分", pin=MANAGER_PIN):
    return adjustments.adjust_points(
        ctx,
        member_id=member_id,
        points=points,
        reason=reason,
        manager_id=user.id,
        manager_pin=pin,
    )


def test_adjustment_is_audited(ctx, manager, member):
    res = adjust(ctx, manager, member.id, 500, reason="  系统故障补分  ")
    assert res.balance_after == 600 == balance(ctx, member.id)
    assert ledger(ctx, member.id) == [("bonus", 100), ("adjust", 500)]
    assert rows(
        ctx, "SELECT actor_id, reason FROM ledger_entries WHERE id = :e", e=res.entry_id
    ) == [(manager.id, "系统故障补分")]
    assert rows(
        ctx, "SELECT actor_id, action, subject, detail FROM audit_log WHERE action='adjust'"
    ) == [(manager.id, "adjust", member.id, "+500: 系统故障补分")]
    assert rows(ctx, "SELECT kind, aggregate_id FROM outbox WHERE kind = 'adjustment'") == [
        ("adjustment", res.entry_id)
    ]
    # A positive adjustment opens a lot with the rule set's expiry.
    assert lots(ctx, member.id)[-1] == (500, 500, dt.date(2028, 11, 17))

    res = adjust(ctx, manager, member.id, -250, reason="重复补分撤回")
    assert res.balance_after == 350
    assert scalar(ctx, "SELECT detail FROM audit_log ORDER BY rowid DESC LIMIT 1") == (
        "-250: 重复补分撤回"
    )
    assert_ledger_consistent(ctx)


def test_adjustment_needs_a_manager(ctx, cashier, manager, member):
    with nothing_written(ctx):
        with pytest.raises(AuthError, match="Only a manager"):
            adjust(ctx, cashier, member.id, 100, pin=CASHIER_PIN)
        with pytest.raises(AuthError, match="Wrong PIN"):
            adjust(ctx, manager, member.id, 100, pin="0000")
        with pytest.raises(AuthError, match="Wrong PIN"):
            adjust(ctx, manager, member.id, 100, pin=CASHIER_PIN)


def test_inactive_manager_cannot_adjust(ctx, member):
    boss = auth.create_user(ctx, "前店长", "manager", "5555")
    with ctx.db.write() as session:
        session.get(User, boss.id).active = False
    with nothing_written(ctx), pytest.raises(AuthError, match="Unknown user"):
        adjust(ctx, boss, member.id, 100, pin="5555")


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_adjustment_needs_a_reason(ctx, manager, member, reason):
    with nothing_written(ctx), pytest.raises(InvalidInput, match="reason is required"):
        adjust(ctx, manager, member.id, 100, reason=reason)


@pytest.mark.parametrize("points", [0, 100_001, -100_001, True])
def test_adjustment_amount_checked(ctx, manager, member, points):
    with nothing_written(ctx), pytest.raises(InvalidInput):
        adjust(ctx, manager, member.id, points)


def test_adjustment_of_unknown_member(ctx, manager):
    with nothing_written(ctx), pytest.raises(UnknownMember):
        adjust(ctx, manager, "0" * 32, 100)


def test_adjustment_cannot_go_below_zero(ctx, manager, member):
    with nothing_written(ctx), pytest.raises(InsufficientPoints, match="100 available"):
        adjust(ctx, manager, member.id, -101)
    assert adjust(ctx, manager, member.id, -100).balance_after == 0
    with nothing_written(ctx), pytest.raises(InsufficientPoints):
        adjust(ctx, manager, member.id, -1)
    assert_ledger_consistent(ctx)


# -- expiry -----------------------------------------------------------------------------


def test_expiry_run(ctx, cashier, manager, regular, clock):
    # Lots: registration 100 and first purchase 50, both valid to 2028-11-17.
    # 2027-01-10: a manager adds 300 (valid to 2029-01-10).
    clock.set(2027, 1, 10, 12, 0)
    give_points(ctx, manager.id, regular, 300)
    # 2027-02-01: 100.00 with 100 points: taken from the registration lot (soonest, first).
    # Earns 99 (valid to 2029-02-01). Balance 450 - 100 + 99 = 449.
    clock.set(2027, 2, 1, 12, 0)
    assert sell(ctx, cashier.id, regular, [item(10_000)], points=100).balance_after == 449

    # The last valid day is not yet past: nothing expires, nothing is written.
    clock.set(2028, 11, 17, 23, 59)
    with nothing_written(ctx):
        assert adjustments.run_expiry(ctx) == 0

    # Midnight in Shanghai (16:00 UTC on the 17th): the 50 left of 2028-11-17 expire.
    clock.now = dt.datetime(2028, 11, 17, 16, 0, tzinfo=dt.UTC)
    assert clock.now.astimezone(SHANGHAI).date() == dt.date(2028, 11, 18)
    assert adjustments.run_expiry(ctx) == 50
    assert ledger(ctx, regular)[-1] == ("expire", -50)
    assert balance(ctx, regular) == 399
    assert rows(ctx, "SELECT kind FROM outbox WHERE kind = 'expiry'") == [("expiry",)]
    assert_ledger_consistent(ctx)

    # Running it again changes nothing.
    with nothing_written(ctx):
        assert adjustments.run_expiry(ctx) == 0

    # Past 24 months of everything: the rest expires, lot by lot, in one entry per member.
    clock.set(2029, 3, 1, 9, 0)
    assert adjustments.run_expiry(ctx) == 399
    assert balance(ctx, regular) == 0
    assert ledger(ctx, regular)[-1] == ("expire", -399)
    assert all(remaining == 0 for _p, remaining, _e in lots(ctx, regular))
    with nothing_written(ctx):
        assert adjustments.run_expiry(ctx) == 0
    assert_ledger_consistent(ctx)


def test_expiry_run_over_many_members_in_batches(ctx, cashier, clock):
    ids = [members.register(ctx, phone=f"1390000{i:04d}").id for i in range(7)]
    clock.set(2029, 1, 1, 9, 0)
    assert adjustments.run_expiry(ctx, batch=3) == 700
    assert all(balance(ctx, m) == 0 for m in ids)
    assert scalar(ctx, "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'expire'") == 7
    with nothing_written(ctx):
        assert adjustments.run_expiry(ctx, batch=3) == 0
    assert_ledger_consistent(ctx)


def test_expiry_with_explicit_time(ctx, member):
    assert adjustments.run_expiry(ctx, dt.datetime(2028, 11, 18, 0, 0, 1, tzinfo=SHANGHAI)) == 100
    assert balance(ctx, member.id) == 0
