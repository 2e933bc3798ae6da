"""A loopback serial line: two pseudo-terminals joined by ``socat``.

``socat -d -d pty,raw,echo=0 pty,raw,echo=0`` makes two PTYs and copies bytes between
them; the till's side writes to :attr:`SerialPair.device`, the test reads what a real
display would have received from :attr:`SerialPair.far_end`.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from types import TracebackType
from typing import Any, Self

_PTY_LINE = re.compile(r"PTY is (\S+)")


class SocatUnavailable(RuntimeError):
    """socat is not installed."""


class SerialPair:
    """Two PTYs joined by socat; :meth:`read` collects what reaches the far end.

    Attributes:
        device: The till's end (what the display settings name).
        far_end: The display's end.
    """

    def __init__(self) -> None:
        socat = shutil.which("socat")
        if socat is None:
            raise SocatUnavailable("socat is not installed (scripts/setup_system.sh adds it)")
        self._proc = subprocess.Popen(
            [socat, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ptys: list[str] = []
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 5
        while len(ptys) < 2 and time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            if not line:
                break
            if match := _PTY_LINE.search(line):
                ptys.append(match.group(1))
        if len(ptys) < 2:
            self.close()
            raise RuntimeError("socat did not report its two PTYs")
        self.device, self.far_end = ptys
        import serial

        self._reader: Any = serial.Serial(self.far_end, 9600, timeout=0.05)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def read(self, count: int, timeout: float = 5.0) -> bytes:
        """Read until ``count`` bytes arrived (or ``timeout``); return them."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        while len(data) < count and time.monotonic() < deadline:
            data += self._reader.read(count - len(data))
        return bytes(data)

    def read_quiet(self, quiet: float = 0.3, timeout: float = 5.0) -> bytes:
        """Read until nothing more arrives for ``quiet`` seconds."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < deadline:
            chunk = self._reader.read(4096)
            if chunk:
                data += chunk
                last = time.monotonic()
            elif time.monotonic() - last >= quiet:
                break
        return bytes(data)

    def pause(self) -> None:
        """Stop socat copying (SIGSTOP): the till's end fills up like a stuck display."""
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let socat copy again (SIGCONT)."""
        self._proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop socat (the PTYs disappear with it)."""
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()
