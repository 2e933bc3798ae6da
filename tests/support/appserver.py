"""An ASGI app served for real by uvicorn on loopback, in a thread of the test process.

Use it when a test needs what a TestClient does not give: concurrent requests on real
sockets, the server's own event loop and thread pool::

    with served(app) as base_url:
        httpx.get(f"{base_url}/health")

or :class:`AppServer` to start and stop it at will (the sync harness restarts HQ).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


class AppServer:
    """One app on a free loopback port, lifespan on, served in a daemon thread.

    Attributes:
        port: Where it listens (once started).
    """

    def __init__(self, app: Any, *, start_timeout: float = 20.0) -> None:
        self.app = app
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        assert self.port is not None, "the server is stopped"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        """Serve; returns once uvicorn accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            ws="none",
            http="h11",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="test-uvicorn", daemon=True
        )
        thread.start()
        self._server, self._thread, self._socket = server, thread, sock
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = sock.getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "uvicorn did not stop"
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.port = None


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve ``app`` for the block; yields its base URL."""
    server = AppServer(app).start()
    try:
        yield server.base_url
    finally:
        server.stop()
