"""Loading a chain's existing members from a legacy system (``pos-hq import-members``).

A CSV file (UTF-8, header row) is read and checked row by row in Python (phone numbers
with ``phonenumbers``, as the till does), then staged in a temporary table (``COPY`` on
PostgreSQL, ``executemany`` on the SQLite demo) and checked against HQ set-wise (phone
already a member, member number taken, unknown store). The good rows become members, and
an opening balance becomes an ``adjust`` entry (reason ``import``) with its lot, by
``INSERT ... SELECT`` in one transaction holding HQ's writer lock: the new rows' change
numbers are assigned set-wise and the counter advances once.

Ids are derived from the file's SHA-256 and the row's line number, so the same file
loaded again finds its rows already there and writes nothing. By default a single bad
row means nothing is written; ``skip_bad`` loads the good rows. The report names rows by
line number and never shows a full phone number (``138****1234``) or a name.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from pos_app.core.calendar import local_date
from pos_app.core.errors import InvalidInput
from pos_app.core.lots import expiry_for
from pos_app.core.privacy import last4, mask_national, normalize_phone_parts, phone_hash
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import last_review_date
from pos_app.hq import audit
from pos_app.hq.database import PHONE_KEY, HQDatabase
from pos_app.hq.errors import NotFound
from pos_app.hq.ledger import active_rules
from pos_app.hq.models import (
    LedgerEntry,
    Member,
    MemberNumber,
    MemberPhone,
    PointLot,
    Setting,
    Store,
    UTCDateTime,
)
from pos_app.hq.scopes import add_registered_scopes
from pos_app.hq.security import derived_id

log = logging.getLogger(__name__)

COLUMNS = (
    "phone",
    "name",
    "birthday",
    "store",
    "member_no",
    "registered_at",
    "points",
    "points_expire_on",
)
NAME_MAX = 64
MEMBER_NO_MAX = 10**10 - 1  # the till's member card code holds ten digits
POINTS_MAX = 10**12
IMPORT_CHANNEL = "import"
IMPORT_REASON = "import"
REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT_RE = re.compile(r"[+-]?\d+")
_EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, header): no row was looked at."""


@dataclass(frozen=True, order=True)
class RowProblem:
    """Why one row of the file cannot be loaded.

    Attributes:
        line: Line of the file the row starts on (the header is line 1).
        field: The column at fault (``row`` for the row as a whole).
        message: What is wrong, without the phone number or the name.
    """

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class StagedRow(NamedTuple):
    """A row that passed the file's own checks, in the staging table's column order."""

    line: int
    member_id: str
    entry_id: str | None
    member_no: int | None
    phone_hash: bytes
    phone_last4: str
    phone_masked: str
    name: str
    birthday: dt.date | None
    store: str
    registered_at: dt.datetime
    points: int
    expires_on: dt.date | None
    referral_code: str


@dataclass
class ParsedFile:
    """What the file's own checks found.

    Attributes:
        sha256: Hex SHA-256 of the file's bytes (ids are derived from it).
        total: Data rows in the file.
        rows: Rows without a problem of their own.
        problems: Problems of the other rows.
    """

    sha256: str
    total: int
    rows: list[StagedRow]
    problems: list[RowProblem]


