"""Printer transports: python-escpos Network against a fake TCP printer, URIs, errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from pos_app.devices.escpos_render import PrinterProfile, drawer_kick_command, render
from pos_app.devices.printers import (
    PreviewPrinter,
    PrinterError,
    PrinterErrorKind,
    PrinterStatus,
    PrinterTarget,
    open_printer,
    parse_printer_uri,
)
from pos_app.devices.samples import SAMPLE_MALL_URL, sample_receipt
from tests.devices.escpos_stream import parse
from tests.devices.fake_printer import FakePrinter

PAPER_OUT = {1: 0x1A, 2: 0x32, 4: 0x72}  # offline, because the paper ran out
COVER_OPEN = {1: 0x1A, 2: 0x16, 4: 0x12}
NEAR_END = {1: 0x12, 2: 0x12, 4: 0x1E}


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


# --- URIs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("tcp://192.168.1.50:9100", PrinterTarget("tcp", host="192.168.1.50", port=9100)),
        ("tcp://printer.local", PrinterTarget("tcp", host="printer.local", port=9100)),
        ("usb://0x0416:0x5011", PrinterTarget("usb", vendor_id=0x0416, product_id=0x5011)),
        (
            "serial:///dev/ttyUSB0?baudrate=9600",
            PrinterTarget("serial", path="/dev/ttyUSB0", options={"baudrate": "9600"}),
        ),
        ("serial://COM3", PrinterTarget("serial", path="COM3")),
        ("file:///dev/usb/lp0", PrinterTarget("file", path="/dev/usb/lp0")),
        ("preview://", PrinterTarget("preview")),
    ],
)
def test_parse_printer_uri(uri: str, expected: PrinterTarget) -> None:
    assert parse_printer_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "lpt://1",
        "tcp://",
        "tcp://host:notaport",
        "usb://0x0416",
        "usb://vendor:product",
        "serial://",
        "file://",
        "tcp://host?baud=9600",
        "serial:///dev/ttyS0?baudrate=fast",
        "tcp://host?status=maybe",
    ],
)
def test_bad_uris(uri: str) -> None:
    with pytest.raises(PrinterError) as info:
        parse_printer_uri(uri)
    assert info.value.kind is PrinterErrorKind.BAD_URI
    with pytest.raises(PrinterError):
        open_printer(uri)


# --- TCP through python-escpos Network ---------------------------------------------------


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8"])
def test_print_a_receipt_over_tcp(fake_printer: FakePrinter, encoding: str) -> None:
    profile = PrinterProfile(columns=32, encoding=encoding)  # type: ignore[arg-type]
    job = render(sample_receipt(), profile)
    with open_printer(fake_printer.uri) as printer:
        assert printer.status() == PrinterStatus(online=True, paper="ok", cover_open=None)
        printer.send(job)
    (received,) = fake_printer.wait_for_jobs(1)
    assert received.endswith(job)
    stream = parse(received)
    assert stream.status_queries == [1, 4, 1, 4]  # status() above, then before the job
    text = "\n".join(stream.text(encoding))
    assert "优选生活超市（人民广场店）" in text
    assert "会员：138****1234" in text
    assert b"13812341234" not in received
    assert [q.data for q in stream.qr_codes] == [SAMPLE_MALL_URL.encode()]
    if encoding != "utf-8":
        assert stream.commands[stream.commands.index("init") + 1] == "chinese_on"
        assert stream.high_bytes_outside_chinese_mode == 0


def test_one_connection_per_job(fake_printer: FakePrinter) -> None:
    for n in range(2):
        with open_printer(fake_printer.uri, check_status=False) as printer:
            printer.send(f"job {n}\n".encode())
    assert fake_printer.wait_for_jobs(2) == [b"job 0\n", b"job 1\n"]


def test_paper_out_is_reported_and_nothing_is_printed() -> None:
    with FakePrinter(status=PAPER_OUT) as fake:
        with open_printer(fake.uri) as printer:
            assert printer.status() == PrinterStatus(online=False, paper="out", cover_open=False)
            with pytest.raises(PrinterError) as info:
                printer.send(b"\x1b@hello\n")
        assert info.value.kind is PrinterErrorKind.PAPER_OUT
        (received,) = fake.wait_for_jobs(1)
    assert b"hello" not in received
    assert parse(received).status_queries == [1, 2, 4, 1, 2, 4]


def test_cover_open_is_reported() -> None:
    with FakePrinter(status=COVER_OPEN) as fake, open_printer(fake.uri) as printer:
        with pytest.raises(PrinterError) as info:
            printer.send(b"hello\n")
        assert info.value.kind is PrinterErrorKind.COVER_OPEN


def test_paper_near_end_still_prints() -> None:
    with FakePrinter(status=NEAR_END) as fake:
        with open_printer(fake.uri) as printer:
            assert printer.status().paper == "near_end"
            printer.send(b"hello\n")
        assert fake.wait_for_jobs(1)[0].endswith(b"hello\n")


def test_a_printer_that_never_answers_is_asked_once() -> None:
    with FakePrinter(status=None) as fake:
        with open_printer(fake.uri, status_timeout=0.05) as printer:
            printer.send(b"one\n")
            printer.send(b"two\n")
            assert printer.status() == PrinterStatus()
            assert not printer.status().known
        (received,) = fake.wait_for_jobs(1)
    assert received == b"\x10\x04\x01one\ntwo\n"


def test_status_check_can_be_turned_off_in_the_uri(fake_printer: FakePrinter) -> None:
    with open_printer(fake_printer.uri + "?status=off") as printer:
        printer.send(b"hi\n")
    assert fake_printer.wait_for_jobs(1) == [b"hi\n"]


def test_kick_drawer(fake_printer: FakePrinter) -> None:
    with open_printer(fake_printer.uri) as printer:
        printer.kick_drawer()
    assert fake_printer.wait_for_jobs(1) == [drawer_kick_command()]


def test_nothing_listening_is_offline() -> None:
    uri = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(PrinterError) as info:
        open_printer(uri, timeout=2)
    assert info.value.kind is PrinterErrorKind.OFFLINE
    assert info.value.uri == uri


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (TimeoutError("timed out"), PrinterErrorKind.TIMEOUT),
        (BrokenPipeError(32, "Broken pipe"), PrinterErrorKind.OFFLINE),
        (ConnectionResetError(104, "reset"), PrinterErrorKind.OFFLINE),
        (OSError(5, "I/O error"), PrinterErrorKind.OFFLINE),
        (ValueError("weird"), PrinterErrorKind.IO),
    ],
)
def test_transport_errors_are_mapped(
    raised: Exception, kind: PrinterErrorKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    printer = open_printer("preview://")

    def fail(data: bytes) -> None:
        raise raised

    monkeypatch.setattr(printer._device, "_raw", fail)
    with pytest.raises(PrinterError) as info:
        printer.send(b"x")
    assert info.value.kind is kind
    assert info.value.__cause__ is raised


def test_a_closed_printer_refuses_to_send() -> None:
    printer = open_printer("preview://")
    printer.close()
    printer.close()  # idempotent
    with pytest.raises(PrinterError) as info:
        printer.send(b"x")
    assert info.value.kind is PrinterErrorKind.IO


# --- other transports ---------------------------------------------------------------------


def test_preview_printer_keeps_the_bytes() -> None:
    with open_printer("preview://") as printer:
        assert isinstance(printer, PreviewPrinter)
        assert not printer.can_read_status
        printer.send(b"abc")
        printer.kick_drawer(5)
        assert printer.output == b"abc" + drawer_kick_command(5)
        assert printer.status() == PrinterStatus()


def test_file_printer_writes_the_job(tmp_path: Path) -> None:
    target = tmp_path / "lp0"
    job = render(sample_receipt(), PrinterProfile())
    with open_printer(f"file://{target}") as printer:
        printer.send(job)
    assert target.read_bytes() == job


def test_file_printer_in_a_missing_folder_is_offline(tmp_path: Path) -> None:
    with pytest.raises(PrinterError) as info:
        open_printer(f"file://{tmp_path}/missing/lp0")
    assert info.value.kind is PrinterErrorKind.OFFLINE


@pytest.mark.parametrize(
    "uri", ["usb://0x0416:0x5011", "serial:///dev/pos-test-no-such-port?baudrate=9600"]
)
def test_usb_and_serial_fail_cleanly_without_a_device(uri: str) -> None:
    # UNSUPPORTED without pyusb/pyserial installed, OFFLINE with them and no device.
    with pytest.raises(PrinterError) as info:
        open_printer(uri)
    assert info.value.kind in (PrinterErrorKind.UNSUPPORTED, PrinterErrorKind.OFFLINE)
