"""What HQ's administrators do (the API's admin endpoints and the ``pos-hq`` CLI).

Every action is recorded in HQ's audit trail (:mod:`pos_app.hq.audit`) in the same
transaction, under ``actor``: ``admin:<id>`` through the API, ``cli:<user>`` from
``pos-hq``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select

from pos_app.core.errors import RuleSetError
from pos_app.core.rules import load_rule_set
from pos_app.hq import audit
from pos_app.hq.adjustments import require_floor
from pos_app.hq.audit import SYSTEM_ACTOR
from pos_app.hq.book import Book, Origin
from pos_app.hq.database import PHONE_KEY, HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, NotFound
from pos_app.hq.ledger import active_rules, ledger_sum, open_lots, resolve_member
from pos_app.hq.mall import set_points_price
from pos_app.hq.models import (
    Admin,
    Channel,
    Coupon,
    FlaggedRecord,
    MallItem,
    Member,
    Product,
    RuleSetVersion,
    Setting,
    SpendHold,
    Store,
    Till,
)
from pos_app.hq.schemas import (
    AdjustmentIn,
    CouponIn,
    CredentialOut,
    MallItemIn,
    ProductIn,
)
from pos_app.hq.security import Principal, new_id, new_token, token_hash


def create_store(
    db: HQDatabase,
    code: str,
    name: str,
    now: dt.datetime,
    region: str | None = None,
    *,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """A new store in ``region`` (default: a region of its own, named by its code).

    Raises:
        Conflict: the code is taken.
    """
    region = region or code
    with db.write() as s:
        if s.get(Store, code) is not None:
            raise Conflict(f"store {code} already exists")
        s.add(Store(code=code, name=name, created_at=now, active=True, region=region))
        s.flush()
        audit.record(s, now, actor, "store.create", code, name=name, region=region)
    return {"code": code, "name": name, "region": region}


def list_stores(db: HQDatabase) -> list[dict[str, Any]]:
    """Every store with its tills."""
    with db.read() as s:
        tills: dict[str, list[str]] = {}
        for till in s.scalars(select(Till).order_by(Till.id)):
            tills.setdefault(till.store_code, []).append(till.till_code)
        return [
            {
                "code": st.code,
                "name": st.name,
                "region": st.region,
                "active": st.active,
                "tills": tills.get(st.code, []),
            }
            for st in s.scalars(select(Store).order_by(Store.code))
        ]


def register_till(
    db: HQDatabase,
    store_code: str,
    till_code: str | None,
    now: dt.datetime,
    *,
    actor: str = SYSTEM_ACTOR,
) -> CredentialOut:
    """A till for ``store_code`` and its credential (shown once) with the phone-hash key.

    Raises:
        NotFound: no such store.
        Conflict: the till code is taken.
    """
    with db.write() as s:
        if s.get(Store, store_code) is None:
            raise NotFound(f"no store {store_code}")
        if till_code is None:
            count = s.scalar(select(func.count()).where(Till.store_code == store_code)) or 0
            taken = set(s.scalars(select(Till.till_code).where(Till.store_code == store_code)))
            number = count + 1
            while f"{number:02d}" in taken:
                number += 1
            till_code = f"{number:02d}"
        till_id = f"{store_code}-{till_code}"
        if s.get(Till, till_id) is not None:
            raise Conflict(f"till {till_code} of store {store_code} already exists")
        token = new_token("till")
        s.add(
            Till(
                id=till_id,
                store_code=store_code,
                till_code=till_code,
                token_hash=token_hash(token),
                created_at=now,
                active=True,
            )
        )
        s.flush()
        audit.record(s, now, actor, "till.register", till_id, store=store_code)
        key = s.get(Setting, PHONE_KEY)
        assert key is not None
        return CredentialOut(
            kind="till",
            id=till_id,
            token=token,
            store_code=store_code,
            till_code=till_code,
            phone_key=key.value,
        )


def create_admin(
    db: HQDatabase, name: str, now: dt.datetime, *, actor: str = SYSTEM_ACTOR
) -> CredentialOut:
    """An administrator and its credential (shown once)."""
    with db.write() as s:
        if s.scalars(select(Admin).where(Admin.name == name)).first() is not None:
            raise Conflict(f"admin {name} already exists")
        token = new_token("admin")
        admin_id = new_id("adm")[:32]
        s.add(Admin(id=admin_id, name=name, token_hash=token_hash(token), created_at=now))
        s.flush()
        audit.record(s, now, actor, "admin.create", admin_id, name=name)
        return CredentialOut(kind="admin", id=admin_id, token=token)


def create_channel(
    db: HQDatabase, code: str, name: str, now: dt.datetime, *, actor: str = SYSTEM_ACTOR
) -> CredentialOut:
    """A channel (online mall, member app) and its credential (shown once)."""
    with db.write() as s:
        if s.get(Channel, code) is not None:
            raise Conflict(f"channel {code} already exists")
        if code in ("store", "hq"):
            raise BadRequest(f"{code!r} is reserved")
        token = new_token("channel")
        s.add(Channel(code=code, name=name or code, token_hash=token_hash(token), created_at=now))
        s.flush()
        audit.record(s, now, actor, "channel.create", code, name=name or code)
        key = s.get(Setting, PHONE_KEY)
        return CredentialOut(
            kind="channel", id=code, token=token, phone_key=key.value if key else None
        )


def publish_rule_set(
    db: HQDatabase,
    document: dict[str, Any],
    activate: bool,
    now: dt.datetime,
    *,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Validate and publish a rule set version (every till pulls it).

    Raises:
        BadRequest: the document is invalid (the message names the field).
        Conflict: the version exists with a different document.
    """
    try:
        rules = load_rule_set(document)
    except RuleSetError as exc:
        raise BadRequest(exc.message(), field=exc.field) from None
    text = rules.to_json()
    with db.write() as s:
        row = s.get(RuleSetVersion, rules.version)
        if row is not None and row.document != text:
            raise Conflict(
                f"rule set version {rules.version} is already published with another "
                "document: publish a new version"
            )
        if row is None:
            row = RuleSetVersion(
                version=rules.version, document=text, published_at=now, active=False
            )
            s.add(row)
        if activate and not row.active:
            for other in s.scalars(select(RuleSetVersion).where(RuleSetVersion.active.is_(True))):
                other.active = False
            s.flush()
            row.active = True
        s.flush()
        audit.record(
            s, now, actor, "rule_set.publish", rules.version, activate=activate, active=row.active
        )
        return {"version": rules.version, "active": row.active}


