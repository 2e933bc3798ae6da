"""HQ's notification job end to end on the real PostgreSQL, with each channel's real
library talking to a local stand-in of its provider: an aiosmtpd SMTP server, Tencent
Cloud's SMS API, WeChat's API."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, text

from pos_app.core.notify import KINDS, render
from pos_app.hq import notify
from pos_app.hq.channels import NotifyConfig, RateLimiter
from pos_app.hq.cli import main
from pos_app.hq.database import HQDatabase
from pos_app.hq.jobs import run_jobs
from pos_app.hq.ledger import active_rules
from pos_app.hq.notify import Reach
from tests.hq.conftest import HQ
from tests.hq.support import SHANGHAI, FakeTill, basket, put_items
from tests.hq.test_anniversary import publish_perks
from tests.support.standins import HttpStandIn, SmtpStandIn, http_standin, smtp_server

# The registration bonus of 2026-11-17 is valid through 2028-11-17: 20 days before.
EXPIRY_RUN = dt.datetime(2028, 10, 28, 10, 0, tzinfo=SHANGHAI)
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
# Members registered on 2026-11-17: their first anniversary bonus is posted in November 2027.
ANNIVERSARY_RUN = dt.datetime(2027, 11, 2, 10, 0, tzinfo=SHANGHAI)


@dataclass
class Providers:
    smtp: SmtpStandIn
    sms: HttpStandIn
    wechat: HttpStandIn
    config: NotifyConfig


@pytest.fixture
def providers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Providers]:
    monkeypatch.setenv("TEST_SMS_KEY", "sms-secret")
    monkeypatch.setenv("TEST_WX_SECRET", "wx-secret")
    with smtp_server() as smtp, http_standin("sms") as sms, http_standin("wechat") as wechat:
        templates = {k: f"10{i}" for i, k in enumerate(KINDS)}
        config = NotifyConfig.model_validate(
            {
                "mall_url": "https://mall.example.com/m",
                "max_attempts": 3,
                "backoff_seconds": 60,
                "email": {
                    "host": smtp.host,
                    "port": smtp.port,
                    "sender": "no-reply@example.com",
                    "sender_name": "积分生活",
                    "security": "none",
                    "per_second": 1000,
                },
                "sms": {
                    "endpoint": sms.address,
                    "protocol": "http",
                    "secret_id": "AKID-test",
                    "secret_key_env": "TEST_SMS_KEY",
                    "sdk_app_id": "1400000001",
                    "sign_name": "积分生活",
                    "templates": templates,
                    "per_second": 1000,
                },
                "wechat": {
                    "appid": "wx-test",
                    "secret_env": "TEST_WX_SECRET",
                    "api_base_url": f"http://{wechat.address}/cgi-bin/",
                    "templates": {
                        "points_expiring": {
                            "id": "TPL-EXP",
                            "fields": {"number1": "points", "time2": "date"},
                        }
                    },
                    "per_second": 1000,
                },
            }
        )
        yield Providers(smtp, sms, wechat, config)


def member_with(
    hq: HQ,
    phone: str,
    *channels: str,
    marketing: bool = True,
    contacts: dict[str, str] | None = None,
    notify_earned: bool = False,
    till: FakeTill | None = None,
) -> str:
    """A member registered at till 001-01 with this consent, and addresses from the app."""
    till = till or hq.till("001", "01")
    member_id, registered = till.register(phone)
    registered["payload"]["consent"] = {
        "marketing": marketing,
        "channels": list(channels),
        "notify_earned": notify_earned,
        "stated_at": hq.clock().isoformat(),
    }
    hq.push_ok(hq.till1, registered)
    given = contacts if contacts is not None else {"sms": phone, "email": f"m{phone}@example.com"}
    response = hq.client.put(
        f"/v1/channel/mall/members/{member_id}/contacts", json=given, headers=hq.headers(hq.mall)
    )
    assert response.status_code == 200, response.text
    return member_id


def statuses(db: HQDatabase) -> list[tuple[str, str, str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT member_id, kind, channel, status FROM notifications ORDER BY 1, 2, 3")
        )
        return [tuple(r) for r in rows]


def test_expiring_points_reach_the_member_once_whatever_the_reruns(
    hq: HQ, providers: Providers
) -> None:
    keen = member_with(hq, "13811110001", "sms", "email")
    refused = member_with(hq, "13811110002", marketing=False)
    reach = Reach(providers.config, hq.master)
    first = run_jobs(hq.db, EXPIRY_RUN, reach)
    assert (first.notifications_planned, first.notifications_sent) == (2, 2)
    run_jobs(hq.db, EXPIRY_RUN + dt.timedelta(hours=1), reach)  # the next run
    # HQ restarted: a new database object, a new job
    again = HQDatabase(hq.db.url)
    try:
        report = run_jobs(
            again, EXPIRY_RUN + dt.timedelta(hours=2), Reach(providers.config, hq.master)
        )
    finally:
        again.close()
    assert (report.notifications_planned, report.notifications_sent) == (0, 0)
    (sms,) = providers.sms.script.received
    assert sms["PhoneNumberSet"] == ["+8613811110001"]
    assert sms["TemplateId"] == "100"
    assert sms["SignName"] == "积分生活"
    assert sms["TemplateParamSet"] == [
        "100",
        "2028年11月17日",
        "20",
        "积分生活超市 一号店",
        "https://mall.example.com/m",
    ]
    ((to, mail),) = providers.smtp.messages
    assert to == ["m13811110001@example.com"]
    assert mail["Subject"] == "积分即将到期提醒"
    body = mail.get_content()
    assert "100 积分将于 2028年11月17日 到期" in body
    assert "https://mall.example.com/m" in body
    assert statuses(hq.db) == [
        (keen, "points_expiring", "email", "sent"),
        (keen, "points_expiring", "sms", "sent"),
    ]
    assert refused not in {row[0] for row in statuses(hq.db)}


def test_seven_days_before_a_second_reminder_and_no_channel_without_consent(
    hq: HQ, providers: Providers
) -> None:
    member = member_with(hq, "13811110003", "email")  # sms not chosen: the phone is not used
    reach = Reach(providers.config, hq.master)
    run_jobs(hq.db, EXPIRY_RUN, reach)
    run_jobs(hq.db, EXPIRY_RUN + dt.timedelta(days=15), reach)  # 5 days left
    with hq.db.engine.connect() as conn:
        periods = (
            conn.execute(text("SELECT period FROM notifications ORDER BY period")).scalars().all()
        )
    assert periods == ["30d:2028-11-17", "7d:2028-11-17"]
    assert providers.sms.script.received == []
    assert [m.get_content().count("5 天") for _, m in providers.smtp.messages] == [0, 1]
    assert {row[0] for row in statuses(hq.db)} == {member}


def test_withdrawal_stops_what_is_queued_and_quiet_hours_hold_it(
    hq: HQ, providers: Providers
) -> None:
    member = member_with(hq, "13811110004", "sms", "email")
    late = EXPIRY_RUN.replace(hour=22)  # in quiet hours (21:00-09:00)
    with hq.db.transaction() as s:
        rules = active_rules(s)
        written = notify.write_plan(s, rules, late, notify.plan(s, rules, late, "").planned)
    assert written == 2
    reach = Reach(providers.config, hq.master)
    assert reach.run(hq.db, late) == (0, 0)  # nothing leaves at night
    response = hq.client.put(
        f"/v1/channel/mall/members/{member}/consent",
        json={
            "id": "w",
            "marketing": False,
            "channels": ["email"],
            "stated_at": hq.clock().isoformat(),
        },
        headers=hq.headers(hq.mall),
    )
    assert response.status_code == 200
    morning = late + dt.timedelta(hours=11, minutes=30)
    notify.send_due(hq.db, hq.master, providers.config.channels(), morning)
    assert providers.sms.script.received == []
    assert len(providers.smtp.messages) == 1
    assert statuses(hq.db) == [
        (member, "points_expiring", "email", "sent"),
        (member, "points_expiring", "sms", "withdrawn"),
    ]


def test_provider_errors_retry_with_backoff_and_a_rejected_template_is_kept(
    hq: HQ, providers: Providers
) -> None:
    busy = member_with(hq, "13811110005", "sms")
    refused_tpl = member_with(hq, "13811110006", "wechat", contacts={"wechat": OPENID})
    mailbox = member_with(hq, "13811110007", "email")
    providers.sms.script.answers += ["request:RequestLimitExceeded", "http:502"]
    providers.wechat.script.answers += [40037]
    providers.smtp.script.answers += ["451 4.3.0 mailbox busy"]
    channels = providers.config.channels()
    with hq.db.transaction() as s:
        rules = active_rules(s)
        notify.write_plan(s, rules, EXPIRY_RUN, notify.plan(s, rules, EXPIRY_RUN, "").planned)
    first = notify.send_due(hq.db, hq.master, channels, EXPIRY_RUN)
    assert (first.sent, first.retry, first.rejected) == (0, 2, 1)
    soon = notify.send_due(hq.db, hq.master, channels, EXPIRY_RUN + dt.timedelta(seconds=30))
    assert soon.as_dict() == notify.SendReport().as_dict()  # backing off: nothing is due
    second = notify.send_due(hq.db, hq.master, channels, EXPIRY_RUN + dt.timedelta(seconds=61))
    assert (second.sent, second.retry) == (1, 1)  # the mail; the SMS gateway 502
    third = notify.send_due(hq.db, hq.master, channels, EXPIRY_RUN + dt.timedelta(seconds=182))
    assert third.sent == 1
    with hq.db.engine.connect() as conn:
        rows = {
            r.member_id: r
            for r in conn.execute(
                text(
                    "SELECT member_id, status, attempts, last_error, provider_ref FROM notifications"
                )
            )
        }
    assert (rows[busy].status, rows[busy].attempts) == ("sent", 3)
    assert rows[busy].provider_ref.startswith("2640:")
    assert (rows[refused_tpl].status, rows[refused_tpl].attempts) == ("rejected", 1)
    assert "40037" in rows[refused_tpl].last_error
    assert (rows[mailbox].status, rows[mailbox].attempts) == ("sent", 2)
    assert len(providers.sms.script.received) == 1
    assert len(providers.smtp.messages) == 1
    assert providers.wechat.script.received == []


def test_retries_end_and_a_failed_address_is_not_retried(hq: HQ, providers: Providers) -> None:
    member_with(hq, "13811110008", "sms")
    member_with(hq, "13811110009", "email")
    providers.sms.script.answers += ["request:InternalError"] * 3
    providers.smtp.script.answers += ["550 5.1.1 no such user"]
    channels = providers.config.channels()
    with hq.db.transaction() as s:
        rules = active_rules(s)
        notify.write_plan(s, rules, EXPIRY_RUN, notify.plan(s, rules, EXPIRY_RUN, "").planned)
    at = EXPIRY_RUN
    for _ in range(4):
        notify.send_due(hq.db, hq.master, channels, at, max_attempts=3)
        at += dt.timedelta(hours=1)
    assert sorted(status for *_, status in statuses(hq.db)) == ["failed", "failed"], statuses(hq.db)
    assert providers.sms.script.received == []
    assert providers.smtp.messages == []


def test_a_crash_while_sending_never_sends_twice(hq: HQ, providers: Providers) -> None:
    member_with(hq, "13811110010", "email")
    channels = providers.config.channels()
    with hq.db.transaction() as s:
        rules = active_rules(s)
        notify.write_plan(s, rules, EXPIRY_RUN, notify.plan(s, rules, EXPIRY_RUN, "").planned)
    claimed = notify.claim(hq.db, hq.master, channels, EXPIRY_RUN, notify.SendReport())
    assert len(claimed) == 1  # ... and the process dies before it records the answer
    report = notify.send_due(hq.db, hq.master, channels, EXPIRY_RUN + dt.timedelta(hours=1))
    assert (report.unknown, report.sent) == (1, 0)
    assert providers.smtp.messages == []
    assert [status for *_, status in statuses(hq.db)] == ["unknown"]


def test_marketing_kinds_respect_consent_and_the_weekly_cap(hq: HQ, providers: Providers) -> None:
    # 2027-03-17: member day (the 18th) is tomorrow
    eve = dt.datetime(2027, 3, 17, 10, 0, tzinfo=SHANGHAI)
    fan = member_with(hq, "13811110011", "sms", "email")
    quiet = member_with(hq, "13811110012", "sms", marketing=False)
    with hq.db.transaction() as s:
        rules = active_rules(s)
        report = notify.plan(s, rules, eve, "https://m")
        notify.write_plan(s, rules, eve, report.planned)
    assert {(p.member_id, p.kind, p.channel) for p in report.planned} == {
        (fan, "member_day", "sms"),
        (fan, "member_day", "email"),
    }
    assert report.planned[0].params == {
        "date": "3月18日",
        "promotion": "会员日",
        "multiplier": "2",
        "mall_url": "https://m",
    }
    assert quiet not in {p.member_id for p in report.planned}
    # the cap (3 a week by default) holds back the fourth marketing message
    with hq.db.engine.begin() as conn:
        for i in range(2):
            conn.execute(
                text(
                    "INSERT INTO notifications (member_id, id, kind, period, channel, marketing, params, "
                    "status, attempts, created_at, next_attempt_at) VALUES (:m, :id, 'tier_near', :p, "
                    "'sms', true, '{}', 'sent', 1, :at, :at)"
                ),
                {"m": fan, "id": f"x{i}", "p": f"p{i}", "at": eve},
            )
    april = dt.datetime(2027, 4, 17, 10, 0, tzinfo=SHANGHAI)
    with hq.db.read() as s:
        assert len(notify.plan(s, active_rules(s), april, "").planned) == 2  # a month on
    with hq.db.engine.begin() as conn:
        conn.execute(text("UPDATE notifications SET created_at = :at"), {"at": april})
    with hq.db.read() as s:
        capped = notify.plan(s, active_rules(s), april, "")
    assert (capped.planned, capped.capped) == ([], 1)


def test_close_to_the_next_tier_and_points_earned_use_the_core_formulas(hq: HQ) -> None:
    till = hq.till("001", "01")
    member = member_with(hq, "13811110013", "sms", notify_earned=True, till=till)
    hq.push_ok(hq.till1, till.sale(member, basket(150)))  # first purchase: x5, 750 points
    with hq.db.read() as s:
        report = notify.plan(s, active_rules(s), hq.clock() + dt.timedelta(hours=1), "https://m")
    by_kind = {p.kind: p for p in report.planned}
    tier = by_kind["tier_near"]
    assert tier.params == {
        "spend": "¥150.00",
        "points": "250",
        "tier": "银卡会员",
        "mall_url": "https://m",
    }
    assert render("tier_near", tier.params).startswith(
        "再消费 ¥150.00 或再得 250 积分即可升级银卡会员"
    )
    assert tier.period == "2026-11:silver"
    earned = by_kind["points_earned"]
    assert earned.params["points"] == "750"
    assert earned.params["balance"] == "850"
    assert earned.params["store"] == "积分生活超市 一号店"


def test_dry_run_and_preview_from_the_command_line(
    hq: HQ, capsys: pytest.CaptureFixture[str]
) -> None:
    member = member_with(hq, "13811110014", "sms", "email")
    now = EXPIRY_RUN.isoformat()
    assert main(["notify", "--db", hq.db.url, "--now", now, "--dry-run"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["points_expiring.sms"] == 1
    assert shown["points_expiring.email"] == 1
    assert {w["member_id"] for w in shown["would_send"]} == {member}
    assert statuses(hq.db) == []  # a dry run writes nothing
    assert (
        main(["notify", "--db", hq.db.url, "--now", now, "--preview", "points_expiring", member])
        == 0
    )
    preview = json.loads(capsys.readouterr().out)
    assert preview["text"].startswith("尊敬的会员，您有 100 积分将于 2028年11月17日 到期")
    assert preview["allowed"] == {"sms": True, "wechat": False, "email": True}
    assert main(["notify", "--db", hq.db.url, "--now", now, "--preview", "lottery", member]) == 1
    assert "unknown kind" in capsys.readouterr().err
    missing = ["notify", "--db", hq.db.url, "--notify-config", "/nonexistent/notify.json"]
    assert main(missing) == 2
    assert "notification config /nonexistent/notify.json" in capsys.readouterr().err
    assert main(["notify", "--db", hq.db.url, "--now", "2028-10-28T10:00", "--dry-run"]) == 2


def test_rate_limit_spaces_the_sends() -> None:
    limiter = RateLimiter(50)
    start = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - start >= 0.09


def _captured_selects(db: HQDatabase, work: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return seen


def test_planning_queries_use_indexes_not_member_sized_scans(hq: HQ) -> None:
    publish_perks(hq)
    put_items(hq, {"id": "CUP", "name": "保温杯", "points_price": 800, "category": "home"})
    till = hq.till("001", "01")
    member = member_with(hq, "13811110015", "sms", notify_earned=True, till=till)
    hq.push_ok(hq.till1, till.sale(member, basket(150, category="home")))
    run_jobs(hq.db, ANNIVERSARY_RUN)  # posts the bonus the anniversary notice reads

    def planning() -> None:
        with hq.db.read() as s:
            notify.plan(s, active_rules(s), EXPIRY_RUN, "")
            notify.plan(s, active_rules(s), hq.clock() + dt.timedelta(hours=1), "")
            notify.plan(s, active_rules(s), ANNIVERSARY_RUN, "")

    member_sized = (
        "members",
        "lots",
        "ledger_entries",
        "sales",
        "sale_lines",
        "notifications",
        "member_contacts",
    )
    statements = _captured_selects(hq.db, planning)
    assert len(statements) > 10
    read = "\n".join(sql for sql, _ in statements)
    assert "sale_lines.category" in read  # the mall reminder's categories were read
    assert "ledger_entries.reason" in read  # the anniversary notice's query was read
    with hq.db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")  # a seq scan left: no usable index
        for sql, params in statements:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
            scanned = [
                t
                for t in member_sized
                if f"Seq Scan on {t}_p" in plan or f"Seq Scan on {t} " in plan
            ]
            assert not scanned, f"{scanned} scanned by:\n{sql}\n{plan}"


def sent_of(providers: Providers, kind: str) -> tuple[list[list[str]], list[str]]:
    """The SMS parameter lists and e-mail bodies of ``kind`` the stand-ins received."""
    template = providers.config.sms.templates[kind] if providers.config.sms else ""
    sms = [
        r["TemplateParamSet"] for r in providers.sms.script.received if r["TemplateId"] == template
    ]
    mails = [
        m.get_content() for _, m in providers.smtp.messages if m["Subject"] == KINDS[kind].title
    ]
    return sms, mails


def test_enough_points_for_an_item_of_the_category_they_buy_once_per_item_and_month(
    hq: HQ, providers: Providers
) -> None:
    put_items(
        hq,
        {"id": "CUP", "name": "保温杯", "points_price": 800, "category": "home", "stock": 5},
        {"id": "KETTLE", "name": "电水壶", "points_price": 5000, "category": "home"},
        {"id": "GONE", "name": "旧款杯", "points_price": 850, "category": "home", "stock": 0},
        {
            "id": "SOON",
            "name": "新款杯",
            "points_price": 820,
            "category": "home",
            "available_from": (hq.clock() + dt.timedelta(days=3)).isoformat(),
        },
        {"id": "RICE", "name": "大米", "points_price": 100, "category": "food"},
    )
    till = hq.till("001", "01")
    fan = member_with(hq, "13811110021", "sms", "email", till=till)
    opted_out = member_with(hq, "13811110022", "sms", "email", marketing=False, till=till)
    short = member_with(hq, "13811110023", "sms", "email", till=till)
    hq.push_ok(
        hq.till1,
        till.sale(fan, basket(150, category="home")),  # first purchase x5: 750, balance 850
        till.sale(opted_out, basket(150, category="home")),
        till.sale(short, basket(10, category="home")),  # 50 points: 150, below the cup's 800
    )
    reach = Reach(providers.config, hq.master)
    after = hq.clock() + dt.timedelta(hours=1)
    run_jobs(hq.db, after, reach)
    again = HQDatabase(hq.db.url)  # HQ restarted: the second run writes and sends nothing new
    try:
        second = run_jobs(again, after + dt.timedelta(hours=2), Reach(providers.config, hq.master))
    finally:
        again.close()
    assert (second.notifications_planned, second.notifications_sent) == (0, 0)
    sms, mails = sent_of(providers, "mall_affordable")
    assert sms == [["保温杯", "800", "850", "https://mall.example.com/m"]]
    assert len(mails) == 1
    assert "“保温杯”只需 800 积分，您现有 850 积分" in mails[0]
    assert "https://mall.example.com/m" in mails[0]
    mall_rows = [r for r in statuses(hq.db) if r[1] == "mall_affordable"]
    assert mall_rows == [
        (fan, "mall_affordable", "email", "sent"),
        (fan, "mall_affordable", "sms", "sent"),
    ]
    with hq.db.engine.connect() as conn:
        periods = (
            conn.execute(
                text("SELECT DISTINCT period FROM notifications WHERE kind = 'mall_affordable'")
            )
            .scalars()
            .all()
        )
    assert periods == ["2026-11:CUP"]
    with hq.db.read() as s:
        shown = notify.preview(s, active_rules(s), after, "mall_affordable", fan, "https://m")
    assert shown["marketing"] is True
    assert shown["allowed"] == {"sms": True, "wechat": False, "email": True}
    assert shown["text"].startswith("您常买的品类有好物可兑：“保温杯”只需 800 积分")
    with hq.db.read() as s, pytest.raises(LookupError):
        notify.preview(s, active_rules(s), after, "mall_affordable", short, "")


def test_the_anniversary_bonus_is_told_once_a_year(
    hq: HQ, providers: Providers, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_perks(hq)  # regular members: 100 points a year
    told = member_with(hq, "13811110031", "sms", "email", marketing=False)  # transactional
    till = hq.till("001", "01")
    silent, registered = till.register("13811110032")  # no consent recorded: nothing
    hq.push_ok(hq.till1, registered)
    reach = Reach(providers.config, hq.master)
    dry = ["notify", "--db", hq.db.url, "--now", ANNIVERSARY_RUN.isoformat(), "--dry-run"]
    first = run_jobs(hq.db, ANNIVERSARY_RUN, reach)
    assert first.anniversary_bonuses == 2
    assert main(dry) == 0
    assert json.loads(capsys.readouterr().out)["already_planned"] == 1
    for later in (dt.timedelta(hours=3), dt.timedelta(days=1), dt.timedelta(days=20)):
        run_jobs(hq.db, ANNIVERSARY_RUN + later, reach)
    balance = hq.member(told)["balance"]
    sms, mails = sent_of(providers, "anniversary_bonus")
    assert sms == [["1", "100", str(balance)]]
    assert len(mails) == 1
    assert mails[0].strip() == (
        f"感谢您成为会员满 1 年！会员周年礼 100 积分已存入您的账户，当前积分 {balance}。"
    )
    rows = [r for r in statuses(hq.db) if r[1] == "anniversary_bonus"]
    assert rows == [
        (told, "anniversary_bonus", "email", "sent"),
        (told, "anniversary_bonus", "sms", "sent"),
    ]
    assert silent not in {r[0] for r in statuses(hq.db)}
    next_year = run_jobs(hq.db, ANNIVERSARY_RUN.replace(year=2028), reach)
    assert next_year.anniversary_bonuses == 2
    sms, _ = sent_of(providers, "anniversary_bonus")
    assert [p[0] for p in sms] == ["1", "2"]
    preview = ["notify", "--db", hq.db.url, "--now", ANNIVERSARY_RUN.replace(year=2028).isoformat()]
    assert main([*preview, "--preview", "anniversary_bonus", told]) == 0
    assert json.loads(capsys.readouterr().out)["text"].startswith("感谢您成为会员满 2 年！")


def test_templates_for_unknown_kinds_are_refused(providers: Providers) -> None:
    document = providers.config.model_dump()
    document["sms"]["templates"]["mall_afordable"] = "999"
    with pytest.raises(ValueError, match=r"unknown kinds \['mall_afordable'\]"):
        NotifyConfig.model_validate(document)
    document = providers.config.model_dump()
    document["wechat"]["templates"]["anniversary_bonus"] = {"id": "T", "fields": {"n1": "yeras"}}
    with pytest.raises(ValueError, match="unknown variables"):
        NotifyConfig.model_validate(document)
