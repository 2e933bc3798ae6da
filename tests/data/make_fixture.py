"""Generate tests/data/till-0001.sqlite: a till file as revision 0001 of the schema left it.

Run from the repository root, with the code at a commit whose newest migration is 0001::

    .venv/bin/python tests/data/make_fixture.py

(Once later migrations exist, regenerate only from such a commit, e.g. in a
``git worktree``: the point of the file is to be an *old* till that start-up upgrades.)

Everything is written through the services, as a till in a shop would write it: users,
members (one referred by another), sales with points and cash, a coupon, a refund, a
manual adjustment and an expiry run. The file is then compacted (1 KiB pages, rollback
journal, VACUUM) so it stays small in the repository; the till switches it back to WAL
when it opens it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pos_app.core.quote import BasketLine  # noqa: E402
from pos_app.services import adjustments, auth, checkout, members, refunds  # noqa: E402
from pos_app.services.context import open_till  # noqa: E402
from pos_app.store.checks import balance_mismatches  # noqa: E402
from pos_app.store.database import head_revision  # noqa: E402
from pos_app.store.models import Coupon  # noqa: E402
from pos_app.store.types import new_id  # noqa: E402

REVISION = "0001"
TARGET = Path(__file__).resolve().parent / f"till-{REVISION}.sqlite"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_BYTES = 200 * 1024


class _Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 9, 30, tzinfo=SHANGHAI)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def _pay(ctx, cashier_id, member_id, lines, points=0, coupons=()):
    q = checkout.quote(ctx, lines, member_id=member_id, coupon_codes=coupons, points_to_use=points)
    return checkout.complete_sale(
        ctx,
        sale_id=new_id(),
        lines=lines,
        member_id=member_id,
        tenders=[checkout.TenderInput("cash", q.cash_due_fen)] if q.cash_due_fen else [],
        cashier_id=cashier_id,
        coupon_codes=coupons,
        points_to_use=points,
    )


def build(path: Path) -> None:
    """Write a small but complete till history into ``path`` through the services."""
    clock = _Clock()
    ctx = open_till(path, clock=clock, online=lambda: True)
    try:
        cashier = auth.create_user(ctx, "王收银", "cashier", "1111")
        manager = auth.create_user(ctx, "李店长", "manager", "9999")
        zhang = members.register(
            ctx, phone="13812341234", name="张三", birthday=dt.date(1990, 3, 5), actor_id=cashier.id
        )
        clock.tick(minutes=7)
        li = members.register(
            ctx, phone="13912345678", name="李四", referral_code=zhang.referral_code
        )
        clock.tick(minutes=3)
        wang = members.register(ctx, phone="+86 137-0000-1234", name="")
        tea = BasketLine("TEA", "龙井茶叶", "food", 2, 5000)
        cup = BasketLine("CUP", "白瓷杯", "home", 1, 3000)
        gift = BasketLine("GC100", "礼品卡", "gift_card", 1, 10000)

        clock.tick(hours=1)
        first = _pay(ctx, cashier.id, zhang.id, [tea, cup], points=100)
        clock.tick(minutes=20)
        _pay(ctx, cashier.id, li.id, [tea, gift])  # referral bonus for both
        _pay(ctx, cashier.id, None, [cup])
        with ctx.db.write() as session:
            session.add(
                Coupon(
                    id=new_id(),
                    code="SAVE10",
                    member_id=None,
                    name="满100减10",
                    amount_off_fen=1000,
                    percent_off=0,
                    min_order_fen=10000,
                    valid_from=clock.now - dt.timedelta(days=1),
                    valid_to=clock.now + dt.timedelta(days=30),
                    issued_at=clock.now,
                    source="hq",
                )
            )
        clock.tick(days=1)
        _pay(ctx, cashier.id, wang.id, [tea, cup], coupons=["SAVE10"])
        adjustments.adjust_points(
            ctx,
            member_id=wang.id,
            points=300,
            reason="系统故障补分",
            manager_id=manager.id,
            manager_pin="9999",
        )
        clock.tick(days=2)
        _pay(ctx, cashier.id, li.id, [BasketLine("TEA", "龙井茶叶", "food", 3, 5000)], points=300)
        view = refunds.find_sale(ctx, first.receipt_no)
        refunds.refund(
            ctx,
            refund_id=new_id(),
            receipt_no=first.receipt_no,
            request={view.lines[1].id: 1},
            cashier_id=cashier.id,
            manager_id=manager.id,
            manager_pin="9999",
            reason="杯子破损",
        )
        adjustments.run_expiry(ctx)
        with ctx.db.read() as session:
            assert balance_mismatches(session) == []
        assert ctx.db.current_revision() == REVISION
    finally:
        ctx.db.close()


def compact(path: Path) -> None:
    """Small pages, no WAL, no free pages."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=1024")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def main() -> int:
    head = head_revision()
    if head != REVISION:
        print(
            f"make_fixture: the newest migration is {head}, not {REVISION}. Generate the "
            f"revision-{REVISION} fixture from a checkout whose newest migration is {REVISION}.",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "till.sqlite"
        build(work)
        compact(work)
        shutil.copyfile(work, TARGET)
    size = TARGET.stat().st_size
    print(f"wrote {TARGET.relative_to(REPO)} ({size} bytes)")
    if size > MAX_BYTES:
        print(f"make_fixture: {size} bytes is over {MAX_BYTES}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
