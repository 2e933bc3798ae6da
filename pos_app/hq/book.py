"""The ledger of one write transaction: read in bulk, changed in memory, written in bulk.

HQ applies a till's whole push request in one transaction (the change-counter lock is
taken once, see :meth:`pos_app.hq.database.HQDatabase.write`). A :class:`Book` is that
transaction's view of the ledger:

* **read in bulk**: :meth:`Book.prefetch` loads what a batch of events needs (members
  and their aliases, entries and sales already recorded, open lots, coupons, holds, and
  the members' purchase figures for the re-quote and the tier check) in a few queries;
  anything else is loaded on first use;
* **changed in memory**: events post entries with :meth:`Book.post` (the one way HQ
  moves points: the entry, the lots it opens or its moves out of lots, and the cached
  balance together), add rows and
  change members, lots, coupons and holds. Every change is journaled, so an event that
  fails half-way is undone alone (:meth:`Book.mark`, :meth:`Book.rollback`) while the
  events before it stay;
* **written in bulk**: :meth:`Book.flush` writes every new row with one multi-row
  statement per table (``COPY`` on PostgreSQL) and every changed row with one
  ``executemany``; rows tills pull get their ``seq`` from the counter as they change.

Queries go through the session's connection (SQLAlchemy Core): no ORM object is made
for a ledger row on this path.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from psycopg.errors import NumericValueOutOfRange
from psycopg.types.json import set_json_dumps
from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pos_app.core.calendar import day_start, local_date
from pos_app.core.entries import PURCHASE_KINDS, purchase_points
from pos_app.core.lots import Lot, credit, expiry_for, take_up_to
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import RefundedLine, window_spend_fen
from pos_app.hq.database import COUNTER_START, LATE_COUNTER, take_counter
from pos_app.hq.errors import Conflict
from pos_app.hq.keyed import KEYS, one_of, per_key
from pos_app.hq.ledger import active_rules, refunded_lines_query, rules_for, spend_sum_query
from pos_app.hq.models import (
    AdjustmentReview,
    Coupon,
    FlaggedRecord,
    IdempotencyRecord,
    LedgerEntry,
    LotMove,
    MallItem,
    Member,
    MemberCodeUse,
    MemberNumber,
    MemberPhone,
    PointLot,
    Redemption,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    SpendHold,
    StoreManager,
    TillAuditRow,
)

MEMBERS: Table = Member.__table__  # type: ignore[assignment]
PHONES: Table = MemberPhone.__table__  # type: ignore[assignment]
NUMBERS: Table = MemberNumber.__table__  # type: ignore[assignment]
ENTRIES: Table = LedgerEntry.__table__  # type: ignore[assignment]
LOTS: Table = PointLot.__table__  # type: ignore[assignment]
MOVES: Table = LotMove.__table__  # type: ignore[assignment]
SALES: Table = Sale.__table__  # type: ignore[assignment]
SALE_LINES: Table = SaleLine.__table__  # type: ignore[assignment]
REFUNDS: Table = Refund.__table__  # type: ignore[assignment]
REFUND_LINES: Table = RefundLine.__table__  # type: ignore[assignment]
REDEMPTIONS: Table = Redemption.__table__  # type: ignore[assignment]
FLAGS: Table = FlaggedRecord.__table__  # type: ignore[assignment]
IDEMPOTENCY: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
COUPONS: Table = Coupon.__table__  # type: ignore[assignment]
HOLDS: Table = SpendHold.__table__  # type: ignore[assignment]
MALL_ITEMS: Table = MallItem.__table__  # type: ignore[assignment]
CODE_USES: Table = MemberCodeUse.__table__  # type: ignore[assignment]
REVIEWS: Table = AdjustmentReview.__table__  # type: ignore[assignment]
TILL_AUDIT: Table = TillAuditRow.__table__  # type: ignore[assignment]
MANAGERS: Table = StoreManager.__table__  # type: ignore[assignment]

# New rows are written table by table in this order (foreign keys point backwards).
INSERT_ORDER: tuple[Table, ...] = (
    MEMBERS,
    PHONES,
    NUMBERS,
    SALES,
    SALE_LINES,
    REFUNDS,
    REFUND_LINES,
    REDEMPTIONS,
    ENTRIES,
    LOTS,
    MOVES,
    FLAGS,
    IDEMPOTENCY,
    CODE_USES,
    REVIEWS,
    TILL_AUDIT,
)
# Tables whose new rows carry no change number (no till pulls them by one): a push
# writes them before it takes the change counter (Book.flush_unsequenced), so that the
# counter is held only while the rows the tills pull are written.
UNSEQUENCED: tuple[Table, ...] = (SALES, SALE_LINES, LOTS, MOVES, FLAGS, IDEMPOTENCY)
# Tables whose rows may meet a row written outside the counter lock (an online till
# recording a member code's use): their inserts skip a row already there.
_SKIP_EXISTING = frozenset({CODE_USES.name})
# Journal operations (see Book.rollback).
_SET, _PUT, _ADDED, _APPENDED, _DISCARD = range(5)
# Member columns whose change alone does not re-publish the row to tills.
_MEMBER_QUIET = frozenset({"last_review", "updated_at"})


@dataclass(frozen=True)
class Origin:
    """Who wrote a movement, and when HQ received it.

    Attributes:
        source_channel: ``store``, a channel code, or ``hq``.
        store_code: The till's store, if any.
        till_id: The till, if any.
        event_id: The event that carried it.
        received_at: HQ's clock.
    """

    source_channel: str
    store_code: str | None
    till_id: str | None
    event_id: str | None
    received_at: dt.datetime


@dataclass(eq=False)
class MemberRow:
    """A member as this transaction sees it (the columns of ``members``)."""

    id: str
    member_no: int | None
    phone_hash: bytes
    phone_last4: str
    phone_masked: str
    name: str
    birthday: dt.date | None
    tier: str
    tier_since: dt.datetime
    last_review: dt.date | None
    referral_code: str | None
    referred_by: str | None
    registered_at: dt.datetime
    registered_channel: str
    registered_store: str | None
    registered_till: str | None
    first_purchase_at: dt.datetime | None
    birthday_gift_year: int | None
    balance: int
    alias_of: str | None
    received_at: dt.datetime
    updated_at: dt.datetime
    seq: int | None = None


MEMBER_FIELDS = tuple(f.name for f in fields(MemberRow))


def _member_columns() -> list[Any]:
    return [MEMBERS.c[n] for n in MEMBER_FIELDS]


# What can change on a member row after it is written.
MEMBER_MUTABLE = (
    "name",
    "birthday",
    "tier",
    "tier_since",
    "last_review",
    "first_purchase_at",
    "birthday_gift_year",
    "balance",
    "updated_at",
    "seq",
)


@dataclass(eq=False)
class LotRow:
    """A lot with points left (the columns of ``lots``)."""

    id: str
    member_id: str
    entry_id: str
    points: int
    remaining: int
    earned_at: dt.datetime
    expires_on: dt.date | None


LOT_FIELDS = tuple(f.name for f in fields(LotRow))


@dataclass(frozen=True)
class EntryFacts:
    """What identifies the movement an entry id records."""

    member_ref: str
    kind: str
    points: int
    sale_id: str | None
    refund_id: str | None


@dataclass(eq=False)
class CouponRow:
    """A coupon's state."""

    id: str
    code: str
    amount_off_fen: int
    percent_off: int
    min_order_fen: int
    used_at: dt.datetime | None
    used_sale_id: str | None


