"""Root conftest: a deterministic environment, and PostgreSQL fixtures.

Environment (set at import, before any test module can import Qt):

* ``QT_QPA_PLATFORM=offscreen``: widgets render without a display.
* ``XDG_RUNTIME_DIR``, ``XDG_CONFIG_HOME``, ``XDG_DATA_HOME``, ``XDG_CACHE_HOME``
  point into a private temporary folder, so Qt prints no runtime-dir warning
  (pytest-qt fails a test on Qt warnings) and QSettings/QStandardPaths never
  touch the developer's real home.
* ``TZ=UTC``, ``LC_ALL=LANG=C.UTF-8``: the host's zone and locale cannot leak
  into naive times or Qt's default locale. Code that cares about Beijing time
  must say ``Asia/Shanghai`` itself.
* ``PYTHON_KEYRING_BACKEND`` is keyring's null backend: the till's database keys go to
  files under the private ``XDG_CONFIG_HOME`` (``store.keys``), never a real keyring.

PostgreSQL fixtures (tests that use them get the ``postgres`` marker, so
``pytest -m "not postgres"`` leaves them out):

* ``pg_cluster`` (session): a private server, see ``tests/support/pgcluster.py``.
* ``postgres_url`` (session): SQLAlchemy URL of one database shared by the session.
* ``pg_database`` (function): SQLAlchemy URL of a brand-new empty database,
  dropped after the test.
* ``pg_replica`` (session): a streaming replica of ``pg_cluster`` (every database
  of it, read-only); a test that pauses its replay must resume it
  (``with pg_replica.replay_paused(): ...``).

Without PostgreSQL binaries these fixtures skip, except under CI (``CI`` set),
where they fail: CI must never pass by skipping the database tests.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest

# --- environment: before anything imports Qt ------------------------------------

_PRIVATE_HOME = tempfile.mkdtemp(prefix="pos-tests-")
atexit.register(shutil.rmtree, _PRIVATE_HOME, True)
os.chmod(_PRIVATE_HOME, 0o700)  # Qt insists XDG_RUNTIME_DIR is 0700
for _var, _sub in (
    ("XDG_RUNTIME_DIR", "runtime"),
    ("XDG_CONFIG_HOME", "config"),
    ("XDG_DATA_HOME", "data"),
    ("XDG_CACHE_HOME", "cache"),
):
    _path = os.path.join(_PRIVATE_HOME, _sub)
    os.makedirs(_path, mode=0o700, exist_ok=True)
    os.environ[_var] = _path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
# Till keys go to files under the private XDG_CONFIG_HOME, never a developer's keyring.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
os.environ.pop("POS_KEY_DIR", None)
os.environ.pop("POS_KEYSTORE", None)
os.environ["TZ"] = "UTC"
time.tzset()
os.environ["LANG"] = "C.UTF-8"
os.environ["LC_ALL"] = "C.UTF-8"
os.environ.pop("LANGUAGE", None)

from tests.support.pgcluster import (  # noqa: E402
    PgCluster,
    PgClusterError,
    PgReplica,
    PgUnavailable,
)
from tests.support.serial_pair import SerialPair, SocatUnavailable  # noqa: E402

PG_FIXTURES = frozenset({"pg_cluster", "postgres_url", "pg_database", "pg_replica"})


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_report_header() -> list[str]:
    return [f"points-till env: QT_QPA_PLATFORM=offscreen TZ=UTC CI={_in_ci()}"]


try:  # hypothesis is a dev dependency; keep CI runs free of timing flakes
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("ci", deadline=None, print_blob=True)
    if _in_ci():
        _hyp_settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _no_log_file_left_open() -> Iterator[None]:
    """``pos-app`` commands run in-process open the till's log file; close it after each
    test and restore the root logger's level, so no test sees another's logging."""
    import logging

    from pos_app import applog

    level = logging.getLogger().level
    yield
    applog.stop_logging()
    logging.getLogger().setLevel(level)


# --- PostgreSQL ------------------------------------------------------------------


def _started(cluster: PgCluster) -> PgCluster:
    """``cluster`` started; skips without PostgreSQL binaries (fails under CI)."""
    try:
        return cluster.start()
    except PgUnavailable as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {exc}")
    except PgClusterError as exc:
        pytest.fail(
            f"could not start the private PostgreSQL ({type(cluster).__name__}): {exc}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL server for the whole session, removed at the end."""
    cluster = _started(PgCluster())
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_replica(pg_cluster: PgCluster) -> Iterator[PgReplica]:
    """A streaming replica of the session's server (hot standby), removed at the end."""
    replica = _started(PgReplica(pg_cluster))
    try:
        yield replica
    finally:
        replica.stop()


@pytest.fixture(scope="session")
def postgres_url(pg_cluster: PgCluster) -> str:
    """SQLAlchemy URL (postgresql+psycopg://postgres@127.0.0.1:PORT/pos_test) of a session database."""
    return pg_cluster.create_database("pos_test")


_db_numbers = itertools.count(1)


@pytest.fixture
def pg_database(pg_cluster: PgCluster) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database (TEMPLATE template0), dropped afterwards."""
    name = f"pos_t{os.getpid()}_{next(_db_numbers)}"
    url = pg_cluster.create_database(name)
    try:
        yield url
    finally:
        pg_cluster.drop_database(name)


# --- a loopback serial line (socat) ---------------------------------------------------


@pytest.fixture
def serial_pair() -> Iterator[SerialPair]:
    """Two PTYs joined by socat; skips without socat, except under CI where it fails."""
    try:
        pair = SerialPair()
    except SocatUnavailable as exc:
        if _in_ci():
            pytest.fail(f"socat is required in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield pair
    finally:
        pair.close()
