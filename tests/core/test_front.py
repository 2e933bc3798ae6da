"""The mall's front page (core): sections, HQ's picks first, member day, lottery."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pos_app.core.front import SECTIONS, Featured, front_page
from pos_app.core.mall import MallItem
from pos_app.core.rules import default_rule_set

RULES = default_rule_set()
SHANGHAI = ZoneInfo("Asia/Shanghai")
MEMBER_DAY = dt.datetime(2026, 11, 18, 12, tzinfo=SHANGHAI)  # the 18th
ITEMS = [
    MallItem("A", "券", 500, level="low"),
    MallItem("B", "杯", 1500, level="middle"),
    MallItem("L1", "抽奖一", 100, kind="lottery", available_to=MEMBER_DAY + dt.timedelta(days=5)),
    MallItem("L2", "抽奖二", 100, kind="lottery", available_to=MEMBER_DAY + dt.timedelta(days=1)),
    MallItem("OUT", "售罄", 100, stock=0),
]


def test_member_day_zone_and_the_lottery_closing_soonest_first() -> None:
    featured = [Featured("member_day", "B", 0), Featured("member_day", "A", 1)]
    page = front_page(RULES, ITEMS, featured, MEMBER_DAY, "regular")
    assert page["member_day"] is True
    assert [i.item_id for i in page["sections"]["member_day"]] == ["B", "A"]
    assert [i.item_id for i in page["sections"]["lottery"]] == ["L2", "L1"]
    other_day = front_page(RULES, ITEMS, featured, MEMBER_DAY + dt.timedelta(days=1), None)
    assert other_day["sections"]["member_day"] == []


@given(
    st.lists(
        st.tuples(st.sampled_from(SECTIONS), st.sampled_from([i.item_id for i in ITEMS])),
        max_size=12,
    )
)
def test_hq_picks_come_first_in_hq_order_and_nothing_unavailable_shows(
    picks: list[tuple[str, str]],
) -> None:
    featured = [Featured(s, i, n) for n, (s, i) in enumerate(dict.fromkeys(picks))]
    page = front_page(RULES, ITEMS, featured, MEMBER_DAY, "regular", size=10)
    for section, shown in page["sections"].items():
        assert "OUT" not in [i.item_id for i in shown]
        wanted = [f.item_id for f in featured if f.section == section and f.item_id != "OUT"]
        head = [i.item_id for i in shown if i.featured]
        assert head == wanted
        assert [i.featured for i in shown] == sorted((i.featured for i in shown), reverse=True)
        assert len({i.item_id for i in shown}) == len(shown)
