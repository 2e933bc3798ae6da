"""Pulling HQ's changes and applying them to the till.

A till with no cursor yet (its first sync, or again after HQ was restored from a
backup) loads HQ's snapshot of its region first (:mod:`pos_app.services.sync.snapshot`)
and pulls from the snapshot's cursor. The cursor is HQ's opaque text: stored, sent
back, never computed with.

Changes come back by cursor in pages; each page is applied in ONE SQLite transaction
together with the new cursor, so an interrupted pull resumes at the last page it
committed and a page applied twice changes nothing the second time. A member entering
the till's region comes whole (``member_snapshot``); a member's row or entry numbered at
or below its snapshot's ``as_of`` is in the snapshot already and skipped. Ledger entries
keep their HQ ids and move lots and the cached balance the way
:func:`pos_app.services.ledger.post_points` does (a debit the lots cannot cover becomes
debt, as at HQ), so every balance stays equal to its ledger sum. Members, rule set
versions, products, mall items and coupons are upserted.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from pos_app.core.calendar import local_date
from pos_app.core.front import SECTIONS
from pos_app.core.lots import expiry_for, take_up_to
from pos_app.core.privacy import placeholder_phone_hash
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.services.context import TillContext
from pos_app.services.ledger import ENTRY_KINDS, NO_FLOOR, post_points
from pos_app.services.sync.client import SETTING_CURSOR, HQAuthError, HQClient, HQResponseError
from pos_app.store import catalog, outbox
from pos_app.store import ledger as ledger_store
from pos_app.store import mall as mall_store
from pos_app.store import members as member_store
from pos_app.store import sales as sale_store
from pos_app.store.models import Member, RuleSetVersion
from pos_app.store.setting_keys import SYNC_RESTART_ROW
from pos_app.store.settings import delete_settings, get_setting, put_setting
from pos_app.store.types import new_id

log = logging.getLogger(__name__)

#: HQ gives at most 5000 changes per pull page.
MAX_PULL_PAGE = 5000

#: The last ledger row the till held when HQ said it was restored from a backup.
SETTING_RESTART_ROW = SYNC_RESTART_ROW.key


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncProgress:
    """Progress of a pull (a first sync loads thousands of members).

    Attributes:
        pages: Pages applied so far in this pull.
        changes: Changes applied so far in this pull.
        cursor: The cursor committed with the last page ("" during the snapshot).
        has_more: HQ has more after it.
        members: Members of the first-sync snapshot applied so far.
        members_total: Members in the snapshot (0 outside a first sync).
        stream_wait: Seconds the first sync's writes waited for the snapshot stream.
    """

    pages: int
    changes: int
    cursor: str
    has_more: bool
    members: int = 0
    members_total: int = 0
    stream_wait: float = 0.0


@dataclass(frozen=True)
class PullResult:
    """What one pull did.

    Attributes:
        pages: Pages applied.
        changes: Changes received.
        applied: Changes per topic that wrote something (a repeat writes nothing).
        cursor: The cursor afterwards ("" while the first-sync snapshot is unfinished).
        restarted: HQ said our cursor is ahead of it (a restored database): every event
            was marked unsent again and the till loaded HQ's snapshot again.
        mismatches: Members whose balance here, less the till's unsent points, differs
            from HQ's after the pull (the post-sync sanity check; should stay empty).
        problems: Changes that could not be applied as sent (recorded, not fatal).
    """

    pages: int = 0
    changes: int = 0
    applied: Mapping[str, int] = field(default_factory=dict)
    cursor: str = ""
    restarted: bool = False
    mismatches: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    snapshot_members: int = 0


# -- pulling ------------------------------------------------------------------------------


@dataclass
class _PullTally:
    """What a pull applied so far."""

    pages: int = 0
    changes: int = 0
    snapshot_members: int = 0
    applied: dict[str, int] = field(default_factory=dict)
    mismatches: dict[str, None] = field(default_factory=dict)  # ordered set
    problems: list[str] = field(default_factory=list)

    def add(self, applier: PullApplier, changes: int) -> None:
        """Count one applied page in (a member matched later is no mismatch)."""
        self.pages += 1
        self.changes += changes
        for topic, n in applier.applied.items():
            self.applied[topic] = self.applied.get(topic, 0) + n
        for member_id in applier.mismatches:
            self.mismatches[member_id] = None
        for member_id in applier.matched:
            self.mismatches.pop(member_id, None)
        self.problems += applier.problems

    def result(self, cursor: str, restarted: bool) -> PullResult:
        """The pull's result."""
        return PullResult(
            self.pages,
            self.changes,
            self.applied,
            cursor,
            restarted,
            tuple(self.mismatches),
            tuple(self.problems),
            self.snapshot_members,
        )


