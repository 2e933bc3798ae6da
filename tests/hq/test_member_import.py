"""``pos-hq import-members``: a legacy member list loaded in one transaction, pulled by the
tills; bad rows reported by line with nothing written (or skipped); the same file twice
writes nothing more. On PostgreSQL (``COPY``) and on the SQLite demo."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pos_app.core.lots import expiry_for
from pos_app.core.privacy import normalize_phone, phone_hash
from pos_app.core.rules import default_rule_set
from pos_app.hq import admin
from pos_app.hq.cli import main
from pos_app.hq.database import PHONE_KEY, HQDatabase
from pos_app.hq.member_import import COLUMNS, ImportReport, import_members
from pos_app.hq.models import Counter, Member
from tests.hq.conftest import HQ
from tests.hq.support import basket, ledger_problems, nothing_written

GOOD = [
    {
        "phone": "138 1234 5678",
        "name": "张三",
        "birthday": "1990-05-01",
        "store": "001",
        "member_no": "100001",
        "registered_at": "2019-03-02T10:00:00",
        "points": "1500",
        "points_expire_on": "2027-12-31",
    },
    {"phone": "+86 139-0000-1111", "name": "李四", "store": "002", "registered_at": "2020-01-01"},
    {"phone": "0086 13700002222", "points": "250"},
]
LONG_NAME = "名" * 65
BAD: list[tuple[dict[str, str], str]] = [  # (row, the field reported), from line 2
    ({"phone": "12345"}, "phone"),
    ({"phone": "13812345678", "name": "王五"}, "phone"),  # twice in the file
    ({"phone": "138-1234-5678"}, "phone"),
    ({"phone": "13911112222"}, "phone"),  # registered at HQ by a till
    ({"phone": "15900000001", "store": "999"}, "store"),
    ({"phone": "15900000002", "birthday": "1990-13-01"}, "birthday"),
    ({"phone": "15900000003", "registered_at": "yesterday"}, "registered_at"),
    (
        {"phone": "15900000004", "points": "10", "points_expire_on": "2027/12/31"},
        "points_expire_on",
    ),
    ({"phone": "15900000005", "member_no": "42"}, "member_no"),  # twice in the file
    ({"phone": "15900000006", "member_no": "42"}, "member_no"),
    ({"phone": "15900000007", "member_no": "9001100001"}, "member_no"),  # the till's member
    ({"phone": "15900000008", "points": "-5"}, "points"),
    ({"phone": "15900000009", "name": LONG_NAME}, "name"),
]
GOOD_AMONG_BAD = {"phone": "15900000010", "name": "好人", "points": "80"}


def csv_bytes(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def bad_file() -> bytes:
    """The bad rows, a short row, and one good row last."""
    text = csv_bytes([row for row, _ in BAD]).decode()
    return (
        text + "15900000011,x,y\n" + csv_bytes([GOOD_AMONG_BAD]).decode().split("\n", 1)[1]
    ).encode()


EXPECTED_BAD = {(line, field) for line, (_, field) in enumerate(BAD, start=2)} | {(15, "row")}


def run_import(db: HQDatabase, data: bytes, now: dt.datetime, **options: Any) -> ImportReport:
    return import_members(db, data, now=now, default_store="001", **options)


def counter(db: HQDatabase) -> int:
    with db.read() as s:
        return int(s.execute(select(Counter.value)).scalar_one())


def till_hash(phone: str, key: bytes) -> str:
    return phone_hash(normalize_phone(phone), key).hex()


def register_at_hq(hq: HQ) -> str:
    """A member a till registered (phone 13911112222, member number 9001100001)."""
    till = hq.till("001", "01")
    member_id, event = till.register("13911112222", name="老会员")
    hq.push_ok(hq.till1, event)
    return member_id


def test_a_member_list_is_loaded_in_one_transaction_and_pulled_by_a_till(hq: HQ) -> None:
    start = counter(hq.db)
    report = run_import(hq.db, csv_bytes(GOOD), hq.clock())
    assert (report.written, report.loaded, report.opening_points, report.problems) == (
        True,
        3,
        1750,
        [],
    )
    assert report.exit_code == 0
    # three members, two opening entries, three members entering their stores' regions
    assert counter(hq.db) == start + 3 + 2 + 3
    changes, _ = hq.pull_all(hq.mall)  # the whole chain, row by row
    members = {c["data"]["phone_hash"]: c for c in changes if c["topic"] == "member"}
    entries = [c for c in changes if c["topic"] == "entry"]
    assert sorted(c["seq"] for c in [*members.values(), *entries]) == list(
        range(start + 1, start + 6)
    )
    # a till of store 001 gets its region's two, whole
    wholes = [c["data"] for c in hq.pull_all(hq.till1)[0] if c["topic"] == "member_snapshot"]
    assert sorted(w["balance"] for w in wholes) == [250, 1500]
    zhang = members[till_hash("13812345678", hq.phone_key)]["data"]
    assert (zhang["name"], zhang["phone_masked"], zhang["member_no"]) == (
        "张三",
        "138****5678",
        100001,
    )
    assert (zhang["registered_store"], zhang["birthday"], zhang["balance"]) == (
        "001",
        "1990-05-01",
        1500,
    )
    assert zhang["registered_at"] == "2019-03-02T02:00:00+00:00"  # read as Asia/Shanghai
    li = members[till_hash("13900001111", hq.phone_key)]["data"]
    assert (li["registered_store"], li["balance"], li["member_no"]) == ("002", 0, None)
    wang = members[till_hash("13700002222", hq.phone_key)]["data"]
    assert wang["registered_store"] == "001"  # --default-store
    assert {
        (e["data"]["member_id"], e["data"]["kind"], e["data"]["points"], e["data"]["reason"])
        for e in entries
    } == {
        (zhang["id"], "adjust", 1500, "import"),
        (wang["id"], "adjust", 250, "import"),
    }
    assert hq.member(zhang["id"])["lots"][0]["expires_on"] == "2027-12-31"
    rule_expiry = expiry_for(default_rule_set(), hq.clock())
    assert hq.member(wang["id"])["lots"][0]["expires_on"] == str(rule_expiry)

    till = hq.till("001", "01")
    till.know(zhang["id"], 1500, first_purchase=True)
    (result,) = hq.push_ok(hq.till1, till.sale(zhang["id"], basket(100), points=100))
    assert result["status"] == "applied"
    assert hq.member(zhang["id"])["balance"] == till.members[zhang["id"]].balance


def test_every_kind_of_bad_row_is_reported_and_nothing_is_written(
    hq: HQ, caplog: pytest.LogCaptureFixture
) -> None:
    register_at_hq(hq)
    caplog.set_level(logging.DEBUG)
    with nothing_written(hq.db):
        report = run_import(hq.db, bad_file(), hq.clock())
    assert {(p.line, p.field) for p in report.problems} == EXPECTED_BAD
    assert (report.written, report.loaded, report.exit_code) == (False, 1, 1)
    text = "\n".join(report.lines())
    assert "line 5: phone: 139****2222 is already a member at HQ" in text
    assert "line 3: phone: 138****5678 is on lines 3, 4" in text
    assert "nothing was written" in text
    for secret in ("13812345678", "1234-5678", "13911112222", "王五", "好人", LONG_NAME[:10]):
        assert secret not in text
        assert secret not in caplog.text


def test_skip_bad_loads_the_good_rows_and_reports_the_rest(hq: HQ) -> None:
    register_at_hq(hq)
    start = counter(hq.db)
    report = run_import(hq.db, bad_file(), hq.clock(), skip_bad=True)
    assert {(p.line, p.field) for p in report.problems} == EXPECTED_BAD
    assert (report.written, report.loaded, report.opening_points, report.exit_code) == (
        True,
        1,
        80,
        0,
    )
    assert counter(hq.db) == start + 2 + 1  # a member, its opening entry, its region
    with hq.db.read() as s:
        loaded = s.scalars(select(Member).where(Member.registered_channel == "import")).one()
        assert (loaded.name, loaded.balance) == ("好人", 80)
    with nothing_written(hq.db):
        again = run_import(hq.db, bad_file(), hq.clock(), skip_bad=True)
    assert (again.already_loaded, again.loaded, again.written) == (1, 0, False)


def test_the_same_file_loaded_again_writes_nothing(hq: HQ) -> None:
    data = csv_bytes(GOOD)
    run_import(hq.db, data, hq.clock())
    hq.clock.advance(days=1)
    with nothing_written(hq.db):
        again = run_import(hq.db, data, hq.clock())
    assert (again.already_loaded, again.loaded, again.problems, again.exit_code) == (3, 0, [], 0)
    # the same people in another file are members already
    other = csv_bytes([{**row, "name": "改名"} for row in GOOD])
    with nothing_written(hq.db):
        refused = run_import(hq.db, other, hq.clock())
    assert [(p.line, p.field) for p in refused.problems] == [
        (2, "member_no"),
        (2, "phone"),
        (3, "phone"),
        (4, "phone"),
    ]


def test_a_dry_run_checks_everything_and_writes_nothing(hq: HQ) -> None:
    with nothing_written(hq.db):
        report = run_import(hq.db, csv_bytes(GOOD), hq.clock(), dry_run=True)
    assert (report.loaded, report.opening_points, report.written, report.exit_code) == (
        3,
        1750,
        False,
        0,
    )
    assert "dry run: nothing was written" in report.lines()
    register_at_hq(hq)
    with nothing_written(hq.db):
        report = run_import(hq.db, bad_file(), hq.clock(), dry_run=True)
    assert {(p.line, p.field) for p in report.problems} == EXPECTED_BAD
    assert report.exit_code == 1


def test_lines_are_counted_in_the_file_and_spellings_are_accepted(hq: HQ) -> None:
    text = (
        "\ufeffPhone, Name ,points\n"
        '"(+86) 138 1234 5678","多行\n名字",5\n'
        "\n"
        "１３９００００１１１１,,\n"
        "13700002222,,1.5\n"
    )
    report = run_import(hq.db, text.encode(), hq.clock(), dry_run=True)
    assert [str(p) for p in report.problems] == ["line 6: points: '1.5' is not a whole number"]
    assert (report.total, report.loaded) == (3, 2)


def test_the_command_line(hq: HQ, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["import-members", *argv, "--db", hq.db.url])
        out, err = capsys.readouterr()
        return code, out, err

    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(csv_bytes(GOOD))
    bad.write_bytes(bad_file())
    code, out, _ = run(str(bad), "--default-store", "001")
    assert code == 1
    assert "line 2: phone: not a valid mobile phone number" in out
    assert run(str(good), "--default-store", "009")[0] == 1  # no such store
    assert run(str(good), "--dry-run", "--default-store", "001")[0] == 0
    code, out, _ = run(str(good), "--default-store", "001")
    assert code == 0
    assert "loaded 3" in out
    assert run(str(bad), "--skip-bad", "--default-store", "001")[0] == 0
    code, _, err = run(str(tmp_path / "missing.csv"))
    assert (code, "cannot read" in err) == (2, True)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("phone,name\n13812345678,张三\n".encode("gbk"))
    code, _, err = run(str(gbk))
    assert (code, "not UTF-8" in err) == (2, True)
    typo = tmp_path / "typo.csv"
    typo.write_text("phone,birthdy\n13812345678,1990-01-01\n", "utf-8")
    code, _, err = run(str(typo))
    assert (code, "unknown column(s) 'birthdy'" in err) == (2, True)


def test_the_sqlite_demo_makes_the_same_checks(tmp_path: Path) -> None:
    db = HQDatabase(f"sqlite:///{tmp_path / 'hq.sqlite'}")
    try:
        db.migrate()
        now = dt.datetime(2026, 11, 17, 2, 0, tzinfo=dt.UTC)
        admin.create_store(db, "001", "一号店", now)
        admin.create_store(db, "002", "二号店", now)
        report = run_import(db, csv_bytes(GOOD), now)
        # three members, two openings, three scopes, the rule set and the demo
        # member-code key (a SQLite demo HQ signs with it)
        assert (report.written, report.loaded, counter(db)) == (True, 3, 3 + 2 + 3 + 1 + 1)
        with nothing_written(db):
            assert run_import(db, csv_bytes(GOOD), now).already_loaded == 3
        key = db.setting(PHONE_KEY)
        assert key is not None
        with db.read() as s:
            hashes = set(s.scalars(select(Member.phone_hash)))
        assert phone_hash(normalize_phone("13812345678"), bytes.fromhex(key)) in hashes
        rows = [row for row, _ in BAD] + [{"phone": "13700002222"}]  # 13700002222: loaded
        with nothing_written(db):
            refused = run_import(db, csv_bytes(rows), now)
        expected = {(line, field) for line, (_, field) in enumerate(BAD, start=2)}
        expected = (expected - {(5, "phone"), (12, "member_no")}) | {(15, "phone")}
        assert {(p.line, p.field) for p in refused.problems} == expected
        assert not ledger_problems(db)
    finally:
        db.close()
