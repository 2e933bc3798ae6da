"""The till database's write path: background WAL checkpoints, the in-process write
gate, and the raw statements the checkout runs inside its ORM transaction."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from pos_app.services import audit
from pos_app.store import database, raw
from pos_app.store.database import TillDatabase
from pos_app.store.models import PinAttempts, Setting
from pos_app.store.types import new_id

NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TillDatabase]:
    """A till database without the background checkpointer, closed afterwards."""
    database_ = TillDatabase(tmp_path / "till.sqlite", background_checkpoint=False)
    yield database_
    database_.close()


def _wal_state(db: TillDatabase) -> tuple[int, int]:
    """(frames in the WAL, frames already copied into the database file)."""
    conn = db.connect()
    try:
        # A passive checkpoint with nothing left to copy only reports.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    return row[1], row[2]


def _audit(session, n: int) -> None:
    for i in range(n):
        audit.record(session, at=NOW, actor_id="t", action="test", subject=str(i))


def _wal_frames(path: Path) -> int:
    size = Path(f"{path}-wal").stat().st_size
    return (size - 32) // (24 + 4096)


def test_commits_leave_checkpoints_to_the_background(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "CHECKPOINT_INTERVAL_S", 3600.0)  # never ticks here
    db = TillDatabase(tmp_path / "till.sqlite")
    try:
        with db.engine.connect() as conn:
            backstop = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        assert backstop == database.AUTOCHECKPOINT_BACKSTOP
        for n in range(60):
            with db.write() as session:
                for i in range(20):
                    session.add(Setting(key=f"{n}-{i}", value="x" * 4000))
        # SQLite's default would have checkpointed inside the commit that crossed 1000
        # pages and started the WAL over; here it kept growing.
        assert _wal_frames(db.path) > 1500
        assert db.checkpointer is not None
        assert db.checkpointer.runs == 0
    finally:
        db.close()


def test_background_checkpointer_copies_the_wal(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "CHECKPOINT_INTERVAL_S", 0.05)
    db = TillDatabase(tmp_path / "till.sqlite")
    try:
        with db.write() as session:
            _audit(session, 500)
        checkpointer = db.checkpointer
        assert checkpointer is not None
        deadline = time.monotonic() + 10
        while checkpointer.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.runs >= 2
        frames, copied = _wal_state(db)
        assert frames > 0
        assert copied == frames
    finally:
        db.close()


def test_close_stops_the_checkpointer(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "CHECKPOINT_INTERVAL_S", 0.05)
    db = TillDatabase(tmp_path / "till.sqlite")
    with db.write() as session:
        _audit(session, 1)
    threads = [t for t in threading.enumerate() if t.name == "till-wal-checkpoint"]
    assert threads
    db.close()
    assert db.checkpointer is None
    assert not any(t.is_alive() for t in threads)


def test_no_checkpointer_when_switched_off(db):
    with db.write() as session:
        _audit(session, 1)
    assert db.checkpointer is None


def test_in_process_writers_take_turns(tmp_path):
    db = TillDatabase(tmp_path / "till.sqlite", background_checkpoint=False)
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            for i in range(25):
                with db.write() as session:
                    session.add(Setting(key=f"{prefix}{i}", value="x"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with db.read() as session:
            assert len(session.scalars(select(Setting.key)).all()) == 100
    finally:
        db.close()


def test_a_writer_held_up_too_long_gets_database_is_locked(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "WRITE_WAIT_S", 0.2)
    db = TillDatabase(tmp_path / "till.sqlite", background_checkpoint=False)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write() as session:
            session.add(Setting(key="held", value="1"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(OperationalError, match="database is locked"), db.write() as session:
            session.add(Setting(key="late", value="1"))
    finally:
        release.set()
        holder.join()
    with db.read() as session:
        assert session.get(Setting, "held") is not None
        assert session.get(Setting, "late") is None
    db.close()


# -- raw statements inside the session's transaction -----------------------------------
def test_raw_rows_commit_and_roll_back_with_the_session(db):
    with db.write() as session:
        raw.insert_rows(session, Setting, [{"key": "a", "value": "1"}])
        raw.insert_rows(session, Setting, [{"key": "b", "value": "2"}, {"key": "c", "value": "3"}])
        assert raw.update_row(session, Setting, "a", {"value": "10"}) == 1
        raw.update_many(session, Setting, "value", [("b", "20"), ("c", "30")])

    def failing_sale() -> None:
        with db.write() as session:
            raw.insert_rows(session, Setting, [{"key": "d", "value": "4"}])
            raise RuntimeError("the sale failed")

    with pytest.raises(RuntimeError):
        failing_sale()
    with db.read() as session:
        values = dict(session.execute(select(Setting.key, Setting.value)).all())
    assert values == {"a": "10", "b": "20", "c": "30"}


def test_raw_statements_see_pending_orm_changes(db):
    with db.write() as session:
        session.add(Setting(key="orm", value="1"))  # not flushed yet
        row = raw.dbapi(session).execute("SELECT value FROM settings WHERE key='orm'")
        assert row.fetchone() == ("1",)


def test_raw_values_are_stored_as_the_models_store_them(db):
    entry_id = new_id()
    with db.write() as session:
        raw.insert_rows(
            session,
            PinAttempts,
            [{"scope": entry_id, "failures": 1, "last_failure_at": NOW}],
        )
    with db.read() as session:
        row = session.get(PinAttempts, entry_id)
        assert row is not None
        assert row.last_failure_at == NOW
    assert raw.to_db(dt.date(2026, 1, 2)) == "2026-01-02"
    assert raw.to_db(True) == 1
    with pytest.raises(ValueError, match="naive"):
        raw.to_db(dt.datetime(2026, 1, 2, 3, 4))


def test_raw_refuses_unknown_columns(db):
    with db.write() as session:
        with pytest.raises(ValueError, match="no column"):
            raw.insert_rows(session, Setting, [{"key": "a", "value; DROP": "1"}])
        with pytest.raises(ValueError, match="cannot update"):
            raw.update_row(session, Setting, "a", {"key": "b"})


def test_raw_errors_come_out_as_sqlalchemy_errors(db):
    with db.write() as session:
        raw.insert_rows(session, Setting, [{"key": "a", "value": "1"}])
    with pytest.raises(IntegrityError, match="UNIQUE"), db.write() as session:
        raw.insert_rows(session, Setting, [{"key": "a", "value": "2"}])
    with db.read() as session:
        assert session.get(Setting, "a").value == "1"


def test_a_failing_checkpoint_is_retried_not_fatal(tmp_path, caplog):
    # A database the thread cannot open (its folder is gone): each tick fails, is counted
    # and logged (the first time and then rarely), and the thread stops when told.
    checkpointer = database.Checkpointer(tmp_path / "gone" / "till.sqlite", interval=0.01)
    try:
        deadline = time.monotonic() + 10
        while checkpointer.failures < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.failures >= 3
        assert checkpointer.runs == 0
    finally:
        checkpointer.stop()
    assert not checkpointer.is_alive()
    warnings = [r for r in caplog.records if "WAL checkpoint failed" in r.getMessage()]
    assert 1 <= len(warnings) < checkpointer.failures