@dataclass
class ImportReport:
    """The outcome of an import (or of a dry run).

    Attributes:
        loaded: Members written (or, in a dry run, that would be).
        already_loaded: Rows this file loaded before (left as they are).
        opening_points: Points of the opening balances written (or that would be).
        written: True when the rows were committed.
        seconds: Time taken by each phase.
    """

    source: str
    sha256: str
    total: int
    dry_run: bool
    skip_bad: bool
    loaded: int = 0
    already_loaded: int = 0
    opening_points: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    written: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def bad_rows(self) -> int:
        """Rows with at least one problem."""
        return len({p.line for p in self.problems})

    @property
    def exit_code(self) -> int:
        """0 when the import did (or would do) what was asked, 1 when bad rows stopped it."""
        return 1 if self.problems and not self.skip_bad else 0

    def lines(self) -> list[str]:
        """The report as text lines (no phone number in full, no name)."""
        out = [f"import-members {self.source} (sha256 {self.sha256[:16]})"]
        out += [f"  {p}" for p in self.problems]
        counts: dict[str, int] = defaultdict(int)
        for p in self.problems:
            counts[p.field] += 1
        if counts:
            out.append("  problems: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        verb = "would load" if self.dry_run or not self.written else "loaded"
        out.append(
            f"rows {self.total}: {verb} {self.loaded} (opening points {self.opening_points}), "
            f"already loaded {self.already_loaded}, bad {self.bad_rows}"
        )
        out.append(self._verdict())
        out.append("time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items()))
        return out

    def _verdict(self) -> str:
        if self.dry_run:
            return "dry run: nothing was written"
        if self.written:
            skipped = f"; {self.bad_rows} bad rows skipped" if self.problems else ""
            return f"written in one transaction{skipped}"
        if self.problems and not self.skip_bad:
            return "nothing was written: fix the rows above, or load the good ones with --skip-bad"
        return "nothing to write"


@dataclass(frozen=True)
class _Context:
    """What parsing a row needs from HQ."""

    key: bytes
    zone: ZoneInfo
    now: dt.datetime
    today: dt.date
    default_store: str | None
    sha256: str


# -- the file's own checks -------------------------------------------------------------


def referral_code_for(member_id: str) -> str:
    """A referral code derived from the member id (8 characters, as the till's)."""
    digest = hashlib.sha256(f"referral:{member_id}".encode()).digest()
    return "".join(REFERRAL_ALPHABET[b % len(REFERRAL_ALPHABET)] for b in digest[:8])


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"the file is not UTF-8 (byte {exc.start}): save it as 'CSV UTF-8'"
        ) from None


def _header(record: Sequence[str]) -> list[str]:
    names = [name.strip().lower() for name in record]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are "
            + ", ".join(COLUMNS)
        )
    if len(set(names)) != len(names):
        raise ImportFileError("a column appears twice in the header")
    if "phone" not in names:
        raise ImportFileError("the header has no 'phone' column")
    return names


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of every non-blank record, the header first."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                yield line, record
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def _date(raw: str, column: str, line: int, problems: list[RowProblem]) -> dt.date | None:
    if not _DATE_RE.fullmatch(raw):
        problems.append(RowProblem(line, column, "not a date (YYYY-MM-DD)"))
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        problems.append(RowProblem(line, column, "not a date (no such day)"))
        return None


def _birthday(raw: str, ctx: _Context, line: int, problems: list[RowProblem]) -> dt.date | None:
    day = _date(raw, "birthday", line, problems) if raw else None
    if day is not None and not _EARLIEST_BIRTHDAY <= day <= ctx.today:
        problems.append(RowProblem(line, "birthday", "not a plausible birthday"))
        return None
    return day


def _registered_at(raw: str, ctx: _Context, line: int, problems: list[RowProblem]) -> dt.datetime:
    if not raw:
        return ctx.now
    try:
        at = dt.datetime.fromisoformat(raw)
    except ValueError:
        problems.append(RowProblem(line, "registered_at", f"{raw!r} is not an ISO date-time"))
        return ctx.now
    if at.utcoffset() is None:
        at = at.replace(tzinfo=ctx.zone)
    if at > ctx.now:
        problems.append(RowProblem(line, "registered_at", f"{raw!r} is in the future"))
    return at


def _integer(raw: str, column: str, line: int, problems: list[RowProblem]) -> int | None:
    if not _INT_RE.fullmatch(raw):
        problems.append(RowProblem(line, column, f"{raw[:20]!r} is not a whole number"))
        return None
    return int(raw)


def _member_no(raw: str, line: int, problems: list[RowProblem]) -> int | None:
    number = _integer(raw, "member_no", line, problems) if raw else None
    if number is not None and not 1 <= number <= MEMBER_NO_MAX:
        problems.append(RowProblem(line, "member_no", f"{number} is not 1 to {MEMBER_NO_MAX}"))
        return None
    return number


