"""Printer faults for the print-queue tests, on top of the loopback fake printer.

:class:`FaultyPrinter` is the real TCP fake of ``tests/devices/fake_printer.py`` that also

* listens on a given port (a printer that was off and comes back at its address),
* answers a status query (``DLE EOT n``) that arrives right behind job bytes, as a real
  printer answers status in real time (the plain fake only answers a lone query),
* switches its status while running (paper out, then paper loaded),
* drops the first connections mid-job: it keeps only the first ``drop_after`` bytes (what
  a printer prints before the connection dies) and resets the connection.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Mapping, Sequence

from tests.devices.escpos_stream import StreamError, parse
from tests.devices.fake_printer import HEALTHY, FakePrinter

#: Offline because the paper ran out (as a Chinese 80 mm printer reports it).
PAPER_OUT: Mapping[int, int] = {1: 0x1A, 2: 0x32, 4: 0x72}
#: Online, but the paper roll is nearly empty.
NEAR_END: Mapping[int, int] = {1: 0x12, 2: 0x12, 4: 0x1E}
_DLE_EOT = b"\x10\x04"


def free_port() -> int:
    """A TCP port nothing listens on (for a printer that is switched off)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


class FaultyPrinter(FakePrinter):
    """The loopback fake printer with switchable faults (see the module docstring).

    Args:
        status: Status bytes per ``DLE EOT n``; None for a printer that never answers.
        port: Port to listen on (0: any free port).
        drop_after: Bytes a dropped connection gets through before it is reset.
        drops: How many connections (jobs) to drop that way.
    """

    def __init__(
        self,
        status: Mapping[int, int] | None = HEALTHY,
        *,
        port: int = 0,
        drop_after: int = 0,
        drops: int = 0,
    ) -> None:
        super().__init__(status)
        if port:
            self._server.close()
            self._server = socket.create_server(("127.0.0.1", port))
            self._server.settimeout(0.05)
            self.host, self.port = self._server.getsockname()[:2]
        self.drop_after = drop_after
        self.drops_left = drops
        self.dropped: list[bytes] = []
        self.connections = 0

    def set_status(self, status: Mapping[int, int] | None) -> None:
        """Change what the printer reports (e.g. the paper was loaded)."""
        self.status = dict(status) if status is not None else None

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            drop = self.drops_left > 0
            if drop:
                self.drops_left -= 1
            received = bytearray()
            with conn:
                conn.settimeout(5)
                while True:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    received += chunk
                    if drop and len(received) >= self.drop_after:
                        del received[self.drop_after :]
                        # Reset, not close: the till's next write or read fails at once.
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        self.dropped.append(bytes(received))
                        break
                    self._answer(conn, bytes(received))
            with self._job_done:
                self.jobs.append(bytes(received))
                self._job_done.notify_all()

    def _answer(self, conn: socket.socket, received: bytes) -> None:
        if self.status is None or len(received) < 3 or received[-3:-1] != _DLE_EOT:
            return
        reply = self.status.get(received[-1])
        if reply is not None:
            conn.sendall(bytes((reply,)))


def complete_receipts(jobs: Sequence[bytes]) -> int:
    """Receipts that came out whole: the cuts of the jobs that parse as complete streams.

    A job cut short by a dropped connection does not parse (or parses without reaching
    its cut): it counts as no receipt.
    """
    total = 0
    for data in jobs:
        try:
            total += len(parse(data).cuts)
        except StreamError:
            continue
    return total
