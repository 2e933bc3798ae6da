"""The points mall at the counter on a real till file: browse, redeem, coupons, lottery."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pos_app.core.errors import InvalidInput, RedeemNotAllowed
from pos_app.services import auth, checkout, mall, members
from pos_app.services.context import TillContext
from pos_app.services.errors import AuthError, ConflictError, PaymentError
from pos_app.services.mall import MallItemInput, MallQuery
from pos_app.store.models import Member
from pos_app.store.types import new_id
from tests.services.conftest import SHANGHAI, Clock
from tests.services.support import (
    assert_ledger_consistent,
    balance,
    give_points,
    item,
    ledger,
    nothing_written,
    rows,
    scalar,
    sell,
)

NOW = dt.datetime(2026, 11, 17, 10, 0, tzinfo=SHANGHAI)

ITEMS = (
    MallItemInput(
        "CPN5",
        "5元无门槛券",
        500,
        level="low",
        category="coupon",
        brand="积分生活",
        keywords=("券", "voucher"),
        kind="coupon",
        coupon_amount_off_fen=500,
        coupon_valid_days=30,
        per_member_limit=3,
    ),
    MallItemInput(
        "BAG", "帆布袋", 1200, stock=2, level="low", category="home", brand="MUJI", keywords=("袋",)
    ),
    MallItemInput(
        "CUP",
        "品牌保温杯",
        3000,
        stock=10,
        category="home",
        brand="象印",
        keywords=("杯", "thermos"),
        discount_percent=50,
        discount_from=NOW - dt.timedelta(days=1),
        discount_to=NOW + dt.timedelta(days=1),
    ),
    MallItemInput(
        "EAR",
        "蓝牙耳机",
        6000,
        cash_price_fen=2000,
        stock=5,
        category="electronics",
        brand="华为",
        keywords=("耳机", "headphones"),
        is_new=True,
    ),
    MallItemInput(
        "ROBOT", "扫地机器人", 50000, stock=3, level="top", category="electronics", min_tier="gold"
    ),
    MallItemInput("DRAW", "抽奖券", 200, level="low", category="lottery", kind="lottery"),
    MallItemInput("OLD", "旧款台灯", 100, category="home", available_to=NOW - dt.timedelta(days=1)),
)


@pytest.fixture
def stocked(ctx: TillContext) -> TillContext:
    mall.upsert_items(ctx, ITEMS)
    return ctx


def _ids(offers: list[mall.MallOffer]) -> list[str]:
    return [o.item.item_id for o in offers]


def _redeem(ctx: TillContext, member_id: str, item_id: str, actor: str, **kw: object):
    return mall.redeem(
        ctx, redemption_id=new_id(), member_id=member_id, item_id=item_id, actor_id=actor, **kw
    )  # type: ignore[arg-type]


# -- browsing ----------------------------------------------------------------------------
def test_browse_everything_available_low_level_first(stocked: TillContext) -> None:
    offers = mall.browse(stocked, MallQuery())
    assert _ids(offers) == ["DRAW", "CPN5", "BAG", "CUP", "EAR", "ROBOT"]  # OLD has ended
    cup = next(o for o in offers if o.item.item_id == "CUP")
    assert (cup.points_now, cup.limited, cup.themes) == (1500, True, ("limited",))
    assert mall.categories(stocked) == ["coupon", "electronics", "home", "lottery"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (MallQuery(category="home"), ["BAG", "CUP"]),
        (MallQuery(points_range="0-1000"), ["DRAW", "CPN5"]),
        (MallQuery(points_range="1000-5000"), ["BAG", "CUP"]),  # CUP at its 1500 in force
        (MallQuery(points_range="5000+"), ["EAR", "ROBOT"]),
        (MallQuery(theme="limited"), ["CUP"]),
        (MallQuery(theme="new"), ["EAR"]),
        (MallQuery(text="杯"), ["CUP"]),
        (MallQuery(text="华为"), ["EAR"]),  # brand
        (MallQuery(text="HEADPHONES"), ["EAR"]),  # keyword, any case
        (MallQuery(text="voucher", points_range="0-1000"), ["CPN5"]),
        (MallQuery(text="耳机", points_range="0-1000"), []),  # search filtered by range
    ],
)
def test_browse_filters(stocked: TillContext, query: MallQuery, expected: list[str]) -> None:
    assert _ids(mall.browse(stocked, query)) == expected


def test_unknown_filters_are_refused(stocked: TillContext) -> None:
    with pytest.raises(InvalidInput, match="points range"):
        mall.browse(stocked, MallQuery(points_range="1-2"))
    with pytest.raises(InvalidInput, match="theme"):
        mall.browse(stocked, MallQuery(theme="hot"))


def test_browse_for_a_member_says_what_they_cannot_redeem(
    stocked: TillContext, member: members.MemberSummary, manager: auth.UserInfo
) -> None:
    give_points(stocked, manager.id, member.id, 1900)  # 2000 points
    offers = {o.item.item_id: o for o in mall.browse(stocked, MallQuery(), member.id)}
    assert offers["CPN5"].redeemable
    assert offers["CUP"].redeemable  # 1500 in force
    assert "Not enough points" in str(offers["EAR"].refusal)
    assert "gold" in str(offers["ROBOT"].refusal).lower() or "金卡" in str(offers["ROBOT"].refusal)


# -- redeeming goods ---------------------------------------------------------------------
def test_redeeming_goods_takes_points_and_stock_in_one_transaction(
    stocked: TillContext, member: members.MemberSummary, cashier: auth.UserInfo, manager
) -> None:
    give_points(stocked, manager.id, member.id, 2900)  # 3000
    rid = new_id()
    result = mall.redeem(
        stocked,
        redemption_id=rid,
        member_id=member.id,
        item_id="BAG",
        quantity=2,
        actor_id=cashier.id,
    )
    assert (result.unit_points, result.points, result.balance_after) == (1200, 2400, 600)
    assert scalar(stocked, "SELECT stock FROM mall_items WHERE id = 'BAG'") == 0
    assert ledger(stocked, member.id)[-1] == ("spend", -2400)
    assert rows(
        stocked,
        "SELECT reason, sale_id FROM ledger_entries WHERE member_id = :m AND kind = 'spend'",
        m=member.id,
    ) == [("mall:BAG", None)]
    (payload,) = rows(
        stocked, "SELECT payload FROM outbox WHERE kind = 'redemption' AND aggregate_id = :r", r=rid
    )
    event = json.loads(payload[0])
    assert event["redemption"]["points"] == 2400
    assert event["entry"]["reason"] == "mall:BAG"
    assert_ledger_consistent(stocked)


def test_out_of_stock_and_per_member_limits_are_refused_and_write_nothing(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 9900)
    with nothing_written(stocked), pytest.raises(RedeemNotAllowed, match="Only 2 of 帆布袋"):
        _redeem(stocked, member.id, "BAG", cashier.id, quantity=3)
    _redeem(stocked, member.id, "CPN5", cashier.id, quantity=2)
    with nothing_written(stocked), pytest.raises(RedeemNotAllowed, match="limited to 3 per member"):
        _redeem(stocked, member.id, "CPN5", cashier.id, quantity=2)
    _redeem(stocked, member.id, "CPN5", cashier.id)  # the third is fine


def test_tier_only_items_need_the_tier(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 60000)
    with nothing_written(stocked), pytest.raises(RedeemNotAllowed, match="members and above"):
        _redeem(stocked, member.id, "ROBOT", cashier.id)
    with stocked.db.write() as session:
        row = session.get(Member, member.id)
        assert row is not None
        row.tier = "gold"
    assert _redeem(stocked, member.id, "ROBOT", cashier.id).points == 50000


def test_not_enough_points_says_how_many(
    stocked: TillContext, member: members.MemberSummary, cashier
) -> None:
    with nothing_written(stocked), pytest.raises(RedeemNotAllowed, match=r"1200 needed.*100"):
        _redeem(stocked, member.id, "BAG", cashier.id)


def test_the_price_in_force_is_what_is_paid_and_recorded(
    stocked: TillContext, clock: Clock, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 4900)  # 5000
    during = _redeem(stocked, member.id, "CUP", cashier.id)
    assert (during.unit_points, during.regular_points) == (1500, 3000)
    clock.advance(days=2)  # the discount is over
    after = _redeem(stocked, member.id, "CUP", cashier.id)
    assert after.unit_points == 3000
    assert rows(
        stocked, "SELECT unit_points, regular_points FROM mall_redemptions ORDER BY created_at"
    ) == [(1500, 3000), (3000, 3000)]
    assert balance(stocked, member.id) == 500


def test_a_price_changed_since_it_was_shown_is_refused(
    stocked: TillContext, clock: Clock, member: members.MemberSummary, cashier, manager
) -> None:
    """Quote then commit at the till: the screen's price goes with the redemption."""
    give_points(stocked, manager.id, member.id, 4900)
    (shown,) = [o for o in mall.browse(stocked, MallQuery()) if o.item.item_id == "CUP"]
    clock.advance(days=2)  # the discount ends before the cashier presses the button
    with nothing_written(stocked), pytest.raises(RedeemNotAllowed, match="now 3000 points"):
        _redeem(stocked, member.id, "CUP", cashier.id, shown_unit_points=shown.points_now)
    assert _redeem(stocked, member.id, "CUP", cashier.id, shown_unit_points=3000).points == 3000