def _points(raw: str, line: int, problems: list[RowProblem]) -> int:
    points = _integer(raw, "points", line, problems) if raw else 0
    if points is None:
        return 0
    if points < 0:
        problems.append(RowProblem(line, "points", f"negative ({points})"))
    elif points > POINTS_MAX:
        problems.append(RowProblem(line, "points", f"{points} is more than {POINTS_MAX}"))
    return points


def _expires_on(raw: str, ctx: _Context, line: int, problems: list[RowProblem]) -> dt.date | None:
    day = _date(raw, "points_expire_on", line, problems) if raw else None
    if day is not None and day < ctx.today:
        problems.append(RowProblem(line, "points_expire_on", f"{day} has passed"))
    return day


def _phone(raw: str, line: int, problems: list[RowProblem]) -> tuple[str, str] | None:
    """(E.164, masked) of the row's phone, or None (a problem recorded)."""
    if not raw:
        problems.append(RowProblem(line, "phone", "empty"))
        return None
    try:
        e164, national = normalize_phone_parts(raw)
        return e164, mask_national(national)
    except InvalidInput:
        problems.append(RowProblem(line, "phone", "not a valid mobile phone number"))
        return None


def _parse_row(
    line: int, cells: dict[str, str], ctx: _Context, problems: list[RowProblem]
) -> StagedRow | None:
    """The row as staged, or None when its phone is unusable (``problems`` filled)."""
    phone = _phone(cells.get("phone", ""), line, problems)
    e164, masked = phone or ("", "")
    name = cells.get("name", "")
    if len(name) > NAME_MAX:
        problems.append(RowProblem(line, "name", f"longer than {NAME_MAX} characters"))
    store = cells.get("store", "") or ctx.default_store
    if not store:
        problems.append(RowProblem(line, "store", "empty, and no --default-store given"))
    points = _points(cells.get("points", ""), line, problems)
    member_id = derived_id("member-import", ctx.sha256, str(line), prefix="imp")
    staged = StagedRow(
        line=line,
        member_id=member_id,
        entry_id=(
            derived_id("member-import", ctx.sha256, str(line), "opening", prefix="imp")
            if points > 0
            else None
        ),
        member_no=_member_no(cells.get("member_no", ""), line, problems),
        phone_hash=phone_hash(e164, ctx.key) if e164 else b"",
        phone_last4=last4(e164) if e164 else "",
        phone_masked=masked,
        name=name,
        birthday=_birthday(cells.get("birthday", ""), ctx, line, problems),
        store=store or "",
        registered_at=_registered_at(cells.get("registered_at", ""), ctx, line, problems),
        points=points,
        expires_on=_expires_on(cells.get("points_expire_on", ""), ctx, line, problems),
        referral_code=referral_code_for(member_id),
    )
    return staged if phone else None


def _duplicates(rows: Iterable[StagedRow], key: str, what: str, problems: list[RowProblem]) -> None:
    """A problem on every row sharing ``key`` with another row of the file."""
    lines: dict[Any, list[StagedRow]] = defaultdict(list)
    for row in rows:
        value = getattr(row, key)
        if value is not None:
            lines[value].append(row)
    for same in lines.values():
        if len(same) < 2:
            continue
        where = ", ".join(str(r.line) for r in same[:10]) + (" ..." if len(same) > 10 else "")
        label = same[0].phone_masked if key == "phone_hash" else same[0].member_no
        for row in same:
            problems.append(RowProblem(row.line, what, f"{label} is on lines {where}"))


