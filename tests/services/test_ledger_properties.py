"""A stateful property test: long random sequences of till operations on a real file.

The machine drives the real services (registration, sales, refunds, manual adjustments,
clock advances and expiry runs, going offline and syncing) against a fresh SQLite file
per example and checks after every step that

* every member's cached balance == ledger sum, lots == max(balance, 0);
* no balance is below the rule set's floor;
* no sequence mints points: what purchases leave a member is bounded by what the sales
  that are still paid for earned (partial refunds pro rata) and by the cash they paid,
  bonuses are exactly the registration and referral bonuses due, and buying then
  refunding everything leaves the balance where it was (plus bonuses);
* a refused operation wrote nothing;
* tiers only go up, expired lots are emptied, the offline allowance holds.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import itertools
import json
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from pos_app.core.errors import InsufficientPoints, InvalidInput, RefundNotAllowed, SpendNotAllowed
from pos_app.core.quote import BasketLine
from pos_app.core.rules import RuleSet, default_rule_set, load_rule_set
from pos_app.core.tiers import qualified_tier, window_start
from pos_app.services import adjustments, auth, checkout, members, refunds
from pos_app.services.context import TillContext, open_till
from pos_app.services.errors import AuthError, ConflictError, PaymentError
from pos_app.store import repo
from pos_app.store.checks import balance_mismatches
from pos_app.store.types import new_id
from tests.services.conftest import SHANGHAI, Clock
from tests.services.support import CASHIER_PIN, MANAGER_PIN, db_state

START = dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI)
# Hundreds of durable (synchronous=FULL) commits per example: on a RAM file system when
# there is one, so the run measures the ledger logic rather than the disk's fsync.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

PRODUCTS = [
    ("RICE", "东北大米", "food"),
    ("CUP", "保温杯", "home"),
    ("SOAP", "洗衣液", "home"),
    ("GC", "礼品卡", "gift_card"),  # earns nothing, cannot be paid with points
]
prices = st.one_of(
    st.integers(1, 40_000),
    st.sampled_from([3_333, 5_000, 9_999, 12_345]),
    st.sampled_from([250_000, 1_500_000]),  # now and then big enough to hit the caps
)
basket_lines = st.lists(
    st.builds(
        lambda product, qty, price, discount: BasketLine(
            product[0], product[1], product[2], qty, price, min(discount, qty * price)
        ),
        st.sampled_from(PRODUCTS),
        st.integers(1, 4),
        prices,
        st.one_of(st.just(0), st.integers(0, 2_000)),
    ),
    min_size=1,
    max_size=3,
)


@functools.cache
def template() -> Path:
    """A migrated till file with two users, copied for every example."""
    folder = Path(tempfile.mkdtemp(prefix="till-props-template-", dir=SCRATCH))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "till.sqlite"
    ctx = open_till(path)
    auth.create_user(ctx, "王收银", "cashier", CASHIER_PIN)
    auth.create_user(ctx, "李店长", "manager", MANAGER_PIN)
    ctx.db.close()
    return path


@dataclass
class MemberModel:
    referred_by: str | None
    bonus: int = 0  # bonus points due
    adjusted: int = 0  # net manual adjustments
    purchased: bool = False
    tier_rank: int = 0


@dataclass
class SaleModel:
    sale_id: str
    receipt_no: str
    member_id: str
    cash_in: int  # fen taken
    total: int  # order total (fen), the tier "spend"
    at: dt.datetime
    lines: dict[str, tuple[int, int, int]]  # line id -> (quantity, earned, points used)
    line_cash: dict[str, int]  # line id -> cash paid for the whole line
    refunded: dict[str, int] = field(default_factory=dict)  # line id -> units refunded
    cash_out: int = 0  # fen handed back
    deducted: int = 0  # fen kept back for spent points (deduct_cash)


class TillLedgerMachine(RuleBasedStateMachine):
    """Drive the services with random operations; check the ledger after each."""

    members_b = Bundle("members")
    sales_b = Bundle("sales")

    def rule_set(self) -> RuleSet:
        return default_rule_set()

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="till-props-", dir=SCRATCH))
        path = self.folder / "till.sqlite"
        shutil.copyfile(template(), path)
        self.clock = Clock(START)
        self.online = True
        self.ctx: TillContext = open_till(path, clock=self.clock, online=lambda: self.online)
        rules = self.rule_set()
        if rules.version != self.ctx.rules.version:
            self.ctx.install_rule_set(rules)
        self.rules = self.ctx.rules
        # Points value == points in the checks below (100 points = 1 yuan).
        assert self.rules.spending.points_per_yuan == 100
        users = {u.role: u for u in auth.list_users(self.ctx)}
        self.cashier, self.manager = users["cashier"], users["manager"]
        self.phones = itertools.count(1)
        self.members: dict[str, MemberModel] = {}
        self.phone_of: dict[str, str] = {}
        self.sales: dict[str, SaleModel] = {}
        self.last_sale: dict[str, Any] | None = None
        best_promo = max(
            (Fraction(p.multiplier) for p in self.rules.earning.promotions), default=Fraction(1)
        )
        best_tier = max(Fraction(m) for m in self.rules.earning.tier_multipliers.values())
        self.max_multiplier = best_tier * max(best_promo, Fraction(1))

    def teardown(self) -> None:
        self.ctx.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------
    def refused(self, errors: Any, call: Any, *args: Any, **kwargs: Any) -> Exception:
        """Run ``call``, which must raise one of ``errors`` and write nothing."""
        before = db_state(self.ctx)
        with pytest.raises(errors) as info:
            call(*args, **kwargs)
        assert db_state(self.ctx) == before, f"{call.__name__} was refused but wrote"
        return info.value

    def balance(self, member_id: str) -> int:
        return int(self.scalar("SELECT balance FROM members WHERE id = :m", m=member_id))

    def floor(self) -> int:
        if self.rules.refunds.when_earned_points_spent == "negative_balance":
            return self.rules.refunds.negative_floor
        return 0

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.ctx.db.read() as session:
            return session.execute(text(sql), params).scalar()

    # -- members ---------------------------------------------------------------------
    @initialize(target=members_b)
    def first_member(self) -> str:
        return self.register()

    @rule(target=members_b)
    def register(self) -> str:
        phone = f"138{next(self.phones):08d}"
        m = members.register(self.ctx, phone=phone, actor_id=self.cashier.id)
        self.phone_of[m.id] = phone
        self.members[m.id] = MemberModel(referred_by=None, bonus=self.rules.bonuses.registration)
        return m.id

    @rule(target=members_b, referrer=members_b)
    def register_referred(self, referrer: str) -> str:
        code = members.summary(self.ctx, referrer).referral_code
        phone = f"139{next(self.phones):08d}"
        m = members.register(self.ctx, phone=phone, referral_code=code.lower())
        self.phone_of[m.id] = phone
        self.members[m.id] = MemberModel(
            referred_by=referrer, bonus=self.rules.bonuses.registration
        )
        return m.id

    @rule(member=members_b)
    def register_duplicate_phone(self, member: str) -> None:
        phone = self.phone_of[member]
        typed = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
        self.refused(ConflictError, members.register, self.ctx, phone=typed)

    # -- sales ---------------------------------------------------------------------------
    def commit_sale(self, kwargs: dict[str, Any], due: int) -> checkout.SaleResult:
        """Complete a sale that must go through; check and record what it did."""
        member = kwargs["member_id"]
        model = self.members[member]
        before = self.balance(member)
        bonus_self = 0
        if not model.purchased and model.referred_by is not None:
            bonus_self = self.rules.bonuses.referral_friend
        result = checkout.complete_sale(self.ctx, **kwargs)
        assert not result.replayed
        assert result.points_used == kwargs["points_to_use"]
        assert result.cash_due_fen == due
        assert result.bonus_points == bonus_self
        assert result.balance_after == before - result.points_used + result.points_earned + (
            bonus_self
        )
        if not model.purchased:
            model.purchased = True
            if model.referred_by is not None:
                model.bonus += bonus_self
                self.members[model.referred_by].bonus += self.rules.bonuses.referral_referrer
        view = refunds.find_sale(self.ctx, result.receipt_no)
        self.sales[result.receipt_no] = SaleModel(
            sale_id=result.sale_id,
            receipt_no=result.receipt_no,
            member_id=member,
            cash_in=due,
            total=result.total_fen,
            at=result.created_at,
            lines={ln.id: (ln.quantity, ln.earn_points, ln.points_used) for ln in view.lines},
            line_cash={ln.id: ln.cash_fen for ln in view.lines},
        )
        self.last_sale = kwargs
        return result

    @rule(target=sales_b, member=members_b, lines=basket_lines, data=st.data())
    def sale(self, member: str, lines: list[BasketLine], data: st.DataObject) -> str:
        ctx = self.ctx
        # Time passes between visits, so members hold lots with different expiry dates.
        self.clock.advance(days=data.draw(st.sampled_from([0, 0, 1, 9, 45])))
        q0 = checkout.quote(ctx, lines, member_id=member)
        usable = q0.max_usable_points
        if not self.online:
            with ctx.db.read() as session:
                pending = repo.pending_offline_points(session, member)
            allowance = self.rules.spending.offline_allowance_points
            assert usable <= max(0, allowance - pending), "offline allowance overspent"
        unit = self.rules.spending.unit_points
        mode = data.draw(st.sampled_from(["none", "within", "max", "max", "beyond", "odd"]))
        points = 0
        if mode == "max":
            points = usable
        elif mode == "within" and usable:
            points = data.draw(st.integers(0, usable // unit)) * unit
        elif mode == "beyond":
            points = usable + unit * data.draw(st.integers(1, 5))
        elif mode == "odd":
            points = data.draw(st.integers(0, usable // unit)) * unit + unit // 2
        kwargs: dict[str, Any] = {
            "sale_id": new_id(),
            "lines": lines,
            "member_id": member,
            "tenders": [checkout.TenderInput("cash", q0.cash_due_fen - points)],
            "cashier_id": self.cashier.id,
            "points_to_use": points,
        }
        if points > usable or points % unit:
            self.refused(SpendNotAllowed, checkout.complete_sale, ctx, **kwargs)
            points = kwargs["points_to_use"] = 0
        due = checkout.quote(ctx, lines, member_id=member, points_to_use=points).cash_due_fen
        wrong_by = data.draw(st.sampled_from([0, 0, 0, 0, 1, -1, -due]))
        if wrong_by:
            kwargs["tenders"] = [checkout.TenderInput("cash", due + wrong_by)]
            self.refused(PaymentError, checkout.complete_sale, ctx, **kwargs)
        kwargs["tenders"] = [checkout.TenderInput("cash", due)] if due else []
        return self.commit_sale(kwargs, due).receipt_no

    @rule(
        target=sales_b,
        member=members_b,
        prices=st.lists(st.sampled_from([1_000_000, 1_500_000, 2_600_000]), min_size=2, max_size=3),
        use_points=st.booleans(),
    )
    def spree(self, member: str, prices: list[int], use_points: bool) -> Any:
        """Several big sales in a row: the per-order and per-day caps come into play."""
        receipts = []
        for price in prices:
            lines = [BasketLine("TV", "电视机", "home", 1, price)]
            q0 = checkout.quote(self.ctx, lines, member_id=member)
            points = q0.max_usable_points if use_points else 0
            due = q0.cash_due_fen - points
            kwargs = {
                "sale_id": new_id(),
                "lines": lines,
                "member_id": member,
                "tenders": [checkout.TenderInput("alipay", due)],
                "cashier_id": self.cashier.id,
                "points_to_use": points,
            }
            receipts.append(self.commit_sale(kwargs, due).receipt_no)
        return multiple(*receipts)

    @rule(target=sales_b, member=members_b, qty=st.integers(2, 4), refund_now=st.booleans())
    def spend_all_points(self, member: str, qty: int, refund_now: bool) -> str:
        """A basket big enough for the member to spend (nearly) every point, lot after lot;
        perhaps brought back unit by unit at once."""
        self.clock.advance(days=30)
        balance = max(self.balance(member), 0)
        price = max(5_000, balance * 100 // self.rules.spending.max_share_percent) // qty + 1
        lines = [BasketLine("SOFA", "沙发", "home", qty, price)]
        q0 = checkout.quote(self.ctx, lines, member_id=member)
        points = q0.max_usable_points
        due = q0.cash_due_fen - points
        kwargs = {
            "sale_id": new_id(),
            "lines": lines,
            "member_id": member,
            "tenders": [checkout.TenderInput("wechat", due)],
            "cashier_id": self.cashier.id,
            "points_to_use": points,
        }
        receipt = self.commit_sale(kwargs, due).receipt_no
        if refund_now:
            self.refund_unit_by_unit(receipt)
        return receipt

    @precondition(lambda self: self.last_sale is not None)
    @rule()
    def retry_last_sale(self) -> None:
        assert self.last_sale is not None
        before = db_state(self.ctx)
        again = checkout.complete_sale(self.ctx, **self.last_sale)
        assert again.replayed
        assert db_state(self.ctx) == before
        other = dict(self.last_sale, points_to_use=self.last_sale["points_to_use"] + 100)
        self.refused(ConflictError, checkout.complete_sale, self.ctx, **other)

    @rule(member=members_b, lines=basket_lines, with_points=st.booleans())
    def buy_and_refund_everything(
        self, member: str, lines: list[BasketLine], with_points: bool
    ) -> None:
        """Buy, earn, refund it all at once: the member ends no richer than the bonuses."""
        before = self.balance(member)
        bonus_before = self.members[member].bonus
        q0 = checkout.quote(self.ctx, lines, member_id=member)
        points = q0.max_usable_points if with_points else 0
        due = q0.cash_due_fen - points
        result = self.commit_sale(
            {
                "sale_id": new_id(),
                "lines": lines,
                "member_id": member,
                "tenders": [checkout.TenderInput("card", due)] if due else [],
                "cashier_id": self.cashier.id,
                "points_to_use": points,
            },
            due,
        )
        sale = self.sales[result.receipt_no]
        refund = refunds.refund(
            self.ctx,
            refund_id=new_id(),
            receipt_no=result.receipt_no,
            request={line_id: qty for line_id, (qty, _e, _p) in sale.lines.items()},
            cashier_id=self.cashier.id,
            manager_id=self.manager.id,
            manager_pin=MANAGER_PIN,
            reason="测试退货",
        )
        self.record_refund(sale, refund)
        assert refund.quote.cash_refund_fen == due
        assert self.balance(member) == before + self.members[member].bonus - bonus_before
        assert refunds.find_sale(self.ctx, result.receipt_no).fully_refunded

    @rule(member=members_b)
    def member_panel(self, member: str) -> None:
        """The tier window counts no refunded spend and the tier matches it."""
        summary = members.summary(self.ctx, member)
        assert summary.balance == self.balance(member)
        today = self.clock().astimezone(self.rules.zone).date()
        start = window_start(self.rules, today)
        in_window = [
            s
            for s in self.sales.values()
            if s.member_id == member and s.at.astimezone(self.rules.zone).date() >= start
        ]
        still_sold = [
            s
            for s in in_window
            if any(s.refunded.get(i, 0) < qty for i, (qty, _e, _p) in s.lines.items())
        ]
        # Each line counts for the unrefunded share of what it cost (cash + points value),
        # give or take the rounding of its refunds (at most 1 fen for each).
        low, high = Fraction(0), Fraction(0)
        for s in in_window:
            for line_id, (qty, _e, used) in s.lines.items():
                cost = s.line_cash[line_id] + used * 100 // self.rules.spending.points_per_yuan
                share = Fraction(cost * (qty - s.refunded.get(line_id, 0)), qty)
                low += share
                high += share + (2 if s.refunded.get(line_id) else 0)
        assert low <= summary.spend_12m_fen <= high
        assert sum(s.total for s in in_window) >= summary.spend_12m_fen
        if not still_sold:
            assert summary.spend_12m_fen == 0
            assert summary.points_12m <= sum(
                s.deducted * self.rules.spending.points_per_yuan // 100 for s in in_window
            )
        qualified = qualified_tier(self.rules, summary.spend_12m_fen, summary.points_12m)
        assert self.rules.tier_rank(summary.tier) >= self.rules.tier_rank(qualified)

    # -- refunds ----------------------------------------------------------------------------
    def record_refund(self, sale: SaleModel, result: refunds.RefundResult) -> None:
        for lq in result.quote.lines:
            sale.refunded[lq.line_id] = sale.refunded.get(lq.line_id, 0) + lq.quantity
        sale.cash_out += result.quote.cash_refund_fen
        sale.deducted += result.quote.cash_deducted_fen

    @rule(receipt=sales_b, data=st.data())
    def refund(self, receipt: str, data: st.DataObject) -> None:
        sale = self.sales[receipt]
        request: dict[str, int] = {}
        for line_no, (line_id, (qty, _e, _p)) in enumerate(sale.lines.items(), 1):
            left = qty - sale.refunded.get(line_id, 0)
            n = data.draw(st.integers(0, left + 1), label=f"units of line {line_no}")
            if n:
                request[line_id] = n
        if not request:
            line_id = data.draw(st.sampled_from(list(sale.lines)))  # line order, not random ids
            request[line_id] = 1
        over = any(n > sale.lines[i][0] - sale.refunded.get(i, 0) for i, n in request.items())
        call = functools.partial(
            refunds.refund,
            self.ctx,
            refund_id=new_id(),
            receipt_no=receipt,
            request=request,
            cashier_id=self.cashier.id,
            manager_id=self.manager.id,
            reason="测试退货",
        )
        if data.draw(st.integers(0, 9)) == 0:
            self.refused(AuthError, call, manager_pin=CASHIER_PIN)
            # Her right PIN clears the count (else wrong ones add up to a wait).
            auth.verify_manager(self.ctx, self.manager.id, MANAGER_PIN)
        if over:
            error = self.refused(RefundNotAllowed, call, manager_pin=MANAGER_PIN)
            assert "can still be refunded" in str(error)
            return
        try:
            preview = refunds.preview_refund(self.ctx, receipt, request)
        except RefundNotAllowed as exc:
            refusal = str(exc)
        else:
            refusal = None
        if refusal is not None:
            # Only the policy for spent points may refuse a request within the quantities.
            assert "cannot cover" in refusal or "below the allowed" in refusal, refusal
            self.refused(RefundNotAllowed, call, manager_pin=MANAGER_PIN)
            return
        before = self.balance(sale.member_id)
        result = call(manager_pin=MANAGER_PIN)
        assert result.quote == preview
        q = result.quote
        assert result.balance_after == before + q.points_restored - q.points_reversed
        assert result.balance_after >= self.floor()
        self.record_refund(sale, result)

    @staticmethod
    def units_left(sale: SaleModel) -> int:
        return sum(qty - sale.refunded.get(i, 0) for i, (qty, _e, _p) in sale.lines.items())

    @rule(receipt=sales_b)
    def refund_unit_by_unit(self, receipt: str) -> None:
        """Refund up to two units of a sale, one refund each (partial refunds add up)."""
        sale = self.sales[receipt]
        if not self.units_left(sale):  # that one is done: take the latest with units left
            sale = next((s for s in reversed(self.sales.values()) if self.units_left(s)), sale)
            receipt = sale.receipt_no
        units = [
            line_id
            for line_id, (qty, _e, _p) in sale.lines.items()
            for _ in range(qty - sale.refunded.get(line_id, 0))
        ]
        for line_id in units[:2]:
            request = {line_id: 1}
            try:
                refunds.preview_refund(self.ctx, receipt, request)
            except RefundNotAllowed:
                return  # the spent-points policy refuses; the refund rule checks why
            result = refunds.refund(
                self.ctx,
                refund_id=new_id(),
                receipt_no=receipt,
                request=request,
                cashier_id=self.cashier.id,
                manager_id=self.manager.id,
                manager_pin=MANAGER_PIN,
                reason="测试退货",
            )
            self.record_refund(sale, result)

    # -- adjustments, time, expiry, connectivity ----------------------------------------
    @rule(member=members_b, points=st.integers(-3_000, 3_000).filter(bool), data=st.data())
    def adjust(self, member: str, points: int, data: st.DataObject) -> None:
        before = self.balance(member)
        call = functools.partial(
            adjustments.adjust_points, self.ctx, member_id=member, points=points
        )
        refusal = data.draw(st.sampled_from(["none"] * 6 + ["no reason", "cashier"]))
        if refusal == "no reason":
            self.refused(
                InvalidInput, call, reason=" ", manager_id=self.manager.id, manager_pin=MANAGER_PIN
            )
        elif refusal == "cashier":
            self.refused(
                AuthError, call, reason="x", manager_id=self.cashier.id, manager_pin=CASHIER_PIN
            )
        call = functools.partial(
            call, reason="盘点调整", manager_id=self.manager.id, manager_pin=MANAGER_PIN
        )
        if points < 0 and before + points < 0:
            self.refused(InsufficientPoints, call)
            return
        result = call()
        assert result.balance_after == before + points
        self.members[member].adjusted += points

    @rule(
        step=st.sampled_from(
            [
                dt.timedelta(hours=3),
                dt.timedelta(days=1),
                dt.timedelta(days=31),
                dt.timedelta(days=200),
                dt.timedelta(days=400),
            ]
        )
    )
    def advance_clock(self, step: dt.timedelta) -> None:
        self.clock.advance(seconds=step.total_seconds())

    @rule()
    def expiry_run(self) -> None:
        adjustments.run_expiry(self.ctx)
        today = self.clock().astimezone(self.rules.zone).date().isoformat()
        assert (
            self.scalar(
                "SELECT COUNT(*) FROM point_lots WHERE remaining > 0 AND expires_on < :d", d=today
            )
            == 0
        )
        before = db_state(self.ctx)
        assert adjustments.run_expiry(self.ctx) == 0
        assert db_state(self.ctx) == before

    @rule(online=st.booleans())
    def connectivity(self, online: bool) -> None:
        self.online = online

    @rule()
    def hq_acknowledges(self) -> None:
        with self.ctx.db.write() as session:
            session.execute(
                text("UPDATE outbox SET sent_at = :t WHERE sent_at IS NULL"),
                {"t": repo.db_time(self.clock())},
            )

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def ledger_invariants(self) -> None:
        """Every check below, on one consistent snapshot after each step."""
        with self.ctx.db.read() as session:
            assert balance_mismatches(session) == []
            self.floor_and_tiers(session)
            self.no_points_minted(session)
            self.restored_points_keep_their_expiry(session)
            self.daily_cap(session)

    def floor_and_tiers(self, session: Session) -> None:
        floor = self.floor()
        found = dict(session.execute(text("SELECT id, tier FROM members")).all())
        lowest = session.execute(text("SELECT MIN(balance) FROM members")).scalar()
        assert lowest >= floor
        assert found.keys() == self.members.keys()
        for member_id, model in self.members.items():
            rank = self.rules.tier_rank(found[member_id])
            assert rank >= model.tier_rank, "a tier went down outside the yearly review"
            model.tier_rank = rank

    def no_points_minted(self, session: Session) -> None:
        sums: dict[tuple[str, str | None, str], int] = defaultdict(int)
        for member_id, sale_id, kind, points in session.execute(
            text("SELECT member_id, sale_id, kind, points FROM ledger_entries")
        ):
            sums[(member_id, sale_id, kind)] += points
        by_kind: dict[tuple[str, str], int] = defaultdict(int)
        for (member_id, _sale, kind), points in sums.items():
            by_kind[(member_id, kind)] += points
        sale_rows = {
            sid: (earned, json.loads(qjson)["points_used"])
            for sid, earned, qjson in session.execute(
                text("SELECT id, points_earned, quote_json FROM sales")
            )
        }
        refunded_db = dict(
            session.execute(
                text("SELECT sale_line_id, SUM(quantity) FROM refund_lines GROUP BY 1")
            ).all()
        )
        spend_ppy = self.rules.spending.points_per_yuan
        earn_ppy = self.rules.earning.points_per_yuan
        cap = self.rules.earning.caps.per_order
        purchases_left: dict[str, int] = defaultdict(int)
        for sale in self.sales.values():
            m, sid = sale.member_id, sale.sale_id
            earned, used = sale_rows[sid]
            # What the sale earned is bounded by the cash paid for it and the order cap.
            assert sum(e for _q, e, _p in sale.lines.values()) == earned
            assert sums[(m, sid, "earn")] == earned
            assert earned <= int(Fraction(sale.cash_in * earn_ppy, 100) * self.max_multiplier)
            if cap is not None:
                assert earned <= cap
            assert sum(p for _q, _e, p in sale.lines.values()) == used == -sums[(m, sid, "spend")]
            # The refunds took back at least the refunded share of what was earned, gave
            # back exactly the refunded share of what was spent, and no more cash than paid.
            kept = 0
            restored = 0
            for line_id, (qty, e, p) in sale.lines.items():
                k = sale.refunded.get(line_id, 0)
                assert refunded_db.get(line_id, 0) == k
                kept += e * (qty - k) // qty
                restored += p * k // qty
            net_earned = sums[(m, sid, "earn")] + sums[(m, sid, "refund_reversal")]
            bought_back = sale.deducted * spend_ppy // 100  # points the kept-back cash paid for
            assert net_earned <= kept + bought_back
            assert sums[(m, sid, "refund_restore")] == restored <= used
            assert sale.cash_out + sale.deducted <= sale.cash_in
            cash_kept = sale.cash_in - sale.cash_out
            lines = len(sale.lines)
            assert net_earned <= (
                int(Fraction(cash_kept * earn_ppy, 100) * self.max_multiplier) + lines + bought_back
            )
            purchases_left[m] += kept + bought_back
        for member_id, model in self.members.items():
            assert by_kind[(member_id, "bonus")] == model.bonus
            assert by_kind[(member_id, "adjust")] == model.adjusted
            # Nothing but bonuses, adjustments and what still-paid purchases earned.
            balance = sum(v for (mid, _k), v in by_kind.items() if mid == member_id)
            assert balance <= model.bonus + model.adjusted + purchases_left[member_id]

    def restored_points_keep_their_expiry(self, session: Session) -> None:
        """Per sale and expiry date, refunds give back no more than the sale spent from
        lots of that date (points whose date had passed come back with the grace date)."""
        grace_days = dt.timedelta(days=self.rules.expiry.reminder_days)
        moves = session.execute(
            text(
                "SELECT e.sale_id, e.kind, e.created_at, l.expires_on, m.points "
                "FROM lot_moves m JOIN ledger_entries e ON e.id = m.entry_id "
                "JOIN point_lots l ON l.id = m.lot_id "
                "WHERE e.kind IN ('spend', 'refund_restore')"
            )
        ).all()
        spent: dict[tuple[str, str | None], int] = defaultdict(int)
        restored: dict[tuple[str, str | None], int] = defaultdict(int)
        for sale_id, kind, created, expires, points in moves:
            if kind == "spend":
                spent[(sale_id, expires)] -= points
                continue
            day = dt.datetime.fromisoformat(created).astimezone(self.rules.zone).date()
            if expires == (day + grace_days).isoformat():
                continue  # given back with the grace date (or, rarely, a real date equal to it)
            restored[(sale_id, expires)] += points
        for key, points in restored.items():
            assert points <= spent[key], (key, points, spent[key])

    def daily_cap(self, session: Session) -> None:
        """What purchases of one day earned, net of their refunds, is within the day cap."""
        cap = self.rules.earning.caps.per_member_per_day
        if cap is None:
            return
        rows = session.execute(
            text(
                "SELECT e.member_id, s.created_at, e.points FROM ledger_entries e "
                "JOIN sales s ON s.id = e.sale_id "
                "WHERE e.kind IN ('earn', 'refund_reversal')"
            )
        ).all()
        per_day: dict[tuple[str, dt.date], int] = defaultdict(int)
        for member_id, created, points in rows:
            day = dt.datetime.fromisoformat(created).astimezone(self.rules.zone).date()
            per_day[(member_id, day)] += points
        assert all(v <= cap for v in per_day.values()), per_day


class NegativeBalanceMachine(TillLedgerMachine):
    """The same with a rule set that lets refunds take the balance below zero."""

    def rule_set(self) -> RuleSet:
        document = json.loads(default_rule_set().to_json())
        document["version"] = "props-negative-balance"
        document["refunds"] = {
            "when_earned_points_spent": "negative_balance",
            "negative_floor": -3_000,
        }
        return load_rule_set(document)


_settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestTillLedger = TillLedgerMachine.TestCase
TestTillLedger.settings = _settings
TestNegativeBalance = NegativeBalanceMachine.TestCase
TestNegativeBalance.settings = settings(_settings, max_examples=12)
