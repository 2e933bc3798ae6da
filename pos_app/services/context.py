"""The till's context: its database, identity, clock and the rule set in force."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from pos_app.core.rules import RuleSet, default_rule_set, load_rule_set
from pos_app.store.database import TillDatabase
from pos_app.store.models import RuleSetVersion
from pos_app.store.repo import get_setting, put_setting


def code_digits(code: str, width: int) -> str:
    """The last ``width`` digits of a store or till code, zero-padded ("S01" -> "001")."""
    return "".join(ch for ch in code if ch.isdigit()).zfill(width)[-width:]


FetchOutcome = Literal["fetched", "unknown", "unreachable"]
"""What asking HQ for a member gave: now held here, no such member, or HQ not asked."""

MemberSource = Callable[[str, "str | int"], FetchOutcome]
"""Asks HQ for the member whose ``phone_hash``, ``member_no`` or ``member_id`` is the
value, and keeps it (``pos_app.services.sync.snapshot.MemberFetcher``)."""


def utc_now() -> dt.datetime:
    """Now, timezone-aware."""
    return dt.datetime.now(dt.UTC)


@dataclass
class TillContext:
    """Everything a use case needs.

    Attributes:
        db: The till's database.
        store_id: Store code (3 digits in receipt numbers).
        till_id: Till code (2 digits in receipt numbers).
        store_name: Name printed on receipts.
        phone_key: Key of the phone hash (distributed by HQ; kept in the key store,
            never in the database file).
        clock: Returns the current aware time (tests inject a fixed clock).
        online: Returns True while HQ is reachable (offline spending is capped).
        fetch_member: Asks HQ for a member this till does not hold (None: no HQ).
    """

    db: TillDatabase
    store_id: str
    till_id: str
    store_name: str
    phone_key: bytes
    clock: Callable[[], dt.datetime] = utc_now
    online: Callable[[], bool] = lambda: False
    fetch_member: MemberSource | None = None
    _rules: RuleSet | None = field(default=None, repr=False)

    @property
    def rules(self) -> RuleSet:
        """The active rule set (cached; reloaded after :meth:`install_rule_set`)."""
        if self._rules is None:
            with self.db.read() as session:
                row = session.scalars(
                    select(RuleSetVersion).where(RuleSetVersion.active.is_(True))
                ).first()
                document = row.document if row else None
            self._rules = load_rule_set(document) if document else default_rule_set()
        return self._rules

    def install_rule_set(self, rules: RuleSet, *, activate: bool = True) -> None:
        """Store a rule set version (HQ push or local default) and make it active."""
        with self.db.write() as session:
            if activate:
                for row in session.scalars(select(RuleSetVersion).where(RuleSetVersion.active)):
                    row.active = False
            existing = session.get(RuleSetVersion, rules.version)
            if existing is None:
                session.add(
                    RuleSetVersion(
                        version=rules.version,
                        document=rules.to_json(),
                        received_at=self.clock(),
                        active=activate,
                    )
                )
            else:
                existing.active = activate or existing.active
        self._rules = None

    def now(self) -> dt.datetime:
        """The current time from the context's clock (aware)."""
        value = self.clock()
        if value.tzinfo is None:
            raise ValueError("the clock returned a naive datetime")
        return value

    @property
    def member_no_base(self) -> int:
        """Start of this till's block of member numbers."""
        store = int(code_digits(self.store_id, 3))
        till = int(code_digits(self.till_id, 1))
        return 9_000_000_000 + (store * 10 + till) * 100_000


def open_till(
    path: Path | str,
    *,
    store_id: str = "001",
    till_id: str = "01",
    store_name: str = "积分生活超市 (演示店)",
    clock: Callable[[], dt.datetime] = utc_now,
    online: Callable[[], bool] = lambda: False,
) -> TillContext:
    """Open (creating and migrating if needed) the till database at ``path``.

    The identity given here is used on first start; afterwards the stored one wins.
    """
    db = TillDatabase(path)
    with db.write() as session:
        values = {}
        for key, default in (
            ("store_id", store_id),
            ("till_id", till_id),
            ("store_name", store_name),
        ):
            current = get_setting(session, key)
            if current is None:
                put_setting(session, key, default)
                current = default
            values[key] = current
    if db.keys.phone_key is None:  # until HQ's arrives (pos-app register-till)
        db.set_phone_key(secrets.token_bytes(32))
    assert db.keys.phone_key is not None
    ctx = TillContext(
        db=db,
        store_id=values["store_id"],
        till_id=values["till_id"],
        store_name=values["store_name"],
        phone_key=db.keys.phone_key,
        clock=clock,
        online=online,
    )
    with db.read() as session:
        has_rules = session.scalars(select(RuleSetVersion.version)).first() is not None
    if not has_rules:
        ctx.install_rule_set(default_rule_set())
    return ctx