@dataclass(eq=False)
class HoldRow:
    """An open hold (``active`` or ``posted``)."""

    id: str
    member_id: str
    points: int
    status: str
    expires_at: dt.datetime
    sale_id: str | None
    closed_at: dt.datetime | None = None


@dataclass(eq=False)
class MallItemRow:
    """What a redemption needs of a points-mall item."""

    id: str
    name: str
    points_price: int
    cash_price_fen: int
    stock: int | None
    min_tier: str | None
    discount_percent: int
    discount_from: dt.datetime | None
    discount_to: dt.datetime | None
    active: bool
    level: str
    category: str
    brand: str
    keywords: str
    available_from: dt.datetime | None
    available_to: dt.datetime | None
    kind: str
    price_version: int


@dataclass
class PurchaseFigures:
    """A canonical member's purchases, as plain rows for the core formulas.

    Attributes:
        recent: (sale time, sale id, kind, points) of purchase entries of sales made
            since the batch's earliest store-day start: the points earned "today" for
            any sale of the batch.
        window_entries: (kind, points) of purchase entries of sales in the tier window.
        window_sales_fen: Order totals of the sales in the tier window.
        window_refunds: The refunded lines of those sales.
    """

    recent: list[tuple[dt.datetime, str, str, int]] = field(default_factory=list)
    window_entries: list[tuple[str, int]] = field(default_factory=list)
    window_sales_fen: int = 0
    window_refunds: list[RefundedLine] = field(default_factory=list)

    def earned_between(self, since: dt.datetime, until: dt.datetime, exclude_sale: str) -> int:
        """Purchase points of sales made in [since, until), ``exclude_sale`` left out."""
        return purchase_points(
            (kind, points)
            for at, sale_id, kind, points in self.recent
            if since <= at < until and sale_id != exclude_sale
        )

    @property
    def window_points(self) -> int:
        """Purchase points in the tier window (``core.entries.purchase_points``)."""
        return purchase_points(self.window_entries)

    @property
    def window_spend(self) -> int:
        """Net spend in the tier window (``core.tiers.window_spend_fen``)."""
        return window_spend_fen(self.window_sales_fen, self.window_refunds)


@dataclass
class Prefetch:
    """What a batch of events will ask for, gathered before it is applied."""

    member_ids: set[str] = field(default_factory=set)
    phone_hashes: set[bytes] = field(default_factory=set)
    member_nos: set[int] = field(default_factory=set)
    entry_ids: set[tuple[str, str]] = field(default_factory=set)  # (member named, entry id)
    sale_ids: set[str] = field(default_factory=set)
    refund_ids: set[str] = field(default_factory=set)
    redemption_ids: set[str] = field(default_factory=set)
    coupon_codes: set[str] = field(default_factory=set)
    hold_sale_ids: set[str] = field(default_factory=set)
    debit_member_ids: set[str] = field(default_factory=set)
    buyer_ids: set[str] = field(default_factory=set)
    code_nonces: set[str] = field(default_factory=set)
    earliest_sale: dt.datetime | None = None

    def sale_at(self, when: dt.datetime) -> None:
        """A sale of the batch happened at ``when``."""
        if self.earliest_sale is None or when < self.earliest_sale:
            self.earliest_sale = when


@dataclass(frozen=True)
class Mark:
    """A point :meth:`Book.rollback` returns to."""

    journal: int
    pending: tuple[tuple[str, int], ...]


