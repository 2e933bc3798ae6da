"""The print queue against real loopback TCP printers and a real till database file.

Every receipt is decoded back from the bytes the printer received (tests/devices'
strict ESC/POS stream parser); a complete receipt is a cut command, so "printed exactly
once" is "one cut".
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from pos_app.core.errors import InvalidInput
from pos_app.services import checkout, members, refunds
from pos_app.services.context import TillContext
from pos_app.services.errors import AuthError, PaymentError, UnknownSale
from pos_app.services.print_queue import (
    PREVIEW_URI,
    PrinterConfig,
    PrinterState,
    PrintJobInfo,
    PrintWorker,
    configure_printer,
    enqueue,
    enqueue_test_print,
    job_bytes,
    jobs_for,
    list_jobs,
    preview_receipt,
    printer_config,
    printer_state,
    reprint,
    retry_job,
)
from pos_app.services.users import UserInfo
from pos_app.store.models import MallItemRow
from pos_app.store.types import new_id
from tests.devices.escpos_stream import Stream, decode_code128, parse
from tests.devices.fake_printer import HEALTHY, FakePrinter
from tests.services.conftest import Clock
from tests.services.printer_fakes import (
    NEAR_END,
    PAPER_OUT,
    FaultyPrinter,
    complete_receipts,
    free_port,
)
from tests.services.support import (
    BASKET,
    CASHIER_PIN,
    MANAGER_PIN,
    assert_ledger_consistent,
    balance,
    item,
    scalar,
    sell,
)

FULL_PHONE = "13812341234"
MALL_BASE = "https://mall.example.cn"


# --- helpers -------------------------------------------------------------------------------


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``condition()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def forget_queue(ctx: TillContext) -> None:
    """The receipts of the fixtures' sales came out before this test's printer was
    connected (they would be the first jobs the test's printer receives)."""
    with ctx.db.write() as session:
        session.execute(text("UPDATE print_jobs SET status = 'done' WHERE status = 'pending'"))


def job_count(ctx: TillContext) -> int:
    return int(scalar(ctx, "SELECT COUNT(*) FROM print_jobs"))


def jobs_of(ctx: TillContext, receipt_no: str) -> list[PrintJobInfo]:
    return jobs_for(ctx, receipt_no)


def done(ctx: TillContext, receipt_no: str, count: int = 1) -> bool:
    return sum(j.status == "done" for j in jobs_of(ctx, receipt_no)) >= count


def text_of(stream: Stream, encoding: str = "gb18030") -> str:
    return "\n".join(stream.text(encoding))


def flat(body: str) -> str:
    """Text with the layout's line wraps (and their hanging indents) undone."""
    return re.sub(r"\s*\n\s*", "", body)


def decode_qr(image: np.ndarray) -> str:
    padded = cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    data, _points, _ = cv2.QRCodeDetector().detectAndDecode(padded)
    return str(data)


def member_url(ctx: TillContext, member_id: str) -> str:
    return f"{MALL_BASE}/m/{members.summary(ctx, member_id).code}"


@pytest.fixture
def mall(ctx: TillContext) -> None:
    """Three mall items: one any member can redeem soon, two for later."""
    with ctx.db.write() as session:
        session.add_all(
            [
                MallItemRow(id="CUP", name="星巴克中杯券", points_price=200, level="low"),
                MallItemRow(id="EAR", name="蓝牙耳机", points_price=900, level="middle"),
                MallItemRow(id="TV", name="智能电视", points_price=90_000, level="top"),
            ]
        )


@pytest.fixture
def workers(ctx: TillContext) -> Iterator[Callable[..., PrintWorker]]:
    """Start print workers with short timings; every one is stopped and joined."""
    started: list[PrintWorker] = []

    def start(**kwargs: Any) -> PrintWorker:
        options: dict[str, Any] = {
            "poll_interval": 0.05,
            "backoff_base": 0.05,
            "backoff_cap": 0.2,
            "timeout": 2.0,
            "status_timeout": 0.3,
        }
        worker = PrintWorker(ctx, **(options | kwargs))
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    assert not any(worker.is_alive() for worker in started)


def use_printer(ctx: TillContext, uri: str, **options: Any) -> None:
    configure_printer(ctx, PrinterConfig(uri=uri, **options))


# --- a member sale on a Chinese printer ------------------------------------------------------


@pytest.mark.parametrize(("encoding", "columns"), [("gb18030", 32), ("gbk", 48)])
def test_member_sale_prints_a_chinese_receipt(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    mall: None,
    workers: Callable[..., PrintWorker],
    encoding: str,
    columns: int,
    clock: Clock,
) -> None:
    forget_queue(ctx)
    clock.set(2026, 11, 18, 10, 0)  # member day: double points
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri, columns=columns, encoding=encoding, drawer_kick=True)
        workers()
        sale = sell(ctx, cashier.id, regular, list(BASKET))
        (received,) = printer.wait_for_jobs(1)
        wait_until(lambda: done(ctx, sale.receipt_no))
    stream = parse(received)
    # FS & right after initialising (and the drawer kick): no byte >= 0x80 outside it.
    start = stream.commands.index("init")  # after the status queries
    assert stream.commands[start : start + 3] == ["init", "drawer", "chinese_on"]
    assert stream.high_bytes_outside_chinese_mode == 0
    assert all(line.chinese_mode for line in stream.lines if any(b >= 0x80 for b in line.raw))
    body = text_of(stream, encoding)
    assert ctx.store_name in body
    assert "销售小票" in body
    assert "会员：138****1234" in body
    assert FULL_PHONE.encode() not in received
    assert FULL_PHONE not in body
    assert f"本单获得 {sale.points_earned} 积分" in body
    assert "基础 130 + 会员日 +130" in body
    assert sale.balance_after is not None
    assert f"{sale.balance_after}积分" in body.replace(" ", "")
    unwrapped = flat(body)
    assert "可兑换 星巴克中杯券（200积分）" in unwrapped
    assert "再攒 490 积分即可兑换 蓝牙耳机" in unwrapped
    assert "龙井茶叶" in body
    assert "白瓷杯" in body
    assert "实付" in body
    assert "现金" in body
    # The mall QR code (native) holds the member's page; the barcode the receipt number.
    assert [q.data.decode() for q in stream.qr_codes] == [member_url(ctx, regular)]
    assert [decode_code128(payload) for _m, payload, _w, _h in stream.barcodes] == [sale.receipt_no]
    assert len(stream.drawer_kicks) == 1  # a cash sale opens the drawer
    assert stream.cuts == [1]


