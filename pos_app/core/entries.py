"""Ledger entry kinds: the one table of every kind a ledger holds, and what each means.

The till's ledger, HQ's ledger and the sync between them all read their kind sets from
:data:`KINDS`: which kinds exist, which sign their points take, which count as points
earned by purchases (the tier window, the daily earning cap) and which only HQ (or only
the till) writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Sign = Literal["credit", "debit", "either"]


@dataclass(frozen=True)
class EntryKind:
    """One kind of ledger entry.

    Attributes:
        code: The kind as stored (``ledger_entries.kind``) and sent between till and HQ.
        sign: ``credit`` (points above 0), ``debit`` (below 0) or ``either``.
        purchase: The entry's points count as points earned by purchases: a sale's earn
            and what refunds of that sale took back of it.
        hq_only: Only HQ writes it (a member merged into another); a till applies it
            from a pull and never pushes one.
        till_only: Only a till writes it, and keeps it: never pushed, never at HQ (the
            opening balance of a member HQ sent whole).
    """

    code: str
    sign: Sign
    purchase: bool = False
    hq_only: bool = False
    till_only: bool = False


KINDS: tuple[EntryKind, ...] = (
    EntryKind("earn", "credit", purchase=True),
    EntryKind("spend", "debit"),
    EntryKind("expire", "debit"),
    EntryKind("refund_reversal", "debit", purchase=True),
    EntryKind("refund_restore", "credit"),
    EntryKind("bonus", "credit"),
    EntryKind("adjust", "either"),
    # A merge moves the alias's whole balance, which may be a debt: either sign.
    EntryKind("merge_in", "either", hq_only=True),
    EntryKind("merge_out", "either", hq_only=True),
    # A member HQ sent whole (a snapshot) starts with its balance at HQ (a debt too), or
    # is brought to it (scoped pull, pos_app/services/sync/snapshot.py).
    EntryKind("opening", "either", till_only=True),
)

_BY_CODE: dict[str, EntryKind] = {kind.code: kind for kind in KINDS}

ENTRY_KINDS: tuple[str, ...] = tuple(kind.code for kind in KINDS)
"""Every kind a ledger (the till's or HQ's) can hold."""

PUSHED_KINDS: tuple[str, ...] = tuple(
    kind.code for kind in KINDS if not kind.hq_only and not kind.till_only
)
"""The kinds a till or a channel may send HQ (HQ refuses the others)."""

CREDIT_KINDS: frozenset[str] = frozenset(k.code for k in KINDS if k.sign == "credit")
"""Kinds whose points are always above 0."""

DEBIT_KINDS: frozenset[str] = frozenset(k.code for k in KINDS if k.sign == "debit")
"""Kinds whose points are always below 0."""

PURCHASE_KINDS: tuple[str, ...] = tuple(kind.code for kind in KINDS if kind.purchase)
"""Kinds whose points count as points earned by purchases (see :func:`purchase_points`)."""


def entry_kind(code: str) -> EntryKind:
    """The kind ``code``.

    Raises:
        ValueError: no ledger holds such a kind.
    """
    kind = _BY_CODE.get(code)
    if kind is None:
        raise ValueError(f"unknown ledger entry kind {code!r}")
    return kind


def check_sign(code: str, points: int) -> None:
    """Refuse an entry whose points do not fit its kind.

    Raises:
        ValueError: an unknown kind, 0 points, or points of the wrong sign (the message
            says which).
    """
    kind = entry_kind(code)
    if points == 0:
        raise ValueError("a ledger entry moves points: points must not be 0")
    if kind.sign == "credit" and points < 0:
        raise ValueError(f"a {code} entry adds points: points must be above 0")
    if kind.sign == "debit" and points > 0:
        raise ValueError(f"a {code} entry takes points: points must be below 0")


def purchase_points(entries: Iterable[tuple[str, int]]) -> int:
    """Points earned by purchases, net of refunds, from (kind, points) rows.

    The caller picks the rows: the entries of the sales made in a window (the tier
    window, today for the daily cap), whenever the entries themselves were written, so
    a refund counts against the window of the sale it refunds. Rows of other kinds are
    ignored. Never below 0: a sale's refunds take back at most what it earned, so only
    inconsistent rows could go lower, and they count as nothing earned.
    """
    return max(0, sum(points for code, points in entries if entry_kind(code).purchase))
