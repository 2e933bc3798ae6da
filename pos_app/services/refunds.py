"""Refunds: find the sale, quote, and commit the refund with its points in one step.

A refund takes back exactly the points the refunded part earned (from the sale's own
lot first), except those that already expired from that lot (the expiry took them
once), and gives back the points it spent (with the expiry they had). Refunded
quantities are checked in the transaction and again by a database trigger, so a line
is never refunded twice.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from pos_app.core.errors import QT_TRANSLATE_NOOP, InvalidInput
from pos_app.core.lots import restore_expiries
from pos_app.core.refunds import RefundLineQuote, RefundQuote, SoldLine, quote_refund
from pos_app.services import audit
from pos_app.services.auth import verify_manager
from pos_app.services.checkout import receipt_number
from pos_app.services.context import TillContext
from pos_app.services.errors import AuthError, ConflictError, UnknownSale
from pos_app.services.ledger import add_outbox, entry_payload, post_points
from pos_app.services.print_queue import enqueue as enqueue_receipt
from pos_app.store import ledger as ledger_store
from pos_app.store import members as member_store
from pos_app.store import sales as sale_store
from pos_app.store.models import LedgerEntry, Member, Refund, RefundLine, Sale, Tender
from pos_app.store.types import new_id


@dataclass(frozen=True)
class SaleLineView:
    """A sale line as the refund screen shows it."""

    id: str
    line_no: int
    sku: str
    name: str
    quantity: int
    refunded_qty: int
    unit_price_fen: int
    cash_fen: int
    points_used: int
    earn_points: int
    weight_g: int | None = None
    """Grams of a weighed line (refunded whole, by its printed amount); else None."""


@dataclass(frozen=True)
class SaleView:
    """A past sale, found by its receipt number."""

    id: str
    receipt_no: str
    created_at: dt.datetime
    member_id: str | None
    total_fen: int
    cash_due_fen: int
    points_used: int
    points_earned: int
    lines: tuple[SaleLineView, ...]

    @property
    def fully_refunded(self) -> bool:
        """Nothing left to refund."""
        return all(ln.refunded_qty >= ln.quantity for ln in self.lines)


@dataclass(frozen=True)
class RefundResult:
    """A committed refund."""

    refund_id: str
    refund_no: str
    sale_receipt_no: str
    quote: RefundQuote
    balance_after: int | None
    replayed: bool = False


def _load_sale(session: Session, receipt_no: str) -> Sale:
    sale = sale_store.sale_by_receipt_no(session, receipt_no.strip().upper())
    if sale is None:
        raise UnknownSale(
            QT_TRANSLATE_NOOP("Errors", "No sale has receipt number {receipt}."), receipt=receipt_no
        )
    return sale


def _view(session: Session, sale: Sale) -> SaleView:
    done = sale_store.refunded_quantities(session, sale.id)
    lines = sale_store.lines_of_sale(session, sale.id)
    return SaleView(
        id=sale.id,
        receipt_no=sale.receipt_no,
        created_at=sale.created_at,
        member_id=sale.member_id,
        total_fen=sale.total_fen,
        cash_due_fen=sale.cash_due_fen,
        points_used=sale.points_used,
        points_earned=sale.points_earned,
        lines=tuple(
            SaleLineView(
                ln.id,
                ln.line_no,
                ln.sku,
                ln.name,
                ln.quantity,
                done.get(ln.id, 0),
                ln.unit_price_fen,
                ln.cash_fen,
                ln.points_used,
                ln.earn_points,
                ln.weight_g,
            )
            for ln in lines
        ),
    )


def find_sale(ctx: TillContext, receipt_no: str) -> SaleView:
    """The sale with ``receipt_no`` and what is left to refund."""
    with ctx.db.read() as session:
        return _view(session, _load_sale(session, receipt_no))


def _sold(view: SaleView) -> list[SoldLine]:
    return [
        SoldLine(
            ln.id, ln.quantity, ln.cash_fen, ln.points_used, 0, ln.earn_points, ln.refunded_qty
        )
        for ln in view.lines
    ]


def preview_refund(ctx: TillContext, receipt_no: str, request: Mapping[str, int]) -> RefundQuote:
    """Quote a refund without writing anything."""
    with ctx.db.read() as session:
        sale = _load_sale(session, receipt_no)
        view = _view(session, sale)
        member = member_store.get_member(session, sale.member_id)
        return quote_refund(
            ctx.rules,
            _sold(view),
            request,
            balance=member.balance if member else None,
            reversible_points=ledger_store.reversible_earned_points(session, sale.id)
            if member
            else None,
        )


def _restore_expiries(
    ctx: TillContext,
    session: Session,
    sale_id: str,
    points: int,
    now: dt.datetime,
    already_restored: int = 0,
) -> list[tuple[int, dt.date | None]]:
    """The expiries of spent points a refund gives back (see ``core.lots``)."""
    spent = [
        (taken, lot.expires_on if (lot := ledger_store.get_lot(session, lot_id)) else None)
        for lot_id, taken in ledger_store.spend_moves_of_sale(session, sale_id)
    ]
    return restore_expiries(ctx.rules, spent, points, now, already_restored)


def refund(
    ctx: TillContext,
    *,
    refund_id: str,
    receipt_no: str,
    request: Mapping[str, int],
    cashier_id: str,
    manager_id: str,
    manager_pin: str,
    reason: str = "",
) -> RefundResult:
    """Commit a refund approved by a manager, in one transaction (idempotent on id).

    The steps: check the reason and the approval; replay a retried id; quote the refund
    on the sale as it stands; write the refund, its lines and the cash paid out; post the
    points given back and taken back; audit; queue the receipt and the event for HQ.

    Raises:
        AuthError: the approval is not a manager's, or it is the refunding user's own
            and the rule set does not allow that (``refunds.self_approval``).
        PinLocked: too many wrong PINs (services.auth).
        InvalidInput, RefundNotAllowed: no reason, an empty or excessive request
            (nothing written).
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput(QT_TRANSLATE_NOOP("Errors", "Give the reason for the refund."))
    rules = ctx.rules
    if manager_id == cashier_id and not rules.refunds.self_approval:
        raise AuthError(
            QT_TRANSLATE_NOOP(
                "Errors", "A manager cannot approve her own refund: ask another manager."
            )
        )
    approver = verify_manager(ctx, manager_id, manager_pin)
    with ctx.db.write() as session:
        existing = sale_store.get_refund(session, refund_id)
        if existing is not None:
            return _replayed(session, existing, receipt_no, request)
        sale = _load_sale(session, receipt_no)
        member = member_store.get_member(session, sale.member_id)
        q = quote_refund(
            rules,
            _sold(_view(session, sale)),
            request,
            balance=member.balance if member else None,
            reversible_points=ledger_store.reversible_earned_points(session, sale.id)
            if member
            else None,
        )
        already_restored = sale_store.points_restored_of_sale(session, sale.id)
        now = ctx.now()
        row = _write_refund(ctx, session, refund_id, sale, q, cashier_id, approver.id, reason, now)
        entries = []
        if member is not None:
            entries = _post_refund_points(
                ctx, session, member, sale, row.id, q, cashier_id, now, already_restored
            )
        audit.record(
            session,
            at=now,
            actor_id=approver.id,
            action="refund",
            subject=sale.receipt_no,
            detail=f"refund {row.refund_no} cash {q.cash_refund_fen} by {cashier_id}",
        )
        enqueue_receipt(session, "refund", row.id, at=now)  # prints after the commit
        add_outbox(session, "refund", row.id, _refund_event(row, q, entries), now)
        session.flush()
        return RefundResult(
            row.id, row.refund_no, sale.receipt_no, q, member.balance if member else None
        )


