"""Fen and points are distinct types: mypy refuses fen passed where points go."""

from __future__ import annotations

from pathlib import Path

from mypy import api

from pos_app.core.money import Fen, Points, fen_to_points_ceil, points_to_fen

SNIPPET = """
from pos_app.core.money import Fen, Points, fen_to_points_ceil, round_down_to_unit

price = Fen(1250)
balance = Points(300)
round_down_to_unit(balance, 100)    # fine
fen_to_points_ceil(price, 100)      # fine
round_down_to_unit(price, 100)      # fen where points go
fen_to_points_ceil(balance, 100)    # points where fen go
"""


def test_mypy_keeps_fen_and_points_apart(tmp_path: Path) -> None:
    source = tmp_path / "mixup.py"
    source.write_text(SNIPPET, encoding="utf-8")
    out, _err, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports=silent",
            str(source),
        ]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert len(errors) == 2, out
    assert 'incompatible type "Fen"; expected "Points"' in errors[0]
    assert 'incompatible type "Points"; expected "Fen"' in errors[1]


def test_the_types_are_plain_ints_at_run_time() -> None:
    assert points_to_fen(Points(300), 100) == 300
    assert fen_to_points_ceil(Fen(1250), 100) == 1250
    assert isinstance(Fen(5), int)
