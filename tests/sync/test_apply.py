"""Applying pulled pages to a till database (no HQ needed: pages are written by hand in
the shape HQ's ``/v1/pull`` gives them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import func, select, text

from pos_app.core.privacy import phone_hash
from pos_app.core.rules import default_rule_set
from pos_app.services import members
from pos_app.services.context import TillContext, open_till
from pos_app.services.sync import HQClient, PullApplier, SyncError
from pos_app.services.sync.pull import SETTING_RESTART_ROW
from pos_app.services.sync.snapshot import (
    LOT_FIELDS,
    MEMBER_FIELDS,
    SETTING_SNAPSHOT_INDEXES,
    SnapshotLoader,
    SnapshotProgress,
)
from pos_app.store import repo
from pos_app.store.checks import balance_mismatches
from pos_app.store.models import (
    Coupon,
    LedgerEntry,
    MallItemRow,
    Member,
    OutboxEvent,
    PointLot,
    Product,
)

T0 = dt.datetime(2026, 11, 17, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[TillContext]:
    context = open_till(tmp_path / "till.sqlite", clock=lambda: T0)
    yield context
    context.db.close()


def member(ctx: TillContext, member_id: str, phone: str, **extra: Any) -> dict[str, Any]:
    """A member row as HQ sends it."""
    return {
        "id": member_id,
        "member_no": extra.pop("member_no", 9_009_900_001),
        "phone_hash": phone_hash(f"+86{phone}", ctx.phone_key).hex(),
        "phone_last4": phone[-4:],
        "phone_masked": f"{phone[:3]}****{phone[-4:]}",
        "name": "",
        "birthday": None,
        "tier": "regular",
        "tier_since": T0.isoformat(),
        "referral_code": extra.pop("referral_code", f"R{member_id[-7:].upper()}"),
        "referred_by": None,
        "registered_at": T0.isoformat(),
        "registered_store": "009",
        "first_purchase_at": None,
        "birthday_gift_year": None,
        "alias_of": None,
        "balance": 0,
        **extra,
    }


def entry(entry_id: str, member_id: str, kind: str, points: int, **extra: Any) -> dict[str, Any]:
    """A ledger entry as HQ sends it."""
    return {
        "id": entry_id,
        "member_id": member_id,
        "member_ref": member_id,
        "kind": kind,
        "points": points,
        "created_at": T0.isoformat(),
        "received_at": T0.isoformat(),
        "source_channel": "store",
        "store_id": "009",
        "till_id": "009-01",
        "sale_id": extra.pop("sale_id", None),
        "refund_id": None,
        "rule_set_version": None,
        "reason": extra.pop("reason", None),
        **extra,
    }


def page(*changes: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"seq": i + 1, "topic": topic, "data": data} for i, (topic, data) in enumerate(changes)]


def apply(ctx: TillContext, changes: list[dict[str, Any]], up_to: int = 10**9) -> PullApplier:
    with ctx.db.write() as session:
        applier = PullApplier(ctx, session)
        applier.apply_all(changes)
        applier.check_balances(up_to)
    applier.after_commit()
    return applier


def consistent(ctx: TillContext) -> None:
    with ctx.db.read() as session:
        assert balance_mismatches(session) == []


def test_entries_before_their_member_make_a_stub_that_the_row_fills(ctx: TillContext) -> None:
    first = page(
        ("entry", entry("e1", "m1", "bonus", 100)), ("entry", entry("e2", "m1", "earn", 40))
    )
    apply(ctx, first)
    with ctx.db.read() as s:
        stub = s.get(Member, "m1")
        assert stub is not None
        assert stub.balance == 140
        assert stub.phone_last4 == ""  # nobody finds a stub by phone
    applier = apply(ctx, page(("member", member(ctx, "m1", "13900001111", balance=140))))
    assert applier.mismatches == []
    assert applier.matched == ["m1"]
    hit = members.find_by_phone(ctx, "13900001111")
    assert (hit.id, hit.balance, hit.member_no) == ("m1", 140, 9_009_900_001)
    consistent(ctx)


def test_a_page_applied_twice_changes_nothing(ctx: TillContext) -> None:
    changes = page(
        ("member", member(ctx, "m1", "13900001111", balance=130)),
        ("entry", entry("e1", "m1", "bonus", 100)),
        ("entry", entry("e2", "m1", "earn", 50)),
        ("entry", entry("e3", "m1", "spend", -20)),
    )
    apply(ctx, changes)
    again = apply(ctx, changes)
    assert again.applied == {"member": 1}  # the row is rewritten with the same values
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 3
        assert s.get(Member, "m1").balance == 130  # type: ignore[union-attr]
    consistent(ctx)


def test_a_debit_beyond_the_lots_is_a_debt_the_next_credit_repays(ctx: TillContext) -> None:
    apply(
        ctx,
        page(
            ("member", member(ctx, "m1", "13900001111")),
            ("entry", entry("e1", "m1", "earn", 100)),
            ("entry", entry("e2", "m1", "spend", -300)),  # another till spent offline
        ),
    )
    with ctx.db.read() as s:
        assert s.get(Member, "m1").balance == -200  # type: ignore[union-attr]
        assert s.scalar(select(func.sum(PointLot.remaining))) == 0
    consistent(ctx)
    apply(ctx, page(("entry", entry("e3", "m1", "earn", 250))))
    with ctx.db.read() as s:
        assert s.get(Member, "m1").balance == 50  # type: ignore[union-attr]
        assert s.scalar(select(func.sum(PointLot.remaining))) == 50
    consistent(ctx)


def test_the_balance_check_counts_the_tills_unsent_points(ctx: TillContext) -> None:
    apply(
        ctx,
        page(
            ("member", member(ctx, "m1", "13900001111", balance=100)),
            ("entry", entry("e1", "m1", "bonus", 100)),
        ),
    )
    members_here = members.register(ctx, phone="13900002222")  # unsent: +100 here only
    row = member(ctx, members_here.id, "13900002222", balance=0, member_no=None)
    applier = apply(ctx, page(("member", row)))
    assert applier.mismatches == []
    wrong = apply(ctx, page(("member", member(ctx, "m1", "13900001111", balance=90))))
    assert wrong.mismatches == ["m1"]
    ahead = apply(
        ctx,
        [{"seq": 50, "topic": "member", "data": member(ctx, "m1", "13900001111", balance=90)}],
        up_to=10,
    )
    assert ahead.mismatches == []  # a row sent ahead of its place is checked later


def test_an_alias_gives_up_the_phone_to_the_canonical_member(ctx: TillContext) -> None:
    local = members.register(ctx, phone="13900003333")  # registered here, offline
    canonical = member(ctx, "hq-canon", "13900003333", member_no=9_009_900_005)
    apply(ctx, page(("member", canonical)))
    assert members.find_by_phone(ctx, "13900003333").id == "hq-canon"
    assert members.find_by_last4(ctx, "3333")[0].id == "hq-canon"
    # HQ merged the till's member into the canonical one: the alias row and the merge
    alias = member(ctx, local.id, "13900003333", alias_of="hq-canon", member_no=None)
    apply(
        ctx,
        page(
            ("member", alias),
            ("entry", entry("mo", local.id, "merge_out", -100, reason="merged into hq-canon")),
            ("entry", entry("mi", "hq-canon", "merge_in", 100, reason=f"merged from {local.id}")),
        ),
    )
    with ctx.db.read() as s:
        assert s.get(Member, local.id).balance == 0  # type: ignore[union-attr]
        assert s.get(Member, "hq-canon").balance == 100  # type: ignore[union-attr]
        lots = s.scalars(select(PointLot).where(PointLot.member_id == "hq-canon")).all()
        # the merged points keep the expiry they had on the alias
        assert [lot.expires_on for lot in lots] == [
            lot.expires_on
            for lot in s.scalars(select(PointLot).where(PointLot.member_id == local.id))
        ]
    assert [h.id for h in members.find_by_last4(ctx, "3333")] == ["hq-canon"]
    consistent(ctx)


def test_a_member_number_hq_gives_wins_over_a_local_one(ctx: TillContext) -> None:
    local = members.register(ctx, phone="13900004444")
    other = member(ctx, "hq-1", "13900005555", member_no=local.member_no)
    apply(ctx, page(("member", other)))
    with ctx.db.read() as s:
        assert s.get(Member, "hq-1").member_no == local.member_no  # type: ignore[union-attr]
        moved = s.get(Member, local.id).member_no  # type: ignore[union-attr]
    assert 8_000_000_000 <= moved < 9_000_000_000
    assert members.summary(ctx, local.id).code  # still a valid member code


def test_rule_sets_products_mall_items_and_coupons(ctx: TillContext) -> None:
    newer = default_rule_set().model_copy(update={"version": "2027.01"})
    doc = newer.model_dump(mode="json")
    apply(
        ctx,
        page(
            ("rule_set", {"version": "2027.01", "document": doc, "active": True}),
            (
                "product",
                {
                    "sku": "A",
                    "barcode": "6901",
                    "name": "茶",
                    "category": "food",
                    "price_fen": 500,
                    "member_price_fen": None,
                    "active": True,
                },
            ),
            (
                "product",
                {
                    "sku": "B",
                    "barcode": "6901",
                    "name": "杯",
                    "category": "home",
                    "price_fen": 900,
                    "member_price_fen": 800,
                    "active": True,
                },
            ),
            ("mall_item", {"id": "CUP", "name": "杯子", "points_price": 500, "active": True}),
            ("member", member(ctx, "m1", "13900001111")),
            (
                "coupon",
                {
                    "id": "c1",
                    "code": "save5",
                    "member_id": "m1",
                    "name": "5元券",
                    "amount_off_fen": 500,
                    "valid_from": T0.isoformat(),
                    "valid_to": (T0 + dt.timedelta(days=30)).isoformat(),
                    "issued_at": T0.isoformat(),
                    "used_at": None,
                    "used_sale_id": None,
                },
            ),
        ),
    )
    assert ctx.rules.version == "2027.01"
    with ctx.db.read() as s:
        assert s.get(Product, "A").barcode is None  # type: ignore[union-attr]
        assert s.get(Product, "B").barcode == "6901"  # type: ignore[union-attr]
        assert s.get(MallItemRow, "CUP") is not None
        assert s.get(Coupon, "c1").code == "SAVE5"  # type: ignore[union-attr]
    used_elsewhere = T0 + dt.timedelta(days=2)
    apply(
        ctx,
        page(
            ("mall_item", {"id": "CUP", "name": "杯子", "points_price": 500, "active": False}),
            (
                "coupon",
                {
                    "id": "c1",
                    "code": "SAVE5",
                    "member_id": "m1",
                    "name": "5元券",
                    "amount_off_fen": 500,
                    "valid_from": T0.isoformat(),
                    "valid_to": (T0 + dt.timedelta(days=30)).isoformat(),
                    "issued_at": T0.isoformat(),
                    "used_at": used_elsewhere.isoformat(),
                    "used_sale_id": "sale-at-another-store",
                },
            ),
        ),
    )
    with ctx.db.read() as s:
        assert s.get(MallItemRow, "CUP") is None
        assert s.get(Coupon, "c1").valid_to == used_elsewhere  # type: ignore[union-attr]


def test_an_entry_id_the_till_holds_for_another_movement_is_reported(ctx: TillContext) -> None:
    apply(ctx, page(("entry", entry("e1", "m1", "bonus", 100))))
    applier = apply(ctx, page(("entry", entry("e1", "m1", "bonus", 999))))
    assert applier.applied == {}
    assert "e1" in applier.problems[0]


def test_placeholder_hashes_cannot_match_a_phone(ctx: TillContext) -> None:
    apply(ctx, page(("entry", entry("e1", "m1", "bonus", 100))))
    with ctx.db.read() as s:
        digest = s.get(Member, "m1").phone_hash  # type: ignore[union-attr]
    assert digest == hashlib.sha256(b"points-till/no-phone:m1").digest()


def test_numbers_pulled_from_other_tills_do_not_move_this_tills_block(ctx: TillContext) -> None:
    base = ctx.member_no_base
    elsewhere = member(ctx, "far", "13900007777", member_no=base + 5_000_001)  # a later block
    apply(ctx, page(("member", elsewhere)))
    local = members.register(ctx, phone="13900008888")
    assert local.member_no == base + 1


# -- members HQ sends whole (member snapshots) --------------------------------------------


def whole(
    ctx: TillContext, member_id: str, phone: str, balance: int, as_of: int, **extra: Any
) -> dict[str, Any]:
    """A member snapshot as HQ sends it: the row, its open lots, coupons, ``as_of``."""
    lots = extra.pop("lots", None)
    if lots is None:
        lots = (
            [
                {
                    "id": f"{member_id}-lot",
                    "points": balance,
                    "remaining": balance,
                    "earned_at": T0.isoformat(),
                    "expires_on": "2028-12-31",
                }
            ]
            if balance > 0
            else []
        )
    extra.setdefault("member_no", 9_009_000_000 + int(phone[-4:]))
    return member(ctx, member_id, phone, balance=balance, **extra) | {
        "lots": lots,
        "coupons": extra.get("coupons", []),
        "as_of": as_of,
    }


def entries_of(ctx: TillContext, member_id: str) -> list[tuple[str, int]]:
    with ctx.db.read() as s:
        rows = s.execute(
            select(LedgerEntry.kind, LedgerEntry.points)
            .where(LedgerEntry.member_id == member_id)
            .order_by(LedgerEntry.created_at)
        ).all()
    return [(k, int(p)) for k, p in rows]


def test_a_member_sent_whole_is_one_opening_entry_and_its_lots(ctx: TillContext) -> None:
    gift = {
        "id": "c9",
        "code": "gift9",
        "member_id": "m1",
        "name": "生日券",
        "amount_off_fen": 900,
        "valid_from": T0.isoformat(),
        "valid_to": (T0 + dt.timedelta(days=30)).isoformat(),
        "issued_at": T0.isoformat(),
    }
    applier = apply(
        ctx,
        page(
            ("member_snapshot", whole(ctx, "m1", "13900001111", 700, as_of=40, coupons=[gift])),
            ("member_snapshot", whole(ctx, "m2", "13900002222", -150, as_of=40)),  # a debt
            ("member_snapshot", whole(ctx, "m3", "13900003333", 0, as_of=40)),
        ),
    )
    assert applier.applied == {"member_snapshot": 3}
    assert entries_of(ctx, "m1") == [("opening", 700)]
    assert entries_of(ctx, "m2") == [("opening", -150)]
    assert entries_of(ctx, "m3") == []
    with ctx.db.read() as s:
        lots = s.execute(select(PointLot.member_id, PointLot.remaining, PointLot.expires_on)).all()
        assert lots == [("m1", 700, dt.date(2028, 12, 31))]  # HQ's lots, expiry and all
        assert [s.get(Member, m).snapshot_seq for m in ("m1", "m2", "m3")] == [40, 40, 40]  # type: ignore[union-attr]
        coupon = s.get(Coupon, "c9")
        assert coupon is not None
        assert (coupon.code, coupon.member_id) == ("GIFT9", "m1")  # codes are kept upper-case
    assert members.find_by_phone(ctx, "13900001111").balance == 700
    consistent(ctx)


def test_changes_a_snapshot_holds_already_are_skipped(ctx: TillContext) -> None:
    apply(ctx, page(("member_snapshot", whole(ctx, "m1", "13900001111", 700, as_of=40))))
    older = apply(
        ctx,
        [
            {"seq": 39, "topic": "entry", "data": entry("e-old", "m1", "earn", 100)},
            {
                "seq": 40,
                "topic": "member",
                "data": member(ctx, "m1", "13900001111", balance=700, name="旧"),
            },
            {"seq": 41, "topic": "entry", "data": entry("e-new", "m1", "spend", -200)},
            {
                "seq": 42,
                "topic": "member",
                "data": member(ctx, "m1", "13900001111", balance=500, name="新"),
            },
        ],
    )
    assert older.applied == {"entry": 1, "member": 1}
    assert older.mismatches == []
    assert entries_of(ctx, "m1") == [("opening", 700), ("spend", -200)]
    assert members.summary(ctx, "m1").name == "新"
    # the same snapshot again, or an older one, changes nothing
    again = apply(ctx, page(("member_snapshot", whole(ctx, "m1", "13900001111", 700, as_of=40))))
    assert entries_of(ctx, "m1") == [("opening", 700), ("spend", -200)]
    assert again.applied == {"member_snapshot": 0}
    consistent(ctx)


def test_a_member_held_here_is_brought_to_hqs_balance_plus_its_unsent_points(
    ctx: TillContext,
) -> None:
    local = members.register(ctx, phone="13900004444")  # +100 bonus, not sent to HQ yet
    assert local.balance == 100
    # HQ's snapshot says 150 (what other tills did); the till's own +100 is not at HQ yet
    apply(ctx, page(("member_snapshot", whole(ctx, local.id, "13900004444", 150, as_of=60))))
    assert members.summary(ctx, local.id).balance == 150 + 100  # HQ's once it has the event
    assert entries_of(ctx, local.id) == [("bonus", 100), ("opening", 150)]
    with ctx.db.write() as s:  # HQ acknowledged the registration
        for event in s.scalars(select(OutboxEvent)):
            event.sent_at = T0
    apply(ctx, page(("member_snapshot", whole(ctx, local.id, "13900004444", 250, as_of=70))))
    assert members.summary(ctx, local.id).balance == 250
    assert entries_of(ctx, local.id) == [("bonus", 100), ("opening", 150)]  # nothing moved
    consistent(ctx)


def test_a_referrer_not_here_yet_is_a_stub_its_own_snapshot_fills(ctx: TillContext) -> None:
    friend = whole(ctx, "m2", "13900002222", 100, as_of=40, referred_by="m9")
    apply(ctx, page(("member_snapshot", friend)))
    with ctx.db.read() as s:
        stub = s.get(Member, "m9")
        assert stub is not None
        assert (stub.phone_last4, stub.balance) == ("", 0)
        assert s.get(Member, "m2").referred_by == "m9"  # type: ignore[union-attr]
    apply(ctx, page(("member_snapshot", whole(ctx, "m9", "13900009999", 300, as_of=41))))
    hit = members.find_by_phone(ctx, "13900009999")
    assert (hit.id, hit.balance) == ("m9", 300)
    consistent(ctx)


def test_a_phone_held_by_a_member_registered_here_goes_to_hqs_member(ctx: TillContext) -> None:
    local = members.register(ctx, phone="13900005555")  # offline, the same phone
    batch = [whole(ctx, f"m{i}", f"1390000600{i}", 10, as_of=40) for i in range(4)]
    batch.insert(2, whole(ctx, "hq-canon", "13900005555", 500, as_of=40))
    apply(ctx, page(*[("member_snapshot", m) for m in batch]))
    assert members.find_by_phone(ctx, "13900005555").id == "hq-canon"
    assert members.summary(ctx, "hq-canon").balance == 500
    assert members.summary(ctx, local.id).balance == 100  # its own, until HQ merges it
    assert [members.find_by_phone(ctx, f"1390000600{i}").balance for i in range(4)] == [10] * 4
    consistent(ctx)


def test_an_entry_hq_applies_again_after_a_restore_counts_once(ctx: TillContext) -> None:
    apply(
        ctx,
        [
            {"seq": 5, "topic": "member", "data": member(ctx, "m1", "13900001111", balance=100)},
            {"seq": 6, "topic": "entry", "data": entry("e1", "m1", "earn", 100)},
        ],
    )
    # HQ is restored from a backup that lost e1: the till starts again from HQ's snapshot
    with ctx.db.write() as s:
        last = s.execute(text("SELECT MAX(rowid) FROM ledger_entries")).scalar_one()
        repo.put_setting(s, SETTING_RESTART_ROW, str(last))
    apply(ctx, page(("member_snapshot", whole(ctx, "m1", "13900001111", 0, as_of=3))))
    assert members.summary(ctx, "m1").balance == 0  # HQ's, without e1
    # the till that wrote e1 sends it again: HQ numbers it 9; it counts once more here
    back = [{"seq": 9, "topic": "entry", "data": entry("e1", "m1", "earn", 100)}]
    apply(ctx, back)
    assert members.summary(ctx, "m1").balance == 100
    apply(ctx, back)  # a page applied twice changes nothing
    assert members.summary(ctx, "m1").balance == 100
    consistent(ctx)


# -- a first sync's stream: indexes built after a fresh till's load ---------------------------


class SnapshotStream:
    """HQ's first-sync stream of ``snapshots`` (``GET /v1/snapshot``), one line each,
    continued after a member id as HQ does."""

    def __init__(
        self, snapshots: list[dict[str, Any]], fields: tuple[str, ...] = MEMBER_FIELDS
    ) -> None:
        self.snapshots = snapshots
        self.fields = fields

    def snapshot(self, after: str = "") -> Iterator[bytes]:
        rest = [m for m in self.snapshots if m["id"] > after]
        header = {
            "type": "header",
            "format": 1,
            "cursor": "v1:50",
            "as_of": 50,
            "region": "R1",
            "total": len(self.snapshots),
            "member_fields": list(self.fields),
            "lot_fields": list(LOT_FIELDS),
            "coupon_fields": [],
        }
        lines = [header, *[[m.get(f) for f in self.fields] for m in rest]]
        lines.append({"type": "end", "members": len(rest)})
        return iter(json.dumps(line, default=str).encode() for line in lines)


def secondary_indexes(ctx: TillContext) -> set[str]:
    with ctx.db.read() as s:
        names = s.execute(
            text(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('members', 'point_lots', 'ledger_entries')"
            )
        )
        return set(names.scalars())


def first_sync_stopped_after_one_member(ctx: TillContext, stream: SnapshotStream) -> list[set[str]]:
    """Load ``stream`` one member per transaction, switched off after the first; the
    indexes the till had then."""
    stop = threading.Event()
    seen: list[set[str]] = []

    def switched_off(_progress: SnapshotProgress) -> None:
        seen.append(secondary_indexes(ctx))
        stop.set()

    loader = SnapshotLoader(ctx, cast(HQClient, stream), switched_off, batch=1)
    assert not loader.load(stop).finished
    return seen


def test_a_fresh_till_builds_its_secondary_indexes_after_its_first_sync(
    ctx: TillContext,
) -> None:
    before = secondary_indexes(ctx)
    assert {"ix_members_hint_seen", "ix_ledger_member_time", "ix_point_lots_open"} <= before
    stream = SnapshotStream(
        [whole(ctx, f"m{i}", f"1390000700{i}", 10 * i, as_of=40) for i in range(1, 4)]
    )
    assert first_sync_stopped_after_one_member(ctx, stream) == [set()]
    # a member looked up at the counter meanwhile is kept without those indexes
    hit = members.find_by_phone(ctx, "13900007001")
    assert (hit.id, hit.balance) == ("m1", 10)
    ctx.db.close()
    again = open_till(
        ctx.db.path, clock=lambda: T0
    )  # the till restarts: the load goes on without them
    try:
        done = SnapshotLoader(again, cast(HQClient, stream), batch=1).load()
        assert (done.finished, done.members) == (True, 3)
        assert secondary_indexes(again) == before
        with again.db.read() as s:
            assert repo.get_setting(s, SETTING_SNAPSHOT_INDEXES) is None
        assert members.find_by_last4(again, "7003", prefix="139")[0].balance == 30
        consistent(again)
    finally:
        again.db.close()


def test_a_till_holding_members_keeps_its_indexes_through_a_snapshot(ctx: TillContext) -> None:
    members.register(ctx, phone="13900005555")
    before = secondary_indexes(ctx)
    stream = SnapshotStream(
        [whole(ctx, f"m{i}", f"1390000800{i}", 10, as_of=40) for i in range(1, 4)]
    )
    assert first_sync_stopped_after_one_member(ctx, stream) == [before]
    assert SnapshotLoader(ctx, cast(HQClient, stream), batch=1).load().finished
    assert secondary_indexes(ctx) == before
    consistent(ctx)


def test_a_stream_without_optional_member_fields_loads_and_without_a_phone_hash_is_refused(
    ctx: TillContext,
) -> None:
    snapshots = [whole(ctx, f"m{i}", f"1390000900{i}", 10, as_of=40) for i in range(1, 3)]
    no_phone = tuple(f for f in MEMBER_FIELDS if f != "phone_hash")
    with pytest.raises(SyncError, match="phone_hash"):
        SnapshotLoader(ctx, cast(HQClient, SnapshotStream(snapshots, no_phone))).load()
    assert secondary_indexes(ctx) >= {"ix_members_hint_seen"}  # nothing was begun
    older = tuple(f for f in MEMBER_FIELDS if f not in ("alias_of", "birthday_gift_year"))
    assert SnapshotLoader(ctx, cast(HQClient, SnapshotStream(snapshots, older))).load().finished
    assert members.find_by_phone(ctx, "13900009002").balance == 10
    consistent(ctx)