def parse_members_csv(data: bytes, ctx: _Context) -> ParsedFile:
    """Read and check the file on its own (no database): every row's fields, and phone
    numbers and member numbers that appear twice.

    Raises:
        ImportFileError: not UTF-8, not CSV, or a header HQ does not understand.
    """
    records = _records(_decode(data))
    first = next(records, None)
    if first is None:
        raise ImportFileError("the file is empty: it needs a header row")
    names = _header(first[1])
    problems: list[RowProblem] = []
    candidates: list[StagedRow] = []
    total = 0
    for line, record in records:
        total += 1
        if len(record) != len(names):
            problems.append(
                RowProblem(line, "row", f"{len(record)} fields; the header has {len(names)}")
            )
            continue
        cells = {name: value.strip() for name, value in zip(names, record, strict=True)}
        staged = _parse_row(line, cells, ctx, problems)
        if staged is not None:
            candidates.append(staged)
    _duplicates(candidates, "phone_hash", "phone", problems)
    _duplicates(candidates, "member_no", "member_no", problems)
    bad = {p.line for p in problems}
    rows = [row for row in candidates if row.line not in bad]
    return ParsedFile(ctx.sha256, total, rows, sorted(problems))


# -- staging and HQ's checks -----------------------------------------------------------

_staging_meta = MetaData()
STAGING = Table(
    "member_import",
    _staging_meta,
    Column("line", Integer, primary_key=True),
    Column("member_id", String(64)),
    Column("entry_id", String(64)),
    Column("member_no", BigInteger),
    Column("phone_hash", LargeBinary),
    Column("phone_last4", String(4)),
    Column("phone_masked", String(20)),
    Column("name", String(NAME_MAX)),
    Column("birthday", Date),
    Column("store", String),
    Column("registered_at", UTCDateTime),
    Column("points", BigInteger),
    Column("expires_on", Date),
    Column("referral_code", String(16)),
    Column("state", String(8)),  # NULL: to load; "loaded": this file's row is at HQ; "bad"
    prefixes=["TEMPORARY"],
)
_COPY_TYPES = (
    "int4",
    "text",
    "text",
    "int8",
    "bytea",
    "text",
    "text",
    "text",
    "date",
    "text",
    "timestamptz",
    "int8",
    "date",
    "text",
)


def _stage(session: Session, rows: Sequence[StagedRow]) -> None:
    """Create the staging table and fill it: ``COPY`` on PostgreSQL."""
    conn = session.connection()
    STAGING.create(conn)
    names = StagedRow._fields
    if conn.dialect.name != "postgresql":
        if rows:
            session.execute(insert(STAGING), [row._asdict() for row in rows])
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    statement = f"COPY member_import ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(_COPY_TYPES)
        for row in rows:
            copy.write_row(row)
    conn.exec_driver_sql("ANALYZE member_import")  # temporary tables are never auto-analysed


def _check_against_hq(session: Session) -> list[RowProblem]:
    """Mark staged rows already loaded by this file, and rows HQ refuses; their problems."""
    st, m = STAGING, Member.__table__
    session.execute(
        update(STAGING).where(exists().where(m.c.id == st.c.member_id)).values(state="loaded")
    )
    phones, numbers = MemberPhone.__table__.c, MemberNumber.__table__.c
    phone_taken = exists().where(phones.phone_hash == st.c.phone_hash)
    no_taken = and_(
        st.c.member_no.is_not(None), exists().where(numbers.member_no == st.c.member_no)
    )
    store_unknown = ~exists().where(Store.__table__.c.code == st.c.store)
    refused = or_(phone_taken, no_taken, store_unknown)
    marked = session.execute(
        select(
            st.c.line,
            st.c.phone_masked,
            st.c.member_no,
            st.c.store,
            phone_taken,
            no_taken,
            store_unknown,
        ).where(st.c.state.is_(None), refused)
    ).all()
    if marked:  # (RETURNING would do it in one pass, but SQLite loses the correlation)
        session.execute(update(STAGING).where(st.c.state.is_(None), refused).values(state="bad"))
    problems = []
    for line, masked, member_no, store, phone, number, unknown in marked:
        if phone:
            problems.append(RowProblem(line, "phone", f"{masked} is already a member at HQ"))
        if number:
            problems.append(RowProblem(line, "member_no", f"{member_no} is another member's at HQ"))
        if unknown:
            problems.append(RowProblem(line, "store", f"{store[:20]!r} is not a store at HQ"))
    return problems


