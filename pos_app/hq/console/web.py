"""The console's pages: a FastAPI app of server-rendered Jinja2 templates under
``/console`` (mounted by :func:`pos_app.hq.app.create_app` through :class:`ConsoleMount`).

Every page needs a signed-in operator (else: the sign-in page); a page or an action
outside the operator's role answers 403 and its button is not shown. Every POST form
carries the session's CSRF token (the sign-in form a cookie-bound one). Bad input is
answered with the page again, its message, status 400, and nothing written.
Responses forbid framing and any script or style from elsewhere (CSP ``'self'``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from pos_app.core.money import format_fen
from pos_app.hq.config import HQSettings
from pos_app.hq.console import (
    auth,
    campaign,
    dashboard,
    mall,
    members,
    merge,
    review,
    rules,
    stores,
)
from pos_app.hq.console.messages import LANGUAGES, translator
from pos_app.hq.database import HQDatabase
from pos_app.hq.errors import BadRequest, HQError

PREFIX = "/console"
COOKIE = "hq_console"
LOGIN_COOKIE = "hq_console_login"
LANG_COOKIE = "hq_console_lang"
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NeedLogin(Exception):
    """No valid session: go to the sign-in page."""


class Refused(Exception):
    """A page or action outside the role, or a form without its CSRF token (403)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class ConsoleMount:
    """ASGI wrapper sending ``/console`` to the console app, anything else to HQ's API
    (whose gate wants a Bearer token: the console signs in with its own cookie)."""

    def __init__(self, app: ASGIApp, console: ASGIApp, max_body: int) -> None:
        self.app = app
        self.console = console
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            declared = dict(scope.get("headers") or []).get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
                response = Response("request too large", status_code=413)
                await response(scope, receive, send)
                return
            # as a Starlette Mount does: routes see the path below root_path
            child = {**scope, "root_path": str(scope.get("root_path", "")) + PREFIX}
            await self.console(child, receive, send)
            return
        await self.app(scope, receive, send)


def _lang(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "zh_CN")
    return lang if lang in LANGUAGES else "zh_CN"


def _signed(request: Request) -> auth.Signed:
    state = request.app.state
    who = auth.session_of(state.db, request.cookies.get(COOKIE), state.settings.now())
    if who is None:
        raise NeedLogin()
    return who


def requires(capability: str) -> Callable[..., Any]:
    """A dependency: the signed-in operator, whose role must grant ``capability``; on a
    POST the form's CSRF token must be the session's."""

    async def check(request: Request) -> auth.Signed:
        who = _signed(request)
        if not who.can(capability):
            raise Refused("forbidden")
        if request.method == "POST":
            form = await request.form()
            given = form.get("csrf")
            if not auth.same_token(who.csrf_token, given if isinstance(given, str) else None):
                raise Refused("csrf")
        return who

    return check


Viewer = Annotated[auth.Signed, Depends(requires("view"))]
RulesEditor = Annotated[auth.Signed, Depends(requires("rules.edit"))]
Reviewer = Annotated[auth.Signed, Depends(requires("review.decide"))]
Privacy = Annotated[auth.Signed, Depends(requires("members.privacy"))]
TillAdmin = Annotated[auth.Signed, Depends(requires("tills.revoke"))]
MallEditor = Annotated[auth.Signed, Depends(requires("mall.edit"))]
Merger = Annotated[auth.Signed, Depends(requires("members.merge"))]
OperatorAdmin = Annotated[auth.Signed, Depends(requires("operators.manage"))]
Id = Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
FlagId = Annotated[int, PathParam(ge=1, le=2**62)]


