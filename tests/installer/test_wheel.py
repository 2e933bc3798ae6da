"""Build the wheel, install it into a fresh virtual environment and start the till and
HQ's migrations from it, away from the checkout.

The wheel must carry ``db/`` and ``resources/`` (mapped into ``pos_app/_data`` at build
time): without them an installed till fails at start. The fresh environment gets the
wheel alone; the third-party packages it depends on are borrowed from the development
environment through a path entry (so the test needs no download), and the checkout is
never on ``sys.path``: every ``pos_app`` module and data file comes from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        cwd=out,
        env=dict(os.environ),
    )
    assert built.returncode == 0, built.stderr[-4000:]
    (found,) = out.glob("points_till-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    folder = tmp_path_factory.mktemp("venv") / "fresh"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(folder)], folder.parent, env)
    assert made.returncode == 0, made.stderr
    python = folder / "bin" / "python"
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheel)],
        folder.parent,
        env,
    )
    assert installed.returncode == 0, installed.stderr[-4000:]
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        folder,
        env,
    ).stdout.strip()
    # The dependencies, from the development environment (after the wheel's own files).
    Path(purelib, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "POS_RESOURCES", "POS_MIGRATIONS", "POS_HQ_MIGRATIONS")
    }
    return {**env, "QT_QPA_PLATFORM": "offscreen", "POS_LOG_DIR": str(tmp_path / "logs")}


def test_the_wheel_carries_the_migrations_and_resources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pos_app/_data/db/env.py" in names
    assert "pos_app/_data/db/hq/env.py" in names
    assert any(n.startswith("pos_app/_data/db/versions/0001_") for n in names)
    assert any(n.startswith("pos_app/_data/db/hq/versions/0001_") for n in names)
    assert "pos_app/_data/resources/fonts/wqy-microhei.ttc" in names
    assert "pos_app/_data/resources/i18n/pos_zh_CN.qm" in names
    assert "pos_app/core/default_rules.json" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "db/", "resources/")) for n in names)


def test_the_installed_till_finds_its_data_in_the_wheel(venv: Path, tmp_path: Path) -> None:
    found = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import pos_app, pos_app.resources as r; "
            "print(pos_app.__file__); print(r.migrations_dir()); print(r.cjk_font_path())",
        ],
        tmp_path,
        _env(tmp_path),
    )
    assert found.returncode == 0, found.stderr
    module, migrations, font = found.stdout.split()
    for path in (module, migrations, font):
        assert Path(path).is_relative_to(venv), path
    assert Path(migrations, "versions").is_dir()
    assert Path(font).is_file()


def test_pos_app_smoke_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    shot = tmp_path / "till.png"
    env = _env(tmp_path)
    done = _run(
        [
            str(venv / "bin" / "pos-app"),
            "--db",
            str(tmp_path / "till.sqlite"),
            "--smoke",
            "--screenshot",
            str(shot),
        ],
        tmp_path,
        env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert shot.stat().st_size > 10_000
    log = (tmp_path / "logs" / "pos-app.log").read_text("utf-8")
    assert "could not load the CJK font" not in log
    assert "no translation" not in log


def test_pos_hq_migrate_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    done = _run(
        [str(venv / "bin" / "pos-hq"), "migrate", "--db", f"sqlite:///{tmp_path / 'hq.sqlite'}"],
        tmp_path,
        _env(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "HQ database at revision" in done.stdout
    revision, head = done.stdout.split("revision ")[1].split(" (head ")
    assert revision == head.rstrip(")\n")
