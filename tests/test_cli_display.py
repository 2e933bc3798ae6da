"""``pos-app display``: set up, show and try the customer displays."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos_app.cli.main import main
from pos_app.devices.pole_display import ESC_INIT
from pos_app.services.context import open_till
from pos_app.services.customer_display import DisplayConfig, display_config
from tests.support.serial_pair import SerialPair


@pytest.fixture
def till(tmp_path: Path) -> Path:
    path = tmp_path / "till.sqlite"
    open_till(path).db.close()
    return path


def test_setup_and_status(till: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = ["--port", "/dev/ttyUSB0", "--baud", "19200", "--encoding", "gbk"]
    options += ["--chinese-mode", "on", "--screen", "2"]
    code = main(["display", "setup", "--db", str(till), *options])
    assert code == 0
    out = capsys.readouterr().out
    assert "pole /dev/ttyUSB0 19200 baud, gbk, FS & on, zh_CN; customer screen: 2" in out
    ctx = open_till(till)
    try:
        assert display_config(ctx) == DisplayConfig(
            "/dev/ttyUSB0", 19200, "gbk", True, "zh_CN", "2"
        )
    finally:
        ctx.db.close()
    assert main(["display", "status", "--db", str(till)]) == 0
    assert "customer screen: 2" in capsys.readouterr().out
    assert main(["display", "setup", "--db", str(till), "--port", ""]) == 0
    assert "no pole display; customer screen: 2" in capsys.readouterr().out


def test_a_bad_setting_is_refused(till: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["display", "setup", "--db", str(till), "--baud", "1000"]) == 2
    assert "Customer display setting baudrate: must be" in capsys.readouterr().err
    assert main(["display", "setup", "--db", str(till), "--screen", "left"]) == 2


def test_the_test_screen_reaches_the_display(
    till: Path, serial_pair: SerialPair, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["display", "test", "--db", str(till), "--port", serial_pair.device]) == 0
    assert f"to {serial_pair.device}" in capsys.readouterr().out
    received = serial_pair.read_quiet()
    assert received.startswith(ESC_INIT + b"\x0c")
    assert "测试商品".encode("gb18030") in received
    assert "积分生活超市".encode("gb18030") in received  # the idle screen: the store's name


def test_the_test_screen_without_a_display(till: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["display", "test", "--db", str(till)]) == 2
    assert "no pole display is configured" in capsys.readouterr().out
    assert main(["display", "test", "--db", str(till), "--port", "/dev/pos-no-such-tty"]) == 2
    assert "pole display offline" in capsys.readouterr().out
