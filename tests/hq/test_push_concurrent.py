"""Two HQ worker processes writing at once (issue 10): a push locks the members it
reads and takes the change counter only to write, so one worker computes its batch while
the other writes. What must hold: no lost update on a member both touch, change numbers
unique and committed in order (a till's cursor never skips a row), and a writer that
holds the counter and waits for a member a push has locked is never the one refused.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, text, update

from pos_app.hq import push as pushing
from pos_app.hq.cli import main as hq_main
from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase, take_counter
from pos_app.hq.ledger import dangling_references
from pos_app.hq.models import Member
from pos_app.hq.schemas import PushRequest
from pos_app.hq.security import Principal
from tests.hq.conftest import HQ
from tests.hq.support import basket

FEED_TABLES = ("members", "ledger_entries", "member_scopes")


def _push(db: HQDatabase, who: Principal, events: list[dict[str, Any]], hq: HQ) -> list[str]:
    request = PushRequest.model_validate({"events": events})
    response = pushing.push(db, who, request, HQSettings(clock=hq.clock))
    return [r.status for r in response.results]


def _seqs(db: HQDatabase) -> list[int]:
    with db.read() as s:
        out: list[int] = []
        for table in FEED_TABLES:
            out += [int(v) for v in s.execute(text(f"SELECT seq FROM {table}")).scalars()]
        return out


def test_two_workers_selling_to_the_same_members_lose_nothing(hq: HQ) -> None:
    """Two processes' worth of writers (each its own engine and group commit) push
    sales to the same 8 members from two tills at once: every point arrives, balances
    equal their ledgers (checked by the fixture), and no change number is used twice."""
    till_a = hq.till("001", "01")
    till_b = hq.till("001", "02")
    members = hq.register_members(till_a, 8, "1380013")
    for mid in members:
        till_b.know(mid, till_a.members[mid].balance)
    hq.clock.advance(hours=1)
    before = {mid: hq.member(mid)["balance"] for mid in members}
    second = HQDatabase(hq.db.url)  # the other worker process: its own pool and committer
    jobs: list[tuple[HQDatabase, Principal, list[dict[str, Any]]]] = []
    earned = dict.fromkeys(members, 0)
    for n in range(40):
        for till, db, who in (
            (till_a, hq.db, Principal("till", "001-01", "001", "01")),
            (till_b, second, Principal("till", "001-02", "001", "02")),
        ):
            batch = []
            for k in range(5):
                mid = members[(n + k) % len(members)]
                event = till.sale(mid, basket(30 + k, sku=f"SKU{k}"))
                earned[mid] += event["payload"]["sale"]["points_earned"]
                batch.append(event)
            jobs.append((db, who, batch))
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda job: _push(job[0], job[1], job[2], hq), jobs))
    finally:
        second.close()
    assert all(status == "applied" for statuses in answers for status in statuses), answers
    for mid in members:
        assert hq.member(mid)["balance"] == before[mid] + earned[mid]
    seqs = _seqs(hq.db)
    assert len(seqs) == len(set(seqs))
    with hq.db.read() as s:
        counter = s.execute(text("SELECT value FROM counters WHERE name = 'change_seq'")).scalar()
    assert counter == max(seqs)


def test_a_writer_holding_the_counter_is_not_refused_by_a_push_that_locked_its_member(
    hq: HQ, monkeypatch: Any
) -> None:
    """An HQ writer (an adjustment, a job) holds the counter and then needs a member a
    push has locked while computing: the push gives way after its short wait, the
    writer goes on, and the push is applied again the usual way: both land."""
    till = hq.till("001", "01")
    (mid,) = hq.register_members(till, 1, "1380013")
    hq.clock.advance(hours=1)
    sale = till.sale(mid, basket(50))
    runs: list[bool] = []
    member_locked = threading.Event()
    real_run = pushing._Batch.run
    real_prefetch = pushing.Book.prefetch

    def run(self: Any, *, one_by_one: bool, late: bool = False) -> None:
        runs.append(late)
        real_run(self, one_by_one=one_by_one, late=late)

    def prefetch(self: Any, *args: Any) -> None:
        real_prefetch(self, *args)
        if self.lock_rows:  # the member is locked now: let the writer in first
            member_locked.set()
            time.sleep(0.3)

    monkeypatch.setattr(pushing._Batch, "run", run)
    monkeypatch.setattr(pushing.Book, "prefetch", prefetch)
    writer_done: list[str] = []

    def writer() -> None:
        with hq.db.write() as s:  # takes the counter first, as every HQ writer does
            member_locked.wait(10)
            s.execute(update(Member).where(Member.id == mid).values(name="改名"))
        writer_done.append("committed")

    thread = threading.Thread(target=writer)
    thread.start()
    statuses = _push(hq.db, Principal("till", "001-01", "001", "01"), [sale], hq)
    thread.join(10)
    assert writer_done == ["committed"]
    assert statuses == ["applied"]
    assert runs == [True, False]  # computed without the counter, gave way, applied again
    with hq.db.read() as s:
        name, balance = s.execute(select(Member.name, Member.balance).where(Member.id == mid)).one()
        entries = s.execute(
            text("SELECT count(*) FROM ledger_entries WHERE sale_id = :s"),
            {"s": sale["payload"]["sale"]["id"]},
        ).scalar()
    assert name == "改名"
    assert balance == till.members[mid].balance
    assert entries == 1


def test_audit_verify_names_ledger_rows_that_point_at_nothing(
    hq: HQ, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hot tables hold no foreign keys (migration 0050_ingest); the references are
    checked by the book before it writes and by ``pos-hq audit verify`` afterwards."""
    till = hq.till("001", "01")
    (mid,) = hq.register_members(till, 1, "1380013")
    hq.push_ok(hq.till1, till.sale(mid, basket(80)))
    assert hq_main(["audit", "verify", "--db", hq.db.url]) == 0
    assert "OK: every ledger row names" in capsys.readouterr().out
    with hq.db.engine.begin() as conn:  # what a foreign key would have refused
        conn.execute(
            text(
                "INSERT INTO lot_moves (member_id, entry_id, lot_id, points)"
                " SELECT member_id, entry_id, 'no-such-lot', -1 FROM lots LIMIT 1"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sale_lines (id, sale_id, line_no, sku, category, quantity,"
                " unit_price_fen, line_discount_fen, is_reward)"
                " VALUES ('orphan-line', 'no-such-sale', 1, 'X', 'food', 1, 100, 0, false)"
            )
        )
        conn.execute(  # scope rows lost theirs in HQ 0090
            text(
                "INSERT INTO member_scopes (member_id, region, seq, reason, added_at)"
                " VALUES ('no-such-member', 'R001', 0, 'seen', now())"
            )
        )
    with hq.db.read() as s:
        assert dangling_references(s) == {
            "sale lines of no sale": 1,
            "lot moves of no lot": 1,
            "member scopes of no member": 1,
        }
    assert hq_main(["audit", "verify", "--db", hq.db.url]) == 1
    out = capsys.readouterr().out
    assert "BROKEN: 1 lot moves of no lot" in out
    assert "BROKEN: 1 sale lines of no sale" in out
    assert "BROKEN: 1 member scopes of no member" in out


def test_a_retry_reaching_the_other_worker_while_the_first_is_written_is_a_replay(
    hq: HQ,
) -> None:
    """A till that resends a push (its answer was lost) may reach the other worker
    while the first one is still being written: the resend waits for the member, then
    reads the first answer (applied once, the others replayed, never a conflict)."""
    till = hq.till("001", "01")
    (mid,) = hq.register_members(till, 1, "1380013")
    hq.clock.advance(hours=1)
    second = HQDatabase(hq.db.url)
    who = Principal("till", "001-01", "001", "01")
    try:
        for k in range(4):
            sale = till.sale(mid, basket(100 + k))
            jobs = [(hq.db if n % 2 else second, [sale]) for n in range(6)]
            with ThreadPoolExecutor(max_workers=6) as pool:
                answers = list(pool.map(lambda job: _push(job[0], who, job[1], hq), jobs))
            assert sorted(answers) == [["applied"]] * 6
    finally:
        second.close()
    assert hq.member(mid)["balance"] == till.members[mid].balance


def test_a_late_counter_waits_for_the_holders_commit_and_keeps_its_lock_timeout(
    hq: HQ,
) -> None:
    """A transaction that takes the change counter late, while another writer holds it
    (and waits for none of its rows), blocks in short slices: it has the counter as soon
    as the holder commits, and its connection's own ``lock_timeout`` is back afterwards."""
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with hq.db.write():  # takes the counter at once
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    with hq.db.write(late_counter=True) as s:
        before = s.execute(text("SHOW lock_timeout")).scalar_one()
        timer = threading.Timer(0.3, release.set)
        timer.start()
        began = time.monotonic()
        take_counter(s)
        waited = time.monotonic() - began
        assert s.execute(text("SHOW lock_timeout")).scalar_one() == before
    thread.join(10)
    assert 0.25 < waited < 1.0  # it waited for the commit (and no longer than a loaded CI allows)
