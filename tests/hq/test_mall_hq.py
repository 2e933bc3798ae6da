"""The points mall at HQ: online redemptions within the item's window (and a tier's early
access), floating prices with quotes honoured for a bounded time, and HQ's lottery
(prize catalogue, the recorded draw, prizes issued once and notified)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, text

from pos_app.core.mall import Prize, assign_prizes, draw_lottery
from pos_app.core.rules import default_rule_set
from pos_app.hq import notify
from pos_app.hq.database import HQDatabase
from pos_app.hq.jobs import run_jobs
from pos_app.hq.models import LotteryWinner, MallPriceChange
from tests.hq.conftest import HQ
from tests.hq.support import basket, nothing_written, put_items
from tests.hq.test_channels import channel_push, redemption
from tests.hq.test_notify import member_with

HOUR = dt.timedelta(hours=1)


def redeem(
    hq: HQ, member_id: str, item_id: str, points: int, quantity: int = 1, **extra: Any
) -> dict[str, Any]:
    """Push one online redemption (``extra``: more fields of its header); its result."""
    pushed = redemption(hq, member_id, item_id, points, quantity)
    pushed["payload"]["redemption"].update(extra)
    response = channel_push(hq, pushed)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return dict(result)


def member(hq: HQ, phone: str, yuan: int = 0) -> str:
    till = hq.till("001", "01")
    member_id, registered = till.register(phone)
    hq.push_ok(hq.till1, registered, *([till.sale(member_id, basket(yuan))] if yuan else []))
    return member_id


def publish_early_access(hq: HQ) -> None:
    document = json.loads(default_rule_set().to_json())
    document["version"] = "2026.12-early"
    document["perks"] = {"early_access_hours": {"gold": 24}}
    response = hq.client.post(
        "/v1/admin/rule-sets", json={"document": document}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 201, response.text


# -- windows and early access ---------------------------------------------------------


def test_an_online_redemption_keeps_to_the_window_and_the_tiers_early_access(hq: HQ) -> None:
    publish_early_access(hq)
    now = hq.clock()
    put_items(
        hq,
        {
            "id": "SOON",
            "name": "新品",
            "points_price": 50,
            "available_from": (now + 12 * HOUR).isoformat(),
        },
        {
            "id": "GONE",
            "name": "下架",
            "points_price": 50,
            "available_to": (now - HOUR).isoformat(),
        },
    )
    regular = member(hq, "13855550001")
    gold = member(hq, "13855550002", yuan=1000)
    with nothing_written(hq.db):
        early = redeem(hq, regular, "SOON", 50)
    assert (early["status"], early["http_status"]) == ("conflict", 409)
    opens = (now + 12 * HOUR).astimezone(dt.UTC).isoformat()
    assert early["error"] == f"SOON opens to regular members at {opens}"
    with nothing_written(hq.db):
        gone = redeem(hq, gold, "GONE", 50)
    assert gone["http_status"] == 409
    assert "no longer on offer" in gone["error"]
    assert redeem(hq, gold, "SOON", 50)["status"] == "applied"  # gold: 24 hours early
    hq.clock.advance(hours=13)
    assert redeem(hq, regular, "SOON", 50)["status"] == "applied"


# -- floating prices and quotes -------------------------------------------------------

FLOATING = {
    "id": "FLT",
    "name": "浮动价保温杯",
    "points_price": 1000,
    "float_floor": 500,
    "float_ceiling": 2000,
    "float_step": 100,
    "float_interval_minutes": 60,
    "float_target": 2,
}


def quote(hq: HQ, item_id: str, quantity: int = 1) -> dict[str, Any]:
    response = hq.client.get(
        "/v1/channel/mall/mall/quote",
        params={"item_id": item_id, "quantity": quantity},
        headers=hq.headers(hq.mall),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_floating_price_moves_a_step_per_interval_and_a_quote_holds_for_a_while(
    hq: HQ,
) -> None:
    put_items(hq, FLOATING)
    buyer = member(hq, "13855550003", yuan=3000)
    _, cursor = hq.pull_all(hq.till1)
    shown = quote(hq, "FLT", 1)
    assert (shown["unit_points"], shown["price_version"], shown["honoured_for_s"]) == (1000, 1, 900)
    assert run_jobs(hq.db, hq.clock()).prices_moved == 0  # set just now: the interval runs
    hq.clock.advance(minutes=61)
    assert run_jobs(hq.db, hq.clock()).prices_moved == 1  # no demand: a step down
    assert run_jobs(hq.db, hq.clock()).prices_moved == 0  # once per interval
    assert quote(hq, "FLT")["unit_points"] == 900
    changes, cursor = hq.pull_all(hq.till1, cursor)
    (item,) = [c["data"] for c in changes if c["topic"] == "mall_item"]
    assert (item["points_price"], item["price_version"]) == (900, 2)
    # the member was shown 1,000 points just before the change: honoured for 15 minutes
    hq.clock.advance(minutes=10)
    assert redeem(hq, buyer, "FLT", 1000, price_version=1)["status"] == "applied"
    with nothing_written(hq.db):
        wrong = redeem(hq, buyer, "FLT", 900, price_version=1)
    assert wrong["http_status"] == 400  # the quoted version costs what it said
    hq.clock.advance(minutes=6)
    with nothing_written(hq.db):
        stale = redeem(hq, buyer, "FLT", 1000, price_version=1)
    assert stale["http_status"] == 409
    assert "now 900 points, version 2): quote again" in stale["error"]
    with nothing_written(hq.db):
        future = redeem(hq, buyer, "FLT", 900, price_version=7)
    assert "no price version 7" in future["error"]
    assert redeem(hq, buyer, "FLT", 900, price_version=2)["status"] == "applied"
    assert redeem(hq, buyer, "FLT", 900)["status"] == "applied"  # no quote: the price now
    # three redeemed in the hour (target 2): a step up once the interval has passed
    hq.clock.advance(minutes=45)
    assert run_jobs(hq.db, hq.clock()).prices_moved == 1
    with hq.db.read() as s:
        history = s.execute(
            select(MallPriceChange.version, MallPriceChange.points_price, MallPriceChange.source)
            .where(MallPriceChange.item_id == "FLT")
            .order_by(MallPriceChange.version)
        ).all()
    assert [tuple(h) for h in history] == [
        (1, 1000, "before"),
        (2, 900, "floating"),
        (3, 1000, "floating"),
    ]


def test_floating_bounds_are_checked_naming_the_field(hq: HQ) -> None:
    bad = {**FLOATING, "float_ceiling": 100}
    response = hq.client.put(
        "/v1/admin/mall-items", json={"items": [bad]}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 422
    assert "float_ceiling: must not be below float_floor" in response.text
    partial = {k: v for k, v in FLOATING.items() if k != "float_step"}
    response = hq.client.put(
        "/v1/admin/mall-items", json={"items": [partial]}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 422
    assert "float_step: a floating price needs all of" in response.text


# -- the lottery ----------------------------------------------------------------------

PRIZES = [
    {"kind": "points", "name": "500 积分", "count": 1, "points": 500},
    {"kind": "coupon", "name": "10 元券", "count": 1, "amount_off_fen": 1000},
    {"kind": "goods", "name": "保温杯", "count": 1, "valid_days": 14},
]


def admin_call(hq: HQ, method: str, path: str, body: Any = None) -> Any:
    return hq.client.request(method, path, json=body, headers=hq.headers(hq.admin))


def lottery_with_entries(hq: HQ) -> list[str]:
    """Lottery LOT with the three-prize catalogue and five members (who agreed to SMS)
    holding two entries each."""
    put_items(hq, {"id": "LOT", "name": "圣诞抽奖", "points_price": 10, "kind": "lottery"})
    response = admin_call(hq, "PUT", "/v1/admin/lotteries/LOT/prizes", {"prizes": PRIZES})
    assert response.status_code == 200, response.text
    members = [member_with(hq, f"138666600{n:02d}", "sms") for n in range(5)]
    for m in members:
        assert redeem(hq, m, "LOT", 20, quantity=2)["status"] == "applied"
    return members


def test_a_lottery_is_drawn_once_reproducibly_and_its_prizes_issued_once(hq: HQ) -> None:
    members = lottery_with_entries(hq)
    _, cursor = hq.pull_all(hq.till1)
    drawn = admin_call(hq, "POST", "/v1/admin/lotteries/LOT/draw")
    assert drawn.status_code == 201, drawn.text
    body = drawn.json()
    assert body["entries"] == 10
    assert body["draw"]["verified"] is True
    winners = body["winners"]
    assert [w["kind"] for w in winners] == ["points", "coupon", "goods"]
    assert all(w["issued_at"] is None for w in winners)
    # anyone with the seed and the entries repeats the draw
    with hq.db.read() as s:
        entries = s.execute(text("SELECT id, quantity FROM redemptions")).all()
    entry_ids = [f"{rid}:{n}" for rid, q in entries for n in range(q)]
    ranked = draw_lottery(entry_ids, bytes.fromhex(body["draw"]["seed_hex"]), 3)
    prizes = [Prize(n, p["kind"], p["name"], p["count"]) for n, p in enumerate(PRIZES)]
    assert [w["entry_id"] for w in winners] == [e for e, _ in assign_prizes(ranked, prizes)]
    # drawn: no second draw, no more entries, prizes fixed
    with nothing_written(hq.db):
        assert admin_call(hq, "POST", "/v1/admin/lotteries/LOT/draw").status_code == 409
        late = redeem(hq, members[0], "LOT", 10)
        assert late["http_status"] == 409
        assert "has been drawn" in late["error"]
        fixed = admin_call(hq, "PUT", "/v1/admin/lotteries/LOT/prizes", {"prizes": PRIZES})
        assert fixed.status_code == 409
    first = run_jobs(hq.db, hq.clock())
    assert first.prizes_issued == 3
    again = HQDatabase(hq.db.url)  # HQ restarted: a new pool, the job again
    try:
        assert run_jobs(again, hq.clock() + HOUR).prizes_issued == 0
    finally:
        again.close()
    issued = admin_call(hq, "GET", "/v1/admin/lotteries/LOT").json()["winners"]
    assert all(w["issued_at"] for w in issued)
    changes, _ = hq.pull_all(hq.till1, cursor)
    bonus = [c["data"] for c in changes if c["topic"] == "entry" and c["data"]["kind"] == "bonus"]
    assert [(b["member_id"], b["points"], b["reason"]) for b in bonus] == [
        (winners[0]["member_id"], 500, "lottery:LOT")
    ]
    coupons = sorted(
        (c["data"] for c in changes if c["topic"] == "coupon"), key=lambda c: c["amount_off_fen"]
    )
    assert [(c["member_id"], c["amount_off_fen"], c["source"]) for c in coupons] == [
        (winners[2]["member_id"], 0, "lottery"),
        (winners[1]["member_id"], 1000, "lottery"),
    ]
    assert coupons[0]["name"] == "奖品 保温杯 到店领取"
    assert [c["id"] for c in coupons] == [issued[2]["coupon_id"], issued[1]["coupon_id"]]


def test_each_prize_is_notified_once(hq: HQ) -> None:
    lottery_with_entries(hq)
    assert admin_call(hq, "POST", "/v1/admin/lotteries/LOT/draw").status_code == 201
    run_jobs(hq.db, hq.clock())
    for _ in range(2):
        notify.run_planning(hq.db, hq.clock() + HOUR, "https://mall.example.com")
    with hq.db.read() as s:
        won = s.execute(select(LotteryWinner.member_id, LotteryWinner.prize_name)).all()
        rows = s.execute(
            text(
                "SELECT member_id, channel, params FROM notifications WHERE kind = 'lottery_prize'"
            )
        ).all()
    assert sorted((m, c, p["prize"]) for m, c, p in rows) == sorted(
        (m, "sms", prize) for m, prize in won
    )
    how = {p["prize"]: p["how"] for _, _, p in rows}
    assert how["500 积分"] == "积分已存入您的账户。"
    assert how["保温杯"] == "请在14天内到门店出示会员码领取。"


def test_bad_prizes_are_refused_naming_the_field(hq: HQ) -> None:
    put_items(hq, {"id": "LOT", "name": "抽奖", "points_price": 10, "kind": "lottery"})
    put_items(hq, {"id": "CUP", "name": "杯", "points_price": 10})
    with nothing_written(hq.db):
        bad = admin_call(
            hq,
            "PUT",
            "/v1/admin/lotteries/LOT/prizes",
            {"prizes": [{"kind": "points", "name": "x", "count": 1}]},
        )
        assert bad.status_code == 422
        assert "points: a points prize needs points above 0" in bad.text
        coupon = admin_call(
            hq,
            "PUT",
            "/v1/admin/lotteries/LOT/prizes",
            {"prizes": [{"kind": "coupon", "name": "x", "count": 1}]},
        )
        assert "amount_off_fen: a coupon prize needs an amount above 0" in coupon.text
        goods = admin_call(hq, "PUT", "/v1/admin/lotteries/CUP/prizes", {"prizes": PRIZES})
        assert goods.status_code == 404
        empty = admin_call(hq, "POST", "/v1/admin/lotteries/LOT/draw")
        assert empty.status_code == 409
        assert "no prizes" in empty.text