def _write_refund(
    ctx: TillContext,
    session: Session,
    refund_id: str,
    sale: Sale,
    q: RefundQuote,
    cashier_id: str,
    approver_id: str,
    reason: str,
    now: dt.datetime,
) -> Refund:
    """The refund row with its lines, and the cash paid out the way the sale was paid."""
    row = Refund(
        id=refund_id,
        refund_no=receipt_number(ctx, session, "F", now),
        sale_id=sale.id,
        created_at=now,
        cashier_id=cashier_id,
        approved_by=approver_id,
        gross_cash_fen=q.gross_cash_fen,
        cash_refund_fen=q.cash_refund_fen,
        cash_deducted_fen=q.cash_deducted_fen,
        points_reversed=q.points_reversed,
        points_restored=q.points_restored,
        debt_points=q.debt_points,
        flagged=q.flagged,
        reason=reason,
        points_expired=q.expired_points,
    )
    lines = [
        RefundLine(
            id=new_id(),
            refund_id=row.id,
            sale_line_id=lq.line_id,
            quantity=lq.quantity,
            cash_fen=lq.cash_fen,
            points_reversed=lq.points_reversed,
            points_restored=lq.points_restored,
        )
        for lq in q.lines
    ]
    sale_store.add_refund(session, row, lines)
    if q.cash_refund_fen:
        paid = sale_store.tenders_of_sale(session, sale.id)
        sale_store.add_tender(
            session,
            Tender(
                id=new_id(),
                refund_id=row.id,
                method=paid[0].method if paid else "cash",
                amount_fen=-q.cash_refund_fen,
                received_fen=-q.cash_refund_fen,
                change_fen=0,
            ),
        )
    return row


