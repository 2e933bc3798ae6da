"""The audit chain: each audit row carries a SHA-256 hash over its content and the hash of
the row before it, so a deleted, edited or inserted row breaks the chain.

The till computes the hashes as it writes rows (``services.audit``), checks its own
chain (``pos-app check``) and pushes each row's hash to HQ (the ``audit`` event of
docs/sync.md), which checks the chain again against what it received before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

GENESIS = "0" * 64
"""The previous hash of the first row."""

FIELDS = ("seq", "id", "at", "actor_id", "action", "subject", "detail")
"""The columns a row's hash covers, in this order (``at`` as stored: UTC ISO text)."""


def canonical(row: Mapping[str, object], prev_hash: str) -> bytes:
    """The bytes a row's hash is taken over: a compact JSON array of :data:`FIELDS`
    then the previous hash (UTF-8, no escaping of non-ASCII)."""
    values = [row[name] for name in FIELDS]
    return json.dumps([*values, prev_hash], ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(row: Mapping[str, object], prev_hash: str) -> str:
    """SHA-256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(row, prev_hash)).hexdigest()


Problem = Literal["edited", "missing", "relinked"]


@dataclass(frozen=True)
class ChainBreak:
    """One place where the chain does not hold.

    Attributes:
        seq: The row's sequence number (for ``missing``: the first missing number).
        row_id: The row's id ("" for missing rows).
        problem: ``edited`` (the row's content no longer gives its hash), ``missing``
            (rows ``seq``..``last`` are gone), ``relinked`` (its previous hash is not
            the hash of the row before it: a row before it was removed or replaced).
        last: For ``missing``: the last missing number.
    """

    seq: int
    row_id: str
    problem: Problem
    last: int = 0

    def describe(self) -> str:
        """One line for ``pos-app check``."""
        if self.problem == "missing":
            span = f"{self.seq}" if self.last == self.seq else f"{self.seq}-{self.last}"
            return f"audit row(s) {span} deleted"
        if self.problem == "edited":
            return f"audit row {self.seq} ({self.row_id}) edited: its hash does not match"
        return f"audit row {self.seq} ({self.row_id}) does not follow the row before it"


def verify_chain(
    rows: Iterable[Mapping[str, object]], *, start_seq: int = 1, start_hash: str = GENESIS
) -> list[ChainBreak]:
    """Every break in ``rows`` (ordered by ``seq``, each with :data:`FIELDS`,
    ``prev_hash`` and ``row_hash``), from ``start_seq`` whose previous hash is
    ``start_hash``."""
    breaks: list[ChainBreak] = []
    expected_seq, expected_prev = start_seq, start_hash
    for row in rows:
        seq = int(str(row["seq"]))
        row_id = str(row["id"])
        if seq > expected_seq:
            breaks.append(ChainBreak(expected_seq, "", "missing", seq - 1))
        if row["prev_hash"] != expected_prev:
            breaks.append(ChainBreak(seq, row_id, "relinked"))
        stored = str(row["row_hash"])
        if row_hash(row, str(row["prev_hash"])) != stored:
            breaks.append(ChainBreak(seq, row_id, "edited"))
        expected_seq, expected_prev = seq + 1, stored
    return breaks
