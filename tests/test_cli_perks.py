"""pos-app rules simulate with tier perks: the tier's price and the anniversary bonus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pos_app.cli.main import main
from pos_app.core.rules import default_rule_set


def test_simulate_quotes_at_the_tier_price_and_names_the_anniversary_bonus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(default_rule_set().to_json())
    document["perks"] = {
        "tier_price_percent": {"gold": 95},
        "anniversary_bonus": {"gold": 500},
    }
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    args = [
        "rules",
        "simulate",
        "--rules",
        str(rules),
        "--tier",
        "gold",
        "--at",
        "2026-11-20T12:00",
        "--line",
        "TEA:food:2:100",
        "--member-price",
        "TEA=90",
        "--registered",
        "2024-11-03",
    ]
    assert main([*args, "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "TEA: 金卡会员价 ¥85.50 (会员价 ¥90.00 x 95%, 原价 ¥100.00)" in out
    assert "2026 年周年礼 500 积分" in out
    assert "Total ¥171.00" in out
    assert main([*args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_fen"] == 17_100
    regular = [a if a != "gold" else "regular" for a in args]
    assert main([*regular, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_fen"] == 18_000  # the member price