class ChangePuller:
    """The pull half of :class:`~pos_app.services.sync.session.SyncClient`.

    Attributes:
        ctx: The till.
        client: The HTTP client.
        pull_page: Changes per pull page.
        snapshot_batch: Members per transaction of a first-sync snapshot.
        on_progress: Called after every pull page (on the calling thread).
    """

    ctx: TillContext
    client: HQClient
    pull_page: int
    snapshot_batch: int
    on_progress: Callable[[SyncProgress], None] | None

    def cursor(self) -> str:
        """The stored pull cursor ("" before the first sync)."""
        with self.ctx.db.read() as session:
            return _stored_cursor(session)

    def pull(
        self, *, stop: threading.Event | None = None, max_pages: int | None = None
    ) -> PullResult:
        """Load the first-sync snapshot if the till has no cursor, then apply HQ's
        changes page by page until none are left.

        Raises:
            HQUnavailable: HQ went away (every page applied so far stays applied).
            HQAuthError: the token was refused.
        """
        from pos_app.services.sync.snapshot import SnapshotLoader  # it imports this module

        tally = _PullTally()
        restarted = False
        cursor = self.cursor()
        while (stop is None or not stop.is_set()) and (
            max_pages is None or tally.pages < max_pages
        ):
            if not cursor:
                loader = SnapshotLoader(
                    self.ctx, self.client, self._snapshot_progress, self.snapshot_batch
                )
                loaded = loader.load(stop)
                tally.snapshot_members = loaded.members
                if not loaded.finished:
                    break
                cursor = loaded.cursor
                continue
            page = self._fetch(cursor)
            if page is None:  # HQ was restored from a backup: start again
                cursor, restarted = "", True
                break
            items = list(page.get("changes") or ())
            next_cursor = str(page.get("next_cursor") or cursor)
            has_more = bool(page.get("has_more")) and next_cursor != cursor
            up_to = page.get("up_to") if has_more else None  # complete up to here
            applier, stored = self._apply_page(cursor, items, next_cursor, has_more, up_to)
            if applier is None:  # another sync of this till moved on: follow it
                cursor = stored
                continue
            applier.after_commit()
            tally.add(applier, len(items))
            cursor = next_cursor
            if self.on_progress is not None:
                self.on_progress(SyncProgress(tally.pages, tally.changes, cursor, has_more))
            if not has_more:
                break
        return tally.result(cursor, restarted)

    def _fetch(self, cursor: str) -> Mapping[str, Any] | None:
        """The page of changes after ``cursor``; None when HQ is behind the cursor (it
        was restored from a backup: the till sends every event again and takes the
        snapshot again, see :meth:`_start_again`).

        Raises:
            HQResponseError: any other refusal.
        """
        try:
            return self.client.pull(cursor, self.pull_page)
        except HQResponseError as exc:
            if exc.status != 409 or isinstance(exc, HQAuthError):
                raise
            log.warning(
                "HQ says cursor %s is ahead of it (restored from a backup): sending every "
                "event again, then loading HQ's snapshot again",
                cursor,
            )
            self._start_again()  # the caller pushes, then pulls: see SyncClient
            return None

    def _apply_page(
        self,
        cursor: str,
        items: Sequence[Mapping[str, Any]],
        next_cursor: str,
        has_more: bool,
        up_to: Any,
    ) -> tuple[PullApplier | None, str]:
        """Apply one page in one transaction and move the cursor past it; (None, the
        stored cursor) when another sync of this till moved the cursor meanwhile."""
        with self.ctx.db.write() as session:
            stored = _stored_cursor(session)
            if stored != cursor:
                return None, stored
            applier = PullApplier(self.ctx, session)
            applier.apply_all(items)
            if not has_more or isinstance(up_to, int):
                applier.check_balances(up_to=up_to)
            put_setting(session, SETTING_CURSOR, next_cursor)
        return applier, next_cursor

    def _snapshot_progress(self, progress: Any) -> None:
        if self.on_progress is not None:
            self.on_progress(
                SyncProgress(0, 0, "", True, progress.members, progress.total, progress.stream_wait)
            )

    def _start_again(self) -> None:
        """HQ was restored from a backup: send every event again (HQ replays what it
        kept and applies what it lost) and take HQ's snapshot again."""
        from pos_app.services.sync.snapshot import SNAPSHOT_SETTINGS

        with self.ctx.db.write() as session:
            put_setting(session, SETTING_CURSOR, "")
            last = ledger_store.last_entry_rowid(session)
            put_setting(session, SETTING_RESTART_ROW, str(last))
            delete_settings(session, SNAPSHOT_SETTINGS)
            member_store.forget_snapshot_marks(session)
            outbox.send_all_again(session, "HQ was restored: sending again")