def _post_refund_points(
    ctx: TillContext,
    session: Session,
    member: Member,
    sale: Sale,
    refund_id: str,
    q: RefundQuote,
    cashier_id: str,
    now: dt.datetime,
    already_restored: int,
) -> list[LedgerEntry]:
    """Give back the points the refunded part spent (with their expiries), then take
    back those it earned (from the sale's own lot first)."""
    rules = ctx.rules
    post = functools.partial(
        post_points,
        session,
        rules,
        member,
        at=now,
        sale_id=sale.id,
        refund_id=refund_id,
        actor_id=cashier_id,
    )
    entries = []
    if q.points_restored:
        expiries = _restore_expiries(
            ctx, session, sale.id, q.points_restored, now, already_restored
        )
        entries.append(
            post(kind="refund_restore", points=q.points_restored, credit_expiries=expiries)
        )
    if q.points_reversed:
        entries.append(
            post(
                kind="refund_reversal",
                points=-q.points_reversed,
                prefer_lots=ledger_store.earn_lot_of_sale(session, sale.id),
                allow_debt_to=rules.refunds.negative_floor if q.debt_points else None,
            )
        )
    return entries


def _refund_event(row: Refund, q: RefundQuote, entries: Sequence[LedgerEntry]) -> dict[str, Any]:
    """The refund as its outbox event carries it to HQ."""
    return {
        "refund": {
            "id": row.id,
            "refund_no": row.refund_no,
            "sale_id": row.sale_id,
            "created_at": row.created_at.isoformat(),
            "cashier_id": row.cashier_id,
            "approved_by": row.approved_by,
            "cash_refund_fen": q.cash_refund_fen,
            "cash_deducted_fen": q.cash_deducted_fen,
            "flagged": q.flagged,
        },
        "lines": [{"sale_line_id": lq.line_id, "quantity": lq.quantity} for lq in q.lines],
        "entries": [entry_payload(e) for e in entries],
    }


def _replayed(
    session: Session, row: Refund, receipt_no: str, request: Mapping[str, int]
) -> RefundResult:
    """A retried refund id: the first answer back, or a conflict if it was another refund."""
    sale = sale_store.get_sale(session, row.sale_id)
    lines = sale_store.lines_of_refund(session, row.id)
    asked = {line_id: qty for line_id, qty in request.items()}
    if (
        sale is None
        or sale.receipt_no != receipt_no.strip().upper()
        or asked != {ln.sale_line_id: ln.quantity for ln in lines}
    ):
        raise ConflictError(
            QT_TRANSLATE_NOOP("Errors", "This refund was already recorded as {no}."),
            no=row.refund_no,
        )
    member = member_store.get_member(session, sale.member_id)
    quote = RefundQuote(
        lines=tuple(
            RefundLineQuote(
                ln.sale_line_id, ln.quantity, ln.cash_fen, ln.points_reversed, ln.points_restored, 0
            )
            for ln in lines
        ),
        gross_cash_fen=row.gross_cash_fen,
        cash_refund_fen=row.cash_refund_fen,
        points_reversed=row.points_reversed,
        points_restored=row.points_restored,
        # Under deduct_cash the points not taken back (other than expired ones) were the
        # shortfall; under negative_balance the shortfall became the debt.
        shortfall_points=sum(ln.points_reversed for ln in lines)
        - row.points_reversed
        - row.points_expired
        if row.cash_deducted_fen
        else row.debt_points,
        cash_deducted_fen=row.cash_deducted_fen,
        debt_points=row.debt_points,
        balance_after=member.balance if member else 0,
        flagged=row.flagged,
        expired_points=row.points_expired,
    )
    return RefundResult(
        row.id, row.refund_no, sale.receipt_no, quote, member.balance if member else None, True
    )
