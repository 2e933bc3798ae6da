"""Rule sets in the console: drafts, validation, simulation, publication.

A draft is a rule set document being edited. Saving it validates it with the core's
:func:`pos_app.core.rules.load_rule_set`: a bad document is still kept (so no work is
lost) and the page names the field and the problem. Simulation quotes sample baskets
with :func:`pos_app.core.quote.quote_basket` under the draft and under the active rule
set, side by side. Publishing goes through :func:`pos_app.hq.admin.publish_rule_set`,
which keeps every version (``rule_set_versions``) and lets tills pull it. A draft may
instead be scheduled (``console_rule_schedules``, a copy of its document): ``pos-hq
run-jobs`` publishes it once its time has come (:func:`publish_due`); until then it can
be cancelled.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_app.core.errors import LoyaltyError, RuleSetError
from pos_app.core.quote import MemberContext, Quote, parse_basket_line, quote_basket
from pos_app.core.rules import RuleSet, load_rule_set
from pos_app.hq import audit
from pos_app.hq.admin import publish_rule_set
from pos_app.hq.console.models import RuleDraft, RuleSchedule
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, Conflict, HQError, NotFound
from pos_app.hq.ledger import active_rules
from pos_app.hq.models import RuleSetVersion
from pos_app.hq.security import new_id

MAX_DOCUMENT = 200_000
SAMPLE_BASKETS = {
    "small": "TEA:food:1:30",
    "weekly": "RICE:food:2:59.9\nOIL:food:1:79\nSOAP:household:3:12.5",
    "big": "TV:electronics:1:2999\nCABLE:electronics:2:49:10",
}


@dataclass(frozen=True)
class Problem:
    """What is wrong with a draft: the field and the problem, in the core's words."""

    field: str
    problem: str


def check(document: str) -> tuple[RuleSet | None, Problem | None]:
    """The rule set ``document`` describes, or the problem with it."""
    try:
        return load_rule_set(document), None
    except RuleSetError as exc:
        return None, Problem(exc.field, exc.problem)


def _detached(db: HQDatabase, model: Any, key: str, missing: str) -> Any:
    """The row of ``model`` with primary key ``key``, readable after its transaction.

    Raises:
        NotFound: no such row (``missing`` says what).
    """
    with db.read() as s:
        row = s.get(model, key)
        if row is None:
            raise NotFound(missing)
        s.expunge_all()
        return row


def versions(db: HQDatabase) -> list[RuleSetVersion]:
    """Every published version, newest first."""
    with db.read() as s:
        rows = list(s.scalars(select(RuleSetVersion).order_by(RuleSetVersion.published_at.desc())))
        s.expunge_all()  # read on after the transaction ends
        return rows


def version(db: HQDatabase, name: str) -> RuleSetVersion:
    """One published version.

    Raises:
        NotFound: no such version.
    """
    row: RuleSetVersion = _detached(db, RuleSetVersion, name, f"no rule set version {name}")
    return row


def drafts(db: HQDatabase) -> list[RuleDraft]:
    """Drafts not yet published, newest first."""
    with db.read() as s:
        rows = list(
            s.scalars(
                select(RuleDraft)
                .where(RuleDraft.published_version.is_(None))
                .order_by(RuleDraft.updated_at.desc())
            )
        )
        s.expunge_all()
        return rows


def draft(db: HQDatabase, draft_id: str) -> RuleDraft:
    """One draft.

    Raises:
        NotFound: no such draft.
    """
    row: RuleDraft = _detached(db, RuleDraft, draft_id, f"no draft {draft_id}")
    return row


def new_draft(db: HQDatabase, base: str | None, now: dt.datetime, *, actor: str) -> str:
    """A draft copied from published version ``base`` (the active one by default).

    Raises:
        NotFound: no such version.
    """
    with db.write() as s:
        if base:
            row = s.get(RuleSetVersion, base)
            if row is None:
                raise NotFound(f"no rule set version {base}")
            document, base_version = row.document, row.version
        else:
            rules = active_rules(s)
            document, base_version = rules.to_json(), rules.version
        draft_id = new_id("rd")[:32]
        s.add(
            RuleDraft(
                id=draft_id,
                document=document,
                base_version=base_version,
                updated_by=actor,
                updated_at=now,
                published_version=None,
            )
        )
        s.flush()
        audit.record(s, now, actor, "rule_draft.create", draft_id, base=base_version)
        return draft_id


