"""The points mall in the console: the items HQ publishes, and importing them from CSV.

A CSV file (UTF-8, Excel's byte-order mark allowed, a header row) names the fields of
:class:`pos_app.hq.schemas.MallItemIn` as its columns: ``id``, ``name`` and
``points_price`` are required, the others optional (an empty cell keeps the default).
Every row is checked with the same model the admin API uses; one bad row means nothing
is written, and each problem is reported with its line number and field. Good files go
through :func:`pos_app.hq.admin.upsert_mall_items` (create or replace, audited; every
till pulls them).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from pos_app.hq.admin import upsert_mall_items
from pos_app.hq.database import HQDatabase
from pos_app.hq.models import MallItem
from pos_app.hq.schemas import MallItemIn

MAX_ROWS = 5000
MAX_BYTES = 2 << 20
LIST_ROWS = 500
FIELDS = tuple(MallItemIn.model_fields)
REQUIRED = ("id", "name", "points_price")
INTEGERS = frozenset({"points_price", "cash_price_fen", "stock", "discount_percent"})
OPTIONAL = frozenset(
    {"stock", "min_tier", "discount_from", "discount_to", "available_from", "available_to"}
)
TRUE, FALSE = frozenset({"1", "true", "yes", "是"}), frozenset({"0", "false", "no", "否"})


class ImportProblems(Exception):
    """What is wrong with a CSV file: one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:3]))
        self.problems = problems


def items(db: HQDatabase) -> list[MallItem]:
    """The mall's items (the first :data:`LIST_ROWS` by id)."""
    with db.read() as s:
        rows = list(s.scalars(select(MallItem).order_by(MallItem.id).limit(LIST_ROWS)))
        s.expunge_all()
        return rows


def _cell(field: str, text: str) -> Any:
    """A CSV cell as the model's field takes it.

    Raises:
        ValueError: not a whole number, or not yes/no.
    """
    if field in INTEGERS:
        try:
            return int(text.replace(",", ""))
        except ValueError:
            raise ValueError(f"not a whole number: {text!r}") from None
    if field == "active":
        lowered = text.lower()
        if lowered not in TRUE | FALSE:
            raise ValueError(f"write yes or no, not {text!r}")
        return lowered in TRUE
    return text


def _row(line: int, record: dict[str, str]) -> tuple[MallItemIn | None, list[str]]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field, raw in record.items():
        text = (raw or "").strip()
        if not text:
            if field in OPTIONAL:
                values[field] = None
            continue
        try:
            values[field] = _cell(field, text)
        except ValueError as exc:
            problems.append(f"line {line}: {field}: {exc}")
    problems += [f"line {line}: {f}: required" for f in REQUIRED if f not in values]
    if problems:
        return None, problems
    try:
        return MallItemIn.model_validate(values), []
    except ValidationError as exc:
        return None, [
            f"line {line}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]


def parse_csv(data: bytes) -> list[MallItemIn]:
    """The items of a CSV file.

    Raises:
        ImportProblems: the file cannot be read, or any row is bad (all of them named).
    """
    if len(data) > MAX_BYTES:
        raise ImportProblems([f"the file is over {MAX_BYTES >> 20} MB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblems(["the file is not UTF-8 text (save it as CSV UTF-8)"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in FIELDS]
    if not header or unknown:
        raise ImportProblems(
            [
                f"line 1: unknown column(s) {', '.join(unknown) or '(none)'}: "
                f"the columns are {', '.join(FIELDS)}"
            ]
        )
    reader.fieldnames = header
    parsed: list[MallItemIn] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if None in record:
            problems.append(f"line {line}: more fields than the header has")
            continue
        item, bad = _row(line, record)
        problems += bad
        if item is not None:
            if item.id in seen:
                problems.append(f"line {line}: id: {item.id} is also on line {seen[item.id]}")
            seen[item.id] = line
            parsed.append(item)
        if len(parsed) + len(problems) > MAX_ROWS:
            raise ImportProblems([f"at most {MAX_ROWS} rows a file"])
    if problems:
        raise ImportProblems(problems)
    if not parsed:
        raise ImportProblems(["the file has no rows"])
    return parsed


def import_csv(db: HQDatabase, data: bytes, now: dt.datetime, *, actor: str) -> int:
    """Create or replace the items of a CSV file; returns how many.

    Raises:
        ImportProblems: nothing was written (see :func:`parse_csv`).
    """
    parsed = parse_csv(data)
    upsert_mall_items(db, parsed, now, actor=actor)
    return len(parsed)
