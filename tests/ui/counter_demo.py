"""Weighed goods for the demo till: scale layouts in the rule set and loose products.

Price labels on prefix 20 (the scale prints the price), weight labels on 21 (the till
prices the weight); shared by the UI tests and scripts/screenshots.py.
"""

from __future__ import annotations

import json

from pos_app.core.rules import RuleSet, default_rule_set, load_rule_set
from pos_app.core.scale import build_scale_label
from pos_app.services.context import TillContext
from pos_app.services.till_session import ProductInput, upsert_products

SCALE_SECTION = {
    "layouts": [
        {"prefixes": ["20"], "item_digits": 5, "value": "price", "value_digits": 5},
        {"prefixes": ["21"], "item_digits": 5, "value": "weight", "value_digits": 5},
    ],
    "max_weight_g": 30000,
}

#: Prices per kilogram (members pay the second price).
LOOSE_GOODS = (
    ProductInput("10001", "红富士苹果(散装)", "fresh", 1160, member_price_fen=980),
    ProductInput("10002", "精品五花肉", "fresh", 3260),
    ProductInput("10003", "散装坚果押金", "deposit", 1000),
)


def scale_rules() -> RuleSet:
    """The default rule set with price labels on 20 and weight labels on 21."""
    doc = json.loads(default_rule_set().to_json())
    doc["version"] = "2026.12-scales"
    doc["scale"] = SCALE_SECTION
    return load_rule_set(doc)


def add_scale_goods(ctx: TillContext) -> None:
    """Install :func:`scale_rules` and the loose goods on ``ctx``'s till."""
    ctx.install_rule_set(scale_rules())
    upsert_products(ctx, LOOSE_GOODS)


def weight_label(item_code: str, grams: int) -> str:
    """A weight label (prefix 21) as the scale prints it."""
    layout = scale_rules().scale.layout_for("21")
    assert layout is not None
    return build_scale_label(layout, "21", item_code, grams)


def price_label(item_code: str, fen: int) -> str:
    """A price label (prefix 20) as the scale prints it."""
    layout = scale_rules().scale.layout_for("20")
    assert layout is not None
    return build_scale_label(layout, "20", item_code, fen)