def save_draft(
    db: HQDatabase, draft_id: str, document: str, now: dt.datetime, *, actor: str
) -> Problem | None:
    """Keep ``document`` in the draft; returns what is wrong with it, if anything.

    Raises:
        NotFound: no such draft.
        Conflict: the draft was published already.
        BadRequest: the document is over :data:`MAX_DOCUMENT` characters.
    """
    if len(document) > MAX_DOCUMENT:
        raise BadRequest(f"a rule set document has at most {MAX_DOCUMENT} characters")
    _rules, problem = check(document)
    with db.write() as s:
        row = _editable(s, draft_id)
        row.document, row.updated_by, row.updated_at = document, actor, now
        s.flush()
        audit.record(
            s,
            now,
            actor,
            "rule_draft.save",
            draft_id,
            valid=problem is None,
            field=problem.field if problem else None,
        )
    return problem


def _editable(s: Session, draft_id: str) -> RuleDraft:
    row = s.get(RuleDraft, draft_id)
    if row is None:
        raise NotFound(f"no draft {draft_id}")
    if row.published_version is not None:
        raise Conflict(f"draft {draft_id} was published as {row.published_version}")
    return row


def publish(db: HQDatabase, draft_id: str, activate: bool, now: dt.datetime, *, actor: str) -> str:
    """Publish a valid draft as a new version (and make it the active one).

    Raises:
        NotFound: no such draft.
        BadRequest: the draft is not a valid rule set (the message names the field).
        Conflict: its version is already published with another document.
    """
    row = draft(db, draft_id)
    if row.published_version is not None:
        raise Conflict(f"draft {draft_id} was published as {row.published_version}")
    rules, problem = check(row.document)
    if problem is not None or rules is None:
        assert problem is not None
        raise BadRequest(f"{problem.field}: {problem.problem}")
    publish_rule_set(db, json.loads(rules.to_json()), activate, now, actor=actor)
    with db.write() as s:
        _editable(s, draft_id).published_version = rules.version
    return rules.version


# -- simulation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulation:
    """A basket quoted under the draft and under the active rule set."""

    draft: Quote | None
    active: Quote
    draft_error: str | None


def simulate(
    db: HQDatabase,
    document: str,
    basket_text: str,
    tier: str,
    at: dt.datetime,
    balance: int = 0,
) -> Simulation:
    """Quote ``basket_text`` (one ``SKU:CATEGORY:QTY:PRICE[:DISCOUNT][:reward]`` a line)
    for a member of ``tier`` at ``at``, using the largest points allowed out of
    ``balance``.

    Raises:
        BadRequest: a bad basket line, tier or balance (the message says which).
    """
    try:
        lines = [parse_basket_line(t) for t in basket_text.splitlines() if t.strip()]
    except LoyaltyError as exc:
        raise BadRequest(exc.message()) from None
    if not lines:
        raise BadRequest("a basket needs at least one line")
    if balance < 0:
        raise BadRequest("the balance is a whole number of points, 0 or more")
    with db.read() as s:
        current = active_rules(s)
    rules, problem = check(document)
    draft_quote = None
    error = f"{problem.field}: {problem.problem}" if problem else None
    if rules is not None:
        draft_quote, error = _quote(rules, lines, tier, at, balance)
    active_quote, active_error = _quote(current, lines, tier, at, balance)
    if active_quote is None:
        raise BadRequest(active_error or "the basket cannot be quoted")
    return Simulation(draft_quote, active_quote, error)


def _quote(
    rules: RuleSet, lines: list[Any], tier: str, at: dt.datetime, balance: int
) -> tuple[Quote | None, str | None]:
    if tier not in rules.tier_codes():
        return None, f"tier {tier!r} is not in rule set {rules.version}"
    member = MemberContext(member_id="simulated", tier=tier, balance=balance)
    try:
        most = quote_basket(rules, lines, member=member, at=at).max_usable_points
        return quote_basket(rules, lines, member=member, at=at, points_to_use=most), None
    except LoyaltyError as exc:
        return None, exc.message()


# -- scheduling ----------------------------------------------------------------------------


