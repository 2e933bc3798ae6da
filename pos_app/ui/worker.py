"""Run service calls off the GUI thread (Anki's ``CollectionOp`` pattern).

Every call goes to ONE worker thread, so the thread-local raw SQLite reader of the
till database is always the same connection, and writes never race each other. The
result (or the exception) comes back to the GUI thread by a queued signal, where the
``on_done`` / ``on_error`` callbacks run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from pos_app.ui.qt import QObject, Signal, isValid

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskRunner(QObject):
    """A single-worker executor whose results are delivered on the GUI thread.

    Signals:
        busy_changed: True when work starts while idle, False when the queue drains.
        task_finished: After every task's callback has run (tests wait on it).
    """

    busy_changed = Signal(bool)
    task_finished = Signal()
    _delivered = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="till-worker")
        self._pending = 0
        self._closed = False
        self._delivered.connect(self._deliver)

    @property
    def pending(self) -> int:
        """Tasks submitted whose callbacks have not run yet."""
        return self._pending

    @property
    def busy(self) -> bool:
        """Work is queued or running."""
        return self._pending > 0

    def run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        *,
        guard: QObject | None = None,
    ) -> None:
        """Run ``fn`` on the worker; call ``on_done(result)`` or ``on_error(exc)`` here.

        Args:
            fn: The work (usually one or two service calls closed over the context).
            on_done: Called on the GUI thread with the result.
            on_error: Called on the GUI thread with the exception; unexpected errors
                are also logged.
            guard: A widget the callbacks belong to; they are skipped once it is deleted.
        """
        if self._closed:
            log.warning("task submitted after shutdown was ignored")
            return
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        future = self._executor.submit(fn)
        future.add_done_callback(lambda fut: self._delivered.emit((fut, on_done, on_error, guard)))

    def _deliver(self, payload: tuple[Any, ...]) -> None:
        future: Future[Any]
        future, on_done, on_error, guard = payload
        try:
            if guard is not None and not isValid(guard):
                return
            error = future.exception()
            if error is None:
                if on_done is not None:
                    on_done(future.result())
            elif isinstance(error, Exception):
                if not _expected(error):
                    log.error("till task failed", exc_info=error)
                if on_error is not None:
                    on_error(error)
        finally:
            self._pending -= 1
            self.task_finished.emit()
            if self._pending == 0:
                self.busy_changed.emit(False)

    def shutdown(self, last: Callable[[], object] | None = None) -> None:
        """Run ``last`` on the worker (closing its database connection), then stop."""
        if self._closed:
            return
        self._closed = True
        if last is not None:
            self._executor.submit(last)
        self._executor.shutdown(wait=True)


def _expected(error: Exception) -> bool:
    from pos_app.core.errors import LoyaltyError

    return isinstance(error, LoyaltyError)
