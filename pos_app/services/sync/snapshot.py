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

:class:`SnapshotApplier` applies snapshots in the caller's transaction with bulk
statements on the raw sqlite3 connection (``executemany``; no ORM object per member),
falling back to the per-member path for members the till holds or whose phone, number
or referral code another row holds. :class:`SnapshotLoader` runs a first sync from
``GET /v1/snapshot``: streamed, applied in large transactions, resumable after a cut
(``after`` = the last member committed), with progress. :class:`MemberFetcher` asks HQ
for a member the till does not hold (``GET /v1/members/lookup``) and keeps it.

A first sync writes while the till is not serving a counter yet, so it takes what a
bulk load takes (a bulk load): transactions of
:data:`MEMBERS_PER_TRANSACTION` members and a page cache of :data:`LOAD_CACHE_KIB` on
its connection, given back when the load stops. Every index stays as it is, and most of
``members``' (phone hash, phone hint, referral code...) grow in random order: with the
till's usual 16 MB cache each transaction would read and decrypt most of their pages
again (a million members went in 166 s, against 67 s so).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
from pos_app.store import raw, repo
from pos_app.store.database import PAGE_CACHE_KIB
from pos_app.store.models import Member, Setting
from pos_app.store.types import to_db_time

log = logging.getLogger(__name__)

#: Settings of a first sync in progress: the first part's cursor (the till pulls from it
#: once the snapshot is whole), the last member committed, how many so far, of how many.
SETTING_SNAPSHOT_CURSOR = "snapshot_cursor"
SETTING_SNAPSHOT_AFTER = "snapshot_after"
SETTING_SNAPSHOT_DONE = "snapshot_done"
SETTING_SNAPSHOT_TOTAL = "snapshot_total"
SNAPSHOT_SETTINGS = (
    SETTING_SNAPSHOT_CURSOR,
    SETTING_SNAPSHOT_AFTER,
    SETTING_SNAPSHOT_DONE,
    SETTING_SNAPSHOT_TOTAL,
)
#: The snapshot stream format this till reads.
FORMAT = 1
#: Members applied per transaction during a first sync (2-4 s each at a million).
MEMBERS_PER_TRANSACTION = 50_000
#: SQLite's page cache (KiB) on the connection of a first sync, as for bulk loads.
LOAD_CACHE_KIB = 262_144
#: A cut stream is resumed at once this many times before the error is raised.
RESUMES = 3
#: Seconds a look-up at the counter may wait for HQ.
LOOKUP_TIMEOUT = 3.0

_MEMBER_COLUMNS = (
    "id",
    "member_no",
    "phone_hash",
    "phone_last4",
    "phone_hint",
    "phone_mask_sealed",
    "name",
    "birthday",
    "tier",
    "tier_since",
    "referral_code",
    "referred_by",
    "registered_at",
    "registered_store",
    "first_purchase_at",
    "birthday_gift_year",
    "balance",
    "last_seen_at",
    "snapshot_seq",
)
_INSERT_MEMBERS = (
    f"INSERT INTO members ({', '.join(_MEMBER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_MEMBER_COLUMNS))})"
)
# A member the till holds with nothing to keep (a stub, a zero balance) takes HQ's row.
_UPSERT_MEMBERS = f"{_INSERT_MEMBERS} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in _MEMBER_COLUMNS[1:]
)
_COUPON_COLUMNS = (
    "id",
    "code",
    "member_id",
    "name",
    "amount_off_fen",
    "percent_off",
    "min_order_fen",
    "valid_from",
    "valid_to",
    "issued_at",
    "source",
)
_UPSERT_COUPONS = (
    f"INSERT INTO coupons ({', '.join(_COUPON_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_COUPON_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COUPON_COLUMNS[1:])
)
_INSERT_LOTS = (
    "INSERT INTO point_lots (id, member_id, points, remaining, earned_at, expires_on) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (id, member_id, kind, points, created_at, sale_id, refund_id, "
    "rule_set_version, actor_id, reason, detail) VALUES (?, ?, 'opening', ?, ?, NULL, NULL, ?, "
    "'@hq', 'snapshot', ?)"
)


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