def test_points_plus_cash_needs_a_way_to_pay_the_cash(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 5900)
    with nothing_written(stocked), pytest.raises(PaymentError, match="points \\+ cash"):
        _redeem(stocked, member.id, "EAR", cashier.id)
    result = _redeem(stocked, member.id, "EAR", cashier.id, cash_method="wechat")
    assert (result.points, result.cash_fen, result.cash_method) == (6000, 2000, "wechat")


def test_a_retried_redemption_returns_the_first_result(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 1900)
    rid = new_id()
    first = mall.redeem(
        stocked, redemption_id=rid, member_id=member.id, item_id="CPN5", actor_id=cashier.id
    )
    with nothing_written(stocked):
        again = mall.redeem(
            stocked, redemption_id=rid, member_id=member.id, item_id="CPN5", actor_id=cashier.id
        )
    assert again.replayed
    assert again.coupons == first.coupons
    with pytest.raises(ConflictError):
        mall.redeem(
            stocked, redemption_id=rid, member_id=member.id, item_id="BAG", actor_id=cashier.id
        )


def test_the_offline_allowance_caps_mall_and_checkout_together(
    stocked: TillContext,
    online_flag: dict[str, bool],
    member: members.MemberSummary,
    cashier,
    manager,
) -> None:
    give_points(stocked, manager.id, member.id, 9900)  # 10000
    online_flag["online"] = False  # allowance 2000 until HQ acknowledges
    _redeem(stocked, member.id, "BAG", cashier.id)  # 1200 of the 2000
    with nothing_written(stocked), pytest.raises(RedeemNotAllowed, match="at most 800"):
        _redeem(stocked, member.id, "BAG", cashier.id)
    q = checkout.quote(stocked, [item(50_000)], member_id=member.id)
    assert q.max_usable_points == 800  # the checkout sees the mall's pending spend


