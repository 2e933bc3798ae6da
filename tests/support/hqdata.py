"""A big HQ chain generated straight into PostgreSQL, for benchmarks and tests.

``generate_chain(url, ChainSpec(members=1_000_000))`` adds to a database HQ has migrated
(``pos-hq migrate``: it reads HQ's phone-hash key and active rule set there):

* ``stores`` stores ``G00001``... in ``regions`` regions (store n is in region
  ``(n - 1) % regions + 1``, code ``R001``..., also named in the store's name); every
  member is in the scope of its store's region (``member_scopes``, change number 0: held
  by the region's tills from the start, as HQ's migration puts members it had);
* ``members`` members. Member i (1-based) has the id ``gm`` + i in ten digits, the phone
  ``139`` + i in eight digits (``+86139...``: valid mainland mobiles, so ``members`` must
  stay below 10**8), and the phone hash a till computes for that phone with HQ's key
  (HMAC-SHA256 in Python, streamed with ``COPY``). Member i registered at store
  ``i % stores + 1``, ``i % 700`` days ago, with the rule set's registration bonus
  (100 points if the rules give none) in a lot;
* every ``sale_every``-th member made one sale (two lines) that earned ``50 + i % 450``
  points into a lot; every ``2 * sale_every``-th also spent the rule set's spending unit
  (100 points, at most the bonus) of its bonus lot.

Balances equal the ledger sums and the open lots; every row tills pull carries a change
number (members, then bonus, earn and spend entries) and HQ's counter ends at the last
one. The generated tables' keys and indexes are dropped while loading and rebuilt from
their own catalog definitions afterwards (what ``pg_restore`` does), in the same single
transaction, then the tables are analysed: run it on a database nobody else is using.

    .venv/bin/python -m tests.support.hqdata --url URL --members 1000000 [--stores 1000]

This module must not import pytest: benchmarks use it too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pos_app.core.calendar import local_date
from pos_app.core.lots import expiry_for
from pos_app.core.privacy import mask_national
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.core.tiers import last_review_date

DAYS = 700  # member i registered (i % DAYS) days ago
TABLES = (
    "members",
    "ledger_entries",
    "lots",
    "lot_moves",
    "sales",
    "sale_lines",
    "member_scopes",
)
_COPY_BATCH = 20_000


@dataclass(frozen=True)
class ChainSpec:
    """The chain to generate.

    Attributes:
        members: Members (below 10**8: the phone numbers hold eight digits of it).
        stores: Stores (up to 99,999).
        regions: Regions the stores are spread over.
        sale_every: Every n-th member made a sale; every 2n-th also spent points.
        now: The time the chain is generated at (registrations and sales are before it).
    """

    members: int = 1_000_000
    stores: int = 100
    regions: int = 10
    sale_every: int = 4
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __post_init__(self) -> None:
        if not 1 <= self.members < 10**8:
            raise ValueError("members must be 1 to 99,999,999")
        if not 1 <= self.regions <= self.stores <= 99_999:
            raise ValueError("need 1 <= regions <= stores <= 99,999")
        if self.sale_every < 1:
            raise ValueError("sale_every must be at least 1")


@dataclass
class Chain:
    """What was generated, and how to find it.

    Attributes:
        first_seq: The first change number the chain took.
        last_seq: HQ's counter after it.
        rows: Rows written per table.
        seconds: Time taken by each phase.
    """

    spec: ChainSpec
    bonus: int
    spend: int
    first_seq: int
    last_seq: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def regions(self) -> dict[int, list[str]]:
        """Region number -> its store codes (the region's code: :func:`region_code`)."""
        out: dict[int, list[str]] = {}
        for n in range(1, self.spec.stores + 1):
            out.setdefault(region_of_store(n, self.spec.regions), []).append(store_code(n))
        return out

    tiers: tuple[str, ...] = ()

    def balance(self, i: int) -> int:
        """Member i's balance (= its ledger sum = its open lots)."""
        return member_balance(i, self.spec.sale_every, self.bonus, self.spend)

    def tier(self, i: int) -> str:
        """Member i's tier."""
        return member_tier(i, self.tiers)


def member_tier(i: int, tiers: Sequence[str]) -> str:
    """The tier of member i: every tenth member in the second tier of ``tiers`` (the rule
    set's, lowest first), the others in the first."""
    return tiers[1] if i % 10 == 0 and len(tiers) > 1 else tiers[0]


def region_code(n: int) -> str:
    """The code of region n (``stores.region``, ``member_scopes.region``)."""
    return f"R{n:03d}"


def member_id(i: int) -> str:
    """The id of member i."""
    return f"gm{i:010d}"


def phone(i: int) -> str:
    """The phone number of member i as a cashier types it (national, 11 digits)."""
    return f"139{i:08d}"


def store_code(n: int) -> str:
    """The code of store n (1-based)."""
    return f"G{n:05d}"


def region_of_store(n: int, regions: int) -> int:
    """The region (1-based) of store n."""
    return (n - 1) % regions + 1


def store_of_member(i: int, stores: int) -> str:
    """The store member i registered at."""
    return store_code(i % stores + 1)


def member_balance(i: int, sale_every: int, bonus: int, spend: int) -> int:
    """Member i's points: the bonus, plus the sale's earn, less the spend."""
    earned = 50 + i % 450 if i % sale_every == 0 else 0
    spent = spend if i % (2 * sale_every) == 0 else 0
    return bonus + earned - spent


def chain_points(rules: RuleSet) -> tuple[int, int]:
    """(registration bonus, points a spending member spent) under ``rules``."""
    bonus = rules.bonuses.registration or 100
    return bonus, min(rules.spending.unit_points, bonus)


# -- the generation ------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """A libpq URL for psycopg from a SQLAlchemy one (``postgresql+psycopg://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def generate_chain(url: str, spec: ChainSpec) -> Chain:
    """Add ``spec``'s chain to the HQ database at ``url`` (migrated), in one transaction."""
    clock = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        cur = conn.cursor()
        for setting in ("TimeZone = 'UTC'", "maintenance_work_mem = '512MB'", "work_mem = '256MB'"):
            cur.execute(f"SET LOCAL {setting}".encode())
        key, rules, version = _hq_settings(cur)
        base = _lock_counter(cur)
        bonus, spend = chain_points(rules)
        chain = Chain(spec, bonus, spend, base + 1, base, tiers=tuple(rules.tier_codes()))
        saved = _drop_keys(cur)
        _timed(chain, "stores", lambda: _insert_stores(cur, spec))
        _create_days(cur, spec, rules)
        _timed(chain, "members", lambda: _copy_members(cur, spec, key, rules, base))
        params = _sql_params(spec, base, bonus, spend, version)
        _timed(chain, "entries", lambda: _insert_ledger(cur, params))
        _timed(chain, "keys", lambda: _restore_keys(cur, saved))
        chain.last_seq = _advance_counter(cur, spec, base)
        chain.rows = _counts(spec)
        conn.commit()
        conn.autocommit = True
        _timed(chain, "analyze", lambda: [conn.execute(f"ANALYZE {t}".encode()) for t in TABLES])
    chain.seconds["total"] = time.perf_counter() - clock
    return chain


def _timed(chain: Chain, phase: str, step: Any) -> None:
    clock = time.perf_counter()
    step()
    chain.seconds[phase] = time.perf_counter() - clock


def _hq_settings(cur: psycopg.Cursor[Any]) -> tuple[bytes, RuleSet, str]:
    row = cur.execute(b"SELECT value FROM hq_settings WHERE key = 'phone_key'").fetchone()
    rules_row = cur.execute(
        b"SELECT version, document FROM rule_set_versions WHERE active LIMIT 1"
    ).fetchone()
    if row is None or rules_row is None:
        raise RuntimeError("not an HQ database: run `pos-hq migrate` first")
    return bytes.fromhex(row[0]), load_rule_set(rules_row[1]), str(rules_row[0])


def _lock_counter(cur: psycopg.Cursor[Any]) -> int:
    """HQ's change counter, locked as every HQ writer locks it."""
    row = cur.execute(b"SELECT value FROM counters WHERE name = 'change_seq' FOR UPDATE").fetchone()
    assert row is not None
    return int(row[0])


def _advance_counter(cur: psycopg.Cursor[Any], spec: ChainSpec, base: int) -> int:
    m, k = spec.members, spec.sale_every
    last = base + 2 * m + m // k + m // (2 * k)
    cur.execute(b"UPDATE counters SET value = %s WHERE name = 'change_seq'", (last,))
    return last


def _counts(spec: ChainSpec) -> dict[str, int]:
    m, k = spec.members, spec.sale_every
    sales, spends = m // k, m // (2 * k)
    return {
        "stores": spec.stores,
        "members": m,
        "member_scopes": m,
        "ledger_entries": m + sales + spends,
        "lots": m + sales,
        "lot_moves": spends,
        "sales": sales,
        "sale_lines": 2 * sales,
    }


# -- keys and indexes: dropped while loading, rebuilt from their own definitions ----------


@dataclass
class _Keys:
    constraints: list[tuple[str, str, str, str]]  # (table, name, definition, type)
    indexes: list[tuple[str, str]]  # (name, definition)


def _drop_keys(cur: psycopg.Cursor[Any]) -> _Keys:
    tables = list(TABLES)
    constraints = cur.execute(
        b"SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
        b"FROM pg_constraint WHERE contype IN ('p', 'u', 'f') AND conparentid = 0 "
        b"AND (conrelid = ANY(%s::regclass[]) OR confrelid = ANY(%s::regclass[])) "
        b"ORDER BY contype, conrelid::regclass::text, conname",
        (tables, tables),
    ).fetchall()
    indexes = cur.execute(
        b"SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
        b"WHERE indrelid = ANY(%s::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        b"WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY 1",
        (tables,),
    ).fetchall()
    keys = _Keys([tuple(c) for c in constraints], [tuple(i) for i in indexes])
    for table, name, _definition, _kind in sorted(keys.constraints, key=lambda c: c[3] != "f"):
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
    for name, _definition in keys.indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    return keys


def _restore_keys(cur: psycopg.Cursor[Any], keys: _Keys) -> None:
    def add(table: str, name: str, definition: str) -> None:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
            )
        )

    for table, name, definition, kind in keys.constraints:
        if kind != "f":
            add(table, name, definition)
    for _name, definition in keys.indexes:
        # a partitioned table's index is shown "ON ONLY" the parent: made again on it, it
        # is made on every partition too
        cur.execute(sql.SQL(definition.replace(" ON ONLY ", " ON ")))
    for table, name, definition, kind in keys.constraints:
        if kind == "f":
            add(table, name, definition)


