"""Migrations: a fresh till file and an upgraded old one both end at the models' schema."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from pos_app.core.quote import BasketLine
from pos_app.services import checkout, members
from pos_app.services.context import open_till
from pos_app.store.checks import balance_mismatches
from pos_app.store.database import TillDatabase, alembic_config, head_revision
from pos_app.store.encryption import driver
from pos_app.store.models import Base
from pos_app.store.types import new_id

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURE_0001 = DATA / "till-0001.sqlite"


def schema_diff(db: TillDatabase) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "target_metadata": Base.metadata}
        )
        return list(compare_metadata(context, Base.metadata))


def _normalise(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql.replace('"', "").replace("`", "")).strip().lower()
    return re.sub(r"\s*([(),])\s*", r"\1", sql)


def _open(where: Path | TillDatabase):
    """A read-only connection: a till database (keyed) or a plaintext file."""
    if isinstance(where, TillDatabase):
        return where.connect(readonly=True)
    return sqlite3.connect(f"file:{where}?mode=ro", uri=True)


def ddl(where: Path | TillDatabase) -> list[tuple[str, str, str, str]]:
    """(type, name, table, normalised SQL) of every table, index, trigger and view."""
    conn = _open(where)
    try:
        return sorted(
            (kind, name, table, _normalise(sql or ""))
            for kind, name, table, sql in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
            )
        )
    finally:
        conn.close()


def structure(where: Path | TillDatabase) -> dict[str, object]:
    """Columns, indexes and foreign keys of every table, as SQLite reports them."""
    conn = _open(where)
    try:
        out: dict[str, object] = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in sorted(tables):
            indexes = sorted(conn.execute(f'PRAGMA index_list("{table}")').fetchall())
            out[table] = (
                conn.execute(f'PRAGMA table_xinfo("{table}")').fetchall(),
                [
                    (row[1:], conn.execute(f'PRAGMA index_xinfo("{row[1]}")').fetchall())
                    for row in indexes
                ],
                sorted(conn.execute(f'PRAGMA foreign_key_list("{table}")').fetchall()),
            )
        return out
    finally:
        conn.close()


def file_revision(where: Path | TillDatabase) -> str:
    conn = _open(where)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def fresh(tmp_path: Path):
    db = TillDatabase(tmp_path / "fresh.sqlite")
    yield db
    db.close()


# -- a fresh database -------------------------------------------------------------------


def test_fresh_database_matches_the_models(fresh):
    assert schema_diff(fresh) == []


def test_fresh_database_is_at_head(fresh):
    assert fresh.current_revision() == head_revision()
    assert file_revision(fresh) == head_revision()


def test_fresh_database_pragmas(fresh):
    # journal_mode is a property of the file; synchronous and foreign_keys of each
    # connection, so check the connections the till reads and writes with.
    with fresh.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with fresh.write() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with fresh.read() as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    plain = fresh.connect()
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_raw_reader_is_read_only(fresh):
    reader = fresh.raw_reader()
    assert reader is fresh.raw_reader()  # one per thread
    with pytest.raises(driver.OperationalError):
        reader.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")


def test_migrating_twice_is_a_no_op(fresh):
    before = ddl(fresh)
    fresh.migrate()
    again = TillDatabase(fresh.path)
    again.close()
    assert ddl(fresh) == before
    assert fresh.current_revision() == head_revision()


def test_downgrade_to_base_and_back(fresh):
    before = ddl(fresh)
    with fresh.engine.begin() as conn:
        cfg = alembic_config(conn)
        cfg.attributes["till_database"] = fresh
        command.downgrade(cfg, "base")
    with fresh.engine.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version'"
        ).all()
    assert left == []
    fresh.migrate()
    assert ddl(fresh) == before
    assert schema_diff(fresh) == []


# -- an old till file, upgraded at start-up ---------------------------------------------------


def test_fixture_is_small_and_at_0001():
    assert FIXTURE_0001.stat().st_size < 200 * 1024
    assert file_revision(FIXTURE_0001) == "0001"


@pytest.fixture
def upgraded(tmp_path: Path, fresh):
    path = tmp_path / "old-till.sqlite"
    shutil.copyfile(FIXTURE_0001, path)
    db = TillDatabase(path)  # migrates at start-up
    yield db
    db.close()


def test_upgraded_database_is_at_head(upgraded):
    assert upgraded.current_revision() == head_revision()


def test_upgraded_database_has_the_fresh_schema(upgraded, fresh):
    assert ddl(upgraded) == ddl(fresh)
    assert structure(upgraded) == structure(fresh)
    assert schema_diff(upgraded) == []
    with upgraded.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_upgraded_database_ledger_checks_pass(upgraded):
    with upgraded.read() as session:
        assert balance_mismatches(session) == []
        counts = {
            table: session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
            for table in ("members", "sales", "ledger_entries", "refunds", "lot_moves")
        }
    # The history make_fixture.py wrote is all there.
    assert counts == {
        "members": 3,
        "sales": 5,
        "ledger_entries": 14,
        "refunds": 1,
        "lot_moves": 15,
    }
    conn = upgraded.connect()
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_upgraded_till_keeps_working(tmp_path: Path):
    path = tmp_path / "old-till.sqlite"
    shutil.copyfile(FIXTURE_0001, path)
    ctx = open_till(path, online=lambda: True)
    try:
        # The stored identity and phone-hash key win over open_till's defaults.
        hits = members.find_by_last4(ctx, "1234")
        assert {h.masked_phone for h in hits} == {"138****1234", "137****1234"}
        zhang = members.find_by_phone(ctx, "138 1234 1234")
        before = zhang.balance
        lines = [BasketLine("TEA", "龙井茶叶", "food", 1, 5000)]
        q = checkout.quote(ctx, lines, member_id=zhang.id)
        sale = checkout.complete_sale(
            ctx,
            sale_id=new_id(),
            lines=lines,
            member_id=zhang.id,
            tenders=[checkout.TenderInput("cash", q.cash_due_fen)],
            cashier_id="upgrade-test",
        )
        assert sale.balance_after == before + sale.points_earned
        with ctx.db.read() as session:
            assert balance_mismatches(session) == []
    finally:
        ctx.db.close()
