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
from dataclasses import dataclass, field, replace
from typing import Any

from pos_app.core.calendar import day_start, local_date
from pos_app.core.errors import InvalidInput, LoyaltyError
from pos_app.core.lots import restore_expiries
from pos_app.core.mall import MallItem as CoreMallItem
from pos_app.core.mall import available as is_available
from pos_app.core.mall import eligible, mall_item_of, price_at
from pos_app.core.perks import early_access, opens_at
from pos_app.core.quote import BasketLine, CouponInput, MemberContext, QuotedLine, quote_basket
from pos_app.core.refunds import quote_refund
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import last_review_date, tier_after_activity
from pos_app.hq import mall, till_audit
from pos_app.hq.adjustments import check_floor, check_till_entry, in_region
from pos_app.hq.book import (
    FLAGS,
    REDEMPTIONS,
    REFUND_LINES,
    REFUNDS,
    REVIEWS,
    SALE_LINES,
    SALES,
    TILL_AUDIT,
    Book,
    MemberRow,
    Origin,
    Prefetch,
)
from pos_app.hq.config import HQSettings
from pos_app.hq.consent import record_registration_consent
from pos_app.hq.errors import BadRequest, Conflict, Forbidden, InsufficientPoints, RetryLater
from pos_app.hq.ledger import (
    as_sold_lines,
    earn_lots_of_sale,
    refunded_quantities,
    restored_points_of_sale,
    reversible_earned_points,
    sale_facts,
    sale_lines_of,
    spent_lots_of_sale,
)
from pos_app.hq.provisional import provisional_member
from pos_app.hq.schemas import (
    AuditPayload,
    EntriesPayload,
    EntryIn,
    MemberPayload,
    Payload,
    RedemptionPayload,
    RefundPayload,
    SaleLineIn,
    SalePayload,
)
from pos_app.hq.security import Principal, derived_id

TILL_KINDS = frozenset({"sale", "refund", "member_registered", "adjustment", "expiry", "audit"})
CHANNEL_KINDS = frozenset({"sale", "refund", "member_registered", "redemption"})
# Kinds applied alone: the book is written before and after them, because they read
# rows earlier events of the batch wrote (a refund's sale) or change figures later
# events read (a refund's purchase points, a redemption's stock and holds).
# An audit row is checked against the till's row before it, which may be in the batch.
SOLO_KINDS = frozenset({"refund", "redemption", "audit"})


@dataclass
class EventContext:
    """One event being applied.

    Attributes:
        book: The transaction's ledger (shared by the batch's events).
        flags: Kinds of the flagged records this event raised (returned to the writer).
        touched: Members whose rows the event posted on (aliases are swept after).
        seen: Members the writer registered or sold to, with why: they enter its
            region's scope once the event is applied (:mod:`pos_app.hq.scopes`).
    """

    book: Book
    principal: Principal
    event_id: str
    received_at: dt.datetime
    settings: HQSettings
    flags: list[str] = field(default_factory=list)
    touched: dict[str, MemberRow] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
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
        self.book.insert(
            FLAGS,
            {
                "kind": kind,
                "member_id": member_id,
                "principal": self.principal.key,
                "event_id": self.event_id,
                "subject_id": subject_id,
                "detail": detail,
                "created_at": self.received_at,
                "resolved_at": None,
            },
        )
        self.flags.append(kind)


Applier = Callable[[EventContext, Any], dict[str, Any]]


# -- what a batch will read ---------------------------------------------------------------


def gather(want: Prefetch, kind: str, p: Payload) -> None:
    """Add what applying ``p`` will read to ``want`` (see :meth:`Book.prefetch`)."""
    entries: Sequence[EntryIn] = getattr(p, "entries", ())
    for e in entries:
        want.entry_ids.add((e.member_id, e.id))
        want.member_ids.add(e.member_id)
        if e.points < 0:
            want.debit_member_ids.add(e.member_id)
    if isinstance(p, SalePayload):
        h = p.sale
        want.sale_ids.add(h.id)
        want.coupon_codes.update(code.strip().upper() for code in h.coupons)
        for b in p.remote_bonuses:
            want.entry_ids.add((b.member_id, b.id))
            want.member_ids.add(b.member_id)
        if h.member_id is not None:
            want.member_ids.add(h.member_id)
            want.buyer_ids.add(h.member_id)
            want.sale_at(h.created_at)
            if h.points_used:
                want.hold_sale_ids.add(h.id)
            if h.member_code is not None:
                want.code_nonces.add(h.member_code.nonce)
    elif isinstance(p, MemberPayload):
        want.member_ids.add(p.member.id)
        want.phone_hashes.add(bytes.fromhex(p.member.phone_hash))
        if p.member.member_no is not None:
            want.member_nos.add(p.member.member_no)
    elif isinstance(p, RefundPayload):
        want.refund_ids.add(p.refund.id)
    elif isinstance(p, RedemptionPayload):
        want.redemption_ids.add(p.redemption.id)
        want.member_ids.add(p.redemption.member_id)
        want.hold_sale_ids.add(p.redemption.id)
    del kind


