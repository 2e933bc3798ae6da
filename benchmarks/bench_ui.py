"""The till's window: cold start, GUI-thread responsiveness during checkouts, keystrokes.

Usage::

    .venv/bin/python benchmarks/bench_ui.py [--members 1000000] [--sales 30] [--starts 5]

Everything runs on the offscreen Qt platform, on a COPY of the cached demo database
(``benchmarks/out/demo-N.sqlite``, built by ``common.py`` when missing; the cached file
itself is never opened), in a temporary folder that is deleted at the end (``--keep``
keeps it). Three parts, each printing figures (no asserts):

1. **Cold start**: a fresh interpreter per run runs the real ``pos-app --db COPY --smoke``
   path (``pos_app.cli.main.main``) with timing hooks, and reports the time from the
   parent's ``Popen`` to the main window's first paint and to the login screen's user list
   being filled (the first run on the copy, which creates the demo users and the member
   code key, is shown separately). The same with the copy's pages dropped from the OS
   page cache first (``posix_fadvise(DONTNEED)``), and the wall time of the plain
   ``pos-app --smoke`` command (which waits 300 ms on purpose before it quits).
2. **GUI-thread responsiveness**: a 5 ms ``QTimer`` heartbeat on the GUI thread records
   every gap between ticks while the script drives ``--sales`` member sales through the
   real widgets, sending every key to the FOCUSED widget with ``QTest`` (digits a human
   types ``--key-ms`` apart, scanner codes as a fast burst): log in with the PIN, identify
   the member (full phone, member-card scan or last 4 digits + pick, in turn), scan 2-3
   barcodes, F3 + Enter (the pre-filled largest allowed points), F4, the cash received
   (Enter for exact change, or the amount typed) + Enter, wait for the sale banner. Each
   tick also reads the GUI thread's CPU time and its run-queue wait
   (``/proc/self/task/TID/schedstat``), so a long gap is split into "the GUI thread was
   running" (CPU), "waiting for a CPU" (machine load) and "waiting for something else"
   (the GIL held by a worker thread, a lock). A watchdog thread samples the GUI thread's
   Python stack whenever a tick is 30 ms late, and every worker result delivered to the
   GUI thread (``TaskRunner._deliver``), every key press and the status/print slots are
   timed, and each tick also reads the other threads' CPU time and every garbage
   collection is timed (a collection holds the GIL), so a gap over 50 ms is reported with
   what ran (file:function) and what the other threads were doing.
   ``--profile`` adds a cProfile of the GUI thread over the drive (inflates the timings).
3. **Keystrokes**: the keys the script pressed per step, counted as a cashier would:
   "keys typed" by the cashier and "scans" (a scanner read, its Enter included).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

from common import (
    OUT,
    add_members_arg,
    demo_db_path,
    ensure_demo_db,
    machine_note,
    print_table,
)

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT_MS = 5
BLOCK_MS = 50
LATE_MS = 30  # the watchdog samples the GUI thread's stack when a tick is this late
CASHIER = "小王"
CASHIER_PIN = "1111"
CHILD_FLAG = "--child-start"


def ms(seconds: float) -> float:
    return seconds * 1000.0


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values``, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# -- the database copy ---------------------------------------------------------------------
def copy_demo_db(members: int, folder: Path) -> Path:
    """Copy the cached demo database into ``folder`` (built first when missing)."""
    source = demo_db_path(members)
    if not source.exists():
        source = ensure_demo_db(members)  # builds it (the cache is only ever read here)
    target = folder / "till.sqlite"
    started = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, "rb+") as handle:  # written out now, not while measuring
        os.fsync(handle.fileno())
    size = target.stat().st_size / 1e6
    print(
        f"copied {source.name} ({size:,.0f} MB) to {target} in {time.perf_counter() - started:.1f} s"
    )
    return target


def drop_from_page_cache(path: Path) -> None:
    """Ask the kernel to drop this file's (clean) pages from the page cache."""
    for suffix in ("", "-wal", "-shm"):
        name = Path(f"{path}{suffix}")
        if not name.exists():
            continue
        fd = os.open(name, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


# == 1. cold start ========================================================================
def child_start(db: str, t0: float, lang: str) -> None:
    """A fresh interpreter: the real ``pos-app --db DB --smoke`` path with timing hooks.

    Prints one JSON line: milestone -> ms since the parent's ``Popen`` (``t0``, wall clock).
    The child quits once the login screen is painted with its users AND the worker has
    opened the till behind it (that last part is reported, not counted as "ready").
    """
    marks: dict[str, float] = {"python_up": time.time()}

    import pos_app.ui.app as ui_app
    from pos_app.cli.main import main as cli_main
    from pos_app.services import startup
    from pos_app.ui.main_window import MainWindow
    from pos_app.ui.qt import QApplication, QEvent, QObject, QTimer

    marks["imports"] = time.time()

    def hook(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            marks.setdefault(f"{name}_start", time.time())
            try:
                return fn(*args, **kwargs)
            finally:
                marks.setdefault(f"{name}_end", time.time())
                QTimer.singleShot(0, maybe_quit)

        return wrapper

    ui_app.setup_application = hook("qapp_setup", ui_app.setup_application)
    ui_app.login_glance = hook("glance", ui_app.login_glance)
    # The full opening: on the worker behind a glanced login screen, else before it.
    startup.open_for_login = hook("open_till", startup.open_for_login)
    ui_app.open_for_login = startup.open_for_login
    ui_app.SMOKE_MS = 60_000  # this child quits as soon as the login screen is ready

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and "first_paint" not in marks:
                marks["first_paint"] = time.time()
                QTimer.singleShot(0, maybe_quit)
            return False

    painter = FirstPaint()
    window_ref: list[MainWindow] = []

    def users_listed(win: MainWindow) -> None:
        if win.login.users.count() > 0 and "users_listed" not in marks:
            marks["users_listed"] = time.time()

    def maybe_quit() -> None:
        if not window_ref:
            return
        win = window_ref[0]
        if "first_paint" in marks and "pin_focused" not in marks:
            marks["pin_focused"] = float(QApplication.focusWidget() is win.login.pin)
        if "first_paint" in marks and "users_listed" in marks and "open_till_end" in marks:
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(painter)
                app.quit()

    class TimedWindow(MainWindow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            marks["window_init"] = time.time()
            app = QApplication.instance()
            assert app is not None
            app.installEventFilter(painter)
            super().__init__(*args, **kwargs)
            marks["window_built"] = time.time()
            window_ref.append(self)
            users_listed(self)  # from the glance, before any event
            self.runner.task_finished.connect(lambda: (users_listed(self), maybe_quit()))

        def show(self) -> None:
            super().show()
            marks["show_returned"] = time.time()

    ui_app.MainWindow = TimedWindow  # type: ignore[misc]
    code = cli_main(["--db", db, "--smoke", "--lang", lang])
    marks["run_till_returned"] = time.time()
    out = {k: (v if k == "pin_focused" else (v - t0) * 1000.0) for k, v in marks.items()}
    out["exit_code"] = code
    print("CHILD " + json.dumps(out), flush=True)


BARE_FLAG = "--child-bare"


def child_bare(t0: float) -> None:
    """The baseline: a bare PySide6 window (a label in a QMainWindow) to its first paint."""
    marks: dict[str, float] = {"python_up": time.time()}
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    marks["imports"] = time.time()
    app = QApplication(sys.argv[:1])

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and "first_paint" not in marks:
                marks["first_paint"] = time.time()
                QTimer.singleShot(0, app.quit)
            return False

    painter = FirstPaint()
    app.installEventFilter(painter)
    window = QMainWindow()
    window.setCentralWidget(QLabel("会员积分收银台"))
    window.resize(1280, 800)
    window.show()
    app.exec()
    app.removeEventFilter(painter)
    print("CHILD " + json.dumps({k: (v - t0) * 1000.0 for k, v in marks.items()}), flush=True)


def run_child(db: Path | None, lang: str) -> dict[str, float]:
    """One cold start of the till on ``db`` (or of the bare PySide6 window: None)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    t0 = time.time()
    flags = [BARE_FLAG, repr(t0)] if db is None else [CHILD_FLAG, str(db), repr(t0), lang]
    proc = subprocess.run(
        [sys.executable, __file__, *flags],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wall = (time.time() - t0) * 1000.0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"cold-start child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    marks = json.loads(line[len("CHILD ") :])
    marks["process_exit"] = wall
    return marks


def run_smoke(db: Path, lang: str) -> float:
    """Wall ms of the plain ``pos-app --db DB --smoke`` (it waits 300 ms before quitting)."""
    exe = ROOT / ".venv" / "bin" / "pos-app"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pos_app"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    subprocess.run(
        [*cmd, "--db", str(db), "--smoke", "--lang", lang],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=True,
    )
    return (time.perf_counter() - t0) * 1000.0


def import_breakdown(top: int = 12) -> None:
    """Where the import time goes: ``-X importtime`` of what ``pos-app`` imports to start.

    Self time summed per top-level package, with the first repository module that pulls
    the package in (``-X importtime`` itself adds some overhead).
    """
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pos_app.cli.main, pos_app.ui.app"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    entries: list[tuple[int, str, int, int]] = []  # indent, module, self us, cumulative us
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        indent = len(name) - len(name.lstrip(" "))
        entries.append((indent, name.strip(), int(self_us), int(cum_us)))
    per_package: dict[str, int] = {}
    first_by: dict[str, str] = {}
    for i, (indent, name, self_us, _cum) in enumerate(entries):
        package = name.split(".")[0]
        if package == "PySide6" and "." in name:
            package = ".".join(name.split(".")[:2])
        per_package[package] = per_package.get(package, 0) + self_us
        if package in first_by or package == "pos_app":
            continue
        chain = [name]
        level = indent
        for j in range(i + 1, len(entries)):  # importtime lists a module after its imports
            if entries[j][0] < level:
                level = entries[j][0]
                chain.append(entries[j][1])
                if entries[j][1].startswith("pos_app"):
                    break
        path = [chain[-1]]
        for module in reversed(chain[:-1]):  # from the repository module down
            path.append(module)
            if module.split(".")[0] == package:
                break
        if len(path) > 4:
            path = [path[0], path[1], "...", path[-1]]
        first_by[package] = " > ".join(path) if len(chain) > 1 else ""
    total = sum(per_package.values())
    rows = [
        (package, f"{us / 1000:.0f}", f"{100 * us / total:.0f}%", first_by.get(package, ""))
        for package, us in sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    ]
    slowest = sorted(entries, key=lambda e: e[2], reverse=True)[:6]
    print(
        "\nslowest single modules (self ms): "
        + ", ".join(f"{name} {self_us / 1000:.0f}" for _i, name, self_us, _c in slowest)
    )
    print(
        f"import time by top-level package (self time summed; total {total / 1000:.0f} ms "
        f"under -X importtime, load {os.getloadavg()[0]:.2f})"
    )
    print_table(["package", "ms", "share", "first imported by"], rows)


PHASES = (
    ("interpreter up", None, "python_up"),
    ("imports (PySide6, pos_app.ui, the raw reader)", "python_up", "imports"),
    ("QApplication + font + translator", "imports", "qapp_setup_end"),
    ("login glance (one raw SQLCipher read)", "glance_start", "glance_end"),
    ("full opening BEFORE the window (no glance)", "open_till_start", "window_init"),
    ("MainWindow() built (users listed from the glance)", "window_init", "window_built"),
    ("show() -> first paint", "window_built", "first_paint"),
)
BEHIND = (
    "behind the login screen: the worker opens the till (SQLAlchemy, migrations check)",
    "open_till_start",
    "open_till_end",
)


def _phase(m: dict[str, float], start: str | None, end: str) -> float:
    """A phase's ms, NaN when the run had no such phase."""
    if end not in m or (start is not None and start not in m):
        return float("nan")
    if start == "open_till_start" and end == "window_init" and m[start] > m[end]:
        return float("nan")  # opened behind the window: not a phase before it
    return m[end] - (m[start] if start else 0.0)


def _median(values: list[float]) -> str:
    real = [v for v in values if not math.isnan(v)]
    return f"{statistics.median(real):.0f}" if real else "-"


def _max(values: list[float]) -> str:
    real = [v for v in values if not math.isnan(v)]
    return f"{max(real):.0f}" if real else "-"


def _ready(m: dict[str, float]) -> float:
    return max(m["users_listed"], m["first_paint"])


def cold_start(db: Path, runs: int, lang: str) -> dict[str, Any]:
    print(f"\n== 1. Cold start ({runs} runs + the first run on the copy; {machine_note()})")
    first = run_child(db, lang)
    warm, bare = [], []
    for _ in range(runs):  # the till and the bare window in turn
        warm.append(run_child(db, lang))
        bare.append(run_child(None, lang))
    cold = []
    for _ in range(runs):
        drop_from_page_cache(db)
        cold.append(run_child(db, lang))
    smoke = [run_smoke(db, lang) for _ in range(runs)]

    rows = []
    for label, start, end in (*PHASES, BEHIND):
        rows.append(
            (
                label,
                _median([_phase(m, start, end) for m in warm]),
                _max([_phase(m, start, end) for m in warm]),
                _median([_phase(m, start, end) for m in cold]),
                _median([_phase(first, start, end)]),
            )
        )
    totals = {
        "warm": [_ready(m) for m in warm],
        "cold": [_ready(m) for m in cold],
        "first": [_ready(first)],
        "bare": [m["first_paint"] for m in bare],
        "exit": [m["process_exit"] for m in warm],
        "smoke": smoke,
    }
    rows.insert(
        len(PHASES),
        (
            "READY: painted, users listed, PIN focused",
            _median(totals["warm"]),
            _max(totals["warm"]),
            _median(totals["cold"]),
            _median(totals["first"]),
        ),
    )
    rows.append(
        (
            "baseline: a bare PySide6 window, Popen -> first paint",
            _median(totals["bare"]),
            _max(totals["bare"]),
            "",
            "",
        )
    )
    print("ms from Popen (phases are their own durations)")
    print_table(
        ["phase", "warm median", "warm max", "DB evicted median", "first run on copy"], rows
    )
    print(
        f"ready, warm: median {_median(totals['warm'])} ms, max {_max(totals['warm'])} ms; "
        f"DB pages evicted: median {_median(totals['cold'])} ms, max {_max(totals['cold'])} ms; "
        f"first run on the copy {_median(totals['first'])} ms (target < 700 ms); a bare "
        f"PySide6 window: median {_median(totals['bare'])} ms"
    )
    print(
        f"pin field focused at the first paint: {all(m['pin_focused'] for m in warm)}; "
        f"process exit (after shutdown): median {_median(totals['exit'])} ms"
    )
    print(
        f"plain `pos-app --db COPY --smoke` wall (includes its 300 ms wait and shutdown): "
        f"median {_median(smoke)} ms, max {_max(smoke)} ms"
    )
    import_breakdown()
    return totals


# == 2. GUI-thread responsiveness =========================================================
@dataclass
class PlannedSale:
    member_id: str
    phone: str
    code: str
    balance: int
    how: str  # "phone" | "code" | "last4"
    barcodes: list[str]
    exact: bool


@dataclass
class Plan:
    sales: list[PlannedSale]
    last4_tried: int = 0
    last4_listed: int = 0
    low_balance_skipped: int = 0


def plan_sales(db: Path, members: int, count: int, seed: int) -> Plan:
    """Members (with at least 200 points), 2-3 products each, on a planning context."""
    import random

    from pos_app.core.codes import member_code
    from pos_app.services import members as member_service
    from pos_app.services.context import open_till
    from pos_app.services.demo import demo_phone

    rng = random.Random(seed)
    ctx = open_till(db)
    try:
        products = [
            row[0]
            for row in ctx.db.raw_reader().execute(
                "SELECT barcode FROM products WHERE active = 1 AND barcode IS NOT NULL ORDER BY sku"
            )
        ]
        plan = Plan([])
        ways = ("phone", "code", "last4")
        while len(plan.sales) < count:
            how = ways[len(plan.sales) % len(ways)]
            i = rng.randrange(members)
            phone = demo_phone(i)
            hit = member_service.find_by_phone(ctx, phone)
            if hit.balance < 200:
                plan.low_balance_skipped += 1
                continue
            if how == "last4":
                plan.last4_tried += 1
                shown = member_service.find_by_last4(ctx, phone[-4:])[:9]
                if hit.id not in [h.id for h in shown]:
                    continue  # a real cashier would type the full phone instead
                plan.last4_listed += 1
            plan.sales.append(
                PlannedSale(
                    member_id=hit.id,
                    phone=phone,
                    code=member_code(hit.member_no),
                    balance=hit.balance,
                    how=how,
                    barcodes=rng.sample(products, rng.choice((2, 3))),
                    exact=len(plan.sales) % 2 == 0,
                )
            )
        return plan
    finally:
        ctx.db.close()


@dataclass
class Recorder:
    """Timed GUI-thread activities, the heartbeat and the watchdog's stack samples."""

    activities: list[tuple[float, float, str]] = field(default_factory=list)
    # perf_counter, GUI thread CPU s, GUI run-queue wait ns, the other threads' CPU ns
    ticks: list[tuple[float, float, int, tuple[int, ...]]] = field(default_factory=list)
    thread_names: list[str] = field(default_factory=list)
    gcs: list[tuple[float, float, int, str]] = field(default_factory=list)  # start, end, gen
    samples: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    operations: list[tuple[float, float, str]] = field(default_factory=list)
    step: str = "setup"

    def add(self, start: float, end: float, label: str) -> None:
        self.activities.append((start, end, label))


REC = Recorder()


def where(fn: Any) -> str:
    """file:function of a callable (lambdas: the function that defined them)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        func = getattr(fn, "__func__", None)
        code = getattr(func, "__code__", None)
    if code is None:
        return repr(fn)
    try:
        path = str(Path(code.co_filename).resolve().relative_to(ROOT))
    except ValueError:
        path = Path(code.co_filename).name
    qual = getattr(code, "co_qualname", code.co_name)
    return f"{path}:{qual}:{code.co_firstlineno}"


def stack_text(frame: Any, depth: int = 8) -> str:
    """The innermost frames of a stack, innermost first (repository frames marked)."""
    parts = []
    while frame is not None and len(parts) < depth:
        code = frame.f_code
        try:
            path = str(Path(code.co_filename).resolve().relative_to(ROOT))
        except ValueError:
            path = Path(code.co_filename).name
        parts.append(f"{path}:{code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return " < ".join(parts)


def idle_stack(stack: str) -> bool:
    """A thread blocked waiting for work (its innermost frame)."""
    inner = stack.split(" < ", 1)[0]
    return inner.startswith(("thread.py:_worker:", "threading.py:wait", "queue.py:get")) or any(
        f":{name}:" in inner for name in ("wait", "sleep", "select", "_wait_for_work")
    )


def instrument() -> None:
    """Time the GUI-thread slots that service results and threads call back into."""
    from pos_app.ui.main_window import MainWindow
    from pos_app.ui.worker import TaskRunner

    original_deliver = TaskRunner._deliver

    def deliver(self: Any, payload: tuple[Any, ...]) -> None:
        start = time.perf_counter()
        try:
            original_deliver(self, payload)
        finally:
            on_done, on_error = payload[1], payload[2]
            error = payload[0].exception() if payload[0].done() else None
            target = on_error if error is not None else on_done
            REC.add(start, time.perf_counter(), f"worker result -> {where(target)}")

    TaskRunner._deliver = deliver  # type: ignore[method-assign]

    for name in ("_receipt_printed", "_show_printer_state", "_show_sync_state", "refresh_status"):
        original = getattr(MainWindow, name)

        def timed(self: Any, *args: Any, _orig: Any = original, _name: str = name) -> Any:
            start = time.perf_counter()
            try:
                return _orig(self, *args)
            finally:
                REC.add(start, time.perf_counter(), f"MainWindow.{_name}")

        setattr(MainWindow, name, timed)


class Watchdog(threading.Thread):
    """Samples the GUI thread's (and the other threads') stacks while a tick is late."""

    def __init__(self, gui_ident: int) -> None:
        super().__init__(name="bench-watchdog", daemon=True)
        self.gui_ident = gui_ident
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.005):
            if not REC.ticks:
                continue
            now = time.perf_counter()
            if now - REC.ticks[-1][0] < LATE_MS / 1000:
                continue
            names = {t.ident: t.name for t in threading.enumerate()}
            frames = sys._current_frames()
            gui = frames.get(self.gui_ident)
            others = {
                names.get(ident, str(ident)): stack_text(frame, 5)
                for ident, frame in frames.items()
                if ident not in (self.gui_ident, self.ident)
            }
            REC.samples.append((now, stack_text(gui) if gui is not None else "?", others))


@dataclass
class Keys:
    """Every key the script pressed: (step, key, 'typed' | 'scan'), and focus misses."""

    pressed: list[tuple[str, str, str]] = field(default_factory=list)
    focus_misses: list[tuple[str, str, str]] = field(default_factory=list)


class Driver:
    """Sends keys to the focused widget and waits on the real event loop."""

    def __init__(self, key_ms: int, scan_ms: int) -> None:
        from PySide6.QtCore import QEventLoop
        from PySide6.QtTest import QTest

        from pos_app.ui.qt import QApplication, Qt, QTimer

        self.QEventLoop, self.QTest = QEventLoop, QTest
        self.QApplication, self.Qt, self.QTimer = QApplication, Qt, QTimer
        self.key_ms, self.scan_ms = key_ms, scan_ms
        self.keys = Keys()
        self.last_key = 0.0
        self.main_window: Any = None
        self.wm_activations: list[str] = []

    # -- the event loop -----------------------------------------------------------------
    def spin(self, msec: int) -> None:
        loop = self.QEventLoop()
        self.QTimer.singleShot(msec, loop.quit)
        loop.exec()

    def wait_until(self, cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        if cond():
            return
        deadline = time.perf_counter() + timeout
        loop = self.QEventLoop()
        poll = self.QTimer()
        poll.setInterval(2)

        def check() -> None:
            if cond() or time.perf_counter() > deadline:
                loop.quit()

        poll.timeout.connect(check)
        poll.start()
        loop.exec()
        poll.stop()
        if not cond():
            focus = self.QApplication.focusWidget()
            raise TimeoutError(
                f"timed out waiting for {what} (focus: {focus.objectName() if focus else None})"
            )

    # -- keys ----------------------------------------------------------------------------
    def press(self, key: Any, kind: str, expect: str | None) -> None:
        """One key press (a character or a Qt.Key) on the focused widget."""
        widget = self.QApplication.focusWidget()
        if widget is None:
            # No active window: the offscreen platform has no window manager to activate
            # the owner window when a dialog closes, as a desktop's does. Do its job.
            top = self.QApplication.activeModalWidget() or self.main_window
            top.activateWindow()
            self.wm_activations.append(REC.step)
            self.spin(1)
            widget = self.QApplication.focusWidget() or top
        name = widget.objectName()
        if expect is not None and name != expect:
            self.keys.focus_misses.append((REC.step, expect, name))
        qt_key = key[0] if isinstance(key, tuple) else key
        text = key if isinstance(key, str) else qt_key.name.replace("Key_", "")
        self.keys.pressed.append((REC.step, text, kind))
        start = self.last_key = time.perf_counter()
        if isinstance(key, str):
            self.QTest.keyClicks(widget, key)
        elif isinstance(key, tuple):
            self.QTest.keyClick(widget, key[0], key[1])
        else:
            self.QTest.keyClick(widget, key)
        REC.add(start, time.perf_counter(), f"key {text!r} in {name} | {REC.step}")

    def type(self, text: str, expect: str | None) -> None:
        """A human types ``text`` (``key_ms`` before each key)."""
        for ch in text:
            self.spin(self.key_ms)
            self.press(ch, "typed", expect)

    def key(self, name: str, expect: str | None, modifier: Any = None) -> None:
        """A human presses a key (``key_ms`` after the previous one)."""
        qt_key = getattr(self.Qt.Key, f"Key_{name}")
        self.spin(self.key_ms)
        self.press((qt_key, modifier) if modifier is not None else qt_key, "typed", expect)

    def scan(self, code: str, expect: str | None) -> None:
        """A scanner burst: the characters ``scan_ms`` apart, then Enter."""
        self.spin(self.key_ms)  # the cashier brings the next item to the scanner
        for ch in code:
            self.press(ch, "scan", expect)
            if self.scan_ms:
                self.spin(self.scan_ms)
        self.press(self.Qt.Key.Key_Return, "scan", expect)


@dataclass
class StepTimes:
    """Per step kind: response ms from the last key of the step to its result shown."""

    times: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.times.setdefault(kind, []).append(ms(seconds))


def received_text(due_fen: int) -> str:
    """What a customer hands over: the next 50 or 100 yuan above the amount due."""
    yuan = -(-due_fen // 100)
    if yuan <= 50:
        return "50"
    return str(-(-yuan // 100) * 100)


def drive(db: Path, plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """Log in and ring up the planned sales through the widgets, with the heartbeat on."""
    from pos_app.services.context import open_till
    from pos_app.services.till_session import ensure_demo_users
    from pos_app.ui.app import setup_application
    from pos_app.ui.dialogs import PaymentDialog, PickDialog, PointsDialog
    from pos_app.ui.main_window import MainWindow
    from pos_app.ui.qt import QApplication, Qt, QTimer

    instrument()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    setup_application(app, args.lang)
    ctx = open_till(db)
    ensure_demo_users(ctx)
    win = MainWindow(ctx)
    win.show()
    drv = Driver(args.key_ms, args.scan_ms)
    drv.main_window = win
    co = win.checkout
    drv.wait_until(lambda: win.login.users.count() > 0, "the login user list")

    def idle() -> bool:
        return not win.runner.busy and not co.busy

    # The heartbeat, its per-tick CPU / run-queue readings, and the watchdog.
    gui_tid = threading.get_native_id()
    sched_fd = os.open(f"/proc/self/task/{gui_tid}/schedstat", os.O_RDONLY)

    others = [
        (t.name, os.open(f"/proc/self/task/{t.native_id}/schedstat", os.O_RDONLY))
        for t in threading.enumerate()
        if t is not threading.current_thread() and t.native_id is not None
    ]
    REC.thread_names = [name for name, _fd in others]

    def tick() -> None:
        runq = int(os.pread(sched_fd, 128, 0).split()[1])
        cpu = tuple(int(os.pread(fd, 128, 0).split()[0]) for _n, fd in others)
        REC.ticks.append((time.perf_counter(), time.thread_time(), runq, cpu))

    gc_started: dict[int, float] = {}

    def gc_callback(phase: str, info: dict[str, int]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            gc_started[ident] = time.perf_counter()
        elif ident in gc_started:
            name = threading.current_thread().name
            REC.gcs.append((gc_started.pop(ident), time.perf_counter(), info["generation"], name))

    gc.callbacks.append(gc_callback)

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(tick)
    heartbeat.start()
    watchdog = Watchdog(threading.get_ident())
    watchdog.start()
    drv.spin(300)

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()

    steps = StepTimes()
    results: dict[str, Any] = {"points_used": [], "received": [], "stuck": []}
    t_drive = time.perf_counter()
    cpu_gui0, cpu_proc0 = time.thread_time(), time.process_time()

    def operation(kind: str, act: Callable[[], None], done: Callable[[], bool]) -> None:
        """Do ``act`` (the keys), wait for ``done``; an operation window for the gaps."""
        REC.step = kind
        start = time.perf_counter()
        act()
        last_key = max(drv.last_key, start)
        drv.wait_until(done, kind)
        end = time.perf_counter()
        steps.add(kind, end - last_key)
        REC.operations.append((start, end, kind))

    # -- log in: Shift+Tab to the user list, Down to the cashier, Enter, PIN, Enter ------
    def pick_cashier() -> None:
        login = win.login
        row = next(
            r
            for r in range(login.users.count())
            if login.users.item(r).data(Qt.ItemDataRole.UserRole).name == CASHIER
        )
        if row != login.users.currentRow():
            drv.key("Tab", "pinInput", Qt.KeyboardModifier.ShiftModifier)
            for _ in range(row - login.users.currentRow()):
                drv.key("Down", "userList")
            drv.key("Return", "userList")

    operation("log in: pick the cashier", pick_cashier, win.login.pin.hasFocus)
    operation(
        "log in: PIN + Enter",
        lambda: (drv.type(CASHIER_PIN, "pinInput"), drv.key("Return", "pinInput")),
        lambda: win.stack.currentWidget() is co and idle(),
    )

    for n, sale in enumerate(plan.sales):

        def member_shown(s: PlannedSale = sale) -> bool:
            return co.member is not None and co.member.id == s.member_id and idle()

        if sale.how == "phone":
            operation(
                "member: full phone + Enter",
                lambda s=sale: (drv.type(s.phone, "scanInput"), drv.key("Return", "scanInput")),
                member_shown,
            )
        elif sale.how == "code":
            operation(
                "member: member-card scan",
                lambda s=sale: drv.scan(s.code, "scanInput"),
                member_shown,
            )
        else:
            operation(
                "member: last 4 digits + Enter",
                lambda s=sale: (
                    drv.type(s.phone[-4:], "scanInput"),
                    drv.key("Return", "scanInput"),
                ),
                lambda: isinstance(co.dialog, PickDialog) and idle(),
            )
            pick = co.dialog
            assert isinstance(pick, PickDialog)
            ids = [
                pick.list.item(r).data(Qt.ItemDataRole.UserRole).id
                for r in range(pick.list.count())
            ]
            if sale.member_id in ids:
                digit = str(ids.index(sale.member_id) + 1)
                operation(
                    "member: pick 1-9 in the list",
                    lambda d=digit: drv.type(d, "pickList"),
                    member_shown,
                )
            else:  # moved out of the first 9 since planning: Esc, then the full phone
                results["stuck"].append(f"sale {n}: member left the last-4 list")
                operation("member: Esc", lambda: drv.key("Escape", "pickList"), lambda: True)
                operation(
                    "member: full phone + Enter",
                    lambda s=sale: (
                        drv.type(s.phone, "scanInput"),
                        drv.key("Return", "scanInput"),
                    ),
                    member_shown,
                )

        for k, barcode in enumerate(sale.barcodes):
            operation(
                "product: barcode scan",
                lambda b=barcode: drv.scan(b, "scanInput"),
                lambda rows=k + 1: co.basket.rowCount() == rows and idle() and co.quote is not None,
            )

        operation(
            "points: F3 (dialog open)",
            lambda: drv.key("F3", "scanInput"),
            lambda: isinstance(co.dialog, PointsDialog),
        )
        points_dialog = co.dialog
        assert isinstance(points_dialog, PointsDialog)
        wanted = points_dialog.spin.value()
        operation(
            "points: Enter (accept pre-filled) -> re-quoted",
            lambda: drv.key("Return", "pointsSpin"),
            lambda w=wanted: (
                co.dialog is None and idle() and co.quote is not None and co.quote.points_used == w
            ),
        )
        results["points_used"].append(wanted)

        operation(
            "pay: F4 (dialog open)",
            lambda: drv.key("F4", "scanInput"),
            lambda: isinstance(co.dialog, PaymentDialog),
        )
        pay = co.dialog
        assert isinstance(pay, PaymentDialog)
        before = co.last_sale
        if sale.exact:
            results["received"].append("exact")
            act: Callable[[], None] = lambda: drv.key("Return", "receivedInput")  # noqa: E731
            kind = "pay: Enter (exact change) -> sale committed, banner"
        else:
            amount = received_text(pay.due_fen)
            results["received"].append(amount)

            def act(a: str = amount) -> None:
                drv.type(a, "receivedInput")
                drv.key("Return", "receivedInput")

            kind = "pay: amount + Enter -> sale committed, banner"
        operation(
            kind,
            act,
            lambda b=before: (
                co.last_sale is not b and co.dialog is None and co.banner.isVisible() and idle()
            ),
        )
        REC.step = "between customers"
        drv.spin(args.between_ms)

    # Let the last receipt preview arrive.
    REC.step = "after the last sale"
    drv.wait_until(
        lambda: (
            co.last_sale is not None
            and co.receipt_pane.receipt_no == co.last_sale.result.receipt_no
        ),
        "the last receipt preview",
        timeout=30,
    )
    drv.spin(500)
    drive_s = time.perf_counter() - t_drive
    cpu_gui, cpu_proc = time.thread_time() - cpu_gui0, time.process_time() - cpu_proc0
    if profiler is not None:
        profiler.disable()
    heartbeat.stop()
    gc.callbacks.remove(gc_callback)
    watchdog.stop.set()
    watchdog.join()
    os.close(sched_fd)
    for _name, fd in others:
        os.close(fd)
    win.shutdown()
    win.deleteLater()
    drv.spin(50)
    return {
        "steps": steps,
        "keys": drv.keys,
        "wm_activations": drv.wm_activations,
        "results": results,
        "drive_s": drive_s,
        "cpu_gui": cpu_gui,
        "cpu_proc": cpu_proc,
        "profiler": profiler,
        "t_drive": t_drive,
        "none_lost": none_references_lost(),
        "pyside": __import__("PySide6").__version__,
    }


def none_references_lost(calls: int = 1000) -> int:
    """References to None lost by ``calls`` void Qt calls (0 when the binding is sound)."""
    from pos_app.ui.qt import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(calls):
        label.setText("x")
    lost = before - sys.getrefcount(None)
    label.deleteLater()
    return lost


@dataclass(frozen=True)
class Gap:
    start: float
    end: float
    cpu: float  # GUI thread CPU seconds during the gap
    runq: float  # GUI thread run-queue wait seconds during the gap
    others: dict[str, float]  # CPU seconds of the other threads during the gap

    @property
    def ms(self) -> float:
        return ms(self.end - self.start)

    @property
    def cause(self) -> str:
        length = self.end - self.start
        if self.cpu >= 0.5 * length:
            return "GUI thread running"
        if self.runq >= 0.5 * length:
            return "waiting for a CPU"
        if self.cpu + self.runq >= 0.5 * length:
            return "running + waiting for a CPU"
        busiest = max(self.others.items(), key=lambda kv: kv[1], default=("", 0.0))
        if busiest[1] >= 0.5 * length:
            return f"waiting for the GIL while {busiest[0]} ran Python"
        return "waiting (GIL / lock)"


def gaps_of(ticks: list[tuple[float, float, int, tuple[int, ...]]]) -> list[Gap]:
    return [
        Gap(
            a[0],
            b[0],
            b[1] - a[1],
            (b[2] - a[2]) / 1e9,
            {n: (y - x) / 1e9 for n, x, y in zip(REC.thread_names, a[3], b[3], strict=True)},
        )
        for a, b in itertools.pairwise(ticks)
    ]


def in_operation(gap: Gap) -> str | None:
    for start, end, kind in REC.operations:
        if gap.start < end and gap.end > start:
            return kind
    return None


def gap_rows(gaps: list[Gap]) -> list[tuple[object, ...]]:
    values = [g.ms for g in gaps]
    if not values:
        return []
    return [
        (
            len(values),
            f"{statistics.median(values):.1f}",
            f"{pct(values, 99):.1f}",
            f"{pct(values, 99.9):.1f}",
            f"{max(values):.1f}",
            sum(v > 16.7 for v in values),
            sum(v > BLOCK_MS for v in values),
        )
    ]


def report_drive(run: dict[str, Any], plan: Plan) -> dict[str, Any]:
    steps: StepTimes = run["steps"]
    results = run["results"]
    print(
        f"\n== 2. GUI-thread responsiveness: {len(plan.sales)} member sales through the widgets "
        f"({run['drive_s']:.1f} s; {machine_note()})"
    )
    used = results["points_used"]
    print(
        f"points used on {sum(p > 0 for p in used)}/{len(used)} sales (mean {statistics.fmean(used):.0f}); "
        f"exact change on {results['received'].count('exact')}, amount typed on "
        f"{len(used) - results['received'].count('exact')}; "
        f"GUI thread CPU {run['cpu_gui']:.1f} s, process CPU {run['cpu_proc']:.1f} s"
    )
    if plan.last4_tried:
        print(
            f"last-4 identification: the (random) member was among the 9 shown for its last 4 "
            f"digits for {plan.last4_listed}/{plan.last4_tried} members tried "
            f"(last-4 sales use those); members under 200 points skipped: "
            f"{plan.low_balance_skipped}"
        )
    for note in results["stuck"]:
        print("note:", note)

    gaps = gaps_of(REC.ticks)
    during = [g for g in gaps if in_operation(g)]
    outside = [g for g in gaps if not in_operation(g)]
    print(f"\nheartbeat every {HEARTBEAT_MS} ms on the GUI thread: gaps between ticks (ms)")
    headers = ["", "gaps", "median", "p99", "p99.9", "max", "> 16.7 ms", f"> {BLOCK_MS} ms"]
    print_table(
        headers,
        [
            ("during our operations", *gap_rows(during)[0]),
            ("outside them (idle, receipts)", *gap_rows(outside)[0]),
            ("overall", *gap_rows(gaps)[0]),
        ],
    )

    print("\nresponse per step: from the step's last key to its result on screen (ms)")
    rows = []
    for kind, values in steps.times.items():
        rows.append(
            (
                kind,
                len(values),
                f"{statistics.median(values):.1f}",
                f"{pct(values, 95):.1f}",
                f"{max(values):.1f}",
            )
        )
    print_table(["step", "n", "median", "p95", "max"], rows)

    # What ran on the GUI thread: the slowest slots and key presses.
    by_label: dict[str, list[float]] = {}
    for start, end, label in REC.activities:
        key = label
        if label.startswith("key "):  # "key 'x' in widget | step" -> per widget and step
            head, step = label.split(" | ", 1)
            key = f"key press in {head.rsplit(' in ', 1)[1]} | {step}"
        by_label.setdefault(key, []).append(ms(end - start))
    slow = sorted(by_label.items(), key=lambda kv: max(kv[1]), reverse=True)[:14]
    print("\nslowest GUI-thread work (synchronous: each key's handling, each worker result's slot)")
    print_table(
        ["what (file:function:line)", "n", "median ms", "max ms"],
        [(k, len(v), f"{statistics.median(v):.2f}", f"{max(v):.1f}") for k, v in slow],
    )

    long = sorted((g for g in gaps if g.ms > BLOCK_MS), key=lambda g: g.ms, reverse=True)
    print(f"\ngaps over {BLOCK_MS} ms: {len(long)}")
    t0 = run["t_drive"]
    for gap in long[:12]:
        op = in_operation(gap) or "outside operations"
        print(
            f"  {gap.ms:6.1f} ms at +{gap.start - t0:6.2f} s [{op}]: GUI thread CPU "
            f"{ms(gap.cpu):.1f} ms, run-queue wait {ms(gap.runq):.1f} ms, other (GIL, idle) "
            f"{gap.ms - ms(gap.cpu + gap.runq):.1f} ms -> {gap.cause}"
        )
        cpu_busy = {n: c for n, c in gap.others.items() if c > 0.002}
        if cpu_busy:
            print(
                "      other threads' CPU in the gap: "
                + ", ".join(f"{n} {ms(c):.1f} ms" for n, c in sorted(cpu_busy.items()))
            )
        for start, end, gen, thread in REC.gcs:
            if start < gap.end and end > gap.start and end - start > 0.002:
                print(f"      GC: generation {gen} on {thread}, {ms(end - start):.1f} ms")
        inside = [
            (e - s, label)
            for s, e, label in REC.activities
            if s < gap.end and e > gap.start and e - s > 0.002
        ]
        for dur, label in sorted(inside, reverse=True)[:3]:
            print(f"      ran: {ms(dur):.1f} ms {label}")
        samples = [s for s in REC.samples if gap.start < s[0] <= gap.end + 0.005]
        seen: set[str] = set()
        for _t, gui, others in samples:
            if gui in seen:
                continue
            seen.add(gui)
            print(f"      GUI stack: {gui}")
            busy = {n: s for n, s in others.items() if not idle_stack(s)}
            for name, stack in list(busy.items())[:3]:
                print(f"        {name}: {stack}")
            if len(seen) >= 2:
                break
    gc_rows = []
    for gen in (0, 1, 2):
        for thread in sorted({t for _s, _e, g, t in REC.gcs if g == gen}):
            times = [ms(e - s) for s, e, g, t in REC.gcs if g == gen and t == thread]
            gc_rows.append(
                (
                    f"generation {gen} on {thread}",
                    len(times),
                    f"{statistics.median(times):.2f}",
                    f"{max(times):.1f}",
                )
            )
    print("\ngarbage collections during the drive (they hold the GIL: every thread waits)")
    print_table(["collection", "n", "median ms", "max ms"], gc_rows)
    lost = run["none_lost"]
    if lost:
        print(
            f"\nWARNING: PySide6 {run['pyside']} on Python {sys.version.split()[0]} loses a "
            f"reference to None on every call of a void Qt method ({lost} lost in 1,000 "
            "QLabel.setText calls). Before Python 3.12 None is not immortal: once the lost "
            "references exceed the live ones the process aborts with 'Fatal Python error: "
            "none_dealloc' (this script aborted that way at exit before it ended with os._exit)."
        )
    keys: Keys = run["keys"]
    if keys.focus_misses:
        print(f"\nkeys sent while another widget had the focus: {len(keys.focus_misses)}")
        for step, expect, got in keys.focus_misses[:10]:
            print(f"  {step}: expected {expect}, focus was {got}")
    else:
        print("\nfocus: every key went to the widget expected (no focus misses)")
    if run["wm_activations"]:
        counts: dict[str, int] = {}
        for step in run["wm_activations"]:
            counts[step] = counts.get(step, 0) + 1
        print(
            "no window was active before these keys (a dialog had closed; offscreen has no "
            "window manager), so the script activated the main window as a desktop's would: "
            + ", ".join(f"{k} x{v}" for k, v in counts.items())
        )
    if run["profiler"] is not None:
        import pstats

        print("\ncProfile of the GUI thread over the drive, pos_app functions only:")
        stats = pstats.Stats(run["profiler"])
        stats.sort_stats("tottime").print_stats("pos_app", 20)
        stats.sort_stats("cumulative").print_stats("pos_app", 20)
    return {"during": during, "outside": outside, "gaps": gaps, "long": long}


# == 3. keystrokes ========================================================================
def report_keys(run: dict[str, Any], plan: Plan) -> None:
    keys: Keys = run["keys"]
    per_step: dict[str, list[tuple[int, int]]] = {}
    current: dict[str, list[int]] = {}
    # Count per step occurrence: consecutive presses of the same step form one occurrence,
    # a scan is one read (its Enter included).
    last_step = None
    for step, key, kind in keys.pressed:
        if step != last_step:
            if last_step is not None:
                per_step.setdefault(last_step, []).append(tuple(current[last_step]))  # type: ignore[arg-type]
            current[step] = [0, 0]
            last_step = step
        if kind == "typed":
            current[step][0] += 1
        elif key == "Return":
            current[step][1] += 1
    if last_step is not None:
        per_step.setdefault(last_step, []).append(tuple(current[last_step]))  # type: ignore[arg-type]

    print("\n== 3. Keystrokes the script pressed, as a cashier would (keys typed / scans)")
    rows = []
    for step, counts in per_step.items():
        typed = [c[0] for c in counts]
        scans = [c[1] for c in counts]
        rows.append(
            (
                step,
                len(counts),
                f"{statistics.fmean(typed):.2f}" if len(set(typed)) > 1 else typed[0],
                f"{statistics.fmean(scans):.2f}" if len(set(scans)) > 1 else scans[0],
            )
        )
    print_table(["step (as driven)", "times", "keys typed each", "scans each"], rows)

    total_typed = sum(
        1
        for s, _k, kind in keys.pressed
        if kind == "typed" and s.startswith(("member", "product", "points", "pay"))
    )
    total_scans = sum(
        1
        for s, k, kind in keys.pressed
        if kind == "scan" and k == "Return" and s.startswith(("member", "product", "points", "pay"))
    )
    n = len(plan.sales)
    print(
        f"all {n} sales: {total_typed} keys typed ({total_typed / n:.1f} per sale) and "
        f"{total_scans} scans ({total_scans / n:.1f} per sale), log-in not included"
    )

    amounts = [r for r in run["results"]["received"] if r != "exact"]
    typical_amount = statistics.median([len(a) for a in amounts]) if amounts else 3
    print("\none member sale with points and cash, 3 products (keys typed + scans):")
    identify = {
        "phone": ("identify by full phone: 11 digits + Enter", 12, 0),
        "last4": ("identify by last 4 digits: 4 digits + Enter + 1 digit to pick", 6, 0),
        "code": ("identify by member-card / app code scan: 1 scan", 0, 1),
    }
    common_rows = [
        ("3 products: 1 scan each", 0, 3),
        ("points: F3 + Enter (pre-filled largest amount)", 2, 0),
    ]
    pay_rows = {
        "exact": ("cash, exact change: F4 + Enter (pre-filled amount due)", 2, 0),
        "amount": (
            f"cash, amount received: F4 + {typical_amount:.0f} digits (e.g. 100) + Enter",
            int(2 + typical_amount),
            0,
        ),
    }
    table = []
    for how, (_label, typed, scans) in identify.items():
        for pay, (_plabel, ptyped, pscans) in pay_rows.items():
            total_k = typed + sum(r[1] for r in common_rows) + ptyped
            total_s = scans + sum(r[2] for r in common_rows) + pscans
            table.append((f"{how} + {pay}", total_k, total_s))
    detail = [
        *(v for v in identify.values()),
        *common_rows,
        *pay_rows.values(),
        ("log in (once per shift): Shift+Tab, Down, Enter, 4-digit PIN, Enter", 8, 0),
        ("log in with a tap on the name instead: 4-digit PIN + Enter (+1 tap)", 5, 0),
    ]
    print_table(["step", "keys typed", "scans"], detail)
    print()
    print_table(["total per sale (identify + pay)", "keys typed", "scans"], table)


# == main =================================================================================
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [CHILD_FLAG]:
        child_start(argv[1], float(argv[2]), argv[3])
        return 0
    if argv[:1] == [BARE_FLAG]:
        child_bare(float(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_members_arg(parser)
    parser.add_argument("--sales", type=int, default=30, help="member sales to drive (30)")
    parser.add_argument("--starts", type=int, default=5, help="cold-start runs per variant (5)")
    parser.add_argument("--key-ms", type=int, default=60, help="ms between typed keys (60)")
    parser.add_argument("--scan-ms", type=int, default=2, help="ms between scanned chars (2)")
    parser.add_argument("--between-ms", type=int, default=800, help="pause between sales")
    parser.add_argument("--lang", default="zh_CN", choices=("zh_CN", "en"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile the GUI thread")
    parser.add_argument("--skip-start", action="store_true", help="skip the cold starts")
    parser.add_argument("--skip-drive", action="store_true", help="only the cold starts")
    parser.add_argument("--keep", action="store_true", help="keep the database copy")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-ui-", dir=OUT if OUT.exists() else None))
    try:
        db = copy_demo_db(args.members, folder)
        print(f"{args.members:,} members; {machine_note()}")
        if not args.skip_start:
            cold_start(db, args.starts, args.lang)
        else:
            run_child(db, args.lang)  # the first start creates the demo users
        if not args.skip_drive:
            plan = plan_sales(db, args.members, args.sales, args.seed)
            run = drive(db, plan, args)
            report_drive(run, plan)
            report_keys(run, plan)
        print(f"\nload average at the end: {machine_note()}")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown: with PySide6's lost references to None/True/False
    # (see the WARNING the drive prints) it can abort while collecting at exit.
    os._exit(code)
