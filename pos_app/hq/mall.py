"""The points mall at HQ: the one mapping of HQ's item rows to the core's, price
versions and quotes, floating prices, and the chain's lotteries (prize catalogue, the
recorded draw, the prizes issued to the winners).

**Lotteries.** HQ draws the lotteries it publishes (``mall_items.kind = 'lottery'``):
their entries are the units of the ``redemption`` events HQ accepted for the item
(:func:`pos_app.core.mall.lottery_entry_ids`), so one draw covers every channel. A
till's own lottery (an item its manager set up at the counter) is still drawn on that
till (``pos_app.services.mall.draw``); a till does not list HQ's lotteries, whose entries
it could not send (docs/mall.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pos_app.core.mall import (
    DRAW_ALGORITHM,
    FloatBounds,
    Prize,
    assign_prizes,
    draw_lottery,
    entries_digest,
    float_price,
    lottery_entry_ids,
    mall_item_of,
    price_at,
    prize_slots,
)
from pos_app.core.mall import MallItem as CoreMallItem
from pos_app.hq import audit
from pos_app.hq.book import Book, Origin, Prefetch
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import Conflict, NotFound
from pos_app.hq.ledger import active_rules
from pos_app.hq.models import (
    Coupon,
    LotteryDraw,
    LotteryPrize,
    LotteryWinner,
    MallItem,
    MallPriceChange,
    Redemption,
)
from pos_app.hq.schemas import PrizeIn
from pos_app.hq.security import derived_id

#: A quote is honoured this long after the price it named changed (docs/mall.md).
QUOTE_HOLD = dt.timedelta(minutes=15)
PRIZE_SOURCE = "lottery"


def active_items(session: Session) -> list[CoreMallItem]:
    """Every mall item on offer, as the core's items (the front page, the reminders)."""
    rows = session.scalars(select(MallItem).where(MallItem.active.is_(True)))
    return [mall_item_of(row) for row in rows]


# -- price versions and quotes ------------------------------------------------------------


def set_points_price(
    session: Session, row: MallItem, price: int, now: dt.datetime, source: str
) -> bool:
    """Give ``row`` a new regular points price as its next version (recorded in
    ``mall_price_changes``; tills pull the item). False when the price is the same."""
    if row.points_price == price and row.price_version is not None:
        return False
    version = row.price_version or 1
    if session.get(MallPriceChange, (row.id, version)) is None:
        session.add(
            MallPriceChange(
                item_id=row.id,
                version=version,
                points_price=row.points_price,
                changed_at=row.price_changed_at or row.updated_at or now,
                source="before",
            )
        )
    row.points_price = price
    row.price_version = version + 1
    row.price_changed_at = now
    session.add(
        MallPriceChange(
            item_id=row.id, version=version + 1, points_price=price, changed_at=now, source=source
        )
    )
    return True


@dataclass(frozen=True)
class Quote:
    """What a member is shown for ``quantity`` units: commit it with ``price_version``."""

    item_id: str
    price_version: int
    unit_points: int
    points: int
    cash_fen: int
    quoted_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form; ``honoured_for_s``: how long the quote holds once the price
        changes (until then it always holds)."""
        return {
            "item_id": self.item_id,
            "price_version": self.price_version,
            "unit_points": self.unit_points,
            "points": self.points,
            "cash_fen": self.cash_fen,
            "quoted_at": self.quoted_at.isoformat(),
            "honoured_for_s": int(QUOTE_HOLD.total_seconds()),
        }


def quote(session: Session, item_id: str, quantity: int, now: dt.datetime) -> Quote:
    """The price of ``quantity`` units of ``item_id`` now, with its version.

    Raises:
        NotFound: no such item on offer.
    """
    row = session.get(MallItem, item_id)
    if row is None or not row.active:
        raise NotFound(f"mall item {item_id} is not on offer")
    unit = price_at(mall_item_of(row), now)
    return Quote(
        row.id, row.price_version, unit, unit * quantity, row.cash_price_fen * quantity, now
    )


def quoted_regular_price(
    session: Session, item_id: str, current: int, version: int, asked: int | None, at: dt.datetime
) -> int:
    """The regular points price a redemption at ``at`` pays: the current one, or the one
    of the quoted version ``asked`` while :data:`QUOTE_HOLD` has not passed since the next
    version replaced it.

    Raises:
        Conflict: the quote is too old (the message says the price now), or names a
            version the item never had.
    """
    if asked is None or asked == version:
        return current
    quoted = session.get(MallPriceChange, (item_id, asked))
    after = session.get(MallPriceChange, (item_id, asked + 1))
    if asked > version or quoted is None or after is None:
        raise Conflict(f"{item_id} has no price version {asked}: quote again")
    if at > after.changed_at + QUOTE_HOLD:
        raise Conflict(
            f"the price of {item_id} changed at {after.changed_at.isoformat()} "
            f"(now {current} points, version {version}): quote again"
        )
    return quoted.points_price


# -- floating prices ------------------------------------------------------------------


def bounds_of(row: MallItem) -> FloatBounds | None:
    """The item's floating bounds, or None for a fixed price."""
    if (
        row.float_floor is None
        or row.float_ceiling is None
        or row.float_step is None
        or row.float_interval_minutes is None
        or row.float_target is None
    ):
        return None
    return FloatBounds(
        floor=row.float_floor,
        ceiling=row.float_ceiling,
        step=row.float_step,
        interval=dt.timedelta(minutes=row.float_interval_minutes),
        target=row.float_target,
    )


