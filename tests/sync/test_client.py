"""The sync client against a real HQ (PostgreSQL), one behaviour at a time."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pos_app.core.errors import InsufficientPoints, InvalidInput, SpendNotAllowed
from pos_app.core.quote import BasketLine
from pos_app.services import checkout, members
from pos_app.services.errors import PaymentError
from pos_app.services.ledger import add_outbox
from pos_app.services.sync import (
    HQAuthError,
    HQClient,
    OnlineFlag,
    SyncClient,
    SyncConfigError,
    SyncProgress,
    complete_sale_online,
    hold_id_for,
)
from pos_app.store import repo
from pos_app.store.models import OutboxEvent, Product
from tests.support.pgcluster import PgCluster
from tests.sync.harness import (
    HQ_DATABASE,
    VIRTUAL_HQ,
    FaultPlan,
    FaultTransport,
    HQServer,
    SimTill,
    check_invariants,
    iter_flags,
    read_hq,
    sync_until_quiet,
)

BIG = [BasketLine("TV", "电视", "home", 1, 60_000)]  # 600.00: 600 points, x5 first purchase


@pytest.fixture
def two_tills(hq: HQServer, sync_till_template: Path, tmp_path: Path) -> Iterator[list[SimTill]]:
    hq.create_store("002")
    tills = [
        SimTill(hq, sync_till_template, tmp_path, "001", "01", random.Random(1)),
        SimTill(hq, sync_till_template, tmp_path, "002", "01", random.Random(2)),
    ]
    for till in tills:
        till.syncer.push_batch = 2
    yield tills
    for till in tills:
        till.close()


def _rich_member(a: SimTill, b: SimTill, phone: str = "13900000009") -> str:
    """A member registered at ``a`` with 3100 points that ``b`` (another region) knows
    too: it came to ``b``'s counter, and ``b`` fetched it from HQ."""
    member = a.register(phone)
    assert member is not None
    sale = checkout.complete_sale(
        a.ctx,
        sale_id="f" * 32,
        lines=BIG,
        member_id=member,
        tenders=[checkout.TenderInput("cash", 60_000)],
        cashier_id=a.cashier.id,
    )
    assert sale.balance_after == 3100
    assert a.sync()
    assert b.sync()
    assert members.find_by_phone(b.ctx, phone).balance == 3100
    return member