# -- writing -----------------------------------------------------------------------------


def _count(session: Session, *where: Any) -> int:
    return int(
        session.execute(select(func.count()).select_from(STAGING).where(*where)).scalar_one()
    )


def _insert_members(session: Session, rules: RuleSet, now: dt.datetime, start: int) -> None:
    """The staged rows to load as members, numbered ``start + 1``... in line order."""
    st = STAGING
    review = last_review_date(rules, local_date(rules, now))
    stamp = literal(now, UTCDateTime())
    columns = {
        "id": st.c.member_id,
        "member_no": st.c.member_no,
        "phone_hash": st.c.phone_hash,
        "phone_last4": st.c.phone_last4,
        "phone_masked": st.c.phone_masked,
        "name": st.c.name,
        "birthday": st.c.birthday,
        "tier": literal(rules.tier_codes()[0]),
        "tier_since": st.c.registered_at,
        "last_review": literal(review, Date()),
        "referral_code": st.c.referral_code,
        "registered_at": st.c.registered_at,
        "registered_channel": literal(IMPORT_CHANNEL),
        "registered_store": st.c.store,
        "balance": st.c.points,
        "received_at": stamp,
        "updated_at": stamp,
        "seq": literal(start, BigInteger()) + func.row_number().over(order_by=st.c.member_id),
    }
    query = select(*(value.label(name) for name, value in columns.items()))
    query = query.where(st.c.state.is_(None)).order_by(st.c.member_id)
    session.execute(insert(Member).from_select(list(columns), query))
    loaded = st.c.state.is_(None)
    session.execute(
        insert(MemberPhone).from_select(
            ["phone_hash", "member_id"], select(st.c.phone_hash, st.c.member_id).where(loaded)
        )
    )
    session.execute(
        insert(MemberNumber).from_select(
            ["member_no", "member_id"],
            select(st.c.member_no, st.c.member_id).where(loaded, st.c.member_no.is_not(None)),
        )
    )


def _insert_openings(session: Session, rules: RuleSet, now: dt.datetime, start: int) -> int:
    """Opening balances: an ``adjust`` entry (reason ``import``) and its lot (the lot's
    row records the credit; no lot move)."""
    st = STAGING
    opening = and_(st.c.state.is_(None), st.c.points > 0)
    count = _count(session, opening)
    if not count:
        return 0
    stamp = literal(now, UTCDateTime())
    entry = {
        "id": st.c.entry_id,
        "member_id": st.c.member_id,
        "member_ref": st.c.member_id,
        "kind": literal("adjust"),
        "points": st.c.points,
        "created_at": stamp,
        "received_at": stamp,
        "source_channel": literal("hq"),
        "in_origin_ledger": literal(False),
        "reason": literal(IMPORT_REASON),
        "seq": literal(start, BigInteger()) + func.row_number().over(order_by=st.c.entry_id),
    }
    lot_id = st.c.entry_id + ".0"
    lot = {
        "id": lot_id,
        "member_id": st.c.member_id,
        "entry_id": st.c.entry_id,
        "points": st.c.points,
        "remaining": st.c.points,
        "earned_at": stamp,
        "expires_on": func.coalesce(st.c.expires_on, literal(expiry_for(rules, now), Date())),
    }
    for model, columns in ((LedgerEntry, entry), (PointLot, lot)):
        query = select(*(value.label(name) for name, value in columns.items()))
        query = query.where(opening).order_by(st.c.entry_id)
        session.execute(insert(model).from_select(list(columns), query))
    return count


def _opening_points(session: Session) -> int:
    st = STAGING
    total = session.execute(
        select(func.coalesce(func.sum(st.c.points), 0)).where(st.c.state.is_(None))
    ).scalar_one()
    return int(total)


# -- the whole import --------------------------------------------------------------------


class _Discard(Exception):
    """Leave the transaction without writing (dry run, or bad rows without skip_bad)."""


