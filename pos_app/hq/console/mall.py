"""The points mall in the console: the items HQ publishes, importing them from CSV,
editing one item (stock, prices, tiers, window, featured sections, floating bounds) and
HQ's lotteries (prize catalogue, the draw, each winner's prize and its issue).

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
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select

from pos_app.hq import audit
from pos_app.hq import mall as hq_mall
from pos_app.hq.admin import upsert_mall_items
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, NotFound
from pos_app.hq.front import featured_ids, set_featured
from pos_app.hq.models import MallItem
from pos_app.hq.schemas import FLOAT_FIELDS, MallItemIn, PrizeIn

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_PRIZES = 50
MAX_ROWS = 5000
MAX_BYTES = 2 << 20
LIST_ROWS = 500
FIELDS = tuple(MallItemIn.model_fields)
REQUIRED = ("id", "name", "points_price")
INTEGERS = frozenset({"points_price", "cash_price_fen", "stock", "discount_percent", *FLOAT_FIELDS})
OPTIONAL = frozenset(
    {
        "stock",
        "min_tier",
        "discount_from",
        "discount_to",
        "available_from",
        "available_to",
        *FLOAT_FIELDS,
    }
)
WHEN_FIELDS = ("discount_from", "discount_to", "available_from", "available_to")
SECTIONS = ("hot", "value", "new", "lottery", "member_day")
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


def check_values(record: dict[str, Any]) -> tuple[MallItemIn | None, list[tuple[str, str]]]:
    """An item from text cells (CSV or the edit form), or each problem as (field, what).
    An empty optional cell is None; another empty cell keeps the model's default."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for field, raw in record.items():
        text = (raw or "").strip()
        if not text:
            if field in OPTIONAL:
                values[field] = None
            continue
        try:
            values[field] = _cell(field, text)
        except ValueError as exc:
            problems.append((field, str(exc)))
    problems += [(f, "required") for f in REQUIRED if f not in values]
    if problems:
        return None, problems
    try:
        return MallItemIn.model_validate(values), []
    except ValidationError as exc:
        return None, [_problem(err) for err in exc.errors(include_url=False)]


def _problem(err: Any) -> tuple[str, str]:
    """A pydantic error as (field, what): a model check names its field in its text."""
    where = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not where and ": " in msg:
        where, msg = msg.split(": ", 1)
    return where, msg


def _row(line: int, record: dict[str, str]) -> tuple[MallItemIn | None, list[str]]:
    item, problems = check_values(record)
    return item, [f"line {line}: {field}: {what}" for field, what in problems]


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


# -- editing one item ---------------------------------------------------------------------


def _local(value: dt.datetime | None) -> str:
    """A time as the form's ``datetime-local`` field shows it (Beijing time)."""
    return value.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M") if value is not None else ""


def item_form(db: HQDatabase, item_id: str) -> tuple[dict[str, str], list[str]]:
    """The item's fields as the edit form shows them, and the sections featuring it.

    Raises:
        NotFound: no such item.
    """
    with db.read() as s:
        row = s.get(MallItem, item_id)
        if row is None:
            raise NotFound(f"no mall item {item_id}")
        values: dict[str, str] = {}
        for field in FIELDS:
            value = getattr(row, field)
            if field in WHEN_FIELDS:
                values[field] = _local(value)
            elif field == "active":
                values[field] = "yes" if value else "no"
            else:
                values[field] = "" if value is None else str(value)
        sections = [sec for sec, ids in featured_ids(s).items() if item_id in ids]
    return values, sections


def form_values(item_id: str, form: dict[str, str]) -> dict[str, str]:
    """The edit form's fields as cells for :func:`check_values` (times without a zone
    are Beijing time; an unticked *active* box is "no")."""
    values = {f: form.get(f, "") for f in FIELDS if f != "id"}
    values["id"] = item_id
    values["active"] = "yes" if form.get("active") == "yes" else "no"
    for field in WHEN_FIELDS:
        text = values[field].strip()
        if text:
            try:
                when = dt.datetime.fromisoformat(text)
            except ValueError:
                continue  # the model names the field and the problem
            if when.utcoffset() is None:
                values[field] = when.replace(tzinfo=BEIJING).isoformat()
    return values


