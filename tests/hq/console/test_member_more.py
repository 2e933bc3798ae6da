"""The member page's consent and merging a duplicate member (real PostgreSQL): the
figures of both ledgers stay, the kept member's balance is the sum, tills pull the alias."""

from __future__ import annotations

from sqlalchemy import func, select

from pos_app.hq.console.summaries import refresh
from pos_app.hq.models import LedgerEntry, Member
from tests.hq.conftest import HQ
from tests.hq.console.conftest import Console
from tests.hq.console.test_auth import actions, nothing_written
from tests.hq.support import basket, ledger_problems
from tests.hq.test_consent import consent


def two_members(hq: HQ) -> tuple[str, str]:
    """Member A at store 001 (consent stated, then withdrawn through the app) and
    member B at store 002 (another phone) with a purchase."""
    home, away = hq.till("001", "01"), hq.till("002", "01")
    first, reg_a = home.register("13811112222", name="张三")
    reg_a["payload"]["consent"] = consent(True, "sms", "email", at=hq.clock().isoformat())
    second, reg_b = away.register("13933334444")
    hq.push_ok(hq.till1, reg_a)
    hq.push_ok(hq.till2, reg_b, away.sale(second, basket(100)))
    hq.clock.advance(hours=1)
    body = {"id": "w-1", **consent(False, at=hq.clock().isoformat())}
    url = f"/v1/channel/mall/members/{first}/consent"
    assert hq.client.put(url, json=body, headers=hq.headers(hq.mall)).status_code == 200
    return first, second


def ledger_sums(hq: HQ) -> dict[str, int]:
    with hq.db.read() as s:
        rows = s.execute(
            select(LedgerEntry.member_id, func.sum(LedgerEntry.points)).group_by(
                LedgerEntry.member_id
            )
        ).all()
    return {m: int(p) for m, p in rows}


def test_the_member_page_shows_consent_now_and_its_history(console: Console) -> None:
    first, _second = two_members(console.hq)
    console.login("viewer")
    page = console.client.get(f"/console/members/{first}").text
    now = page[page.index('id="consent-now"') : page.index('id="consent-history"')]
    assert 'data-channel="sms">否' in now  # withdrawn through the app
    assert "channel:mall" in now
    history = page[page.index('id="consent-history"') :]
    assert history.count("<tr>") == 3  # header, the till's statement, the withdrawal
    assert "till:001-01" in history
    assert "email, sms" in history
    assert 'id="merge"' not in page  # a viewer may not merge


def test_merging_a_duplicate_keeps_both_ledgers_and_tills_pull_the_alias(
    console: Console,
) -> None:
    hq = console.hq
    first, second = two_members(hq)
    before = ledger_sums(hq)
    balances = {m: hq.member(m)["balance"] for m in (first, second)}
    _pulled, cursor_b = hq.pull_all(hq.till2)
    console.login("finance")
    shown = console.client.get(f"/console/members/{first}", params={"duplicate": "13933334444"})
    assert shown.status_code == 200
    assert f'id="merge-total">{sum(balances.values()):,}<' in shown.text
    assert f'name="duplicate" value="{second}"' in shown.text

    for data, field in (
        ({"duplicate": second, "confirm": "wrong"}, "confirm: "),
        ({"duplicate": "nobody", "confirm": "nobody"}, "duplicate: no member nobody"),
        ({"duplicate": first, "confirm": first}, "duplicate: "),
    ):
        with nothing_written(hq.db):
            refused = console.post(f"/console/members/{first}/merge", data)
        assert refused.status_code == 400
        assert field in refused.text

    done = console.post(f"/console/members/{first}/merge", {"duplicate": second, "confirm": second})
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/members/{first}?merged={second}"
    kept = hq.member(first)
    assert kept["balance"] == sum(balances.values())
    assert kept["aliases"] == [second]
    assert hq.member(second)["id"] == first  # the duplicate's id finds the member kept
    after = ledger_sums(hq)
    assert after[first] == before[first] + balances[second]
    assert after[second] == 0  # merge_out took it all, the entries stay
    assert sum(after.values()) == sum(before.values())  # the liability did not move
    with hq.db.read() as s:
        assert s.get(Member, second).alias_of == first
        assert s.scalar(select(func.sum(Member.balance))) == sum(after.values())
    assert "member.merge" in actions(console)
    assert ledger_problems(hq.db) == []  # balances are ledger sums, lots agree

    # store 002's till held the duplicate: it pulls it as an alias and the kept member whole
    pulled, _ = hq.pull_all(hq.till2, cursor_b)
    snapshots = {c["data"]["id"]: c["data"] for c in pulled if c["topic"] == "member_snapshot"}
    assert snapshots[first]["balance"] == sum(balances.values())
    changed = [c["data"] for c in pulled if c["data"].get("id") == second]
    assert changed
    assert changed[-1]["alias_of"] == first
    # merging again finds nothing to merge and writes nothing
    with nothing_written(hq.db):
        again = console.post(
            f"/console/members/{first}/merge", {"duplicate": second, "confirm": second}
        )
    assert again.status_code == 400
    # a till still using the duplicate's id earns for the member kept
    away = hq.till("002", "01")
    away.know(second, balances[second])
    hq.push_ok(hq.till2, away.sale(second, basket(50)))
    assert hq.member(first)["balance"] > sum(balances.values())


def test_only_finance_and_admin_merge(console: Console) -> None:
    first, second = two_members(console.hq)
    for role in ("viewer", "marketing"):
        console.login(role)
        page = console.client.get(f"/console/members/{first}", params={"duplicate": second})
        assert 'id="merge-do"' not in page.text
        with nothing_written(console.hq.db):
            refused = console.post(
                f"/console/members/{first}/merge", {"duplicate": second, "confirm": second}
            )
        assert refused.status_code == 403
    with console.hq.db.read() as s:
        assert s.get(Member, second).alias_of is None


def test_the_member_page_shows_the_tier_history_the_jobs_recorded(console: Console) -> None:
    """Issue 15: a member's tier history on their page, as ``pos-hq run-jobs``' summary
    refresh recorded it (joining, then an upgrade after a large purchase)."""
    hq = console.hq
    till = hq.till("001", "01")
    member, registered = till.register("13755556666")
    hq.push_ok(hq.till1, registered)
    refresh(hq.db, hq.clock())
    hq.clock.advance(hours=1)
    hq.push_ok(hq.till1, till.sale(member, basket(6000)))  # over silver's threshold
    refresh(hq.db, hq.clock())
    tier = hq.member(member)["tier"]
    assert tier != "regular"
    console.login("viewer")
    page = console.client.get(f"/console/members/{member}").text
    table = page[
        page.index('id="tier-history"') : page.index("</table>", page.index('id="tier-history"'))
    ]
    rows = table.split("<tr>")[2:]  # after the header
    assert len(rows) == 2
    assert "<td>—</td><td>regular" in rows[0]
    assert f"<td>regular</td><td>{tier}" in rows[1]
