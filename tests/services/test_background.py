"""The background workers' base: steps until stopped, woken early, survives a failing
step, reports through its callback; stopping joins the thread (nothing runs after)."""

from __future__ import annotations

import threading

from pos_app.services.background import BackgroundWorker


class Counter(BackgroundWorker[int]):
    """Counts its steps; waits ``wait`` seconds between them; fails on ``fail_on``."""

    def __init__(self, wait: float, fail_on: int = 0) -> None:
        self.seen: list[int] = []
        super().__init__("counter", on_status=self.seen.append, backoff_cap=0.01)
        self.wait = wait
        self.fail_on = fail_on
        self.steps = 0
        self.stepped = threading.Event()
        self.finished = False

    def step(self) -> float:
        self.steps += 1
        self.emit_status(self.steps)
        self.stepped.set()
        if self.steps == self.fail_on:
            raise RuntimeError("a bug in one step")
        return self.wait

    def after_loop(self) -> None:
        self.finished = True


def test_wake_cuts_the_wait_and_stop_joins() -> None:
    worker = Counter(wait=3600)
    worker.start()
    assert worker.stepped.wait(5)
    worker.stepped.clear()
    worker.wake()
    assert worker.stepped.wait(5)  # the hour's wait was cut short
    worker.stop(timeout=5)
    assert not worker.is_alive()
    assert worker.finished
    steps = worker.steps
    worker.wake()  # nothing runs after stop: the thread has ended (joined above)
    assert worker.steps == steps == len(worker.seen)


def test_a_failing_step_backs_off_and_the_thread_lives_on() -> None:
    worker = Counter(wait=0.001, fail_on=2)
    worker.start()
    try:
        for _ in range(100):
            worker.stepped.wait(5)
            worker.stepped.clear()
            if worker.steps >= 4:
                break
        assert worker.steps >= 4
        assert worker.is_alive()
    finally:
        worker.stop(timeout=5)


def test_a_failing_status_callback_is_logged_not_raised() -> None:
    def broken(_state: int) -> None:
        raise ValueError("the UI is gone")

    worker = Counter(wait=1)
    worker.on_status = broken
    worker.emit_status(1)  # no exception


def test_backoff_doubles_up_to_the_cap() -> None:
    worker = Counter(wait=1)
    worker.backoff_base, worker.backoff_cap = 1.0, 5.0
    assert [worker.backoff(n) for n in range(5)] == [0.0, 1.0, 2.0, 4.0, 5.0]
    worker.jitter = True
    assert all(2.0 <= worker.backoff(3) <= 4.0 for _ in range(20))
