"""The settings table: the till's key/value settings and identifiers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.store.models import Setting


def get_setting(session: Session, key: str) -> str | None:
    """A setting's value, or None."""
    row = session.get(Setting, key)
    return None if row is None else row.value


def put_setting(session: Session, key: str, value: str) -> None:
    """Create or replace a setting."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def settings_with_prefix(session: Session, prefix: str) -> list[tuple[str, str]]:
    """(key, value) of every setting whose key starts with ``prefix``."""
    rows = session.execute(
        select(Setting.key, Setting.value).where(Setting.key.startswith(prefix, autoescape=True))
    ).all()
    return [(key, value) for key, value in rows]


def all_settings(session: Session) -> list[tuple[str, str]]:
    """(key, value) of every setting, by key."""
    rows = session.execute(select(Setting.key, Setting.value).order_by(Setting.key)).all()
    return [(key, value) for key, value in rows]
