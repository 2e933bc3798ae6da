"""HQ's tamper-evident audit trail (``hq_audit``).

Every admin action (API and ``pos-hq``) and every till or channel write HQ refuses is
recorded, in the write transaction that did (or refused) it. Rows are chained::

    hash = SHA-256(prev_hash + "\\n" + canonical JSON [seq, at, actor, action, subject, detail])

with ``prev_hash`` the previous row's hash (64 zeros for the first), and ``seq`` has no
gaps. Writers hold HQ's change-counter lock (:meth:`HQDatabase.write`), so rows are
appended one transaction at a time and the chain never forks. The newest ``seq:hash`` is
also kept in ``hq_settings`` (``audit_head``).

A trigger refuses UPDATE, DELETE and TRUNCATE. Someone who drops it and edits or
deletes a row is found by :func:`verify`: an edited row no longer hashes to its
``hash``, a deleted one leaves a gap and a broken link, a deleted tail disagrees with the
stored head. Someone who can also rewrite the head and every later hash is caught only
against a copy of the head kept elsewhere (``pos-hq audit verify --expect SEQ:HASH``):
write the head down (``pos-hq audit head``) where the database's administrators cannot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from pos_app.hq.models import AuditRecord, Setting

AUDIT: Table = AuditRecord.__table__  # type: ignore[assignment]
GENESIS = "0" * 64
HEAD_SETTING = "audit_head"
SYSTEM_ACTOR = "hq:system"
_PENDING = "hq_audit_pending"


def _canonical(
    seq: int, at: dt.datetime, actor: str, action: str, subject: str | None, detail: Any
) -> bytes:
    stamp = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(
        [seq, stamp, actor, action, subject, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode("utf-8", "surrogatepass")


def chain_hash(
    prev_hash: str,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    detail: Any,
) -> str:
    """The hash of one audit row after ``prev_hash``."""
    body = _canonical(seq, at, actor, action, subject, detail)
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def _plain(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` as the JSON the database gives back (dates as text...)."""
    value: dict[str, Any] = json.loads(json.dumps(detail, ensure_ascii=False, default=str))
    return value


@dataclass(frozen=True)
class Head:
    """The newest row: its ``seq`` and ``hash`` (0 and the genesis hash when empty)."""

    seq: int = 0
    hash: str = GENESIS

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """A head written as ``SEQ:HASH``.

        Raises:
            ValueError: not ``SEQ:HASH``.
        """
        seq, _, digest = text.strip().partition(":")
        if (
            not seq.isdigit()
            or len(digest) != 64
            or not all(c in "0123456789abcdef" for c in digest)
        ):
            raise ValueError(f"an audit head is SEQ:HASH (64 hex digits), not {text!r}")
        return cls(int(seq), digest)


def stored_head(session: Session) -> Head:
    """The head recorded in ``hq_settings``."""
    row = session.get(Setting, HEAD_SETTING)
    return Head.parse(row.value) if row is not None else Head()


def record(
    session: Session,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None = None,
    **detail: Any,
) -> None:
    """Append one audit row in ``session``'s write transaction (written at once).

    Args:
        session: A session of :meth:`HQDatabase.write` (the counter lock is held).
        at: HQ's time.
        actor: Who: ``admin:<id>``, ``till:<id>``, ``channel:<code>``, ``cli:<user>``.
        action: What, ``subject.verb`` (``store.create``, ``push.refused``...).
        subject: The id acted on, if any.
        detail: JSON-friendly facts (never a phone number, a name or a birthday).
    """
    if "hq_seq" not in session.info:
        raise RuntimeError("audit rows are written inside HQDatabase.write() only")
    head = session.info.get(_PENDING) or stored_head(session)
    plain = _plain(detail)
    seq = head.seq + 1
    digest = chain_hash(head.hash, seq, at, actor, action, subject, plain)
    session.execute(
        insert(AUDIT).values(
            seq=seq,
            at=at,
            actor=actor[:64],
            action=action[:48],
            subject=subject[:64] if subject else None,
            detail=plain,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    new_head = Head(seq, digest)
    session.info[_PENDING] = new_head
    setting = session.get(Setting, HEAD_SETTING)
    if setting is None:
        session.add(Setting(key=HEAD_SETTING, value=str(new_head)))
    else:
        setting.value = str(new_head)
    session.flush()


# -- verification -----------------------------------------------------------------------


@dataclass
class Verdict:
    """What :func:`verify` found.

    Attributes:
        rows: Rows read.
        head: The last row read (seq and hash).
        problems: Each broken link, edited row, gap or head mismatch, in words.
    """

    rows: int = 0
    head: Head = field(default_factory=Head)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the chain is intact."""
        return not self.problems


def _rows(session: Session, batch: int = 5000) -> Iterator[Any]:
    after = 0
    while True:
        rows = session.execute(
            select(AUDIT).where(AUDIT.c.seq > after).order_by(AUDIT.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify(session: Session, expect: Head | None = None) -> Verdict:
    """Walk the whole chain; report every row that does not follow from the one before.

    Args:
        session: A read session.
        expect: A head recorded elsewhere earlier: that row must still be in the chain
            with that hash.
    """
    verdict = Verdict()
    previous = Head()
    seen_expected = expect is None or expect.seq == 0
    for row in _rows(session):
        verdict.rows += 1
        if row.seq != previous.seq + 1:
            verdict.problems.append(f"rows {previous.seq + 1}..{row.seq - 1} are missing (deleted)")
        if row.prev_hash != previous.hash:
            verdict.problems.append(
                f"row {row.seq} does not follow row {previous.seq}: its link is broken"
            )
        digest = chain_hash(
            row.prev_hash, row.seq, row.at, row.actor, row.action, row.subject, row.detail
        )
        if digest != row.hash:
            verdict.problems.append(f"row {row.seq} was edited: it no longer matches its hash")
        if expect is not None and row.seq == expect.seq:
            seen_expected = True
            if row.hash != expect.hash:
                verdict.problems.append(
                    f"row {row.seq} is not the row recorded earlier (hash {expect.hash[:12]}…)"
                )
        previous = Head(row.seq, row.hash)
    verdict.head = previous
    if not seen_expected and expect is not None:
        verdict.problems.append(f"row {expect.seq}, recorded earlier, is missing (deleted)")
    stored = stored_head(session)
    if stored != previous:
        verdict.problems.append(
            f"the chain ends at row {previous.seq} but HQ recorded row {stored.seq} as its "
            "last: rows at the end were deleted or the head was changed"
        )
    return verdict