def test_a_member_and_her_points_travel_between_stores(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, b = two_tills
    member = a.register("13900000001")
    assert member is not None
    assert a.sell(member, spend="none") is not None
    assert a.sync()
    assert a.last_push is not None
    assert a.last_push.acknowledged == 3  # the registration, its audit row, the sale
    assert a.last_push.pending == 0
    assert b.sync()
    assert b.last_pull is not None
    assert b.last_pull.applied == {}  # store 002 is another region: not its member
    assert b.known_members() == []
    assert b.register("13900000001") == member  # found by phone at the other store (HQ)
    assert b.known_members() == [member]  # ... and kept: HQ adds it to 002's region
    assert b.sell(member, spend="max") is not None
    assert b.sync()  # b's sale goes; b gets the member whole again (it entered 002)
    assert a.sell(member, spend="none") is not None
    assert a.sync()
    assert b.sync()  # a's sale reaches b now
    assert b.last_pull is not None
    assert b.last_pull.applied.get("entry") == 1
    assert b.last_pull.mismatches == ()
    sync_until_quiet(two_tills)
    check_invariants(hq.url, two_tills)


def test_a_lost_reply_is_answered_again_and_nothing_is_doubled(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, _b = two_tills
    member = a.register("13900000002")
    assert member is not None
    for _ in range(3):
        assert a.sell(member, spend="none") is not None
    a.transport.plan = FaultPlan(drop_reply=1.0)
    assert not a.sync()  # /v1/me's reply is lost
    a.syncer.identity = {"kind": "till"}  # (skip the identity check to reach the push)
    assert not a.sync()  # HQ applied the first batch; the till never heard
    assert a.pending() == 4
    a.transport.plan = None
    assert a.sync()
    assert a.last_push is not None
    assert a.last_push.acknowledged == 4
    assert a.last_push.replayed == 2  # the batch HQ had already applied
    with a.ctx.db.read() as s:
        attempts = list(
            s.scalars(
                select(OutboxEvent.attempts)
                .where(OutboxEvent.kind != "audit")
                .order_by(OutboxEvent.seq)
            )
        )
    assert attempts == [2, 2, 1, 1]
    sync_until_quiet(two_tills)
    check_invariants(hq.url, two_tills)


def test_a_refused_event_stops_the_push_and_is_named(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, _b = two_tills
    member = a.register("13900000003")
    assert member is not None
    assert a.sync()
    assert a.adjust(member)  # a manager's adjustment: its entry here, its event queued
    with a.ctx.db.write() as s:  # ... damaged on its way: HQ must refuse it
        bad = s.scalars(select(OutboxEvent).where(OutboxEvent.kind == "adjustment")).one()
        original = bad.payload
        damaged = json.loads(original)
        damaged["entries"][0]["points"] = 0
        bad.payload = json.dumps(damaged)
        bad_id = bad.id
    for _ in range(3):
        assert a.sell(member, spend="none") is not None
    assert a.sync()  # HQ answered: the round went, with a refusal
    push = a.last_push
    assert push is not None
    assert push.refused is not None
    assert push.refused.event_id == bad_id
    assert push.refused.status == "invalid"
    assert "points" in push.refused.error
    assert push.acknowledged == 1  # the sale in the same batch was applied and marked
    assert push.pending == 4  # the refused event and the batch after it (sales, audit rows)
    with a.ctx.db.read() as s:
        sent_at, attempts, last_error = s.execute(
            select(OutboxEvent.sent_at, OutboxEvent.attempts, OutboxEvent.last_error).where(
                OutboxEvent.id == bad_id
            )
        ).one()
    assert sent_at is None
    assert attempts == 1
    assert str(last_error).startswith("refused: invalid (422)")
    # Someone repairs the event. It is not sent again by itself ...
    with a.ctx.db.write() as s:
        s.execute(update(OutboxEvent).where(OutboxEvent.id == bad_id).values(payload=original))
    assert a.sync()
    assert a.last_push is not None
    assert a.last_push.refused is not None
    assert a.last_push.refused.event_id == bad_id
    assert a.last_push.refused.http_status == 422
    assert a.last_push.batches == 0
    # ... until support says so (pos-app sync --retry-refused); then the outbox drains.
    a.syncer.retry_refused = True
    sync_until_quiet(two_tills)
    check_invariants(hq.url, two_tills)


def test_an_event_id_reused_for_another_payload_is_a_conflict(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, _b = two_tills
    member = a.register("13900000004")
    assert member is not None
    assert a.sync()
    with a.ctx.db.write() as s:  # the acknowledged event comes back with other contents
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.kind == "member_registered")).one()
        payload = json.loads(event.payload)
        payload["member"]["registered_at"] = "2020-01-01T00:00:00+00:00"
        event.payload = json.dumps(payload)
        event.sent_at = None
    assert a.sync()
    assert a.last_push is not None
    assert a.last_push.refused is not None
    assert a.last_push.refused.status == "conflict"
    assert a.last_push.refused.http_status == 409
    assert a.pending() == 1


def test_an_event_hq_cannot_apply_yet_waits_quietly(hq: HQServer, two_tills: list[SimTill]) -> None:
    a, _b = two_tills
    with a.ctx.db.write() as s:  # an adjustment for a member HQ has never seen
        add_outbox(
            s,
            "adjustment",
            "z" * 32,
            {
                "entries": [
                    {
                        "id": "w" * 32,
                        "member_id": "nobody-yet",
                        "kind": "adjust",
                        "points": 10,
                        "created_at": a.ctx.now().isoformat(),
                        "actor_id": a.manager.id,
                    }
                ]
            },
            a.ctx.now(),
        )
    assert a.sync()
    push = a.last_push
    assert push is not None
    assert push.refused is None
    assert push.waiting is not None
    assert push.waiting.status == "retry_later"
    assert push.pending == 1


def test_a_whole_batch_refused_names_its_event(hq: HQServer, two_tills: list[SimTill]) -> None:
    a, _b = two_tills
    a.syncer.push_batch = 50  # the registration, its audit row and the sale: one batch
    member = a.register("13900000005")
    assert member is not None
    assert a.sell(member, spend="none") is not None
    with a.ctx.db.write() as s:  # a sale claiming another store: HQ refuses the batch
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.kind == "sale")).one()
        payload = json.loads(event.payload)
        payload["sale"]["store_id"] = "999"
        event.payload = json.dumps(payload)
        sale_event = event.id
    assert a.sync()
    push = a.last_push
    assert push is not None
    assert push.refused is not None
    assert push.refused.event_id == sale_event
    assert push.refused.http_status == 403
    assert push.acknowledged == 0  # HQ wrote nothing of that batch
    assert read_hq(hq.url).entries == set()