#: The order of a lot's values in the snapshot stream (its header says the same).
LOT_FIELDS = ("id", "points", "remaining", "earned_at", "expires_on")


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
        member["coupons"] = [dict(zip(coupon_fields, c, strict=True)) for c in member["coupons"]]
    return member


def _lot_values(lot: Mapping[str, Any] | Sequence[Any]) -> Sequence[Any]:
    """A lot of a snapshot (an object, or an array in :data:`LOT_FIELDS` order) as its
    values in that order."""
    if isinstance(lot, Mapping):
        return [lot.get(field) for field in LOT_FIELDS]
    return lot


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
        raw.execute(session, "PRAGMA defer_foreign_keys = ON")  # referrers come later

    def apply(self, snapshots: Sequence[Mapping[str, Any]]) -> None:
        """Apply ``snapshots`` (members as :func:`member_snapshot` makes them)."""
        known = self._known([str(m["id"]) for m in snapshots])
        unsent = self.applier.unsent_points()
        fast: list[Mapping[str, Any]] = []
        careful: list[Mapping[str, Any]] = []
        for m in snapshots:
            held = known.get(str(m["id"]))
            if held is not None and held[1] is not None and held[1] >= int(m["as_of"]):
                self.skipped += 1
            elif held is None or (held[0] == 0 and m["id"] not in unsent):
                fast.append(m)  # nothing of it here to keep: written as HQ has it
            else:
                careful.append(m)
        self.applied += len(fast) + len(careful)
        careful += self._bulk_or_split(fast, set(known))
        for m in careful:
            self._one(m, held=str(m["id"]) in known)
            for coupon in m.get("coupons") or ():
                self.applier.apply_coupon(coupon)
        self._referrers([m for m in snapshots if m.get("referred_by")])

    def coupons(self, coupons: Sequence[Mapping[str, Any]]) -> None:
        """Bearer coupons (a first sync's): one statement, or one by one when a code
        is another coupon's here."""
        rows = [_coupon_row(c) for c in coupons]
        conn = raw.dbapi(self.session)
        conn.execute("SAVEPOINT snapshot_coupons")
        try:
            raw.executemany(self.session, _UPSERT_COUPONS, rows)
        except IntegrityError:
            conn.execute("ROLLBACK TO snapshot_coupons")
            for coupon in coupons:
                self.applier.apply_coupon(coupon)
        conn.execute("RELEASE snapshot_coupons")

    def _known(self, ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        """(balance, snapshot_seq) of the members of ``ids`` the till holds."""
        found: dict[str, tuple[int, int | None]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = (
                "SELECT id, balance, snapshot_seq FROM members "
                f"WHERE id IN ({', '.join('?' * len(chunk))})"
            )
            for member_id, balance, seq in raw.execute(self.session, sql, chunk):
                found[member_id] = (int(balance), seq)
        return found

    def _bulk_or_split(
        self, snapshots: Sequence[Mapping[str, Any]], held: set[str]
    ) -> list[Mapping[str, Any]]:
        """Write ``snapshots`` in bulk; when a phone, number or code clashes with a row
        here, in halves, down to the members that clash. Returns those: they take the
        per-member path."""
        if not snapshots or self._bulk(snapshots, held):
            return []
        if len(snapshots) == 1:
            return list(snapshots)
        half = len(snapshots) // 2
        return self._bulk_or_split(snapshots[:half], held) + self._bulk_or_split(
            snapshots[half:], held
        )

    def _bulk(self, snapshots: Sequence[Mapping[str, Any]], held: set[str]) -> bool:
        """Write members (``held``: rows here to replace), lots and opening entries with
        one statement per table; False (and nothing written) when a unique value
        clashes with another row."""
        rules = self.ctx.rules
        now = to_db_time(self._now)
        members: list[tuple[Any, ...]] = []
        replaced: list[tuple[Any, ...]] = []
        lots: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        coupons: list[Mapping[str, Any]] = []
        for m in snapshots:
            member_id, as_of, balance = str(m["id"]), int(m["as_of"]), int(m["balance"])
            (replaced if member_id in held else members).append(self._member_row(m))
            coupons += m.get("coupons") or ()
            for i, lot in enumerate(m.get("lots") or ()):
                _id, points, remaining, earned_at, expires_on = _lot_values(lot)
                lots.append(
                    (
                        opening_lot_id(member_id, as_of, i),
                        member_id,
                        int(points),
                        int(remaining),
                        till_time(earned_at) or now,
                        expires_on,
                    )
                )
            if balance:
                detail = f'{{"as_of": {as_of}, "origin": "hq"}}'
                entries.append(
                    (
                        opening_entry_id(member_id, as_of),
                        member_id,
                        balance,
                        now,
                        rules.version,
                        detail,
                    )
                )
        # Only the member rows can clash (a phone, number or code of another row here),
        # so only they are written under a savepoint: on SQLCipher, inserting into a
        # table with triggers (ledger_entries) under a savepoint costs ten times more.
        conn = raw.dbapi(self.session)
        conn.execute("SAVEPOINT member_snapshots")
        try:
            raw.executemany(self.session, _INSERT_MEMBERS, members)
            raw.executemany(self.session, _UPSERT_MEMBERS, replaced)
        except IntegrityError:
            conn.execute("ROLLBACK TO member_snapshots")
            conn.execute("RELEASE member_snapshots")
            return False
        conn.execute("RELEASE member_snapshots")
        # lot and entry ids are made of (member, as_of): new for every member written
        raw.executemany(self.session, _INSERT_LOTS, lots)
        raw.executemany(self.session, _INSERT_ENTRIES, entries)
        if coupons:
            self.coupons(coupons)
        written = {row[0] for row in replaced}
        for obj in list(self.session.identity_map.values()):  # rows written under the ORM
            if isinstance(obj, Member) and obj.id in written:
                self.session.expire(obj)
        return True

    def _member_row(self, m: Mapping[str, Any]) -> tuple[Any, ...]:
        member_id = str(m["id"])
        alias = bool(m.get("alias_of"))
        number = m.get("member_no")
        if not (isinstance(number, int) and 0 < number < 10**10):
            number = stub_member_no(member_id)  # taken already: the per-member path
        registered = till_time(m.get("registered_at")) or to_db_time(self._now)
        tier = m.get("tier")
        referred_by = m.get("referred_by")
        last4 = "" if alias else str(m.get("phone_last4") or "")
        masked = str(m.get("phone_masked") or "")
        return (
            member_id,
            number,
            _placeholder_hash(member_id) if alias else bytes.fromhex(str(m["phone_hash"])),
            last4,
            self._phone.hint_of_mask(masked, last4),  # sealed and hinted as the ORM does
            self._phone.masks.seal(masked),
            str(m.get("name") or ""),
            m.get("birthday") or None,
            tier if tier in self._tiers else self._tiers[0],
            till_time(m.get("tier_since")) or registered,
            m.get("referral_code") or stub_referral_code(member_id),
            referred_by if referred_by and referred_by != member_id else None,
            registered,
            str(m.get("registered_store") or ""),
            till_time(m.get("first_purchase_at")),
            m.get("birthday_gift_year"),
            int(m["balance"]),
            registered,
            int(m["as_of"]),
        )

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

    def _referrers(self, referred: Sequence[Mapping[str, Any]]) -> None:
        """Referrers the till does not hold yet become stubs (placeholder phone, number
        and code), filled in when their own snapshot comes."""
        wanted = sorted({str(m["referred_by"]) for m in referred})
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
        raw.executemany(self.session, _INSERT_MEMBERS, rows)
        for r in one_by_one:
            self.applier.member(r, self._now)

    def _taken(self, column: str, values: Sequence[Any]) -> set[Any]:
        found: set[Any] = set()
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            sql = f"SELECT {column} FROM members WHERE {column} IN ({', '.join('?' * len(chunk))})"
            found |= {value for (value,) in raw.execute(self.session, sql, chunk)}
        return found


# -- the first sync ------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotProgress:
    """How far a first sync is.

    Attributes:
        members: Members applied so far.
        total: Members in the region's scope (HQ's count when the part began).
    """

    members: int
    total: int


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

    def in_progress(self) -> bool:
        """A first sync was begun and not finished."""
        with self.ctx.db.read() as session:
            return repo.get_setting(session, SETTING_SNAPSHOT_CURSOR) is not None

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
                    cursor = repo.get_setting(session, key) or ""
                return SnapshotResult(finished, done, cursor, parts)
        finally:
            self._usual_cache()

    def _usual_cache(self) -> None:
        """Give the load's page cache back (on the writer connection, the one a load's
        transactions use while nothing else writes)."""
        try:
            with self.ctx.db.write() as session:
                raw.execute(session, f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        except Exception:  # the load's own error matters more
            log.exception("could not give the first sync's page cache back")

    def _state(self) -> tuple[str | None, str, int]:
        with self.ctx.db.read() as session:
            cursor = repo.get_setting(session, SETTING_SNAPSHOT_CURSOR)
            after = repo.get_setting(session, SETTING_SNAPSHOT_AFTER) or ""
            done = int(repo.get_setting(session, SETTING_SNAPSHOT_DONE) or 0)
        return cursor, after, done

    def _load_part(self, stop: threading.Event | None) -> tuple[bool, int]:
        """One request: apply what it brings. Returns (the end line was applied, members
        applied so far)."""
        first_cursor, after, done = self._state()
        lines = self.client.snapshot(after)
        try:
            header = _header(lines)
            cursor = first_cursor or str(header["cursor"])
            total = int(header.get("total") or 0)
            fields = (header["member_fields"], header["lot_fields"], header["coupon_fields"])
            published: list[Mapping[str, Any]] = []
            batch: list[dict[str, Any]] = []
            for line in lines:
                if not line.strip():
                    continue
                value = _json(line)
                if isinstance(value, list):
                    batch.append(member_snapshot(fields[0], value, fields[1], fields[2]))
                    if len(batch) >= self.batch:
                        done = self._commit(cursor, header, published, batch, done, total)
                        published, batch = [], []
                        if stop is not None and stop.is_set():
                            return False, done
                elif value.get("type") == "end":
                    done = self._commit(cursor, header, published, batch, done, total, end=True)
                    return True, done
                else:
                    published.append(value)
            raise HQUnavailable("the snapshot stream ended without its end line")
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()

    def _commit(
        self,
        cursor: str,
        header: Mapping[str, Any],
        published: Sequence[Mapping[str, Any]],
        batch: Sequence[Mapping[str, Any]],
        done: int,
        total: int,
        *,
        end: bool = False,
    ) -> int:
        """Apply one transaction's worth and record how far the snapshot got."""
        with self.ctx.db.write() as session:
            raw.execute(session, f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
            applier = PullApplier(self.ctx, session)
            whole = SnapshotApplier(self.ctx, session, applier)
            coupons = [i["data"] for i in published if i.get("type") == "coupon"]
            applier.apply_all(
                [
                    {"seq": 0, "topic": i.get("type"), "data": i.get("data")}
                    for i in published
                    if i.get("type") != "coupon"
                ]
            )
            whole.coupons(coupons)
            whole.apply(batch)
            done += len(batch)
            if end:
                repo.put_setting(session, SETTING_CURSOR, cursor)
                repo.put_setting(session, SETTING_REGION, str(header.get("region") or ""))
                for key in SNAPSHOT_SETTINGS:
                    row = session.get(Setting, key)
                    if row is not None:
                        session.delete(row)
            else:
                repo.put_setting(session, SETTING_SNAPSHOT_CURSOR, cursor)
                if batch:
                    repo.put_setting(session, SETTING_SNAPSHOT_AFTER, str(batch[-1]["id"]))
                repo.put_setting(session, SETTING_SNAPSHOT_DONE, str(done))
                repo.put_setting(session, SETTING_SNAPSHOT_TOTAL, str(total))
        applier.after_commit()
        if self.on_progress is not None:
            self.on_progress(SnapshotProgress(done, max(total, done)))
        return done


def _json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
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
