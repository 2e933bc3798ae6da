"""Scale label layouts (称重码) travel from HQ to the tills in the rule set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pos_app.core.rules import default_rule_set
from pos_app.core.scale import build_scale_label
from pos_app.services.context import open_till
from pos_app.services.scanning import WeighedItem, find_item
from pos_app.services.sync import PullApplier
from pos_app.services.till_session import ProductInput, upsert_products
from tests.hq.conftest import HQ

WEIGHT_LAYOUT = {"prefixes": ["21"], "item_digits": 5, "value": "weight", "value_digits": 5}


def _document(version: str, scale: dict[str, Any]) -> dict[str, Any]:
    document = default_rule_set().model_dump(mode="json")
    document["version"] = version
    document["scale"] = scale
    return document


def test_a_layout_published_at_hq_reads_labels_at_the_till(hq: HQ, tmp_path: Path) -> None:
    document = _document("2026.12-scales", {"layouts": [WEIGHT_LAYOUT], "max_weight_g": 9000})
    response = hq.client.post(
        "/v1/admin/rule-sets", json={"document": document}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 201, response.text
    changes, _ = hq.pull_all(hq.till1)
    (pulled,) = [c for c in changes if c["topic"] == "rule_set" and c["data"]["active"]]
    assert pulled["data"]["document"]["scale"]["layouts"][0]["value"] == "weight"

    ctx = open_till(tmp_path / "till.sqlite")
    try:
        with ctx.db.write() as session:
            applier = PullApplier(ctx, session)
            applier.apply_all([pulled])
        applier.after_commit()
        assert ctx.rules.version == "2026.12-scales"
        assert ctx.rules.scale.max_weight_g == 9000
        upsert_products(ctx, [ProductInput("00042", "散装花生", "fresh", 2400)])
        layout = ctx.rules.scale.layout_for("21")
        assert layout is not None
        found = find_item(ctx, build_scale_label(layout, "21", "42", 750))
        assert isinstance(found, WeighedItem)
        assert found.price_fen(member=False) == 1800  # 750 g x ¥24.00/kg
    finally:
        ctx.db.close()


def test_hq_refuses_a_bad_layout_naming_the_field(hq: HQ) -> None:
    bad = _document("bad-scale", {"layouts": [WEIGHT_LAYOUT | {"item_digits": 6}]})
    response = hq.client.post(
        "/v1/admin/rule-sets", json={"document": bad}, headers=hq.headers(hq.admin)
    )
    assert response.status_code == 400, response.text
    assert response.json()["facts"]["field"] == "scale.layouts[0].value_digits"
