"""The points mall: items, redemptions, lottery entries and draws."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.store.models import Coupon, LotteryDraw, LotteryEntry, MallItemRow, MallRedemption


# -- items ---------------------------------------------------------------------------------
def get_item(session: Session, item_id: str) -> MallItemRow | None:
    """The item's row, or None."""
    return session.get(MallItemRow, item_id)


def item_for_update(session: Session, item_id: str) -> MallItemRow:
    """The item's row to change: the stored one, or a new one added."""
    row = session.get(MallItemRow, item_id)
    if row is None:
        row = MallItemRow(id=item_id)
        session.add(row)
    return row


def all_items(session: Session) -> list[MallItemRow]:
    """Every item of the mall."""
    return list(session.scalars(select(MallItemRow)))


def lottery_items(session: Session) -> list[MallItemRow]:
    """The lottery items, by id."""
    return list(
        session.scalars(
            select(MallItemRow).where(MallItemRow.kind == "lottery").order_by(MallItemRow.id)
        )
    )


def item_categories(session: Session) -> list[str]:
    """The items' distinct categories (unsorted)."""
    return list(session.scalars(select(MallItemRow.category).distinct()))


# -- redemptions -----------------------------------------------------------------------------
def get_redemption(session: Session, redemption_id: str) -> MallRedemption | None:
    """The redemption's row, or None."""
    return session.get(MallRedemption, redemption_id)


def redeemed_by_member(session: Session, member_id: str) -> dict[str, int]:
    """Units the member redeemed, per item."""
    rows = session.execute(
        select(MallRedemption.item_id, func.sum(MallRedemption.quantity))
        .where(MallRedemption.member_id == member_id)
        .group_by(MallRedemption.item_id)
    ).all()
    return {item_id: int(qty) for item_id, qty in rows}


def redeemed_quantity(session: Session, member_id: str, item_id: str) -> int:
    """Units of the item the member redeemed."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(MallRedemption.quantity), 0)).where(
                MallRedemption.member_id == member_id, MallRedemption.item_id == item_id
            )
        ).scalar_one()
    )


def add_redemption(
    session: Session,
    redemption: MallRedemption,
    coupons: Sequence[Coupon],
    entries: Sequence[LotteryEntry],
) -> None:
    """Write a redemption with the coupons it issued and its lottery entries (these refer
    to the redemption: written after it)."""
    session.add(redemption)
    session.add_all(coupons)
    session.flush()
    session.add_all(entries)


# -- the lottery -------------------------------------------------------------------------------
def drawn_items(session: Session) -> set[str]:
    """Items whose lottery was drawn."""
    return set(session.scalars(select(LotteryDraw.item_id)))


def entry_counts(session: Session) -> dict[str, int]:
    """Lottery entries per item."""
    rows = session.execute(
        select(LotteryEntry.item_id, func.count()).group_by(LotteryEntry.item_id)
    ).all()
    return {item_id: int(n) for item_id, n in rows}


def draw_of_item(session: Session, item_id: str) -> LotteryDraw | None:
    """The item's recorded draw, or None."""
    return session.scalars(select(LotteryDraw).where(LotteryDraw.item_id == item_id)).first()


def entry_ids_of_item(session: Session, item_id: str) -> list[str]:
    """The ids of the item's lottery entries."""
    return list(session.scalars(select(LotteryEntry.id).where(LotteryEntry.item_id == item_id)))


def get_entry(session: Session, entry_id: str) -> LotteryEntry | None:
    """A lottery entry, or None."""
    return session.get(LotteryEntry, entry_id)


def add_draw(session: Session, record: LotteryDraw) -> None:
    """Add a draw record to the session."""
    session.add(record)


def delete_item(session: Session, row: MallItemRow) -> None:
    """Remove an item from the mall."""
    session.delete(row)