def test_image_qr_decodes_to_the_member_page(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri, columns=48, qr_mode="image")
        workers()
        sell(ctx, cashier.id, regular, [item(8800)])
        (received,) = printer.wait_for_jobs(1)
    stream = parse(received)
    assert stream.qr_codes == []
    (raster,) = stream.rasters
    assert raster.width_bytes * 8 == 576
    assert decode_qr(raster.image()) == member_url(ctx, regular)


def test_card_sales_and_reprints_do_not_open_the_drawer(
    ctx: TillContext,
    cashier: UserInfo,
    manager: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri, drawer_kick=True)
        workers()
        card = sell(ctx, cashier.id, regular, [item(2000)], method="card")
        cash = sell(ctx, cashier.id, None, [item(2000)])
        printer.wait_for_jobs(2)
        reprint(ctx, cash.receipt_no, manager_id=manager.id, manager_pin=MANAGER_PIN)
        jobs = printer.wait_for_jobs(3)
    kicks = [len(parse(job).drawer_kicks) for job in jobs]
    assert kicks == [0, 1, 0]
    assert "银行卡" in text_of(parse(jobs[0]))
    assert card.receipt_no in text_of(parse(jobs[0]))


# --- failures: the sale is safe, the receipt prints once when the printer is back -------------