class Book:
    """One write transaction's ledger (see the module docstring).

    Attributes:
        session: The write session (holds the counter lock).
        conn: Its connection (Core statements).
        now: HQ's clock for this transaction.
        statements: SQL statements this book ran (a test keeps round trips bounded).
    """

    def __init__(self, session: Session, now: dt.datetime) -> None:
        if "hq_seq" not in session.info and LATE_COUNTER not in session.info:
            raise RuntimeError("a Book needs a session from HQDatabase.write()")
        self.session = session
        # Until the counter is locked (a late_counter transaction), change numbers are
        # provisional: -1, -2... in the rows; :meth:`lock_counter` makes them real.
        self._provisional = 0
        self.locked = COUNTER_START in session.info
        self.conn: Connection = session.connection()
        self.pg = self.conn.dialect.name == "postgresql"
        # Reading rows it may change, a transaction without the counter lock locks them
        # (members in the order of their ids; coupons, holds and mall items as read).
        self.lock_rows = self.pg and not self.locked
        self.now = now
        self.statements = 0
        self._window_since: dt.datetime | None = None
        self._active_rules: RuleSet | None = None
        self._rule_sets: dict[str | None, RuleSet | None] = {}
        self.reset()

    def reset(self) -> None:
        """Forget everything read and pending (after the database refused a write and
        the transaction went back to a savepoint): what is needed is read again."""
        self._pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._journal: list[tuple[int, Any, Any, Any]] = []
        self.members: dict[str, MemberRow | None] = {}
        self._new_members: list[MemberRow] = []
        self._new_ids: set[str] = set()  # members and lots not written yet
        self._dirty_members: dict[str, MemberRow] = {}
        self._aliases: dict[str, list[str]] = {}
        self._canonical_by_phone: dict[bytes, str | None] = {}
        self._taken_member_nos: dict[int, bool] = {}
        self._lots: dict[str, list[LotRow]] = {}
        self._partial_lots: set[str] = set()  # lists holding only the lots opened here
        self._new_lots: list[LotRow] = []
        self._dirty_lots: dict[str, LotRow] = {}
        self._entries: dict[str, EntryFacts | None] = {}
        self._known: dict[str, dict[str, bool]] = defaultdict(dict)
        self._coupons: dict[str, CouponRow | None] = {}
        self._dirty_coupons: dict[str, CouponRow] = {}
        self._holds: dict[str, HoldRow | None] = {}
        self._dirty_holds: dict[str, HoldRow] = {}
        self._purchases: dict[str, PurchaseFigures] = {}
        self._mall_items: dict[str, MallItemRow | None] = {}
        self._dirty_mall_items: dict[str, MallItemRow] = {}
        self._code_uses: dict[str, tuple[str, str | None] | None] = {}
        self._managers: dict[tuple[str, str], bool] = {}
        self._changed_since_flush = False

    # -- statements -------------------------------------------------------------------
    def execute(self, statement: Any, params: Any = None) -> Any:
        """Run a Core statement on the transaction, counting it."""
        self.statements += 1
        return self.conn.execute(statement, params)

    def next_seq(self) -> int:
        """The next number of the change counter (committed with the transaction);
        provisional (below 0) until :meth:`lock_counter`."""
        if not self.locked:
            self._provisional += 1
            return -self._provisional
        seq = int(self.session.info["hq_seq"]) + 1
        self.session.info["hq_seq"] = seq
        return seq

    def lock_counter(self) -> None:
        """Take the change-counter lock (a ``late_counter`` transaction: before the
        first write) and turn the provisional change numbers into real ones, in the
        order they were handed out."""
        if self.locked:
            return
        start = take_counter(self.session)
        self.locked = True
        self.lock_rows = False  # the counter now keeps every other writer out
        if not self._provisional:
            return
        for member in self.members.values():
            if member is not None and member.seq is not None and member.seq < 0:
                member.seq = start - member.seq
        for rows in self._pending.values():
            for row in rows:
                seq = row.get("seq")
                if seq is not None and seq < 0:
                    row["seq"] = start - seq
        self.session.info["hq_seq"] = start + self._provisional
        self._provisional = 0

    # -- rule sets --------------------------------------------------------------------
    def active_rules(self) -> RuleSet:
        """The rule set HQ applies today (read once per transaction: publishing one
        takes the same lock)."""
        if self._active_rules is None:
            self._active_rules = active_rules(self.session)
        return self._active_rules

    def rules(self, version: str | None) -> RuleSet | None:
        """The published rule set ``version``, or None if HQ does not know it."""
        if version not in self._rule_sets:
            self._rule_sets[version] = rules_for(self.session, version)
        return self._rule_sets[version]

    # -- journal ----------------------------------------------------------------------
    def mark(self) -> Mark:
        """Where the book is now."""
        return Mark(len(self._journal), tuple((k, len(v)) for k, v in self._pending.items()))

    def rollback(self, mark: Mark) -> None:
        """Undo every change made after ``mark`` (rows added, rows changed, caches)."""
        journal = self._journal
        while len(journal) > mark.journal:
            op, target, key, old = journal.pop()
            if op == _SET:
                setattr(target, key, old)
            elif op == _PUT:
                target[key] = old
            elif op == _ADDED:
                target.pop(key, None)
            elif op == _APPENDED:
                target.pop()
            else:
                target.discard(key)
        sizes = dict(mark.pending)
        for table, rows in self._pending.items():
            del rows[sizes.get(table, 0) :]

    # The journal holds plain tuples (op, target, key, old value): cheap to make, and a
    # batch makes tens of thousands.
    def _set(self, obj: Any, **changes: Any) -> None:
        journal = self._journal
        for name, value in changes.items():
            journal.append((_SET, obj, name, getattr(obj, name)))
            setattr(obj, name, value)
        self._changed_since_flush = True

    def _remember(self, cache: dict[Any, Any], key: Any, value: Any) -> None:
        """Set ``cache[key]`` as part of the journal."""
        if key in cache:
            self._journal.append((_PUT, cache, key, cache[key]))
        else:
            self._journal.append((_ADDED, cache, key, None))
        cache[key] = value
        self._changed_since_flush = True

    def _add_new(self, key: str) -> None:
        self._new_ids.add(key)
        self._journal.append((_DISCARD, self._new_ids, key, None))

    def _append(self, items: list[Any], item: Any) -> None:
        items.append(item)
        self._journal.append((_APPENDED, items, None, None))
        self._changed_since_flush = True

    # -- rows to insert -----------------------------------------------------------------
    def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Write ``row`` into ``table`` at the next flush."""
        self._pending[table.name].append(row)
        self._changed_since_flush = True

    def pending(self, table: Table) -> list[dict[str, Any]]:
        """Rows of ``table`` waiting for the next flush."""
        return self._pending[table.name]

    def know(self, kind: str, key: str) -> None:
        """Record that a ``kind`` row (``sale``, ``refund``, ``redemption``) with this id
        now exists (it is pending)."""
        self._remember(self._known[kind], key, True)

    def exists(self, kind: str, key: str) -> bool:
        """Whether a ``sale``, ``refund`` or ``redemption`` with this id is recorded."""
        if key not in self._known[kind]:
            self._load_known(kind, [key])
        return self._known[kind][key]

    # -- prefetch ---------------------------------------------------------------------
    def prefetch(self, want: Prefetch, rules: RuleSet, window_since: dt.datetime | None) -> None:
        """Load what a batch will ask for, in a few queries."""
        self._window_since = window_since
        self._load_members(want.member_ids, want.phone_hashes)
        canonical = {m.id for m in self._loaded_members() if m.alias_of is None}
        self._load_aliases(canonical)
        self._load_entries(want.entry_ids)
        for kind, ids in (
            ("sale", want.sale_ids),
            ("refund", want.refund_ids),
            ("redemption", want.redemption_ids),
        ):
            self._load_known(kind, ids)
        self._load_member_nos(want.member_nos)
        self._load_coupons(want.coupon_codes)
        self._load_holds(want.hold_sale_ids)
        self._load_code_uses(want.code_nonces)
        debit = {self.canonical_id(mid) for mid in want.debit_member_ids}
        self._load_lots({mid for mid in debit if mid is not None} | self._aliases_of_set(debit))
        buyers = {self.canonical_id(mid) for mid in want.buyer_ids}
        self._load_purchases(
            {mid for mid in buyers if mid is not None}, rules, want.earliest_sale, window_since
        )

    def _loaded_members(self) -> Iterator[MemberRow]:
        return (m for m in self.members.values() if m is not None)

    def _aliases_of_set(self, ids: Iterable[str | None]) -> set[str]:
        out: set[str] = set()
        for mid in ids:
            if mid is not None:
                out.update(self._aliases.get(mid, ()))
        return out

    def _cache_member(self, row: Any) -> MemberRow:
        member = MemberRow(*row)  # the query's columns are MEMBER_FIELDS, in order
        self.members[member.id] = member
        if member.member_no is not None:
            self._taken_member_nos[member.member_no] = True
        return member

    def _load_members(self, ids: Collection[str], hashes: Collection[bytes] = ()) -> None:
        ids = [mid for mid in ids if mid not in self.members]
        hashes = [h for h in hashes if h not in self._canonical_by_phone]
        if not ids and not hashes:
            return
        if hashes:  # the canonical member of a phone is the directory's
            found = self.execute(_phones(self.pg), {KEYS: hashes})
            for phone, mid in found:
                self._canonical_by_phone[phone] = mid
                if mid not in self.members:
                    ids.append(mid)
            for h in hashes:
                self._canonical_by_phone.setdefault(h, None)
        ids.sort()  # rows are locked in the order of their ids (no deadlock between two)
        rows = self.execute(_members_by_id(self.pg, self.lock_rows), {KEYS: ids}) if ids else ()
        for row in rows:
            if row.id not in self.members:
                self._cache_member(row)
        for mid in ids:
            self.members.setdefault(mid, None)
        targets = {m.alias_of for m in self._loaded_members() if m.alias_of is not None}
        if targets - self.members.keys():
            self._load_members(targets)

    def _load_aliases(self, canonical_ids: Collection[str]) -> None:
        wanted = [mid for mid in canonical_ids if mid not in self._aliases]
        if not wanted:
            return
        found: dict[str, list[str]] = {mid: [] for mid in wanted}
        rows = self.execute(_aliases(self.pg, self.lock_rows), {KEYS: sorted(wanted)})
        for alias_id, canonical_id in rows:
            found[canonical_id].append(alias_id)
        self._aliases.update(found)

    def _load_entries(self, named: Collection[tuple[str, str]]) -> None:
        """Look up entry ids in their members' ledgers: each (member named, entry id) is
        looked for under every id of the member (its canonical member and the aliases
        merged into it), by the ledger's key (member id, entry id), in the one partition
        that holds it."""
        wanted = [(mid, eid) for mid, eid in named if eid not in self._entries]
        if not wanted:
            return
        pairs = {(m, eid) for mid, eid in wanted for m in self._family(mid)}
        params = {"members": [m for m, _ in pairs], "ids": [e for _, e in pairs]}
        for row in self.execute(_entries_by_key(self.pg), params):
            if (row.member_id, row.id) not in pairs:
                continue
            self._entries[row.id] = EntryFacts(
                row.member_ref, row.kind, int(row.points), row.sale_id, row.refund_id
            )
        for _mid, eid in wanted:
            self._entries.setdefault(eid, None)

    def _family(self, member_id: str) -> list[str]:
        """Every id the member ``member_id`` names holds entries under (itself when HQ
        does not know it)."""
        canonical = self.canonical_id(member_id)
        return [member_id] if canonical is None else self.member_ids_of(canonical)

    def _load_known(self, kind: str, ids: Collection[str]) -> None:
        wanted = [key for key in ids if key not in self._known[kind]]
        if not wanted:
            return
        found = set(self.execute(_known_ids(kind, self.pg), {KEYS: wanted}).scalars())
        for key in wanted:
            self._known[kind][key] = key in found

    def _load_member_nos(self, numbers: Collection[int]) -> None:
        wanted = [n for n in numbers if n not in self._taken_member_nos]
        if not wanted:
            return
        found = set(self.execute(_numbers(self.pg), {KEYS: wanted}).scalars())
        for n in wanted:
            self._taken_member_nos[n] = n in found

    def _load_coupons(self, codes: Collection[str]) -> None:
        wanted = [c for c in codes if c not in self._coupons]
        if not wanted:
            return
        for row in self.execute(_coupons(self.pg, self.lock_rows), {KEYS: sorted(wanted)}):
            self._coupons[row.code] = CouponRow(**row._mapping)
        for code in wanted:
            self._coupons.setdefault(code, None)

    def _load_holds(self, sale_ids: Collection[str]) -> None:
        wanted = [sid for sid in sale_ids if sid not in self._holds]
        if not wanted:
            return
        rows = self.execute(_holds(self.pg, self.lock_rows), {KEYS: sorted(wanted)})
        for row in rows:
            self._holds.setdefault(row.sale_id, HoldRow(**row._mapping))
        for sid in wanted:
            self._holds.setdefault(sid, None)

    def _load_code_uses(self, nonces: Collection[str]) -> None:
        wanted = [n for n in nonces if n not in self._code_uses]
        if not wanted:
            return
        rows = self.execute(_code_uses(self.pg), {KEYS: wanted})
        for nonce, principal, sale_id in rows:
            self._code_uses[nonce] = (principal, sale_id)
        for nonce in wanted:
            self._code_uses.setdefault(nonce, None)

    def _load_lots(self, member_ids: Collection[str]) -> None:
        wanted = [mid for mid in member_ids if mid not in self._lots or mid in self._partial_lots]
        if not wanted:
            return
        found: dict[str, list[LotRow]] = {mid: [] for mid in wanted}
        rows = self.execute(_open_lots(self.pg), {KEYS: wanted})
        for row in rows:
            found[row.member_id].append(LotRow(**row._mapping))
        for mid, stored in found.items():
            cached = self._lots.get(mid)
            if cached is None:
                self._lots[mid] = stored
            else:  # a credit opened lots before the stored ones were read: keep its rows
                have = {lot.id for lot in cached}
                cached[:0] = [lot for lot in stored if lot.id not in have]
            self._partial_lots.discard(mid)

    def _load_purchases(
        self,
        canonical_ids: Collection[str],
        rules: RuleSet,
        earliest_sale: dt.datetime | None,
        window_since: dt.datetime | None,
    ) -> None:
        wanted = [mid for mid in canonical_ids if mid not in self._purchases]
        if not wanted:
            return
        self._load_aliases(wanted)
        owner = {alias: mid for mid in wanted for alias in [mid, *self._aliases[mid]]}
        figures = {mid: PurchaseFigures() for mid in wanted}
        if earliest_sale is not None:
            since = day_start(rules, local_date(rules, earliest_sale))
            for member_id, sale_id, created_at, kind, points in self.execute(
                purchase_rows_query(self.pg), {KEYS: list(owner), "since": since}
            ):
                figures[owner[member_id]].recent.append((created_at, sale_id, kind, int(points)))
        lower = [mid for mid in wanted if not rules.is_top_tier(self._tier_of(mid))]
        if window_since is not None and lower:
            sub_owner = {a: m for a, m in owner.items() if m in lower}
            for member_id, kind, points in self.execute(
                purchase_sum_query(self.pg), {KEYS: list(sub_owner), "since": window_since}
            ):
                figures[sub_owner[member_id]].window_entries.append((kind, int(points)))
            window = {KEYS: lower, "since": window_since}
            for member_id, spend in self.execute(spend_sum_query(self.pg), window):
                figures[member_id].window_sales_fen += int(spend)
            for member_id, line_id, cash, value, sold, qty in self.execute(
                refunded_lines_query(self.pg), window
            ):
                figures[member_id].window_refunds.append(
                    RefundedLine(line_id, cash or 0, value or 0, sold, int(qty))
                )
        self._purchases.update(figures)

    def _tier_of(self, member_id: str) -> str:
        member = self.members.get(member_id)
        return member.tier if member is not None else ""

    # -- members ----------------------------------------------------------------------
    def member(self, member_id: str) -> MemberRow | None:
        """The member row ``member_id`` (loaded on first use), or None."""
        if member_id not in self.members:
            self._load_members([member_id])
        return self.members.get(member_id)

    def canonical(self, member: MemberRow) -> MemberRow:
        """The member ``member`` is an alias of (following aliases), or itself."""
        for _ in range(8):
            if member.alias_of is None:
                return member
            target = self.member(member.alias_of)
            if target is None:
                return member
            member = target
        return member

    def canonical_id(self, member_id: str) -> str | None:
        """The canonical id of ``member_id``, None when HQ does not know it."""
        member = self.member(member_id)
        return self.canonical(member).id if member is not None else None

    def member_ids_of(self, canonical_id: str) -> list[str]:
        """The canonical member and every alias merged into it."""
        self._load_aliases([canonical_id])
        return [canonical_id, *self._aliases[canonical_id]]

    def canonical_by_phone(self, phone_hash: bytes) -> MemberRow | None:
        """The canonical member registered with this phone, or None."""
        if phone_hash not in self._canonical_by_phone:
            self._load_members([], [phone_hash])
        mid = self._canonical_by_phone.get(phone_hash)
        return self.member(mid) if mid is not None else None

    def member_no_taken(self, number: int) -> bool:
        """Whether a member already has this member number."""
        if number not in self._taken_member_nos:
            self._load_member_nos([number])
        return self._taken_member_nos[number]

    def add_member(self, member: MemberRow) -> None:
        """A new member (written at the next flush)."""
        member.seq = self.next_seq()
        self._remember(self.members, member.id, member)
        self._append(self._new_members, member)
        self._add_new(member.id)
        if member.alias_of is None:
            self._remember(self._canonical_by_phone, member.phone_hash, member.id)
            self.insert(PHONES, {"phone_hash": member.phone_hash, "member_id": member.id})
        else:
            self._aliases.setdefault(member.alias_of, [])
            self._append(self._aliases[member.alias_of], member.id)
        if member.member_no is not None:
            self._remember(self._taken_member_nos, member.member_no, True)
            self.insert(NUMBERS, {"member_no": member.member_no, "member_id": member.id})
        self._remember(self._lots, member.id, [])
        self._remember(self._purchases, member.id, PurchaseFigures())

    def update_member(self, member: MemberRow, **changes: Any) -> None:
        """Change a member's columns; a change tills see gives the row a new ``seq``."""
        changes = {k: v for k, v in changes.items() if getattr(member, k) != v}
        if not changes:
            return
        if not _MEMBER_QUIET.issuperset(changes):
            changes["seq"] = self.next_seq()
        self._set(member, **changes)
        if member.id not in self._new_ids:
            self._remember(self._dirty_members, member.id, member)

    def purchases(self, canonical_id: str, rules: RuleSet) -> PurchaseFigures:
        """The member's purchase figures (loaded on first use; kept up to date by
        :meth:`add_purchase`)."""
        if canonical_id not in self._purchases:
            self._load_purchases([canonical_id], rules, None, None)
        return self._purchases[canonical_id]

    def add_purchase(
        self, canonical_id: str, *, at: dt.datetime, sale_id: str, points: int, spend: int
    ) -> None:
        """A sale this book records, in the member's purchase figures."""
        fig = self._purchases.get(canonical_id)
        if fig is None:
            return
        in_window = self._window_since is not None and at >= self._window_since
        self._set(fig, recent=[*fig.recent, (at, sale_id, "earn", points)])
        if in_window:
            self._set(
                fig,
                window_entries=[*fig.window_entries, ("earn", points)],
                window_sales_fen=fig.window_sales_fen + spend,
            )

    def forget_purchases(self, canonical_id: str) -> None:
        """Drop the member's purchase figures (a refund changed them): they are read
        again, after a flush, on next use."""
        self._purchases.pop(canonical_id, None)

    # -- entries and lots -------------------------------------------------------------
    def entry(self, entry_id: str, member_id: str) -> EntryFacts | None:
        """The movement ``entry_id`` records in the ledger of member ``member_id`` (any
        of its ids), or None if it is not recorded there.

        An entry id is unique per member, as the ledger's key (member id, entry id) says:
        HQ looks it up in its member's ledger (one partition), as a distributed ledger
        would on the member's node (docs/scaling.md). ``pos-hq audit verify`` reports an
        id recorded under two members. Within one book an id already seen is known
        whichever member asks.
        """
        if entry_id not in self._entries:
            self._load_entries([(member_id, entry_id)])
        return self._entries[entry_id]

    def existing_entry(
        self,
        entry_id: str,
        member_ref: str,
        kind: str,
        points: int,
        *,
        sale_id: str | None = None,
        refund_id: str | None = None,
    ) -> bool:
        """True when ``entry_id`` already records this same movement (of the same sale
        or refund).

        Raises:
            Conflict: the id records another movement, or the same one of another sale
                or refund: nothing of the event is written.
        """
        facts = self.entry(entry_id, member_ref)
        if facts is None:
            return False
        if facts != EntryFacts(member_ref, kind, points, sale_id, refund_id):
            raise Conflict(
                f"ledger entry id {entry_id} is already recorded for another movement",
                entry_id=entry_id,
            )
        return True

    def move_balance(
        self,
        rules: RuleSet,
        source: MemberRow,
        target: MemberRow,
        *,
        entry_ids: tuple[str, str],
        at: dt.datetime,
        origin: Origin,
    ) -> None:
        """Move ``source``'s whole balance to ``target`` (a merge, or an alias swept into
        its member): a ``merge_out`` entry on one and a ``merge_in`` on the other with
        ids ``entry_ids`` (out, in), the lots' expiry dates carried over."""
        points = source.balance
        lots = self.open_lots(source.id)
        expiries = [(lot.remaining, lot.expires_on) for lot in lots] if points > 0 else None
        self.post(
            rules,
            source,
            entry_id=entry_ids[0],
            kind="merge_out",
            points=-points,
            created_at=at,
            origin=origin,
            in_origin_ledger=False,
            prefer_lots=[lot.id for lot in lots],
            reason=f"merged into {target.id}",
        )
        self.post(
            rules,
            target,
            entry_id=entry_ids[1],
            kind="merge_in",
            points=points,
            created_at=at,
            origin=origin,
            in_origin_ledger=False,
            credit_expiries=expiries or None,
            reason=f"merged from {source.id}",
        )

    def open_lots(self, member_id: str) -> list[LotRow]:
        """The member's lots with points left, soonest expiry first."""
        if member_id not in self._lots or member_id in self._partial_lots:
            self._load_lots([member_id])
        lots = [lot for lot in self._lots[member_id] if lot.remaining > 0]
        lots.sort(key=lambda lot: (lot.expires_on is None, lot.expires_on or dt.date.min, lot.id))
        return lots

    def due_points(self, member_id: str, today: dt.date) -> int:
        """Points in the member's lots whose last valid day is before ``today``."""
        return sum(
            lot.remaining
            for lot in self.open_lots(member_id)
            if lot.expires_on is not None and lot.expires_on < today
        )

    def post(
        self,
        rules: RuleSet,
        member: MemberRow,
        *,
        entry_id: str,
        kind: str,
        points: int,
        created_at: dt.datetime,
        origin: Origin,
        member_ref: str | None = None,
        sale_id: str | None = None,
        refund_id: str | None = None,
        rule_set_version: str | None = None,
        actor_id: str | None = None,
        reason: str | None = None,
        in_origin_ledger: bool = True,
        prefer_lots: Sequence[str] = (),
        credit_expiries: Sequence[tuple[int, dt.date | None]] | None = None,
    ) -> dict[str, Any]:
        """Write one entry for ``member``, move its lots and its cached balance.

        A credit repays any debt first, then opens lots (expiring by ``rules`` from the
        earlier of ``created_at`` and HQ's clock, or as ``credit_expiries`` says). A debit
        takes ``prefer_lots`` first, then the soonest-expiring lots; what the lots cannot
        cover becomes debt.
        """
        if points == 0:
            raise ValueError("a ledger entry moves points")
        entry = {
            "id": entry_id,
            "member_id": member.id,
            "member_ref": member_ref or member.id,
            "kind": kind,
            "points": points,
            "created_at": created_at,
            "received_at": origin.received_at,
            "source_channel": origin.source_channel,
            "store_code": origin.store_code,
            "till_id": origin.till_id,
            "in_origin_ledger": in_origin_ledger,
            "event_id": origin.event_id,
            "sale_id": sale_id,
            "refund_id": refund_id,
            "rule_set_version": rule_set_version,
            "actor_id": actor_id,
            "reason": reason,
            "seq": self.next_seq(),
        }
        self.insert(ENTRIES, entry)
        facts = EntryFacts(member_ref or member.id, kind, points, sale_id, refund_id)
        self._remember(self._entries, entry_id, facts)
        if points > 0:
            self._open_lots(rules, member, entry, credit_expiries)
        else:
            self._take_lots(member, entry_id, -points, prefer_lots)
        self.update_member(member, balance=member.balance + points, updated_at=origin.received_at)
        return entry

    def _open_lots(
        self,
        rules: RuleSet,
        member: MemberRow,
        entry: Mapping[str, Any],
        credit_expiries: Sequence[tuple[int, dt.date | None]] | None,
    ) -> None:
        lot_points, _repaid = credit(member.balance, int(entry["points"]))
        if not lot_points:
            return
        earned_at = min(entry["created_at"], entry["received_at"])
        parts = list(credit_expiries or [(lot_points, expiry_for(rules, earned_at))])
        excess = sum(p for p, _ in parts) - lot_points
        trimmed: list[tuple[int, dt.date | None]] = []
        for p, expires in reversed(parts):
            cut = min(p, max(excess, 0))
            excess -= cut
            if p - cut > 0:
                trimmed.append((p - cut, expires))
        if member.id not in self._lots and member.id not in self._new_ids:
            self._partial_lots.add(member.id)  # its stored lots are read when a debit needs them
        lots = self._lots.setdefault(member.id, [])
        for i, (p, expires) in enumerate(reversed(trimmed)):
            lot = LotRow(f"{entry['id']}.{i}", member.id, entry["id"], p, p, earned_at, expires)
            self._append(lots, lot)
            self._append(self._new_lots, lot)
            self._add_new(lot.id)
            # no lot move: the lot's own row (its entry, its points) records the credit;
            # lot_moves holds what debits took out of lots

    def _take_lots(
        self, member: MemberRow, entry_id: str, points: int, prefer: Sequence[str]
    ) -> None:
        rows = self.open_lots(member.id)
        by_id = {row.id: row for row in rows}
        takes, _shortfall = take_up_to(
            [Lot(row.id, row.remaining, row.expires_on) for row in rows], points, prefer
        )
        for take in takes:
            lot = by_id[take.lot_id]
            self._set(lot, remaining=lot.remaining - take.points)
            if lot.id not in self._new_ids:
                self._remember(self._dirty_lots, lot.id, lot)
            self.insert(
                MOVES,
                {
                    "member_id": member.id,
                    "entry_id": entry_id,
                    "lot_id": lot.id,
                    "points": -take.points,
                },
            )

    # -- coupons, holds ---------------------------------------------------------------
    def coupon(self, code: str) -> CouponRow | None:
        """The coupon with this (normalised) code, or None."""
        if code not in self._coupons:
            self._load_coupons([code])
        return self._coupons[code]

    def use_coupon(self, coupon: CouponRow, sale_id: str, at: dt.datetime) -> None:
        """Mark the coupon used by ``sale_id`` (tills pull the change)."""
        self._set(coupon, used_at=at, used_sale_id=sale_id)
        self._remember(self._dirty_coupons, coupon.id, coupon)

    def settle_hold(self, sale_id: str) -> HoldRow | None:
        """The open hold of ``sale_id`` (a sale or a redemption), now settled; or None."""
        if sale_id not in self._holds:
            self._load_holds([sale_id])
        hold = self._holds[sale_id]
        if hold is None or hold.status not in ("active", "posted"):
            return None
        self._set(hold, status="settled", closed_at=self.now)
        self._remember(self._dirty_holds, hold.id, hold)
        return hold

    def reserved_points(self, member_id: str) -> int:
        """Points the member's open holds reserve now (holds this book settled excluded)."""
        settled = [h.id for h in self._dirty_holds.values() if h.member_id == member_id]
        query = select(func.coalesce(func.sum(HOLDS.c.points), 0)).where(
            HOLDS.c.member_id == member_id,
            or_(
                HOLDS.c.status == "posted",
                and_(HOLDS.c.status == "active", HOLDS.c.expires_at > self.now),
            ),
        )
        if settled:
            query = query.where(HOLDS.c.id.not_in(settled))
        return int(self.execute(query).scalar_one())

    def mall_item(self, item_id: str) -> MallItemRow | None:
        """A points-mall item, or None."""
        if item_id not in self._mall_items:
            cols = [MALL_ITEMS.c[f.name] for f in fields(MallItemRow)]
            query = _locked(select(*cols).where(MALL_ITEMS.c.id == item_id), self.lock_rows)
            row = self.execute(query).first()
            self._mall_items[item_id] = MallItemRow(**row._mapping) if row else None
        return self._mall_items[item_id]

    def take_stock(self, item: MallItemRow, quantity: int) -> None:
        """Take ``quantity`` from the item's stock (tills pull the change)."""
        if item.stock is not None:
            self._set(item, stock=item.stock - quantity)
            self._remember(self._dirty_mall_items, item.id, item)

    # -- store managers -----------------------------------------------------------------
    def is_manager(self, store_code: str, manager_id: str) -> bool:
        """Whether HQ knows ``manager_id`` as an active manager of ``store_code``."""
        key = (store_code, manager_id)
        if key not in self._managers:
            active = self.execute(
                select(MANAGERS.c.active).where(
                    MANAGERS.c.store_code == store_code, MANAGERS.c.manager_id == manager_id
                )
            ).scalar()
            self._managers[key] = bool(active)
        return self._managers[key]

    # -- member codes -------------------------------------------------------------------
    def code_use(self, nonce: str) -> tuple[str, str | None] | None:
        """(principal, sale id) of the first recorded use of a member code, or None."""
        if nonce not in self._code_uses:
            self._load_code_uses([nonce])
        return self._code_uses[nonce]

    def record_code_use(self, row: dict[str, Any]) -> None:
        """Record a member code's first use (a row of ``member_code_uses``)."""
        self.insert(CODE_USES, row)
        self._remember(self._code_uses, row["nonce"], (row["principal"], row["sale_id"]))

    # -- writing ------------------------------------------------------------------------
    @property
    def has_changes(self) -> bool:
        """Whether anything waits for :meth:`flush`."""
        return self._changed_since_flush

    def flush(self) -> None:
        """Write every pending row and change (the counter locked first); the journal
        starts afresh."""
        if not self._changed_since_flush:
            return
        self.lock_counter()
        for member in self._new_members:
            self.insert(MEMBERS, {name: getattr(member, name) for name in MEMBER_FIELDS})
        self._pend_new_lots()
        self._write_pending(INSERT_ORDER)
        self._write_updates()
        self._new_members.clear()
        self._new_ids.clear()
        self._dirty_members.clear()
        self._dirty_lots.clear()
        self._dirty_coupons.clear()
        self._dirty_holds.clear()
        self._dirty_mall_items.clear()
        self._journal.clear()
        self._changed_since_flush = False

    def flush_unsequenced(self) -> None:
        """Write the pending rows of the :data:`UNSEQUENCED` tables (new lots included),
        without the change counter: rows no till pulls by change number, which can be
        written while another writer holds the counter. As after :meth:`flush`, nothing
        done before can be rolled back; :meth:`flush` writes the rest.

        PostgreSQL only: on SQLite (the demo) these tables keep their foreign keys to
        members and entries (HQ 0050 drops them on PostgreSQL), so their rows wait for
        :meth:`flush`'s order; a SQLite write holds the whole database anyway."""
        if not self.pg:
            return
        self._pend_new_lots()
        self._write_pending(UNSEQUENCED)
        self._journal.clear()

    def _pend_new_lots(self) -> None:
        """Queue the lots opened since the last write as rows of ``lots``."""
        for lot in self._new_lots:
            self.insert(LOTS, {name: getattr(lot, name) for name in LOT_FIELDS})
        self._new_lots.clear()

    def _write_pending(self, tables: Sequence[Table]) -> None:
        """Write the pending new rows of ``tables``, table by table in that order."""
        for table in tables:
            rows = self._pending.pop(table.name, None)
            if rows:
                self._bulk_insert(table, rows)

    def _write_updates(self) -> None:
        if self._dirty_members:
            cols = list(MEMBER_MUTABLE)
            self._update_many(
                MEMBERS,
                ("id",),
                cols,
                [{n: getattr(m, n) for n in ("id", *cols)} for m in self._dirty_members.values()],
            )
        if self._dirty_lots:
            self._update_many(
                LOTS,
                ("member_id", "id"),
                ["remaining"],
                [
                    {"member_id": lot.member_id, "id": lot.id, "remaining": lot.remaining}
                    for lot in self._dirty_lots.values()
                ],
            )
        if self._dirty_coupons:
            self._update_many(
                COUPONS,
                ("id",),
                ["used_at", "used_sale_id", "seq"],
                [
                    {"id": c.id, "used_at": c.used_at, "used_sale_id": c.used_sale_id}
                    | {"seq": self.next_seq()}
                    for c in self._dirty_coupons.values()
                ],
            )
        if self._dirty_mall_items:
            self._update_many(
                MALL_ITEMS,
                ("id",),
                ["stock", "seq"],
                [
                    {"id": m.id, "stock": m.stock, "seq": self.next_seq()}
                    for m in self._dirty_mall_items.values()
                ],
            )
        if self._dirty_holds:
            self._update_many(
                HOLDS,
                ("member_id", "id"),
                ["status", "closed_at"],
                [
                    {"member_id": h.member_id, "id": h.id, "status": h.status}
                    | {"closed_at": h.closed_at}
                    for h in self._dirty_holds.values()
                ],
            )

    def _update_many(
        self,
        table: Table,
        keys: Sequence[str],
        columns: Sequence[str],
        rows: list[dict[str, Any]],
    ) -> None:
        """Set ``columns`` of the rows found by ``keys`` (the whole primary key, so that
        a partitioned table is searched in one partition)."""
        if self.pg:
            self._update_unnest(table, keys, columns, rows)
            return
        statement = (
            update(table)
            .where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
            .values({c: bindparam(f"v_{c}") for c in columns})
        )
        params = [{f"k_{k}": r[k] for k in keys} | {f"v_{c}": r[c] for c in columns} for r in rows]
        self.execute(statement, params)

    @contextmanager
    def _driver(self, sql: str) -> Iterator[Any]:
        """The driver's connection (psycopg) under this transaction; its errors are
        raised as SQLAlchemy's (IntegrityError...), like every other statement's."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        self.statements += 1
        try:
            yield raw
        except psycopg.Error as exc:
            raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc

    def _update_unnest(
        self,
        table: Table,
        keys: Sequence[str],
        columns: Sequence[str],
        rows: list[dict[str, Any]],
    ) -> None:
        """One ``UPDATE ... FROM unnest(arrays)`` statement for every row (PostgreSQL)."""
        sql, params = update_unnest_statement(self.conn.dialect, table, keys, columns, rows)
        with self._driver(sql) as raw, raw.cursor() as cur:
            cur.execute(sql, params)

    def _bulk_insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if table.name in _SKIP_EXISTING:
            dialect_insert = pg_insert if self.pg else sqlite_insert
            self.execute(dialect_insert(table).on_conflict_do_nothing(), rows)
        elif self.conn.dialect.name == "postgresql":
            self._copy(table, rows)
        else:
            self.execute(table.insert(), rows)

    def _copy(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """``COPY`` the rows in (PostgreSQL): the fastest way in, in this transaction.

        In PostgreSQL's binary format, each column sent as its own type: neither psycopg
        nor the server formats or parses numbers and times as text (JSON columns go as
        ``jsonb``, written by orjson)."""
        columns = tuple(rows[0])
        names = ", ".join(f'"{c}"' for c in columns)
        sql = f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)'
        values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        types, narrow = copy_layout(table, columns)
        with self._driver(sql) as raw, raw.cursor() as cur:
            set_json_dumps(_json_bytes, cur)
            with cur.copy(sql) as copy:
                copy.set_types(types)
                write = copy.write_row
                for row in rows:
                    out = values(row)
                    for i, low, high in narrow:
                        if out[i] is not None and not low <= out[i] <= high:
                            raise NumericValueOutOfRange(
                                f"{out[i]} is out of range for column {columns[i]} ({types[i]})"
                            )
                    write(out)


@cache
def copy_layout(
    table: Table, columns: tuple[str, ...]
) -> tuple[list[str], list[tuple[int, int, int]]]:
    """PostgreSQL's names of the types of ``table``'s ``columns`` (``varchar``,
    ``bigint``, ``timestamp with time zone``, ``jsonb``...) for a binary ``COPY``, and
    (position, lowest, highest) of its ``integer`` and ``smallint`` columns: the binary
    format sends them in 4 and 2 bytes, so a value beyond is refused here, as the server
    refuses it in text."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = [
        re.sub(r"\(.*\)", "", table.c[c].type.compile(dialect=dialect)).lower() for c in columns
    ]
    bounds = {"integer": 2**31, "smallint": 2**15}
    narrow = [(i, -bounds[t], bounds[t] - 1) for i, t in enumerate(types) if t in bounds]
    return types, narrow


