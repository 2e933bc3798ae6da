"""Column types shared by the till's models."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from sqlalchemy import LargeBinary, String, TypeDecorator
from sqlalchemy.engine import Dialect

_ISO = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def to_db_time(value: dt.datetime) -> str:
    """A tz-aware datetime as fixed-width UTC text (sorts like the instant it names)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetimes are not stored: attach a time zone")
    return value.astimezone(dt.UTC).strftime(_ISO)


def from_db_time(value: str) -> dt.datetime:
    """Parse what :func:`to_db_time` wrote."""
    return dt.datetime.fromisoformat(value)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetime stored as UTC ISO-8601 text."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return to_db_time(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return from_db_time(value)


class SealedMask(TypeDecorator[str]):
    """A masked phone (138****1234) stored sealed with the till's mask key (AES-GCM):
    the ORM reads and writes the text, the file holds only ciphertext. The cipher is the
    engine's (``dialect.till_phone_secrets``, set by ``store.database.make_engine``);
    raw SQL reads it with the ``phone_mask(column)`` function."""

    impl = LargeBinary
    cache_ok = True

    @staticmethod
    def _masks(dialect: Dialect) -> Any:
        phone = getattr(dialect, "till_phone_secrets", None)
        if phone is None:
            raise RuntimeError("a masked phone needs the till's keys (TillDatabase's engine)")
        return phone.masks

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return self._masks(dialect).seal(value or "")  # type: ignore[no-any-return]

    def process_result_value(self, value: Any, dialect: Dialect) -> str:
        return self._masks(dialect).open(value)  # type: ignore[no-any-return]


def new_id() -> str:
    """A client-generated, time-ordered id (UUIDv7 layout, as 32 hex digits).

    Time ordering keeps inserts at the right edge of the primary-key index.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return f"{value:032x}"
