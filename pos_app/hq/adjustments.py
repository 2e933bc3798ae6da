"""What HQ accepts of a manual adjustment, and the adjustments it holds for review.

A till's ``adjustment`` event (and any ``adjust`` entry a till's registration carries)
is checked against the active rule set's ``adjustments`` section and HQ's own roster of
store managers, and REFUSED (never merely flagged) when:

* an entry's ``actor_id`` is not an active manager HQ knows for the till's store
  (``store_managers``: ``pos-hq add-manager``, ``POST /v1/admin/stores/{store}/managers``);
* an entry moves more than ``adjustments.max_points`` either way;
* it would take a balance below ``adjustments.balance_floor`` (HQ's own adjustments too).

An adjustment for a member outside the till's region is refused, or held for review
(``adjustments.out_of_region``): nothing moves until an admin approves it (the till's
entries are posted as the till's) or rejects it (they are posted and reversed by an HQ
correction every till pulls, so the till that already holds them ends where it would
have without them).

Regions: a member is in a till's region when the till's region holds it (its scope,
:mod:`pos_app.hq.scopes`: registered, seen, assigned or fetched there) or when a store of
that region registered it (a registration in the same request has no scope row yet):
:func:`in_region` is the one place that decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from pos_app.core.rules import RuleSet
from pos_app.hq import audit
from pos_app.hq.book import Book, MemberRow
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, Forbidden, NotFound
from pos_app.hq.models import AdjustmentReview, MemberScope, Store, StoreManager
from pos_app.hq.schemas import EntryIn
from pos_app.hq.security import Principal


def in_region(book: Book, member: MemberRow, canonical: MemberRow, principal: Principal) -> bool:
    """Whether a member (or the member it is merged into) belongs to the region of the
    principal's till (see the module docstring)."""
    stores = {m.registered_store for m in (member, canonical)} - {None}
    if principal.store_code is not None and principal.store_code in stores:
        return True
    if principal.region is None:
        return False
    ids = sorted({member.id, canonical.id})
    held = book.execute(
        select(MemberScope.member_id)
        .where(MemberScope.member_id.in_(ids), MemberScope.region == principal.region)
        .limit(1)
    ).first()
    if held is not None:
        return True
    return bool(stores) and (
        book.execute(
            select(Store.code)
            .where(Store.code.in_(sorted(stores)), Store.region == principal.region)
            .limit(1)
        ).first()
        is not None
    )


def check_till_entry(book: Book, rules: RuleSet, principal: Principal, e: EntryIn) -> None:
    """Refuse a till's ``adjust`` entry above the cap or without a manager HQ knows.

    Raises:
        BadRequest: above ``adjustments.max_points``.
        Forbidden: ``actor_id`` is not an active manager of the till's store.
    """
    cap = rules.adjustments.max_points
    if abs(e.points) > cap:
        raise BadRequest(
            f"entry {e.id}: an adjustment moves at most {cap} points (rule set "
            f"{rules.version}), not {e.points}",
            points=e.points,
            max_points=cap,
        )
    store = principal.store_code
    if not e.actor_id or store is None or not book.is_manager(store, e.actor_id):
        raise Forbidden(
            f"entry {e.id}: an adjustment needs the approving manager of store {store} as "
            f"its actor_id, and HQ knows no manager {e.actor_id!r} there",
            actor_id=e.actor_id,
        )


def check_floor(book: Book, rules: RuleSet, entries: Sequence[EntryIn]) -> None:
    """Refuse adjustment ``entries`` that would leave a balance below
    ``adjustments.balance_floor`` (checked before anything is posted).

    Raises:
        Conflict: a member's balance would end below the floor.
    """
    projected: dict[str, int] = {}
    lowered: set[str] = set()
    for e in entries:
        named = book.member(e.member_id)
        if named is None:
            continue  # refused as not known yet when it is posted
        canonical = book.canonical(named)
        if canonical.id not in projected:
            projected[canonical.id] = canonical.balance
        if named is not canonical and e.member_id not in projected:
            projected[e.member_id] = 0  # marker: the alias's own balance counted once
            projected[canonical.id] += named.balance
        projected[canonical.id] += e.points
        if e.points < 0:
            lowered.add(canonical.id)
    for member_id in sorted(lowered):
        require_floor(rules, member_id, projected[member_id])


def require_floor(rules: RuleSet, member_id: str, balance_after: int) -> None:
    """Refuse a balance an adjustment would leave below ``adjustments.balance_floor``.

    Raises:
        Conflict: ``balance_after`` is below the floor.
    """
    floor = rules.adjustments.balance_floor
    if balance_after < floor:
        raise Conflict(
            f"the adjustment would leave member {member_id} with {balance_after} points, "
            f"below the floor of {floor} (rule set {rules.version})",
            member_id=member_id,
            balance_after=balance_after,
            floor=floor,
        )


def is_manager(session: Any, store_code: str, manager_id: str) -> bool:
    """Whether ``manager_id`` is an active manager of ``store_code`` at HQ."""
    row = session.get(StoreManager, (store_code, manager_id))
    return row is not None and row.active


