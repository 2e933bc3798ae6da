"""The till's persistent print queue: every sale and refund gets its receipt, exactly once.

A sale (or refund) calls :func:`enqueue` inside its own transaction, so the sale and its
print job commit together: a committed sale always has a receipt waiting, a failed one
never does. A :class:`PrintWorker` thread (started by the UI) takes the pending jobs in
order, renders each one *when it prints* from the stored sale
(:func:`pos_app.services.receipts.build_receipt` ->
:func:`pos_app.devices.escpos_render.render` with the configured profile), sends it with
:func:`pos_app.devices.printers.open_printer`, and marks it ``done`` only after the printer
took the whole job. While the printer is off, out of paper or drops the connection, the
job stays ``pending`` and is retried with exponential backoff (capped); later jobs wait
behind it, so receipts come out in order. Nothing about a sale depends on the printer.

"Took the whole job" is checked with one more status round trip (``DLE EOT``) on the same
connection after the bytes: a printer that dropped the connection mid-job fails that
round trip, so the job is sent again. A printer that never answers status queries cannot
be checked this way; a connection it drops after the bytes left the till goes unnoticed.
The other way round, a printer that printed everything and then lost the connection
before answering prints that receipt twice: a duplicate beats a lost receipt.

With no printer configured (URI ``preview://`` or empty), each job is drawn as a PNG
(:func:`pos_app.devices.preview.save_preview`) in ``receipts/`` next to the database and
marked done: the embedded demo shows those images on screen.

The printer's settings live in ``printer_settings`` (:func:`printer_config`,
:func:`configure_printer`); the UI's status line reads :func:`printer_state` or listens to
the worker's ``on_status`` callback.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, cast

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.devices.escpos_render import (
    Encoding,
    PrinterProfile,
    QrMode,
    render,
    render_ops,
)
from pos_app.devices.layout import (
    QR,
    Barcode,
    Cut,
    Feed,
    Op,
    ReceiptCode,
    Separator,
    TextLine,
    code128_encodable,
    code128_modules,
    paper_dots,
    wrap,
)
from pos_app.devices.preview import render_ops_preview, save_preview
from pos_app.devices.printers import PrinterError, PrinterErrorKind, open_printer, parse_printer_uri
from pos_app.devices.receipt import LANGUAGES, Language, Receipt
from pos_app.services import audit, receipts
from pos_app.services.auth import verify_manager
from pos_app.services.background import BackgroundWorker
from pos_app.services.context import TillContext
from pos_app.services.errors import UnknownSale
from pos_app.store import print_jobs as print_store
from pos_app.store.models import PrintJob
from pos_app.store.sales import last_sale_of_till
from pos_app.store.setting_keys import PRINTER_CONDITION
from pos_app.store.settings import get_setting, put_setting

log = logging.getLogger(__name__)

JobKind = Literal["sale", "refund", "test"]
JobStatus = Literal["pending", "done", "failed"]
Condition = Literal["ok", "preview", "paper_low", "offline", "paper_out", "cover_open", "error"]

JOB_KINDS: Final[tuple[JobKind, ...]] = ("sale", "refund", "test")
#: The one receipt printer of a till (``printer_settings.name``).
RECEIPT_PRINTER: Final = "receipt"
PREVIEW_URI: Final = "preview://"
#: Folder (next to the database file) of the PNG previews printed without a printer.
PREVIEW_FOLDER: Final = "receipts"
_LAST_CONDITION: Final = PRINTER_CONDITION.key

_CONDITION_OF_ERROR: Final[dict[str, Condition]] = {
    PrinterErrorKind.OFFLINE: "offline",
    PrinterErrorKind.TIMEOUT: "offline",
    PrinterErrorKind.PAPER_OUT: "paper_out",
    PrinterErrorKind.COVER_OPEN: "cover_open",
}

_STATE_TEXTS: Final[dict[str, dict[str, str]]] = {
    "zh_CN": {
        "ok": "打印机正常",
        "preview": "未连接打印机：小票显示在屏幕上",
        "paper_low": "打印纸将用完",
        "offline": "打印机离线",
        "paper_out": "打印机缺纸",
        "cover_open": "打印机盖未关",
        "error": "打印机故障",
        "waiting": "，{n} 张小票待打印",
        "failed": "，{n} 张打印失败",
    },
    "en": {
        "ok": "Printer ready",
        "preview": "No printer: receipts are shown on screen",
        "paper_low": "Paper running low",
        "offline": "Printer offline",
        "paper_out": "Printer out of paper",
        "cover_open": "Printer cover open",
        "error": "Printer error",
        "waiting": ", {n} receipt(s) waiting",
        "failed": ", {n} failed",
    },
}


# --- printer settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class PrinterConfig:
    """The receipt printer as configured on this till.

    Attributes:
        uri: Printer URI (``tcp://192.168.1.50:9100``, ``usb://0x0416:0x5011``,
            ``serial:///dev/ttyUSB0?baudrate=9600``, ``file:///dev/usb/lp0``), or
            ``preview://`` (or empty) for no printer: receipts become PNG previews.
        columns: 32 (58 mm paper) or 48 (80 mm).
        encoding: The printer's text encoding (``gb18030``, ``gbk``, ``big5``, ``utf-8``).
        chinese_mode: Send ``FS &`` before Chinese text (double-byte encodings only).
        qr_mode: ``native`` (``GS ( k``) or ``image`` (raster, for printers without QR).
        cut: The printer has a cutter.
        drawer_kick: Open the cash drawer on receipts of cash sales and cash refunds.
        receipt_code: The receipt number as ``code128``, ``qr`` or ``none``.
        language: Receipt language (``zh_CN`` or ``en``).
    """

    uri: str = PREVIEW_URI
    columns: Literal[32, 48] = 48
    encoding: Encoding = "gb18030"
    chinese_mode: bool = True
    qr_mode: QrMode = "native"
    cut: bool = True
    drawer_kick: bool = False
    receipt_code: ReceiptCode = "code128"
    language: Language = "zh_CN"

    @property
    def preview(self) -> bool:
        """No printer configured: jobs are drawn as PNG previews."""
        uri = self.uri.strip()
        return not uri or uri.lower().startswith("preview:")

    @property
    def paper_mm(self) -> int:
        """Paper width: 58 or 80 (mm)."""
        return 58 if self.columns == 32 else 80

    def profile(self, *, drawer_kick: bool = False) -> PrinterProfile:
        """The rendering profile; ``drawer_kick`` only where the configuration allows it."""
        return PrinterProfile(
            columns=self.columns,
            encoding=self.encoding,
            chinese_mode=self.chinese_mode,
            qr=self.qr_mode,
            cut=self.cut,
            drawer_kick=self.drawer_kick and drawer_kick,
            receipt_code=self.receipt_code,
        )


def printer_config(ctx: TillContext) -> PrinterConfig:
    """The configured receipt printer (defaults: preview mode, 80 mm, GB18030)."""
    with ctx.db.read() as session:
        return _config(session)


def _config(session: Session) -> PrinterConfig:
    row = print_store.printer_setting(session, RECEIPT_PRINTER)
    if row is None:
        return PrinterConfig()
    return PrinterConfig(
        uri=row.uri,
        columns=32 if row.columns == 32 else 48,
        encoding=cast(Encoding, row.encoding),
        chinese_mode=row.chinese_mode,
        qr_mode=cast(QrMode, row.qr_mode),
        cut=row.cut,
        drawer_kick=row.drawer_kick,
        receipt_code=cast(ReceiptCode, row.receipt_code),
        language=cast(Language, row.language),
    )


def check_printer_config(config: PrinterConfig) -> PrinterConfig:
    """``config`` with its URI trimmed, if it is usable.

    Raises:
        InvalidInput: an unknown URI scheme or option, an unknown encoding, a paper width
            other than 32/48 columns, an unknown QR mode, receipt code or language.
    """
    uri = config.uri.strip() or PREVIEW_URI
    try:
        parse_printer_uri(uri)
    except PrinterError as exc:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "The printer address is not valid: {problem}"),
            problem=str(exc),
        ) from None
    if config.language not in LANGUAGES:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "Unknown receipt language {language}."),
            language=config.language,
        )
    checked = replace(config, uri=uri)
    try:
        checked.profile()
    except ValueError as exc:
        raise InvalidInput(
            QT_TRANSLATE_NOOP("Errors", "The printer settings are not valid: {problem}"),
            problem=str(exc),
        ) from None
    return checked


def configure_printer(ctx: TillContext, config: PrinterConfig) -> PrinterConfig:
    """Store the receipt printer's settings (the worker uses them from its next job).

    Raises:
        InvalidInput: see :func:`check_printer_config`.
    """
    config = check_printer_config(config)
    with ctx.db.write() as session:
        row = print_store.printer_setting_for_update(session, RECEIPT_PRINTER)
        row.uri = config.uri
        row.columns = config.columns
        row.encoding = config.encoding
        row.chinese_mode = config.chinese_mode
        row.qr_mode = config.qr_mode
        row.cut = config.cut
        row.drawer_kick = config.drawer_kick
        row.receipt_code = config.receipt_code
        row.language = config.language
        row.updated_at = ctx.now()
        put_setting(session, _LAST_CONDITION, "ok")
    _notify_workers(retry=True)
    return config


def preview_dir(ctx: TillContext) -> Path:
    """Where jobs printed without a printer go: ``receipts/`` next to the database."""
    return ctx.db.path.parent / PREVIEW_FOLDER


# --- jobs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintJobInfo:
    """One print job as the UI lists it.

    Attributes:
        id: Queue position (ascending).
        kind: ``sale``, ``refund`` or ``test``.
        ref_id: The sale's or refund's id (None for a test page).
        created_at: When it was queued.
        status: ``pending``, ``done`` or ``failed``.
        attempts: Tries so far.
        last_error: The last failure's message.
        error_kind: The last failure's kind (a :class:`PrinterErrorKind` value, or
            ``render``/``preview`` for failures of our own).
        printed_at: When it printed.
        reprint: A copy (printed 重印, no drawer kick).
        output: The PNG of a job printed in preview mode.
        receipt_no: The receipt number it prints (None for a test page, or when the
            job was listed without it).
    """

    id: int
    kind: str
    ref_id: str | None
    created_at: dt.datetime
    status: str
    attempts: int
    last_error: str | None
    error_kind: str | None
    printed_at: dt.datetime | None
    reprint: bool
    output: Path | None
    receipt_no: str | None = None


def _info(job: PrintJob, session: Session | None = None) -> PrintJobInfo:
    return PrintJobInfo(
        id=job.id,
        kind=job.kind,
        ref_id=job.ref_id,
        created_at=job.created_at,
        status=job.status,
        attempts=job.attempts,
        last_error=job.last_error,
        error_kind=job.error_kind,
        printed_at=job.printed_at,
        reprint=job.reprint,
        output=Path(job.output) if job.output else None,
        receipt_no=_receipt_no(session, job) if session is not None else None,
    )


def _receipt_no(session: Session, job: PrintJob) -> str | None:
    if job.ref_id is None:
        return None
    ref = receipts.lookup(session, job.ref_id)
    return ref.receipt_no if ref is not None else None


def enqueue(
    session: Session,
    kind: JobKind,
    ref_id: str | None,
    *,
    at: dt.datetime,
    reprint: bool = False,
    requested_by: str | None = None,
) -> PrintJob:
    """Queue a receipt in the caller's transaction (it commits or rolls back with it).

    Args:
        session: The open write session of the sale, refund or reprint.
        kind: ``sale``, ``refund`` or ``test``.
        ref_id: The sale's or refund's id; None for a test page.
        at: When it was queued (the sale's time).
        reprint: Print a copy marked 重印.
        requested_by: Who asked for a reprint or test page.

    Returns:
        The new job (its id is set).
    """
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown print job kind {kind!r}")
    if (ref_id is None) != (kind == "test"):
        raise ValueError("sale and refund jobs name their sale or refund; test pages do not")
    values: dict[str, Any] = {
        "kind": kind,
        "ref_id": ref_id,
        "created_at": at,
        "status": "pending",
        "attempts": 0,
        "reprint": reprint,
        "requested_by": requested_by,
    }
    job_id = print_store.insert_job(session, values)
    if not session.info.get(_NOTIFY_KEY):
        session.info[_NOTIFY_KEY] = True
        event.listen(session, "after_commit", _after_commit, once=True)
    return PrintJob(
        id=job_id, last_error=None, error_kind=None, printed_at=None, output=None, **values
    )


_NOTIFY_KEY = "print_queue.notify"


def _after_commit(session: Session) -> None:
    session.info.pop(_NOTIFY_KEY, None)
    _notify_workers()


def reprint(
    ctx: TillContext, receipt_no: str, *, manager_id: str, manager_pin: str
) -> PrintJobInfo:
    """Queue a copy of any sale or refund receipt, marked 重印 (a manager's approval).

    Raises:
        AuthError: the approval is not a manager's.
        UnknownSale: no sale or refund has this number.
    """
    manager = verify_manager(ctx, manager_id, manager_pin)
    now = ctx.now()
    with ctx.db.write() as session:
        ref = receipts.lookup(session, receipt_no.strip())
        if ref is None:
            raise receipts.unknown_receipt(receipt_no)
        job = enqueue(
            session,
            "sale" if ref.kind == "sale" else "refund",
            ref.id,
            at=now,
            reprint=True,
            requested_by=manager.id,
        )
        audit.record(
            session,
            at=now,
            actor_id=manager.id,
            action="reprint",
            subject=ref.receipt_no,
            detail=f"print job {job.id}",
        )
        return _info(job, session)


def reprint_last(ctx: TillContext, *, cashier_id: str) -> PrintJobInfo:
    """F10: a copy of this till's most recent sale receipt, marked 重印 (audited).

    A cashier may reprint the receipt just handed over; any older receipt needs a
    manager (:func:`reprint`).

    Raises:
        UnknownSale: this till has no sale yet.
    """
    now = ctx.now()
    with ctx.db.write() as session:
        sale = last_sale_of_till(session, ctx.till_id)
        if sale is None:
            raise UnknownSale(QT_TRANSLATE_NOOP("Errors", "No sale to reprint yet."))
        job = enqueue(session, "sale", sale.id, at=now, reprint=True, requested_by=cashier_id)
        audit.record(
            session,
            at=now,
            actor_id=cashier_id,
            action="reprint",
            subject=sale.receipt_no,
            detail=f"print job {job.id} (last receipt)",
        )
        session.flush()
        return _info(job, session)


def enqueue_test_print(ctx: TillContext, *, actor_id: str | None = None) -> PrintJobInfo:
    """Queue a printer test page (settings, Chinese text, widths, a QR code, a barcode)."""
    with ctx.db.write() as session:
        return _info(enqueue(session, "test", None, at=ctx.now(), requested_by=actor_id))


def retry_job(ctx: TillContext, job_id: int) -> PrintJobInfo:
    """Put a failed job back in the queue (at its old place).

    Raises:
        InvalidInput: no such job.
    """
    with ctx.db.write() as session:
        job = print_store.get_job(session, job_id)
        if job is None:
            raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "No print job {job}."), job=job_id)
        if job.status == "failed":
            job.status = "pending"
        info = _info(job)
    _notify_workers(retry=True)
    return info


def list_jobs(
    ctx: TillContext, *, status: JobStatus | None = None, limit: int = 50
) -> list[PrintJobInfo]:
    """The newest jobs first (optionally only those with ``status``)."""
    with ctx.db.read() as session:
        return [_info(job, session) for job in print_store.recent_jobs(session, status, limit)]


def jobs_for(ctx: TillContext, receipt_no: str) -> list[PrintJobInfo]:
    """Every job of one sale or refund, oldest first.

    Raises:
        UnknownSale: no sale or refund has this number.
    """
    ref = receipts.find_receipt(ctx, receipt_no)
    with ctx.db.read() as session:
        rows = print_store.jobs_of(session, ref.id)
        return [_info(job, session) for job in rows]


# --- the status line ---------------------------------------------------------------------


@dataclass(frozen=True)
class PrinterState:
    """What the status line says about the receipt printer.

    Attributes:
        condition: ``ok``, ``preview`` (no printer, receipts on screen), ``paper_low``,
            ``offline``, ``paper_out``, ``cover_open`` or ``error``.
        waiting: Jobs not printed yet.
        failed: Jobs given up on (a receipt that cannot be rendered).
        uri: The configured printer.
        message: The last failure's message (empty when fine).
    """

    condition: Condition
    waiting: int = 0
    failed: int = 0
    uri: str = PREVIEW_URI
    message: str = ""

    @property
    def ok(self) -> bool:
        """Nothing stops printing."""
        return self.condition in ("ok", "preview", "paper_low")

    def text(self, language: str = "zh_CN") -> str:
        """The status line: "打印机离线，3 张小票待打印"."""
        words = _STATE_TEXTS.get(language, _STATE_TEXTS["en"])
        out = words[self.condition]
        if self.waiting:
            out += words["waiting"].format(n=self.waiting)
        if self.failed:
            out += words["failed"].format(n=self.failed)
        return out


def printer_state(ctx: TillContext) -> PrinterState:
    """The printer's state from the queue: the head job's last failure, or the last known
    paper state, and how many receipts wait (works without a handle on the worker)."""
    with ctx.db.read() as session:
        return _state(session)


def _state(session: Session) -> PrinterState:
    config = _config(session)
    counts = print_store.unfinished_counts(session)
    head = print_store.head_job(session)
    condition: Condition = "preview" if config.preview else "ok"
    message = ""
    if head is not None and head.attempts and head.error_kind:
        condition = _CONDITION_OF_ERROR.get(head.error_kind, "error")
        message = head.last_error or ""
    elif not config.preview:
        last = get_setting(session, _LAST_CONDITION)
        if last in ("paper_low", "paper_out"):
            condition = cast(Condition, last)
    return PrinterState(
        condition=condition,
        waiting=int(counts.get("pending", 0)),
        failed=int(counts.get("failed", 0)),
        uri=config.uri,
        message=message,
    )


# --- rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A job ready to go out: the receipt (None for a test page), its ops and its bytes."""

    receipt: Receipt | None
    ops: Sequence[Op]
    profile: PrinterProfile
    data: bytes
    name: str


def _prepare(ctx: TillContext, job: PrintJobInfo, config: PrinterConfig) -> _Prepared:
    """Render a job with the configured profile (raises when it cannot be rendered)."""
    if job.kind == "test":
        profile = config.profile()
        ops = self_test_page(ctx, config)
        return _Prepared(None, ops, profile, render_ops(ops, profile), f"{job.id:06d}-test")
    assert job.ref_id is not None
    ref = receipts.find_receipt(ctx, job.ref_id)
    receipt = receipts.build_receipt(ctx, ref.id, reprint=job.reprint, language=config.language)
    profile = config.profile(drawer_kick=ref.cash)
    name = f"{job.id:06d}-{ref.receipt_no}{'-reprint' if job.reprint else ''}"
    return _Prepared(receipt, (), profile, render(receipt, profile), name)


def self_test_page(ctx: TillContext, config: PrinterConfig) -> list[Op]:
    """The printer test page: what the till thinks the printer is, and samples of what it
    must print right (Chinese, full-width symbols, the column width, a QR code, a barcode)."""
    profile = config.profile()
    charset = profile.charset()
    columns = config.columns
    ops: list[Op] = []

    def say(
        text: str,
        *,
        align: Literal["left", "center"] = "left",
        bold: bool = False,
        double: bool = False,
    ) -> None:
        for line in wrap(charset.clean(text), columns, metrics=charset):
            ops.append(TextLine(line, align, bold, double))

    now = ctx.now().astimezone(ctx.rules.zone)
    say(ctx.store_name, align="center", bold=True, double=True)
    say("打印机测试页 PRINTER TEST", align="center", bold=True)
    ops.append(Separator("-" * columns))
    say(f"收银台 Till：{ctx.till_id}")
    say(f"时间 Time：{now:%Y-%m-%d %H:%M:%S}")
    say(f"打印机 Printer：{config.uri}")
    say(f"纸宽 Paper：{config.paper_mm} mm / {columns} 列")
    on_off = {True: "开 on", False: "关 off"}
    say(f"编码 Encoding：{config.encoding}，FS & {on_off[profile.uses_chinese_mode]}")
    say(f"二维码 QR：{'原生 native' if config.qr_mode == 'native' else '图像 image'}")
    say(f"钱箱 Drawer：{on_off[config.drawer_kick]}")
    say(f"切刀 Cutter：{on_off[config.cut]}")
    ops.append(Separator("-" * columns))
    say("中文：会员积分收银台 本单获得积分 重印")
    say("全角：￥１２３．４５，。（）")
    say("ASCII 0123456789 ABCxyz !@#%&")
    ops.append(TextLine(("1234567890" * 5)[:columns]))
    ops.append(Separator("=" * columns))
    base = receipts.receipt_settings(ctx).mall_base_url
    ops.append(Feed(1))
    ops.append(QR(base, module_dots=6 if columns < 40 else 7))
    say("扫码测试 Scan me", align="center")
    code = f"T{ctx.till_id}{now:%y%m%d%H%M%S}"
    if code128_encodable(code):
        module = min(3, paper_dots(columns) // code128_modules(code))
        if module >= 2:
            ops.append(Feed(1))
            ops.append(Barcode(code, module_dots=module))
            say(code, align="center")
    ops.append(Cut())
    return ops


# --- the worker -------------------------------------------------------------------------

_WORKERS: weakref.WeakSet[PrintWorker] = weakref.WeakSet()
_WORKERS_LOCK = threading.Lock()


def _notify_workers(*, retry: bool = False) -> None:
    """Wake every running worker: a job was committed, or (``retry``) the settings
    changed or a job was put back, so a job waiting out its backoff goes now."""
    with _WORKERS_LOCK:
        workers = list(_WORKERS)
    for worker in workers:
        if retry:
            worker.retry_now()
        else:
            worker.wake()


class PrintWorker(BackgroundWorker[PrinterState]):
    """Prints the queue in the background (one per till; the UI starts and stops it).

    Jobs print in queue order. A job that fails with a :class:`PrinterError` (offline,
    paper out, cover open, connection dropped, timeout) stays pending and is tried again
    after ``backoff_base * 2**(n-1)`` seconds, at most ``backoff_cap``; :meth:`retry_now`
    skips the wait (the cashier fixed the printer). A job that cannot be rendered at all
    is marked ``failed`` and the queue moves on. A job is ``done`` only after the printer
    took it (or, without a printer, after its PNG preview was written).

    The thread, its wake-up, stop and backoff are :class:`BackgroundWorker`'s. Callbacks
    run on the worker thread (a Qt UI forwards them with a queued signal):
    ``on_status(PrinterState)`` whenever the state changes, ``on_printed(PrintJobInfo)``
    after each job printed.

    Args:
        ctx: The till.
        on_status: Called with the new state when it changes.
        on_printed: Called with each job once it is done.
        poll_interval: Seconds between looks at an idle queue (committed jobs wake the
            worker at once anyway).
        backoff_base: First retry delay in seconds.
        backoff_cap: Longest retry delay in seconds.
        timeout: Printer connect/write timeout in seconds.
        status_timeout: How long to wait for a status answer, in seconds.
    """

    def __init__(
        self,
        ctx: TillContext,
        *,
        on_status: Callable[[PrinterState], None] | None = None,
        on_printed: Callable[[PrintJobInfo], None] | None = None,
        poll_interval: float = 2.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        timeout: float = 5.0,
        status_timeout: float = 0.5,
    ) -> None:
        super().__init__(
            "print-worker", on_status=on_status, backoff_base=backoff_base, backoff_cap=backoff_cap
        )
        self.ctx = ctx
        self.on_printed = on_printed
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.status_timeout = status_timeout
        self._failing_job: int | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._state: PrinterState | None = None

    # --- control (any thread)

    def on_start(self) -> None:
        """Join the workers a committed job wakes."""
        with _WORKERS_LOCK:
            _WORKERS.add(self)

    def on_stop(self) -> None:
        """Leave the workers a committed job wakes."""
        with _WORKERS_LOCK:
            _WORKERS.discard(self)

    def retry_now(self) -> None:
        """Retry the failing job now instead of after the backoff."""
        self._retry_at = 0.0
        self._wake.set()

    @property
    def state(self) -> PrinterState | None:
        """The last state reported."""
        return self._state

    # --- the loop

    def step(self) -> float:
        """One round of the loop: :meth:`process_next`."""
        return self.process_next()

    def process_next(self) -> float:
        """Print the head job if it is due (also usable without starting the thread).

        Returns:
            Seconds until there may be something to do (0: go on at once).
        """
        with self.ctx.db.read() as session:
            head = print_store.head_job(session)
            job = _info(head) if head is not None else None
            config = _config(session)
        self._report()
        if job is None:
            return self.poll_interval
        if job.id == self._failing_job:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                return min(wait, self.poll_interval)
        try:
            prepared = _prepare(self.ctx, job, config)
        except OperationalError as exc:  # the database was busy: not the receipt's fault
            self._failed_attempt(job, str(exc), "database")
            return 0.0
        except Exception as exc:  # a receipt that cannot be built never will be: give up
            log.exception("print job %s cannot be rendered", job.id)
            self._finish(job, "failed", error=str(exc) or type(exc).__name__, error_kind="render")
            self._report()
            return 0.0
        try:
            if config.preview:
                output: Path | None = self._save_preview(prepared)
                condition = "ok"
            else:
                output = None
                condition = self._send(config.uri, prepared.data)
        except PrinterError as exc:
            self._failed_attempt(job, str(exc), str(exc.kind))
            return 0.0
        except OSError as exc:  # the preview folder is not writable
            self._failed_attempt(job, str(exc), "preview")
            return 0.0
        done = self._finish(job, "done", output=output, condition=condition)
        self._failing_job, self._failures = None, 0
        self._report()
        if self.on_printed is not None:
            self.on_printed(done)
        return 0.0

    # --- internals

    def _send(self, uri: str, data: bytes) -> str:
        """Send one job; returns the paper condition the printer reported after it."""
        with open_printer(uri, timeout=self.timeout, status_timeout=self.status_timeout) as printer:
            printer.send(data)
            # One more round trip on the same connection: a printer that dropped the
            # connection mid-job fails it, so the job is not marked done.
            status = printer.status()
        if status.paper == "out":
            return "paper_out"
        return "paper_low" if status.paper == "near_end" else "ok"

    def _save_preview(self, prepared: _Prepared) -> Path:
        path = preview_dir(self.ctx) / f"{prepared.name}.png"
        if prepared.receipt is not None:
            return save_preview(prepared.receipt, path, prepared.profile)
        path.parent.mkdir(parents=True, exist_ok=True)
        render_ops_preview(prepared.ops, prepared.profile).save(path, format="PNG", optimize=True)
        return path

    def _failed_attempt(self, job: PrintJobInfo, message: str, kind: str) -> None:
        if self._failing_job != job.id:
            self._failing_job, self._failures = job.id, 0
        self._failures += 1
        delay = self.backoff(self._failures)
        self._retry_at = time.monotonic() + delay
        log.warning("print job %s failed (%s), retry in %.1f s: %s", job.id, kind, delay, message)
        with self.ctx.db.write() as session:
            row = print_store.get_job(session, job.id)
            if row is not None:
                row.attempts += 1
                row.last_error = message[:500]
                row.error_kind = kind
        self._report()

    def _finish(
        self,
        job: PrintJobInfo,
        status: JobStatus,
        *,
        output: Path | None = None,
        condition: str | None = None,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> PrintJobInfo:
        with self.ctx.db.write() as session:
            row = print_store.get_job(session, job.id)
            assert row is not None  # jobs are never deleted while pending
            row.status = status
            row.attempts += 1
            if status == "done":
                row.printed_at = self.ctx.now()
                row.output = str(output) if output is not None else None
                row.error_kind = None
            else:
                row.last_error = (error or "")[:500]
                row.error_kind = error_kind
            if condition is not None:
                put_setting(session, _LAST_CONDITION, condition)
            return _info(row, session)

    def _report(self) -> None:
        with self.ctx.db.read() as session:
            state = _state(session)
        if state != self._state:
            self._state = state
            self.emit_status(state)


def preview_receipt(
    ctx: TillContext, receipt_no: str, *, reprint: bool = False, path: Path | None = None
) -> Path:
    """Draw a receipt as the configured printer would print it (the on-screen preview).

    Args:
        ctx: The till.
        receipt_no: A sale's or refund's number (or id).
        reprint: Draw it marked 重印.
        path: Where to write the PNG; default ``receipts/preview-<no>.png`` next to the
            database.

    Returns:
        The PNG written (the configured paper width, 384 or 576 pixels wide).

    Raises:
        UnknownSale: no sale or refund has this number.
    """
    config = printer_config(ctx)
    receipt = receipts.build_receipt(ctx, receipt_no, reprint=reprint, language=config.language)
    suffix = "-reprint" if reprint else ""
    target = path or preview_dir(ctx) / f"preview-{receipt.receipt_no}{suffix}.png"
    return save_preview(receipt, target, config.profile())


def job_bytes(ctx: TillContext, job_id: int) -> bytes:
    """The ESC/POS bytes a job would send with the configured printer (support tooling).

    Raises:
        InvalidInput: no such job.
    """
    with ctx.db.read() as session:
        row = print_store.get_job(session, job_id)
        if row is None:
            raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "No print job {job}."), job=job_id)
        job = _info(row)
        config = _config(session)
    return _prepare(ctx, job, config).data
