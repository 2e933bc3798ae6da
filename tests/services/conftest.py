"""Fixtures: a real till database file, a settable clock, users and members."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pos_app.services import auth, members
from pos_app.services.context import TillContext, open_till

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


@pytest.fixture
def ctx(tmp_path: Path, clock: Clock, online_flag: dict[str, bool]) -> Iterator[TillContext]:
    context = open_till(tmp_path / "till.sqlite", clock=clock, online=lambda: online_flag["online"])
    yield context
    context.db.close()


@pytest.fixture
def cashier(ctx: TillContext) -> auth.UserInfo:
    return auth.create_user(ctx, "王收银", "cashier", "1111")


@pytest.fixture
def manager(ctx: TillContext) -> auth.UserInfo:
    return auth.create_user(ctx, "李店长", "manager", "9999")


@pytest.fixture
def member(ctx: TillContext) -> members.MemberSummary:
    return members.register(ctx, phone="13812341234", name="张三", birthday=dt.date(1990, 3, 5))
