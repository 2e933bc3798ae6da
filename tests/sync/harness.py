"""Fault-injection harness: HQ on real PostgreSQL, several tills, a hostile network.

* :class:`HQServer` serves HQ's FastAPI app with uvicorn on 127.0.0.1 in a thread
  (:class:`tests.support.appserver.AppServer`);
  :meth:`HQServer.restart` stops it and starts a new app with a new connection pool on
  the same database (and a new port).
* :class:`FaultTransport` sits between a till's :class:`~pos_app.services.sync.HQClient`
  and HQ. The till talks to ``http://hq.test``; the transport forwards to wherever HQ is
  now, and, as its :class:`FaultPlan` says, drops requests, drops replies (HQ applied the
  request, the till never hears), sends a request twice, holds a request back and
  delivers it later (reordered, after newer ones), or kills the till (after HQ applied a
  push, or after HQ got only the first events of the batch).
* :class:`SimTill` is one till: its own SQLite file and TillContext, its own transport,
  and the operations a scenario performs (register, sell, refund, adjust, sync, die).
* :func:`check_invariants` compares HQ's ledger with every till's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

from pos_app.core.errors import LoyaltyError
from pos_app.core.quote import BasketLine
from pos_app.hq import admin
from pos_app.hq.app import create_app
from pos_app.hq.config import HQSettings
from pos_app.hq.database import HQDatabase
from pos_app.hq.models import Base as HQBase
from pos_app.services import adjustments, auth, checkout, members, refunds
from pos_app.services.context import TillContext, open_till
from pos_app.services.sync import (
    HQClient,
    HQUnavailable,
    MemberFetcher,
    PullResult,
    PushResult,
    SyncClient,
    save_registration,
)
from pos_app.store import repo
from pos_app.store.checks import balance_mismatches
from pos_app.store.models import LedgerEntry, Member, OutboxEvent, Refund, Sale, SaleLine
from tests.support.appserver import AppServer

VIRTUAL_HQ = "http://hq.test"
#: The session's HQ database in the private cluster (migrated once, emptied per test).
HQ_DATABASE = "sync_hq"
MANAGER_PIN = "9999"
CASHIER_PIN = "1111"


def utc_now() -> dt.datetime:
    """Now, aware."""
    return dt.datetime.now(dt.UTC)


class SimClock:
    """A clock that starts at a fixed instant and runs at real speed.

    HQ and the tills of a scenario share one, so what a random scenario does (promotions
    depend on the date) is the same whatever day the tests run.
    """

    def __init__(self, start: dt.datetime = dt.datetime(2026, 11, 17, 2, 0, tzinfo=dt.UTC)):
        self.start = start
        self._began = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self._began)


# -- HQ ---------------------------------------------------------------------------------


def reset_hq_database(db_url: str) -> None:
    """Empty every HQ table of an already migrated, throw-away database (much faster
    than a new database) and put back what the first migration seeds;
    ``HQDatabase.migrate`` then re-creates the phone-hash key and the default rule set.

    The ledger tables refuse TRUNCATE by trigger: as the private cluster's superuser,
    the reset turns ordinary triggers off for its own session (replica role).
    """
    names = [table.name for table in HQBase.metadata.sorted_tables]
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
            conn.execute(text("INSERT INTO counters (name, value) VALUES ('change_seq', 0)"))
    finally:
        engine.dispose()


class HQServer:
    """HQ's app served by uvicorn on loopback, restartable on the same database.

    Attributes:
        url: The PostgreSQL URL.
        port: The port HQ listens on now (None while stopped).
        admin_token: An admin credential made at the first start.
        restarts: How many times HQ was restarted.
    """

    def __init__(self, db_url: str, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.url = db_url
        self.clock = clock
        self.port: int | None = None
        self.admin_token = ""
        self.restarts = 0
        self.db: HQDatabase | None = None
        self._server: AppServer | None = None

    def start(self, *, migrate: bool = True) -> HQServer:
        """Start a fresh app (and a fresh connection pool) on the database."""
        db = HQDatabase(self.url)
        if migrate:
            db.migrate()
        if not self.admin_token:
            self.admin_token = admin.create_admin(db, "harness", utc_now()).token
        settings = HQSettings(clock=self.clock) if self.clock is not None else HQSettings()
        self._server = AppServer(create_app(db, settings)).start()
        self.db = db
        self.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving and close the pool (idempotent)."""
        if self._server is not None:
            self._server.stop()
        if self.db is not None:
            self.db.close()
        self._server = None
        self.db = None
        self.port = None

    def restart(self) -> None:
        """A new app instance with a new connection pool on the same database."""
        self.stop()
        self.start(migrate=False)
        self.restarts += 1

    @property
    def base_url(self) -> str:
        """Where HQ listens now."""
        assert self.port is not None, "HQ is stopped"
        return f"http://127.0.0.1:{self.port}"

    def admin_client(self) -> HQClient:
        """A client with the admin token (caller closes it)."""
        return HQClient(self.base_url, self.admin_token)

    def create_store(self, code: str, name: str = "", region: str | None = None) -> None:
        """Create a store through the API (in a region of its own unless ``region``)."""
        with self.admin_client() as client:
            client.request(
                "POST",
                "/v1/admin/stores",
                json_body={"code": code, "name": name or code, "region": region},
            )

    def add_manager(self, store: str, manager_id: str) -> None:
        """Make a till user a manager of ``store`` at HQ (her adjustments are accepted)."""
        with self.admin_client() as client:
            client.request(
                "POST",
                f"/v1/admin/stores/{store}/managers",
                json_body={"manager_id": manager_id, "name": "店长"},
            )

    def register_till(self, store: str, till: str) -> dict[str, Any]:
        """A till credential through the API."""
        with self.admin_client() as client:
            return client.register_till(self.admin_token, store, till)