def run_floating(db: HQDatabase, now: dt.datetime) -> int:
    """Move every floating item's price as :func:`pos_app.core.mall.float_price` decides
    from its redemptions of the last interval and its stock; returns the changes."""
    changed = 0
    with db.write() as s:
        rows = s.scalars(
            select(MallItem)
            .where(MallItem.active.is_(True), MallItem.float_floor.is_not(None))
            .order_by(MallItem.id)
        ).all()
        for row in rows:
            bounds = bounds_of(row)
            if bounds is None:
                continue
            redeemed = s.scalar(
                select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                    Redemption.item_id == row.id, Redemption.created_at > now - bounds.interval
                )
            )
            price = float_price(
                bounds,
                row.points_price,
                changed_at=row.price_changed_at,
                at=now,
                redeemed=int(redeemed or 0),
                stock=row.stock,
            )
            if set_points_price(s, row, price, now, "floating"):
                changed += 1
                audit.record(
                    s,
                    now,
                    "hq:jobs",
                    "mall.price_float",
                    row.id,
                    points_price=price,
                    version=row.price_version,
                )
    return changed


# -- lotteries: prizes and the draw ---------------------------------------------------


def _lottery(session: Session, item_id: str) -> MallItem:
    row = session.get(MallItem, item_id)
    if row is None or row.kind != "lottery":
        raise NotFound(f"no lottery {item_id} at HQ")
    return row


def core_prize(row: LotteryPrize) -> Prize:
    """A catalogue row as the core's prize."""
    return Prize(row.position, row.kind, row.name, row.count, row.points, row.amount_off_fen)


def prizes_of(session: Session, item_id: str) -> list[LotteryPrize]:
    """The lottery's prize catalogue, in order."""
    return list(
        session.scalars(
            select(LotteryPrize)
            .where(LotteryPrize.item_id == item_id)
            .order_by(LotteryPrize.position)
        )
    )


def set_prizes(
    session: Session, item_id: str, prizes: Sequence[PrizeIn], now: dt.datetime, actor: str
) -> list[LotteryPrize]:
    """Replace the prize catalogue of a lottery not drawn yet (audited ``lottery.prizes``).

    Raises:
        NotFound: no such lottery.
        Conflict: it has been drawn.
    """
    _lottery(session, item_id)
    if session.get(LotteryDraw, item_id) is not None:
        raise Conflict(f"the lottery {item_id} has been drawn: its prizes are fixed")
    for old in prizes_of(session, item_id):
        session.delete(old)
    session.flush()
    session.add_all(
        LotteryPrize(item_id=item_id, position=n, **p.model_dump()) for n, p in enumerate(prizes)
    )
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "lottery.prizes",
        item_id,
        prizes=[{"kind": p.kind, "count": p.count} for p in prizes],
    )
    return prizes_of(session, item_id)


def entries_of(session: Session, item_id: str) -> dict[str, str]:
    """Every entry of an HQ lottery (entry id -> member id): one per redeemed unit."""
    out: dict[str, str] = {}
    for rid, member_id, quantity in session.execute(
        select(Redemption.id, Redemption.member_id, Redemption.quantity).where(
            Redemption.item_id == item_id
        )
    ):
        out.update(dict.fromkeys(lottery_entry_ids(rid, quantity), member_id))
    return out


