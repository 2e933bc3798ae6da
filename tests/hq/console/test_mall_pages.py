"""The console's mall pages: editing one item (validation naming the field, featured
sections, floating bounds, a new price version tills pull) and a lottery (prizes, the
draw, each winner's prize and its issue), by role (real PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pos_app.hq.front import featured_ids
from pos_app.hq.jobs import run_jobs
from pos_app.hq.models import AuditRecord, MallItem
from tests.hq.console.conftest import Console
from tests.hq.support import nothing_written
from tests.hq.test_mall_hq import member, put_items, redeem

FORM = {
    "name": "保温杯",
    "points_price": "1200",
    "cash_price_fen": "990",
    "stock": "40",
    "min_tier": "silver",
    "level": "middle",
    "kind": "goods",
    "category": "home",
    "brand": "象印",
    "keywords": "杯 保温",
    "active": "yes",
    "available_from": "2026-11-20T09:00",
    "available_to": "",
    "discount_percent": "0",
    "discount_from": "",
    "discount_to": "",
    "float_floor": "800",
    "float_ceiling": "1600",
    "float_step": "100",
    "float_interval_minutes": "1440",
    "float_target": "5",
}


def actions(console: Console) -> list[tuple[str, str]]:
    """The console's mall changes in the audit trail (the API's set-up left out)."""
    with console.hq.db.read() as s:
        return [
            (r.action, r.actor)
            for r in s.scalars(
                select(AuditRecord)
                .where(
                    AuditRecord.action.in_(("mall_items.upsert", "mall.front")),
                    AuditRecord.actor.like("console:%"),
                )
                .order_by(AuditRecord.seq)
            )
        ]


def item(console: Console, item_id: str) -> MallItem:
    with console.hq.db.read() as s:
        row = s.get(MallItem, item_id)
        assert row is not None
        s.expunge(row)
        return row


def test_marketing_edits_an_item_and_tills_pull_it(console: Console) -> None:
    hq = console.hq
    put_items(hq, {"id": "CUP", "name": "杯", "points_price": 1000})
    _, cursor = hq.pull_all(hq.till1)
    console.login("marketing")
    page = console.client.get("/console/mall/items/CUP")
    assert page.status_code == 200
    assert 'id="save-item"' in page.text
    done = console.post("/console/mall/items/CUP", {**FORM, "featured": ["hot", "new"]})
    assert done.status_code == 303, done.text[-2000:]
    row = item(console, "CUP")
    assert (row.points_price, row.price_version, row.stock, row.min_tier) == (1200, 2, 40, "silver")
    assert (row.cash_price_fen, row.brand, row.float_floor, row.float_target) == (
        990,
        "象印",
        800,
        5,
    )
    assert row.available_from is not None
    assert row.available_from.isoformat() == "2026-11-20T01:00:00+00:00"  # Beijing time
    with hq.db.read() as s:
        assert {sec for sec, ids in featured_ids(s).items() if "CUP" in ids} == {"hot", "new"}
    assert actions(console) == [
        ("mall_items.upsert", "console:marketing"),
        ("mall.front", "console:marketing"),
    ]
    changes, _ = hq.pull_all(hq.till1, cursor)
    (pulled,) = [c["data"] for c in changes if c["topic"] == "mall_item"]
    assert (pulled["points_price"], pulled["price_version"], pulled["stock"]) == (1200, 2, 40)
    shown = console.client.get("/console/mall/items/CUP?saved=1").text
    assert 'value="2026-11-20T09:00"' in shown
    assert 'id="f-featured-hot" checked' in shown


def test_bad_input_names_the_field_and_writes_nothing(console: Console) -> None:
    put_items(console.hq, {"id": "CUP", "name": "杯", "points_price": 1000})
    console.login("admin")
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "price": ({"points_price": "lots"}, "points_price</b>: not a whole number"),
        "bounds": ({"float_ceiling": "500"}, "float_ceiling</b>: must not be below float_floor"),
        "partial": ({"float_step": ""}, "float_step</b>: a floating price needs all of"),
        "window": (
            {"available_to": "2026-11-19T09:00"},
            "available_to</b>: must be after available_from",
        ),
        "time": ({"discount_from": "tomorrow"}, "discount_from</b>:"),
        "stock": ({"stock": "-3"}, "stock</b>: Input should be greater than or equal to 0"),
        "kind": ({"kind": "raffle"}, "kind</b>:"),
    }
    for name, (change, expected) in cases.items():
        with nothing_written(console.hq.db):
            refused = console.post("/console/mall/items/CUP", {**FORM, **change})
        assert refused.status_code == 400, name
        assert expected in refused.text, (name, refused.text[-3000:])
        assert item(console, "CUP").points_price == 1000
    with nothing_written(console.hq.db):
        unknown = console.post("/console/mall/items/CUP", {**FORM, "featured": ["top"]})
    assert unknown.status_code == 400
    assert console.post("/console/mall/items/NOPE", FORM).status_code == 404
    assert actions(console) == []


def test_a_viewer_sees_no_buttons_and_gets_403(console: Console) -> None:
    hq = console.hq
    put_items(hq, {"id": "LOT", "name": "抽奖", "points_price": 10, "kind": "lottery"})
    console.login("viewer")
    page = console.client.get("/console/mall/items/LOT").text
    assert 'id="save-item"' not in page
    lottery = console.client.get("/console/mall/lotteries/LOT").text
    assert 'id="draw-button"' not in lottery
    assert 'id="save-prizes"' not in lottery
    with nothing_written(hq.db):
        assert console.post("/console/mall/items/LOT", FORM).status_code == 403
        prizes = {"prizes": "points,100 积分,1,100"}
        assert console.post("/console/mall/lotteries/LOT/prizes", prizes).status_code == 403
        draw = {"confirm": "yes"}
        assert console.post("/console/mall/lotteries/LOT/draw", draw).status_code == 403
        no_csrf = console.client.post("/console/mall/lotteries/LOT/draw", data=draw)
        assert no_csrf.status_code == 403


def test_a_lottery_page_sets_prizes_draws_and_shows_each_issue(console: Console) -> None:
    hq = console.hq
    put_items(hq, {"id": "LOT", "name": "圣诞抽奖", "points_price": 10, "kind": "lottery"})
    buyers = [member(hq, f"1386677000{n}") for n in range(3)]
    for m in buyers:
        assert redeem(hq, m, "LOT", 10)["status"] == "applied"
    console.login("marketing")
    assert 'id="draw-button"' in console.client.get("/console/mall/lotteries/LOT").text
    with nothing_written(hq.db):
        bad = console.post(
            "/console/mall/lotteries/LOT/prizes", {"prizes": "points,积分,1,0\nraffle,x,1\n"}
        )
        assert bad.status_code == 400
        assert "line 1: points: a points prize needs points above 0" in bad.text
        assert "line 2: kind:" in bad.text
        empty = console.post("/console/mall/lotteries/LOT/draw", {"confirm": "yes"})
        assert empty.status_code == 400
        assert "has no prizes" in empty.text
    text = "points,500 积分,1,500\ncoupon,10 元券,1,1000,7\ngoods,保温杯,1,0,14"
    saved = console.post("/console/mall/lotteries/LOT/prizes", {"prizes": text})
    assert saved.status_code == 303, saved.text[-2000:]
    page = console.client.get("/console/mall/lotteries/LOT").text
    assert "¥10.00" in page
    assert 'id="entries">3<' in page
    with nothing_written(hq.db):
        unconfirmed = console.post("/console/mall/lotteries/LOT/draw")
    assert unconfirmed.status_code == 400
    drawn = console.post("/console/mall/lotteries/LOT/draw", {"confirm": "yes"})
    assert drawn.status_code == 303
    page = console.client.get("/console/mall/lotteries/LOT").text
    assert page.count("待发放") == 3
    assert 'id="verified"><span class="tag on">' in page
    assert 'id="save-prizes"' not in page  # fixed once drawn
    run_jobs(hq.db, hq.clock())
    page = console.client.get("/console/mall/lotteries/LOT").text
    assert "待发放" not in page
    assert page.count("LP-") == 2  # the coupon and the voucher for the goods
    with hq.db.read() as s:
        acts = [r.action for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq))]
    assert {"lottery.prizes", "lottery.draw"} <= set(acts)