# -- the network -----------------------------------------------------------------------


class TillKilled(Exception):
    """The till process died (injected)."""


@dataclass
class FaultPlan:
    """How often each fault strikes a request (probabilities, checked in this order).

    Attributes:
        drop_request: The request never reaches HQ.
        hold_back: The request is kept and delivered later, after newer ones; the till
            sees a timeout.
        duplicate: HQ receives the request twice.
        drop_reply: HQ applies the request; the till never hears back (a timeout).
        kill_after_reply: HQ applies a push; the till dies before it records the answers.
        kill_partial: HQ gets only the first events of a push; the till dies.
    """

    drop_request: float = 0.0
    hold_back: float = 0.0
    duplicate: float = 0.0
    drop_reply: float = 0.0
    kill_after_reply: float = 0.0
    kill_partial: float = 0.0

    @classmethod
    def hostile(cls) -> FaultPlan:
        """A network that fails a good share of requests in every way."""
        return cls(0.05, 0.05, 0.05, 0.06, 0.03, 0.03)


@dataclass
class FaultStats:
    """What a transport did."""

    forwarded: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def count(self, name: str) -> None:
        """One more ``name``."""
        self.faults[name] = self.faults.get(name, 0) + 1


class FaultTransport(httpx.BaseTransport):
    """A till's way to HQ, with injected faults (see :class:`FaultPlan`).

    Attributes:
        offline: Every request fails to connect (the till's network is down).
        plan: The fault probabilities (``None`` faults off).
        stats: Counts of what happened.
        cut_snapshot_at: The next first-sync snapshot answer is cut after this many
            bytes (as sent, compressed), once.
        busy_answers: The next requests HQ answers ``503`` with ``Retry-After``
            (``retry_after`` seconds), as a loaded HQ does, without applying them.
    """

    def __init__(self, hq: HQServer, rng: random.Random, plan: FaultPlan | None = None) -> None:
        self.hq = hq
        self.rng = rng
        self.plan = plan
        self.offline = False
        self.cut_snapshot_at: int | None = None
        self.busy_answers = 0
        self.retry_after = 1
        self.stats = FaultStats()
        self._inner = httpx.HTTPTransport()
        self._held: list[httpx.Request] = []

    def _route(self, request: httpx.Request, content: bytes) -> httpx.Request:
        if self.hq.port is None:
            raise httpx.ConnectError("HQ is down", request=request)
        url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.hq.port)
        headers = [
            (k, v) for k, v in request.headers.raw if k.lower() not in (b"host", b"content-length")
        ]
        return httpx.Request(request.method, url, headers=headers, content=content)

    def _deliver(
        self, request: httpx.Request, content: bytes, cut: int | None = None
    ) -> httpx.Response:
        response = self._inner.handle_request(self._route(request, content))
        try:
            body = b"".join(response.iter_raw())  # as sent: the till undoes the gzip
        finally:
            response.close()
        self.stats.forwarded += 1
        headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body[:cut])

    def _release_held(self) -> None:
        """Deliver requests held back earlier (their answers are lost)."""
        held, self._held = self._held, []
        for request in held:
            with contextlib.suppress(httpx.TransportError):
                self._deliver(request, request.content)

    def flush(self) -> None:
        """Deliver whatever is held back (at the end of a scenario)."""
        self._release_held()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        if self.offline:
            raise httpx.ConnectError("injected: the till is offline", request=request)
        plan = self.plan
        roll = self.rng.random
        if plan is not None and self._held and roll() < 0.5:
            self._release_held()  # an old request overtakes... after newer ones went
        if self.busy_answers > 0:
            self.busy_answers -= 1
            self.stats.count("busy")
            body = {"detail": "HQ is busy: try again later", "code": "busy"}
            return httpx.Response(503, headers={"Retry-After": str(self.retry_after)}, json=body)
        if self.cut_snapshot_at is not None and request.url.path.endswith("/v1/snapshot"):
            cut, self.cut_snapshot_at = self.cut_snapshot_at, None
            self.stats.count("cut_snapshot")
            return self._deliver(request, content, cut)
        if plan is None:
            return self._deliver(request, content)
        is_push = request.url.path.endswith("/v1/push")
        if roll() < plan.drop_request:
            self.stats.count("drop_request")
            raise httpx.ConnectError("injected: request dropped", request=request)
        if roll() < plan.hold_back:
            self.stats.count("hold_back")
            self._held.append(self._route(request, content))
            raise httpx.ReadTimeout("injected: request held back", request=request)
        if is_push and roll() < plan.kill_partial:
            body = json.loads(content)
            if len(body["events"]) > 1:
                self.stats.count("kill_partial")
                body["events"] = body["events"][: self.rng.randint(1, len(body["events"]) - 1)]
                self._deliver(request, json.dumps(body).encode())
                raise TillKilled("injected: died while HQ had part of the batch")
        if roll() < plan.duplicate:
            self.stats.count("duplicate")
            self._deliver(request, content)
        response = self._deliver(request, content)
        if is_push and roll() < plan.kill_after_reply:
            self.stats.count("kill_after_reply")
            raise TillKilled("injected: died before recording HQ's answer")
        if roll() < plan.drop_reply:
            self.stats.count("drop_reply")
            raise httpx.ReadTimeout("injected: reply lost", request=request)
        return response

    def close(self) -> None:
        self._held.clear()
        self._inner.close()