def winner_id(item_id: str, entry_id: str) -> str:
    """The id of the prize an entry won (and of what it becomes: entry, coupon)."""
    return derived_id("lottery", item_id, entry_id)


def draw(
    session: Session, item_id: str, now: dt.datetime, actor: str, seed: bytes | None = None
) -> LotteryDraw:
    """Draw an HQ lottery: a fresh 32-byte seed (or ``seed``), recorded with the entries'
    digest; the winners (:func:`pos_app.core.mall.draw_lottery`) each get the next prize
    of the catalogue, to be issued by the prize job. Closes the lottery to redemptions.

    Raises:
        NotFound: no such lottery.
        Conflict: drawn already, no prizes, or no entries.
    """
    _lottery(session, item_id)
    if session.get(LotteryDraw, item_id) is not None:
        raise Conflict(f"the lottery {item_id} has already been drawn")
    prizes = [core_prize(p) for p in prizes_of(session, item_id)]
    if not prizes:
        raise Conflict(f"the lottery {item_id} has no prizes: set its prize catalogue first")
    entries = entries_of(session, item_id)
    if not entries:
        raise Conflict(f"the lottery {item_id} has no entries yet")
    seed = seed if seed is not None else secrets.token_bytes(32)
    ranked = draw_lottery(entries, seed, len(prize_slots(prizes)))
    record = LotteryDraw(
        item_id=item_id,
        drawn_at=now,
        seed_hex=seed.hex(),
        algorithm=DRAW_ALGORITHM,
        entries=len(entries),
        entries_digest=entries_digest(entries),
        actor=actor,
    )
    session.add(record)
    session.flush()
    session.add_all(
        LotteryWinner(
            id=winner_id(item_id, entry),
            item_id=item_id,
            rank=rank,
            entry_id=entry,
            member_id=entries[entry],
            prize_position=prize.position,
            prize_kind=prize.kind,
            prize_name=prize.name,
        )
        for rank, (entry, prize) in enumerate(assign_prizes(ranked, prizes))
    )
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "lottery.draw",
        item_id,
        entries=len(entries),
        digest=record.entries_digest,
        winners=len(ranked),
    )
    return record


def verify(session: Session, item_id: str) -> bool:
    """Repeat a recorded draw: the same entries and seed give the same winners and
    prizes."""
    record = session.get(LotteryDraw, item_id)
    if record is None:
        raise NotFound(f"the lottery {item_id} has not been drawn")
    entries = entries_of(session, item_id)
    prizes = [core_prize(p) for p in prizes_of(session, item_id)]
    ranked = draw_lottery(entries, bytes.fromhex(record.seed_hex), len(prize_slots(prizes)))
    again = [(e, p.position) for e, p in assign_prizes(ranked, prizes)]
    stored = [
        (w.entry_id, w.prize_position)
        for w in session.scalars(
            select(LotteryWinner)
            .where(LotteryWinner.item_id == item_id)
            .order_by(LotteryWinner.rank)
        )
    ]
    return entries_digest(entries) == record.entries_digest and again == stored


# -- issuing the prizes ---------------------------------------------------------------


def coupon_code(wid: str) -> str:
    """The prize coupon's code, derived from the win (``LP`` + 12 hex digits)."""
    return "LP" + hashlib.sha256(wid.encode()).hexdigest()[:12].upper()


def _prize_coupon(
    session: Session, win: LotteryWinner, prize: LotteryPrize, member_id: str, now: dt.datetime
) -> str:
    """The coupon (or the voucher to collect goods) of a win; its id is the win's."""
    coupon_id = "LP-" + win.id.removeprefix("hq-")[:29]
    if session.get(Coupon, coupon_id) is None:
        goods = prize.kind == "goods"
        session.add(
            Coupon(
                id=coupon_id,
                code=coupon_code(win.id),
                member_id=member_id,
                name=(f"奖品 {prize.name} 到店领取" if goods else prize.name)[:64],
                amount_off_fen=0 if goods else prize.amount_off_fen,
                percent_off=0,
                min_order_fen=0 if goods else prize.min_order_fen,
                valid_from=now,
                valid_to=now + dt.timedelta(days=prize.valid_days),
                issued_at=now,
                source=PRIZE_SOURCE,
            )
        )
    return coupon_id


