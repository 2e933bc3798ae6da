"""PINs cannot be guessed: wrong ones slow down and lock out, per user and per till, at
login and at approval, each audited; the approval names its manager, who may not approve
her own refund unless the rules allow; a refund needs a reason."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pos_app.core.errors import InvalidInput
from pos_app.core.rules import default_rule_set, load_rule_set
from pos_app.services import auth, refunds
from pos_app.services.auth import PIN_POLICY, PinLocked
from pos_app.services.errors import AuthError
from pos_app.store.types import new_id
from tests.services.support import BASKET, CASHIER_PIN, MANAGER_PIN, nothing_written, rows, sell


def pin_audit(ctx) -> list[tuple[str, str, dict]]:
    return [
        (action, subject, json.loads(detail))
        for action, subject, detail in rows(
            ctx,
            "SELECT action, subject, detail FROM audit_log WHERE action LIKE 'pin_%' ORDER BY seq",
        )
    ]


def test_200_wrong_pins_then_the_right_one_is_not_let_in(ctx, cashier, clock):
    """The attack of the issue: 200 wrong PINs, then the right one, accepted at once."""
    for n in range(200):
        with pytest.raises(AuthError):
            auth.verify_pin(ctx, cashier.id, f"{n:04d}" if f"{n:04d}" != CASHIER_PIN else "0")
    with pytest.raises(PinLocked, match="try again in"):
        auth.verify_pin(ctx, cashier.id, CASHIER_PIN)
    # Only the first few were even checked; every later one (and the right PIN) was
    # refused unchecked while the wait ran, and audited as such.
    failed = [a for a in pin_audit(ctx) if a[0] == "pin_failed"]
    assert len(failed) == PIN_POLICY.free_failures + 1
    assert len([a for a in pin_audit(ctx) if a[0] == "pin_blocked"]) == 201 - len(failed)


def test_the_delay_grows_then_locks_out(ctx, cashier, clock):
    waits: list[int] = []
    for _ in range(PIN_POLICY.lock_after):
        clock.advance(seconds=waits[-1] if waits else 0)  # wait it out, then guess again
        with pytest.raises(AuthError) as info:
            auth.verify_pin(ctx, cashier.id, "0000")
        waits.append(info.value.params.get("seconds", 0))
    assert waits[: PIN_POLICY.free_failures] == [0] * PIN_POLICY.free_failures
    assert waits[PIN_POLICY.free_failures : PIN_POLICY.free_failures + 3] == [5, 10, 20]
    assert waits[-1] == PIN_POLICY.lockout_s
    assert waits == sorted(waits)
    # Locked out: even the right PIN is refused until the lockout ends.
    clock.advance(seconds=PIN_POLICY.lockout_s - 1)
    with pytest.raises(PinLocked):
        auth.verify_pin(ctx, cashier.id, CASHIER_PIN)
    clock.advance(seconds=1)
    assert auth.verify_pin(ctx, cashier.id, CASHIER_PIN).id == cashier.id
    # A right PIN starts the count again.
    with pytest.raises(AuthError) as info:
        auth.verify_pin(ctx, cashier.id, "0000")
    assert not isinstance(info.value, PinLocked)


def test_each_failure_is_audited_with_its_purpose_and_no_pin(ctx, cashier, manager, clock):
    with pytest.raises(AuthError):
        auth.verify_pin(ctx, cashier.id, "4827")
    with pytest.raises(AuthError):
        auth.verify_manager(ctx, manager.id, "3619")
    audit = pin_audit(ctx)
    assert [(a, s, d["purpose"], d["failures"]) for a, s, d in audit] == [
        ("pin_failed", cashier.id, "login", 1),
        ("pin_failed", manager.id, "approval", 1),
    ]
    (blob,) = rows(ctx, "SELECT group_concat(detail || subject || actor_id) FROM audit_log")[0]
    assert "4827" not in blob
    assert "3619" not in blob


def test_approval_shares_the_count_with_login(ctx, manager, clock):
    for _ in range(PIN_POLICY.free_failures + 1):
        with pytest.raises(AuthError):
            auth.verify_manager(ctx, manager.id, "0000")
    with pytest.raises(PinLocked):
        auth.verify_pin(ctx, manager.id, MANAGER_PIN)  # nor may she log in meanwhile


def test_many_users_guessed_on_one_till_block_the_till(ctx, cashier, clock):
    names = [auth.create_user(ctx, f"收银{i}", "cashier", f"{5000 + i}") for i in range(10)]
    for n in range(PIN_POLICY.till_failures):
        user = names[n % len(names)]  # spread over users: no user reaches a delay
        with pytest.raises(AuthError) as info:
            auth.verify_pin(ctx, user.id, "0000")
        assert not isinstance(info.value, PinLocked)
    with pytest.raises(PinLocked):
        auth.verify_pin(ctx, cashier.id, CASHIER_PIN)  # nobody's PIN is taken now
    assert [a for a, _s, _d in pin_audit(ctx)].count("pin_till_locked") == 1
    clock.advance(seconds=PIN_POLICY.till_lockout_s)
    assert auth.verify_pin(ctx, cashier.id, CASHIER_PIN).id == cashier.id


def test_old_failures_leave_the_till_window(ctx, cashier, clock):
    other = auth.create_user(ctx, "赵收银", "cashier", "2222")
    for n in range(PIN_POLICY.till_failures - 1):
        with pytest.raises(AuthError):
            auth.verify_pin(ctx, (cashier, other)[n % 2].id, "0000")
        clock.advance(seconds=PIN_POLICY.lockout_s)  # each user waits out any delay
        auth.verify_pin(ctx, (cashier, other)[n % 2].id, (CASHIER_PIN, "2222")[n % 2])
    clock.advance(seconds=PIN_POLICY.till_window_s + 1)
    with pytest.raises(AuthError) as info:
        auth.verify_pin(ctx, cashier.id, "0000")
    assert not isinstance(info.value, PinLocked)
    assert auth.verify_pin(ctx, cashier.id, CASHIER_PIN).id == cashier.id


# -- approvals ------------------------------------------------------------------------------


def _refund(ctx, cashier_id, manager_id, pin, receipt, line_id, reason="顾客退货"):
    return refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=receipt,
        request={line_id: 1},
        cashier_id=cashier_id,
        manager_id=manager_id,
        manager_pin=pin,
        reason=reason,
    )


def test_a_manager_cannot_approve_her_own_refund(ctx, cashier, manager, regular):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea = refunds.find_sale(ctx, sale.receipt_no).lines[0]
    with nothing_written(ctx), pytest.raises(AuthError, match="her own refund"):
        _refund(ctx, manager.id, manager.id, MANAGER_PIN, sale.receipt_no, tea.id)
    other = auth.create_user(ctx, "周店长", "manager", "7777")
    done = _refund(ctx, manager.id, other.id, "7777", sale.receipt_no, tea.id)
    assert rows(
        ctx, "SELECT cashier_id, approved_by FROM refunds WHERE id = :i", i=done.refund_id
    ) == [(manager.id, other.id)]


def test_the_rule_set_may_allow_self_approval(ctx, cashier, manager, regular):
    document = json.loads(default_rule_set().to_json())
    document["version"] = "self-approval"
    document["refunds"]["self_approval"] = True
    ctx.install_rule_set(load_rule_set(document))
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea = refunds.find_sale(ctx, sale.receipt_no).lines[0]
    done = _refund(ctx, manager.id, manager.id, MANAGER_PIN, sale.receipt_no, tea.id)
    assert done.refund_no


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_a_refund_needs_a_reason(ctx, cashier, manager, regular, reason):
    sale = sell(ctx, cashier.id, regular, BASKET)
    tea = refunds.find_sale(ctx, sale.receipt_no).lines[0]
    with nothing_written(ctx), pytest.raises(InvalidInput, match="reason"):
        _refund(ctx, cashier.id, manager.id, MANAGER_PIN, sale.receipt_no, tea.id, reason)
    assert pin_audit(ctx) == []  # refused before any PIN was checked


def test_there_is_no_approval_by_pin_alone(ctx):
    assert not hasattr(auth, "find_manager_by_pin")
    assert [u.role for u in auth.list_managers(ctx)] == ["manager"]


def test_pin_waits_are_measured_on_the_tills_clock(ctx, cashier, clock):
    for _ in range(PIN_POLICY.free_failures + 1):
        with pytest.raises(AuthError):
            auth.verify_pin(ctx, cashier.id, "0000")
    (until,) = rows(
        ctx, "SELECT blocked_until FROM pin_attempts WHERE scope = :s", s=f"user:{cashier.id}"
    )[0]
    assert dt.datetime.fromisoformat(until) == clock.now + dt.timedelta(
        seconds=PIN_POLICY.first_delay_s
    )
