"""The points mall's front page at HQ: what HQ features (``mall_featured``) and the
page itself for the channel API (:func:`pos_app.core.front.front_page`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pos_app.core.front import Featured, front_page
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.ledger import active_rules, resolve_member
from pos_app.hq.mall import active_items
from pos_app.hq.models import MallFeatured, MallItem


def set_featured(
    session: Session, sections: dict[str, list[str]], now: dt.datetime
) -> dict[str, list[str]]:
    """Replace the featured items of the sections given (each an ordered list of ids).

    Raises:
        BadRequest: an id that is not a mall item, or the same id twice in a section.
    """
    wanted = {i for ids in sections.values() for i in ids}
    known = set(session.scalars(select(MallItem.id).where(MallItem.id.in_(wanted))))
    for section, ids in sections.items():
        missing = [i for i in ids if i not in known]
        if missing:
            raise BadRequest(f"{section}: not mall items: {', '.join(missing)}")
        if len(set(ids)) != len(ids):
            raise BadRequest(f"{section}: an item is listed twice")
    for section, ids in sections.items():
        session.execute(delete(MallFeatured).where(MallFeatured.section == section))
        session.add_all(
            MallFeatured(section=section, item_id=i, position=n, updated_at=now)
            for n, i in enumerate(ids)
        )
    session.flush()
    _publish_picks(session, now)
    return featured_ids(session)


def picks_of(featured: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Item id -> {section: position}: HQ's picks as each mall item carries them."""
    out: dict[str, dict[str, int]] = {}
    for section, ids in featured.items():
        for position, item_id in enumerate(ids):
            out.setdefault(item_id, {})[section] = position
    return out


def _publish_picks(session: Session, now: dt.datetime) -> None:
    """Write each mall item's picks (``mall_items.featured``) where they changed: the
    change re-publishes the item in the pull feed, so tills get HQ's front page."""
    picks = picks_of(featured_ids(session))
    for row in session.scalars(select(MallItem)):
        text = json.dumps(picks.get(row.id, {}), sort_keys=True)
        if row.featured != text:
            row.featured = text
            row.updated_at = now
    session.flush()


def featured_ids(session: Session) -> dict[str, list[str]]:
    """Featured item ids per section, in order."""
    out: dict[str, list[str]] = {}
    for row in session.scalars(
        select(MallFeatured).order_by(MallFeatured.section, MallFeatured.position)
    ):
        out.setdefault(row.section, []).append(row.item_id)
    return out


def page(session: Session, now: dt.datetime, member_id: str | None) -> dict[str, Any]:
    """The front page now, for ``member_id`` (their tier's early access and minimum
    tiers) or for a visitor.

    Raises:
        NotFound: an unknown member.
    """
    tier = None
    if member_id is not None:
        member = resolve_member(session, member_id)
        if member is None:
            raise NotFound(f"member {member_id} is not known at HQ")
        tier = member.tier
    items = active_items(session)
    featured = [
        Featured(r.section, r.item_id, r.position) for r in session.scalars(select(MallFeatured))
    ]
    shown = front_page(active_rules(session), items, featured, now, tier)
    return {
        "at": now.isoformat(),
        "tier": tier,
        "member_day": shown["member_day"],
        "pyramid": shown["pyramid"],
        "sections": {s: [i.as_dict() for i in items] for s, items in shown["sections"].items()},
    }
