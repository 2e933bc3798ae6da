"""Helpers for HQ tests: a settable clock, a harness around the app, and a fake till
that writes outbox events exactly as ``pos_app/services`` does (built on the same core)."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select, text

from pos_app.core.privacy import last4, mask_phone, normalize_phone, phone_hash
from pos_app.core.quote import BasketLine, MemberContext, quote_basket
from pos_app.core.refunds import SoldLine, quote_refund
from pos_app.core.rules import RuleSet, default_rule_set
from pos_app.hq.database import HQDatabase
from pos_app.hq.models import LedgerEntry, Member, PointLot
from tests.support.pgcluster import free_port

if TYPE_CHECKING:
    from tests.hq.conftest import HQ

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-17 is a Tuesday, not the member day (the 18th), not in the year-end sale.
START = dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI)

TABLES = (
    "members",
    "ledger_entries",
    "lots",
    "lot_moves",
    "sales",
    "sale_lines",
    "refunds",
    "refund_lines",
    "redemptions",
    "spend_holds",
    "flagged_records",
    "idempotency_records",
    "coupons",
    "mall_items",
    "products",
    "rule_set_versions",
    "stores",
    "tills",
    "member_code_uses",
    "adjustment_reviews",
)


MANAGER = "manager-1"  # a manager HQ knows in stores 001 and 002 (tests.hq.conftest)


def new_id() -> str:
    """A client-generated id, as the till makes them (32 hex digits)."""
    return uuid.uuid4().hex


class Clock:
    """A settable aware clock."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def db_state(db: HQDatabase) -> dict[str, Any]:
    """Row counts of every table, the change counter and the balances."""
    with db.read() as s:
        state: dict[str, Any] = {
            t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES
        }
        state["counter"] = s.execute(text("SELECT value FROM counters")).scalar_one()
        state["balances"] = sorted(s.execute(select(Member.id, Member.balance)).all())
        state["tiers"] = sorted(s.execute(select(Member.id, Member.tier)).all())
        state["lots"] = s.execute(select(func.sum(PointLot.remaining))).scalar()
    return state


@contextmanager
def nothing_written(db: HQDatabase) -> Iterator[None]:
    """Assert the block writes nothing at all."""
    before = db_state(db)
    yield
    assert db_state(db) == before


def ledger_problems(db: HQDatabase) -> list[str]:
    """Members whose balance is not their ledger sum, or whose lots disagree."""
    problems = []
    with db.read() as s:
        sums = dict(
            s.execute(
                select(LedgerEntry.member_id, func.sum(LedgerEntry.points)).group_by(
                    LedgerEntry.member_id
                )
            ).all()
        )
        lots = dict(
            s.execute(
                select(PointLot.member_id, func.sum(PointLot.remaining)).group_by(
                    PointLot.member_id
                )
            ).all()
        )
        for member_id, balance in s.execute(select(Member.id, Member.balance)):
            if int(sums.get(member_id) or 0) != balance:
                problems.append(f"{member_id}: balance {balance} != ledger {sums.get(member_id)}")
            if int(lots.get(member_id) or 0) != max(balance, 0):
                problems.append(f"{member_id}: balance {balance} but lots {lots.get(member_id)}")
    return problems


def event(
    kind: str, payload: dict[str, Any], at: dt.datetime, event_id: str | None = None
) -> dict[str, Any]:
    """An outbox event as the sync client sends it."""
    return {
        "id": event_id or new_id(),
        "kind": kind,
        "payload": payload,
        "created_at": at.isoformat(),
    }


@dataclass
class MemberView:
    """What a till knows about a member."""

    id: str
    tier: str = "regular"
    balance: int = 0
    first_purchase: bool = True
    birthday: dt.date | None = None