def test_printer_off_then_back(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    port = free_port()
    use_printer(ctx, f"tcp://127.0.0.1:{port}")
    states: list[PrinterState] = []
    worker = workers(on_status=states.append)
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    wait_until(lambda: jobs_of(ctx, sale.receipt_no)[0].attempts >= 2)
    # The sale is committed and whole; only the receipt waits.
    assert balance(ctx, regular) == sale.balance_after
    assert_ledger_consistent(ctx)
    state = printer_state(ctx)
    assert (state.condition, state.waiting) == ("offline", 1)
    assert state.text() == "打印机离线，1 张小票待打印"
    assert state.text("en") == "Printer offline, 1 receipt(s) waiting"
    assert not state.ok
    assert any(s.condition == "offline" for s in states)
    (job,) = jobs_of(ctx, sale.receipt_no)
    assert job.status == "pending"
    assert job.error_kind == "offline"

    with FaultyPrinter(port=port) as printer:
        worker.retry_now()
        (received,) = printer.wait_for_jobs(1)
        wait_until(lambda: done(ctx, sale.receipt_no))
        time.sleep(0.3)  # nothing else comes out
        assert complete_receipts(printer.jobs) == 1
    assert sale.receipt_no in text_of(parse(received))
    assert printer_state(ctx) == PrinterState("ok", 0, 0, f"tcp://127.0.0.1:{port}")
    wait_until(lambda: states[-1].condition == "ok")


def test_paper_out_then_loaded(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    with FaultyPrinter(status=PAPER_OUT) as printer:
        use_printer(ctx, printer.uri)
        workers()
        sale = sell(ctx, cashier.id, regular, list(BASKET))
        wait_until(lambda: jobs_of(ctx, sale.receipt_no)[0].attempts >= 2)
        assert printer_state(ctx).condition == "paper_out"
        assert printer_state(ctx).text() == "打印机缺纸，1 张小票待打印"
        assert complete_receipts(printer.jobs) == 0  # only status queries got through
        printer.set_status(HEALTHY)
        wait_until(lambda: done(ctx, sale.receipt_no))
        time.sleep(0.3)
        assert complete_receipts(printer.jobs) == 1
    assert printer_state(ctx).condition == "ok"
    assert_ledger_consistent(ctx)


def test_connection_dropped_mid_job(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    with FaultyPrinter(drop_after=400, drops=2) as printer:
        use_printer(ctx, printer.uri)
        workers()
        sale = sell(ctx, cashier.id, regular, list(BASKET))
        wait_until(lambda: done(ctx, sale.receipt_no))
        time.sleep(0.3)
        assert len(printer.dropped) == 2
        assert len(printer.jobs) == 3  # two cut short, then the whole receipt
        assert complete_receipts(printer.jobs) == 1
        (job,) = jobs_of(ctx, sale.receipt_no)
        assert job.attempts == 3
        assert sale.receipt_no in text_of(parse(printer.jobs[-1]))
    assert balance(ctx, regular) == sale.balance_after


def test_receipts_print_in_order_after_an_outage(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    port = free_port()
    use_printer(ctx, f"tcp://127.0.0.1:{port}")
    worker = workers()
    sales = [sell(ctx, cashier.id, regular, [item(1000 * (n + 1))]) for n in range(3)]
    wait_until(lambda: jobs_of(ctx, sales[0].receipt_no)[0].attempts >= 1)
    assert printer_state(ctx).waiting == 3
    assert all(jobs_of(ctx, s.receipt_no)[0].attempts == 0 for s in sales[1:])  # in order
    with FaultyPrinter(port=port) as printer:
        worker.retry_now()
        jobs = printer.wait_for_jobs(3)
        wait_until(lambda: done(ctx, sales[-1].receipt_no))
        time.sleep(0.2)
        assert len(printer.jobs) == 3
    numbers = [
        next(line for line in text_of(parse(job)).splitlines() if line.startswith("单号："))
        for job in jobs
    ]
    assert numbers == [f"单号：{s.receipt_no}" for s in sales]
    assert complete_receipts(jobs) == 3


def test_paper_running_low_is_shown_after_a_job(
    ctx: TillContext, cashier: UserInfo, workers: Callable[..., PrintWorker]
) -> None:
    with FaultyPrinter(status=NEAR_END) as printer:
        use_printer(ctx, printer.uri)
        workers()
        sale = sell(ctx, cashier.id, None, [item(1000)])
        wait_until(lambda: done(ctx, sale.receipt_no))
    state = printer_state(ctx)
    assert state.condition == "paper_low"
    assert state.ok
    assert state.text() == "打印纸将用完"


# --- reprints, refunds, no member, test page -------------------------------------------------


def test_a_manager_reprints_any_receipt(
    ctx: TillContext,
    cashier: UserInfo,
    manager: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    first = sell(ctx, cashier.id, regular, list(BASKET))
    sell(ctx, cashier.id, regular, [item(5000)])  # the balance moves on
    with pytest.raises(AuthError):
        reprint(ctx, first.receipt_no, manager_id=cashier.id, manager_pin=CASHIER_PIN)
    with pytest.raises(AuthError):
        reprint(ctx, first.receipt_no, manager_id=manager.id, manager_pin="0000")
    with pytest.raises(UnknownSale):
        reprint(ctx, "R999", manager_id=manager.id, manager_pin=MANAGER_PIN)
    job = reprint(ctx, first.receipt_no.lower(), manager_id=manager.id, manager_pin=MANAGER_PIN)
    assert job.receipt_no == first.receipt_no
    assert job.reprint
    assert job.status == "pending"
    assert (
        scalar(
            ctx,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'reprint' AND subject = :s",
            s=first.receipt_no,
        )
        == 1
    )
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri)
        workers()
        jobs = printer.wait_for_jobs(3)  # the two originals, then the copy
    copy = text_of(parse(jobs[2]))
    assert parse(job_bytes(ctx, job.id)).text("gb18030") == parse(jobs[2]).text("gb18030")
    assert "** 重印 **" in copy
    assert f"单号：{first.receipt_no}" in copy
    assert "重印" not in text_of(parse(jobs[0]))
    assert first.balance_after is not None
    assert f"{first.balance_after}积分" in copy.replace(" ", "")  # as it stood then
    assert [j.reprint for j in jobs_of(ctx, first.receipt_no)] == [False, True]


def test_refund_receipt(
    ctx: TillContext,
    cashier: UserInfo,
    manager: UserInfo,
    regular: str,
    workers: Callable[..., PrintWorker],
) -> None:
    forget_queue(ctx)
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    view = refunds.find_sale(ctx, sale.receipt_no)
    tea = next(line for line in view.lines if line.sku == "TEA")
    result = refunds.refund(
        ctx,
        refund_id=new_id(),
        receipt_no=sale.receipt_no,
        request={tea.id: 1},
        cashier_id=cashier.id,
        manager_id=manager.id,
        manager_pin=MANAGER_PIN,
        reason="质量问题",
    )
    (job,) = jobs_of(ctx, result.refund_no)
    assert (job.kind, job.status) == ("refund", "pending")
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri, drawer_kick=True)
        workers()
        jobs = printer.wait_for_jobs(2)
    stream = parse(jobs[1])
    body = text_of(stream)
    assert "退货小票" in body
    assert f"单号：{result.refund_no}" in body
    assert f"原单号：{sale.receipt_no}" in body
    assert "退款合计" in body
    assert "50.00" in body
    assert f"本单扣回 {result.quote.points_reversed} 积分" in body
    assert result.balance_after is not None
    assert f"{result.balance_after}积分" in body.replace(" ", "")
    assert "会员：138****1234" in body
    assert len(stream.drawer_kicks) == 1  # cash handed back


def test_no_member_sale_invites_to_join(
    ctx: TillContext, cashier: UserInfo, workers: Callable[..., PrintWorker]
) -> None:
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri)
        workers()
        sell(ctx, cashier.id, None, list(BASKET))
        (received,) = printer.wait_for_jobs(1)
    stream = parse(received)
    body = text_of(stream)
    assert "注册会员，本单可得 130 积分！" in body
    assert "现在注册即送 100 积分" in body
    assert "会员：" not in body
    assert stream.qr_codes == []


def test_test_page(ctx: TillContext, workers: Callable[..., PrintWorker]) -> None:
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri, columns=32, encoding="gbk")
        job = enqueue_test_print(ctx)
        assert job.kind == "test"
        workers()
        (received,) = printer.wait_for_jobs(1)
    stream = parse(received)
    body = text_of(stream, "gbk")
    assert "打印机测试页 PRINTER TEST" in body
    assert "编码 Encoding：gbk，FS & 开 on" in body
    assert "全角：￥１２３．４５，。（）" in body
    assert all(len(line.raw) <= 32 for line in stream.lines)
    assert [q.data.decode() for q in stream.qr_codes] == [MALL_BASE]
    assert stream.cuts == [1]
    assert stream.high_bytes_outside_chinese_mode == 0


# --- the job commits with the sale -----------------------------------------------------------


def test_the_print_job_commits_with_the_sale(
    ctx: TillContext, cashier: UserInfo, regular: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = job_count(ctx)
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    (job,) = jobs_of(ctx, sale.receipt_no)  # no worker runs: it waits in the queue
    assert (job.kind, job.ref_id, job.status, job.reprint) == (
        "sale",
        sale.sale_id,
        "pending",
        False,
    )
    assert job_count(ctx) == before + 1

    # A retried request returns the first sale and queues nothing more.
    lines = list(BASKET)
    sale_id = new_id()
    q = checkout.quote(ctx, lines, member_id=regular)
    for _ in range(2):
        checkout.complete_sale(
            ctx,
            sale_id=sale_id,
            lines=lines,
            member_id=regular,
            tenders=[checkout.TenderInput("cash", q.cash_due_fen)],
            cashier_id=cashier.id,
        )
    assert job_count(ctx) == before + 2

    # A sale that fails writes no job.
    with pytest.raises(PaymentError):
        checkout.complete_sale(
            ctx,
            sale_id=new_id(),
            lines=lines,
            member_id=regular,
            tenders=[checkout.TenderInput("cash", 1)],
            cashier_id=cashier.id,
        )
    assert job_count(ctx) == before + 2

    # A failure after the job was queued rolls the job back with the sale.
    def broken_outbox(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(checkout, "add_outbox", broken_outbox)
    sales_before = scalar(ctx, "SELECT COUNT(*) FROM sales")
    with pytest.raises(RuntimeError):
        sell(ctx, cashier.id, regular, list(BASKET))
    assert job_count(ctx) == before + 2
    assert scalar(ctx, "SELECT COUNT(*) FROM sales") == sales_before


def test_enqueue_checks_its_arguments(ctx: TillContext) -> None:
    with ctx.db.write() as session:
        with pytest.raises(ValueError, match="unknown print job kind"):
            enqueue(session, "label", "x", at=ctx.now())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="name their sale"):
            enqueue(session, "sale", None, at=ctx.now())
        with pytest.raises(ValueError, match="name their sale"):
            enqueue(session, "test", "x", at=ctx.now())


# --- preview mode, failed jobs, settings ------------------------------------------------------


def test_without_a_printer_receipts_become_png_previews(
    ctx: TillContext,
    cashier: UserInfo,
    regular: str,
    mall: None,
    workers: Callable[..., PrintWorker],
) -> None:
    assert printer_config(ctx).uri == PREVIEW_URI
    assert printer_state(ctx).condition == "preview"
    forget_queue(ctx)
    printed: list[PrintJobInfo] = []
    workers(on_printed=printed.append)
    sale = sell(ctx, cashier.id, regular, list(BASKET))
    enqueue_test_print(ctx)
    wait_until(lambda: len(printed) == 2)
    receipt_job, test_job = printed
    assert (receipt_job.receipt_no, test_job.receipt_no) == (sale.receipt_no, None)
    assert receipt_job.output == ctx.db.path.parent / "receipts" / (
        f"{receipt_job.id:06d}-{sale.receipt_no}.png"
    )
    assert test_job.output is not None
    assert test_job.output.name.endswith("-test.png")
    for job in printed:
        assert job.output is not None
        with Image.open(job.output) as image:
            assert image.width == 576
            assert image.height > 800
    assert jobs_of(ctx, sale.receipt_no)[0].status == "done"
    assert printer_state(ctx) == PrinterState("preview", 0, 0, PREVIEW_URI)
    # The on-screen preview of any receipt, on demand (F10), without queueing a job.
    configure_printer(ctx, PrinterConfig(columns=32))
    again = preview_receipt(ctx, sale.receipt_no, reprint=True)
    assert again == ctx.db.path.parent / "receipts" / f"preview-{sale.receipt_no}-reprint.png"
    with Image.open(again) as image:
        assert image.width == 384
    assert printer_state(ctx).text() == "未连接打印机：小票显示在屏幕上"


def test_a_job_that_cannot_be_rendered_fails_and_the_queue_moves_on(
    ctx: TillContext, cashier: UserInfo, workers: Callable[..., PrintWorker]
) -> None:
    with ctx.db.write() as session:
        bad = enqueue(session, "sale", "no-such-sale", at=ctx.now()).id
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri)
        workers()
        sale = sell(ctx, cashier.id, None, [item(1000)])
        (received,) = printer.wait_for_jobs(1)
        wait_until(lambda: done(ctx, sale.receipt_no))
    assert sale.receipt_no in text_of(parse(received))
    (failed,) = list_jobs(ctx, status="failed")
    assert (failed.id, failed.error_kind) == (bad, "render")
    assert "no-such-sale" in (failed.last_error or "")
    state = printer_state(ctx)
    assert (state.condition, state.failed) == ("ok", 1)
    assert state.text() == "打印机正常，1 张打印失败"
    assert retry_job(ctx, bad).status == "pending"
    with pytest.raises(InvalidInput):
        retry_job(ctx, 10_000)


def test_printer_settings(ctx: TillContext) -> None:
    config = configure_printer(
        ctx,
        PrinterConfig(
            uri=" tcp://192.168.1.50:9100 ",
            columns=32,
            encoding="gbk",
            chinese_mode=False,
            qr_mode="image",
            drawer_kick=True,
            language="en",
        ),
    )
    assert config.uri == "tcp://192.168.1.50:9100"
    assert printer_config(ctx) == config
    profile = config.profile(drawer_kick=True)
    assert (profile.columns, profile.encoding, profile.qr, profile.drawer_kick) == (
        32,
        "gbk",
        "image",
        True,
    )
    assert not profile.uses_chinese_mode
    assert not config.profile().drawer_kick  # only for cash
    assert configure_printer(ctx, PrinterConfig(uri="")).preview
    for bad in (
        PrinterConfig(uri="lpt://1"),
        PrinterConfig(uri="tcp://host?baud=9"),
        PrinterConfig(encoding="latin-1"),  # type: ignore[arg-type]
        PrinterConfig(columns=40),  # type: ignore[arg-type]
        PrinterConfig(language="fr"),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput):
            configure_printer(ctx, bad)


def test_new_printer_settings_apply_at_once(
    ctx: TillContext, cashier: UserInfo, workers: Callable[..., PrintWorker]
) -> None:
    use_printer(ctx, f"tcp://127.0.0.1:{free_port()}")  # a wrong address
    workers(backoff_base=60, backoff_cap=60)
    sale = sell(ctx, cashier.id, None, [item(1000)])
    wait_until(lambda: jobs_of(ctx, sale.receipt_no)[0].attempts >= 1)
    with FakePrinter() as printer:
        use_printer(ctx, printer.uri)  # fixed: no waiting out the minute
        (received,) = printer.wait_for_jobs(1, timeout=5)
    assert sale.receipt_no in text_of(parse(received))


def test_worker_stops_promptly_while_backing_off(ctx: TillContext, cashier: UserInfo) -> None:
    use_printer(ctx, f"tcp://127.0.0.1:{free_port()}")
    sell(ctx, cashier.id, None, [item(1000)])
    worker = PrintWorker(ctx, backoff_base=30, backoff_cap=60, timeout=1)
    worker.start()
    try:
        wait_until(lambda: list_jobs(ctx)[0].attempts >= 1)
    finally:
        started = time.monotonic()
        worker.stop()
    assert not worker.is_alive()
    assert time.monotonic() - started < 2


def test_jobs_are_stored_with_their_times(ctx: TillContext, cashier: UserInfo) -> None:
    sale = sell(ctx, cashier.id, None, [item(1000)])
    (job,) = jobs_of(ctx, sale.receipt_no)
    assert job.created_at == sale.created_at
    raw = scalar(ctx, "SELECT created_at FROM print_jobs WHERE id = :i", i=job.id)
    assert raw == sale.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    with ctx.db.read() as session:
        plan = session.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT id FROM print_jobs WHERE status = 'pending' "
                "ORDER BY id LIMIT 1"
            )
        ).all()
    assert any("ix_print_jobs_pending" in str(row) for row in plan)
