"""Members HQ sends whole: the first sync, members entering the region, look-ups.

A **member snapshot** is a member as of one of HQ's change numbers (``as_of``): its
row, its open lots, its coupons and its balance. At the till it becomes the member row,
its lots, and ONE ``opening`` ledger entry carrying HQ's balance (a negative balance is
a debt: no lots), so the balance stays the sum of the ledger. ``members.snapshot_seq``
keeps ``as_of``: a pulled entry of that member numbered at or below it is in the
balance already and is skipped (:mod:`pos_app.services.sync.pull`).

A member the till holds already is not replaced: its row is updated as a pulled row
would be, and an ``opening`` entry brings its balance to HQ's plus the points of the
till's own events HQ has not acknowledged yet (none when nothing differs).

:class:`RowBuilder` turns snapshots (stream arrays, or objects) into the till's rows as
plain tuples (:class:`SnapshotRows`). :class:`SnapshotApplier` applies them in the
caller's transaction with bulk statements on the raw sqlite3 connection
(``executemany``), falling back to the per-member path for members the till holds or
whose phone, number or referral code another row holds. :class:`SnapshotLoader` runs a
first sync from ``GET /v1/snapshot``: streamed, read and built on a thread of its own
while the caller's thread writes, applied in large transactions, resumable after a cut
(``after`` = the last member committed), with progress. :class:`MemberFetcher` asks HQ
for a member the till does not hold (``GET /v1/members/lookup``) and keeps it.

A first sync writes while the till is not serving a counter yet, so it takes what a
bulk load takes: transactions of :data:`MEMBERS_PER_TRANSACTION` members and a page
cache of :data:`LOAD_CACHE_KIB` on its connection, given back when the load stops. The
unique keys of ``members`` stay (they find clashes) and the phone hash's grows in random
order: with the till's usual 16 MB cache each transaction would read and decrypt most of
its pages again (a million members went in 166 s, against 67 s so). A fresh till (no
member yet) drops the other secondary indexes of the loaded tables in its first
transaction and builds them in its last, the one that makes it ready (a cut load goes
on without them): sorting a million keys once costs far less than inserting them in
random order.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import operator
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session

from pos_app.core.privacy import PhoneHinter
from pos_app.core.snapshot_format import FORMAT, LOT_FIELDS, MEMBER_FIELDS
from pos_app.services.context import FetchOutcome, TillContext
from pos_app.services.ledger import NO_FLOOR, post_points
from pos_app.services.sync.client import (
    SETTING_CURSOR,
    SETTING_REGION,
    HQBusy,
    HQClient,
    HQResponseError,
    HQUnavailable,
    SyncError,
)
from pos_app.services.sync.pull import (
    PullApplier,
    _day,
    _placeholder_hash,
    _when,
    stub_member_no,
    stub_referral_code,
)
from pos_app.store import setting_keys
from pos_app.store import snapshot as snapshot_store
from pos_app.store.database import PAGE_CACHE_KIB
from pos_app.store.settings import delete_settings, get_setting, put_setting
from pos_app.store.types import to_db_time

log = logging.getLogger(__name__)

#: Settings of a first sync in progress: the first part's cursor (the till pulls from it
#: once the snapshot is whole), the last member committed, how many so far, of how many.
SETTING_SNAPSHOT_CURSOR = setting_keys.SNAPSHOT_CURSOR.key
SETTING_SNAPSHOT_AFTER = setting_keys.SNAPSHOT_AFTER.key
SETTING_SNAPSHOT_DONE = setting_keys.SNAPSHOT_DONE.key
SETTING_SNAPSHOT_TOTAL = setting_keys.SNAPSHOT_TOTAL.key
#: A fresh till's first sync in progress: the indexes it builds at its end (JSON).
SETTING_SNAPSHOT_INDEXES = setting_keys.SNAPSHOT_INDEXES.key
SNAPSHOT_SETTINGS = (
    SETTING_SNAPSHOT_CURSOR,
    SETTING_SNAPSHOT_AFTER,
    SETTING_SNAPSHOT_DONE,
    SETTING_SNAPSHOT_TOTAL,
)
#: Members applied per transaction during a first sync (2-4 s each at a million).
MEMBERS_PER_TRANSACTION = 50_000
#: SQLite's page cache (KiB) on the connection of a first sync, as for bulk loads.
LOAD_CACHE_KIB = 262_144
#: Transactions' rows read ahead of the one being written.
READ_AHEAD = 1
#: Seconds a stopped load waits for its reader thread to end.
READER_JOIN_S = 10.0
#: A cut stream is resumed at once this many times before the error is raised.
RESUMES = 3
#: Seconds a look-up at the counter may wait for HQ.
LOOKUP_TIMEOUT = 3.0


def till_time(value: Any) -> str | None:
    """HQ's ISO time text as the till stores it (UTC, microseconds, ``+00:00``)."""
    if not value:
        return None
    text = str(value)
    if text.endswith("+00:00") and text[10:11] == "T":
        if len(text) == 32:
            return text  # PostgreSQL's JSON in UTC: already the till's form
        if len(text) == 25:
            return f"{text[:19]}.000000+00:00"
    parsed = _when(text)
    return to_db_time(parsed) if parsed is not None else None