# -- a till ---------------------------------------------------------------------------------


def make_till_template(path: Path) -> Path:
    """A migrated till file with a cashier and a manager (argon2 is slow: do it once)."""
    ctx = open_till(path)
    auth.create_user(ctx, "收银员", "cashier", CASHIER_PIN)
    auth.create_user(ctx, "店长", "manager", MANAGER_PIN)
    ctx.db.close()
    return path


class SimTill:
    """One till in a scenario.

    Attributes:
        name: ``<store>-<till>``.
        ctx: The open till.
        transport: Its (faulty) way to HQ.
        kills: Times it died and came back.
        last_push: What the last push did.
        last_pull: What the last pull did.
    """

    def __init__(
        self,
        hq: HQServer,
        template: Path,
        folder: Path,
        store: str,
        till: str,
        rng: random.Random,
        plan: FaultPlan | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.hq = hq
        self.clock = clock
        self.name = f"{store}-{till}"
        self.path = folder / f"till-{self.name}.sqlite"
        self.rng = rng
        shutil.copyfile(template, self.path)
        credential = hq.register_till(store, till)
        ctx = open_till(self.path)
        save_registration(ctx, VIRTUAL_HQ, credential)
        ctx.db.close()
        self.token = str(credential["token"])
        self.transport = FaultTransport(hq, rng, plan)
        self.kills = 0
        self.last_push: PushResult | None = None
        self.last_pull: PullResult | None = None
        self.ctx = self._open()
        self.client = HQClient(VIRTUAL_HQ, self.token, transport=self.transport, timeout=30)
        self.syncer = SyncClient(self.ctx, self.client, push_batch=rng.choice((3, 10, 50)))
        self._fetch_members()
        users = auth.list_users(self.ctx)
        self.cashier = next(u for u in users if u.role == "cashier")
        self.manager = next(u for u in users if u.role == "manager")
        self.store = store
        hq.add_manager(store, self.manager.id)

    def _open(self) -> TillContext:
        return open_till(self.path, clock=self.clock)

    def _fetch_members(self) -> None:
        """Members this till does not hold are asked of HQ at the counter (through the
        till's own faulty network), as the UI's background sync sets it up."""
        self.fetcher = MemberFetcher(
            self.ctx, lambda: HQClient(VIRTUAL_HQ, self.token, transport=self.transport)
        )
        self.ctx.fetch_member = self.fetcher

    def close(self) -> None:
        """Close the database and the network (end of the test)."""
        self.fetcher.close()
        self.client.close()
        self.ctx.db.close()

    def die_and_restart(self) -> None:
        """The till process dies and starts again: new context, new client."""
        self.kills += 1
        self.fetcher.close()
        self.client.close()
        self.ctx.db.close()
        self.ctx = self._open()
        old = self.transport
        self.transport = FaultTransport(self.hq, self.rng, old.plan)
        self.transport.stats = old.stats
        self.transport.offline = old.offline
        old.close()
        self.client = HQClient(VIRTUAL_HQ, self.token, transport=self.transport, timeout=30)
        self.syncer = SyncClient(self.ctx, self.client, push_batch=self.syncer.push_batch)
        self._fetch_members()

    # -- operations ------------------------------------------------------------------------
    def sync(self) -> bool:
        """One push and pull; False when the network failed it (the till may have died)."""
        try:
            result = self.syncer.sync_once()
            self.last_push, self.last_pull = result.push, result.pull
        except HQUnavailable:
            return False
        except TillKilled:
            self.die_and_restart()
            return False
        return True

    def known_members(self) -> list[str]:
        """Members this till can sell to (stubs left out)."""
        with self.ctx.db.read() as s:
            return list(s.scalars(select(Member.id).where(Member.phone_last4 != "")))

    def own_members(self) -> list[str]:
        """Members of this till's region (registered in its store): HQ takes its
        adjustments for them only."""
        with self.ctx.db.read() as s:
            return list(
                s.scalars(
                    select(Member.id).where(
                        Member.phone_last4 != "", Member.registered_store == self.store
                    )
                )
            )

    def register(self, phone: str, referrer: str | None = None) -> str | None:
        """Register ``phone`` here unless the till already knows it (``referrer``: a
        member whose referral code the new member gives)."""
        try:
            return members.find_by_phone(self.ctx, phone).id
        except LoyaltyError:
            pass
        code = members.summary(self.ctx, referrer).referral_code if referrer else None
        return members.register(
            self.ctx, phone=phone, name="会员", actor_id=self.cashier.id, referral_code=code
        ).id

    def sell(self, member_id: str | None, *, spend: str = "some") -> checkout.SaleResult | None:
        """A random basket; ``spend``: ``none``, ``some`` (random) or ``max`` points."""
        rng = self.rng
        lines = [
            BasketLine(
                f"SKU{rng.randint(1, 30)}",
                "商品",
                "food",
                rng.randint(1, 3),
                rng.randint(1, 40) * 500,
            )
            for _ in range(rng.randint(1, 3))
        ]
        points = 0
        if member_id is not None and spend != "none":
            try:
                q = checkout.quote(self.ctx, lines, member_id=member_id)
            except LoyaltyError:
                return None
            unit = self.ctx.rules.spending.unit_points
            most = q.max_usable_points // unit
            if most > 0:
                points = most * unit if spend == "max" else rng.randint(0, most) * unit
        try:
            q = checkout.quote(self.ctx, lines, member_id=member_id, points_to_use=points)
            tenders = [checkout.TenderInput("cash", q.cash_due_fen)] if q.cash_due_fen else []
            return checkout.complete_sale(
                self.ctx,
                sale_id=_new_id(rng),
                lines=lines,
                member_id=member_id,
                tenders=tenders,
                cashier_id=self.cashier.id,
                points_to_use=points,
            )
        except LoyaltyError:
            return None

    def refund_something(self) -> bool:
        """Refund part of a random sale of this till that has something left."""
        with self.ctx.db.read() as s:
            receipts = list(s.scalars(select(Sale.receipt_no)))
        self.rng.shuffle(receipts)
        for receipt in receipts[:5]:
            view = refunds.find_sale(self.ctx, receipt)
            open_lines = [ln for ln in view.lines if ln.refunded_qty < ln.quantity]
            if not open_lines:
                continue
            line = self.rng.choice(open_lines)
            qty = self.rng.randint(1, line.quantity - line.refunded_qty)
            try:
                refunds.refund(
                    self.ctx,
                    refund_id=_new_id(self.rng),
                    receipt_no=receipt,
                    request={line.id: qty},
                    cashier_id=self.cashier.id,
                    manager_id=self.manager.id,
                    manager_pin=MANAGER_PIN,
                    reason="harness",
                )
            except LoyaltyError:
                continue
            return True
        return False

    def adjust(self, member_id: str) -> bool:
        """A manager's small adjustment."""
        try:
            adjustments.adjust_points(
                self.ctx,
                member_id=member_id,
                points=self.rng.choice((50, 100, -50)),
                reason="harness",
                manager_id=self.manager.id,
                manager_pin=MANAGER_PIN,
            )
        except LoyaltyError:
            return False
        return True

    # -- views ------------------------------------------------------------------------------
    def ledger(self) -> set[tuple[str, str, str, int]]:
        """(entry id, member id, kind, points) of every entry here but the ``opening``
        entries of member snapshots (the till's own, never at HQ)."""
        with self.ctx.db.read() as s:
            rows = s.execute(
                select(
                    LedgerEntry.id, LedgerEntry.member_id, LedgerEntry.kind, LedgerEntry.points
                ).where(LedgerEntry.kind != "opening")
            ).all()
        return {(a, b, c, int(d)) for a, b, c, d in rows}

    def own_ledger(self) -> set[tuple[str, str, str, int]]:
        """Entries this till wrote itself (not pulled from HQ)."""
        with self.ctx.db.read() as s:
            rows = s.execute(
                select(
                    LedgerEntry.id, LedgerEntry.member_id, LedgerEntry.kind, LedgerEntry.points
                ).where((LedgerEntry.actor_id != "@hq") | LedgerEntry.actor_id.is_(None))
            ).all()
        return {(a, b, c, int(d)) for a, b, c, d in rows}

    def balances(self) -> dict[str, int]:
        """Every member's balance here."""
        with self.ctx.db.read() as s:
            return {m: int(b) for m, b in s.execute(select(Member.id, Member.balance)).all()}

    def placeholders(self) -> set[str]:
        """Members held only by id (a referrer, an alias): no phone here."""
        with self.ctx.db.read() as s:
            return set(s.scalars(select(Member.id).where(Member.phone_last4 == "")))

    def pending(self) -> int:
        """Unsent outbox events (of the ledger: audit events wait apart)."""
        with self.ctx.db.read() as s:
            return repo.pending_outbox(s)

    def outbox_ids(self) -> set[str]:
        """Every outbox event id of the ledger (audit events wait for an HQ that takes
        them: services/sync/push.py)."""
        with self.ctx.db.read() as s:
            return set(s.scalars(select(OutboxEvent.id).where(OutboxEvent.kind != repo.AUDIT_KIND)))

    def sale_and_refund_ids(self) -> tuple[set[str], set[str], set[str]]:
        """Ids of the sales, sale lines and refunds made here."""
        with self.ctx.db.read() as s:
            return (
                set(s.scalars(select(Sale.id))),
                set(s.scalars(select(SaleLine.id))),
                set(s.scalars(select(Refund.id))),
            )


def _new_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


# -- scenarios --------------------------------------------------------------------------


def sync_until_quiet(tills: list[SimTill], max_rounds: int = 12) -> int:
    """Heal the network and sync every till in turn until a whole round moves nothing.

    Returns the rounds it took.
    """
    for till in tills:
        till.transport.plan = None
        till.transport.offline = False
        till.transport.flush()
    for rounds in range(1, max_rounds + 1):
        moved = 0
        for till in tills:
            assert till.sync(), f"{till.name} could not sync on a healthy network"
            assert till.last_push is not None
            assert till.last_pull is not None
            assert till.last_push.refused is None, f"{till.name}: {till.last_push.refused}"
            assert till.last_push.waiting is None, f"{till.name}: {till.last_push.waiting}"
            moved += till.last_push.acknowledged + till.last_pull.changes
        if moved == 0:
            return rounds
    raise AssertionError(f"not quiet after {max_rounds} rounds")


@dataclass
class HQLedger:
    """HQ's ledger and members, read straight from PostgreSQL.

    Attributes:
        written: Entries each till wrote and holds itself, by HQ's till id.
        scopes: Members each region's tills hold, by region.
        regions: The region of each store.
    """

    entries: set[tuple[str, str, str, int]]
    balances: dict[str, int]
    sums: dict[str, int]
    lots: dict[str, int]
    sales: set[str]
    sale_lines: set[str]
    refunds: set[str]
    idempotency_keys: set[str]
    flags: list[dict[str, Any]]
    written: dict[str, set[tuple[str, str, str, int]]]
    scopes: dict[str, set[str]]
    regions: dict[str, str]


def read_hq(db_url: str) -> HQLedger:
    """HQ's figures, read with a connection of our own."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            entries: set[tuple[str, str, str, int]] = set()
            written: dict[str, set[tuple[str, str, str, int]]] = {}
            for a, b, c, d, till, own in conn.execute(
                text(
                    "SELECT id, member_id, kind, points, till_id, in_origin_ledger "
                    "FROM ledger_entries"
                )
            ):
                entries.add((a, b, c, int(d)))
                if till is not None and own:
                    written.setdefault(till, set()).add((a, b, c, int(d)))
            balances = {m: int(b) for m, b in conn.execute(text("SELECT id, balance FROM members"))}
            sums = {
                m: int(t)
                for m, t in conn.execute(
                    text("SELECT member_id, SUM(points) FROM ledger_entries GROUP BY member_id")
                )
            }
            lots = {
                m: int(t)
                for m, t in conn.execute(
                    text("SELECT member_id, SUM(remaining) FROM lots GROUP BY member_id")
                )
            }
            sales = set(conn.execute(text("SELECT id FROM sales")).scalars())
            lines = set(conn.execute(text("SELECT id FROM sale_lines")).scalars())
            refund_ids = set(conn.execute(text("SELECT id FROM refunds")).scalars())
            keys = set(conn.execute(text("SELECT key FROM idempotency_records")).scalars())
            flags = [
                {"kind": k, "member_id": m, "subject_id": s, "detail": d}
                for k, m, s, d in conn.execute(
                    text("SELECT kind, member_id, subject_id, detail FROM flagged_records")
                )
            ]
            scopes: dict[str, set[str]] = {}
            for member_id, region in conn.execute(
                text("SELECT member_id, region FROM member_scopes")
            ):
                scopes.setdefault(region, set()).add(member_id)
            regions = {c: r for c, r in conn.execute(text("SELECT code, region FROM stores"))}
    finally:
        engine.dispose()
    return HQLedger(
        entries,
        balances,
        sums,
        lots,
        sales,
        lines,
        refund_ids,
        keys,
        flags,
        written,
        scopes,
        regions,
    )


def check_invariants(db_url: str, tills: list[SimTill]) -> HQLedger:
    """The end-of-run checks (after :func:`sync_until_quiet`).

    * every outbox event of every till was acknowledged, and HQ keeps exactly one
      idempotency record per event;
    * the entries a till wrote itself are exactly those HQ holds from that till, and
      every other entry on a till (pulled) is HQ's: same entry ids, members, kinds and
      points (a member the till received whole starts with an ``opening`` entry of its
      own instead of the entries before it);
    * no sale, line or refund is missing or extra at HQ;
    * every balance at HQ equals its ledger sum, and its lots hold max(balance, 0);
    * every till's balances equal its ledger sums and lots (``pos-app check``); it holds
      every member of its region's scope at HQ, with HQ's balance, and nothing else
      but members known only by id (a referrer, an alias) that no one sells to.
    """
    hq = read_hq(db_url)
    outbox: set[str] = set()
    sales: set[str] = set()
    lines: set[str] = set()
    refund_ids: set[str] = set()
    for till in tills:
        assert till.pending() == 0, f"{till.name} still has events to send"
        ids = till.outbox_ids()
        assert not ids & outbox, "two tills used the same event id"
        outbox |= ids
        own = till.own_ledger()
        assert own == hq.written.get(till.name, set()), (
            f"{till.name}: its own entries differ from what HQ has of it: only here "
            f"{sorted(own - hq.written.get(till.name, set()))[:5]}, only at HQ "
            f"{sorted(hq.written.get(till.name, set()) - own)[:5]}"
        )
        ledger = till.ledger()
        assert ledger <= hq.entries, (
            f"{till.name}: entries not at HQ: {sorted(ledger - hq.entries)[:5]}"
        )
        s, ln, r = till.sale_and_refund_ids()
        sales |= s
        lines |= ln
        refund_ids |= r
        with till.ctx.db.read() as session:
            bad = balance_mismatches(session)
        assert not bad, f"{till.name}: balance != ledger sum or lots: {bad[:5]}"
        here = till.balances()
        scope = hq.scopes.get(hq.regions[till.name.split("-")[0]], set())
        for member_id in scope:
            assert here.get(member_id) == hq.balances[member_id], (
                f"{till.name}: member {member_id} has {here.get(member_id)} here, "
                f"{hq.balances[member_id]} at HQ"
            )
        extra = set(here) - scope
        assert extra <= till.placeholders(), (
            f"{till.name} holds members outside its region: {sorted(extra)[:5]}"
        )
    assert len({e[0] for e in hq.entries}) == len(hq.entries)
    assert outbox <= hq.idempotency_keys, "an event was never applied at HQ"
    assert sales == hq.sales
    assert lines == hq.sale_lines
    assert refund_ids == hq.refunds
    for member_id, balance in hq.balances.items():
        assert balance == hq.sums.get(member_id, 0), f"HQ {member_id}: balance != ledger sum"
        assert hq.lots.get(member_id, 0) == max(balance, 0), f"HQ {member_id}: lots != balance"
    return hq


@dataclass
class ScenarioReport:
    """What a random scenario did."""

    seed: int
    operations: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    hq_restarts: int = 0
    heal_rounds: int = 0
    seconds: float = 0.0
    op_seconds: dict[str, float] = field(default_factory=dict)

    def count(self, name: str) -> None:
        """One more ``name``."""
        self.operations[name] = self.operations.get(name, 0) + 1


def run_scenario(
    hq: HQServer,
    tills: list[SimTill],
    seed: int,
    steps: int,
    phones: list[str],
) -> ScenarioReport:
    """Random sales, refunds, registrations and adjustments on every till, with syncs
    over a hostile network, tills going offline and dying, and HQ restarting."""
    rng = random.Random(seed)
    report = ScenarioReport(seed)
    began = time.monotonic()
    for _ in range(steps):
        started = time.monotonic()
        till = rng.choice(tills)
        op = rng.choices(
            ("register", "sell", "refund", "adjust", "sync", "offline", "restart_hq"),
            weights=(12, 38, 10, 3, 30, 4, 2),
        )[0]
        known = till.known_members()
        if op == "register" or (op in ("sell", "adjust") and not known):
            referrer = rng.choice(known) if known and rng.random() < 0.4 else None
            till.register(rng.choice(phones), referrer)
            report.count("register")
        elif op == "sell":
            member = rng.choice([*known, None])
            if till.sell(member, spend=rng.choice(("none", "some", "max"))) is not None:
                report.count("sell")
        elif op == "refund":
            if till.refund_something():
                report.count("refund")
        elif op == "adjust":
            own = till.own_members()
            if own and till.adjust(rng.choice(own)):
                report.count("adjust")
        elif op == "sync":
            report.count("sync" if till.sync() else "sync_failed")
        elif op == "offline":
            till.transport.offline = not till.transport.offline
            report.count("offline_toggle")
        elif op == "restart_hq":
            hq.restart()
            report.count("restart_hq")
        report.op_seconds[op] = report.op_seconds.get(op, 0.0) + time.monotonic() - started
    healing = time.monotonic()
    report.heal_rounds = sync_until_quiet(tills)
    report.op_seconds["heal"] = time.monotonic() - healing
    for till in tills:
        for name, n in till.transport.stats.faults.items():
            report.faults[name] = report.faults.get(name, 0) + n
        report.kills += till.kills
    report.hq_restarts = hq.restarts
    report.seconds = time.monotonic() - began
    return report


@dataclass
class Chain:
    """HQ and its tills, for a test."""

    hq: HQServer
    tills: list[SimTill]

    def close(self) -> None:
        """Close every till, then stop HQ."""
        for till in self.tills:
            till.close()
        self.hq.stop()


def build_chain(
    db_url: str,
    template: Path,
    folder: Path,
    layout: list[tuple[str, str]],
    seed: int,
    plan: FaultPlan | None = None,
) -> Chain:
    """HQ on ``db_url`` with a till per (store, till) of ``layout``."""
    clock = SimClock()
    hq = HQServer(db_url, clock).start()
    try:
        for store in sorted({s for s, _ in layout}):
            hq.create_store(store)
        tills = [
            SimTill(
                hq,
                template,
                folder,
                store,
                till,
                random.Random(f"{seed}-{store}-{till}"),
                plan,
                clock,
            )
            for store, till in layout
        ]
    except BaseException:
        hq.stop()
        raise
    return Chain(hq, tills)


def iter_flags(hq: HQLedger, kind: str) -> Iterator[dict[str, Any]]:
    """HQ's flagged records of ``kind``."""
    return (f for f in hq.flags if f["kind"] == kind)


__all__ = [
    "HQ_DATABASE",
    "VIRTUAL_HQ",
    "Chain",
    "FaultPlan",
    "FaultTransport",
    "HQServer",
    "ScenarioReport",
    "SimClock",
    "SimTill",
    "TillKilled",
    "build_chain",
    "check_invariants",
    "iter_flags",
    "make_till_template",
    "read_hq",
    "reset_hq_database",
    "run_scenario",
    "sync_until_quiet",
]