def list_rule_sets(db: HQDatabase) -> list[dict[str, Any]]:
    """Published versions, newest first."""
    with db.read() as s:
        return [
            {"version": r.version, "active": r.active, "published_at": r.published_at.isoformat()}
            for r in s.scalars(select(RuleSetVersion).order_by(RuleSetVersion.published_at.desc()))
        ]


def upsert_products(
    db: HQDatabase, products: list[ProductIn], now: dt.datetime, *, actor: str = SYSTEM_ACTOR
) -> dict[str, int]:
    """Create or replace catalogue products."""
    with db.write() as s:
        for p in products:
            row = s.get(Product, p.sku) or Product(sku=p.sku)
            for name, value in p.model_dump().items():
                setattr(row, name, value)
            row.updated_at = now
            s.add(row)
            s.flush()
        audit.record(
            s,
            now,
            actor,
            "products.upsert",
            None,
            skus=[p.sku for p in products[:50]],
            count=len(products),
        )
    return {"products": len(products)}


def upsert_mall_items(
    db: HQDatabase, items: list[MallItemIn], now: dt.datetime, *, actor: str = SYSTEM_ACTOR
) -> dict[str, int]:
    """Create or replace points-mall items."""
    with db.write() as s:
        for item in items:
            row = s.get(MallItem, item.id)
            values = item.model_dump()
            if row is None:
                row = MallItem(id=item.id, price_version=1, price_changed_at=now)
            else:
                # a new price is a new version: quotes name it (pos_app.hq.mall)
                set_points_price(s, row, values["points_price"], now, actor)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            s.add(row)
            s.flush()
        audit.record(
            s,
            now,
            actor,
            "mall_items.upsert",
            None,
            ids=[i.id for i in items[:50]],
            count=len(items),
        )
    return {"items": len(items)}


