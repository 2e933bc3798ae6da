"""The till's log file (rotating, crashes of any thread in it, no personal data) and
``pos-app support-bundle``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from pos_app import applog
from pos_app.cli.main import main
from pos_app.services import members, sync
from pos_app.services.context import open_till
from pos_app.services.till_session import ensure_demo_users

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phone 13812341234 not found", "phone 138****1234 not found"),
        ("+8613812341234", "138****1234"),
        ("+86 138 1234 1234", "138****1234"),
        ("138-1234-1234", "138****1234"),
        ("ValueError: '+447911123456'", "ValueError: '+44****56'"),
        # ids, receipt numbers and amounts are not phones
        ("receipt R0010126111780000123", "receipt R0010126111780000123"),
        ("member 9000100000123456789", "member 9000100000123456789"),
        ("sale a1b2c3d4e5f60718293a4b5c6d7e8f90", "sale a1b2c3d4e5f60718293a4b5c6d7e8f90"),
    ],
)
def test_phone_numbers_are_masked_in_the_log(text: str, expected: str) -> None:
    assert applog.redact(text) == expected


def test_the_log_rotates_in_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(applog, "MAX_BYTES", 2_000)
    target = applog.init_logging(folder=tmp_path / "logs")
    assert target == tmp_path / "logs" / applog.LOG_FILE
    log = logging.getLogger("pos_app.test")
    for n in range(200):
        log.info("line %d for member 13812341234", n)
    applog.stop_logging()
    files = applog.log_files(tmp_path / "logs")
    assert 2 <= len(files) <= applog.BACKUPS + 1
    text = "".join(p.read_text("utf-8") for p in files)
    assert "138****1234" in text
    assert "13812341234" not in text


def test_the_default_folder_is_the_platforms_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("POS_LOG_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert applog.log_dir() == tmp_path / "points-till" / "logs"


CRASHES = """
import threading
from pathlib import Path
from pos_app import applog
applog.init_logging(folder=Path({folder!r}))
def work():
    raise RuntimeError("printer thread died for +8613812341234")
t = threading.Thread(target=work, name="print-worker")
t.start(); t.join()
raise ValueError("main thread died with 13912345678")
"""


def test_crashes_of_any_thread_land_in_the_log(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASHES.format(folder=str(folder)))],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "ValueError" in done.stderr  # the previous hook still prints it
    text = (folder / applog.LOG_FILE).read_text("utf-8")
    assert "unhandled exception in thread print-worker" in text
    assert "RuntimeError: printer thread died for +86****34" not in text
    assert "RuntimeError: printer thread died for 138****1234" in text
    assert "unhandled exception in the main thread" in text
    assert "ValueError: main thread died with 139****5678" in text
    assert "Traceback (most recent call last)" in text
    assert "13812341234" not in text
    assert "13912345678" not in text


def test_support_bundle_has_logs_versions_settings_and_check_but_no_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POS_LOG_DIR", str(tmp_path / "logs"))
    db = tmp_path / "till.sqlite"
    ctx = open_till(db)
    try:
        ensure_demo_users(ctx)
        members.register(ctx, phone="13812341234", name="张三")
        sync.save_sync_config(ctx, "https://hq.example.test", "till-secret-token-0123")
    finally:
        ctx.db.close()
    logging.getLogger("pos_app.test").warning("registered 13812341234")  # before init
    bundle = tmp_path / "support.zip"
    assert main(["--db", str(db), "support-bundle", str(bundle)]) == 0
    assert "support.zip" in capsys.readouterr().out
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        assert {"versions.json", "settings.json", "check.txt", "README.txt"} <= names
        assert any(n.startswith("logs/pos-app.log") for n in names)
        versions = json.loads(zf.read("versions.json"))
        settings = json.loads(zf.read("settings.json"))
        check = zf.read("check.txt").decode()
        everything = b"".join(zf.read(n) for n in names)
    assert versions["schema"] == versions["schema_head"]
    assert versions["packages"]["PySide6-Essentials"]
    assert settings["settings"]["hq_token"] == "(hidden)"
    assert settings["settings"]["hq_url"] == "https://hq.example.test"
    assert settings["printer"]["uri"] == "preview://"
    assert check.startswith("OK")
    for secret in (b"till-secret-token-0123", b"13812341234", "张三".encode()):
        assert secret not in everything
    assert not any(n.endswith((".sqlite", ".json.key")) or "keys" in n for n in names)
