"""Build the till's one-folder bundle with PyInstaller and start it offscreen.

Slow (a minute or two): it is the proof that `make installer` ships a till that starts,
with python-escpos's capabilities.json, the font, the translations and the migrations.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pyi")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            str(ROOT / "build_installer.spec"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    folder = work / "dist" / "pos-app"
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"\nbundle: {folder} {size / 2**20:.0f} MiB")
    return folder


def _run(
    bundle: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bundle / "pos-app"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_bundle_reports_its_version(bundle: Path) -> None:
    from pos_app import __version__

    result = _run(bundle, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pos-app {__version__}"


def test_bundle_carries_what_the_till_needs(bundle: Path) -> None:
    internal = bundle / "_internal"
    assert (internal / "escpos" / "capabilities.json").is_file()
    assert (internal / "resources" / "fonts" / "wqy-microhei.ttc").is_file()
    assert (internal / "resources" / "i18n" / "pos_zh_CN.qm").is_file()
    assert list((internal / "db" / "versions").glob("0001_*.py"))
    assert not (internal / "fastapi").exists(), "the till bundle must not carry the HQ server"
    assert not list(internal.rglob("libQt6Qml*")), "unused Qt modules must be left out"


def test_bundle_starts_offscreen_and_exits_cleanly(bundle: Path, tmp_path: Path) -> None:
    shot = tmp_path / "till.png"
    result = _run(
        bundle,
        "--db",
        str(tmp_path / "till.sqlite"),
        "--smoke",
        "--screenshot",
        str(shot),
        env={"QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert shot.stat().st_size > 10_000
    # The frozen till's file is SQLCipher's: no SQLite header, nothing readable.
    assert (tmp_path / "till.sqlite").read_bytes()[:16] != b"SQLite format 3\x00"
    assert (tmp_path / "till.sqlite").stat().st_mode & 0o077 == 0
    # The frozen till migrated its database and quotes with the bundled rule set.
    quote = _run(
        bundle,
        "--db",
        str(tmp_path / "till.sqlite"),
        "rules",
        "simulate",
        "--line",
        "A:food:3:100",
        "--tier",
        "silver",
        "--at",
        "2026-11-18T12:00",
        "--format",
        "json",
    )
    assert quote.returncode == 0, quote.stderr
    assert '"points_earned": 900' in quote.stdout
