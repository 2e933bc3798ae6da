"""The review queue, members, rules and stores pages doing their work (real PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from pos_app.core.rules import default_rule_set
from pos_app.hq.console.models import FlagDecision
from pos_app.hq.models import AuditRecord, FlaggedRecord, LedgerEntry, MemberPhone, RuleSetVersion
from tests.hq.console.conftest import Console, overspend
from tests.hq.support import nothing_written


def audited(console: Console, action: str) -> list[AuditRecord]:
    with console.hq.db.read() as s:
        rows = list(s.scalars(select(AuditRecord).where(AuditRecord.action == action)))
        s.expunge_all()
        return rows


def entries_of(console: Console, member_id: str) -> list[LedgerEntry]:
    with console.hq.db.read() as s:
        rows = list(s.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id)))
        s.expunge_all()
        return rows


# -- review ------------------------------------------------------------------------------


def test_finance_approves_a_flag(console: Console) -> None:
    member_id, flag_id = overspend(console.hq)
    console.login("finance")
    page = console.client.get("/console/review")
    assert f'id="flag-{flag_id}"' in page.text
    assert "超额使用积分" in page.text
    before = entries_of(console, member_id)
    done = console.post(f"/console/review/flags/{flag_id}/approve", {"note": "till was offline"})
    assert done.status_code == 303
    assert [e.id for e in entries_of(console, member_id)] == [e.id for e in before]
    with console.hq.db.read() as s:
        assert s.get(FlaggedRecord, flag_id).resolved_at == console.hq.clock()
        assert s.get(FlagDecision, flag_id).decision == "approved"
    (row,) = audited(console, "flag.approved")
    assert row.actor == "console:finance"
    page = console.client.get("/console/review").text
    assert f'id="flag-{flag_id}"' not in page
    again = console.post(f"/console/review/flags/{flag_id}/approve")
    assert again.status_code == 409


def test_a_reversal_is_a_new_hq_adjustment_every_till_pulls(console: Console) -> None:
    member_id, flag_id = overspend(console.hq)
    balance = console.hq.member(member_id)["balance"]
    console.login("admin")
    with nothing_written(console.hq.db):
        bad = console.post(f"/console/review/flags/{flag_id}/reverse", {"points": "x", "note": "n"})
        assert bad.status_code == 400
        assert "积分须为整数" in bad.text
        no_reason = console.post(f"/console/review/flags/{flag_id}/reverse", {"points": "10"})
        assert no_reason.status_code == 400
        assert "needs a reason" in no_reason.text
    _, cursor = console.hq.pull_all(console.hq.till1)  # the till is up to date
    done = console.post(
        f"/console/review/flags/{flag_id}/reverse", {"points": "1500", "note": "goodwill"}
    )
    assert done.status_code == 303
    assert console.hq.member(member_id)["balance"] == balance + 1500
    (entry,) = [e for e in entries_of(console, member_id) if e.kind == "adjust"]
    assert entry.points == 1500
    assert entry.source_channel == "hq"
    assert entry.actor_id == "admin"
    changes, _cursor = console.hq.pull_all(console.hq.till1, cursor)
    assert any(c["topic"] == "entry" and c["data"]["id"] == entry.id for c in changes)
    with console.hq.db.read() as s:
        decision = s.get(FlagDecision, flag_id)
        assert (decision.decision, decision.entry_id) == ("reversed", entry.id)
    assert audited(console, "member.adjust")
    assert audited(console, "flag.reversed")


def test_a_held_adjustment_is_approved_from_the_queue(console: Console) -> None:
    hq = console.hq
    home, away = hq.till("001", "01"), hq.till("002", "01")
    member_id, registered = home.register("13912345678")
    hq.push_ok(hq.till1, registered)
    held = away.adjustment(member_id, 50)
    document = json.loads(default_rule_set().to_json())
    document["version"] = "2026.12-review"
    document["adjustments"]["out_of_region"] = "review"
    published = hq.client.post(
        "/v1/admin/rule-sets", json={"document": document}, headers=hq.headers(hq.admin)
    )
    assert published.status_code == 201, published.text
    (result,) = hq.push_ok(hq.till2, held)
    assert result["result"]["held_for_review"]
    console.login("finance")
    page = console.client.get("/console/review").text
    assert "/console/review/adjustments/" in page
    done = console.post(f"/console/review/adjustments/{held['id']}/approve")
    assert done.status_code == 303
    assert hq.member(member_id)["balance"] == 100 + 50
    assert audited(console, "adjustment_review.approved")[0].actor == "console:finance"


def test_refused_till_writes_are_listed(console: Console) -> None:
    hq = console.hq
    bad = hq.client.post("/v1/push", json={"events": "nope"}, headers=hq.headers(hq.till1))
    assert bad.status_code == 422
    console.login("viewer")
    page = console.client.get("/console/review").text
    assert "till:001-01" in page
    assert "/v1/push" in page


# -- members ---------------------------------------------------------------------------------


def test_find_a_member_by_phone_number_and_code(console: Console) -> None:
    from pos_app.core.codes import member_code

    member_id, _flag = overspend(console.hq)
    console.login("viewer")
    number = console.hq.member(member_id)["member_no"]
    for query in (
        "138 1234 5678",
        "+86 138-1234-5678",
        str(number),
        member_code(number),
        member_id,
    ):
        found = console.client.get("/console/members", params={"q": query}, follow_redirects=False)
        assert found.status_code == 303, query
        assert found.headers["location"] == f"/console/members/{member_id}"
    page = console.client.get(f"/console/members/{member_id}").text
    assert "138****5678" in page
    assert 'id="ledger"' in page
    assert 'id="lots"' in page
    missing = console.client.get("/console/members", params={"q": "13900000000"})
    assert missing.status_code == 404
    assert "没有找到" in missing.text
    bad = console.client.get("/console/members", params={"q": "+86 123"})
    assert bad.status_code == 400
    assert "not a valid mobile phone number" in bad.text
    assert console.client.get("/console/members/nobody").status_code == 404


def test_export_and_erase_keep_the_ledger_and_lose_the_person(console: Console) -> None:
    member_id, _flag = overspend(console.hq)
    before = console.hq.member(member_id)
    console.login("admin")
    export = console.client.get(f"/console/members/{member_id}/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    data = export.json()
    assert data["member"]["name"] == "张三"
    assert len(data["ledger"]) == len(entries_of(console, member_id))
    assert data["sales"]
    assert data["lots"]
    with nothing_written(console.hq.db):
        wrong = console.post(f"/console/members/{member_id}/erase", {"confirm": "someone"})
    assert wrong.status_code == 400
    _, cursor = console.hq.pull_all(console.hq.till1)  # the till is up to date
    erased = console.post(f"/console/members/{member_id}/erase", {"confirm": member_id})
    assert erased.status_code == 303
    after = console.hq.member(member_id)
    assert (after["name"], after["birthday"], after["phone_last4"]) == ("", None, "")
    assert after["balance"] == before["balance"]
    assert after["ledger_sum"] == before["ledger_sum"]
    with console.hq.db.read() as s:
        assert s.scalar(select(func.count()).select_from(MemberPhone)) == 0
    gone = console.client.get("/console/members", params={"q": "13812345678"})
    assert gone.status_code == 404
    changes, _cursor = console.hq.pull_all(console.hq.till1, cursor)
    pulled = [c["data"] for c in changes if c["topic"] == "member" and c["data"]["id"] == member_id]
    assert pulled[-1]["name"] == ""
    assert pulled[-1]["phone_last4"] == ""
    trail = audited(console, "member.erase") + audited(console, "member.export")
    assert len(trail) == 2
    assert "张三" not in json.dumps([r.detail for r in trail], ensure_ascii=False)


# -- rules -----------------------------------------------------------------------------------


def test_edit_simulate_and_publish_a_draft(console: Console) -> None:
    hq = console.hq
    console.login("marketing")
    created = console.post("/console/rules/drafts")
    assert created.status_code == 303
    path = created.headers["location"]
    draft = console.client.get(path).text
    assert 'id="valid"' in draft
    document = json.loads(
        draft.split('id="document"', 1)[1]
        .split(">", 1)[1]
        .split("</textarea>")[0]
        .replace("&#34;", '"')
        .replace("&quot;", '"')
        .replace("&amp;", "&")
    )
    document["earning"]["tier_multipliers"]["gold"] = -2
    bad = console.post(path, {"document": json.dumps(document)})
    assert bad.status_code == 400
    assert 'id="problem-field">earning.tier_multipliers.gold<' in bad.text
    with nothing_written(hq.db):
        refused = console.post(path + "/publish", {"activate": "yes"})
    assert refused.status_code == 400
    document["earning"]["tier_multipliers"]["gold"] = 3
    document["version"] = "2026.12-gold3"
    assert console.post(path, {"document": json.dumps(document)}).status_code == 303
    sim = console.post(path + "/simulate", {"basket": "TV:electronics:1:1000", "tier": "gold"})
    assert sim.status_code == 200
    cells = sim.text.split('id="simulation"')[1]
    assert '<td class="n">3000</td>' in cells
    assert '<td class="n">2000</td>' in cells
    assert "TV:electronics:1:2999" in console.client.get(path, params={"sample": "big"}).text
    bad_line = console.post(path + "/simulate", {"basket": "TV:1", "tier": "gold"})
    assert bad_line.status_code == 400
    assert "SKU:CATEGORY:QTY:PRICE" in bad_line.text
    published = console.post(path + "/publish", {"activate": "yes"})
    assert published.status_code == 303
    with hq.db.read() as s:
        active = s.scalars(select(RuleSetVersion).where(RuleSetVersion.active.is_(True))).one()
        assert active.version == "2026.12-gold3"
        assert s.scalar(select(func.count()).select_from(RuleSetVersion)) == 2
    changes, _cursor = hq.pull_all(hq.till1)
    assert any(
        c["topic"] == "rule_set" and c["data"]["version"] == "2026.12-gold3" for c in changes
    )
    assert console.client.get("/console/rules/versions/2026.12-gold3").status_code == 200
    assert console.post(path, {"document": "{}"}).status_code == 409
    assert [r.actor for r in audited(console, "rule_set.publish")] == ["console:marketing"]


# -- stores ----------------------------------------------------------------------------------


def test_stores_list_tills_and_an_admin_revokes_a_token(console: Console) -> None:
    hq = console.hq
    hq.push_ok(hq.till1, hq.till("001", "01").register("13712345678")[1])
    console.login("admin")
    page = console.client.get("/console/stores").text
    assert 'id="till-001-01"' in page
    assert 'id="till-002-01"' in page
    assert "从未同步" in page  # 002-01 never pushed
    with nothing_written(hq.db):
        unconfirmed = console.post("/console/tills/001-02/revoke")
    assert unconfirmed.status_code == 400
    assert "请勾选" in unconfirmed.text
    assert console.post("/console/tills/001-02/revoke", {"confirm": "yes"}).status_code == 303
    assert hq.client.get("/v1/me", headers=hq.headers(hq.till1b)).status_code == 401
    assert hq.client.get("/v1/me", headers=hq.headers(hq.till1)).status_code == 200
    assert console.post("/console/tills/001-02/revoke", {"confirm": "yes"}).status_code == 400
    assert console.post("/console/tills/009-01/revoke", {"confirm": "yes"}).status_code == 404
    assert audited(console, "till.revoke")[0].actor == "console:admin"


# -- mall ------------------------------------------------------------------------------------

GOOD_CSV = (
    "\ufeffid,name,points_price,cash_price_fen,stock,min_tier,level,active\r\n"
    "MUG,马克杯,300,,100,,low,yes\r\n"
    "EAR,蓝牙耳机,5000,1990,,gold,top,yes\r\n"
)


def upload(console: Console, body: str | bytes) -> object:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return console.client.post(
        "/console/mall/import",
        data={"csrf": console.csrf("/console/mall")},
        files={"file": ("items.csv", data, "text/csv")},
        follow_redirects=False,
    )


def test_mall_items_are_imported_from_csv(console: Console) -> None:
    hq = console.hq
    console.login("marketing")
    done = upload(console, GOOD_CSV)
    assert done.status_code == 303, done.text[-1500:]
    page = console.client.get("/console/mall").text
    assert 'id="item-MUG"' in page
    assert "蓝牙耳机" in page
    assert "¥19.90" in page
    changes, _cursor = hq.pull_all(hq.till1)
    pulled = {c["data"]["id"]: c["data"] for c in changes if c["topic"] == "mall_item"}
    assert pulled["EAR"]["min_tier"] == "gold"
    assert pulled["MUG"]["stock"] == 100
    assert [r.actor for r in audited(console, "mall_items.upsert")] == ["console:marketing"]
    again = upload(console, GOOD_CSV.replace("马克杯,300", "马克杯,350"))
    assert again.status_code == 303
    assert "350" in console.client.get("/console/mall").text


def test_a_bad_csv_names_each_problem_and_writes_nothing(console: Console) -> None:
    console.login("admin")
    cases = {
        "id,name,points_price\nMUG,马克杯,lots\nCUP,,10\nMUG,再来,5\n": (
            "line 2: points_price: not a whole number",
            "line 3: name: required",
        ),
        "id,name,points\nMUG,马克杯,300\n": ("unknown column(s) points",),
        "id,name,points_price,stock\nMUG,马克杯,300,-1\n": ("line 2: stock:",),
        "id,name,points_price\nA,杯,1\nA,杯,2\n": ("line 3: id: A is also on line 2",),
        "id,name,points_price\n": ("no rows",),
    }
    for body, expected in cases.items():
        with nothing_written(console.hq.db):
            refused = upload(console, body)
        assert refused.status_code == 400, body
        for text in expected:
            assert text in refused.text, (body, text)
    with nothing_written(console.hq.db):
        assert (
            upload(console, "id,name\n".encode("gb18030") + "杯".encode("gb18030")).status_code
            == 400
        )