def _json_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # beyond orjson (an integer past 64 bits...): the standard library's way
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        return text.encode("utf-8", "surrogatepass")


def update_unnest_statement(
    dialect: Any,
    table: Table,
    keys: Sequence[str],
    columns: Sequence[str],
    rows: list[dict[str, Any]],
) -> tuple[str, list[list[Any]]]:
    """``UPDATE t SET c = u.c FROM unnest(%s::type[], ...) AS u(...) WHERE t.k = u.k``
    and its parameters (one array per column): one statement for any number of rows."""
    names = [*keys, *columns]
    types = [table.c[n].type.compile(dialect=dialect) for n in names]
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sets = ", ".join(f'"{c}" = u."{c}"' for c in columns)
    match = " AND ".join(f't."{k}" = u."{k}"' for k in keys)
    aliases = ", ".join(f'"{n}"' for n in names)
    sql = (
        f'UPDATE "{table.name}" AS t SET {sets} FROM unnest({arrays}) AS u({aliases}) WHERE {match}'
    )
    return sql, [[row[n] for row in rows] for n in names]


# The book's statements are built once per dialect and run with their parameters: a
# statement object built anew for every batch (or every single-sale push) costs more
# to set up in SQLAlchemy than to run (a nested subquery's columns, ~2 ms).