def _coupon_row(c: Mapping[str, Any]) -> tuple[Any, ...]:
    """A member's coupon from a snapshot, as the till stores it; one used elsewhere is
    valid until it was used (the member is new here: it was not used here)."""
    issued = till_time(c.get("issued_at")) or to_db_time(dt.datetime.now(dt.UTC))
    valid_from = till_time(c.get("valid_from")) or issued
    valid_to = till_time(c.get("valid_to")) or valid_from
    used = till_time(c.get("used_at")) if c.get("used_sale_id") else None
    if used is not None:
        valid_to = max(valid_from, min(valid_to, used))  # the same fixed-width UTC text
    return (
        str(c["id"]),
        str(c["code"]).upper(),
        c.get("member_id"),
        str(c.get("name") or c["code"]),
        int(c.get("amount_off_fen") or 0),
        int(c.get("percent_off") or 0),
        int(c.get("min_order_fen") or 0),
        valid_from,
        valid_to,
        issued,
        str(c.get("source") or "hq")[:32],
    )


def opening_entry_id(member_id: str, as_of: int) -> str:
    """The id of the ``opening`` entry of ``member_id``'s snapshot as of ``as_of``
    (snapshot members come in member-id order: these ids grow, as the index likes)."""
    return f"op{as_of}:{member_id}"


def opening_lot_id(member_id: str, as_of: int, index: int) -> str:
    """The id of the ``index``-th lot of ``member_id``'s snapshot as of ``as_of``."""
    return f"ol{as_of}:{member_id}:{index}"


#: The member fields without which a member cannot be written.
REQUIRED_FIELDS = ("id", "phone_hash", "balance", "as_of")


def member_snapshot(
    fields: Sequence[str],
    values: Sequence[Any],
    lot_fields: Sequence[str],
    coupon_fields: Sequence[str],
) -> dict[str, Any]:
    """A member line of the snapshot stream (a JSON array) as a snapshot object (its
    lots stay arrays when they come in :data:`LOT_FIELDS` order)."""
    member = dict(zip(fields, values, strict=True))
    if tuple(lot_fields) != LOT_FIELDS:
        member["lots"] = [dict(zip(lot_fields, lot, strict=True)) for lot in member["lots"] or ()]
    if member.get("coupons"):
        member["coupons"] = [_coupon(coupon_fields, c) for c in member["coupons"]]
    return member


def _coupon(coupon_fields: Sequence[str], coupon: Any) -> Mapping[str, Any]:
    """A coupon of a snapshot (an object, or an array in ``coupon_fields`` order)."""
    if isinstance(coupon, Mapping):
        return coupon
    return dict(zip(coupon_fields, coupon, strict=True))


def _lot_values(lot: Mapping[str, Any] | Sequence[Any]) -> Sequence[Any]:
    """A lot of a snapshot (an object, or an array in :data:`LOT_FIELDS` order) as its
    values in that order."""
    if isinstance(lot, Mapping):
        return [lot.get(field) for field in LOT_FIELDS]
    return lot


# -- the rows of snapshots -------------------------------------------------------------------


