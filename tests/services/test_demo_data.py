"""``pos-app demo-data``: members sit at the tier their history earns; demo users' names
do not repeat their role."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pos_app.core.tiers import qualified_tier, window_start_at
from pos_app.services.context import open_till
from pos_app.services.demo import DEMO_TIER_PRICES, build_demo_data
from pos_app.services.mall import front
from pos_app.services.members import summary
from pos_app.services.till_session import DEMO_USERS, ensure_demo_users
from pos_app.store import repo
from pos_app.store.models import Member


def test_demo_members_sit_at_the_tier_their_history_earns(tmp_path: Path) -> None:
    ctx = open_till(tmp_path / "demo.sqlite")
    try:
        build_demo_data(ctx, members=400, sales=4_000, seed=3)
        rules = ctx.rules
        # the demo store sells at tier prices (make run shows them at the counter)
        assert rules.perks.tier_price_percent == DEMO_TIER_PRICES
        assert rules.version.endswith("-demo")
        page = front(ctx)  # HQ's picks in the demo mall lead their sections
        hot = dict(page.sections)["hot"]
        assert hot[0].item_id == "MALL005"
        assert hot[0].featured
        since = window_start_at(rules, ctx.now())
        with ctx.db.read() as session:
            tiers = {row[0]: row[1] for row in session.execute(select(Member.id, Member.tier))}
            spend = repo.spend_by_member(session, list(tiers), since)
            points = repo.purchase_points_by_member(session, list(tiers), since)
        below = [
            member_id
            for member_id, tier in tiers.items()
            if rules.tier_rank(tier)
            < rules.tier_rank(
                qualified_tier(rules, spend.get(member_id, 0), points.get(member_id, 0))
            )
        ]
        assert below == []
        assert len(spend) > 300  # most members have a history to earn a tier with
        # What a receipt tells them: never "spend 0 more" for a tier they should have.
        for member_id in list(spend)[:50]:
            progress = summary(ctx, member_id).progress
            if progress.next_tier is not None:
                assert progress.spend_needed_fen > 0
                assert progress.points_needed > 0
    finally:
        ctx.db.close()


def test_demo_users_are_named_without_their_role(tmp_path: Path) -> None:
    ctx = open_till(tmp_path / "till.sqlite")
    try:
        users = ensure_demo_users(ctx)
    finally:
        ctx.db.close()
    assert {(u.name, u.role) for u in users} == {(n, r) for n, r, _pin in DEMO_USERS}
    for user in users:
        assert "收银员" not in user.name
        assert "店长" not in user.name
