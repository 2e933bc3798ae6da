"""The formulas the till and HQ share, over plain rows: entry kinds and their signs,
purchase points, tier-window spend, refunded quantities, reversible earned points.

Hand-worked cases first (the figures of docs/ledger.md), then properties (hypothesis)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.core.entries import (
    CREDIT_KINDS,
    DEBIT_KINDS,
    ENTRY_KINDS,
    KINDS,
    PURCHASE_KINDS,
    PUSHED_KINDS,
    check_sign,
    entry_kind,
    purchase_points,
)
from pos_app.core.refunds import (
    SoldLine,
    quote_refund,
    refunded_quantities,
    reversible_earned_points,
)
from pos_app.core.rules import RuleSet
from pos_app.core.tiers import RefundedLine, window_spend_fen
from tests.core.core_support import default_rules

# --- entry kinds -------------------------------------------------------------------------


def test_the_table_holds_every_kind_a_ledger_can_hold() -> None:
    assert ENTRY_KINDS == (
        "earn",
        "spend",
        "expire",
        "refund_reversal",
        "refund_restore",
        "bonus",
        "adjust",
        "merge_in",
        "merge_out",
        "opening",
    )
    assert len({kind.code for kind in KINDS}) == len(KINDS)
    assert {"earn", "bonus", "refund_restore"} == CREDIT_KINDS
    assert {"spend", "expire", "refund_reversal"} == DEBIT_KINDS
    assert PURCHASE_KINDS == ("earn", "refund_reversal")
    # Tills and channels push every kind but the merges, which HQ alone writes, and the
    # opening balance of a member HQ sent whole, which only the till holds.
    assert set(ENTRY_KINDS) - set(PUSHED_KINDS) == {"merge_in", "merge_out", "opening"}
    assert entry_kind("merge_out").sign == "either"  # an alias's debt moves too


@pytest.mark.parametrize(
    ("kind", "points", "message"),
    [
        ("earn", -5, "a earn entry adds points: points must be above 0"),
        ("refund_restore", -1, "a refund_restore entry adds points"),
        ("spend", 5, "a spend entry takes points: points must be below 0"),
        ("expire", 1, "a expire entry takes points"),
        ("adjust", 0, "a ledger entry moves points: points must not be 0"),
        ("gift", 5, "unknown ledger entry kind 'gift'"),
    ],
)
def test_check_sign_refuses_points_that_do_not_fit_the_kind(
    kind: str, points: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_sign(kind, points)


def test_check_sign_accepts_either_sign_where_the_kind_allows_it() -> None:
    for kind, points in [("earn", 1), ("spend", -1), ("adjust", 7), ("adjust", -7)]:
        check_sign(kind, points)
    check_sign("merge_in", -300)  # an alias's debt merged into the member


def test_purchase_points_nets_the_refunds_of_the_sales_and_ignores_other_kinds() -> None:
    # Two sales: 400 earned, a refund took back 134; 365 earned. Spend, a bonus and a
    # restore of the same sales are not purchase points.
    rows = [
        ("earn", 400),
        ("spend", -2000),
        ("refund_reversal", -134),
        ("refund_restore", 666),
        ("bonus", 100),
        ("earn", 365),
    ]
    assert purchase_points(rows) == 400 - 134 + 365 == 631
    assert purchase_points([]) == 0
    assert purchase_points([("refund_reversal", -50)]) == 0  # never below 0


# --- tier-window spend -------------------------------------------------------------------

# docs/ledger.md: 3 x 33.40 = 100.20, paid with 2,000 points (20.00) and 80.20 cash.
RICE = ("L1", 8020, 2000, 3)


def _line(refunded: int, line: tuple[str, int, int, int] = RICE) -> RefundedLine:
    return RefundedLine(*line, refunded_qty=refunded)


def test_window_spend_takes_the_cumulative_share_of_the_refunds_of_a_line() -> None:
    assert window_spend_fen(10_020, []) == 10_020
    # One unit back: floor(8020/3) + floor(2000/3) = 2673 + 666.
    assert window_spend_fen(10_020, [_line(1)]) == 10_020 - 2673 - 666 == 6681
    # A second refund of one unit: the share of 2 units, not two shares of 1 unit
    # (floor(16040/3) + floor(4000/3) = 5346 + 1333, one fen less than 2 x (2673 + 666)).
    assert window_spend_fen(10_020, [_line(1), _line(1)]) == 10_020 - 5346 - 1333 == 3341
    # All three back, in any split: nothing left of the sale.
    assert window_spend_fen(10_020, [_line(1), _line(2)]) == 0
    assert window_spend_fen(10_020, [_line(1), _line(1), _line(1)]) == 0


def test_window_spend_adds_other_sales_and_lines() -> None:
    kettle = ("K1", 30_000, 0, 3)
    # Rice (100.20) and three kettles (300.00) in the window; one kettle and all the
    # rice come back.
    spend = window_spend_fen(40_020, [_line(3), _line(1, kettle)])
    assert spend == 40_020 - 10_020 - 10_000 == 20_000


def test_window_spend_is_never_below_zero() -> None:
    # Rows that do not add up (more refunded than the window's order totals hold, as a
    # refund counted against the wrong window would): 0, not a negative spend that would
    # hide the member's next purchases.
    assert window_spend_fen(5_000, [_line(3)]) == 0
    # A line is never refunded beyond what it sold.
    assert window_spend_fen(20_000, [_line(2), _line(2)]) == 20_000 - 10_020


def test_window_spend_refuses_a_line_that_sold_nothing() -> None:
    with pytest.raises(ValueError, match="sale line L1: 1 of 0 units refunded"):
        window_spend_fen(100, [RefundedLine("L1", 100, 0, 0, 1)])
    with pytest.raises(ValueError, match="-1 of 3 units"):
        window_spend_fen(100, [_line(-1)])


# --- refunded quantities and reversible earned points ------------------------------------


def test_refunded_quantities_add_up_every_refund_of_a_line() -> None:
    rows = [("L1", 1), ("L2", 2), ("L1", 1), ("L3", 4)]
    assert refunded_quantities(rows) == {"L1": 2, "L2": 2, "L3": 4}
    assert refunded_quantities([]) == {}


def test_reversible_earned_points_leave_out_what_expired_from_the_sales_lot() -> None:
    # docs/ledger.md: 3 kettles earn 300 points in one lot; one comes back (100 taken
    # back from the lot); two years on, the expiry takes the 200 left of the lot.
    sale = [("earn", 300), ("refund_reversal", -100)]
    lot_moves = [("earn", 300), ("refund_reversal", -100)]
    assert reversible_earned_points(sale, lot_moves) == 200
    expired = [*lot_moves, ("expire", -200)]
    assert reversible_earned_points(sale, expired) == 0
    # Points spent from the lot are still the member's to lose (only an expiry excuses).
    spent = [*lot_moves, ("spend", -150)]
    assert reversible_earned_points(sale, spent) == 200
    # The sale's other entries (its spend, bonus, restores) do not count.
    assert reversible_earned_points([*sale, ("spend", -500), ("bonus", 20)], []) == 200


# --- properties --------------------------------------------------------------------------

lines_st = st.lists(
    st.tuples(
        st.integers(0, 5_000_000),  # cash
        st.integers(0, 500_000),  # points value
        st.integers(1, 12),  # units sold
    ),
    min_size=1,
    max_size=5,
)


@st.composite
def refunded_sales(draw: st.DrawFn) -> tuple[list[tuple[int, int, int]], list[dict[int, int]]]:
    """Lines of one sale and a sequence of partial refunds of them (line -> units)."""
    lines = draw(lines_st)
    left = [sold for _, _, sold in lines]
    refunds: list[dict[int, int]] = []
    for _ in range(draw(st.integers(0, 6))):
        open_lines = [i for i, n in enumerate(left) if n]
        if not open_lines:
            break
        chosen = draw(st.lists(st.sampled_from(open_lines), min_size=1, unique=True))
        refund = {i: draw(st.integers(1, left[i])) for i in chosen}
        for i, units in refund.items():
            left[i] -= units
        refunds.append(refund)
    return lines, refunds


def _rows(lines: list[tuple[int, int, int]], refunds: list[dict[int, int]]) -> list[RefundedLine]:
    return [
        RefundedLine(f"L{i}", *lines[i], refunded_qty=units)
        for refund in refunds
        for i, units in refund.items()
    ]


@given(refunded_sales(), st.randoms(use_true_random=False))
def test_window_spend_is_what_the_refunds_themselves_gave_back(
    sale: tuple[list[tuple[int, int, int]], list[dict[int, int]]], rnd: random.Random
) -> None:
    """The spend a sale leaves is its total less the cash and points value that the
    refund quotes handed back, whatever the order of the rows."""
    lines, refunds = sale
    rules: RuleSet = default_rules()
    total = sum(cash + value for cash, value, _ in lines)
    sold = [SoldLine(f"L{i}", q, cash, 0, value, 0) for i, (cash, value, q) in enumerate(lines)]
    given_back = 0
    done: dict[str, int] = {}
    for refund in refunds:
        request = {f"L{i}": units for i, units in refund.items()}
        current = [
            SoldLine(
                s.line_id, s.quantity, s.cash_fen, 0, s.points_value_fen, 0, done.get(s.line_id, 0)
            )
            for s in sold
        ]
        quote = quote_refund(rules, current, request, balance=None)
        given_back += sum(q.cash_fen + q.points_value_fen for q in quote.lines)
        for line_id, units in request.items():
            done[line_id] = done.get(line_id, 0) + units
    rows = _rows(lines, refunds)
    rnd.shuffle(rows)
    assert window_spend_fen(total, rows) == total - given_back
    assert refunded_quantities((r.line_id, r.refunded_qty) for r in rows) == done
    fully = all(done.get(f"L{i}", 0) == q for i, (_, _, q) in enumerate(lines))
    if fully:
        assert window_spend_fen(total, rows) == 0


@given(refunded_sales(), st.integers(-10_000_000, 10_000_000))
def test_window_spend_never_negative_and_refunds_only_lower_it(
    sale: tuple[list[tuple[int, int, int]], list[dict[int, int]]], other_sales: int
) -> None:
    lines, refunds = sale
    total = max(0, sum(cash + value for cash, value, _ in lines) + other_sales)
    before = total
    for n in range(len(refunds) + 1):
        spend = window_spend_fen(total, _rows(lines, refunds[:n]))
        assert 0 <= spend <= before
        before = spend


entries_st = st.lists(
    st.tuples(st.sampled_from(ENTRY_KINDS), st.integers(-100_000, 100_000)), max_size=20
)


@given(entries_st)
def test_purchase_points_is_the_clamped_sum_of_the_purchase_kinds(
    rows: list[tuple[str, int]],
) -> None:
    expected = sum(p for kind, p in rows if kind in ("earn", "refund_reversal"))
    assert purchase_points(rows) == max(0, expected)
    assert purchase_points([*rows, ("bonus", 5), ("spend", -5)]) == purchase_points(rows)


@given(entries_st, entries_st)
def test_reversible_earned_points_within_what_the_sale_earned(
    sale: list[tuple[str, int]], moves: list[tuple[str, int]]
) -> None:
    reversible = reversible_earned_points(sale, moves)
    assert 0 <= reversible <= purchase_points(sale)
    without_expiry = [(k, p) for k, p in moves if k != "expire"]
    assert reversible_earned_points(sale, without_expiry) == purchase_points(sale)


@given(st.sampled_from(ENTRY_KINDS), st.integers(-1000, 1000).filter(bool))
def test_check_sign_follows_the_table(kind: str, points: int) -> None:
    sign = entry_kind(kind).sign
    fits = sign == "either" or (sign == "credit") == (points > 0)
    if fits:
        check_sign(kind, points)
    else:
        with pytest.raises(ValueError, match=f"a {kind} entry (adds|takes) points"):
            check_sign(kind, points)