def _locked(query: Select[Any], lock: bool) -> Select[Any]:
    """``query ... FOR NO KEY UPDATE`` when ``lock`` (the rows will be updated, never
    their keys): see :attr:`Book.lock_rows`."""
    return query.with_for_update(key_share=True) if lock else query


@cache
def _members_by_id(pg: bool, lock: bool = False) -> Select[Any]:
    return select(per_key(_locked(select(*_member_columns()), lock), MEMBERS.c.id, pg=pg))


@cache
def _phones(pg: bool) -> Select[Any]:
    return select(PHONES.c.phone_hash, PHONES.c.member_id).where(one_of(PHONES.c.phone_hash, pg=pg))


@cache
def _aliases(pg: bool, lock: bool = False) -> Select[Any]:
    query = (
        select(MEMBERS.c.id, MEMBERS.c.alias_of)
        .where(one_of(MEMBERS.c.alias_of, pg=pg))
        .order_by(MEMBERS.c.id)
    )
    return _locked(query, lock)


@cache
def _entries_by_key(pg: bool) -> Select[Any]:
    """The entries whose key (member id, entry id) is one of the pairs the ``members``
    and ``ids`` parameters spell (:func:`per_key`: on SQLite a superset, the caller keeps
    its pairs)."""
    columns = select(
        ENTRIES.c.member_id,
        ENTRIES.c.id,
        ENTRIES.c.member_ref,
        ENTRIES.c.kind,
        ENTRIES.c.points,
        ENTRIES.c.sale_id,
        ENTRIES.c.refund_id,
    )
    keys = (ENTRIES.c.member_id, ENTRIES.c.id)
    return select(per_key(columns, *keys, pg=pg, params=("members", "ids")))


