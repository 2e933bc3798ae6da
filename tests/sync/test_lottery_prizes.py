"""End to end: a member enters HQ's lottery online, HQ draws it, the prize job issues the
prizes, and the winner's till shows them exactly once, whatever the reruns of the job
and an HQ restart in between."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path

from sqlalchemy import select

from pos_app.hq.jobs import run_jobs
from pos_app.services import mall, members
from pos_app.store import mall as mall_store
from pos_app.store.models import LedgerEntry
from tests.sync.harness import HQServer, SimTill, utc_now

PRIZES = [
    {"kind": "points", "name": "300 积分", "count": 1, "points": 300},
    {"kind": "coupon", "name": "10 元券", "count": 1, "amount_off_fen": 1000},
    {"kind": "goods", "name": "保温杯", "count": 1},
]


def _enter(hq: HQServer, channel_token: str, member_id: str, entries: int) -> None:
    """The online mall redeems ``entries`` entries of LOT (10 points each) for the member."""
    now = utc_now().isoformat()
    rid = uuid.uuid4().hex
    payload = {
        "redemption": {
            "id": rid,
            "member_id": member_id,
            "item_id": "LOT",
            "quantity": entries,
            "points": 10 * entries,
            "cash_fen": 0,
            "created_at": now,
        },
        "entries": [
            {
                "id": uuid.uuid4().hex,
                "member_id": member_id,
                "kind": "spend",
                "points": -10 * entries,
                "created_at": now,
                "rule_set_version": "2026.11-default",
            }
        ],
    }
    body = {"events": [{"id": rid, "kind": "redemption", "payload": payload, "created_at": now}]}
    with hq.admin_client() as client:
        answer = client.request(
            "POST", "/v1/channel/mall/events", json_body=body, token=channel_token
        )
    assert [r["status"] for r in answer["results"]] == ["applied"], answer


def _prize_entries(till: SimTill, member_id: str) -> list[int]:
    with till.ctx.db.read() as s:
        return list(
            s.scalars(
                select(LedgerEntry.points).where(
                    LedgerEntry.member_id == member_id, LedgerEntry.reason == "lottery:LOT"
                )
            )
        )


def test_a_winners_prizes_reach_their_till_once(
    hq: HQServer, sync_till_template: Path, tmp_path: Path
) -> None:
    till = SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(7))
    try:
        member_id = till.register("13977770001")
        assert member_id is not None
        assert till.sync()
        with hq.admin_client() as client:
            channel = client.request(
                "POST", "/v1/admin/channels", json_body={"code": "mall", "name": "积分商城"}
            )
            client.request(
                "PUT",
                "/v1/admin/mall-items",
                json_body={
                    "items": [
                        {"id": "LOT", "name": "圣诞抽奖", "points_price": 10, "kind": "lottery"}
                    ]
                },
            )
            client.request("PUT", "/v1/admin/lotteries/LOT/prizes", json_body={"prizes": PRIZES})
        _enter(hq, channel["token"], member_id, 3)  # three entries, three prizes: all hers
        with hq.admin_client() as client:
            drawn = client.request("POST", "/v1/admin/lotteries/LOT/draw")
        assert [w["member_id"] for w in drawn["winners"]] == [member_id] * 3
        assert till.sync()
        before = members.summary(till.ctx, member_id).balance
        with till.ctx.db.read() as s:  # HQ's lottery is not sold at the counter
            assert mall_store.get_item(s, "LOT") is None

        assert hq.db is not None
        assert run_jobs(hq.db, utc_now()).prizes_issued == 3
        assert run_jobs(hq.db, utc_now()).prizes_issued == 0
        hq.restart()
        assert hq.db is not None
        assert run_jobs(hq.db, utc_now() + dt.timedelta(minutes=5)).prizes_issued == 0

        for _ in range(2):  # the member's next visit, and another sync after it
            assert till.sync()
            assert members.summary(till.ctx, member_id).balance == before + 300
            assert _prize_entries(till, member_id) == [300]
            coupons = sorted(
                (c.name, c.amount_off_fen) for c in mall.member_coupons(till.ctx, member_id)
            )
            assert coupons == [("10 元券", 1000), ("奖品 保温杯 到店领取", 0)]
    finally:
        till.close()
