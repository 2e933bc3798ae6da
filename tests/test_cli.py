"""The ``pos-app`` command line: rule checks, simulation, demo data and the ledger check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pos_app.cli.main import _db_first, main

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "pos_app" / "core" / "default_rules.json"


def test_rules_check_accepts_the_default_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(DEFAULT_RULES)]) == 0
    assert "OK: rule set 2026.11-default" in capsys.readouterr().out


def test_rules_check_names_the_broken_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(DEFAULT_RULES.read_text("utf-8"))
    document["spending"]["max_share_percent"] = 120
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), "utf-8")
    assert main(["rules", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "spending.max_share_percent" in err
    assert "less than or equal to 100" in err


def test_rules_simulate_prints_the_quote_and_its_explanation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A silver member spends 300 yuan on member day (the 18th): 300 x 1.5 x 2 = 900 points.
    code = main(
        [
            "rules",
            "simulate",
            "--tier",
            "silver",
            "--at",
            "2026-11-18T12:00",
            "--line",
            "TEA:food:3:100",
            "--format",
            "both",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    quote = json.loads(out[: out.index("\nRule set")])
    assert quote["points_earned"] == 900
    assert quote["base_points"] == 300
    assert "会员日 x2: +450" in out


def test_rules_simulate_fills_in_the_largest_allowed_points(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 60 yuan, 20% cap: 12 yuan = 1200 points; 48 yuan cash earns 48 points.
    main(
        [
            "rules",
            "simulate",
            "--balance",
            "5000",
            "--points",
            "-1",
            "--at",
            "2026-11-17T12:00",
            "--line",
            "TEA:food:2:30",
            "--format",
            "json",
        ]
    )
    quote = json.loads(capsys.readouterr().out)
    assert (quote["points_used"], quote["cash_due_fen"], quote["points_earned"]) == (1200, 4800, 48)
    assert quote["binding_limit"] == "max_share"


def test_a_bad_basket_line_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "simulate", "--line", "TEA:food:-2:30", "--format", "json"]) == 2
    assert "quantity must be a whole number above zero" in capsys.readouterr().err


def test_db_is_accepted_before_or_after_the_command() -> None:
    assert _db_first(["demo-data", "--db", "x.sqlite", "--members", "5"]) == [
        "--db",
        "x.sqlite",
        "demo-data",
        "--members",
        "5",
    ]
    assert _db_first(["check", "--db=y.sqlite"]) == ["--db=y.sqlite", "check"]


def test_demo_data_then_the_ledger_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.sqlite"
    assert main(["demo-data", "--members", "300", "--sales", "200", "--db", str(db)]) == 0
    assert "300 members, 200 sales" in capsys.readouterr().out
    assert main(["demo-data", "--members", "300", "--db", str(db)]) == 2  # never overwrites
    assert main(["check", "--db", str(db)]) == 0
    assert "every balance equals its ledger sum" in capsys.readouterr().out
