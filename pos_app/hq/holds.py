"""Spending safely online: authorise (hold) -> post -> settled by the sale, or void.

A hold reserves points against HQ's balance: while it is ``active`` (until it expires)
or ``posted`` (until its sale arrives) no other hold or online spend can use them. The
hold writes no ledger entry; the sale's own spend entry takes the points when the sale
is pushed, and settles the hold in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict, Forbidden, InsufficientPoints, NotFound
from pos_app.hq.ledger import resolve_member
from pos_app.hq.models import Member, SpendHold
from pos_app.hq.schemas import HoldOut, HoldPostRequest, HoldRequest
from pos_app.hq.scopes import add_scopes, members_seen, session_seq
from pos_app.hq.security import Principal


def reserved_points(
    session: Session, member_id: str, now: dt.datetime, exclude: str | None = None
) -> int:
    """Points the member's open holds reserve at ``now``."""
    query = select(func.coalesce(func.sum(SpendHold.points), 0)).where(
        SpendHold.member_id == member_id,
        or_(
            SpendHold.status == "posted",
            and_(SpendHold.status == "active", SpendHold.expires_at > now),
        ),
    )
    if exclude is not None:
        query = query.where(SpendHold.id != exclude)
    return int(session.execute(query).scalar_one())


def settle_for(session: Session, sale_id: str, now: dt.datetime) -> SpendHold | None:
    """The open hold of ``sale_id`` (a sale or a redemption), now settled; or None."""
    hold = session.scalars(
        select(SpendHold)
        .where(SpendHold.sale_id == sale_id, SpendHold.status.in_(("active", "posted")))
        .limit(1)
    ).first()
    if hold is not None:
        hold.status = "settled"
        hold.closed_at = now
    return hold


def expire_holds(session: Session, now: dt.datetime) -> int:
    """Mark active holds past their time as expired (they already reserve nothing)."""
    result = session.execute(
        update(SpendHold)
        .where(SpendHold.status == "active", SpendHold.expires_at <= now)
        .values(status="expired", closed_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _out(session: Session, hold: SpendHold, now: dt.datetime) -> HoldOut:
    member = session.get(Member, hold.member_id)
    assert member is not None
    status = hold.status
    if status == "active" and hold.expires_at <= now:
        status = "expired"
    return HoldOut(
        id=hold.id,
        member_id=hold.member_id,
        points=hold.points,
        status=status,
        expires_at=hold.expires_at.astimezone(dt.UTC),
        sale_id=hold.sale_id,
        balance=member.balance,
        available=member.balance - reserved_points(session, member.id, now),
    )


def _by_id(session: Session, hold_id: str) -> SpendHold | None:
    """The hold ``hold_id`` (its key starts with the member id: found by its own index)."""
    return session.scalars(select(SpendHold).where(SpendHold.id == hold_id)).first()


def _own(session: Session, principal: Principal, hold_id: str) -> SpendHold:
    hold = _by_id(session, hold_id)
    if hold is None:
        raise NotFound(f"no hold {hold_id}")
    if hold.principal != principal.key:
        raise Forbidden(f"hold {hold_id} belongs to another till or channel")
    return hold


def create_hold(
    db: HQDatabase, principal: Principal, body: HoldRequest, now: dt.datetime
) -> tuple[HoldOut, bool]:
    """Authorise a spend; returns (hold, created). The same request again is answered
    with the hold as it is now.

    Raises:
        NotFound: no such member.
        InsufficientPoints: the balance less other holds does not cover ``points``.
        Conflict: the hold id was used for another request.
    """
    with db.write() as s:
        existing = _by_id(s, body.id)
        if existing is not None:
            same = (
                existing.member_ref == body.member_id
                and existing.points == body.points
                and existing.principal == principal.key
            )
            if not same:
                raise Conflict(f"hold id {body.id} was already used for another request")
            return _out(s, existing, now), False
        member = resolve_member(s, body.member_id)
        if member is None:
            raise NotFound(f"no member {body.member_id}")
        available = member.balance - reserved_points(s, member.id, now)
        if body.points > available:
            raise InsufficientPoints(
                f"only {max(available, 0)} points are available",
                available=available,
                balance=member.balance,
            )
        hold = SpendHold(
            id=body.id,
            member_id=member.id,
            member_ref=body.member_id,
            points=body.points,
            status="active",
            principal=principal.key,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=body.ttl_seconds),
            sale_id=body.sale_id,
        )
        s.add(hold)
        seen = members_seen(principal, [(body.member_id, "seen")], lambda _m: member.id)
        add_scopes(s, seen, session_seq(s), at=now)
        s.flush()
        return _out(s, hold, now), True


def post_hold(
    db: HQDatabase, principal: Principal, hold_id: str, body: HoldPostRequest, now: dt.datetime
) -> HoldOut:
    """The spend is confirmed: the points stay reserved until sale ``sale_id`` arrives.

    Raises:
        Conflict: the hold expired, was voided, or is posted for another sale.
    """
    with db.write() as s:
        hold = _own(s, principal, hold_id)
        if hold.status in ("posted", "settled"):
            if hold.sale_id != body.sale_id:
                raise Conflict(f"hold {hold_id} is posted for sale {hold.sale_id}")
            return _out(s, hold, now)
        if hold.status != "active" or hold.expires_at <= now:
            raise Conflict(
                f"hold {hold_id} can no longer be posted: it is {_out(s, hold, now).status}"
            )
        if hold.sale_id not in (None, body.sale_id):
            raise Conflict(f"hold {hold_id} was authorised for sale {hold.sale_id}")
        hold.status = "posted"
        hold.sale_id = body.sale_id
        hold.posted_at = now
        s.flush()
        return _out(s, hold, now)


def void_hold(db: HQDatabase, principal: Principal, hold_id: str, now: dt.datetime) -> HoldOut:
    """Release the points (the sale was abandoned). Voiding twice is harmless.

    Raises:
        Conflict: the sale already took the points.
    """
    with db.write() as s:
        hold = _own(s, principal, hold_id)
        if hold.status == "settled":
            raise Conflict(f"hold {hold_id} is settled: its sale already took the points")
        if hold.status in ("active", "posted"):
            hold.status = "voided"
            hold.closed_at = now
            s.flush()
        return _out(s, hold, now)


def get_hold(db: HQDatabase, principal: Principal, hold_id: str, now: dt.datetime) -> HoldOut:
    """A hold of the caller's."""
    with db.read() as s:
        return _out(s, _own(s, principal, hold_id), now)
