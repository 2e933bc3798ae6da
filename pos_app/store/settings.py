"""The settings table: the till's key/value settings and identifiers.

Every key read or written here is declared in :mod:`pos_app.store.setting_keys` (key,
type, default, meaning); an undeclared key raises ``KeyError``. :func:`read` and
:func:`write` convert to and from the declared type; :func:`get_setting` and
:func:`put_setting` deal in the stored text.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pos_app.store.models import Setting
from pos_app.store.setting_keys import SettingSpec, T, check_key


def get_setting(session: Session, key: str) -> str | None:
    """A setting's stored text, or None."""
    row = session.get(Setting, check_key(key))
    return None if row is None else row.value


def put_setting(session: Session, key: str, value: str) -> None:
    """Create or replace a setting's stored text."""
    row = session.get(Setting, check_key(key))
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def read(session: Session, spec: SettingSpec[T]) -> T:
    """A declared setting's value as its type (its default when absent)."""
    return spec.parse(get_setting(session, spec.key))


def write(session: Session, spec: SettingSpec[T], value: T) -> None:
    """Store a declared setting's value."""
    put_setting(session, spec.key, spec.format(value))


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


def delete_settings(session: Session, keys: Sequence[str]) -> None:
    """Remove the settings ``keys`` (absent ones ignored)."""
    for key in keys:
        check_key(key)
    session.execute(delete(Setting).where(Setting.key.in_(list(keys))))
