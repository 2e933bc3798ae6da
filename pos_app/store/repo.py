"""The names the store's queries had before they moved to one module per aggregate.

Kept for callers that still import them from here (tests, benchmarks):
every query lives in its aggregate's module (``store.members``, ``store.ledger``,
``store.sales``, ``store.outbox``, ``store.settings``...). New code imports from there.
"""

from __future__ import annotations

from pos_app.store.ledger import (
    earn_lot_of_sale,
    ledger_sum,
    open_lot_rows,
    pending_offline_points,
    purchase_points_by_member,
    purchase_points_since,
    reversible_earned_points,
    spend_by_member,
    spend_moves_of_sale,
    spend_since,
)
from pos_app.store.members import (
    SQL_BY_HASH,
    SQL_BY_HINT,
    SQL_BY_LAST4,
    SQL_BY_NO,
    MemberRow,
    MemberState,
    member_by_no,
    member_by_phone_hash,
    member_state,
    members_by_hint,
    members_by_last4,
    next_member_no,
    save_member_state,
)
from pos_app.store.outbox import (
    AUDIT_KIND,
    PERSONAL_PATHS,
    SCRUB_SENT_SQL,
    pending_audit,
    pending_outbox,
    scrub_personal,
)
from pos_app.store.sales import next_counter, refunded_quantities, sale_exists
from pos_app.store.settings import get_setting, put_setting
from pos_app.store.types import to_db_time as db_time

__all__ = [
    "AUDIT_KIND",
    "PERSONAL_PATHS",
    "SCRUB_SENT_SQL",
    "SQL_BY_HASH",
    "SQL_BY_HINT",
    "SQL_BY_LAST4",
    "SQL_BY_NO",
    "MemberRow",
    "MemberState",
    "db_time",
    "earn_lot_of_sale",
    "get_setting",
    "ledger_sum",
    "member_by_no",
    "member_by_phone_hash",
    "member_state",
    "members_by_hint",
    "members_by_last4",
    "next_counter",
    "next_member_no",
    "open_lot_rows",
    "pending_audit",
    "pending_offline_points",
    "pending_outbox",
    "purchase_points_by_member",
    "purchase_points_since",
    "put_setting",
    "refunded_quantities",
    "reversible_earned_points",
    "sale_exists",
    "save_member_state",
    "scrub_personal",
    "spend_by_member",
    "spend_moves_of_sale",
    "spend_since",
]
