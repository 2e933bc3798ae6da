"""The till and HQ measure the same history the same way.

One member's history (registration, purchases across the tier window, partial and whole
refunds, a refund of a sale from before the window, expired earned points, spent points)
is made on a real till (SQLite, ``pos_app/services``) and pushed to HQ (PostgreSQL) step
by step, as a connected till does. After every step the two sides must agree on the
balance, the tier, the tier-window figures (spend and purchase points), what each sale
has had refunded, what its refunds may still take back, and the quote of refunding what
is left of every sale. Both sides call the same ``pos_app.core`` formulas over their own
rows: if either side's query or formula drifts, a comparison here fails.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from pos_app.core.quote import BasketLine
from pos_app.core.refunds import RefundQuote, quote_refund
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import review_tier, window_start_at
from pos_app.hq import jobs
from pos_app.hq import ledger as hq_ledger
from pos_app.hq.models import SaleLine as HQSaleLine
from pos_app.services import adjustments, checkout, members, refunds
from pos_app.services.sync.push import with_personal
from pos_app.store import repo
from pos_app.store.models import OutboxEvent
from pos_app.store.repo import AUDIT_KIND
from pos_app.store.types import new_id
from tests.hq.conftest import HQ
from tests.hq.test_till_contract import Counter, counter

KETTLE = BasketLine("KETTLE", "电水壶", "home", 3, 10_000)
TEA = BasketLine("TEA", "龙井茶叶", "food", 2, 5000)
CUP = BasketLine("CUP", "白瓷杯", "home", 1, 3000)
RICE = BasketLine("RICE", "五常大米", "food", 3, 3340)
WOK = BasketLine("WOK", "铁锅", "home", 2, 50_000)


@dataclass
class Parity:
    """A till pushing to HQ, and what the comparisons saw (so the test can say the
    history covered what it means to cover)."""

    hq: HQ
    till: Counter
    sales: list[checkout.SaleResult] = field(default_factory=list)
    pushed_seq: int = 0
    tiers: list[str] = field(default_factory=list)
    expired_seen: int = 0

    @property
    def rules(self) -> RuleSet:
        return self.till.ctx.rules

    def sell(self, lines: list[BasketLine], points: int = 0) -> checkout.SaleResult:
        sale = self.till.sell(lines, points)
        self.sales.append(sale)
        return sale

    def refund(self, sale: checkout.SaleResult, units: dict[str, int]) -> RefundQuote:
        """Refund ``units`` (sku -> units) of ``sale``, approved by the manager."""
        view = refunds.find_sale(self.till.ctx, sale.receipt_no)
        by_sku = {ln.sku: ln.id for ln in view.lines}
        return refunds.refund(
            self.till.ctx,
            refund_id=new_id(),
            receipt_no=sale.receipt_no,
            request={by_sku[sku]: n for sku, n in units.items()},
            cashier_id=self.till.cashier.id,
            manager_id=self.till.manager.id,
            manager_pin="9999",
            reason="测试退货",
        ).quote

    def push(self) -> None:
        """Push the till's new outbox events; HQ applies each without a flag."""
        with self.till.ctx.db.read() as s:
            rows = s.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.seq > self.pushed_seq)
                .order_by(OutboxEvent.seq)
            ).all()
            events = [
                {
                    "id": r.id,
                    "kind": r.kind,
                    # the JSON text as the till's push sends it (services/sync/push.py)
                    "payload": with_personal(s, r.kind, r.payload),
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
                if r.kind != AUDIT_KIND  # held for an HQ that lists the kind
            ]
            self.pushed_seq = max([self.pushed_seq, *(r.seq for r in rows)])
        if events:
            results = self.hq.push_ok(self.hq.till1, *events)
            assert [r["result"].get("flags", []) for r in results] == [[]] * len(events)

    def check(self) -> None:
        """Push, then compare every figure the two sides keep or compute."""
        self.push()
        ctx, member_id = self.till.ctx, self.till.member.id
        summary = members.summary(ctx, member_id)
        view = self.hq.member(member_id)
        assert summary.balance == view["balance"] == view["ledger_sum"]
        assert summary.tier == view["tier"]
        self.tiers.append(summary.tier)
        since = window_start_at(self.rules, ctx.now())
        with self.hq.db.read() as s:
            hq_window = (
                hq_ledger.spend_since(s, member_id, since),
                hq_ledger.purchase_points_between(s, [member_id], since),
            )
            assert (summary.spend_12m_fen, summary.points_12m) == hq_window
            for sale in self.sales:
                self._check_sale(s, sale, view["balance"])

    def _check_sale(self, hq_session: Any, sale: checkout.SaleResult, balance: int) -> None:
        ctx = self.till.ctx
        lines = refunds.find_sale(ctx, sale.receipt_no).lines
        with ctx.db.read() as ts:
            till_reversible = repo.reversible_earned_points(ts, sale.sale_id)
        hq_done = hq_ledger.refunded_quantities(hq_session, sale.sale_id)
        hq_reversible = hq_ledger.reversible_earned_points(hq_session, sale.sale_id)
        assert {ln.id: ln.refunded_qty for ln in lines if ln.refunded_qty} == hq_done
        assert till_reversible == hq_reversible
        left = {
            ln.id: ln.quantity - ln.refunded_qty for ln in lines if ln.refunded_qty < ln.quantity
        }
        if not left:
            return
        till_quote = refunds.preview_refund(ctx, sale.receipt_no, left)
        hq_lines = hq_session.scalars(
            select(HQSaleLine).where(HQSaleLine.sale_id == sale.sale_id)
        ).all()
        sold = hq_ledger.as_sold_lines(hq_lines, hq_done)
        hq_quote = quote_refund(
            self.rules, sold, left, balance=balance, reversible_points=hq_reversible
        )
        assert _figures(till_quote) == _figures(hq_quote)
        self.expired_seen = max(self.expired_seen, till_quote.expired_points)


def _figures(quote: RefundQuote) -> dict[str, Any]:
    """What a refund quote hands back and moves (each line's split of the points value
    is display only: the till quotes it as 0)."""
    fields = dataclasses.asdict(quote)
    fields["lines"] = [(ln["line_id"], ln["quantity"], ln["cash_fen"]) for ln in fields["lines"]]
    return fields


def test_the_till_and_hq_agree_on_tiers_refunds_and_balances(hq: HQ, tmp_path: Path) -> None:
    clock = hq.clock  # 2026-11-17 10:00, Shanghai
    with counter(hq, tmp_path) as till:
        till.ctx.online = lambda: True  # each step reaches HQ: no offline spending cap
        p = Parity(hq, till)
        p.check()  # registered: the bonus, the lowest tier

        kettles = p.sell([KETTLE])  # 300.00, first purchase: silver
        p.check()
        clock.advance(days=54)  # 2027-01-10
        tea = p.sell([TEA, CUP], points=1000)
        p.check()
        clock.advance(days=22)
        p.refund(kettles, {"KETTLE": 1})  # part of a sale
        p.check()
        clock.advance(days=28)  # 2027-03-01
        rice = p.sell([RICE], points=200)
        p.refund(tea, {"TEA": 2, "CUP": 1})  # all of a sale
        p.check()
        p.refund(rice, {"RICE": 1})
        clock.advance(hours=2)
        p.refund(rice, {"RICE": 1})  # the cumulative rounding of one line
        p.check()

        clock.advance(days=270)  # 2027-11-26: the kettles' sale has left the window
        spend_before = members.summary(till.ctx, till.member.id).spend_12m_fen
        p.refund(kettles, {"KETTLE": 2})  # a sale from before the window
        p.check()
        assert members.summary(till.ctx, till.member.id).spend_12m_fen == spend_before
        woks = p.sell([WOK, CUP])  # 1,030.00 in the window: gold
        p.check()
        assert p.tiers[-1] == "gold"

        clock.advance(days=740)  # 2029-12-05: the lots of 2027 have expired
        assert adjustments.run_expiry(till.ctx) > 0
        p.check()
        assert p.expired_seen > 0  # quoting the woks' refund excuses expired points
        p.refund(woks, {"WOK": 1})
        p.check()
        p.sell([TEA])
        p.check()
        p.sell([TEA], points=200)  # spends points again
        p.check()

        clock.advance(days=28)  # 2030-01-02: HQ's yearly review
        review_day = clock()
        jobs.run_tier_review(hq.db, review_day, jobs.JobReport())
        summary = members.summary(till.ctx, till.member.id)
        expected = review_tier(p.rules, summary.spend_12m_fen, summary.points_12m)
        assert hq.member(till.member.id)["tier"] == expected == "regular" != summary.tier
    assert p.tiers[:3] == ["regular", "silver", "silver"]