def issue_coupons(
    db: HQDatabase, coupons: list[CouponIn], now: dt.datetime, *, actor: str = SYSTEM_ACTOR
) -> dict[str, int]:
    """Issue coupons (a code or an id used before is refused)."""
    with db.write() as s:
        for c in coupons:
            code = c.code.upper()
            if (
                s.get(Coupon, c.id) is not None
                or s.scalars(select(Coupon.id).where(Coupon.code == code)).first()
            ):
                raise Conflict(f"coupon {c.id} / {code} already exists")
            if c.member_id is not None and s.get(Member, c.member_id) is None:
                raise NotFound(f"no member {c.member_id}")
            s.add(
                Coupon(
                    id=c.id,
                    code=code,
                    member_id=c.member_id,
                    name=c.name,
                    amount_off_fen=c.amount_off_fen,
                    percent_off=c.percent_off,
                    min_order_fen=c.min_order_fen,
                    valid_from=c.valid_from,
                    valid_to=c.valid_to,
                    issued_at=now,
                    source="hq",
                )
            )
            s.flush()
        audit.record(
            s,
            now,
            actor,
            "coupons.issue",
            None,
            ids=[c.id for c in coupons[:50]],
            count=len(coupons),
        )
    return {"coupons": len(coupons)}


def adjust(
    db: HQDatabase, principal: Principal, body: AdjustmentIn, now: dt.datetime
) -> dict[str, Any]:
    """An HQ correction (every till pulls it); the same id again is answered the same.
    It may not take the balance below the rule set's ``adjustments.balance_floor``.

    Raises:
        NotFound: no such member.
        Conflict: the id was used for another movement, or the floor would be broken.
    """
    with db.write() as s:
        book = Book(s, now)
        named = book.member(body.member_id)
        if named is None:
            raise NotFound(f"no member {body.member_id}")
        member = book.canonical(named)
        existing = book.entry(body.id, member.id)
        if existing is not None:
            if existing.member_ref != body.member_id or existing.points != body.points:
                raise Conflict(f"entry id {body.id} is already used for another movement")
            return {"entry_id": body.id, "member_id": member.id, "balance": member.balance}
        rules = active_rules(s)
        if body.points < 0:
            require_floor(rules, member.id, member.balance + body.points)
        book.post(
            rules,
            member,
            entry_id=body.id,
            kind="adjust",
            points=body.points,
            created_at=now,
            origin=Origin("hq", None, None, None, now),
            member_ref=body.member_id,
            actor_id=principal.id,
            reason=body.reason,
            in_origin_ledger=False,
        )
        book.flush()
        audit.record(
            s,
            now,
            principal.key,
            "member.adjust",
            member.id,
            entry_id=body.id,
            points=body.points,
            reason=body.reason,
        )
        return {"entry_id": body.id, "member_id": member.id, "balance": member.balance}


def member_view(db: HQDatabase, member_id: str, now: dt.datetime) -> dict[str, Any]:
    """A member's authoritative figures: balance, ledger sum, lots, open holds, aliases."""
    from pos_app.hq.feed import member_data
    from pos_app.hq.holds import reserved_points

    with db.read() as s:
        member = resolve_member(s, member_id)
        if member is None:
            raise NotFound(f"no member {member_id}")
        reserved = reserved_points(s, member.id, now)
        return member_data(member) | {
            "ledger_sum": ledger_sum(s, member.id),
            "reserved": reserved,
            "available": member.balance - reserved,
            "aliases": list(s.scalars(select(Member.id).where(Member.alias_of == member.id))),
            "lots": [
                {
                    "id": lot.id,
                    "remaining": lot.remaining,
                    "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
                }
                for lot in open_lots(s, member.id)
            ],
            "open_holds": int(
                s.scalar(
                    select(func.count()).where(
                        SpendHold.member_id == member.id,
                        SpendHold.status.in_(("active", "posted")),
                    )
                )
                or 0
            ),
        }


def list_flags(db: HQDatabase, kind: str | None, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Flagged records, oldest first, after ``after_id``."""
    with db.read() as s:
        query = select(FlaggedRecord).where(FlaggedRecord.id > after_id)
        if kind:
            query = query.where(FlaggedRecord.kind == kind)
        rows = s.scalars(query.order_by(FlaggedRecord.id).limit(limit))
        return [
            {
                "id": f.id,
                "kind": f.kind,
                "member_id": f.member_id,
                "principal": f.principal,
                "event_id": f.event_id,
                "subject_id": f.subject_id,
                "detail": json.loads(json.dumps(f.detail, default=str)),
                "created_at": f.created_at.isoformat(),
                "resolved_at": f.resolved_at.isoformat() if f.resolved_at else None,
            }
            for f in rows
        ]