# -- rows -----------------------------------------------------------------------------------


def _insert_stores(cur: psycopg.Cursor[Any], spec: ChainSpec) -> None:
    cur.execute(
        "INSERT INTO stores (code, name, created_at, active, region) "
        "SELECT 'G' || lpad(n::text, 5, '0'), format('区域%%s 门店%%s', (n - 1) %% %(r)s + 1, n), "
        "%(now)s, true, 'R' || lpad(((n - 1) %% %(r)s + 1)::text, 3, '0') "
        "FROM generate_series(1, %(n)s::int) n".encode(),
        {"n": spec.stores, "r": spec.regions, "now": spec.now},
    )


def _day_rows(spec: ChainSpec) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(days ago, registered at, sold at) for every ``i % DAYS``."""
    return [
        (
            d,
            spec.now - dt.timedelta(days=d, hours=2),
            spec.now - dt.timedelta(days=d // 2, hours=1),
        )
        for d in range(DAYS)
    ]


def _create_days(cur: psycopg.Cursor[Any], spec: ChainSpec, rules: RuleSet) -> None:
    """A small table of the registration and sale times per ``i % DAYS``, with the
    expiry dates of the lots opened then (the rule set's rule)."""
    cur.execute(
        b"CREATE TEMPORARY TABLE gen_days (d int PRIMARY KEY, registered_at timestamptz, "
        b"sold_at timestamptz, bonus_expiry date, earn_expiry date) ON COMMIT DROP"
    )
    with cur.copy(b"COPY gen_days FROM STDIN") as copy:
        for d, registered, sold in _day_rows(spec):
            copy.write_row(
                (d, registered, sold, expiry_for(rules, registered), expiry_for(rules, sold))
            )


def _member_lines(spec: ChainSpec, key: bytes, rules: RuleSet, base: int) -> Iterator[str]:
    """Members as COPY text lines (the phone hash a till computes, with HQ's key)."""
    days = _day_rows(spec)
    stamp = {d: (reg.isoformat(), sold.isoformat()) for d, reg, sold in days}
    now = spec.now.isoformat()
    review = last_review_date(rules, local_date(rules, spec.now)).isoformat()
    tiers = rules.tier_codes()
    birthdays = [dt.date(1960 + n % 45, 1 + n % 12, 1 + n % 28).isoformat() for n in range(1000)]
    stores = [store_code(n) for n in range(1, spec.stores + 1)]
    bonus, spend = chain_points(rules)
    k = spec.sale_every
    for i in range(1, spec.members + 1):
        national = f"139{i:08d}"
        digest = hmac.digest(key, f"+86{national}".encode(), "sha256").hex()
        registered, sold = stamp[i % DAYS]
        store = stores[i % spec.stores]
        tier = member_tier(i, tiers)
        first = sold if i % k == 0 else "\\N"
        yield (
            f"gm{i:010d}\t{7_000_000_000 + i}\t\\\\x{digest}\t{national[-4:]}\t"
            f"{mask_national(national)}\t\u4f1a\u5458{i}\t{birthdays[i % 1000]}\t{tier}\t"
            f"{registered}\t{review}\tG{i:09d}\t\\N\t{registered}\tstore\t{store}\t{store}-01\t"
            f"{first}\t\\N\t{member_balance(i, k, bonus, spend)}\t\\N\t{registered}\t{now}\t{base + i}\n"
        )


_MEMBER_COLUMNS = (
    "id, member_no, phone_hash, phone_last4, phone_masked, name, birthday, tier, tier_since, "
    "last_review, referral_code, referred_by, registered_at, registered_channel, "
    "registered_store, registered_till, first_purchase_at, birthday_gift_year, balance, "
    "alias_of, received_at, updated_at, seq"
)


def _copy_members(
    cur: psycopg.Cursor[Any], spec: ChainSpec, key: bytes, rules: RuleSet, base: int
) -> None:
    batch: list[str] = []
    with cur.copy(f"COPY members ({_MEMBER_COLUMNS}) FROM STDIN".encode()) as copy:
        for line in _member_lines(spec, key, rules, base):
            batch.append(line)
            if len(batch) >= _COPY_BATCH:
                copy.write("".join(batch).encode())
                batch.clear()
        copy.write("".join(batch).encode())


def _sql_params(spec: ChainSpec, base: int, bonus: int, spend: int, version: str) -> dict[str, Any]:
    return {
        "m": spec.members,
        "n": spec.stores,
        "r": spec.regions,
        "k": spec.sale_every,
        "k2": 2 * spec.sale_every,
        "days": DAYS,
        "base": base,
        "bonus": bonus,
        "spend": spend,
        "version": version,
    }


# Each statement runs over generate_series(...) AS g(i), with gen_days joined on i % DAYS.
_ID = "lpad(i::text, 10, '0')"
_STORE = "'G' || lpad((i %% %(n)s + 1)::text, 5, '0')"
_FROM_ALL = "FROM generate_series(1, %(m)s::int) g(i) JOIN gen_days ON d = i %% %(days)s"
_FROM_SALES = "FROM generate_series(%(k)s::int, %(m)s::int, %(k)s::int) g(i) JOIN gen_days ON d = i %% %(days)s"
_FROM_SPENDS = "FROM generate_series(%(k2)s::int, %(m)s::int, %(k2)s::int) g(i) JOIN gen_days ON d = i %% %(days)s"
_ENTRY_COLUMNS = (
    "INSERT INTO ledger_entries (id, member_id, member_ref, kind, points, created_at, "
    "received_at, source_channel, store_code, till_id, in_origin_ledger, event_id, sale_id, "
    "rule_set_version, actor_id, reason, seq) "
)
_LEDGER_SQL = (
    # the directories: every generated member is its phone's canonical member
    "INSERT INTO member_phones (phone_hash, member_id) "
    "SELECT phone_hash, id FROM members WHERE id >= 'gm' AND id < 'gn'",
    "INSERT INTO member_numbers (member_no, member_id) "
    "SELECT member_no, id FROM members WHERE id >= 'gm' AND id < 'gn'",
    # registration bonus: entry, lot (less the spend taken from it); at HQ a lot's own
    # row records its credit, lot moves only what debits take out
    _ENTRY_COLUMNS + f"SELECT 'gb' || {_ID}, 'gm' || {_ID}, 'gm' || {_ID}, 'bonus', %(bonus)s, "
    f"registered_at, registered_at, 'store', {_STORE}, {_STORE} || '-01', true, 'gr' || {_ID}, "
    f"NULL, %(version)s, 'cashier-1', 'registration', %(base)s::bigint + %(m)s + i {_FROM_ALL}",
    "INSERT INTO lots (id, member_id, entry_id, points, remaining, earned_at, expires_on) "
    f"SELECT 'gb' || {_ID} || '.0', 'gm' || {_ID}, 'gb' || {_ID}, %(bonus)s, "
    "%(bonus)s - CASE WHEN i %% %(k2)s = 0 THEN %(spend)s ELSE 0 END, registered_at, "
    f"bonus_expiry {_FROM_ALL}",
    # a sale with two lines, its earn entry and lot
    "INSERT INTO sales (id, event_id, receipt_no, source_channel, store_code, till_id, "
    "cashier_id, member_id, member_ref, created_at, received_at, total_fen, cash_due_fen, "
    "points_used, points_earned, rule_set_version, coupons, tenders, hq_quote, verified) "
    f"SELECT 'gx' || {_ID}, 'gw' || {_ID}, 'R' || {_ID}, 'store', {_STORE}, {_STORE} || '-01', "
    f"'cashier-1', 'gm' || {_ID}, 'gm' || {_ID}, sold_at, sold_at, (50 + i %% 450) * 100, "
    "(50 + i %% 450) * 100 - p.used, p.used, 50 + i %% 450, %(version)s, '[]', "
    "jsonb_build_array(jsonb_build_object('method', 'cash', 'amount_fen', "
    '(50 + i %% 450) * 100 - p.used)), \'{"generated": "tests.support.hqdata"}\', false '
    f"{_FROM_SALES} "
    "CROSS JOIN LATERAL (SELECT CASE WHEN i %% %(k2)s = 0 THEN %(spend)s ELSE 0 END AS used) p",
    "INSERT INTO sale_lines (id, sale_id, line_no, sku, category, quantity, unit_price_fen, "
    "line_discount_fen, is_reward) "
    f"SELECT 'gl' || {_ID} || '.' || n, 'gx' || {_ID}, n, 'SKU' || n, 'food', 1, "
    "CASE n WHEN 1 THEN (50 + i %% 450) * 50 ELSE (50 + i %% 450) * 100 - (50 + i %% 450) * 50 "
    f"END, 0, false {_FROM_SALES} CROSS JOIN (VALUES (1), (2)) AS l(n)",
    _ENTRY_COLUMNS + f"SELECT 'ge' || {_ID}, 'gm' || {_ID}, 'gm' || {_ID}, 'earn', 50 + i %% 450, "
    f"sold_at, sold_at, 'store', {_STORE}, {_STORE} || '-01', true, 'gw' || {_ID}, "
    f"'gx' || {_ID}, %(version)s, 'cashier-1', NULL, %(base)s::bigint + 2 * %(m)s + i / %(k)s "
    f"{_FROM_SALES}",
    "INSERT INTO lots (id, member_id, entry_id, points, remaining, earned_at, expires_on) "
    f"SELECT 'ge' || {_ID} || '.0', 'gm' || {_ID}, 'ge' || {_ID}, 50 + i %% 450, "
    f"50 + i %% 450, sold_at, earn_expiry {_FROM_SALES}",
    # every other sale spent points of the bonus lot
    _ENTRY_COLUMNS + f"SELECT 'gs' || {_ID}, 'gm' || {_ID}, 'gm' || {_ID}, 'spend', -%(spend)s, "
    f"sold_at, sold_at, 'store', {_STORE}, {_STORE} || '-01', true, 'gw' || {_ID}, "
    f"'gx' || {_ID}, %(version)s, 'cashier-1', NULL, "
    f"%(base)s::bigint + 2 * %(m)s + %(m)s / %(k)s + i / %(k2)s {_FROM_SPENDS}",
    "INSERT INTO lot_moves (member_id, entry_id, lot_id, points) "
    f"SELECT 'gm' || {_ID}, 'gs' || {_ID}, 'gb' || {_ID} || '.0', -%(spend)s {_FROM_SPENDS}",
    # every member is held by the tills of its store's region (store i % n + 1)
    "INSERT INTO member_scopes (member_id, region, seq, reason, added_at) "
    f"SELECT 'gm' || {_ID}, 'R' || lpad((i %% %(n)s %% %(r)s + 1)::text, 3, '0'), 0, "
    f"'registered', registered_at {_FROM_ALL}",
)


def _insert_ledger(cur: psycopg.Cursor[Any], params: dict[str, Any]) -> None:
    for statement in _LEDGER_SQL:
        cur.execute(statement.encode(), params)


# -- checks -----------------------------------------------------------------------------------


def chain_problems(url: str) -> dict[str, int]:
    """HQ's invariants over the whole database, set-wise: members whose balance is not
    their ledger sum, or whose open lots are not their balance."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            b"SELECT count(*) FILTER (WHERE m.balance <> coalesce(e.total, 0)), "
            b"count(*) FILTER (WHERE greatest(m.balance, 0) <> coalesce(l.open_points, 0)) "
            b"FROM members m "
            b"LEFT JOIN (SELECT member_id, sum(points) AS total FROM ledger_entries "
            b"GROUP BY member_id) e ON e.member_id = m.id "
            b"LEFT JOIN (SELECT member_id, sum(remaining) AS open_points FROM lots "
            b"GROUP BY member_id) l ON l.member_id = m.id"
        ).fetchone()
    assert row is not None
    return {"balance_not_ledger": int(row[0]), "lots_not_balance": int(row[1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.hqdata",
        description="Generate a big HQ chain in a migrated HQ database (one transaction).",
    )
    parser.add_argument("--url", required=True, help="postgresql+psycopg://... of HQ")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--sale-every", type=int, default=4)
    parser.add_argument("--check", action="store_true", help="then check HQ's invariants")
    args = parser.parse_args(argv)
    spec = ChainSpec(args.members, args.stores, args.regions, args.sale_every)
    chain = generate_chain(args.url, spec)
    print("rows: " + ", ".join(f"{k} {v}" for k, v in chain.rows.items()))
    print(f"change numbers {chain.first_seq}..{chain.last_seq}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in chain.seconds.items()))
    if args.check:
        clock = time.perf_counter()
        problems = chain_problems(args.url)
        print(f"invariants: {problems} ({time.perf_counter() - clock:.1f} s)")
        return 1 if any(problems.values()) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
