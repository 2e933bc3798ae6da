"""``tests/support/hqdata.py``: a generated chain keeps HQ's invariants and schema, its
members are found by the hash a till computes, and HQ takes pushes for them."""

from __future__ import annotations

from sqlalchemy import func, select, text

from pos_app.core.privacy import normalize_phone, phone_hash
from pos_app.hq.database import HQDatabase
from pos_app.hq.models import Counter, LedgerEntry, Member, MemberScope, Sale, SaleLine
from tests.hq.conftest import HQ
from tests.hq.support import basket, ledger_problems
from tests.support.hqdata import (
    ChainSpec,
    chain_problems,
    generate_chain,
    member_id,
    phone,
    store_of_member,
)

TABLES = (
    "members",
    "ledger_entries",
    "lots",
    "lot_moves",
    "sales",
    "sale_lines",
    "stores",
    "member_scopes",
)


def schema(db: HQDatabase) -> set[tuple[str, ...]]:
    """Every index and key of HQ's tables, as PostgreSQL describes them."""
    with db.read() as s:
        indexes = s.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            )
        ).all()
        keys = s.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), "
                "convalidated::text FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            )
        ).all()
    return {tuple(row) for row in [*indexes, *keys]}


def counts(db: HQDatabase) -> dict[str, int]:
    with db.read() as s:
        return {t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}


def test_a_generated_chain_keeps_hqs_invariants_and_takes_pushes(hq: HQ) -> None:
    before, keys = counts(hq.db), schema(hq.db)
    with hq.db.read() as s:
        start = s.execute(select(Counter.value)).scalar_one()
    spec = ChainSpec(members=2000, stores=6, regions=2, sale_every=4, now=hq.clock())
    chain = generate_chain(hq.db.url, spec)

    assert schema(hq.db) == keys  # every key and index rebuilt as the migration made it
    after = counts(hq.db)
    assert {t: after[t] - before[t] for t in chain.rows} == chain.rows
    assert (chain.rows["members"], chain.rows["sales"]) == (2000, 500)
    assert chain_problems(hq.db.url) == {"balance_not_ledger": 0, "lots_not_balance": 0}
    assert not ledger_problems(hq.db)
    assert chain.regions == {1: ["G00001", "G00003", "G00005"], 2: ["G00002", "G00004", "G00006"]}
    with hq.db.read() as s:
        assert s.execute(select(Counter.value)).scalar_one() == chain.last_seq
        seqs = [
            *s.scalars(select(Member.seq).where(Member.id.like("gm%"))),
            *s.scalars(select(LedgerEntry.seq).where(LedgerEntry.member_id.like("gm%"))),
        ]
        assert sorted(seqs) == list(range(start + 1, chain.last_seq + 1))
        assert s.scalar(select(func.count()).select_from(SaleLine)) == 2 * 500
        assert s.get(Sale, "gx0000000008") is not None
        for i in (1, 8, 1999, 2000):
            digest = phone_hash(normalize_phone(phone(i)), hq.phone_key)
            found = s.scalars(select(Member).where(Member.phone_hash == digest)).one()
            assert (found.id, found.balance) == (member_id(i), chain.balance(i))
            assert found.registered_store == store_of_member(i, 6)
    assert [chain.balance(i) for i in (1, 4, 8)] == [100, 100 + 54, 100 + 58 - 100]
    changes = hq.pull(hq.mall, f"v1:{chain.first_seq - 1}", 5)["changes"]  # the chain
    assert [c["data"]["id"] for c in changes] == [member_id(i) for i in range(1, 6)]
    with hq.db.read() as s:  # each member is held by its store's region's tills
        scopes = dict(s.execute(select(MemberScope.member_id, MemberScope.region)).all())
    assert len(scopes) == 2000
    assert (scopes[member_id(1)], scopes[member_id(2)]) == ("R002", "R001")

    till = hq.till("001", "01")
    till.know(member_id(4), chain.balance(4))
    (result,) = hq.push_ok(hq.till1, till.sale(member_id(4), basket(100), points=100))
    assert result["result"]["balance"] == till.members[member_id(4)].balance
