"""A fake network receipt printer: a real TCP server on 127.0.0.1 that keeps every job.

Each connection is one job. Like a real printer it answers ``DLE EOT n`` status
queries (unless told to stay mute) with the status bytes it was configured with.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Self

#: Status bytes of a healthy printer: online, cover closed, paper present.
HEALTHY: Mapping[int, int] = {1: 0x12, 2: 0x12, 4: 0x12}


class FakePrinter:
    """Accepts connections one at a time and collects their bytes."""

    def __init__(self, status: Mapping[int, int] | None = HEALTHY) -> None:
        self.status = dict(status) if status is not None else None
        self.jobs: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.host, self.port = self._server.getsockname()[:2]
        self._stop = threading.Event()
        self._job_done = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="fake-printer", daemon=True)

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """Block until ``count`` jobs arrived; return them."""
        with self._job_done:
            if not self._job_done.wait_for(lambda: len(self.jobs) >= count, timeout):
                raise TimeoutError(f"expected {count} job(s), got {len(self.jobs)}")
            return list(self.jobs)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                received = bytearray()
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    received += chunk
                    self._answer(conn, chunk)
            with self._job_done:
                self.jobs.append(bytes(received))
                self._job_done.notify_all()

    def _answer(self, conn: socket.socket, chunk: bytes) -> None:
        if self.status is None or len(chunk) != 3 or chunk[:2] != b"\x10\x04":
            return
        reply = self.status.get(chunk[2])
        if reply is not None:
            conn.sendall(bytes((reply,)))
