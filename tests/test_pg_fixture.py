"""The PostgreSQL fixtures really start a server (and fail, never skip, in CI)."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.support.pgcluster import PgCluster, PgClusterError, PgReplica

FLUSH_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def _conninfo(url: str) -> str:
    """libpq conninfo for a postgresql+psycopg:// SQLAlchemy URL."""
    u = make_url(url)
    return f"host={u.host} port={u.port} user={u.username} dbname={u.database}"


def test_postgres_url_reaches_a_real_server(postgres_url: str) -> None:
    url = make_url(postgres_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1"
    assert url.username == "postgres"
    assert url.password is None
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        row = conn.execute(
            "SELECT version(), current_database(), current_setting('fsync')"
        ).fetchone()
    assert row is not None
    version, database, fsync = row
    assert version.startswith("PostgreSQL ")
    assert database == url.database
    assert fsync == "off"


def test_postgres_url_works_with_sqlalchemy(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1 + 1")).scalar_one() == 2
            assert conn.execute(sa.text("SHOW server_encoding")).scalar_one() == "UTF8"
            assert conn.execute(sa.text("SELECT '会员积分'::text")).scalar_one() == "会员积分"
    finally:
        engine.dispose()


def test_pg_database_is_fresh(pg_cluster: PgCluster, pg_database: str) -> None:
    name = make_url(pg_database).database
    assert name is not None
    with psycopg.connect(_conninfo(pg_database), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE scratch (id int)")
    with psycopg.connect(pg_cluster.conninfo()) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert exists == (1,)


@pytest.mark.parametrize("round_", [1, 2])
def test_pg_database_gives_each_test_its_own_database(pg_database: str, round_: int) -> None:
    with psycopg.connect(_conninfo(pg_database), autocommit=True) as conn:
        # would fail in round 2 if the database (or its table) outlived round 1
        conn.execute("CREATE TABLE per_test (round int)")
        conn.execute("INSERT INTO per_test VALUES (%s)", (round_,))
        assert conn.execute("SELECT count(*) FROM per_test").fetchone() == (1,)


def test_pg_databases_are_dropped_after_use(pg_cluster: PgCluster) -> None:
    """Runs after the tests above (file order): none of their databases is left."""
    with psycopg.connect(pg_cluster.conninfo()) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^pos_t[0-9]+_[0-9]+$'"
        ).fetchall()
    assert rows == []


def test_pg_replica_streams_the_session_cluster(
    pg_cluster: PgCluster, pg_replica: PgReplica, pg_database: str
) -> None:
    name = make_url(pg_database).database
    assert name is not None
    assert pg_replica.port != pg_cluster.port
    assert pg_replica.query("SELECT pg_is_in_recovery()") == [(True,)]
    assert pg_replica.setting("hot_standby") == "on"
    pg_cluster.execute("CREATE TABLE streamed (n int)", name)
    pg_cluster.execute("INSERT INTO streamed VALUES (1)", name)
    pg_replica.catch_up()  # the database created after the replica is there too
    assert pg_replica.query("SELECT n FROM streamed", name) == [(1,)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        pg_replica.execute("INSERT INTO streamed VALUES (2)", name)


def test_pg_replica_lags_while_its_replay_is_paused(
    pg_cluster: PgCluster, pg_replica: PgReplica, pg_database: str
) -> None:
    name = make_url(pg_database).database
    assert name is not None
    pg_cluster.execute("CREATE TABLE lagging (n int)", name)
    pg_replica.catch_up()
    with pg_replica.replay_paused():
        pg_cluster.execute("INSERT INTO lagging VALUES (1)", name)
        with pytest.raises(PgClusterError, match="did not replay"):
            pg_replica.catch_up(timeout=0.5)
        assert pg_replica.query("SELECT count(*) FROM lagging", name) == [(0,)]
    pg_replica.catch_up()
    assert pg_replica.query("SELECT count(*) FROM lagging", name) == [(1,)]


def test_a_durable_cluster_keeps_postgresqls_defaults(postgres_url: str) -> None:
    with PgCluster(durable=True) as durable:
        settings = [durable.setting(s) for s in FLUSH_SETTINGS]
    assert settings == ["on", "on", "on"]
    fast = psycopg.connect(_conninfo(postgres_url))
    with fast:
        row = fast.execute(
            "SELECT " + ", ".join(f"current_setting('{s}')" for s in FLUSH_SETTINGS)
        ).fetchone()
    assert row == ("off", "off", "off")


def test_extra_settings_reach_the_server_and_keep_it_durable(pg_cluster: PgCluster) -> None:
    """A benchmark's memory and WAL sizes (``settings``) apply after the others and leave
    the durable defaults alone (a cluster of its own beside the session's)."""
    assert pg_cluster.bindir is not None
    with PgCluster(
        pg_cluster.bindir, durable=True, settings=("max_wal_size=2GB", "wal_compression=lz4")
    ) as cluster:
        assert cluster.setting("max_wal_size") == "2GB"
        assert cluster.setting("wal_compression") == "lz4"
        assert [cluster.setting(s) for s in FLUSH_SETTINGS] == ["on", "on", "on"]


def test_pg_fixture_tests_carry_the_postgres_marker(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("postgres") is None  # this one uses no database
    here = [item for item in request.session.items if item.path == request.node.path]
    marked = {item.name for item in here if item.get_closest_marker("postgres")}
    assert "test_postgres_url_reaches_a_real_server" in marked
    assert request.node.name not in marked