@cache
def _known_ids(kind: str, pg: bool) -> Select[Any]:
    table = {"sale": SALES, "refund": REFUNDS, "redemption": REDEMPTIONS}[kind]
    return select(table.c.id).where(one_of(table.c.id, pg=pg))


@cache
def _numbers(pg: bool) -> Select[Any]:
    return select(NUMBERS.c.member_no).where(one_of(NUMBERS.c.member_no, pg=pg))


@cache
def _coupons(pg: bool, lock: bool = False) -> Select[Any]:
    cols = [COUPONS.c[f.name] for f in fields(CouponRow)]
    return _locked(select(*cols).where(one_of(COUPONS.c.code, pg=pg)), lock)


@cache
def _holds(pg: bool, lock: bool = False) -> Select[Any]:
    cols = [HOLDS.c[f.name] for f in fields(HoldRow)]
    query = (
        select(*cols)
        .where(one_of(HOLDS.c.sale_id, pg=pg), HOLDS.c.status.in_(("active", "posted")))
        .order_by(HOLDS.c.id)
    )
    return _locked(query, lock)


@cache
def _code_uses(pg: bool) -> Select[Any]:
    return select(CODE_USES.c.nonce, CODE_USES.c.principal, CODE_USES.c.sale_id).where(
        one_of(CODE_USES.c.nonce, pg=pg)
    )