def _stored_cursor(session: Session) -> str:
    return get_setting(session, SETTING_CURSOR) or ""


# -- applying pulled changes -------------------------------------------------------------


def _merged_from(d: Mapping[str, Any]) -> str:
    """The member a ``merge_in`` entry moved points from (HQ writes "merged from ID")."""
    return str(d.get("reason") or "").removeprefix("merged from ")


def featured_text(value: Any) -> str:
    """HQ's front-page picks of a pulled mall item as the till stores them (JSON section ->
    position); anything but a map of section names to whole positions is dropped."""
    if not isinstance(value, Mapping):
        return "{}"
    picks = {
        str(section): position
        for section, position in value.items()
        if section in SECTIONS
        and isinstance(position, int)
        and not isinstance(position, bool)
        and position >= 0
    }
    return json.dumps(picks, sort_keys=True)


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def _digest(prefix: str, text: str) -> bytes:
    return hashlib.sha256(f"{prefix}:{text}".encode()).digest()


def _placeholder_hash(member_id: str) -> bytes:
    """A phone hash no phone can have (aliases and members known only by id)."""
    return placeholder_phone_hash(member_id)


def stub_member_no(member_id: str, attempt: int = 0) -> int:
    """The ``attempt``-th candidate local number of a member HQ gave none: in
    8000000000-8999999999, below every till's block, so it never takes a number a till
    hands out."""
    seed = int.from_bytes(_digest("member-no", member_id)[:8], "big") + attempt
    return 8_000_000_000 + seed % 999_999_999


def stub_referral_code(member_id: str, attempt: int = 0) -> str:
    """The ``attempt``-th (0-23) candidate referral code of a member HQ gave none: 15
    hex digits after a Z, so a million of them do not collide (8 would, by the dozen)."""
    base = hashlib.sha256(f"ref:{member_id}".encode()).hexdigest().upper()
    return "Z" + base[2 * attempt : 2 * attempt + 15]