def schedule(
    db: HQDatabase,
    draft_id: str,
    publish_at: dt.datetime,
    activate: bool,
    now: dt.datetime,
    *,
    actor: str,
) -> str:
    """Schedule a valid draft's document to be published at ``publish_at`` (by
    :func:`publish_due`, which ``pos-hq run-jobs`` runs); returns the schedule's id.

    Raises:
        NotFound: no such draft.
        BadRequest: the draft is invalid, or ``publish_at`` is not in the future
            (the message names the field).
        Conflict: its version is published with another document, or already scheduled.
    """
    row = draft(db, draft_id)
    rules, problem = check(row.document)
    if problem is not None or rules is None:
        assert problem is not None
        raise BadRequest(f"{problem.field}: {problem.problem}")
    if publish_at <= now:
        raise BadRequest(f"publish_at: {publish_at.isoformat()} is not in the future")
    text = rules.to_json()
    with db.write() as s:
        published = s.get(RuleSetVersion, rules.version)
        if published is not None and published.document != text:
            raise Conflict(f"version: {rules.version} is already published: name a new version")
        if _scheduled(s, rules.version):
            raise Conflict(f"version: {rules.version} is already scheduled: cancel it first")
        schedule_id = new_id("rs")
        s.add(
            RuleSchedule(
                id=schedule_id,
                draft_id=draft_id,
                version=rules.version,
                document=text,
                publish_at=publish_at,
                activate=activate,
                status="scheduled",
                note="",
                created_by=actor,
                created_at=now,
            )
        )
        s.flush()
        audit.record(
            s,
            now,
            actor,
            "rule_set.schedule",
            rules.version,
            schedule=schedule_id,
            publish_at=publish_at.isoformat(),
            activate=activate,
        )
    return schedule_id


def _scheduled(s: Session, version: str) -> bool:
    return (
        s.scalar(
            select(RuleSchedule.id).where(
                RuleSchedule.version == version, RuleSchedule.status == "scheduled"
            )
        )
        is not None
    )


def schedules(db: HQDatabase) -> list[RuleSchedule]:
    """Every schedule, the pending ones first (soonest first), then the newest done."""
    with db.read() as s:
        rows = list(
            s.scalars(select(RuleSchedule).order_by(RuleSchedule.publish_at.desc()).limit(100))
        )
        s.expunge_all()
    return sorted(rows, key=lambda r: (r.status != "scheduled", r.publish_at))


def cancel(db: HQDatabase, schedule_id: str, now: dt.datetime, *, actor: str) -> None:
    """Cancel a schedule not yet published.

    Raises:
        NotFound: no such schedule.
        Conflict: it is published, failed or cancelled already.
    """
    with db.write() as s:
        row = s.get(RuleSchedule, schedule_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no scheduled rule set {schedule_id}")
        if row.status != "scheduled":
            raise Conflict(f"the schedule of {row.version} is {row.status} already")
        row.status, row.done_at = "cancelled", now
        audit.record(s, now, actor, "rule_set.unschedule", row.version, schedule=schedule_id)


def publish_due(db: HQDatabase, now: dt.datetime) -> list[dict[str, Any]]:
    """Publish every schedule due at ``now`` (oldest first); a document HQ refuses
    marks its schedule ``failed`` with the reason. Run by ``pos-hq run-jobs``."""
    with db.read() as s:
        due = list(
            s.execute(
                select(RuleSchedule.id, RuleSchedule.document, RuleSchedule.activate)
                .where(RuleSchedule.status == "scheduled", RuleSchedule.publish_at <= now)
                .order_by(RuleSchedule.publish_at, RuleSchedule.id)
            )
        )
    done = []
    for schedule_id, document, activate in due:
        with db.read() as s:
            row = s.get(RuleSchedule, schedule_id)
            actor = row.created_by if row is not None else "console"
        try:
            publish_rule_set(db, json.loads(document), activate, now, actor=actor)
            status, note = "published", ""
        except HQError as exc:
            status, note = "failed", exc.message
        with db.write() as s:
            row = s.get(RuleSchedule, schedule_id, with_for_update=True)
            if row is not None and row.status == "scheduled":
                row.status, row.note, row.done_at = status, note, now
                done.append({"version": row.version, "status": status, "note": note})
    return done