# -- helpers ----------------------------------------------------------------------------


def _unique(values: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise BadRequest(f"{what} {value} appears twice")
        seen.add(value)


def _named_member(ctx: EventContext, member_id: str) -> MemberRow:
    member = ctx.book.member(member_id) or provisional_member(ctx, member_id)
    if member is None:
        raise RetryLater(
            f"member {member_id} is not known at HQ yet: push its registration first",
            member_id=member_id,
        )
    return member


def _mid(member: MemberRow | None) -> str | None:
    return member.id if member is not None else None


def post_client_entry(
    ctx: EventContext,
    rules: RuleSet,
    e: EntryIn,
    *,
    sale_id: str | None = None,
    refund_id: str | None = None,
    prefer_lots: Sequence[str] = (),
    credit_expiries: Sequence[tuple[int, dt.date | None]] | None = None,
) -> dict[str, Any] | None:
    """Post an entry the writer already holds, under its id (None if that same movement
    is already posted; a Conflict if the id records another one)."""
    book = ctx.book
    if book.existing_entry(
        e.id, e.member_id, e.kind, e.points, sale_id=sale_id, refund_id=refund_id
    ):
        return None
    member = _named_member(ctx, e.member_id)
    ctx.touched[member.id] = member
    return book.post(
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


def sweep_aliases(ctx: EventContext, rules: RuleSet) -> None:
    """Move the balance of every touched alias to its canonical member."""
    book = ctx.book
    for member in list(ctx.touched.values()):
        if member.alias_of is None or member.balance == 0:
            continue
        keep = book.canonical(member)
        book.move_balance(
            rules,
            member,
            keep,
            entry_ids=(
                ctx.derived_entry_id("merge_out", member.id),
                ctx.derived_entry_id("merge_in", keep.id),
            ),
            at=ctx.received_at,
            origin=ctx.hq_origin,
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
    book = ctx.book
    m = p.member
    _check_entries(p.entries, frozenset({"bonus", "adjust"}), what="registration", member_id=m.id)
    digest = bytes.fromhex(m.phone_hash)
    rules = book.active_rules()
    if ctx.principal.kind == "till":
        for e in p.entries:
            if e.kind == "adjust":
                check_till_entry(book, rules, ctx.principal, e)
    row = book.member(m.id)
    canonical: MemberRow | None = None
    if row is not None:
        if row.phone_hash != digest:
            raise Conflict(f"member id {m.id} is already registered with another phone")
    else:
        canonical = book.canonical_by_phone(digest)
        member_no = m.member_no
        if member_no is not None and book.member_no_taken(member_no):
            ctx.flag("member_no_collision", member_id=m.id, member_no=member_no)
            member_no = None
        p_ = ctx.principal
        row = MemberRow(
            id=m.id,
            member_no=member_no,
            phone_hash=digest,
            phone_last4=m.phone_last4,
            phone_masked=m.phone_masked,
            name=m.name,
            birthday=m.birthday,
            tier=rules.tier_codes()[0],
            tier_since=min(m.registered_at, ctx.received_at),
            last_review=last_review_date(rules, local_date(rules, ctx.received_at)),
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
        book.add_member(row)
    bonus = 0
    for e in p.entries:
        if post_client_entry(ctx, rules, e) is not None and e.reason == "registration":
            bonus += e.points
    if canonical is not None:
        book.update_member(
            canonical,
            name=canonical.name or m.name,
            birthday=canonical.birthday or m.birthday,
        )
        ctx.flag(
            "merge",
            member_id=canonical.id,
            subject_id=m.id,
            kept=canonical.id,
            alias=m.id,
            phone_last4=m.phone_last4,
            duplicate_registration_bonus=bonus,
        )
    sweep_aliases(ctx, rules)
    if canonical is not None and bonus:
        book.post(
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
    kept = book.canonical(row)
    ctx.seen.append((m.id, "registered"))
    record_registration_consent(ctx, p, kept.id)
    return {
        "member_id": m.id,
        "canonical_id": kept.id,
        "merged": row.alias_of is not None,
        "balance": kept.balance,
    }


# -- sale -------------------------------------------------------------------------------


def _member_context(
    ctx: EventContext, rules: RuleSet, p: SalePayload, member: MemberRow
) -> MemberContext:
    """The buyer as HQ sees it when the sale was made."""
    h = p.sale
    since = day_start(rules, local_date(rules, h.created_at))
    figures = ctx.book.purchases(member.id, rules)
    earned_today = figures.earned_between(since, h.created_at, exclude_sale=h.id)
    return MemberContext(
        member_id=h.member_id or member.id,
        tier=member.tier if member.tier in rules.tier_codes() else rules.tier_codes()[0],
        balance=max(member.balance, h.points_used, 0),
        birthday=member.birthday,
        first_purchase=member.first_purchase_at is None or member.first_purchase_at > h.created_at,
        earned_today=earned_today,
        referred_by=member.referred_by,
        birthday_gift_year=member.birthday_gift_year,
    )


def _basket_line(ln: SaleLineIn) -> BasketLine:
    """A pushed line as the core quotes it: a line sold at a member (tier) price goes
    back to its shelf and member prices, so the quote prices it for HQ's view of the
    member's tier; any other line at the price the till charged."""
    shelf = ln.shelf_price_fen if ln.member_price_fen is not None else None
    return BasketLine(
        sku=ln.sku,
        name=ln.name or ln.sku,
        category=ln.category,
        quantity=ln.quantity,
        unit_price_fen=ln.unit_price_fen if shelf is None else shelf,
        line_discount_fen=ln.line_discount_fen,
        is_reward=ln.is_reward,
        member_price_fen=None if shelf is None else ln.member_price_fen,
    )


def _unit_price_mismatches(
    sold: Sequence[SaleLineIn], quoted: Sequence[QuotedLine]
) -> list[dict[str, int]]:
    """The lines whose unit price the till charged is not the one HQ's quote charges
    (a tier price the member's tier does not have)."""
    return [
        {"line_no": ln.line_no, "till": ln.unit_price_fen, "hq": q.line.unit_price_fen}
        for ln, q in zip(sold, quoted, strict=True)
        if ln.unit_price_fen != q.line.unit_price_fen
    ]


def _requote(
    ctx: EventContext,
    rules: RuleSet,
    p: SalePayload,
    member: MemberRow | None,
    bonus_points: int,
) -> tuple[dict[str, Any], list[QuotedLine] | None]:
    """HQ's own quote of the sale, with the till's figures it disagrees with flagged."""
    h = p.sale
    sold = sorted(p.lines, key=lambda ln: ln.line_no)
    basket = [_basket_line(ln) for ln in sold]
    member_ctx = _member_context(ctx, rules, p, member) if member is not None else None
    coupons: list[CouponInput] = []
    for code in h.coupons:
        row = ctx.book.coupon(code.strip().upper())
        if row is not None:
            coupons.append(
                CouponInput(row.code, row.amount_off_fen, row.percent_off, row.min_order_fen)
            )

    def run(with_coupons: Sequence[CouponInput], *, explain: bool = False) -> Any:
        return quote_basket(
            rules,
            basket,
            member=member_ctx,
            at=h.created_at,
            coupons=with_coupons,
            points_to_use=h.points_used,
            explain=explain,
        )

    used = coupons  # the coupons the quote took (none when they are invalid)
    try:
        try:
            q = run(used)
        except InvalidInput as exc:
            if not coupons:
                raise
            ctx.flag("coupon_invalid", member_id=_mid(member), subject_id=h.id, message=str(exc))
            used = []
            q = run(used)
    except InvalidInput as exc:
        raise BadRequest(f"HQ cannot quote this sale: {exc.message()}") from None
    except LoyaltyError as exc:
        ctx.flag("requote_refused", member_id=_mid(member), subject_id=h.id, message=str(exc))
        return {"error": str(exc)}, None
    mismatches: dict[str, Any] = {
        name: {"till": till, "hq": hq}
        for name, till, hq in (
            ("total_fen", h.total_fen, q.total_fen),
            ("cash_due_fen", h.cash_due_fen, q.cash_due_fen),
            ("points_earned", h.points_earned, q.points_earned),
            ("bonus_points", bonus_points, sum(b.points for b in q.bonuses)),
        )
        if till != hq
    }
    prices = _unit_price_mismatches(sold, q.lines)
    if prices:
        mismatches["unit_price_fen"] = prices
    if not mismatches:
        # HQ's figures are the till's, already on the sale and its lines (HQ's per-line
        # split too): the quote itself is kept only for a sale a person must review.
        return {"agrees": True, "rule_set_version": q.rule_set_version}, list(q.lines)
    ctx.flag("requote_mismatch", member_id=_mid(member), subject_id=h.id, **mismatches)
    q = run(used, explain=True)  # the same figures, with the notes a reviewer reads
    return q.as_dict() | {"mismatches": mismatches}, list(q.lines)


def _check_sale(ctx: EventContext, p: SalePayload) -> MemberRow | None:
    """Refuse a sale that contradicts itself; its buyer (canonical), or None."""
    h = p.sale
    if ctx.book.exists("sale", h.id):
        raise Conflict(f"sale {h.id} is already recorded (by another event)", sale_id=h.id)
    _unique((ln.id for ln in p.lines), "line id")
    _unique((str(ln.line_no) for ln in p.lines), "line_no")
    if h.member_id is None:
        if p.entries or p.remote_bonuses or h.points_used or h.points_earned:
            raise BadRequest("a sale without a member moves no points")
        member = None
    else:
        member = ctx.book.canonical(_named_member(ctx, h.member_id))
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
    return member


def _record_sale(
    ctx: EventContext,
    p: SalePayload,
    member: MemberRow | None,
    hq_quote: dict[str, Any],
    verified: bool,
    quoted: list[QuotedLine] | None,
) -> None:
    """The sale, its lines and its coupons, as the till reported them."""
    book = ctx.book
    h = p.sale
    book.insert(
        SALES,
        {
            "id": h.id,
            "event_id": ctx.event_id,
            "receipt_no": h.receipt_no,
            "source_channel": ctx.principal.source_channel,
            "store_code": ctx.principal.store_code,
            "till_id": ctx.principal.id if ctx.principal.kind == "till" else None,
            "cashier_id": h.cashier_id,
            "member_id": _mid(member),
            "member_ref": h.member_id,
            "created_at": h.created_at,
            "received_at": ctx.received_at,
            "total_fen": h.total_fen,
            "cash_due_fen": h.cash_due_fen,
            "points_used": h.points_used,
            "points_earned": h.points_earned,
            "rule_set_version": h.rule_set_version,
            "coupons": list(h.coupons),
            "tenders": [t.model_dump() for t in p.tenders],
            "hq_quote": hq_quote,
            "verified": verified,
        },
    )
    book.know("sale", h.id)
    for i, ln in enumerate(sorted(p.lines, key=lambda ln: ln.line_no)):
        ql = quoted[i] if quoted is not None else None
        book.insert(
            SALE_LINES,
            {
                "id": ln.id,
                "sale_id": h.id,
                "line_no": ln.line_no,
                "sku": ln.sku,
                "category": ln.category,
                "quantity": ln.quantity,
                "unit_price_fen": ln.unit_price_fen,
                "line_discount_fen": ln.line_discount_fen,
                "is_reward": ln.is_reward,
                "cash_fen": ql.cash_fen if ql else None,
                "points_used": ql.points_used if ql else None,
                "points_value_fen": ql.points_value_fen if ql else None,
                "earn_points": ql.earn_points if ql else None,
            },
        )
    for code in h.coupons:
        coupon = book.coupon(code.strip().upper())
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
            book.use_coupon(coupon, h.id, h.created_at)


def _post_remote_bonuses(ctx: EventContext, rules: RuleSet, p: SalePayload) -> None:
    """Bonuses the till could not post itself (the referrer is not on that till)."""
    book = ctx.book
    h = p.sale
    for b in p.remote_bonuses:
        target = book.member(b.member_id)
        if target is None:
            ctx.flag("unknown_member_bonus", member_id=b.member_id, subject_id=h.id, bonus=b.kind)
            continue
        if book.existing_entry(b.id, b.member_id, "bonus", b.points, sale_id=h.id):
            continue
        ctx.touched[target.id] = target
        book.post(
            rules,
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


def apply_sale(ctx: EventContext, p: SalePayload) -> dict[str, Any]:
    """Record a sale with every point it moved, re-quoted and checked by HQ."""
    book = ctx.book
    h = p.sale
    member = _check_sale(ctx, p)
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
    rules = book.rules(h.rule_set_version)
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
        hq_quote, quoted = _requote(ctx, rules, p, member, bonus_points)
    posting_rules = rules or book.active_rules()
    verified = quoted is not None and bool(hq_quote.get("agrees"))
    _record_sale(ctx, p, member, hq_quote, verified, quoted)

    balance_before = member.balance if member is not None else 0
    hold = book.settle_hold(h.id) if h.points_used else None
    for e in p.entries:
        post_client_entry(ctx, posting_rules, e, sale_id=h.id)
    _post_remote_bonuses(ctx, posting_rules, p)
    sweep_aliases(ctx, posting_rules)
    if member is None:
        return {
            "sale_id": h.id,
            "member_id": None,
            "verified": verified,
            "flags": ctx.flags,
        }
    _flag_spending(ctx, posting_rules, p, member, balance_before, held=hold is not None)
    _note_member_code(ctx, p, member)
    ctx.seen.append((str(h.member_id), "seen"))
    changes: dict[str, Any] = {}
    if member.first_purchase_at is None or member.first_purchase_at > h.created_at:
        changes["first_purchase_at"] = h.created_at
    if any(e.reason == "birthday_gift" for e in p.entries if e.kind == "bonus"):
        changes["birthday_gift_year"] = local_date(posting_rules, h.created_at).year
    book.update_member(member, **changes)
    book.add_purchase(
        member.id, at=h.created_at, sale_id=h.id, points=h.points_earned, spend=h.total_fen
    )
    _upgrade_tier(ctx, member)
    return {
        "sale_id": h.id,
        "member_id": member.id,
        "balance": member.balance,
        "tier": member.tier,
        "verified": verified,
        "flags": ctx.flags,
    }


def _flag_spending(
    ctx: EventContext,
    rules: RuleSet,
    p: SalePayload,
    member: MemberRow,
    balance_before: int,
    *,
    held: bool,
) -> None:
    h = p.sale
    allowance = rules.spending.offline_allowance_points
    if h.points_used and not held and h.points_used > allowance:
        ctx.flag(
            "offline_allowance_exceeded",
            member_id=member.id,
            subject_id=h.id,
            points_used=h.points_used,
            allowance=allowance,
        )
    if h.points_used and balance_before - h.points_used < 0:
        ctx.flag(
            "overspend",
            member_id=member.id,
            subject_id=h.id,
            balance_before=balance_before,
            points_used=h.points_used,
            overspend=h.points_used - max(balance_before, 0),
            balance_after=member.balance,
            held=held,
        )


def _note_member_code(ctx: EventContext, p: SalePayload, member: MemberRow) -> None:
    """Record the use of the member code that identified the buyer; flag it when another
    till or channel used it first (a code replayed while the tills were offline)."""
    ref = p.sale.member_code
    if ref is None:
        return
    first = ctx.book.code_use(ref.nonce)
    if first is None:
        ctx.book.record_code_use(
            {
                "nonce": ref.nonce,
                "key_id": ref.key_id,
                "member_no": member.member_no or 0,
                "principal": ctx.principal.key,
                "sale_id": p.sale.id,
                "used_at": p.sale.created_at,
                "expires_at": ref.expires_at,
                "received_at": ctx.received_at,
            }
        )
    elif first[0] != ctx.principal.key:
        ctx.flag(
            "member_code_replayed",
            member_id=member.id,
            subject_id=p.sale.id,
            nonce=ref.nonce,
            first_used_by=first[0],
            first_sale=first[1],
        )


def _upgrade_tier(ctx: EventContext, member: MemberRow) -> None:
    rules = ctx.book.active_rules()
    if rules.is_top_tier(member.tier):  # a tier only goes up between reviews
        return
    figures = ctx.book.purchases(member.id, rules)
    tier = tier_after_activity(rules, member.tier, figures.window_spend, figures.window_points)
    if tier != member.tier:
        ctx.book.update_member(member, tier=tier, tier_since=ctx.received_at)


# -- refund -----------------------------------------------------------------------------


def apply_refund(ctx: EventContext, p: RefundPayload) -> dict[str, Any]:
    """Record a refund: each line at most once in total, its points in the same step."""
    book = ctx.book
    s = book.session
    r = p.refund
    if book.exists("refund", r.id):
        raise Conflict(f"refund {r.id} is already recorded (by another event)", refund_id=r.id)
    sale = sale_facts(s, r.sale_id)
    if sale is None:
        raise RetryLater(
            f"sale {r.sale_id} is not known at HQ yet: push it first", sale_id=r.sale_id
        )
    if not owns_sale(ctx.principal, sale.store_code, sale.source_channel):
        raise Forbidden(f"sale {sale.id} was not made by this store")
    _unique((ln.sale_line_id for ln in p.lines), "sale_line_id")
    sold = {row.id: row for row in sale_lines_of(s, sale.id)}
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
    rules = book.rules(sale.rule_set_version) or book.active_rules()
    named = book.member(sale.member_id) if sale.member_id else None
    member = book.canonical(named) if named is not None else None
    _check_refund_points(ctx, rules, p, sale.id, sold, done, member, restored, reversed_pts)
    already = restored_points_of_sale(s, sale.id)
    _record_refund(ctx, p, sale.id, restored, reversed_pts)
    before = member.balance if member is not None else 0
    for e in p.entries:
        if e.kind == "refund_restore":
            spent = spent_lots_of_sale(s, sale.id)
            post_client_entry(
                ctx,
                rules,
                e,
                sale_id=sale.id,
                refund_id=r.id,
                credit_expiries=restore_expiries(rules, spent, e.points, ctx.received_at, already),
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
    sweep_aliases(ctx, rules)
    if member is None:
        return {"refund_id": r.id, "sale_id": sale.id, "member_id": None, "flags": ctx.flags}
    book.forget_purchases(member.id)
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


def _check_refund_points(
    ctx: EventContext,
    rules: RuleSet,
    p: RefundPayload,
    sale_id: str,
    sold: dict[str, Any],
    done: dict[str, int],
    member: MemberRow | None,
    restored: int,
    reversed_pts: int,
) -> None:
    """Flag a refund whose points differ from what HQ computes for it."""
    if not all(sold[ln.sale_line_id].earn_points is not None for ln in p.lines):
        return
    q = quote_refund(
        rules,
        as_sold_lines(sold.values(), done),
        {ln.sale_line_id: ln.quantity for ln in p.lines},
        balance=None if member is None else 10**15,
    )
    # A till never takes back earned points that expired already (the expiry took
    # them once): HQ allows that much less, as its own ledger shows it.
    reversible = max(0, reversible_earned_points(ctx.book.session, sale_id))
    expired = max(0, q.points_reversed - reversible)
    short = reversed_pts < q.points_reversed - expired and not p.refund.cash_deducted_fen
    if restored != q.points_restored or reversed_pts > q.points_reversed or short:
        ctx.flag(
            "refund_mismatch",
            member_id=_mid(member),
            subject_id=p.refund.id,
            restored={"till": restored, "hq": q.points_restored},
            reversed={"till": reversed_pts, "hq": q.points_reversed},
        )


def _record_refund(
    ctx: EventContext, p: RefundPayload, sale_id: str, restored: int, reversed_pts: int
) -> None:
    r = p.refund
    ctx.book.insert(
        REFUNDS,
        {
            "id": r.id,
            "event_id": ctx.event_id,
            "refund_no": r.refund_no,
            "sale_id": sale_id,
            "store_code": ctx.principal.store_code,
            "till_id": ctx.principal.id if ctx.principal.kind == "till" else None,
            "created_at": r.created_at,
            "received_at": ctx.received_at,
            "cashier_id": r.cashier_id,
            "approved_by": r.approved_by,
            "cash_refund_fen": r.cash_refund_fen,
            "cash_deducted_fen": r.cash_deducted_fen,
            "points_reversed": reversed_pts,
            "points_restored": restored,
        },
    )
    ctx.book.know("refund", r.id)
    for ln in p.lines:
        ctx.book.insert(
            REFUND_LINES,
            {"refund_id": r.id, "sale_line_id": ln.sale_line_id, "quantity": ln.quantity},
        )


def owns_sale(principal: Principal, store_code: str | None, source_channel: str) -> bool:
    """Whether ``principal`` made (and so may refund) a sale of this store and channel."""
    if principal.kind == "till":
        return store_code == principal.store_code
    return store_code is None and source_channel == principal.source_channel


# -- adjustment, expiry -----------------------------------------------------------------


def apply_adjustment(ctx: EventContext, p: EntriesPayload) -> dict[str, Any]:
    """A manager's adjustment at a till, within the rule set's bounds
    (:mod:`pos_app.hq.adjustments`): refused above the cap, without a manager HQ knows
    for the store or below the balance floor; for a member outside the till's region
    refused or held for review."""
    book = ctx.book
    _check_entries(p.entries, frozenset({"adjust"}), what="adjustment")
    rules = book.active_rules()
    for e in p.entries:
        check_till_entry(book, rules, ctx.principal, e)
    outside = _outside_region(ctx, p.entries)
    if outside:
        why = f"member {outside} is outside the region of store {ctx.principal.store_code}"
        if rules.adjustments.out_of_region == "refuse":
            raise Forbidden(f"{why}: a till adjusts its own region's members only")
        return _hold_for_review(ctx, p, why, outside)
    check_floor(book, rules, p.entries)
    for e in p.entries:
        if abs(e.points) > ctx.settings.large_adjustment_points:
            ctx.flag("large_adjustment", member_id=e.member_id, subject_id=e.id, points=e.points)
        post_client_entry(ctx, rules, e)
    sweep_aliases(ctx, rules)
    return _balances(ctx, p.entries)


def _outside_region(ctx: EventContext, entries: Sequence[EntryIn]) -> str | None:
    """The first member ``entries`` name outside the till's region, or None."""
    for e in entries:
        named = _named_member(ctx, e.member_id)
        if not in_region(ctx.book, named, ctx.book.canonical(named), ctx.principal):
            return e.member_id
    return None


def _hold_for_review(
    ctx: EventContext, p: EntriesPayload, why: str, member_id: str
) -> dict[str, Any]:
    """Keep the adjustment for an admin's decision; nothing moves now."""
    ctx.book.insert(
        REVIEWS,
        {
            "id": ctx.event_id,
            "principal": ctx.principal.key,
            "store_code": ctx.principal.store_code,
            "till_id": ctx.principal.id,
            "payload": p.model_dump(mode="json"),
            "why": why,
            "status": "held",
            "created_at": ctx.received_at,
            "decided_at": None,
            "decided_by": None,
        },
    )
    ctx.flag("adjustment_held", member_id=member_id, subject_id=ctx.event_id, why=why)
    return {"held_for_review": ctx.event_id, "balances": {}, "flags": ctx.flags}


def apply_expiry(ctx: EventContext, p: EntriesPayload) -> dict[str, Any]:
    """A till's expiry run. HQ's clock drives expiry: what the till expired beyond the
    points HQ holds as due is given back by an HQ correction every till pulls."""
    book = ctx.book
    _check_entries(p.entries, frozenset({"expire"}), what="expiry")
    rules = book.active_rules()
    today = local_date(rules, ctx.received_at)
    for e in p.entries:
        named = _named_member(ctx, e.member_id)
        canonical = book.canonical(named)
        due = book.due_points(canonical.id, today)
        due_lots = [
            lot.id
            for lot in book.open_lots(canonical.id)
            if lot.expires_on is not None and lot.expires_on < today
        ]
        entry = post_client_entry(ctx, rules, e, prefer_lots=due_lots if named is canonical else ())
        if entry is None:
            continue
        sweep_aliases(ctx, rules)
        excess = -e.points - due
        if excess > 0:
            book.post(
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
        member = ctx.book.member(e.member_id)
        if member is not None:
            kept = ctx.book.canonical(member)
            out[kept.id] = kept.balance
    return {"balances": out, "flags": ctx.flags}


# -- redemption (online mall, member app) -----------------------------------------------


def _check_offer(
    book: Book, rules: RuleSet, item: CoreMallItem, tier: str, at: dt.datetime
) -> None:
    """Refuse an item a member of ``tier`` cannot take at ``at``: outside its window
    (opened early for the tier, ``core.perks.early_access``), above the tier, or a
    lottery HQ has drawn.

    Raises:
        Conflict: the reason, with when the item opens to the tier if it is not open yet.
    """
    if not is_available(item, at, early_access(rules, tier)):
        opens = opens_at(rules, tier, item.available_from)
        if opens is not None and at < opens:
            raise Conflict(
                f"{item.item_id} opens to {tier} members at {opens.isoformat()}",
                opens_at=opens.isoformat(),
            )
        raise Conflict(f"{item.item_id} is no longer on offer (its window has closed)")
    if item.min_tier is not None and not eligible(rules, replace(item, stock=None), tier, at):
        raise Conflict(f"{item.item_id} is for {item.min_tier} members and above")
    if item.kind == "lottery" and mall.drawn(book.session, item.item_id):
        raise Conflict(f"the lottery {item.item_id} has been drawn: no more entries")


def apply_redemption(ctx: EventContext, p: RedemptionPayload) -> dict[str, Any]:
    """Points-mall items taken online: price, tier, stock and balance checked at HQ."""
    book = ctx.book
    rd = p.redemption
    if book.exists("redemption", rd.id):
        raise Conflict(f"redemption {rd.id} is already recorded (by another event)")
    item = book.mall_item(rd.item_id)
    if item is None or not item.active:
        raise BadRequest(f"mall item {rd.item_id} is not on offer")
    member = book.canonical(_named_member(ctx, rd.member_id))
    rules = book.active_rules()
    core = mall_item_of(item)
    _check_offer(book, rules, core, member.tier, rd.created_at)
    regular = mall.quoted_regular_price(
        book.session,
        item.id,
        item.points_price,
        item.price_version,
        rd.price_version,
        rd.created_at,
    )
    price = price_at(mall.at_regular_price(core, regular), rd.created_at) * rd.quantity
    if rd.points != price or rd.cash_fen != item.cash_price_fen * rd.quantity:
        raise BadRequest(
            f"{rd.quantity} x {item.id} costs {price} points and "
            f"{item.cash_price_fen * rd.quantity} fen"
        )
    if item.stock is not None and item.stock < rd.quantity:
        raise Conflict(f"{item.id} has {item.stock} left", stock=item.stock)
    book.take_stock(item, rd.quantity)
    _check_entries(p.entries, frozenset({"spend"}), what="redemption", member_id=rd.member_id)
    if -sum(e.points for e in p.entries) != rd.points:
        raise BadRequest(f"the spend entries do not take the {rd.points} points")
    hold = book.settle_hold(rd.id)
    available = member.balance - book.reserved_points(member.id)
    if hold is None and rd.points > available:
        raise InsufficientPoints(
            f"member {member.id} has {available} points available", available=available
        )
    book.insert(
        REDEMPTIONS,
        {
            "id": rd.id,
            "event_id": ctx.event_id,
            "source_channel": ctx.principal.source_channel,
            "member_id": member.id,
            "item_id": item.id,
            "quantity": rd.quantity,
            "points": rd.points,
            "cash_fen": rd.cash_fen,
            "created_at": rd.created_at,
            "received_at": ctx.received_at,
        },
    )
    book.know("redemption", rd.id)
    for e in p.entries:
        post_client_entry(ctx, rules, e)
    sweep_aliases(ctx, rules)
    return {"redemption_id": rd.id, "member_id": member.id, "balance": member.balance}


def apply_audit(ctx: EventContext, p: AuditPayload) -> dict[str, Any]:
    """One row of the till's audit chain: kept, and checked against the row HQ holds
    before it (:mod:`pos_app.hq.till_audit`); a break is kept too and flagged, naming the
    till and the row."""
    till_id = ctx.principal.id
    got = till_audit.check(ctx.book.session, till_id, p)
    if got.stored:
        ctx.book.insert(TILL_AUDIT, till_audit.row_values(till_id, p, ctx.received_at, got.problem))
    if got.problem is not None:
        ctx.flag(
            till_audit.FLAG,
            subject_id=str(p.seq),
            till_id=till_id,
            seq=p.seq,
            problem=got.problem,
            action=p.action,
            **got.detail,
        )
    return {"seq": p.seq, "chain": got.problem or "ok"}


APPLIERS: dict[str, Applier] = {
    "sale": apply_sale,
    "refund": apply_refund,
    "member_registered": apply_member_registered,
    "adjustment": apply_adjustment,
    "expiry": apply_expiry,
    "redemption": apply_redemption,
    "audit": apply_audit,
}


def allowed_kinds(principal: Principal) -> frozenset[str]:
    """Event kinds ``principal`` may push."""
    return TILL_KINDS if principal.kind == "till" else CHANNEL_KINDS


def apply(ctx: EventContext, kind: str, payload: Payload) -> dict[str, Any]:
    """Apply a validated payload of ``kind``."""
    return APPLIERS[kind](ctx, payload)
