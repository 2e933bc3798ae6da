from __future__ import annotations

from pos_app.core.quote import BasketLine
from pos_app.services import checkout, members, refunds
from pos_app.store.checks import balance_mismatches
from pos_app.store.types import new_id


def test_end_to_end(ctx, cashier, manager, member):
    assert member.balance == 100
    hit = members.find_by_phone(ctx, "138 1234 1234")
    assert hit.id == member.id
    lines = [BasketLine("A", "茶叶", "food", 2, 5000), BasketLine("B", "杯子", "home", 1, 3000)]
    q = checkout.quote(ctx, lines, member_id=member.id, points_to_use=0)
    assert q.max_usable_points == 100
    sale_id = new_id()
    res = checkout.complete_sale(ctx, sale_id=sale_id, lines=lines, member_id=member.id,
                                 tenders=[checkout.TenderInput("cash", 12900, 13000)],
                                 cashier_id=cashier.id, points_to_use=100)
    print(res)
    again = checkout.complete_sale(ctx, sale_id=sale_id, lines=lines, member_id=member.id,
                                   tenders=[checkout.TenderInput("cash", 12900, 13000)],
                                   cashier_id=cashier.id, points_to_use=100)
    assert again.replayed and again.receipt_no == res.receipt_no
    view = refunds.find_sale(ctx, res.receipt_no)
    r = refunds.refund(ctx, refund_id=new_id(), receipt_no=res.receipt_no,
                       request={view.lines[1].id: 1}, cashier_id=cashier.id,
                       manager_id=manager.id, manager_pin="9999")
    print(r)
    with ctx.db.read() as s:
        assert balance_mismatches(s) == []
