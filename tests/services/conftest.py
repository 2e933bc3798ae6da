"""Fixtures: a real till database file, a settable clock, users and members."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pos_app.services import auth, members, refunds
from pos_app.services.context import TillContext, open_till
from pos_app.store.types import new_id
from tests.services.support import CASHIER_PIN, MANAGER_PIN, item, sell

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """A settable clock (aware times)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, *args: int) -> None:
        self.now = dt.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    # 2026-11-17 is a Tuesday and not the member day (the 18th).
    return Clock(dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def online_flag() -> dict[str, bool]:
    return {"online": True}


@pytest.fixture(scope="session")
def till_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated till file with the default rule set, made once and copied per test
    (a fresh migration costs ~150 ms; tests/store checks the migrations themselves)."""
    path = tmp_path_factory.mktemp("template") / "till.sqlite"
    context = open_till(path)
    # Users too: hashing a PIN with argon2 takes ~80 ms, twice per test otherwise.
    auth.create_user(context, "王收银", "cashier", CASHIER_PIN)
    auth.create_user(context, "李店长", "manager", MANAGER_PIN)
    context.db.close()
    assert not path.with_name(path.name + "-wal").exists()  # checkpointed on close
    return path


@pytest.fixture
def ctx(
    tmp_path: Path, till_template: Path, clock: Clock, online_flag: dict[str, bool]
) -> Iterator[TillContext]:
    path = tmp_path / "till.sqlite"
    shutil.copyfile(till_template, path)
    context = open_till(path, clock=clock, online=lambda: online_flag["online"])
    yield context
    context.db.close()


def _user(ctx: TillContext, role: str) -> auth.UserInfo:
    (user,) = [u for u in auth.list_users(ctx) if u.role == role]
    return user


@pytest.fixture
def cashier(ctx: TillContext) -> auth.UserInfo:
    """王收银, PIN 1111 (made once in the template file)."""
    return _user(ctx, "cashier")


@pytest.fixture
def manager(ctx: TillContext) -> auth.UserInfo:
    """李店长, PIN 9999 (made once in the template file)."""
    return _user(ctx, "manager")


@pytest.fixture
def member(ctx: TillContext) -> members.MemberSummary:
    return members.register(ctx, phone="13812341234", name="张三", birthday=dt.date(1990, 3, 5))


@pytest.fixture
def friend(ctx: TillContext, member: members.MemberSummary) -> members.MemberSummary:
    """A second member, referred by ``member``."""
    return members.register(
        ctx, phone="13912345678", name="李四", referral_code=member.referral_code
    )


@pytest.fixture
def regular(ctx: TillContext, cashier: auth.UserInfo, member: members.MemberSummary) -> str:
    """``member`` after a small first purchase, so later sales are not first purchases.

    1 x 10.00 cash -> 10 points x5 (first purchase) = 50; balance 100 + 50 = 150.
    """
    result = sell(ctx, cashier.id, member.id, [item(1000, sku="GUM")])
    assert result.points_earned == 50
    assert result.balance_after == 150
    return member.id


RefundBy = Callable[..., refunds.RefundResult]


@pytest.fixture
def refund_by(ctx: TillContext, cashier: auth.UserInfo, manager: auth.UserInfo) -> RefundBy:
    """Refund units of a sale: ``refund_by(receipt_no, {line_id: qty}, reason=...)``, by
    ``cashier``, approved by ``manager`` with her PIN (a new refund id each call)."""

    def refund(
        receipt_no: str, request: dict[str, int], *, reason: str = "顾客退货"
    ) -> refunds.RefundResult:
        return refunds.refund(
            ctx,
            refund_id=new_id(),
            receipt_no=receipt_no,
            request=request,
            cashier_id=cashier.id,
            manager_id=manager.id,
            manager_pin=MANAGER_PIN,
            reason=reason,
        )

    return refund
