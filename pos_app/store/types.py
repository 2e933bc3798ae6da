"""Column types shared by the till's models."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from sqlalchemy import String, TypeDecorator
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