def test_an_interrupted_first_sync_resumes_after_the_last_member(
    hq: HQServer, two_tills: list[SimTill], sync_till_template: Path, tmp_path: Path
) -> None:
    a, b = two_tills
    phones = [f"139000000{n}" for n in range(11, 18)]
    for phone in phones:
        member = a.register(phone)
        assert a.sell(member, spend="none") is not None
    assert a.sync()
    # a new till of a's store (its region): its first sync is the region's snapshot
    c = SimTill(hq, sync_till_template, tmp_path, "001", "02", random.Random(3))
    try:
        stop = threading.Event()
        seen: list[SyncProgress] = []

        def switched_off(progress: SyncProgress) -> None:
            seen.append(progress)
            stop.set()  # the till is switched off after its first transaction

        c.syncer.snapshot_batch = 2
        c.syncer.on_progress = switched_off
        result = c.syncer.pull(stop=stop)
        assert (result.cursor, result.snapshot_members) == ("", 2)
        assert [(p.members, p.members_total) for p in seen] == [(2, 7)]
        assert len(c.known_members()) == 2
        c.die_and_restart()
        c.syncer.snapshot_batch = 2
        c.transport.cut_snapshot_at = 200  # and the stream is cut once on the way
        rest = c.syncer.pull()
        assert c.transport.stats.faults == {"cut_snapshot": 1}
        assert rest.cursor.startswith("v1:")
        assert rest.snapshot_members == 7
        assert sorted(c.known_members()) == sorted(a.known_members())
        # nothing is counted twice: every balance is HQ's
        sync_until_quiet([a, b, c])
        check_invariants(hq.url, [a, b, c])
    finally:
        c.close()


def test_an_interrupted_pull_resumes_at_its_cursor(hq: HQServer, two_tills: list[SimTill]) -> None:
    b = two_tills[1]
    assert b.sync()  # the first sync: an empty region
    with hq.admin_client() as admin:
        admin.request(
            "PUT",
            "/v1/admin/products",
            json_body={
                "products": [
                    {
                        "sku": f"P{i:03d}",
                        "name": f"商品{i}",
                        "category": "food",
                        "price_fen": 100 + i,
                    }
                    for i in range(120)
                ]
            },
        )
    seen: list[str] = []
    b.syncer.pull_page = 25
    b.syncer.on_progress = lambda p: seen.append(p.cursor)
    result = b.syncer.pull(max_pages=2)  # the till is switched off after two pages
    assert result.pages == 2
    cursor = b.syncer.cursor()
    assert cursor == seen[-1] != ""
    b.die_and_restart()
    b.syncer.pull_page = 25
    rest = b.syncer.pull()
    assert rest.pages >= 3
    with b.ctx.db.read() as s:
        assert len(list(s.scalars(select(Product.sku)))) == 120
    # HQ restored from a backup older than the till's cursor (an old till stored a
    # bare number): the till sends everything again and takes HQ's snapshot again
    with b.ctx.db.write() as s:
        repo.put_setting(s, "sync_cursor", str(10**12))
    again = b.syncer.pull()
    assert again.restarted
    assert again.applied.get("entry", 0) == 0  # every entry was already here
    sync_until_quiet(two_tills)
    check_invariants(hq.url, two_tills)


def test_a_wrong_token_or_identity_is_refused(hq: HQServer, two_tills: list[SimTill]) -> None:
    a, b = two_tills
    nobody = HQClient(VIRTUAL_HQ, "ptt_nope", transport=FaultTransport(hq, random.Random()))
    with nobody, pytest.raises(HQAuthError):
        SyncClient(a.ctx, nobody).sync_once()
    other = HQClient(VIRTUAL_HQ, b.token, transport=FaultTransport(hq, random.Random()))
    with other, pytest.raises(SyncConfigError, match="register-till"):
        SyncClient(a.ctx, other).sync_once()  # b's token on a


