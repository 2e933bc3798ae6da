"""More console pages (added by :func:`pos_app.hq.console.web.console_app`): scheduling
a rule set, simulating a draft on last month's sales, and the operators page.

The same rules as every page: a signed-in operator whose role grants the action (else
403 and no button), the session's CSRF token on every POST, bad input answered with the
page again, its message naming the field, status 400 and nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from pos_app.hq.config import HQSettings
from pos_app.hq.console import auth, rules, simulate_month
from pos_app.hq.console.models import ROLES
from pos_app.hq.console.web import (
    PREFIX,
    Id,
    OperatorAdmin,
    RulesEditor,
    Viewer,
    _local_time,
)
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import HQError

Username = Annotated[str, PathParam(max_length=64)]


def add_more_routes(
    app: FastAPI,
    db: HQDatabase,
    settings: HQSettings,
    render: Callable[..., Response],
    draft_page: Callable[..., Response],
) -> None:
    """Add the scheduling, month simulation and operators routes to the console."""
    _rule_routes(app, db, settings, draft_page)
    _operator_routes(app, db, settings, render)


def _rule_routes(
    app: FastAPI, db: HQDatabase, settings: HQSettings, draft_page: Callable[..., Response]
) -> None:
    @app.post("/rules/drafts/{draft_id}/schedule")
    def schedule(
        request: Request,
        who: RulesEditor,
        draft_id: Id,
        publish_at: Annotated[str, Form(max_length=32)] = "",
        activate: Annotated[str, Form(max_length=3)] = "",
    ) -> Response:
        now = settings.now()
        try:
            if not publish_at.strip():
                raise ValueError("publish_at: give a date and time, e.g. 2026-12-20T00:00")
            try:
                at = _local_time(publish_at, now)
            except ValueError:
                raise ValueError(f"publish_at: {publish_at!r} is not a date and time") from None
            rules.schedule(db, draft_id, at, activate == "yes", now, actor=who.actor)
        except (ValueError, HQError) as exc:
            if isinstance(exc, HQError) and exc.status == 404:
                raise
            text = exc.message if isinstance(exc, HQError) else str(exc)
            return draft_page(request, who, draft_id, 400, schedule_error=text)
        return RedirectResponse(f"{PREFIX}/rules?scheduled=1", status_code=303)

    @app.post("/rules/schedules/{schedule_id}/cancel")
    def cancel(request: Request, who: RulesEditor, schedule_id: Id) -> Response:
        rules.cancel(db, schedule_id, settings.now(), actor=who.actor)
        return RedirectResponse(f"{PREFIX}/rules?cancelled=1", status_code=303)

    @app.post("/rules/drafts/{draft_id}/simulate-month")
    def simulate_last_month(request: Request, who: Viewer, draft_id: Id) -> Response:
        row = rules.draft(db, draft_id)
        try:
            result = simulate_month.simulate(db, row.document, settings.now())
        except HQError as exc:
            return draft_page(request, who, draft_id, 400, month_error=exc.message)
        return draft_page(request, who, draft_id, month=result)


def _operator_routes(
    app: FastAPI, db: HQDatabase, settings: HQSettings, render: Callable[..., Response]
) -> None:
    def page(request: Request, who: auth.Signed, status: int = 200, **extra: Any) -> Response:
        return render(
            request,
            who,
            "operators.html",
            status,
            page="operators",
            operators=auth.list_operators(db),
            roles=ROLES,
            **extra,
        )

    def act(
        request: Request,
        who: auth.Signed,
        username: str,
        action: Callable[[], None],
        typed: dict[str, str] | None = None,
    ) -> Response:
        try:
            action()
        except HQError as exc:
            if exc.status == 404:
                raise
            return page(request, who, 400, error_text=exc.message, error_user=username, typed=typed)
        return RedirectResponse(f"{PREFIX}/operators?done={username}", status_code=303)

    def last_admin(request: Request, who: auth.Signed, username: str) -> Response | None:
        if auth.keeps_an_admin(db, username):
            return None
        return page(request, who, 400, error_key="last_admin", error_user=username)

    @app.get("/operators")
    def operators(request: Request, who: OperatorAdmin) -> Response:
        return page(request, who)

    @app.post("/operators")
    def add(
        request: Request,
        who: OperatorAdmin,
        username: Annotated[str, Form(max_length=64)] = "",
        display_name: Annotated[str, Form(max_length=64)] = "",
        role: Annotated[str, Form(max_length=16)] = "",
        password: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        def create() -> None:
            auth.add_operator(
                db,
                username,
                password,
                role,
                settings.now(),
                display_name=display_name.strip(),
                actor=who.actor,
            )

        typed = {"username": username, "display_name": display_name, "role": role}
        return act(request, who, username.strip(), create, typed)

    @app.post("/operators/{username}/role")
    def change_role(
        request: Request,
        who: OperatorAdmin,
        username: Username,
        role: Annotated[str, Form(max_length=16)] = "",
    ) -> Response:
        if role != "admin" and (refused := last_admin(request, who, username)) is not None:
            return refused
        return act(
            request,
            who,
            username,
            lambda: auth.set_role(db, username, role, settings.now(), actor=who.actor),
        )

    @app.post("/operators/{username}/password")
    def password(
        request: Request,
        who: OperatorAdmin,
        username: Username,
        new_password: Annotated[str, Form(max_length=256)] = "",
    ) -> Response:
        return act(
            request,
            who,
            username,
            lambda: auth.reset_password(
                db, username, new_password, settings.now(), actor=who.actor
            ),
        )

    # last: /role and /password above are matched first
    @app.post("/operators/{username}/{state}")
    def disable_or_enable(
        request: Request,
        who: OperatorAdmin,
        username: Username,
        state: Annotated[str, PathParam(pattern="^(disable|enable)$")],
    ) -> Response:
        if state == "disable" and (refused := last_admin(request, who, username)) is not None:
            return refused
        change = auth.disable if state == "disable" else auth.enable
        return act(
            request,
            who,
            username,
            lambda: change(db, username, settings.now(), actor=who.actor),
        )