@dataclass
class SnapshotRows:
    """The till's rows of a batch of member snapshots, built as plain tuples.

    Attributes:
        fields: The member fields of ``values`` (with ``lot_fields``, ``coupon_fields``).
        values: Each member's values (a stream line's array), for the per-member path.
        ids: Each member's id.
        as_of: Each member's ``as_of``.
        members: Each member's row (:data:`pos_app.store.snapshot.MEMBER_COLUMNS`).
        lots: Each member's lot rows.
        entries: Each member's opening entry row (None without a balance).
        coupons: Each member's coupons (objects).
        referred: The referrers the batch names.
    """

    fields: Sequence[str]
    lot_fields: Sequence[str]
    coupon_fields: Sequence[str]
    values: list[Sequence[Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    as_of: list[int] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    lots: list[list[tuple[Any, ...]]] = field(default_factory=list)
    entries: list[tuple[Any, ...] | None] = field(default_factory=list)
    coupons: list[list[Mapping[str, Any]]] = field(default_factory=list)
    referred: set[str] = field(default_factory=set)

    def snapshot(self, index: int) -> dict[str, Any]:
        """The ``index``-th member as a snapshot object."""
        return member_snapshot(self.fields, self.values[index], self.lot_fields, self.coupon_fields)


class RowBuilder:
    """Builds :class:`SnapshotRows` from stream lines: no object per member, the phone
    hint keyed once, lots and opening entries as tuples.

    Attributes:
        fields: The member fields of the lines (:data:`MEMBER_FIELDS` or more).
    """

    def __init__(
        self,
        ctx: TillContext,
        fields: Sequence[str] = MEMBER_FIELDS,
        lot_fields: Sequence[str] = LOT_FIELDS,
        coupon_fields: Sequence[str] = (),
    ) -> None:
        missing = [f for f in REQUIRED_FIELDS if f not in fields]
        if missing:
            raise SyncError(f"HQ's snapshot lacks the member fields {', '.join(missing)}")
        self.ctx = ctx
        self.fields = tuple(fields)
        self._lot_fields = tuple(lot_fields)
        self._coupon_fields = tuple(coupon_fields)
        # a field the stream lacks reads as the None put after a member's values
        self._pad = any(f not in self.fields for f in MEMBER_FIELDS)
        self._pick = operator.itemgetter(
            *(self.fields.index(f) if f in self.fields else len(self.fields) for f in MEMBER_FIELDS)
        )
        self._hint = PhoneHinter(ctx.db.phone.hint_key).of_mask
        self._seal = ctx.db.phone.masks.seal

    def of_objects(self, snapshots: Iterable[Mapping[str, Any]], now: dt.datetime) -> SnapshotRows:
        """The rows of snapshot objects (a look-up's, a pull page's)."""
        return self.build([[m.get(f) for f in self.fields] for m in snapshots], now)

    def build(self, batch: Sequence[Sequence[Any]], now: dt.datetime) -> SnapshotRows:
        """The rows of ``batch`` (each a member's values in :attr:`fields` order)."""
        rows = SnapshotRows(self.fields, self._lot_fields, self._coupon_fields)
        stamp = to_db_time(now)
        rules = self.ctx.rules
        for values in batch:
            self._add(rows, values, stamp, rules.tier_codes(), rules.version)
        return rows

    def _add(
        self,
        rows: SnapshotRows,
        values: Sequence[Any],
        stamp: str,
        tiers: Sequence[str],
        version: str,
    ) -> None:
        padded = [*values, None] if self._pad else values
        (
            member_id,
            number,
            phone_hash,
            last4,
            masked,
            name,
            birthday,
            tier,
            tier_since,
            code,
            referred_by,
            registered_at,
            store,
            first_purchase_at,
            gift_year,
            alias_of,
            balance,
            lots,
            coupons,
            as_of,
        ) = self._pick(padded)
        member_id, as_of, balance = str(member_id), int(as_of), int(balance)
        if not (isinstance(number, int) and 0 < number < 10**10):
            number = stub_member_no(member_id)  # taken already: the per-member path
        last4 = "" if alias_of else str(last4 or "")
        masked = str(masked or "")
        registered = till_time(registered_at) or stamp
        if referred_by:
            rows.referred.add(str(referred_by))
        rows.values.append(values)
        rows.ids.append(member_id)
        rows.as_of.append(as_of)
        rows.members.append(
            (
                member_id,
                number,
                _placeholder_hash(member_id) if alias_of else bytes.fromhex(str(phone_hash)),
                last4,
                self._hint(masked, last4),  # hinted and sealed as the ORM does
                self._seal(masked),
                str(name or ""),
                birthday or None,
                tier if tier in tiers else tiers[0],
                till_time(tier_since) or registered,
                code or stub_referral_code(member_id),
                referred_by if referred_by and referred_by != member_id else None,
                registered,
                str(store or ""),
                till_time(first_purchase_at),
                gift_year,
                balance,
                registered,
                as_of,
            )
        )
        rows.lots.append(
            [
                (
                    opening_lot_id(member_id, as_of, i),
                    member_id,
                    int(points),
                    int(remaining),
                    till_time(earned_at) or stamp,
                    expires_on,
                )
                for i, (_id, points, remaining, earned_at, expires_on) in enumerate(
                    map(self._lot, lots or ())
                )
            ]
        )
        detail = f'{{"as_of": {as_of}, "origin": "hq"}}'
        rows.entries.append(
            (opening_entry_id(member_id, as_of), member_id, balance, stamp, version, detail)
            if balance
            else None
        )
        rows.coupons.append([_coupon(self._coupon_fields, c) for c in coupons or ()])

    def _lot(self, lot: Mapping[str, Any] | Sequence[Any]) -> Sequence[Any]:
        if isinstance(lot, Mapping) or self._lot_fields == LOT_FIELDS:
            return _lot_values(lot)
        return _lot_values(dict(zip(self._lot_fields, lot, strict=True)))


# -- applying snapshots ------------------------------------------------------------------


class SnapshotApplier:
    """Applies member snapshots inside the caller's write transaction.

    Attributes:
        applied: Members written from a snapshot.
        skipped: Members whose snapshot was not newer than the one the till holds.
        corrected: Members the till held whose balance an ``opening`` entry moved.
    """

    def __init__(self, ctx: TillContext, session: Session, applier: PullApplier) -> None:
        self.ctx = ctx
        self.session = session
        self.applier = applier
        self.applied = 0
        self.skipped = 0
        self.corrected = 0
        self._now = ctx.now()
        self._tiers = ctx.rules.tier_codes()
        self._phone = ctx.db.phone
        snapshot_store.defer_foreign_keys(session)  # referrers come later

    def apply(self, snapshots: Sequence[Mapping[str, Any]]) -> None:
        """Apply ``snapshots`` (objects, as a look-up or a pull page brings them)."""
        self.apply_rows(RowBuilder(self.ctx).of_objects(snapshots, self._now))

    def apply_rows(self, rows: SnapshotRows) -> None:
        """Apply the snapshots of ``rows``: in bulk, but members the till holds (with
        points of their own, or events HQ has not acknowledged) one by one."""
        known = self._known(rows.ids)
        unsent = self.applier.unsent_points() if known else {}
        fast: list[int] = []
        careful: list[int] = []
        for i, member_id in enumerate(rows.ids):
            held = known.get(member_id)
            if held is not None and held[1] is not None and held[1] >= rows.as_of[i]:
                self.skipped += 1
            elif held is None or (held[0] == 0 and member_id not in unsent):
                fast.append(i)  # nothing of it here to keep: written as HQ has it
            else:
                careful.append(i)
        self.applied += len(fast) + len(careful)
        careful += self._bulk_or_split(rows, fast, set(known))
        for i in careful:
            self._one(rows.snapshot(i), held=rows.ids[i] in known)
            for coupon in rows.coupons[i]:
                self.applier.apply_coupon(coupon)
        self._referrers(rows.referred)

    def coupons(self, coupons: Sequence[Mapping[str, Any]]) -> None:
        """Bearer coupons (a first sync's): one statement, or one by one when a code
        is another coupon's here."""
        rows = [_coupon_row(c) for c in coupons]
        if not snapshot_store.upsert_coupons(self.session, rows):
            for coupon in coupons:
                self.applier.apply_coupon(coupon)

    def _known(self, ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        """(balance, snapshot_seq) of the members of ``ids`` the till holds."""
        return snapshot_store.known_members(self.session, ids)

    def _bulk_or_split(self, rows: SnapshotRows, which: list[int], held: set[str]) -> list[int]:
        """Write the members ``which`` of ``rows`` in bulk; when a phone, number or code
        clashes with a row here, in halves, down to the members that clash (members the
        till does not hold: those it left out). Returns those: they take the per-member
        path."""
        if not held:
            return self._bulk_new(rows, which)
        if not which or self._bulk(rows, which, held):
            return []
        if len(which) == 1:
            return which
        half = len(which) // 2
        return self._bulk_or_split(rows, which[:half], held) + self._bulk_or_split(
            rows, which[half:], held
        )

    def _bulk_new(self, rows: SnapshotRows, which: list[int]) -> list[int]:
        """Write members the till does not hold with their lots and opening entries;
        the members left out because a phone, number or code is another row's."""
        ids = rows.ids
        whole = len(which) == len(ids)
        members = rows.members if whole else [rows.members[i] for i in which]
        clashed = snapshot_store.insert_new_members(self.session, members)
        written = [i for i in which if ids[i] not in clashed] if clashed else which
        self._lots_and_openings(rows, written)
        return [i for i in which if ids[i] in clashed] if clashed else []

    def _lots_and_openings(self, rows: SnapshotRows, which: list[int]) -> None:
        """Insert the lots, opening entries and coupons of the members ``which`` (lot and
        entry ids are made of (member, as_of): new for every member written)."""
        snapshot_store.insert_lots_and_openings(
            self.session,
            [lot for i in which for lot in rows.lots[i]],
            [e for e in (rows.entries[i] for i in which) if e is not None],
        )
        coupons = [c for i in which for c in rows.coupons[i]]
        if coupons:
            self.coupons(coupons)

    def _bulk(self, rows: SnapshotRows, which: list[int], held: set[str]) -> bool:
        """Write members (``held``: rows here to replace), lots and opening entries with
        one statement per table; False (and nothing written) when a unique value
        clashes with another row."""
        ids = rows.ids
        members = [rows.members[i] for i in which if ids[i] not in held]
        replaced = [rows.members[i] for i in which if ids[i] in held] if held else []
        # Only the member rows can clash (a phone, number or code of another row here).
        if not snapshot_store.write_members(self.session, members, replaced):
            return False
        self._lots_and_openings(rows, which)
        return True

    def _one(self, m: Mapping[str, Any], *, held: bool) -> None:
        """A member the till holds (or whose unique values clash): its row updated as a
        pulled row is, its balance brought to HQ's plus its unsent points."""
        applier = self.applier
        applier.apply_member(m)
        member_id, as_of = str(m["id"]), int(m["as_of"])
        row = applier.member(member_id, self._now)
        unsent = applier.unsent_points().get(member_id, 0)
        delta = int(m["balance"]) + unsent - row.balance
        if delta:
            hq_lots = [
                (int(values[2]), _day(values[4]))
                for values in map(_lot_values, m.get("lots") or ())
            ]
            whole = row.balance == 0 and unsent == 0 and sum(p for p, _ in hq_lots) == delta
            post_points(
                self.session,
                self.ctx.rules,
                row,
                kind="opening",
                points=delta,
                at=self._now,
                actor_id="@hq",
                reason="snapshot",
                detail={"as_of": as_of, "origin": "hq"},
                entry_id=opening_entry_id(member_id, as_of),
                credit_expiries=hq_lots if whole and hq_lots else None,
                allow_debt_to=NO_FLOOR,
            )
            self.corrected += held
        row.snapshot_seq = as_of
        self.session.flush()

    def _referrers(self, referred: set[str]) -> None:
        """Referrers the till does not hold yet become stubs (placeholder phone, number
        and code), filled in when their own snapshot comes."""
        wanted = sorted(referred)
        held = self._known(wanted)
        missing = [r for r in wanted if r not in held]
        if not missing:
            return
        numbers = {r: stub_member_no(r) for r in missing}
        codes = {r: stub_referral_code(r) for r in missing}
        taken_numbers = self._taken("member_no", list(numbers.values()))
        taken_codes = self._taken("referral_code", list(codes.values()))
        now = to_db_time(self._now)
        first_tier = self._tiers[0]
        rows, one_by_one = [], []
        for r in missing:
            if numbers[r] in taken_numbers or codes[r] in taken_codes:
                one_by_one.append(r)
                continue
            rows.append(
                (
                    r,
                    numbers[r],
                    _placeholder_hash(r),
                    "",
                    None,  # no phone: no hint
                    self._phone.masks.seal(""),
                    "",
                    None,
                    first_tier,
                    now,
                    codes[r],
                    None,
                    now,
                    "",
                    None,
                    None,
                    0,
                    now,
                    None,
                )
            )
        snapshot_store.insert_members(self.session, rows)
        for r in one_by_one:
            self.applier.member(r, self._now)

    def _taken(self, column: str, values: Sequence[Any]) -> set[Any]:
        return snapshot_store.taken_values(self.session, column, values)


# -- the first sync ------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotProgress:
    """How far a first sync is.

    Attributes:
        members: Members applied so far.
        total: Members in the region's scope (HQ's count when the part began).
        stream_wait: Seconds the writes waited for the stream so far (HQ's bytes, and
            reading them: the reader thread decompresses, parses and builds rows).
    """

    members: int
    total: int
    stream_wait: float = 0.0


@dataclass(frozen=True)
class SnapshotResult:
    """What a first sync did.

    Attributes:
        finished: The snapshot is whole; ``cursor`` is the cursor to pull from.
        members: Members applied (in all parts, this call and earlier ones).
        cursor: The first part's cursor.
        parts: Requests made in this call (more than one after a cut).
    """

    finished: bool
    members: int
    cursor: str
    parts: int


class SnapshotLoader:
    """A till's first sync from HQ's snapshot stream (see the module docstring).

    Attributes:
        ctx: The till.
        client: The HTTP client.
        on_progress: Called after each committed transaction (on the calling thread).
        batch: Members per transaction.
        stream_wait: Seconds the writes waited for the stream (see
            :class:`SnapshotProgress`).
    """

    def __init__(
        self,
        ctx: TillContext,
        client: HQClient,
        on_progress: Callable[[SnapshotProgress], None] | None = None,
        batch: int = MEMBERS_PER_TRANSACTION,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.on_progress = on_progress
        self.batch = max(1, batch)
        self.stream_wait = 0.0

    def in_progress(self) -> bool:
        """A first sync was begun and not finished."""
        with self.ctx.db.read() as session:
            return get_setting(session, SETTING_SNAPSHOT_CURSOR) is not None

    def load(self, stop: threading.Event | None = None) -> SnapshotResult:
        """Load (or go on loading) the snapshot; a cut stream is resumed at once a few
        times, each time after the last member committed.

        Raises:
            HQUnavailable: HQ went away (what was committed stays; the next call goes on).
            SyncError: the stream is not a snapshot this till can read.
        """
        parts = 0
        try:
            while True:
                parts += 1
                try:
                    finished, done = self._load_part(stop)
                except HQBusy:
                    raise
                except HQUnavailable:
                    if parts > RESUMES:
                        raise
                    log.warning("the snapshot stream was cut: resuming after the last member")
                    continue
                with self.ctx.db.read() as session:
                    key = SETTING_CURSOR if finished else SETTING_SNAPSHOT_CURSOR
                    cursor = get_setting(session, key) or ""
                return SnapshotResult(finished, done, cursor, parts)
        finally:
            self._usual_cache()

    def _usual_cache(self) -> None:
        """Give the load's page cache back (on the writer connection, the one a load's
        transactions use while nothing else writes)."""
        try:
            with self.ctx.db.write() as session:
                snapshot_store.set_page_cache(session, PAGE_CACHE_KIB)
        except Exception:  # the load's own error matters more
            log.exception("could not give the first sync's page cache back")

    def _state(self) -> tuple[str | None, str, int]:
        with self.ctx.db.read() as session:
            cursor = get_setting(session, SETTING_SNAPSHOT_CURSOR)
            after = get_setting(session, SETTING_SNAPSHOT_AFTER) or ""
            done = int(get_setting(session, SETTING_SNAPSHOT_DONE) or 0)
        return cursor, after, done

    def _load_part(self, stop: threading.Event | None) -> tuple[bool, int]:
        """One request: apply what it brings. Returns (the end line was applied, members
        applied so far)."""
        first_cursor, after, done = self._state()
        lines = self.client.snapshot(after)
        reader: _StreamReader | None = None
        try:
            header = _header(lines)
            cursor = first_cursor or str(header["cursor"])
            total = int(header.get("total") or 0)
            rows = RowBuilder(
                self.ctx, header["member_fields"], header["lot_fields"], header["coupon_fields"]
            )
            reader = _StreamReader(lines, rows, self.batch)
            reader.start()
            began = time.perf_counter()
            for part in reader.parts():
                self.stream_wait += time.perf_counter() - began
                done = self._commit(cursor, header, part, done, total)
                reader.committed.set()
                began = time.perf_counter()
                if part.end:
                    return True, done
                if part.rows.ids and stop is not None and stop.is_set():
                    return False, done
            raise HQUnavailable("the snapshot stream ended without its end line")
        finally:
            # A reader still waiting for HQ's bytes stops at its next line, on its own.
            if reader is None or reader.halt():
                close = getattr(lines, "close", None)
                if close is not None:
                    close()

    def _commit(
        self,
        cursor: str,
        header: Mapping[str, Any],
        part: _Part,
        done: int,
        total: int,
    ) -> int:
        """Apply one transaction's worth and record how far the snapshot got."""
        with self.ctx.db.write() as session:
            snapshot_store.set_page_cache(session, LOAD_CACHE_KIB)
            if get_setting(session, SETTING_SNAPSHOT_CURSOR) is None:
                _defer_indexes(session)  # the first transaction of a first sync
            applier = PullApplier(self.ctx, session)
            whole = SnapshotApplier(self.ctx, session, applier)
            published = part.published
            coupons = [i["data"] for i in published if i.get("type") == "coupon"]
            applier.apply_all(
                [
                    {"seq": 0, "topic": i.get("type"), "data": i.get("data")}
                    for i in published
                    if i.get("type") != "coupon"
                ]
            )
            whole.coupons(coupons)
            whole.apply_rows(part.rows)
            done += len(part.rows.ids)
            if part.end:
                _build_deferred_indexes(session)
                put_setting(session, SETTING_CURSOR, cursor)
                put_setting(session, SETTING_REGION, str(header.get("region") or ""))
                delete_settings(session, SNAPSHOT_SETTINGS)
            else:
                put_setting(session, SETTING_SNAPSHOT_CURSOR, cursor)
                if part.rows.ids:
                    put_setting(session, SETTING_SNAPSHOT_AFTER, part.rows.ids[-1])
                put_setting(session, SETTING_SNAPSHOT_DONE, str(done))
                put_setting(session, SETTING_SNAPSHOT_TOTAL, str(total))
        applier.after_commit()
        if self.on_progress is not None and (part.rows.ids or part.end):
            self.on_progress(SnapshotProgress(done, max(total, done), self.stream_wait))
        return done


def _defer_indexes(session: Session) -> None:
    """A fresh till (no member yet) builds its members' secondary indexes after the
    load; which ones is kept until then (a cut load goes on without them)."""
    if snapshot_store.holds_members(session):
        return
    dropped = snapshot_store.drop_secondary_indexes(session)
    put_setting(session, SETTING_SNAPSHOT_INDEXES, json.dumps(dropped))


def _build_deferred_indexes(session: Session) -> None:
    """Build the indexes :func:`_defer_indexes` dropped (the snapshot is whole)."""
    text = get_setting(session, SETTING_SNAPSHOT_INDEXES)
    if text:
        snapshot_store.create_indexes(session, [str(sql) for sql in json.loads(text)])
    delete_settings(session, (SETTING_SNAPSHOT_INDEXES,))


@dataclass
class _Part:
    """What one transaction of a first sync applies."""

    published: list[Mapping[str, Any]]
    rows: SnapshotRows
    end: bool = False


class _StreamReader(threading.Thread):
    """Reads the snapshot stream after its header on its own thread: decompresses,
    parses and builds each transaction's rows while the caller writes the one before
    (SQLite lets go of the GIL while it writes).

    Published items (rule sets, products...) come before the first member: their part
    is committed before any member's rows are built, with the rules they bring.

    Attributes:
        committed: Set by the caller once a part is committed.
    """

    def __init__(self, lines: Iterator[bytes], rows: RowBuilder, batch: int) -> None:
        super().__init__(name="snapshot-reader", daemon=True)
        self._lines = lines
        self._rows = rows
        self._batch = batch
        self._queue: queue.Queue[_Part | BaseException] = queue.Queue(maxsize=READ_AHEAD)
        self._halt = threading.Event()
        self.committed = threading.Event()

    def run(self) -> None:
        try:
            self._read()
        except BaseException as exc:  # the caller's thread raises it
            self._put(exc)

    def _read(self) -> None:
        published: list[Mapping[str, Any]] = []
        values: list[Sequence[Any]] = []
        for line in self._lines:
            if self._halt.is_set():
                return
            if not line.strip():
                continue
            value = _json(line)
            if isinstance(value, list):
                if published:  # before the first member: applied first
                    self._put(_Part(published, self._build([])))
                    published = []
                    self._wait_committed()
                values.append(value)
                if len(values) >= self._batch:
                    self._put(_Part([], self._build(values)))
                    values = []
            elif isinstance(value, dict) and value.get("type") == "end":
                self._put(_Part(published, self._build(values), end=True))
                return
            elif isinstance(value, dict):
                published.append(value)
            else:
                raise SyncError("HQ's snapshot has a line that is neither a member nor an item")
        self._put(HQUnavailable("the snapshot stream ended without its end line"))

    def _build(self, values: list[Sequence[Any]]) -> SnapshotRows:
        return self._rows.build(values, self._rows.ctx.now())

    def _wait_committed(self) -> None:
        while not self._halt.is_set() and not self.committed.wait(0.1):
            pass

    def _put(self, item: _Part | BaseException) -> None:
        self.committed.clear()
        while not self._halt.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def parts(self) -> Iterator[_Part]:
        """The parts in stream order (raises what the reading raised)."""
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.end:
                return

    def halt(self) -> bool:
        """Stop reading; whether the thread ended within :data:`READER_JOIN_S`."""
        self._halt.set()
        self.join(READER_JOIN_S)
        return not self.is_alive()


def _json(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise SyncError(f"HQ's snapshot has a line that is not JSON: {exc}") from None


def _header(lines: Iterator[bytes]) -> dict[str, Any]:
    """The header line of a snapshot stream.

    Raises:
        SyncError: the stream does not start with a header this till reads.
    """
    for line in lines:
        if not line.strip():
            continue
        value = _json(line)
        if not isinstance(value, dict) or value.get("type") != "header":
            break
        if value.get("format") != FORMAT:
            raise SyncError(
                f"HQ's snapshot is format {value.get('format')}; this till reads {FORMAT}"
            )
        return value
    raise SyncError("HQ's snapshot does not start with its header")


# -- members fetched on demand ---------------------------------------------------------------


class MemberFetcher:
    """Asks HQ for a member the till does not hold, and keeps it (``ctx.fetch_member``).

    Used by the member look-up at the counter on a local miss: only while HQ is
    reachable, with a short timeout, on its own HTTP client (the look-up runs on the
    UI's worker thread, not the sync worker's).

    Attributes:
        ctx: The till.
    """

    def __init__(
        self,
        ctx: TillContext,
        client_factory: Callable[[], HQClient],
        reachable: Callable[[], bool] = lambda: True,
    ) -> None:
        self.ctx = ctx
        self._factory = client_factory
        self._reachable = reachable
        self._client: HQClient | None = None
        self._lock = threading.Lock()

    def __call__(self, key: str, value: str | int) -> FetchOutcome:
        """Fetch the member whose ``key`` (``phone_hash``, ``member_no``, ``member_id``)
        is ``value``: ``fetched`` (now held here), ``unknown`` (HQ has no such member)
        or ``unreachable`` (HQ could not be asked)."""
        if not self._reachable():
            return "unreachable"
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            try:
                found = self._client.lookup_member(**{key: value})
            except (HQUnavailable, HQResponseError) as exc:
                log.info("member look-up at HQ failed: %s", exc)
                return "unreachable"
        if found is None:
            return "unknown"
        keep_members(self.ctx, [found])
        return "fetched"

    def close(self) -> None:
        """Close the HTTP client."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def keep_members(ctx: TillContext, snapshots: Iterable[Mapping[str, Any]]) -> None:
    """Apply member snapshots in one transaction of their own."""
    with ctx.db.write() as session:
        SnapshotApplier(ctx, session, PullApplier(ctx, session)).apply(list(snapshots))