def test_two_offline_tills_overspend_at_most_the_allowance_each_and_hq_flags_it(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, b = two_tills
    member = _rich_member(a, b)
    allowance = a.ctx.rules.spending.offline_allowance_points
    assert allowance == 2000
    for till in two_tills:
        till.transport.offline = True
        assert not till.sync()
    # a deposit earns nothing, so only the spends move the balance: 3100 - 2 x 2000
    basket = [BasketLine("DEP", "押金", "deposit", 1, 100_000)]
    spent = []
    for till in (a, b):
        q = checkout.quote(till.ctx, basket, member_id=member)
        assert q.max_usable_points == allowance  # capped by the allowance, not the balance
        with pytest.raises(SpendNotAllowed):
            checkout.quote(till.ctx, basket, member_id=member, points_to_use=allowance + 100)
        done = checkout.complete_sale(
            till.ctx,
            sale_id=f"{till.name.replace('-', '')}".ljust(32, "a"),
            lines=basket,
            member_id=member,
            tenders=[checkout.TenderInput("cash", 100_000 - allowance)],
            cashier_id=till.cashier.id,
            points_to_use=allowance,
        )
        spent.append(done.points_used)
        # the allowance is used up until HQ acknowledges the sale
        assert checkout.quote(till.ctx, basket, member_id=member).max_usable_points == 0
    sync_until_quiet(two_tills)
    state = check_invariants(hq.url, two_tills)
    assert spent == [2000, 2000]
    overspends = list(iter_flags(state, "overspend"))
    assert len(overspends) == 1  # the second sale HQ received took points it no longer had
    assert 0 < overspends[0]["detail"]["overspend"] <= allowance
    assert overspends[0]["member_id"] == member


def test_online_holds_stop_a_double_spend_and_release_on_failure(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, b = two_tills
    member = _rich_member(a, b)
    basket = [BasketLine("BED", "床", "home", 1, 1_000_000)]  # 20% = 2000 yuan
    flag = OnlineFlag()
    done = complete_sale_online(
        a.ctx,
        a.client,
        sale_id="a" * 32,
        lines=basket,
        member_id=member,
        tenders=[checkout.TenderInput("card", 1_000_000 - 3000)],
        cashier_id=a.cashier.id,
        points_to_use=3000,  # above the offline allowance: HQ vouched for it
        flag=flag,
    )
    assert done.points_used == 3000
    assert flag.reachable
    assert a.client.request("GET", f"/v1/holds/{hold_id_for('a' * 32)}")["status"] == "posted"
    # b has not pulled a's sale yet, but HQ holds the points: b cannot spend them again
    with pytest.raises(InsufficientPoints):
        complete_sale_online(
            b.ctx,
            b.client,
            sale_id="b" * 32,
            lines=basket,
            member_id=member,
            tenders=[checkout.TenderInput("card", 1_000_000 - 1000)],
            cashier_id=b.cashier.id,
            points_to_use=1000,
        )
    # a sale that fails after the hold gives the points back at once
    with pytest.raises(PaymentError):
        complete_sale_online(
            a.ctx,
            a.client,
            sale_id="c" * 32,
            lines=[BasketLine("TEA", "茶", "food", 1, 10_000)],
            member_id=member,
            tenders=[checkout.TenderInput("card", 1)],  # wrong amount
            cashier_id=a.cashier.id,
            points_to_use=100,
        )
    assert a.client.request("GET", f"/v1/holds/{hold_id_for('c' * 32)}")["status"] == "voided"
    sync_until_quiet(two_tills)
    state = check_invariants(hq.url, two_tills)
    assert not list(iter_flags(state, "overspend"))
    assert not list(iter_flags(state, "offline_allowance_exceeded"))
    assert state.balances[member] == 3100 - 3000 + done.points_earned + done.bonus_points


def test_hq_away_makes_the_online_sale_an_offline_one(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, b = two_tills
    member = _rich_member(a, b)
    a.transport.offline = True
    flag = OnlineFlag(reachable=True)
    with pytest.raises(SpendNotAllowed):  # 3000 is above the offline allowance
        complete_sale_online(
            a.ctx,
            a.client,
            sale_id="d" * 32,
            lines=[BasketLine("BED", "床", "home", 1, 1_000_000)],
            member_id=member,
            tenders=[checkout.TenderInput("card", 1_000_000 - 3000)],
            cashier_id=a.cashier.id,
            points_to_use=3000,
            flag=flag,
        )
    assert not flag.reachable


def test_new_rules_catalogue_and_coupons_reach_the_till(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, b = two_tills
    member = _rich_member(a, b)
    document = json.loads(a.ctx.rules.to_json())
    document["version"] = "2027.01-test"
    document["spending"]["offline_allowance_points"] = 500
    now = dt.datetime.now(dt.UTC)
    with hq.admin_client() as admin:
        admin.request("POST", "/v1/admin/rule-sets", json_body={"document": document})
        admin.request(
            "POST",
            "/v1/admin/coupons",
            json_body={
                "coupons": [
                    {
                        "id": "cp1",
                        "code": "TEN",
                        "member_id": member,
                        "name": "10元券",
                        "amount_off_fen": 1000,
                        "valid_from": (now - dt.timedelta(hours=1)).isoformat(),
                        "valid_to": (now + dt.timedelta(days=7)).isoformat(),
                    }
                ]
            },
        )
    assert b.sync()
    assert b.ctx.rules.version == "2027.01-test"
    assert b.ctx.rules.spending.offline_allowance_points == 500
    sale = checkout.complete_sale(
        b.ctx,
        sale_id="e" * 32,
        lines=[BasketLine("TEA", "茶", "food", 1, 10_000)],
        member_id=member,
        tenders=[checkout.TenderInput("cash", 9_000)],
        cashier_id=b.cashier.id,
        coupon_codes=["TEN"],
    )
    assert sale.total_fen == 9_000
    sync_until_quiet(two_tills)
    with pytest.raises(InvalidInput, match="not valid"):  # a: used at b's store
        checkout.quote(
            a.ctx,
            [BasketLine("TEA", "茶", "food", 1, 10_000)],
            member_id=member,
            coupon_codes=["TEN"],
        )
    check_invariants(hq.url, two_tills)


def test_the_same_phone_registered_at_two_offline_stores_is_merged(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    a, b = two_tills
    first = a.register("13900000020")
    second = b.register("13900000020")
    assert first != second
    assert a.sell(first, spend="none") is not None
    assert b.sell(second, spend="none") is not None
    sync_until_quiet(two_tills)
    state = check_invariants(hq.url, two_tills)
    kept = a.register("13900000020")
    assert b.register("13900000020") == kept == first  # a pushed first: its id is kept
    assert second is not None
    assert state.balances[second] == 0
    merge = next(iter_flags(state, "merge"))
    assert merge["detail"]["alias"] == second
    assert [hit.id for hit in members.find_by_last4(b.ctx, "0020")] == [first]


def test_hq_restored_from_a_backup_gets_the_lost_events_again(
    hq: HQServer, two_tills: list[SimTill], pg_cluster: PgCluster
) -> None:
    a, b = two_tills
    first = a.register("13900000061")
    assert a.sell(first, spend="none") is not None
    assert a.sync()
    assert b.sync()
    assert b.register("13900000061") == first  # at b's counter too: fetched from HQ
    hq.stop()  # the nightly backup
    pg_cluster.execute(f"CREATE DATABASE sync_backup TEMPLATE {HQ_DATABASE}")
    hq.start(migrate=False)
    second = a.register("13900000062")  # after the backup: HQ will lose these
    assert a.sell(second, spend="none") is not None
    assert b.sell(first, spend="none") is not None
    assert a.sync()
    assert b.sync()
    assert a.sync()  # a holds b's sale to `first` too now
    hq.stop()  # HQ's disk dies; the backup is restored
    pg_cluster.execute(f"DROP DATABASE {HQ_DATABASE}")
    pg_cluster.execute(f"CREATE DATABASE {HQ_DATABASE} TEMPLATE sync_backup")
    pg_cluster.execute("DROP DATABASE sync_backup")
    hq.start(migrate=False)
    assert second not in read_hq(hq.url).balances
    assert a.sync()
    assert a.last_pull is not None
    assert a.last_pull.restarted  # its cursor was ahead of the restored HQ
    assert a.last_push is not None
    # what the backup kept (a registration, its audit row, a sale): answered again
    assert a.last_push.replayed == 3
    assert a.last_push.acknowledged == 6  # ... and what it lost: applied again
    sync_until_quiet(two_tills)
    state = check_invariants(hq.url, two_tills)
    assert second in state.balances


def test_a_registration_reaches_hq_whole_and_the_outbox_keeps_no_personal_field(
    hq: HQServer, two_tills: list[SimTill]
) -> None:
    """The till's outbox never holds the name, birthday or phone digits of a member: push
    adds them from the member row, and HQ (and through it the other store) has them."""
    a, b = two_tills
    member = a.register("13900000021")
    assert member is not None
    with a.ctx.db.read() as s:
        (stored,) = s.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.kind == "member_registered")
        )
    personal = {"name", "birthday", "phone_masked", "phone_last4"}
    assert not personal & set(json.loads(stored)["member"])
    assert a.sync()
    with a.ctx.db.read() as s:
        sent, payload = s.execute(
            select(OutboxEvent.sent_at, OutboxEvent.payload).where(
                OutboxEvent.kind == "member_registered"
            )
        ).one()
    assert sent is not None
    assert not personal & set(json.loads(payload)["member"])
    assert b.sync()
    assert b.register("13900000021") == member  # another region's: fetched at b's counter
    hit = members.find_by_last4(b.ctx, "0021", prefix="139")
    assert [(h.id, h.masked_phone, h.name) for h in hit] == [(member, "139****0021", "会员")]