@dataclass
class FakeTill:
    """Writes ``sale``, ``refund``, ``member_registered``, ``adjustment`` and ``expiry``
    payloads the way ``pos_app/services`` does, quoting with ``pos_app.core``."""

    store: str
    till: str
    phone_key: bytes
    clock: Clock
    rules: RuleSet = field(default_factory=default_rule_set)
    members: dict[str, MemberView] = field(default_factory=dict)
    sales: dict[str, dict[str, Any]] = field(default_factory=dict)
    member_no: int = 0

    def entry(self, member_id: str, kind: str, points: int, **extra: Any) -> dict[str, Any]:
        """An ``entry_payload``."""
        return {
            "id": new_id(),
            "member_id": member_id,
            "kind": kind,
            "points": points,
            "created_at": self.clock().isoformat(),
            "sale_id": extra.get("sale_id"),
            "refund_id": extra.get("refund_id"),
            "rule_set_version": self.rules.version,
            "actor_id": "cashier-1",
            "reason": extra.get("reason"),
        }

    def register(
        self, phone: str, *, name: str = "", member_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """(member id, ``member_registered`` event) with the registration bonus."""
        e164 = normalize_phone(phone)
        member_id = member_id or new_id()
        self.member_no += 1
        now = self.clock()
        bonus = self.rules.bonuses.registration
        entries = [self.entry(member_id, "bonus", bonus, reason="registration")] if bonus else []
        self.members[member_id] = MemberView(member_id, balance=bonus)
        payload = {
            "member": {
                "id": member_id,
                "member_no": 9_000_000_000
                + int("".join(ch for ch in self.store if ch.isdigit()) or 0) % 1000 * 1_000_000
                + int(self.till) * 100_000
                + self.member_no,
                "phone_hash": phone_hash(e164, self.phone_key).hex(),
                "phone_last4": last4(e164),
                "phone_masked": mask_phone(e164),
                "name": name,
                "birthday": None,
                "referred_by": None,
                "referral_code": uuid.uuid4().hex[:8].upper(),
                "registered_at": now.isoformat(),
                "store_id": self.store,
            },
            "entries": entries,
        }
        return member_id, event("member_registered", payload, now)

    def know(self, member_id: str, balance: int, *, first_purchase: bool = False) -> None:
        """Learn a member from HQ (as a pull would)."""
        self.members[member_id] = MemberView(
            member_id, balance=balance, first_purchase=first_purchase
        )

    def sale(
        self,
        member_id: str | None,
        lines: Sequence[BasketLine],
        *,
        points: int = 0,
        spend_limit: int | None = None,
        sale_id: str | None = None,
        earn_override: int | None = None,
    ) -> dict[str, Any]:
        """A ``sale`` event; the till's own view of the member moves with it."""
        now = self.clock()
        view = self.members.get(member_id) if member_id else None
        ctx = None
        if view is not None:
            ctx = MemberContext(
                member_id=view.id,
                tier=view.tier,
                balance=view.balance,
                first_purchase=view.first_purchase,
                spend_limit=spend_limit,
            )
        q = quote_basket(self.rules, lines, member=ctx, at=now, points_to_use=points)
        sale_id = sale_id or new_id()
        earned = q.points_earned if earn_override is None else earn_override
        entries = []
        if view is not None:
            if points:
                entries.append(self.entry(view.id, "spend", -points, sale_id=sale_id))
            if earned:
                entries.append(self.entry(view.id, "earn", earned, sale_id=sale_id))
            view.balance += earned - points
            view.first_purchase = False
        line_rows = [
            {
                "id": new_id(),
                "line_no": i + 1,
                "sku": ln.sku,
                "category": ln.category,
                "quantity": ln.quantity,
                "unit_price_fen": ln.unit_price_fen,
                "line_discount_fen": ln.line_discount_fen,
                "is_reward": ln.is_reward,
            }
            for i, ln in enumerate(lines)
        ]
        payload = {
            "sale": {
                "id": sale_id,
                "receipt_no": f"R{self.store}{self.till}{now:%y%m%d}0{len(self.sales) + 1:04d}",
                "store_id": self.store,
                "till_id": self.till,
                "cashier_id": "cashier-1",
                "member_id": member_id,
                "created_at": now.isoformat(),
                "total_fen": q.total_fen,
                "points_used": points,
                "points_earned": earned,
                "cash_due_fen": q.cash_due_fen,
                "rule_set_version": self.rules.version,
                "coupons": [],
            },
            "lines": line_rows,
            "tenders": [{"method": "cash", "amount_fen": q.cash_due_fen}] if q.cash_due_fen else [],
            "entries": entries,
            "remote_bonuses": [],
        }
        self.sales[sale_id] = {"quote": q, "lines": line_rows, "member_id": member_id, "done": {}}
        return event("sale", payload, now)

    def refund(self, sale_id: str, request: dict[int, int]) -> dict[str, Any]:
        """A ``refund`` event for ``request`` (line index -> units)."""
        sale = self.sales[sale_id]
        q = sale["quote"]
        rows = sale["lines"]
        view = self.members.get(sale["member_id"]) if sale["member_id"] else None
        sold = [
            SoldLine(
                rows[ql.index]["id"],
                ql.line.quantity,
                ql.cash_fen,
                ql.points_used,
                ql.points_value_fen,
                ql.earn_points,
                sale["done"].get(ql.index, 0),
            )
            for ql in q.lines
        ]
        rq = quote_refund(
            self.rules,
            sold,
            {rows[i]["id"]: n for i, n in request.items()},
            balance=view.balance if view else None,
        )
        for i, n in request.items():
            sale["done"][i] = sale["done"].get(i, 0) + n
        refund_id = new_id()
        now = self.clock()
        entries = []
        if view is not None:
            if rq.points_restored:
                entries.append(
                    self.entry(
                        view.id,
                        "refund_restore",
                        rq.points_restored,
                        sale_id=sale_id,
                        refund_id=refund_id,
                    )
                )
            if rq.points_reversed:
                entries.append(
                    self.entry(
                        view.id,
                        "refund_reversal",
                        -rq.points_reversed,
                        sale_id=sale_id,
                        refund_id=refund_id,
                    )
                )
            view.balance = rq.balance_after
        payload = {
            "refund": {
                "id": refund_id,
                "refund_no": f"R{self.store}{self.till}{now:%y%m%d}9{len(self.sales):04d}",
                "sale_id": sale_id,
                "created_at": now.isoformat(),
                "cashier_id": "cashier-1",
                "approved_by": "manager-1",
                "cash_refund_fen": rq.cash_refund_fen,
                "cash_deducted_fen": rq.cash_deducted_fen,
                "flagged": rq.flagged,
            },
            "lines": [{"sale_line_id": rows[i]["id"], "quantity": n} for i, n in request.items()],
            "entries": entries,
        }
        return event("refund", payload, now)

    def adjustment(
        self,
        member_id: str,
        points: int,
        reason: str = "goodwill",
        *,
        manager: str | None = MANAGER,
    ) -> dict[str, Any]:
        """An ``adjustment`` event approved by ``manager``."""
        entry = self.entry(member_id, "adjust", points, reason=reason) | {"actor_id": manager}
        if member_id in self.members:
            self.members[member_id].balance += points
        return event("adjustment", {"entries": [entry]}, self.clock(), event_id=new_id())

    def expiry(self, member_id: str, points: int) -> dict[str, Any]:
        """An ``expiry`` event (``points`` > 0 expired)."""
        entry = self.entry(member_id, "expire", -points, reason="expiry")
        if member_id in self.members:
            self.members[member_id].balance -= points
        return event("expiry", {"entries": [entry]}, self.clock())


def put_items(hq: HQ, *rows: dict[str, Any]) -> None:
    """Publish mall items through the admin API (``rows``: the items' JSON)."""
    response = hq.client.put(
        "/v1/admin/mall-items", json={"items": list(rows)}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 200, response.text


def basket(yuan: int, sku: str = "TEA", category: str = "food") -> list[BasketLine]:
    """A one-line basket worth ``yuan``."""
    return [BasketLine(sku, f"商品{sku}", category, 1, yuan * 100)]


@contextmanager
def serving(db_url: str, *flags: str, ca: Path | None = None) -> Iterator[str]:
    """``pos-hq serve --db db_url *flags`` in a subprocess; yields its base URL once it
    answers (over HTTPS, trusting ``ca``, when given), stops it (SIGTERM) after the block."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    command = ["serve", "--db", db_url, "--port", str(port), "--log-level", "warning", *flags]
    process = subprocess.Popen(
        [sys.executable, "-m", "pos_app.hq.cli", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"{'https' if ca else 'http'}://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                verify = ssl.create_default_context(cafile=str(ca)) if ca else True
                httpx.get(f"{base}/health", timeout=1, verify=verify)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "pos-hq serve did not start"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)
