"""The console's own tables (migration ``0010_console``), on HQ's declarative base.

* ``console_operators``: people who sign in to the console (argon2 password hashes).
* ``console_sessions``: signed-in browsers (SHA-256 of the cookie's token, its CSRF
  token and its expiry).
* ``console_rule_drafts``: rule set documents being edited before they are published.
* ``console_flag_decisions``: what an operator decided about a flagged record.
* Summaries the dashboard reads (:mod:`pos_app.hq.console.summaries`): points by day
  and kind, by day, store and kind, daily snapshots (tiers, active members), mall
  item totals, and the change number the ledger has been summed up to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pos_app.hq.models import ID_LEN, Base

ROLES = ("viewer", "marketing", "finance", "admin")


class Operator(Base):
    """Someone who signs in to the console, with one role."""

    __tablename__ = "console_operators"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'marketing', 'finance', 'admin')", name="role_known"),
    )


class ConsoleSession(Base):
    """A signed-in browser: the cookie holds the token, HQ keeps its SHA-256."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("console_operators.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class RuleDraft(Base):
    """A rule set document being edited (published through ``admin.publish_rule_set``)."""

    __tablename__ = "console_rule_drafts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    base_version: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime]
    published_version: Mapped[str | None] = mapped_column(String(64))


class FlagDecision(Base):
    """An operator's decision on a flagged record: ``approved`` (accepted as it is) or
    ``reversed`` (an HQ adjustment, ``entry_id``, took ``points`` back)."""

    __tablename__ = "console_flag_decisions"
    flag_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("flagged_records.id"),
        primary_key=True,
        autoincrement=False,
    )
    decision: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    points: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime]

    __table_args__ = (
        CheckConstraint("decision IN ('approved', 'reversed')", name="decision_known"),
    )


# -- summaries --------------------------------------------------------------------------


class PointsDaily(Base):
    """Points moved per store-local day and entry kind, chain-wide."""

    __tablename__ = "console_points_daily"
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (PrimaryKeyConstraint("day", "kind"),)


class PointsStoreDaily(Base):
    """Points moved per day, store and kind (``store`` is the store code, or
    ``@channel`` for an entry written by a channel or by HQ itself)."""

    __tablename__ = "console_points_store_daily"
    day: Mapped[dt.date] = mapped_column(Date)
    store: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (PrimaryKeyConstraint("day", "store", "kind"),)


class Snapshot(Base):
    """A figure counted by a jobs run for its store-local day (members by tier,
    active members, members in all)."""

    __tablename__ = "console_snapshots"
    day: Mapped[dt.date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (PrimaryKeyConstraint("day", "metric", "key"),)


class MallTotal(Base):
    """Redemptions of one mall item, all time."""

    __tablename__ = "console_mall_totals"
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    redemptions: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)


class SummaryState(Base):
    """How far the summaries have read (``ledger_seq``) and when they were refreshed."""

    __tablename__ = "console_summary_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime]


# -- tier history, activity, schedules (migration 0040_console_more) ---------------------


class MemberTier(Base):
    """A member's tier as the summaries last saw it (``None``: an alias, not counted)."""

    __tablename__ = "console_member_tiers"
    member_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    tier: Mapped[str | None] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)


class TierChange(Base):
    """A change of a member's tier the summaries saw: joined (``from_tier`` None), moved,
    or merged into another member (``to_tier`` None); ``seq`` is the member row's change
    number then, ``at`` when it happened (registration, ``tier_since``, the merge)."""

    __tablename__ = "console_tier_history"
    member_id: Mapped[str] = mapped_column(String(ID_LEN))
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[dt.datetime]
    from_tier: Mapped[str | None] = mapped_column(String(16))
    to_tier: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (PrimaryKeyConstraint("member_id", "seq"),)


class TierDaily(Base):
    """Tier changes per store-local day, from and to ('' for none: joined, merged)."""

    __tablename__ = "console_tier_daily"
    day: Mapped[dt.date] = mapped_column(Date)
    from_tier: Mapped[str] = mapped_column(String(16))
    to_tier: Mapped[str] = mapped_column(String(16))
    members: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (PrimaryKeyConstraint("day", "from_tier", "to_tier"),)


class MemberDay(Base):
    """A member with an ``earn`` or ``spend`` entry on a store-local day."""

    __tablename__ = "console_member_days"
    day: Mapped[dt.date] = mapped_column(Date)
    member_id: Mapped[str] = mapped_column(String(ID_LEN))

    __table_args__ = (PrimaryKeyConstraint("day", "member_id"),)


class ActivityDaily(Base):
    """Per store-local day: active members, and the sales that moved points (count, fen)."""

    __tablename__ = "console_activity_daily"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    members: Mapped[int] = mapped_column(BigInteger)
    sales: Mapped[int] = mapped_column(BigInteger)
    sales_fen: Mapped[int] = mapped_column(BigInteger)


class RuleSchedule(Base):
    """A rule set document to publish as ``version`` at ``publish_at`` (by the jobs)."""

    __tablename__ = "console_rule_schedules"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)
    publish_at: Mapped[dt.datetime]
    activate: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(
            "status IN ('scheduled', 'published', 'cancelled', 'failed')", name="status_known"
        ),
        Index("ix_console_rule_schedules_status_publish_at", "status", "publish_at"),
    )