@cache
def _open_lots(pg: bool) -> Select[Any]:
    query = select(*[LOTS.c[n] for n in LOT_FIELDS]).where(LOTS.c.remaining > 0)
    return select(per_key(query, LOTS.c.member_id, pg=pg))


# -- queries shared with the jobs and the admin views -------------------------------------


def _purchase_rows(*, pg: bool) -> Any:
    """(member id, sale id, sale time, kind, points) of purchase entries of sales made
    since ``:since`` by any of ``:keys`` (member ids), as a subquery (a refund comes after
    its sale, so the entry's own time narrows the index scan too)."""
    since = bindparam("since", type_=ENTRIES.c.created_at.type)
    return per_key(
        select(
            ENTRIES.c.member_id,
            SALES.c.id.label("sale_id"),
            SALES.c.created_at,
            ENTRIES.c.kind,
            ENTRIES.c.points,
        )
        .join(SALES, SALES.c.id == ENTRIES.c.sale_id)
        .where(
            ENTRIES.c.kind.in_(PURCHASE_KINDS),
            ENTRIES.c.created_at >= since,
            SALES.c.created_at >= since,
        ),
        ENTRIES.c.member_id,
        pg=pg,
    )


@cache
def purchase_rows_query(pg: bool) -> Select[Any]:
    """(member id, sale id, sale time, kind, points) of purchase entries of sales made
    since ``:since`` by any of ``:keys``."""
    rows = _purchase_rows(pg=pg)
    return select(rows.c.member_id, rows.c.sale_id, rows.c.created_at, rows.c.kind, rows.c.points)


@cache
def purchase_sum_query(pg: bool) -> Select[Any]:
    """(member id, kind, points) of purchase entries of sales made since ``:since`` by
    ``:keys``, summed per member and kind."""
    rows = _purchase_rows(pg=pg)
    return select(rows.c.member_id, rows.c.kind, func.sum(rows.c.points)).group_by(
        rows.c.member_id, rows.c.kind
    )
