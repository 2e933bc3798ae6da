"""Applying one pushed event inside its transaction: sale, refund, registration,
adjustment, expiry, redemption.

HQ does not trust the writer blindly. It checks that an event is consistent with itself
(entry signs, sums, ids) and refuses it when it is not; it re-quotes every sale with
:func:`pos_app.core.quote.quote_basket` under the rule set version the till used and
flags any disagreement; it flags an overspend, a refund that leaves a debt, a clock
that is off. What a till reports having done is recorded as it happened, entry by
entry under the till's ids, so the till's ledger and HQ's stay the same; corrections
are new HQ entries every till pulls.

Entries naming an alias member (a phone registered twice) are posted on the alias and
its balance is then moved to the canonical member by a ``merge_out``/``merge_in`` pair,
so every till can replay the same movements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.core.calendar import local_date
from pos_app.core.errors import InvalidInput, LoyaltyError
from pos_app.core.lots import restore_expiries
from pos_app.core.mall import MallItem as CoreMallItem
from pos_app.core.mall import price_at
from pos_app.core.quote import BasketLine, CouponInput, MemberContext, QuotedLine, quote_basket
from pos_app.core.refunds import quote_refund
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import last_review_date, tier_after_activity, window_start
from pos_app.hq.config import HQSettings
from pos_app.hq.errors import BadRequest, Conflict, Forbidden, InsufficientPoints, RetryLater
from pos_app.hq.holds import reserved_points, settle_for
from pos_app.hq.ledger import (
    Origin,
    active_rules,
    as_sold_lines,
    due_points,
    earn_lots_of_sale,
    existing_entry,
    open_lots,
    post_entry,
    purchase_points_between,
    refunded_quantities,
    resolve_member,
    reversible_earned_points,
    rules_for,
    spend_moves_of_sale,
    spend_since,
)
from pos_app.hq.models import (
    Coupon,
    FlaggedRecord,
    LedgerEntry,
    MallItem,
    Member,
    PointLot,
    Redemption,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
)
from pos_app.hq.schemas import (
    EntriesPayload,
    EntryIn,
    MemberPayload,
    Payload,
    RedemptionPayload,
    RefundPayload,
    SalePayload,
)
from pos_app.hq.security import Principal, derived_id

TILL_KINDS = frozenset({"sale", "refund", "member_registered", "adjustment", "expiry"})
CHANNEL_KINDS = frozenset({"sale", "refund", "member_registered", "redemption"})


@dataclass
class EventContext:
    """One event being applied.

    Attributes:
        flags: Kinds of the flagged records this event raised (returned to the writer).
        touched: Members whose rows the event posted on (aliases are swept after).
    """

    session: Session
    principal: Principal
    event_id: str
    received_at: dt.datetime
    settings: HQSettings
    flags: list[str] = field(default_factory=list)
    touched: dict[str, Member] = field(default_factory=dict)
    _derived: dict[tuple[str, str], int] = field(default_factory=dict)

    def derived_entry_id(self, kind: str, member_id: str) -> str:
        """The id of the n-th ``kind`` entry HQ writes for ``member_id`` while applying
        this event: the same event applied again (HQ restored from a backup) gives the
        same ids, so tills that pulled them once do not count them twice."""
        n = self._derived.get((kind, member_id), 0)
        self._derived[(kind, member_id)] = n + 1
        return derived_id("event", self.event_id, kind, member_id, str(n))

    @property
    def origin(self) -> Origin:
        """The writer, as recorded on its entries."""
        p = self.principal
        return Origin(
            p.source_channel,
            p.store_code,
            p.id if p.kind == "till" else None,
            self.event_id,
            self.received_at,
        )

    @property
    def hq_origin(self) -> Origin:
        """HQ itself (corrections, merges), in this event's transaction."""
        return Origin("hq", None, None, self.event_id, self.received_at)

    def flag(
        self,
        kind: str,
        *,
        member_id: str | None = None,
        subject_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Record something a person should review."""
        self.session.add(
            FlaggedRecord(
                kind=kind,
                member_id=member_id,
                principal=self.principal.key,
                event_id=self.event_id,
                subject_id=subject_id,
                detail=detail,
                created_at=self.received_at,
            )
        )
        self.flags.append(kind)


Applier = Callable[[EventContext, Any], dict[str, Any]]


# -- helpers ----------------------------------------------------------------------------


def _unique(values: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise BadRequest(f"{what} {value} appears twice")
        seen.add(value)


def _named_member(ctx: EventContext, member_id: str) -> Member:
    member = ctx.session.get(Member, member_id)
    if member is None:
        raise RetryLater(
            f"member {member_id} is not known at HQ yet: push its registration first",
            member_id=member_id,
        )
    return member


def _canonical(ctx: EventContext, member: Member) -> Member:
    canonical = resolve_member(ctx.session, member.id)
    assert canonical is not None
    return canonical


def member_ids_of(session: Session, canonical_id: str) -> list[str]:
    """The canonical member and every alias merged into it."""
    aliases = session.scalars(select(Member.id).where(Member.alias_of == canonical_id))
    return [canonical_id, *aliases]


def post_client_entry(
    ctx: EventContext,
    rules: RuleSet,
    e: EntryIn,
    *,
    sale_id: str | None = None,
    refund_id: str | None = None,
    prefer_lots: Sequence[str] = (),
    credit_expiries: Sequence[tuple[int, dt.date | None]] | None = None,
) -> LedgerEntry | None:
    """Post an entry the writer already holds, under its id (None if already posted)."""
    if existing_entry(ctx.session, e.id, e.member_id, e.kind, e.points):
        return None
    member = _named_member(ctx, e.member_id)
    ctx.touched[member.id] = member
    return post_entry(
        ctx.session,
        rules,
        member,
        entry_id=e.id,
        kind=e.kind,
        points=e.points,
        created_at=e.created_at,
        origin=ctx.origin,
        member_ref=e.member_id,
        sale_id=sale_id,
        refund_id=refund_id,
        rule_set_version=e.rule_set_version,
        actor_id=e.actor_id,
        reason=e.reason,
        prefer_lots=prefer_lots,
        credit_expiries=credit_expiries,
    )


def sweep_aliases(ctx: EventContext) -> None:
    """Move the balance of every touched alias to its canonical member."""
    for member in list(ctx.touched.values()):
        if member.alias_of is None or member.balance == 0:
            continue
        keep = _canonical(ctx, member)
        rules = active_rules(ctx.session)
        points = member.balance
        lots = open_lots(ctx.session, member.id)
        expiries = [(lot.remaining, lot.expires_on) for lot in lots] if points > 0 else None
        common = {"created_at": ctx.received_at, "origin": ctx.hq_origin, "in_origin_ledger": False}
        post_entry(
            ctx.session,
            rules,
            member,
            entry_id=ctx.derived_entry_id("merge_out", member.id),
            kind="merge_out",
            points=-points,
            prefer_lots=[lot.id for lot in lots],
            reason=f"merged into {keep.id}",
            **common,  # type: ignore[arg-type]
        )
        post_entry(
            ctx.session,
            rules,
            keep,
            entry_id=ctx.derived_entry_id("merge_in", keep.id),
            kind="merge_in",
            points=points,
            credit_expiries=expiries or None,
            reason=f"merged from {member.id}",
            **common,  # type: ignore[arg-type]
        )


def _check_entries(
    entries: Sequence[EntryIn],
    kinds: frozenset[str],
    *,
    what: str,
    member_id: str | None = None,
    sale_id: str | None = None,
    refund_id: str | None = None,
) -> None:
    _unique((e.id for e in entries), "entry id")
    for i, e in enumerate(entries):
        where = f"entries[{i}]"
        if e.kind not in kinds:
            raise BadRequest(f"{where}: a {what} carries no {e.kind} entry")
        if member_id is not None and e.member_id != member_id and e.reason != "referral_referrer":
            raise BadRequest(f"{where}: the entry is for member {e.member_id}, not {member_id}")
        if sale_id is not None and e.sale_id not in (None, sale_id):
            raise BadRequest(f"{where}: the entry belongs to sale {e.sale_id}, not {sale_id}")
        if refund_id is not None and e.refund_id not in (None, refund_id):
            raise BadRequest(f"{where}: the entry belongs to refund {e.refund_id}")


# -- member_registered ------------------------------------------------------------------


def apply_member_registered(ctx: EventContext, p: MemberPayload) -> dict[str, Any]:
    """Register a member; the same phone already at HQ makes this id an alias of it."""
    s = ctx.session
    m = p.member
    _check_entries(p.entries, frozenset({"bonus", "adjust"}), what="registration", member_id=m.id)
    digest = bytes.fromhex(m.phone_hash)
    rules = active_rules(s)
    row = s.get(Member, m.id)
    canonical: Member | None = None
    if row is not None:
        if row.phone_hash != digest:
            raise Conflict(f"member id {m.id} is already registered with another phone")
    else:
        canonical = s.scalars(
            select(Member).where(Member.phone_hash == digest, Member.alias_of.is_(None))
        ).first()
        member_no = m.member_no
        if member_no is not None and s.scalar(
            select(Member.id).where(Member.member_no == member_no)
        ):
            ctx.flag("member_no_collision", member_id=m.id, member_no=member_no)
            member_no = None
        p_ = ctx.principal
        today = local_date(rules, ctx.received_at)
        row = Member(
            id=m.id,
            member_no=member_no,
            phone_hash=digest,
            phone_last4=m.phone_last4,
            phone_masked=m.phone_masked,
            name=m.name,
            birthday=m.birthday,
            tier=rules.tier_codes()[0],
            tier_since=min(m.registered_at, ctx.received_at),
            last_review=last_review_date(rules, today),
            referral_code=m.referral_code,
            referred_by=m.referred_by,
            registered_at=m.registered_at,
            registered_channel=p_.source_channel,
            registered_store=p_.store_code,
            registered_till=p_.id if p_.kind == "till" else None,
            first_purchase_at=None,
            birthday_gift_year=None,
            balance=0,
            alias_of=canonical.id if canonical is not None else None,
            received_at=ctx.received_at,
            updated_at=ctx.received_at,
        )
        s.add(row)
        s.flush()
    bonus = 0
    for e in p.entries:
        if post_client_entry(ctx, rules, e) is not None and e.reason == "registration":
            bonus += e.points
    if canonical is not None:
        if not canonical.name and m.name:
            canonical.name = m.name
        if canonical.birthday is None and m.birthday is not None:
            canonical.birthday = m.birthday
        ctx.flag(
            "merge",
            member_id=canonical.id,
            subject_id=m.id,
            kept=canonical.id,
            alias=m.id,
            phone_last4=m.phone_last4,
            duplicate_registration_bonus=bonus,
        )
    sweep_aliases(ctx)
    if canonical is not None and bonus:
        post_entry(
            s,
            rules,
            canonical,
            entry_id=ctx.derived_entry_id("duplicate_bonus", canonical.id),
            kind="adjust",
            points=-bonus,
            created_at=ctx.received_at,
            origin=ctx.hq_origin,
            in_origin_ledger=False,
            reason=f"duplicate registration bonus of {m.id} (same phone as {canonical.id})",
        )
    kept = resolve_member(s, row.id)
    assert kept is not None
    return {
        "member_id": m.id,
        "canonical_id": kept.id,
        "merged": row.alias_of is not None,
        "balance": kept.balance,
    }


# -- sale -------------------------------------------------------------------------------


def _requote(
    ctx: EventContext,
    rules: RuleSet,
    p: SalePayload,
    member: Member | None,
    member_ids: Sequence[str],
    bonus_points: int,
) -> tuple[dict[str, Any], list[QuotedLine] | None]:
    """HQ's own quote of the sale, with the till's figures it disagrees with flagged."""
    s = ctx.session
    h = p.sale
    basket = [
        BasketLine(
            sku=ln.sku,
            name=ln.name or ln.sku,
            category=ln.category,
            quantity=ln.quantity,
            unit_price_fen=ln.unit_price_fen,
            line_discount_fen=ln.line_discount_fen,
            is_reward=ln.is_reward,
        )
        for ln in sorted(p.lines, key=lambda ln: ln.line_no)
    ]
    member_ctx = None
    if member is not None:
        today = local_date(rules, h.created_at)
        midnight = dt.datetime.combine(today, dt.time(), tzinfo=rules.zone)
        earned_today = purchase_points_between(
            s, member_ids, midnight, h.created_at, exclude_sale=h.id
        )
        member_ctx = MemberContext(
            member_id=h.member_id or member.id,
            tier=member.tier if member.tier in rules.tier_codes() else rules.tier_codes()[0],
            balance=max(member.balance, h.points_used, 0),
            birthday=member.birthday,
            first_purchase=member.first_purchase_at is None
            or member.first_purchase_at > h.created_at,
            earned_today=max(0, earned_today),
            referred_by=member.referred_by,
            birthday_gift_year=member.birthday_gift_year,
        )
    coupons: list[CouponInput] = []
    for code in h.coupons:
        row = s.scalars(select(Coupon).where(Coupon.code == code.strip().upper())).first()
        if row is not None:
            coupons.append(
                CouponInput(row.code, row.amount_off_fen, row.percent_off, row.min_order_fen)
            )

    def run(with_coupons: Sequence[CouponInput]) -> Any:
        return quote_basket(
            rules,
            basket,
            member=member_ctx,
            at=h.created_at,
            coupons=with_coupons,
            points_to_use=h.points_used,
        )

    try:
        try:
            q = run(coupons)
        except InvalidInput as exc:
            if not coupons:
                raise
            ctx.flag("coupon_invalid", member_id=_mid(member), subject_id=h.id, message=str(exc))
            q = run(())
    except InvalidInput as exc:
        raise BadRequest(f"HQ cannot quote this sale: {exc.message()}") from None
    except LoyaltyError as exc:
        ctx.flag("requote_refused", member_id=_mid(member), subject_id=h.id, message=str(exc))
        return {"error": str(exc)}, None
    mismatches = {
        name: {"till": till, "hq": hq}
        for name, till, hq in (
            ("total_fen", h.total_fen, q.total_fen),
            ("cash_due_fen", h.cash_due_fen, q.cash_due_fen),
            ("points_earned", h.points_earned, q.points_earned),
            ("bonus_points", bonus_points, sum(b.points for b in q.bonuses)),
        )
        if till != hq
    }
    if mismatches:
        ctx.flag("requote_mismatch", member_id=_mid(member), subject_id=h.id, **mismatches)
    return q.as_dict() | {"mismatches": mismatches}, list(q.lines)


def _mid(member: Member | None) -> str | None:
    return member.id if member is not None else None


def apply_sale(ctx: EventContext, p: SalePayload) -> dict[str, Any]:
    """Record a sale with every point it moved, re-quoted and checked by HQ."""
    s = ctx.session
    h = p.sale
    if s.get(Sale, h.id) is not None:
        raise Conflict(f"sale {h.id} is already recorded (by another event)", sale_id=h.id)
    _unique((ln.id for ln in p.lines), "line id")
    _unique((str(ln.line_no) for ln in p.lines), "line_no")
    if h.member_id is None:
        if p.entries or p.remote_bonuses or h.points_used or h.points_earned:
            raise BadRequest("a sale without a member moves no points")
        member = None
    else:
        member = _canonical(ctx, _named_member(ctx, h.member_id))
    # The member and the aliases merged into it (asked once: the quote and the tier need it).
    member_ids = member_ids_of(s, member.id) if member is not None else []
    _check_entries(
        p.entries,
        frozenset({"spend", "earn", "bonus"}),
        what="sale",
        member_id=h.member_id,
        sale_id=h.id,
    )
    spent = -sum(e.points for e in p.entries if e.kind == "spend")
    earned = sum(e.points for e in p.entries if e.kind == "earn")
    if spent != h.points_used:
        raise BadRequest(
            f"the spend entries take {spent} points but points_used is {h.points_used}"
        )
    if earned != h.points_earned:
        raise BadRequest(
            f"the earn entries add {earned} points but points_earned is {h.points_earned}"
        )
    if h.cash_due_fen > h.total_fen:
        raise BadRequest("cash_due_fen is larger than total_fen")
    paid = sum(t.amount_fen for t in p.tenders)
    if p.tenders and paid != h.cash_due_fen:
        ctx.flag(
            "tender_mismatch",
            member_id=_mid(member),
            subject_id=h.id,
            paid=paid,
            due=h.cash_due_fen,
        )
    skew = (h.created_at - ctx.received_at).total_seconds()
    if skew > ctx.settings.clock_skew_seconds:
        ctx.flag(
            "clock_skew", subject_id=h.id, seconds=int(skew), created_at=h.created_at.isoformat()
        )

    rules = rules_for(s, h.rule_set_version)
    if rules is None:
        ctx.flag(
            "unknown_rule_set", member_id=_mid(member), subject_id=h.id, version=h.rule_set_version
        )
        hq_quote: dict[str, Any] = {"error": f"unknown rule set version {h.rule_set_version}"}
        quoted: list[QuotedLine] | None = None
    else:
        bonus_points = sum(e.points for e in p.entries if e.kind == "bonus") + sum(
            b.points for b in p.remote_bonuses
        )
        hq_quote, quoted = _requote(ctx, rules, p, member, member_ids, bonus_points)
    posting_rules = rules or active_rules(s)

    sale = Sale(
        id=h.id,
        event_id=ctx.event_id,
        receipt_no=h.receipt_no,
        source_channel=ctx.principal.source_channel,
        store_code=ctx.principal.store_code,
        till_id=ctx.principal.id if ctx.principal.kind == "till" else None,
        cashier_id=h.cashier_id,
        member_id=_mid(member),
        member_ref=h.member_id,
        created_at=h.created_at,
        received_at=ctx.received_at,
        total_fen=h.total_fen,
        cash_due_fen=h.cash_due_fen,
        points_used=h.points_used,
        points_earned=h.points_earned,
        rule_set_version=h.rule_set_version,
        coupons=list(h.coupons),
        tenders=[t.model_dump() for t in p.tenders],
        hq_quote=hq_quote,
        verified=quoted is not None and not hq_quote.get("mismatches"),
    )
    s.add(sale)
    s.flush()
    lines = sorted(p.lines, key=lambda ln: ln.line_no)
    for i, ln in enumerate(lines):
        ql = quoted[i] if quoted is not None else None
        s.add(
            SaleLine(
                id=ln.id,
                sale_id=h.id,
                line_no=ln.line_no,
                sku=ln.sku,
                category=ln.category,
                quantity=ln.quantity,
                unit_price_fen=ln.unit_price_fen,
                line_discount_fen=ln.line_discount_fen,
                is_reward=ln.is_reward,
                cash_fen=ql.cash_fen if ql else None,
                points_used=ql.points_used if ql else None,
                points_value_fen=ql.points_value_fen if ql else None,
                earn_points=ql.earn_points if ql else None,
            )
        )
    for code in h.coupons:
        coupon = s.scalars(select(Coupon).where(Coupon.code == code.strip().upper())).first()
        if coupon is None:
            ctx.flag("unknown_coupon", member_id=_mid(member), subject_id=h.id, code=code)
        elif coupon.used_sale_id not in (None, h.id):
            ctx.flag(
                "coupon_reused",
                member_id=_mid(member),
                subject_id=h.id,
                code=code,
                first_sale=coupon.used_sale_id,
            )
        else:
            coupon.used_at = h.created_at
            coupon.used_sale_id = h.id
    s.flush()

    balance_before = member.balance if member is not None else 0
    hold = settle_for(s, h.id, ctx.received_at) if h.points_used else None
    for e in p.entries:
        post_client_entry(ctx, posting_rules, e, sale_id=h.id)
    for b in p.remote_bonuses:
        target = s.get(Member, b.member_id)
        if target is None:
            ctx.flag("unknown_member_bonus", member_id=b.member_id, subject_id=h.id, bonus=b.kind)
            continue
        if existing_entry(s, b.id, b.member_id, "bonus", b.points):
            continue
        ctx.touched[target.id] = target
        post_entry(
            s,
            posting_rules,
            target,
            entry_id=b.id,
            kind="bonus",
            points=b.points,
            created_at=h.created_at,
            origin=ctx.origin,
            member_ref=b.member_id,
            sale_id=h.id,
            rule_set_version=h.rule_set_version,
            reason=b.kind,
            in_origin_ledger=False,
        )
    sweep_aliases(ctx)
    if member is None:
        return {"sale_id": h.id, "member_id": None, "verified": sale.verified, "flags": ctx.flags}

    allowance = posting_rules.spending.offline_allowance_points
    if h.points_used and hold is None and h.points_used > allowance:
        ctx.flag(
            "offline_allowance_exceeded",
            member_id=member.id,
            subject_id=h.id,
            points_used=h.points_used,
            allowance=allowance,
        )
    after_spend = balance_before - h.points_used
    if h.points_used and after_spend < 0:
        ctx.flag(
            "overspend",
            member_id=member.id,
            subject_id=h.id,
            balance_before=balance_before,
            points_used=h.points_used,
            overspend=h.points_used - max(balance_before, 0),
            balance_after=member.balance,
            held=hold is not None,
        )
    if member.first_purchase_at is None or member.first_purchase_at > h.created_at:
        member.first_purchase_at = h.created_at
    if any(e.reason == "birthday_gift" for e in p.entries if e.kind == "bonus"):
        member.birthday_gift_year = local_date(posting_rules, h.created_at).year
    _upgrade_tier(ctx, member, member_ids)
    return {
        "sale_id": h.id,
        "member_id": member.id,
        "balance": member.balance,
        "tier": member.tier,
        "verified": sale.verified,
        "flags": ctx.flags,
    }


def _upgrade_tier(ctx: EventContext, member: Member, member_ids: Sequence[str]) -> None:
    s = ctx.session
    rules = active_rules(s)
    if rules.is_top_tier(member.tier):  # a tier only goes up between reviews
        return
    today = local_date(rules, ctx.received_at)
    since = dt.datetime.combine(window_start(rules, today), dt.time(), tzinfo=rules.zone)
    s.flush()
    points = purchase_points_between(s, member_ids, since)
    tier = tier_after_activity(rules, member.tier, spend_since(s, member.id, since), points)
    if tier != member.tier:
        member.tier = tier
        member.tier_since = ctx.received_at


# -- refund -----------------------------------------------------------------------------


def _restore_expiries(
    ctx: EventContext, rules: RuleSet, sale_id: str, points: int, already: int
) -> list[tuple[int, dt.date | None]]:
    """The expiries of spent points a refund gives back (see ``core.lots``)."""
    spent = [
        (taken, lot.expires_on if (lot := ctx.session.get(PointLot, lot_id)) else None)
        for lot_id, taken in spend_moves_of_sale(ctx.session, sale_id)
    ]
    return restore_expiries(rules, spent, points, ctx.received_at, already)


def apply_refund(ctx: EventContext, p: RefundPayload) -> dict[str, Any]:
    """Record a refund: each line at most once in total, its points in the same step."""
    s = ctx.session
    r = p.refund
    if s.get(Refund, r.id) is not None:
        raise Conflict(f"refund {r.id} is already recorded (by another event)", refund_id=r.id)
    sale = s.get(Sale, r.sale_id)
    if sale is None:
        raise RetryLater(
            f"sale {r.sale_id} is not known at HQ yet: push it first", sale_id=r.sale_id
        )
    if not _owns_sale(ctx.principal, sale):
        raise Forbidden(f"sale {sale.id} was not made by this store")
    _unique((ln.sale_line_id for ln in p.lines), "sale_line_id")
    sold = {row.id: row for row in s.scalars(select(SaleLine).where(SaleLine.sale_id == sale.id))}
    done = refunded_quantities(s, sale.id)
    for ln in p.lines:
        row = sold.get(ln.sale_line_id)
        if row is None:
            raise BadRequest(f"line {ln.sale_line_id} is not part of sale {sale.id}")
        if done.get(row.id, 0) + ln.quantity > row.quantity:
            raise Conflict(
                f"line {row.id} would be refunded {done.get(row.id, 0) + ln.quantity} times "
                f"but {row.quantity} were sold: a refund is never refunded twice",
                sale_line_id=row.id,
            )
    if sale.member_ref is None and p.entries:
        raise BadRequest("the sale had no member: its refund moves no points")
    _check_entries(
        p.entries,
        frozenset({"refund_restore", "refund_reversal"}),
        what="refund",
        member_id=sale.member_ref,
        sale_id=sale.id,
        refund_id=r.id,
    )
    restored = sum(e.points for e in p.entries if e.kind == "refund_restore")
    reversed_pts = -sum(e.points for e in p.entries if e.kind == "refund_reversal")
    rules = rules_for(s, sale.rule_set_version) or active_rules(s)
    member = resolve_member(s, sale.member_id) if sale.member_id else None

    if all(sold[ln.sale_line_id].earn_points is not None for ln in p.lines):
        q = quote_refund(
            rules,
            as_sold_lines(sold.values(), done),
            {ln.sale_line_id: ln.quantity for ln in p.lines},
            balance=None if sale.member_id is None else 10**15,
        )
        # A till never takes back earned points that expired already (the expiry took
        # them once): HQ allows that much less, as its own ledger shows it.
        expired = max(0, q.points_reversed - max(0, reversible_earned_points(s, sale.id)))
        short = reversed_pts < q.points_reversed - expired and not r.cash_deducted_fen
        if restored != q.points_restored or reversed_pts > q.points_reversed or short:
            ctx.flag(
                "refund_mismatch",
                member_id=_mid(member),
                subject_id=r.id,
                restored={"till": restored, "hq": q.points_restored},
                reversed={"till": reversed_pts, "hq": q.points_reversed},
            )
    already = int(
        s.execute(
            select(func.coalesce(func.sum(Refund.points_restored), 0)).where(
                Refund.sale_id == sale.id
            )
        ).scalar_one()
    )
    s.add(
        Refund(
            id=r.id,
            event_id=ctx.event_id,
            refund_no=r.refund_no,
            sale_id=sale.id,
            store_code=ctx.principal.store_code,
            till_id=ctx.principal.id if ctx.principal.kind == "till" else None,
            created_at=r.created_at,
            received_at=ctx.received_at,
            cashier_id=r.cashier_id,
            approved_by=r.approved_by,
            cash_refund_fen=r.cash_refund_fen,
            cash_deducted_fen=r.cash_deducted_fen,
            points_reversed=reversed_pts,
            points_restored=restored,
        )
    )
    s.flush()
    s.add_all(
        RefundLine(refund_id=r.id, sale_line_id=ln.sale_line_id, quantity=ln.quantity)
        for ln in p.lines
    )
    s.flush()
    before = member.balance if member is not None else 0
    for e in p.entries:
        if e.kind == "refund_restore":
            post_client_entry(
                ctx,
                rules,
                e,
                sale_id=sale.id,
                refund_id=r.id,
                credit_expiries=_restore_expiries(ctx, rules, sale.id, e.points, already),
            )
            already += e.points
        else:
            post_client_entry(
                ctx,
                rules,
                e,
                sale_id=sale.id,
                refund_id=r.id,
                prefer_lots=earn_lots_of_sale(s, sale.id),
            )
    sweep_aliases(ctx)
    if member is None:
        return {"refund_id": r.id, "sale_id": sale.id, "member_id": None, "flags": ctx.flags}
    if member.balance < 0:
        ctx.flag(
            "negative_balance",
            member_id=member.id,
            subject_id=r.id,
            balance_before=before,
            balance_after=member.balance,
        )
    return {
        "refund_id": r.id,
        "sale_id": sale.id,
        "member_id": member.id,
        "balance": member.balance,
        "flags": ctx.flags,
    }


def _owns_sale(principal: Principal, sale: Sale) -> bool:
    if principal.kind == "till":
        return sale.store_code == principal.store_code
    return sale.store_code is None and sale.source_channel == principal.source_channel


# -- adjustment, expiry -----------------------------------------------------------------


def apply_adjustment(ctx: EventContext, p: EntriesPayload) -> dict[str, Any]:
    """A manager's adjustment at a till (large ones are flagged)."""
    _check_entries(p.entries, frozenset({"adjust"}), what="adjustment")
    rules = active_rules(ctx.session)
    for e in p.entries:
        if abs(e.points) > ctx.settings.large_adjustment_points:
            ctx.flag("large_adjustment", member_id=e.member_id, subject_id=e.id, points=e.points)
        post_client_entry(ctx, rules, e)
    sweep_aliases(ctx)
    return _balances(ctx, p.entries)


def apply_expiry(ctx: EventContext, p: EntriesPayload) -> dict[str, Any]:
    """A till's expiry run. HQ's clock drives expiry: what the till expired beyond the
    points HQ holds as due is given back by an HQ correction every till pulls."""
    s = ctx.session
    _check_entries(p.entries, frozenset({"expire"}), what="expiry")
    rules = active_rules(s)
    today = local_date(rules, ctx.received_at)
    for e in p.entries:
        named = _named_member(ctx, e.member_id)
        canonical = _canonical(ctx, named)
        due = due_points(s, rules, canonical.id, ctx.received_at)
        due_lots = [
            lot.id
            for lot in open_lots(s, canonical.id)
            if lot.expires_on is not None and lot.expires_on < today
        ]
        entry = post_client_entry(ctx, rules, e, prefer_lots=due_lots if named is canonical else ())
        if entry is None:
            continue
        sweep_aliases(ctx)
        excess = -e.points - due
        if excess > 0:
            post_entry(
                s,
                rules,
                canonical,
                entry_id=ctx.derived_entry_id("expiry_correction", canonical.id),
                kind="adjust",
                points=excess,
                created_at=ctx.received_at,
                origin=ctx.hq_origin,
                in_origin_ledger=False,
                reason=f"expiry correction: {due} of {-e.points} points were due at HQ",
            )
            ctx.flag(
                "expiry_mismatch",
                member_id=canonical.id,
                subject_id=e.id,
                till_expired=-e.points,
                due_at_hq=due,
            )
    return _balances(ctx, p.entries)


def _balances(ctx: EventContext, entries: Sequence[EntryIn]) -> dict[str, Any]:
    out: dict[str, int] = {}
    for e in entries:
        member = resolve_member(ctx.session, e.member_id)
        if member is not None:
            out[member.id] = member.balance
    return {"balances": out, "flags": ctx.flags}


# -- redemption (online mall, member app) -----------------------------------------------


def apply_redemption(ctx: EventContext, p: RedemptionPayload) -> dict[str, Any]:
    """Points-mall items taken online: price, tier, stock and balance checked at HQ."""
    s = ctx.session
    rd = p.redemption
    if s.get(Redemption, rd.id) is not None:
        raise Conflict(f"redemption {rd.id} is already recorded (by another event)")
    item = s.get(MallItem, rd.item_id)
    if item is None or not item.active:
        raise BadRequest(f"mall item {rd.item_id} is not on offer")
    named = _named_member(ctx, rd.member_id)
    member = _canonical(ctx, named)
    rules = active_rules(s)
    core = CoreMallItem(
        item_id=item.id,
        name=item.name,
        points_price=item.points_price,
        cash_price_fen=item.cash_price_fen,
        discount_percent=item.discount_percent,
        discount_from=item.discount_from,
        discount_to=item.discount_to,
    )
    price = price_at(core, rd.created_at) * rd.quantity
    if rd.points != price or rd.cash_fen != item.cash_price_fen * rd.quantity:
        raise BadRequest(
            f"{rd.quantity} x {item.id} costs {price} points and "
            f"{item.cash_price_fen * rd.quantity} fen"
        )
    if item.min_tier and item.min_tier in rules.tier_codes():
        rank = rules.tier_rank(member.tier) if member.tier in rules.tier_codes() else 0
        if rank < rules.tier_rank(item.min_tier):
            raise Conflict(f"{item.id} is for {item.min_tier} members and above")
    if item.stock is not None:
        if item.stock < rd.quantity:
            raise Conflict(f"{item.id} has {item.stock} left", stock=item.stock)
        item.stock -= rd.quantity
    _check_entries(p.entries, frozenset({"spend"}), what="redemption", member_id=rd.member_id)
    if -sum(e.points for e in p.entries) != rd.points:
        raise BadRequest(f"the spend entries do not take the {rd.points} points")
    hold = settle_for(s, rd.id, ctx.received_at)
    available = member.balance - reserved_points(s, member.id, ctx.received_at)
    if hold is None and rd.points > available:
        raise InsufficientPoints(
            f"member {member.id} has {available} points available", available=available
        )
    s.add(
        Redemption(
            id=rd.id,
            event_id=ctx.event_id,
            source_channel=ctx.principal.source_channel,
            member_id=member.id,
            item_id=item.id,
            quantity=rd.quantity,
            points=rd.points,
            cash_fen=rd.cash_fen,
            created_at=rd.created_at,
            received_at=ctx.received_at,
        )
    )
    s.flush()
    for e in p.entries:
        post_client_entry(ctx, rules, e)
    sweep_aliases(ctx)
    return {"redemption_id": rd.id, "member_id": member.id, "balance": member.balance}


APPLIERS: dict[str, Applier] = {
    "sale": apply_sale,
    "refund": apply_refund,
    "member_registered": apply_member_registered,
    "adjustment": apply_adjustment,
    "expiry": apply_expiry,
    "redemption": apply_redemption,
}


def allowed_kinds(principal: Principal) -> frozenset[str]:
    """Event kinds ``principal`` may push."""
    return TILL_KINDS if principal.kind == "till" else CHANNEL_KINDS


def apply(ctx: EventContext, kind: str, payload: Payload) -> dict[str, Any]:
    """Apply a validated payload of ``kind``."""
    return APPLIERS[kind](ctx, payload)