# -- coupons -----------------------------------------------------------------------------
def test_a_coupon_from_the_mall_pays_part_of_a_later_sale_once(
    stocked: TillContext, clock: Clock, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 400)  # 500
    result = _redeem(stocked, member.id, "CPN5", cashier.id)
    (coupon,) = result.coupons
    assert coupon.code.startswith("CP")
    assert coupon.amount_off_fen == 500
    assert coupon.valid_to == NOW + dt.timedelta(days=30)
    assert [c.code for c in mall.member_coupons(stocked, member.id)] == [coupon.code]
    clock.advance(days=1)
    sale = sell(stocked, cashier.id, member.id, [item(3000)], coupons=[coupon.code.lower()])
    assert sale.total_fen == 2500
    assert mall.member_coupons(stocked, member.id) == []
    with pytest.raises(InvalidInput, match="already been used"):
        sell(stocked, cashier.id, member.id, [item(3000)], coupons=[coupon.code])


def test_a_members_coupon_is_not_anyone_elses(
    stocked: TillContext, member: members.MemberSummary, friend, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 400)
    (coupon,) = _redeem(stocked, member.id, "CPN5", cashier.id).coupons
    with pytest.raises(InvalidInput, match="another member"):
        sell(stocked, cashier.id, friend.id, [item(3000)], coupons=[coupon.code])