# -- the roster ---------------------------------------------------------------------------


def add_manager(
    db: HQDatabase,
    store_code: str,
    manager_id: str,
    name: str,
    now: dt.datetime,
    *,
    actor: str = audit.SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Make ``manager_id`` (the till user id she approves with) a manager of the store.

    Raises:
        NotFound: no such store.
    """
    with db.write() as s:
        if s.get(Store, store_code) is None:
            raise NotFound(f"no store {store_code}")
        row = s.get(StoreManager, (store_code, manager_id))
        if row is None:
            row = StoreManager(
                store_code=store_code,
                manager_id=manager_id,
                name=name,
                active=True,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
        else:
            row.name, row.active, row.updated_at = name or row.name, True, now
        s.flush()
        audit.record(s, now, actor, "manager.add", manager_id, store=store_code, name=row.name)
        return _manager(row)


def remove_manager(
    db: HQDatabase, store_code: str, manager_id: str, now: dt.datetime, *, actor: str
) -> dict[str, Any]:
    """She approves no more adjustments (the row stays, inactive).

    Raises:
        NotFound: she is not a manager of the store.
    """
    with db.write() as s:
        row = s.get(StoreManager, (store_code, manager_id))
        if row is None:
            raise NotFound(f"{manager_id} is not a manager of store {store_code}")
        row.active, row.updated_at = False, now
        s.flush()
        audit.record(s, now, actor, "manager.remove", manager_id, store=store_code)
        return _manager(row)


def list_managers(db: HQDatabase, store_code: str) -> list[dict[str, Any]]:
    """The store's managers, active or not."""
    with db.read() as s:
        if s.get(Store, store_code) is None:
            raise NotFound(f"no store {store_code}")
        rows = s.scalars(
            select(StoreManager)
            .where(StoreManager.store_code == store_code)
            .order_by(StoreManager.manager_id)
        )
        return [_manager(row) for row in rows]


def _manager(row: StoreManager) -> dict[str, Any]:
    return {
        "store": row.store_code,
        "manager_id": row.manager_id,
        "name": row.name,
        "active": row.active,
    }


# -- reviews ------------------------------------------------------------------------------


def list_reviews(db: HQDatabase, status: str | None) -> list[dict[str, Any]]:
    """Adjustments held for review (or with ``status``), oldest first."""
    with db.read() as s:
        query = select(AdjustmentReview).order_by(AdjustmentReview.created_at)
        if status:
            query = query.where(AdjustmentReview.status == status)
        return [_review(row) for row in s.scalars(query.limit(1000))]


def _review(row: AdjustmentReview) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "principal": row.principal,
        "store": row.store_code,
        "till_id": row.till_id,
        "why": row.why,
        "entries": row.payload.get("entries", []),
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decided_by": row.decided_by,
    }


def decide_review(
    db: HQDatabase, review_id: str, approve: bool, now: dt.datetime, *, actor: str
) -> dict[str, Any]:
    """Approve (post the till's entries) or reject (post them and their reversal).

    Raises:
        NotFound: no such review.
        Conflict: already decided, or approving would break the balance floor.
    """
    from pos_app.hq.config import HQSettings
    from pos_app.hq.events import EventContext, post_client_entry, sweep_aliases
    from pos_app.hq.schemas import EntriesPayload

    with db.write() as s:
        row = s.get(AdjustmentReview, review_id)
        if row is None:
            raise NotFound(f"no adjustment review {review_id}")
        if row.status != "held":
            raise Conflict(f"adjustment {review_id} was already {row.status}")
        payload = EntriesPayload.model_validate(row.payload)
        till_code = (row.till_id or "").removeprefix(f"{row.store_code}-") or None
        till = Principal("till", row.till_id or "", row.store_code, till_code)
        book = Book(s, now)
        ctx = EventContext(book, till, review_id, now, HQSettings())
        rules = book.active_rules()
        if approve:
            check_floor(book, rules, payload.entries)
        for e in payload.entries:
            post_client_entry(ctx, rules, e)
        sweep_aliases(ctx, rules)
        if not approve:
            _reverse(ctx, rules, payload.entries)
        book.flush()
        row.status = "approved" if approve else "rejected"
        row.decided_at, row.decided_by = now, actor
        s.flush()
        audit.record(s, now, actor, f"adjustment_review.{row.status}", review_id)
        return _review(row)


def _reverse(ctx: Any, rules: RuleSet, entries: Sequence[EntryIn]) -> None:
    """HQ corrections taking back what ``entries`` moved (every till pulls them)."""
    book = ctx.book
    for e in entries:
        named = book.member(e.member_id)
        assert named is not None  # posted just before
        member = book.canonical(named)
        book.post(
            rules,
            member,
            entry_id=ctx.derived_entry_id("review_reversal", member.id),
            kind="adjust",
            points=-e.points,
            created_at=ctx.received_at,
            origin=ctx.hq_origin,
            in_origin_ledger=False,
            reason=f"adjustment {e.id} rejected at HQ review",
        )