def _context(
    db: HQDatabase, data: bytes, default_store: str | None, now: dt.datetime
) -> tuple[_Context, RuleSet]:
    with db.read() as s:
        key = s.get(Setting, PHONE_KEY)
        if key is None:
            raise RuntimeError("HQ has no phone-hash key: run `pos-hq migrate`")
        key_hex = key.value
        if default_store is not None and s.get(Store, default_store) is None:
            raise NotFound(f"--default-store {default_store!r} is not a store at HQ")
        rules = active_rules(s)
    ctx = _Context(
        key=bytes.fromhex(key_hex),
        zone=rules.zone,
        now=now,
        today=local_date(rules, now),
        default_store=default_store,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return ctx, rules


def import_members(
    db: HQDatabase,
    data: bytes,
    *,
    now: dt.datetime,
    source: str = "members.csv",
    default_store: str | None = None,
    dry_run: bool = False,
    skip_bad: bool = False,
    actor: str = audit.SYSTEM_ACTOR,
) -> ImportReport:
    """Check ``data`` (a CSV file's bytes) and load its members into HQ.

    Nothing is written when a row is bad (unless ``skip_bad``) or in a ``dry_run``; the
    checks against HQ run either way. Loading the same file again writes nothing more.
    A load is recorded in HQ's audit trail under ``actor``.

    Raises:
        ImportFileError: the file cannot be read as a member list.
        NotFound: ``default_store`` is not a store at HQ.
    """
    clock = time.perf_counter()
    ctx, rules = _context(db, data, default_store, now)
    parsed = parse_members_csv(data, ctx)
    report = ImportReport(source, parsed.sha256, parsed.total, dry_run, skip_bad)
    report.problems = parsed.problems
    report.seconds["read"] = time.perf_counter() - clock
    session_of: AbstractContextManager[Session] = db.read() if dry_run else db.write()
    try:
        with session_of as session:
            _load(session, parsed, rules, now, report, actor)
    except _Discard:
        pass
    report.seconds["total"] = time.perf_counter() - clock
    log.info(
        "import-members %s: %d rows, %d loaded, %d already loaded, %d bad, written=%s",
        parsed.sha256[:16],
        report.total,
        report.loaded,
        report.already_loaded,
        report.bad_rows,
        report.written,
    )
    return report


def _load(
    session: Session,
    parsed: ParsedFile,
    rules: RuleSet,
    now: dt.datetime,
    report: ImportReport,
    actor: str,
) -> None:
    """Stage, check against HQ and (unless told otherwise) write, in ``session``."""
    clock = time.perf_counter()
    _stage(session, parsed.rows)
    report.seconds["stage"] = time.perf_counter() - clock
    clock = time.perf_counter()
    report.problems = sorted(report.problems + _check_against_hq(session))
    report.already_loaded = _count(session, STAGING.c.state == "loaded")
    report.seconds["check"] = time.perf_counter() - clock
    report.loaded = _count(session, STAGING.c.state.is_(None))
    report.opening_points = _opening_points(session)
    if report.dry_run or (report.problems and not report.skip_bad):
        raise _Discard
    if not report.loaded:
        raise _Discard  # nothing new: leave HQ untouched
    clock = time.perf_counter()
    start = int(session.info["hq_seq"])
    _insert_members(session, rules, now, start)
    entries = _insert_openings(session, rules, now, start + report.loaded)
    loaded = select(STAGING.c.member_id).where(STAGING.c.state.is_(None))
    scoped = add_registered_scopes(session, loaded, start + report.loaded + entries, now)
    session.info["hq_seq"] = start + report.loaded + entries + scoped  # write() advances it
    STAGING.drop(session.connection())
    audit.record(
        session,
        now,
        actor,
        "members.import",
        None,
        sha256=parsed.sha256,
        loaded=report.loaded,
        opening_points=report.opening_points,
    )
    report.written = True
    report.seconds["write"] = time.perf_counter() - clock


__all__ = [
    "COLUMNS",
    "ImportFileError",
    "ImportReport",
    "ParsedFile",
    "RowProblem",
    "StagedRow",
    "import_members",
    "parse_members_csv",
    "referral_code_for",
]
