"""The mall's front page (core): sections, HQ's picks first, member day, lottery."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from pos_app.core.front import LEVELS, SECTIONS, Featured, featured_of, front_page
from pos_app.core.mall import MallItem, eligible
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


@st.composite
def mall_items(draw: st.DrawFn) -> list[MallItem]:
    """Plain rows: levels, prices, discounts, stock, minimum tiers and windows at random."""
    out = []
    for n in range(draw(st.integers(min_value=0, max_value=14))):
        days = draw(st.integers(min_value=-40, max_value=5))
        out.append(
            MallItem(
                f"I{n}",
                f"item {n}",
                draw(st.integers(min_value=1, max_value=50_000)),
                stock=draw(st.none() | st.integers(min_value=0, max_value=3)),
                min_tier=draw(st.sampled_from((None, "silver", "gold"))),
                level=draw(st.sampled_from(LEVELS)),
                discount_percent=draw(st.integers(min_value=0, max_value=90)),
                available_from=MEMBER_DAY + dt.timedelta(days=days) if days > -40 else None,
                kind=draw(st.sampled_from(("goods", "goods", "lottery"))),
            )
        )
    return out


@given(
    mall_items(),
    st.sampled_from((None, "regular", "silver", "gold")),
    st.integers(min_value=1, max_value=8),
)
def test_each_section_follows_its_rule_and_the_pyramid_counts_what_is_on_offer(
    items: list[MallItem], tier: str | None, size: int
) -> None:
    page = front_page(RULES, items, [], MEMBER_DAY, tier, size=size)
    who = tier or "regular"
    offered = [i for i in items if eligible(RULES, i, who, MEMBER_DAY)]
    assert page["pyramid"] == {lv: sum(i.level == lv for i in offered) for lv in LEVELS}
    ids = {i.item_id for i in offered}
    sections = page["sections"]
    for shown in sections.values():
        assert len(shown) <= size
        assert {i.item_id for i in shown} <= ids  # nothing a member of the tier cannot have
    saved = [i.points_saved for i in sections["value"]]
    assert saved == sorted(saved, reverse=True)
    assert all(s > 0 for s in saved)
    off = [next(x for x in items if x.item_id == i.item_id) for i in sections["hot"]]
    assert [i.discount_percent for i in off] == sorted(
        (i.discount_percent for i in off), reverse=True
    )
    lottery = [i.item_id for i in sections["lottery"]]
    expected = sorted((i for i in offered if i.kind == "lottery"), key=lambda i: i.item_id)
    assert lottery == [i.item_id for i in expected][:size]  # no closing time: by id
    # the same rows give the same page (the till and HQ call this one function)
    assert front_page(RULES, list(reversed(items)), [], MEMBER_DAY, tier, size=size) == page


def test_featured_of_reads_the_picks_each_item_carries() -> None:
    picks = {"A": {"hot": 1, "value": 0}, "B": {"hot": 0, "nonsense": 3}}
    page = front_page(RULES, ITEMS, featured_of(picks), MEMBER_DAY, None)
    assert [i.item_id for i in page["sections"]["hot"]][:2] == ["B", "A"]
    assert [i.item_id for i in page["sections"]["value"]][:1] == ["A"]
