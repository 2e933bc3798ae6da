"""The contract with the real till: HQ accepts the outbox events ``pos_app/services``
writes, exactly as they are stored, and ends with the same balance as the till."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pos_app.core.quote import BasketLine
from pos_app.hq import adjustments as hq_adjustments
from pos_app.services import adjustments, auth, checkout, members, refunds
from pos_app.services.context import TillContext, open_till
from pos_app.services.sync.push import pending_events
from pos_app.store.repo import AUDIT_KIND
from pos_app.store.types import new_id
from tests.hq.conftest import HQ

TEA = BasketLine("TEA", "龙井茶叶", "food", 2, 5000)
CUP = BasketLine("CUP", "白瓷杯", "home", 1, 3000)


@dataclass
class Counter:
    """A real till registered with HQ's phone key: a cashier, a manager, one member."""

    ctx: TillContext
    cashier: auth.UserInfo
    manager: auth.UserInfo
    member: members.MemberSummary

    def sell(self, lines: list[BasketLine], points: int = 0) -> checkout.SaleResult:
        q = checkout.quote(self.ctx, lines, member_id=self.member.id, points_to_use=points)
        return checkout.complete_sale(
            self.ctx,
            sale_id=new_id(),
            lines=lines,
            member_id=self.member.id,
            tenders=[checkout.TenderInput("cash", q.cash_due_fen)],
            cashier_id=self.cashier.id,
            points_to_use=points,
        )

    def refund(self, sale: checkout.SaleResult, units: int) -> refunds.RefundResult:
        """Refund ``units`` of the sale's first line, approved by the manager."""
        return refunds.refund(
            self.ctx,
            refund_id=new_id(),
            receipt_no=sale.receipt_no,
            request={checkout_line_id(self.ctx, sale.sale_id): units},
            cashier_id=self.cashier.id,
            manager_id=self.manager.id,
            manager_pin="9999",
            reason="测试退货",
        )


@contextmanager
def counter(hq: HQ, folder: Path) -> Iterator[Counter]:
    ctx = open_till(folder / "till.sqlite", store_id="001", till_id="01", clock=hq.clock)
    try:
        ctx.phone_key = hq.phone_key  # HQ hands its key to the till at registration
        yield Counter(
            ctx,
            auth.create_user(ctx, "王收银", "cashier", "1111"),
            auth.create_user(ctx, "李店长", "manager", "9999"),
            members.register(ctx, phone="13812341234", name="张三"),
        )
    finally:
        ctx.db.close()


def test_the_tills_own_outbox_is_applied_and_balances_agree(hq: HQ, tmp_path: Path) -> None:
    with counter(hq, tmp_path) as till:
        ctx, member, manager = till.ctx, till.member, till.manager
        # HQ knows the till's manager: her adjustment names her (docs/security.md)
        hq_adjustments.add_manager(hq.db, "001", manager.id, manager.name, hq.clock())
        till.sell([TEA, CUP])  # first purchase, x5
        hq.clock.advance(minutes=10)
        second = till.sell([TEA, CUP], 100)  # spends 100 points
        till.refund(second, 1)
        adjustments.adjust_points(
            ctx,
            member_id=member.id,
            points=-50,
            reason="发错积分",
            manager_id=manager.id,
            manager_pin="9999",
        )
        outbox = _outbox(ctx)  # the JSON text of each payload, exactly as stored
        assert [e["kind"] for e in outbox] == [
            "member_registered",
            "sale",
            "sale",
            "refund",
            "adjustment",
        ]
        results = _send(hq, outbox)
        assert [r["result"].get("flags", []) for r in results] == [[]] * 5
        assert results[1]["result"]["verified"]
        assert results[2]["result"]["verified"]
        till_balance = members.summary(ctx, member.id).balance
        view = hq.member(member.id)
        assert view["balance"] == view["ledger_sum"] == till_balance > 0
        assert view["tier"] == members.summary(ctx, member.id).tier
        # and again, as a till whose reply was lost would: nothing changes
        again = _send(hq, [dict(e, payload=json.loads(str(e["payload"]))) for e in outbox])
        assert all(r["replayed"] for r in again)
        assert hq.member(member.id)["balance"] == till_balance


def checkout_line_id(ctx: object, sale_id: str) -> str:
    from pos_app.store.models import SaleLine

    with ctx.db.read() as s:  # type: ignore[attr-defined]
        return str(
            s.scalars(
                select(SaleLine.id).where(SaleLine.sale_id == sale_id).order_by(SaleLine.line_no)
            ).first()
        )


def _outbox(ctx: TillContext) -> list[dict[str, object]]:
    """The till's outbox events in order, each payload the JSON text its push sends
    (``pending_events``: a registration gets its personal fields from the member row;
    audit events are held for an HQ that lists them)."""
    with ctx.db.read() as s:
        return [
            {
                "id": ev.id,
                "kind": ev.kind,
                "payload": ev.payload,
                "created_at": ev.created_at.isoformat(),
            }
            for ev in pending_events(s, 10_000, {AUDIT_KIND})
        ]


def _send(hq: HQ, events: list[dict[str, object]]) -> list[dict[str, Any]]:
    return hq.push_ok(hq.till1, *events)


def test_a_refund_after_the_earned_points_expired_agrees_with_hq(hq: HQ, tmp_path: Path) -> None:
    """The till leaves expired earned points alone on a refund; HQ, checking the refund
    against its own ledger, sees the same expiry and raises no flag."""
    with counter(hq, tmp_path) as till:
        ctx, member = till.ctx, till.member
        sale = till.sell([BasketLine("KETTLE", "电水壶", "home", 3, 10_000)])
        hq.clock.advance(days=30)
        first = till.refund(sale, 1)
        assert first.quote.points_reversed == sale.points_earned // 3
        assert first.quote.expired_points == 0
        hq.clock.advance(days=800)  # past the 24-month expiry of every lot
        assert adjustments.run_expiry(ctx) > 0
        assert members.summary(ctx, member.id).balance == 0
        rest = till.refund(sale, 2)
        assert rest.quote.points_reversed == 0
        assert rest.quote.expired_points == sale.points_earned - first.quote.points_reversed
        assert rest.quote.cash_deducted_fen == 0

        events = _outbox(ctx)
        assert [e["kind"] for e in events] == [
            "member_registered",
            "sale",
            "refund",
            "expiry",
            "refund",
        ]
        results = _send(hq, events)
        assert [r["result"].get("flags", []) for r in results] == [[]] * 5
        view = hq.member(member.id)
        assert view["balance"] == view["ledger_sum"] == members.summary(ctx, member.id).balance


def test_hq_flags_a_refund_that_takes_back_too_little(hq: HQ, tmp_path: Path) -> None:
    """Without an expiry to explain it, a refund that takes back fewer earned points than
    the refunded part earned is flagged for review."""
    with counter(hq, tmp_path) as till:
        ctx = till.ctx
        till.refund(till.sell([TEA]), 2)
        events = _outbox(ctx)
        payload = json.loads(str(events[-1]["payload"]))
        (reversal,) = [e for e in payload["entries"] if e["kind"] == "refund_reversal"]
        reversal["points"] += 10  # ten points fewer taken back than earned
        events[-1]["payload"] = payload
        results = _send(hq, events)
        flags = results[-1]["result"].get("flags", [])
        assert flags == ["refund_mismatch"]
