"""The contract with the real till: HQ accepts the outbox events ``pos_app/services``
writes, exactly as they are stored, and ends with the same balance as the till."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from pos_app.core.quote import BasketLine
from pos_app.services import adjustments, auth, checkout, members, refunds
from pos_app.services.context import open_till
from pos_app.store.models import OutboxEvent
from pos_app.store.types import new_id
from tests.hq.conftest import HQ

TEA = BasketLine("TEA", "龙井茶叶", "food", 2, 5000)
CUP = BasketLine("CUP", "白瓷杯", "home", 1, 3000)


def test_the_tills_own_outbox_is_applied_and_balances_agree(hq: HQ, tmp_path: Path) -> None:
    ctx = open_till(tmp_path / "till.sqlite", store_id="001", till_id="01", clock=hq.clock)
    try:
        ctx.phone_key = hq.phone_key  # HQ hands its key to the till at registration
        cashier = auth.create_user(ctx, "王收银", "cashier", "1111")
        manager = auth.create_user(ctx, "李店长", "manager", "9999")
        member = members.register(ctx, phone="13812341234", name="张三")
        lines = [TEA, CUP]

        def sell(points: int) -> checkout.SaleResult:
            q = checkout.quote(ctx, lines, member_id=member.id, points_to_use=points)
            tenders = [checkout.TenderInput("cash", q.cash_due_fen)]
            return checkout.complete_sale(
                ctx,
                sale_id=new_id(),
                lines=lines,
                member_id=member.id,
                tenders=tenders,
                cashier_id=cashier.id,
                points_to_use=points,
            )

        sell(0)  # first purchase, x5
        hq.clock.advance(minutes=10)
        second = sell(100)  # spends 100 points
        refunds.refund(
            ctx,
            refund_id=new_id(),
            receipt_no=second.receipt_no,
            request={checkout_line_id(ctx, second.sale_id): 1},
            cashier_id=cashier.id,
            manager_id=manager.id,
            manager_pin="9999",
        )
        adjustments.adjust_points(
            ctx,
            member_id=member.id,
            points=-50,
            reason="发错积分",
            manager_id=manager.id,
            manager_pin="9999",
        )
        with ctx.db.read() as s:
            outbox = [
                {
                    "id": row.id,
                    "kind": row.kind,
                    "payload": row.payload,  # the JSON text, exactly as stored
                    "created_at": row.created_at.isoformat(),
                }
                for row in s.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
            ]
        assert [e["kind"] for e in outbox] == [
            "member_registered",
            "sale",
            "sale",
            "refund",
            "adjustment",
        ]
        results = hq.push_ok(hq.till1, *outbox)
        assert [r["result"].get("flags", []) for r in results] == [[]] * 5
        assert results[1]["result"]["verified"]
        assert results[2]["result"]["verified"]
        till_balance = members.summary(ctx, member.id).balance
        view = hq.member(member.id)
        assert view["balance"] == view["ledger_sum"] == till_balance > 0
        assert view["tier"] == members.summary(ctx, member.id).tier
        # and again, as a till whose reply was lost would: nothing changes
        again = hq.push_ok(hq.till1, *[dict(e, payload=json.loads(e["payload"])) for e in outbox])
        assert all(r["replayed"] for r in again)
        assert hq.member(member.id)["balance"] == till_balance
    finally:
        ctx.db.close()


def checkout_line_id(ctx: object, sale_id: str) -> str:
    from pos_app.store.models import SaleLine

    with ctx.db.read() as s:  # type: ignore[attr-defined]
        return str(
            s.scalars(
                select(SaleLine.id).where(SaleLine.sale_id == sale_id).order_by(SaleLine.line_no)
            ).first()
        )