def issue_prizes(db: HQDatabase, now: dt.datetime, batch: int = 500) -> int:
    """Issue every drawn prize not issued yet: points as a ``bonus`` ledger entry, a
    coupon or a voucher for goods as a coupon, each under an id derived from the win,
    in the transaction that marks the win issued. Tills pull both like HQ's other
    entries and coupons; a rerun (or HQ restarted mid-way) issues nothing twice."""
    issued = 0
    while True:
        with db.write() as s:
            wins = list(
                s.scalars(
                    select(LotteryWinner)
                    .where(LotteryWinner.issued_at.is_(None))
                    .order_by(LotteryWinner.item_id, LotteryWinner.rank)
                    .limit(batch)
                )
            )
            if not wins:
                return issued
            rules = active_rules(s)
            book = Book(s, now)
            book.prefetch(Prefetch(member_ids={w.member_id for w in wins}), rules, None)
            for win in wins:
                prize = s.get(LotteryPrize, (win.item_id, win.prize_position))
                named = book.member(win.member_id)
                if prize is None or named is None:
                    raise RuntimeError(f"win {win.id}: its prize or member is gone")
                member = book.canonical(named)
                if prize.kind == "points":
                    win.ledger_entry_id = win.id
                    if book.entry(win.id, member.id) is None:
                        book.post(
                            rules,
                            member,
                            entry_id=win.id,
                            kind="bonus",
                            points=prize.points,
                            created_at=now,
                            origin=Origin("hq", None, None, None, now),
                            in_origin_ledger=False,
                            reason=f"lottery:{win.item_id}",
                        )
                else:
                    win.coupon_id = _prize_coupon(s, win, prize, member.id, now)
                win.issued_at = now
                issued += 1
            book.flush()


def lottery_view(session: Session, item_id: str) -> dict[str, Any]:
    """A lottery as the console shows it: prizes, entries, the draw and each win."""
    row = _lottery(session, item_id)
    record = session.get(LotteryDraw, item_id)
    wins = list(
        session.scalars(
            select(LotteryWinner)
            .where(LotteryWinner.item_id == item_id)
            .order_by(LotteryWinner.rank)
        )
    )
    return {
        "item": row,
        "prizes": prizes_of(session, item_id),
        "entries": len(entries_of(session, item_id)),
        "draw": record,
        "winners": wins,
    }


def prize_data(row: LotteryPrize) -> dict[str, Any]:
    """A catalogue line as the admin API shows it."""
    return {
        "position": row.position,
        "kind": row.kind,
        "name": row.name,
        "count": row.count,
        "points": row.points,
        "amount_off_fen": row.amount_off_fen,
        "min_order_fen": row.min_order_fen,
        "valid_days": row.valid_days,
    }


def lottery_data(session: Session, item_id: str) -> dict[str, Any]:
    """:func:`lottery_view` as JSON (the seed is public once drawn: anyone may check)."""
    view = lottery_view(session, item_id)
    record: LotteryDraw | None = view["draw"]
    return {
        "item_id": item_id,
        "prizes": [prize_data(p) for p in view["prizes"]],
        "entries": view["entries"],
        "draw": None
        if record is None
        else {
            "drawn_at": record.drawn_at.isoformat(),
            "seed_hex": record.seed_hex,
            "algorithm": record.algorithm,
            "entries": record.entries,
            "entries_digest": record.entries_digest,
            "verified": verify(session, item_id),
        },
        "winners": [
            {
                "id": w.id,
                "rank": w.rank,
                "entry_id": w.entry_id,
                "member_id": w.member_id,
                "prize": w.prize_name,
                "kind": w.prize_kind,
                "issued_at": w.issued_at.isoformat() if w.issued_at else None,
                "ledger_entry_id": w.ledger_entry_id,
                "coupon_id": w.coupon_id,
            }
            for w in view["winners"]
        ],
    }


def drawn(session: Session, item_id: str) -> bool:
    """Whether HQ has drawn this lottery (it takes no more entries)."""
    return session.get(LotteryDraw, item_id) is not None


def at_regular_price(item: CoreMallItem, regular: int) -> CoreMallItem:
    """``item`` at another regular price (a quoted version's)."""
    return replace(item, points_price=regular)
