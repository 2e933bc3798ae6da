"""Running the API under uvicorn: one process or several workers.

uvicorn starts each worker process itself and builds its app by calling
:func:`app_from_environment` (an import string, as multi-process serving needs). The
parent hands the workers their configuration in the ``POS_HQ_SERVE`` environment variable
(:class:`ServeConfig` as JSON), so every worker opens the same databases with the same
settings. ``pos-hq serve`` migrates the database once, in the parent, before any worker
starts.
"""

from __future__ import annotations

import copy
import gc
import ipaddress
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pos_app.hq.config import HQSettings
from pos_app.hq.database import EngineOptions, HQDatabase

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pos_app.hq.keys import MasterKey

log = logging.getLogger(__name__)

ENVIRONMENT_KEY = "POS_HQ_SERVE"
APP_FACTORY = "pos_app.hq.serve:app_from_environment"
# longer than the till's 15 s sync interval: a till reuses its connection between rounds
KEEP_ALIVE_SECONDS = 75
# a replica that does not answer in this long is treated as down
REPLICA_CONNECT_TIMEOUT = 2
# the primary's connection and lock waits: a request answers (if only 503) well within
# the till's 30 s timeout
POOL_TIMEOUT_SECONDS = 10.0
LOCK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ServeConfig:
    """What each worker needs to build the app.

    Attributes:
        db_url: HQ's database (the primary).
        replica_url: A streaming replica serving pull and member look-ups, or None.
        settings: HQ's settings (admission limits, replica waits...).
        engine: Timeouts of the primary's connections (pool checkout, lock wait).
        master_key_file: HQ's master key (opens the member-code signing keys); None or
            a missing file: the member app's codes cannot be signed.
    """

    db_url: str
    replica_url: str | None = None
    settings: HQSettings = field(default_factory=HQSettings)
    engine: EngineOptions = field(default_factory=EngineOptions)
    master_key_file: str | None = None

    def to_json(self) -> str:
        """The configuration as JSON (for the workers' environment)."""
        return json.dumps(
            {
                "db_url": self.db_url,
                "replica_url": self.replica_url,
                "settings": self.settings.numbers(),
                "engine": vars(self.engine),
                "master_key_file": self.master_key_file,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """The configuration :meth:`to_json` wrote."""
        data = json.loads(text)
        return cls(
            db_url=data["db_url"],
            replica_url=data["replica_url"],
            settings=HQSettings(**data["settings"]),
            engine=EngineOptions(**data["engine"]),
            master_key_file=data.get("master_key_file"),
        )

    def master_key(self) -> MasterKey | None:
        """HQ's master key, or None when there is none (a warning says so).

        Raises:
            ValueError: the file exists but cannot be used (malformed, readable by others).
        """
        from pos_app.hq.keys import MasterKey

        if not self.master_key_file or not Path(self.master_key_file).exists():
            log.warning(
                "no master key (%s): HQ cannot sign member codes for the member app",
                self.master_key_file,
            )
            return None
        return MasterKey.load(Path(self.master_key_file))

    def open_databases(self) -> tuple[HQDatabase, HQDatabase | None]:
        """The primary and the replica (None without one); nothing is connected yet."""
        primary = HQDatabase(self.db_url, self.engine)
        if self.replica_url is None:
            return primary, None
        replica_options = EngineOptions(
            pool_timeout=self.engine.pool_timeout, connect_timeout=REPLICA_CONNECT_TIMEOUT
        )
        return primary, HQDatabase(self.replica_url, replica_options)


def app_from_environment() -> FastAPI:
    """The app of one worker, configured by ``$POS_HQ_SERVE`` (uvicorn's app factory)."""
    from pos_app.hq.app import create_app

    text = os.environ.get(ENVIRONMENT_KEY)
    if not text:
        raise RuntimeError(f"${ENVIRONMENT_KEY} is not set: start HQ with `pos-hq serve`")
    config = ServeConfig.from_json(text)
    primary, replica = config.open_databases()
    closing = [primary] if replica is None else [primary, replica]
    app = create_app(
        primary,
        config.settings,
        replica=replica,
        closing=closing,
        master_key=config.master_key(),
    )
    tune_gc()
    return app


GC_THRESHOLDS = (50_000, 20, 100)
"""The worker's cyclic garbage collector: a young collection every 50,000 allocations
(Python's default is 700), older ones as often relative to it as by default."""


def tune_gc() -> None:
    """Keep the cyclic garbage collector out of the push's way.

    A push of 500 sales allocates hundreds of thousands of short-lived objects (rows,
    journal entries, quotes), almost none of them in cycles; with Python's default
    thresholds the collector ran every 700 allocations and walked the whole heap
    (SQLAlchemy's and pydantic's metadata included) often enough to cost 22% of the
    worker's CPU per ledger entry (75 us of 330 us, 50,000 members, issue 10). What the
    app built at start is frozen (never scanned again), and collections are rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, with HQ's own loggers (``pos_app``) at ``level``
    on uvicorn's console handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["pos_app"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TLSFiles:
    """HQ's TLS certificate chain and private key (PEM files).

    Attributes:
        cert: The server certificate (and its chain), PEM.
        key: Its private key, PEM.
    """

    cert: str
    key: str

    def check(self) -> None:
        """Refuse files that cannot serve TLS.

        Raises:
            ValueError: a file is missing, or the key does not match the certificate.
        """
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot serve TLS with {self.cert} and {self.key}: {exc}") from None


def serve(
    config: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8700,
    workers: int = 1,
    keep_alive: int = KEEP_ALIVE_SECONDS,
    log_level: str = "info",
    tls: TLSFiles | None = None,
) -> None:
    """Serve the API until stopped (Ctrl-C, SIGTERM), in ``workers`` processes, over
    HTTPS when ``tls`` is given (every worker serves it)."""
    import uvicorn

    os.environ[ENVIRONMENT_KEY] = config.to_json()
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_keep_alive=keep_alive,
        log_level=log_level,
        log_config=log_config(log_level),
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
    )