def save_item(
    db: HQDatabase, item: MallItemIn, sections: list[str], now: dt.datetime, *, actor: str
) -> None:
    """Replace the item (a new points price is a new version, tills pull it) and put it
    in exactly ``sections`` of the front page (appended where it is new); both audited.

    Raises:
        BadRequest: an unknown section.
    """
    unknown = [sec for sec in sections if sec not in SECTIONS]
    if unknown:
        raise BadRequest(f"featured: unknown section {unknown[0]}")
    upsert_mall_items(db, [item], now, actor=actor)
    with db.write() as s:
        current = featured_ids(s)
        changed: dict[str, list[str]] = {}
        for sec in SECTIONS:
            ids = current.get(sec, [])
            if sec in sections and item.id not in ids:
                changed[sec] = [*ids, item.id]
            elif sec not in sections and item.id in ids:
                changed[sec] = [i for i in ids if i != item.id]
        if changed:
            set_featured(s, changed, now)
            audit.record(s, now, actor, "mall.front", item.id, sections=changed)


# -- lotteries ----------------------------------------------------------------------------

PRIZE_COLUMNS = ("kind", "name", "count", "value", "valid_days")


def lotteries(db: HQDatabase) -> list[MallItem]:
    """HQ's lottery items."""
    with db.read() as s:
        rows = list(
            s.scalars(select(MallItem).where(MallItem.kind == "lottery").order_by(MallItem.id))
        )
        s.expunge_all()
        return rows


def lottery(db: HQDatabase, item_id: str) -> dict[str, Any]:
    """A lottery's page: its item, prizes, entries, draw (verified) and winners."""
    with db.read() as s:
        view = hq_mall.lottery_view(s, item_id)
        view["verified"] = hq_mall.verify(s, item_id) if view["draw"] is not None else None
        s.expunge_all()
        return view


def prizes_text(view: dict[str, Any]) -> str:
    """The prize catalogue as the form's lines (``kind,name,count,value,valid_days``)."""
    lines = []
    for p in view["prizes"]:
        value = p.points if p.kind == "points" else p.amount_off_fen if p.kind == "coupon" else 0
        lines.append(f"{p.kind},{p.name},{p.count},{value},{p.valid_days}")
    return "\n".join(lines)


def _prize_line(n: int, line: str) -> tuple[PrizeIn | None, list[str]]:
    cells = [c.strip() for c in line.split(",")]
    if not 3 <= len(cells) <= len(PRIZE_COLUMNS):
        return None, [f"line {n}: write {','.join(PRIZE_COLUMNS)}"]
    record: dict[str, Any] = dict(zip(PRIZE_COLUMNS, cells, strict=False))
    for field in ("count", "value", "valid_days"):
        if record.get(field):
            try:
                record[field] = int(record[field])
            except ValueError:
                return None, [f"line {n}: {field}: not a whole number: {record[field]!r}"]
        else:
            record.pop(field, None)
    value = record.pop("value", 0)
    if record.get("kind") == "points":
        record["points"] = value
    elif record.get("kind") == "coupon":
        record["amount_off_fen"] = value
    try:
        return PrizeIn.model_validate(record), []
    except ValidationError as exc:
        return None, [
            f"line {n}: {field}: {what}"
            for field, what in (_problem(e) for e in exc.errors(include_url=False))
        ]


def parse_prizes(text: str) -> list[PrizeIn]:
    """The prize catalogue typed in the form, one prize a line.

    Raises:
        ImportProblems: each bad line, with its number and field.
    """
    prizes: list[PrizeIn] = []
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        prize, bad = _prize_line(n, line)
        problems += bad
        if prize is not None:
            prizes.append(prize)
    if not prizes and not problems:
        problems.append("prizes: at least one prize")
    if len(prizes) > MAX_PRIZES:
        problems.append(f"prizes: at most {MAX_PRIZES}")
    if problems:
        raise ImportProblems(problems)
    return prizes


def set_prizes(db: HQDatabase, item_id: str, text: str, now: dt.datetime, *, actor: str) -> int:
    """Replace a lottery's prize catalogue from the form; returns how many prizes.

    Raises:
        ImportProblems: a bad line (nothing written).
        NotFound, Conflict: no such lottery, or drawn already.
    """
    prizes = parse_prizes(text)
    with db.write() as s:
        hq_mall.set_prizes(s, item_id, prizes, now, actor)
    return len(prizes)


def draw(db: HQDatabase, item_id: str, now: dt.datetime, *, actor: str) -> None:
    """Draw the lottery (the prize job issues the prizes).

    Raises:
        NotFound, Conflict: no such lottery, drawn, no prizes or no entries.
    """
    with db.write() as s:
        hq_mall.draw(s, item_id, now, actor)