def console_app(db: HQDatabase, settings: HQSettings) -> FastAPI:
    """The console on ``db`` (already migrated)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = db
    app.state.settings = settings
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["fen"] = format_fen
    templates.env.filters["points"] = lambda n: f"{int(n):,}"
    templates.env.filters["when"] = _when
    templates.env.filters["json"] = script_json
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def render(
        request: Request,
        who: auth.Signed | None,
        template: str,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        lang = _lang(request)
        response = templates.TemplateResponse(
            request,
            template,
            {
                "t": translator(lang),
                "lang": lang,
                "who": who,
                "csrf": who.csrf_token if who else "",
                "prefix": PREFIX,
                "now": settings.now(),
                **values,
            },
            status_code=status,
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(NeedLogin)
    async def _login_first(request: Request, _exc: NeedLogin) -> Response:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        who = auth.session_of(db, request.cookies.get(COOKIE), settings.now())
        return render(request, who, "error.html", 403, message_key=exc.key)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        who = auth.session_of(db, request.cookies.get(COOKIE), settings.now())
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return render(request, who, "error.html", 400, message=f"{where}: {first.get('msg', '')}")

    @app.exception_handler(HQError)
    async def _hq_error(request: Request, exc: HQError) -> Response:
        who = auth.session_of(db, request.cookies.get(COOKIE), settings.now())
        return render(request, who, "error.html", exc.status, message=exc.message)

    # -- signing in ------------------------------------------------------------------
    @app.get("/login")
    def login_page(request: Request) -> Response:
        nonce = secrets.token_hex(16)
        response = render(request, None, "login.html", login_csrf=nonce)
        _private_cookie(request, response, LOGIN_COOKIE, nonce)
        return response

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=256)] = "",
        csrf: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        if not expected or not auth.same_token(expected, csrf):
            raise Refused("csrf")
        try:
            token = auth.login(db, username.strip(), password, settings.now())
        except auth.LoginRefused as exc:
            return render(
                request,
                None,
                "login.html",
                400,
                login_csrf=expected,
                error_key=exc.key,
                username=username,
            )
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        _private_cookie(request, response, COOKIE, token)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    @app.post("/logout")
    def logout(request: Request, who: Viewer) -> Response:
        auth.logout(db, request.cookies.get(COOKIE), settings.now())
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @app.post("/lang")
    def set_lang(
        request: Request,
        who: Viewer,
        lang: Annotated[str, Form(max_length=8)] = "zh_CN",
        back: Annotated[str, Form(max_length=300)] = "/console/",
    ) -> Response:
        if lang not in LANGUAGES:
            return render(request, who, "error.html", 400, message_key="bad_language")
        target = back if back.startswith(PREFIX + "/") and "//" not in back else f"{PREFIX}/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(LANG_COOKIE, lang, samesite="strict", path=PREFIX)
        return response

    # -- dashboard ---------------------------------------------------------------------
    @app.get("/")
    def home(
        request: Request,
        who: Viewer,
        period: Annotated[str, Query(pattern="^(day|week|month)$")] = "day",
        promotion: Annotated[str, Query(alias="campaign", max_length=64)] = "",
        start: Annotated[str, Query(alias="from", max_length=32)] = "",
        end: Annotated[str, Query(alias="to", max_length=32)] = "",
    ) -> Response:
        now = settings.now()
        board = dashboard.figures(db, now, period)
        values: dict[str, Any] = {"board": board, "page": "dashboard"}
        values["campaigns"] = campaign.offered(db)
        values["campaign_form"] = {"campaign": promotion, "from": start, "to": end}
        try:
            values["effect"] = campaign.effect(db, now, promotion, start, end)
        except campaign.CampaignProblem as exc:
            values["campaign_error"] = f"{exc.field}: {exc.message}"
            return render(request, who, "dashboard.html", 400, **values)
        return render(request, who, "dashboard.html", **values)

    # -- review queue ------------------------------------------------------------------
    def review_page(
        request: Request, who: auth.Signed, status: int = 200, **extra: Any
    ) -> Response:
        return render(
            request,
            who,
            "review.html",
            status,
            page="review",
            flags=review.open_flags(db),
            decided=review.decided_flags(db),
            held=adjustments_held(),
            refused=review.refused_writes(db),
            **extra,
        )

    def adjustments_held() -> list[dict[str, Any]]:
        from pos_app.hq.adjustments import list_reviews

        return list_reviews(db, "held")

    @app.get("/review")
    def review_queue(request: Request, who: Viewer) -> Response:
        return review_page(request, who)

    @app.post("/review/flags/{flag_id}/approve")
    def approve_flag(
        request: Request,
        who: Reviewer,
        flag_id: FlagId,
        note: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        review.approve_flag(db, flag_id, note, settings.now(), actor=who.actor)
        return RedirectResponse(f"{PREFIX}/review?done=approved", status_code=303)

    @app.post("/review/flags/{flag_id}/reverse")
    def reverse_flag(
        request: Request,
        who: Reviewer,
        flag_id: FlagId,
        points: Annotated[str, Form(max_length=12)] = "",
        note: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        try:
            amount = int(points.strip())
        except ValueError:
            return review_page(request, who, 400, error="points_not_a_number", error_flag=flag_id)
        try:
            review.reverse_flag(db, flag_id, amount, note, settings.now(), actor=who.actor)
        except HQError as exc:
            if exc.status == 404:
                raise
            return review_page(request, who, 400, error_text=exc.message, error_flag=flag_id)
        return RedirectResponse(f"{PREFIX}/review?done=reversed", status_code=303)

    @app.post("/review/adjustments/{review_id}/{decision}")
    def decide_adjustment(
        request: Request,
        who: Reviewer,
        review_id: Id,
        decision: Annotated[str, PathParam(pattern="^(approve|reject)$")],
    ) -> Response:
        from pos_app.hq.adjustments import decide_review

        try:
            decide_review(db, review_id, decision == "approve", settings.now(), actor=who.actor)
        except HQError as exc:
            if exc.status == 404:
                raise
            return review_page(request, who, 400, error_text=exc.message)
        return RedirectResponse(f"{PREFIX}/review?done={decision}", status_code=303)

    # -- members -------------------------------------------------------------------------
    @app.get("/members")
    def find(
        request: Request, who: Viewer, q: Annotated[str, Query(max_length=64)] = ""
    ) -> Response:
        if not q.strip():
            return render(request, who, "members.html", page="members", q="")
        try:
            found = members.find_member(db, q)
        except HQError as exc:
            return render(
                request, who, "members.html", 400, page="members", q=q, error_text=exc.message
            )
        if found is None:
            return render(request, who, "members.html", 404, page="members", q=q, not_found=True)
        return RedirectResponse(f"{PREFIX}/members/{quote(found)}", status_code=303)

    def member_view(
        request: Request, who: auth.Signed, member_id: str, status: int = 200, **extra: Any
    ) -> Response:
        data = members.member_page(db, member_id)
        data |= merge.consent_page(db, [data["member"].id, *data["aliases"]])
        return render(request, who, "member.html", status, page="members", **data, **extra)

    @app.get("/members/{member_id}")
    def member(
        request: Request,
        who: Viewer,
        member_id: Id,
        duplicate: Annotated[str, Query(max_length=64)] = "",
    ) -> Response:
        if not duplicate.strip() or not who.can("members.merge"):
            return member_view(request, who, member_id)
        try:
            found = members.find_member(db, duplicate) or duplicate.strip()
            pair = merge.preview(db, member_id, found)
        except BadRequest as exc:
            return member_view(request, who, member_id, 400, merge_error=exc.message)
        return member_view(request, who, member_id, merge_pair=pair, duplicate=duplicate)

    @app.post("/members/{member_id}/merge")
    def merge_member(
        request: Request,
        who: Merger,
        member_id: Id,
        duplicate: Annotated[str, Form(max_length=64)] = "",
        confirm: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        try:
            done = merge.merge_members(
                db, member_id, duplicate, confirm, settings.now(), actor=who.actor
            )
        except merge.MergeProblem as exc:
            return member_view(request, who, member_id, 400, merge_error=exc.message)
        target = f"{PREFIX}/members/{quote(done.kept)}?merged={quote(done.alias)}"
        return RedirectResponse(target, status_code=303)

    @app.get("/members/{member_id}/export")
    def export(request: Request, who: Privacy, member_id: Id) -> Response:
        data = members.export_member(db, member_id, settings.now(), actor=who.actor)
        body = json.dumps(data, ensure_ascii=False, indent=2)
        name = f"member-{data['member']['id']}.json"
        return Response(
            body,
            media_type="application/json; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS},
        )

    @app.post("/members/{member_id}/erase")
    def erase(
        request: Request,
        who: Privacy,
        member_id: Id,
        confirm: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        try:
            members.erase_member(db, member_id, confirm, settings.now(), actor=who.actor)
        except HQError as exc:
            if exc.status == 404:
                raise
            data = members.member_page(db, member_id)
            return render(
                request, who, "member.html", 400, page="members", error_text=exc.message, **data
            )
        return RedirectResponse(f"{PREFIX}/members/{quote(member_id)}", status_code=303)

    # -- rules ---------------------------------------------------------------------------
    @app.get("/rules")
    def rules_home(request: Request, who: Viewer) -> Response:
        with db.read() as s:
            from pos_app.hq.ledger import active_rules

            current = active_rules(s)
        return render(
            request,
            who,
            "rules.html",
            page="rules",
            active=current,
            versions=rules.versions(db),
            drafts=rules.drafts(db),
            schedules=rules.schedules(db),
        )

    @app.get("/rules/versions/{name}")
    def rules_version(request: Request, who: Viewer, name: Id) -> Response:
        row = rules.version(db, name)
        return render(request, who, "rule_version.html", page="rules", row=row)

    @app.post("/rules/drafts")
    def create_draft(
        request: Request, who: RulesEditor, base: Annotated[str, Form(max_length=64)] = ""
    ) -> Response:
        draft_id = rules.new_draft(db, base or None, settings.now(), actor=who.actor)
        return RedirectResponse(f"{PREFIX}/rules/drafts/{draft_id}", status_code=303)

    def draft_page(
        request: Request, who: auth.Signed, draft_id: str, status: int = 200, **extra: Any
    ) -> Response:
        row = rules.draft(db, draft_id)
        document = extra.pop("document", row.document)
        _valid, problem = rules.check(document)
        return render(
            request,
            who,
            "draft.html",
            status,
            page="rules",
            row=row,
            document=document,
            problem=problem,
            samples=rules.SAMPLE_BASKETS,
            basket=extra.pop("basket", rules.SAMPLE_BASKETS["weekly"]),
            **extra,
        )

    @app.get("/rules/drafts/{draft_id}")
    def show_draft(
        request: Request,
        who: Viewer,
        draft_id: Id,
        sample: Annotated[str, Query(pattern="^(small|weekly|big)$")] = "weekly",
    ) -> Response:
        return draft_page(request, who, draft_id, basket=rules.SAMPLE_BASKETS[sample])

    @app.post("/rules/drafts/{draft_id}")
    def save_draft(
        request: Request,
        who: RulesEditor,
        draft_id: Id,
        document: Annotated[str, Form(max_length=rules.MAX_DOCUMENT)] = "",
    ) -> Response:
        problem = rules.save_draft(db, draft_id, document, settings.now(), actor=who.actor)
        if problem is not None:
            return draft_page(request, who, draft_id, 400, saved=True)
        return RedirectResponse(f"{PREFIX}/rules/drafts/{draft_id}?saved=1", status_code=303)

    @app.post("/rules/drafts/{draft_id}/simulate")
    def simulate(
        request: Request,
        who: Viewer,
        draft_id: Id,
        basket: Annotated[str, Form(max_length=4000)] = "",
        tier: Annotated[str, Form(max_length=16)] = "regular",
        balance: Annotated[str, Form(max_length=12)] = "0",
        at: Annotated[str, Form(max_length=32)] = "",
    ) -> Response:
        row = rules.draft(db, draft_id)
        try:
            when = _local_time(at, settings.now())
            points = int(balance) if balance.strip() else 0
            result = rules.simulate(db, row.document, basket, tier, when, points)
        except (ValueError, HQError) as exc:
            text = exc.message if isinstance(exc, HQError) else str(exc)
            return draft_page(
                request,
                who,
                draft_id,
                400,
                basket=basket,
                sim_error=text,
                tier=tier,
                balance=balance,
                at=at,
            )
        return draft_page(
            request, who, draft_id, basket=basket, sim=result, tier=tier, balance=balance, at=at
        )

    @app.post("/rules/drafts/{draft_id}/publish")
    def publish(
        request: Request,
        who: RulesEditor,
        draft_id: Id,
        activate: Annotated[str, Form(max_length=3)] = "",
    ) -> Response:
        try:
            rules.publish(db, draft_id, activate == "yes", settings.now(), actor=who.actor)
        except HQError as exc:
            if exc.status == 404:
                raise
            return draft_page(request, who, draft_id, 400, publish_error=exc.message)
        return RedirectResponse(f"{PREFIX}/rules?published=1", status_code=303)

    # -- mall ------------------------------------------------------------------------------
    @app.get("/mall")
    def mall_home(request: Request, who: Viewer) -> Response:
        return render(
            request,
            who,
            "mall.html",
            page="mall",
            items=mall.items(db),
            columns=mall.FIELDS,
            lotteries=mall.lotteries(db),
        )

    @app.post("/mall/import")
    async def mall_import(request: Request, who: MallEditor) -> Response:
        form = await request.form()
        upload = form.get("file")
        data = b""
        if isinstance(upload, UploadFile):
            data = await upload.read(mall.MAX_BYTES + 1)
            await upload.close()
        try:
            count = await run_in_threadpool(
                mall.import_csv, db, data, settings.now(), actor=who.actor
            )
        except mall.ImportProblems as exc:
            return render(
                request,
                who,
                "mall.html",
                400,
                page="mall",
                items=mall.items(db),
                columns=mall.FIELDS,
                lotteries=mall.lotteries(db),
                problems=exc.problems,
            )
        return RedirectResponse(f"{PREFIX}/mall?imported={count}", status_code=303)

    def item_page(
        request: Request, who: auth.Signed, item_id: str, status: int = 200, **extra: Any
    ) -> Response:
        values, sections = mall.item_form(db, item_id)
        return render(
            request,
            who,
            "mall_item.html",
            status,
            page="mall",
            item_id=item_id,
            values=extra.pop("values", values),
            featured=extra.pop("featured", sections),
            sections=mall.SECTIONS,
            **extra,
        )

    @app.get("/mall/items/{item_id}")
    def mall_item(request: Request, who: Viewer, item_id: Id) -> Response:
        return item_page(request, who, item_id)

    @app.post("/mall/items/{item_id}")
    async def save_mall_item(request: Request, who: MallEditor, item_id: Id) -> Response:
        form = await request.form()
        typed = {k: v for k, v in form.items() if isinstance(v, str)}
        sections = [v for v in form.getlist("featured") if isinstance(v, str)]
        await run_in_threadpool(mall.item_form, db, item_id)  # 404 for an unknown item
        values = mall.form_values(item_id, typed)
        item, problems = mall.check_values(values)
        if item is None:
            shown = {**values, **{k: typed.get(k, "") for k in mall.WHEN_FIELDS}}
            return item_page(
                request, who, item_id, 400, values=shown, featured=sections, problems=problems
            )
        await run_in_threadpool(mall.save_item, db, item, sections, settings.now(), actor=who.actor)
        return RedirectResponse(f"{PREFIX}/mall/items/{quote(item_id)}?saved=1", status_code=303)

    def lottery_page(
        request: Request, who: auth.Signed, item_id: str, status: int = 200, **extra: Any
    ) -> Response:
        view = mall.lottery(db, item_id)
        return render(
            request,
            who,
            "lottery.html",
            status,
            page="mall",
            view=view,
            prizes_text=extra.pop("prizes_text", mall.prizes_text(view)),
            **extra,
        )

    @app.get("/mall/lotteries/{item_id}")
    def lottery_home(request: Request, who: Viewer, item_id: Id) -> Response:
        return lottery_page(request, who, item_id)

    @app.post("/mall/lotteries/{item_id}/prizes")
    def lottery_prizes(
        request: Request,
        who: MallEditor,
        item_id: Id,
        prizes: Annotated[str, Form(max_length=8000)] = "",
    ) -> Response:
        try:
            mall.set_prizes(db, item_id, prizes, settings.now(), actor=who.actor)
        except mall.ImportProblems as exc:
            return lottery_page(
                request, who, item_id, 400, prizes_text=prizes, problems=exc.problems
            )
        except HQError as exc:
            if exc.status == 404:
                raise
            return lottery_page(
                request, who, item_id, 400, prizes_text=prizes, error_text=exc.message
            )
        return RedirectResponse(
            f"{PREFIX}/mall/lotteries/{quote(item_id)}?saved=1", status_code=303
        )

    @app.post("/mall/lotteries/{item_id}/draw")
    def lottery_draw(
        request: Request,
        who: MallEditor,
        item_id: Id,
        confirm: Annotated[str, Form(max_length=3)] = "",
    ) -> Response:
        if confirm != "yes":
            return lottery_page(request, who, item_id, 400, error_key="confirm_draw")
        try:
            mall.draw(db, item_id, settings.now(), actor=who.actor)
        except HQError as exc:
            if exc.status == 404:
                raise
            return lottery_page(request, who, item_id, 400, error_text=exc.message)
        return RedirectResponse(
            f"{PREFIX}/mall/lotteries/{quote(item_id)}?drawn=1", status_code=303
        )

    # -- stores and tills ------------------------------------------------------------------
    @app.get("/stores")
    def stores_home(request: Request, who: Viewer) -> Response:
        rows = stores.stores_page(db, settings.now())
        return render(request, who, "stores.html", page="stores", stores=rows)

    @app.post("/tills/{till_id}/revoke")
    def revoke(
        request: Request,
        who: TillAdmin,
        till_id: Id,
        confirm: Annotated[str, Form(max_length=3)] = "",
    ) -> Response:
        if confirm != "yes":
            rows = stores.stores_page(db, settings.now())
            return render(
                request,
                who,
                "stores.html",
                400,
                page="stores",
                stores=rows,
                error_key="confirm_revoke",
            )
        try:
            stores.revoke_till(db, till_id, settings.now(), actor=who.actor)
        except HQError as exc:
            if exc.status == 404:
                raise
            rows = stores.stores_page(db, settings.now())
            return render(
                request, who, "stores.html", 400, page="stores", stores=rows, error_text=exc.message
            )
        return RedirectResponse(f"{PREFIX}/stores?revoked={quote(till_id)}", status_code=303)

    from pos_app.hq.console.web_more import add_more_routes  # it imports this module

    add_more_routes(app, db, settings, render, draft_page)
    return app


def _private_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A cookie only the console's pages get and no script reads (Secure over HTTPS)."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        path=PREFIX,
        secure=request.url.scheme == "https",
    )


def script_json(value: Any) -> Markup:
    """``value`` as JSON safe inside a ``<script type="application/json">`` block."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return Markup(text)  # escaped above for a script block


def _when(value: dt.datetime | dt.date | None) -> str:
    """A time in Beijing time, to the minute (a date as it is)."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        from zoneinfo import ZoneInfo

        return value.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _local_time(text: str, now: dt.datetime) -> dt.datetime:
    """An ISO time typed in the console (Beijing time when it names no zone), or now.

    Raises:
        ValueError: not an ISO date-time.
    """
    from zoneinfo import ZoneInfo

    if not text.strip():
        return now
    value = dt.datetime.fromisoformat(text.strip())
    return (
        value if value.utcoffset() is not None else value.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    )
