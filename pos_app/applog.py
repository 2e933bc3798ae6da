"""The till's log file: rotating, in the platform's data folder, with no personal data.

:func:`init_logging` (called once by ``pos-app`` at start, like qutebrowser's
``init_log``) sends every logger to ``pos-app.log`` in :func:`log_dir`, rotated at
:data:`MAX_BYTES` with :data:`BACKUPS` old files kept, and installs ``sys.excepthook``
and ``threading.excepthook`` so a crash on any thread lands in the file with its
traceback instead of disappearing with the console.

Nothing personal reaches the file: the code logs ids, never a phone number, a name or a
birthday (docs/security.md), and :class:`RedactingFormatter` masks anything shaped like
a phone number in every line written, tracebacks and exception messages included
(``138****1234``, as on a receipt). ``pos-app support-bundle`` ships these files.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

APP_NAME = "points-till"
LOG_FILE = "pos-app.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"

# A mainland mobile (11 digits from 1), with or without +86 / 86, with spaces or dashes
# as people type it; not inside a longer run of digits (ids, receipt numbers).
_PHONE = re.compile(r"(?<![\dA-Za-z])(?:\+?86[ -]?)?(1\d{2})[ -]?(\d{4})[ -]?(\d{4})(?![\dA-Za-z])")
# Any other international number written in E.164 form.
_E164 = re.compile(r"(?<![\dA-Za-z])\+(\d{2})\d{5,12}(\d{2})(?!\d)")


def redact(text: str) -> str:
    """``text`` with every phone-shaped number masked (``138****1234``)."""
    text = _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _E164.sub(lambda m: f"+{m.group(1)}****{m.group(2)}", text)


class RedactingFormatter(logging.Formatter):
    """A formatter whose every output line has phone numbers masked (see :func:`redact`)."""

    def format(self, record: logging.LogRecord) -> str:
        """Override of :meth:`logging.Formatter.format`: the line, redacted."""
        return redact(super().format(record))


def log_dir() -> Path:
    """Where the log files live: ``$POS_LOG_DIR``, else ``logs/`` in the platform's data
    folder for the till (``~/.local/share/points-till/logs`` on Linux)."""
    override = os.environ.get("POS_LOG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "logs"


def log_files(folder: Path | None = None) -> list[Path]:
    """The current log file and its rotated predecessors, newest first."""
    base = (folder or log_dir()) / LOG_FILE
    found = [base] if base.is_file() else []
    return found + [p for i in range(1, BACKUPS + 1) if (p := Path(f"{base}.{i}")).is_file()]


class TillLogHandler(RotatingFileHandler):
    """The till's rotating log file handler (at most one on the root logger)."""


def _installed() -> TillLogHandler | None:
    return next((h for h in logging.getLogger().handlers if isinstance(h, TillLogHandler)), None)


def init_logging(level: int = logging.INFO, folder: Path | None = None) -> Path:
    """Log to the rotating file (once per process) and install the crash hooks.

    Returns:
        The log file.
    """
    target = (folder or log_dir()) / LOG_FILE
    current = _installed()
    if current is not None and Path(current.baseFilename) == target:
        return target
    stop_logging()
    target.parent.mkdir(parents=True, exist_ok=True)
    handler = TillLogHandler(
        target, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
    )
    handler.setFormatter(RedactingFormatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    install_excepthooks()
    return target


def stop_logging() -> None:
    """Close the log file (tests; a new folder)."""
    current = _installed()
    if current is not None:
        logging.getLogger().removeHandler(current)
        current.close()


crash_log = logging.getLogger("pos_app.crash")


def _log_crash(
    kind: type[BaseException] | None,
    value: BaseException | None,
    tb: TracebackType | None,
    where: str,
) -> None:
    if kind is None or value is None or issubclass(kind, KeyboardInterrupt):
        return
    crash_log.critical("unhandled exception in %s", where, exc_info=(kind, value, tb))


def install_excepthooks() -> None:
    """Log an unhandled exception of the main thread or any other thread (then let the
    previous hook print it as before). Installed once."""
    if getattr(sys.excepthook, "_pos_app", False):
        return
    previous: Callable[..., object] = sys.excepthook
    previous_thread: Callable[..., object] = threading.excepthook

    def main_hook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        _log_crash(kind, value, tb, "the main thread")
        previous(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "a thread"
        _log_crash(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")
        previous_thread(args)

    main_hook._pos_app = True  # type: ignore[attr-defined]
    sys.excepthook = main_hook
    threading.excepthook = thread_hook