class PullApplier:
    """Applies one page of pulled changes inside the caller's transaction.

    Members that a change names before their own row arrives (their row's number moves
    on with every balance change, so it comes after their entries) are created as
    stubs with a placeholder phone hash and number, and filled in when the row comes.

    Attributes:
        applied: Changes per topic that wrote something.
        mismatches: Members whose balance less unsent points differs from HQ's.
        matched: Members whose balance agreed with HQ's in this page.
        problems: Changes applied differently than sent, explained.
    """

    def __init__(self, ctx: TillContext, session: Session) -> None:
        self.ctx = ctx
        self.session = session
        self.rules = ctx.rules
        self.applied: dict[str, int] = {}
        self.mismatches: list[str] = []
        self.matched: list[str] = []
        self.problems: list[str] = []
        self._rules_by_version: dict[str, RuleSet] = {self.rules.version: self.rules}
        self._rules_changed = False
        self._unsent: dict[str, int] | None = None
        self._merge_lots: dict[str, list[tuple[int, dt.date | None]]] = {}
        self._hq_balances: dict[str, tuple[int, int]] = {}
        self._known_entries: dict[str, tuple[int, str]] = {}
        self._checked: set[str] = set()
        self._members: dict[str, Member] = {}
        self._local_sales: set[str] = set()
        self._local_refunds: set[str] = set()

    # -- driver -------------------------------------------------------------------------
    def apply_all(self, changes: Iterable[Mapping[str, Any]]) -> None:
        """Apply ``changes`` in order, member snapshots first (HQ sends them first)."""
        from pos_app.services.sync.snapshot import SnapshotApplier  # it imports this module

        handlers: dict[str, Callable[[Mapping[str, Any], int], bool]] = {
            "member": self.apply_member,
            "entry": self.apply_entry,
            "rule_set": lambda d, _seq: self.apply_rule_set(d),
            "product": lambda d, _seq: self.apply_product(d),
            "mall_item": lambda d, _seq: self.apply_mall_item(d),
            "coupon": lambda d, _seq: self.apply_coupon(d),
            "member_code_key": lambda d, _seq: self.apply_member_code_key(d),
        }
        changes = list(changes)
        wholes = [c["data"] for c in changes if c.get("topic") == "member_snapshot"]
        if wholes:
            whole = SnapshotApplier(self.ctx, self.session, self)
            whole.apply(wholes)
            self.applied["member_snapshot"] = whole.applied
        self._prefetch([c["data"] for c in changes if c.get("topic") == "entry"])
        for change in changes:
            topic = str(change.get("topic"))
            if topic == "member_snapshot":
                continue
            handler = handlers.get(topic)
            data = change.get("data")
            seq = int(change.get("seq") or 0)
            if handler is None or not isinstance(data, Mapping):
                self.problems.append(f"seq {change.get('seq')}: unknown topic {topic!r} skipped")
                continue
            if handler(data, seq):
                self.applied[topic] = self.applied.get(topic, 0) + 1
            if (
                topic == "member"
                and isinstance(data.get("balance"), int)
                and not self._in_snapshot(str(data["id"]), seq)
            ):
                self._hq_balances[str(data["id"])] = (seq, data["balance"])
        self.session.flush()

    def _in_snapshot(self, member_id: str, seq: int) -> bool:
        """The change is numbered at or below the member's snapshot: already applied."""
        row = self._get_member(member_id)
        return bool(seq and row is not None and (row.snapshot_seq or 0) >= seq)

    def check_balances(self, up_to: int | None = None) -> None:
        """The sanity check, once the page is applied: each member whose row the page
        carried at or below ``up_to`` (HQ's ``up_to``: every change numbered up to it is
        here by now; None: the page ends the pull) must have HQ's balance plus the
        points of this till's unsent events. A member row HQ sent ahead of its place
        (to introduce the member of an entry) is checked later."""
        for member_id, (seq, hq_balance) in self._hq_balances.items():
            if up_to is not None and seq > up_to:
                continue
            row = member_store.get_member(self.session, member_id)
            expected = hq_balance + self.unsent_points().get(member_id, 0)
            if row is None or row.balance != expected:
                self.mismatches.append(member_id)
            else:
                self.matched.append(member_id)

    def _prefetch(self, entries: Sequence[Any]) -> None:
        """What the page's entries need to know, in a few queries instead of a few per
        entry: which ids the till holds already, which of their sales and refunds are
        this till's."""
        s = self.session
        rows = [d for d in entries if isinstance(d, Mapping)]
        ids = [str(d.get("id")) for d in rows]
        self._checked.update(ids)
        sales = sorted({str(d["sale_id"]) for d in rows if d.get("sale_id")})
        refunds = sorted({str(d["refund_id"]) for d in rows if d.get("refund_id")})
        self._known_entries.update(ledger_store.entries_by_id(s, ids))
        self._local_sales |= sale_store.sale_ids_among(s, sales)
        self._local_refunds |= sale_store.refund_ids_among(s, refunds)

    def after_commit(self) -> None:
        """Make a newly active rule set the context's (after the page committed)."""
        if not self._rules_changed:
            return
        with self.ctx.db.read() as session:
            document = catalog.active_rule_document(session)
        if document is not None:
            self.ctx.install_rule_set(load_rule_set(document), activate=True)

    # -- helpers ----------------------------------------------------------------------------
    def _rules_for(self, version: str | None) -> RuleSet:
        if not version:
            return self.rules
        found = self._rules_by_version.get(version)
        if found is None:
            row = catalog.get_rule_set(self.session, version)
            found = load_rule_set(row.document) if row is not None else self.rules
            self._rules_by_version[version] = found
        return found

    def unsent_points(self) -> dict[str, int]:
        """Points per member in outbox events HQ has not acknowledged."""
        if self._unsent is None:
            totals: dict[str, int] = {}
            rows = outbox.unsent_payloads(self.session)
            for text in rows:
                try:
                    payload = json.loads(text)
                except ValueError:
                    continue
                for e in payload.get("entries") or ():
                    mid = e.get("member_id")
                    if isinstance(mid, str) and isinstance(e.get("points"), int):
                        totals[mid] = totals.get(mid, 0) + e["points"]
                for section in ("member", "sale"):
                    part = payload.get(section)
                    mid = (part or {}).get("id" if section == "member" else "member_id")
                    if isinstance(mid, str):
                        totals.setdefault(mid, 0)
            self._unsent = totals
        return self._unsent

    def _free_member_no(self, member_id: str, avoid: int | None = None) -> int:
        """A local member number for a member HQ gave none (:func:`stub_member_no`)."""
        attempt = 0
        while True:
            number = stub_member_no(member_id, attempt)
            holder = member_store.member_id_with_no(self.session, number)
            if number != avoid and holder in (None, member_id):
                return number
            attempt += 1

    def _free_referral_code(self, member_id: str) -> str:
        for attempt in range(24):
            code = stub_referral_code(member_id, attempt)
            if member_store.member_id_with_referral_code(self.session, code) in (None, member_id):
                return code
        return "Z" + new_id()[-15:].upper()

    def _get_member(self, member_id: str) -> Member | None:
        """The member row, kept for the page (the session holds clean rows weakly)."""
        row = self._members.get(member_id)
        if row is None:
            row = member_store.get_member(self.session, member_id)
            if row is not None:
                self._members[member_id] = row
        return row

    def member(self, member_id: str, at: dt.datetime) -> Member:
        """The member ``member_id``, created as a stub when the till does not know it."""
        row = self._get_member(member_id)
        if row is not None:
            return row
        row = Member(
            id=member_id,
            member_no=self._free_member_no(member_id),
            phone_hash=_placeholder_hash(member_id),
            phone_last4="",
            phone_masked="",
            name="",
            birthday=None,
            tier=self.rules.tier_codes()[0],
            tier_since=at,
            referral_code=self._free_referral_code(member_id),
            referred_by=None,
            registered_at=at,
            registered_store="",
            balance=0,
            last_seen_at=at,
        )
        member_store.add_member(self.session, row)
        self.session.flush()
        self._members[member_id] = row
        return row

    # -- members ------------------------------------------------------------------------
    def apply_member(self, d: Mapping[str, Any], seq: int = 0) -> bool:
        """Create or update a member from HQ's row (never its balance: the ledger's).

        The phone hash, member number and referral code are unique here as at HQ: HQ's
        values win, and another row holding one of them (an alias, a member registered
        here and not pushed yet) gets a placeholder first. A row numbered at or below
        the member's snapshot is older than what the till holds: skipped.
        """
        s = self.session
        member_id = str(d["id"])
        if self._in_snapshot(member_id, seq):
            return False
        registered = _when(d.get("registered_at")) or self.ctx.now()
        row = self._get_member(member_id)
        # The phone: the canonical member holds it; an alias is no longer found by it.
        alias = bool(d.get("alias_of"))
        digest = _placeholder_hash(member_id) if alias else bytes.fromhex(str(d["phone_hash"]))
        last4 = "" if alias else str(d.get("phone_last4") or "")
        number = d.get("member_no")
        if not (isinstance(number, int) and 0 < number < 10**10):
            number = row.member_no if row is not None else None
        code = str(d.get("referral_code") or "") or (row.referral_code if row else None)
        evicted = False
        if row is None or row.phone_hash != digest:
            for other in member_store.others_holding(s, member_id, phone_hash=digest):
                other.phone_hash, other.phone_last4, evicted = _placeholder_hash(other.id), "", True
        if number is not None and (row is None or row.member_no != number):
            for other in member_store.others_holding(s, member_id, member_no=number):
                other.member_no, evicted = self._free_member_no(other.id, avoid=number), True
        if code and (row is None or row.referral_code != code):
            for other in member_store.others_holding(s, member_id, referral_code=code):
                other.referral_code, evicted = self._free_referral_code(other.id), True
        if evicted:
            s.flush()  # free the values before this row takes them (UNIQUE is checked per row)
        if row is None:
            row = Member(
                id=member_id,
                member_no=number if number is not None else self._free_member_no(member_id),
                referral_code=code or self._free_referral_code(member_id),
                phone_hash=digest,
                phone_last4=last4,
                phone_masked="",
                tier=self.rules.tier_codes()[0],
                tier_since=_when(d.get("tier_since")) or registered,
                registered_at=registered,
                registered_store="",
                balance=0,
                last_seen_at=registered,
            )
            member_store.add_member(s, row)
            s.flush()  # before any entry of theirs: the unit of work does not order by FK
            self._members[member_id] = row
        else:
            row.phone_hash, row.phone_last4 = digest, last4
            if number is not None:
                row.member_no = number
            if code:
                row.referral_code = code
        row.phone_masked = str(d.get("phone_masked") or row.phone_masked or "")
        row.name = str(d.get("name") or row.name or "")
        row.birthday = _day(d.get("birthday")) or row.birthday
        referred_by = d.get("referred_by")
        if referred_by and referred_by != member_id:
            self.member(str(referred_by), registered)
            row.referred_by = str(referred_by)
        row.registered_at = registered
        row.registered_store = str(d.get("registered_store") or row.registered_store or "")
        first = _when(d.get("first_purchase_at"))
        if first is not None and (row.first_purchase_at is None or first < row.first_purchase_at):
            row.first_purchase_at = first
        gift = d.get("birthday_gift_year")
        if isinstance(gift, int) and (row.birthday_gift_year or 0) < gift:
            row.birthday_gift_year = gift
        self._apply_tier(row, d)
        return True

    def _apply_tier(self, row: Member, d: Mapping[str, Any]) -> None:
        tier = d.get("tier")
        codes = self.rules.tier_codes()
        if tier not in codes or tier == row.tier:
            return
        local_higher = row.tier in codes and self.rules.tier_rank(row.tier) > self.rules.tier_rank(
            str(tier)
        )
        if local_higher and row.id in self.unsent_points():
            return  # an unsent sale here upgraded the member: HQ will agree once it has it
        row.tier = str(tier)
        row.tier_since = _when(d.get("tier_since")) or row.tier_since

    # -- ledger entries -----------------------------------------------------------------
    def apply_entry(self, d: Mapping[str, Any], seq: int = 0) -> bool:
        """Record another channel's (or HQ's) ledger entry under its HQ id; one numbered
        at or below its member's snapshot is in the snapshot's balance: skipped."""
        s = self.session
        entry_id = str(d["id"])
        points = int(d["points"])
        member_id = str(d["member_id"])
        known = self._known_entries.get(entry_id)
        if entry_id not in self._checked:  # not prefetched (a change applied by hand)
            row = ledger_store.get_entry(s, entry_id)
            known = (row.points, row.member_id) if row is not None else None
        if known is not None:
            if known != (points, member_id):
                self.problems.append(
                    f"entry {entry_id}: HQ has {points} points for {member_id}, this till "
                    f"{known[0]} for {known[1]}; kept the till's"
                )
            elif seq and not self._in_snapshot(member_id, seq):
                self._held_again(d, seq)
            return False
        if self._in_snapshot(member_id, seq):
            return False
        if points == 0:
            self.problems.append(f"entry {entry_id} moves no points: skipped")
            return False
        created = _when(d.get("created_at")) or self.ctx.now()
        received = _when(d.get("received_at")) or created
        kind = str(d.get("kind") or "adjust")
        if kind not in ENTRY_KINDS:
            self.problems.append(f"entry {entry_id}: unknown kind {kind!r} kept as an adjustment")
            kind = "adjust"
        member = self.member(member_id, created)
        sale_id = d.get("sale_id")
        refund_id = d.get("refund_id")
        origin = {
            key: d.get(key)
            for key in (
                "source_channel",
                "store_id",
                "till_id",
                "sale_id",
                "refund_id",
                "member_ref",
                "received_at",
            )
            if d.get(key) is not None
        }
        rules = self._rules_for(d.get("rule_set_version"))
        # One mechanism moves points on this till: post_points, as for its own entries.
        # HQ's word is final, so a debit may take the balance as low as HQ took it.
        post = functools.partial(
            post_points,
            self.session,
            rules,
            member,
            kind=kind,
            points=points,
            at=created,
            sale_id=sale_id if sale_id in self._local_sales else None,
            refund_id=refund_id if refund_id in self._local_refunds else None,
            actor_id="@hq",
            reason=d.get("reason"),
            detail={"origin": "hq", **origin},
            entry_id=entry_id,
        )
        if points > 0:
            # Points keep the expiry they had (a merge), the rest expire by the rule
            # set from when they were earned (or received, if the till's clock was late).
            parts = list(self._merge_lots.pop(_merged_from(d), ()) if kind == "merge_in" else ())
            covered = sum(p for p, _ in parts)
            if covered < points:
                parts.append((points - covered, expiry_for(rules, min(created, received))))
            post(credit_expiries=parts)
        else:
            lots = ledger_store.open_lot_rows(self.session, member.id)
            prefer: list[str] = []
            if kind == "expire":
                today = local_date(rules, received)
                prefer = [
                    lot.lot_id
                    for lot in lots
                    if lot.expires_on is not None and lot.expires_on < today
                ]
            if kind == "merge_out":  # the lots move to the member merged into, expiry and all
                expires = {lot.lot_id: lot.expires_on for lot in lots}
                takes, _shortfall = take_up_to(lots, -points, prefer)
                self._merge_lots[member.id] = [(t.points, expires[t.lot_id]) for t in takes]
            post(prefer_lots=prefer, allow_debt_to=NO_FLOOR)
        self._known_entries[entry_id] = (points, member.id)
        return True

    def _held_again(self, d: Mapping[str, Any], seq: int) -> None:
        """An entry the till held when HQ was restored from a backup, pulled again with a
        number above its member's snapshot: the restored HQ had lost it, so the opening
        entry of the snapshot taken after the restore took it out of the till's balance;
        HQ has it again now, so it goes back in (once)."""
        member = self._get_member(str(d["member_id"]))
        restart_row = get_setting(self.session, SETTING_RESTART_ROW)
        if member is None or member.snapshot_seq is None or restart_row is None:
            return
        row = ledger_store.entry_rowid(self.session, str(d["id"]))
        again_id = "oa" + hashlib.sha256(f"again:{d['id']}:{seq}".encode()).hexdigest()[:30]
        if row is None or row > int(restart_row):
            return  # pulled after the restore (a page applied twice)
        if ledger_store.get_entry(self.session, again_id) is not None:
            return  # put back already
        post_points(
            self.session,
            self._rules_for(d.get("rule_set_version")),
            member,
            kind="opening",
            points=int(d["points"]),
            at=self.ctx.now(),
            actor_id="@hq",
            reason="entry held again",
            detail={"origin": "hq", "entry_id": str(d["id"]), "seq": seq},
            entry_id=again_id,
            allow_debt_to=NO_FLOOR,
        )

    # -- rule sets, catalogue, mall, coupons --------------------------------------------
    def apply_rule_set(self, d: Mapping[str, Any]) -> bool:
        """Store a rule set version; HQ says which one is active."""
        s = self.session
        version = str(d["version"])
        active = bool(d.get("active"))
        row = catalog.get_rule_set(s, version)
        if row is None:
            rules = load_rule_set(d["document"])
            if rules.version != version:
                self.problems.append(f"rule set {version}: the document says {rules.version}")
                return False
            row = RuleSetVersion(
                version=version,
                document=rules.to_json(),
                received_at=self.ctx.now(),
                active=False,
            )
            catalog.add_rule_set(s, row)
            self._rules_by_version[version] = rules
        if row.active == active:
            s.flush()
            return False
        if active:
            catalog.deactivate_rule_sets(s)
            s.flush()
        row.active = active
        s.flush()
        self._rules_changed = True
        return True

    def apply_product(self, d: Mapping[str, Any]) -> bool:
        """Create or replace a catalogue product (its barcode moves with it)."""
        s = self.session
        sku = str(d["sku"])
        barcode = d.get("barcode") or None
        if barcode is not None:
            for other in catalog.products_with_barcode(s, barcode, sku):
                other.barcode = None
            s.flush()
        row = catalog.product_for_update(s, sku)
        row.barcode = barcode
        row.name = str(d.get("name") or sku)
        row.category = str(d.get("category") or "")
        row.price_fen = int(d.get("price_fen") or 0)
        member_price = d.get("member_price_fen")
        row.member_price_fen = int(member_price) if member_price is not None else None
        row.active = bool(d.get("active", True))
        return True

    def apply_mall_item(self, d: Mapping[str, Any]) -> bool:
        """Create or replace a mall item; one HQ withdrew leaves the till, and so does
        an HQ lottery (HQ takes its entries online and draws it: docs/mall.md)."""
        s = self.session
        item_id = str(d["id"])
        if not d.get("active", True) or d.get("kind") == "lottery":
            gone = mall_store.get_item(s, item_id)
            if gone is None:
                return False
            mall_store.delete_item(s, gone)
            return True
        row = mall_store.item_for_update(s, item_id)
        row.name = str(d.get("name") or item_id)
        row.points_price = int(d.get("points_price") or 0)
        row.cash_price_fen = int(d.get("cash_price_fen") or 0)
        row.stock = d.get("stock")
        row.min_tier = d.get("min_tier")
        row.level = str(d.get("level") or "middle")
        row.category = str(d.get("category") or "")
        row.brand = str(d.get("brand") or "")
        row.keywords = str(d.get("keywords") or "")
        row.discount_percent = int(d.get("discount_percent") or 0)
        row.discount_from = _when(d.get("discount_from"))
        row.discount_to = _when(d.get("discount_to"))
        row.available_from = _when(d.get("available_from"))
        row.available_to = _when(d.get("available_to"))
        row.featured = featured_text(d.get("featured"))
        return True

    def apply_member_code_key(self, d: Mapping[str, Any]) -> bool:
        """Store one of HQ's member-code public keys (its window, its revocation)."""
        from pos_app.services.member_codes import install_key

        install_key(self.session, d)
        return True

    def apply_coupon(self, d: Mapping[str, Any]) -> bool:
        """Create or update a coupon; one used elsewhere can no longer be used here."""
        s = self.session
        coupon_id = str(d["id"])
        code = str(d["code"]).upper()
        issued = _when(d.get("issued_at")) or self.ctx.now()
        valid_from = _when(d.get("valid_from")) or issued
        valid_to = _when(d.get("valid_to")) or valid_from
        member_id = d.get("member_id")
        if member_id:
            self.member(str(member_id), issued)
        clash = sale_store.other_coupon_with_code(s, code, coupon_id)
        if clash is not None:
            self.problems.append(f"coupon {coupon_id}: code {code} is coupon {clash.id} here")
            return False
        row = sale_store.coupon_for_update(s, coupon_id, code)
        row.code = code
        row.member_id = str(member_id) if member_id else None
        row.name = str(d.get("name") or code)
        row.amount_off_fen = int(d.get("amount_off_fen") or 0)
        row.percent_off = int(d.get("percent_off") or 0)
        row.min_order_fen = int(d.get("min_order_fen") or 0)
        row.valid_from = valid_from
        row.valid_to = valid_to
        row.issued_at = issued
        row.source = str(d.get("source") or "hq")[:32]
        used_sale = d.get("used_sale_id")
        if used_sale and not sale_store.coupon_used(s, coupon_id):
            # Used at another store or online: its validity ends when it was used.
            used_at = _when(d.get("used_at")) or issued
            row.valid_to = max(valid_from, min(valid_to, used_at))
        return True