# -- the lottery -------------------------------------------------------------------------
def test_lottery_entries_and_a_recorded_repeatable_draw(
    stocked: TillContext, member: members.MemberSummary, friend, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 900)
    give_points(stocked, manager.id, friend.id, 900)
    mine = _redeem(stocked, member.id, "DRAW", cashier.id, quantity=3).lottery_entries
    theirs = _redeem(stocked, friend.id, "DRAW", cashier.id, quantity=2).lottery_entries
    assert len(mine) == 3
    assert len(theirs) == 2
    with pytest.raises(AuthError, match="Only a manager"):
        mall.draw(stocked, item_id="DRAW", actor_id=cashier.id)
    result = mall.draw(stocked, item_id="DRAW", actor_id=manager.id, seed=b"s" * 32)
    assert result.entries_count == 5
    assert len(result.winners) == 1
    assert result.winners[0].entry_id in (*mine, *theirs)
    assert result.winners[0].masked_phone in ("138****1234", "139****5678")
    assert result.seed_hex == (b"s" * 32).hex()
    assert mall.verify_draw(stocked, "DRAW")
    (status,) = mall.lotteries(stocked)
    assert status.draw is not None
    assert status.entries == 5
    with pytest.raises(RedeemNotAllowed, match="has been drawn"):
        _redeem(stocked, member.id, "DRAW", cashier.id)
    with pytest.raises(RedeemNotAllowed, match="already been drawn"):
        mall.draw(stocked, item_id="DRAW", actor_id=manager.id)
    assert scalar(stocked, "SELECT COUNT(*) FROM outbox WHERE kind = 'lottery_draw'") == 1


def test_a_draw_without_entries_is_refused(stocked: TillContext, manager) -> None:
    with pytest.raises(RedeemNotAllowed, match="no entries"):
        mall.draw(stocked, item_id="DRAW", actor_id=manager.id)


def test_redemption_rows_are_immutable(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    from pos_app.store.encryption import driver

    give_points(stocked, manager.id, member.id, 400)
    _redeem(stocked, member.id, "CPN5", cashier.id)
    conn = stocked.db.connect()
    try:
        with pytest.raises(driver.IntegrityError, match="immutable"):
            conn.execute("UPDATE mall_redemptions SET points = 1")
        with pytest.raises(driver.IntegrityError, match="immutable"):
            conn.execute("DELETE FROM mall_redemptions")
    finally:
        conn.close()


# -- suggestions ---------------------------------------------------------------------------
def test_suggestions_follow_the_members_purchases(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    mall.upsert_items(stocked, [MallItemInput("SNACK", "零食礼包", 300, category="food")])
    give_points(stocked, manager.id, member.id, 1500)  # 1600
    plain = [s.item.item_id for s in mall.suggestions(stocked, member.id)]
    assert plain == ["CUP", "BAG", "CPN5"]  # the most valuable redeemable first
    sell(stocked, cashier.id, member.id, [item(2000, sku="RICE", category="food")])
    personal = [s.item.item_id for s in mall.suggestions(stocked, member.id)]
    assert personal[0] == "SNACK"  # the category the member buys comes first
    everything = (
        plain + personal + [s.item.item_id for s in mall.suggestions(stocked, member.id, 9)]
    )
    assert "ROBOT" not in everything  # above the member's tier
    assert "OLD" not in everything  # no longer available


def test_suggestions_leave_out_what_the_member_may_not_redeem_again(
    stocked: TillContext, member: members.MemberSummary, cashier, manager
) -> None:
    give_points(stocked, manager.id, member.id, 9900)
    _redeem(stocked, member.id, "CPN5", cashier.id, quantity=3)  # the limit
    _redeem(stocked, member.id, "BAG", cashier.id, quantity=2)  # the stock
    ids = [s.item.item_id for s in mall.suggestions(stocked, member.id, 9)]
    assert "CPN5" not in ids
    assert "BAG" not in ids
