"""``pos-hq``: run and administer HQ.

pos-hq serve [--db URL] [--host 127.0.0.1] [--port 8700]   migrate, then serve the API
             [--tls-cert F --tls-key F] [--workers N] [...] (``pos-hq serve --help``)
pos-hq migrate [--db URL]                                   upgrade the schema to head
pos-hq create-store CODE --name NAME [--region R]           a store (its own region by default)
pos-hq assign-members --region R MEMBER...                  members R's tills hold from now on
pos-hq register-till STORE [--till CODE]                    a till: prints its token once
pos-hq add-manager STORE ID --name NAME                     she may approve adjustments
pos-hq remove-manager STORE ID                              she no longer may
pos-hq create-admin NAME                                    an admin: prints its token once
pos-hq create-channel CODE [--name NAME]                    mall/app: prints its token once
pos-hq publish-rules FILE [--no-activate]                   publish a rule set version
pos-hq keys create|rotate|revoke|list                       member-code signing keys
pos-hq member-code MEMBER [--png F]                         a member's signed code (support)
pos-hq audit verify [--expect SEQ:HASH] | audit head        check the audit trails
pos-hq run-jobs [--db URL] [--now ISO] [--notify-config F]  rule sets scheduled in the console,
                                                            expiry, tier review, notifications,
                                                            then the console's summaries
pos-hq notify [--dry-run | --preview KIND MEMBER]           members' notifications
pos-hq operator add USER --role R [--name N] [--password-stdin]
pos-hq operator role USER ROLE | operator disable USER | operator list
                                                            console operators (docs/console.md)
pos-hq import-members FILE.csv [--default-store CODE] [--dry-run] [--skip-bad]
                                                            load a legacy member list
pos-hq openapi                                              print the OpenAPI document

Commands that sign (``keys create``, ``keys rotate``, ``member-code``, ``serve``) read
HQ's master key from ``--master-key``, ``$POS_HQ_MASTER_KEY`` or ``hq-master.key`` in
the user's config folder (see :mod:`pos_app.hq.keys`).

``--db`` is a ``postgresql+psycopg://`` URL. Without it, ``$POS_HQ_DB`` is used, else an
embedded SQLite demo file in the user's data folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pos_app import __version__
from pos_app.hq.errors import HQError

Handler = Callable[[argparse.Namespace], int]


def default_db_url() -> str:
    """``$POS_HQ_DB``, else the SQLite demo file."""
    env = os.environ.get("POS_HQ_DB")
    if env:
        return env
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'points-till' / 'hq-demo.sqlite'}"


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _actor() -> str:
    """Who runs ``pos-hq``, as the audit trail records it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _when(text: str | None, flag: str) -> dt.datetime | None:
    """An ISO date-time with a zone, or None.

    Raises:
        ValueError: not ISO, or no zone.
    """
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not an ISO date-time") from None
    if value.utcoffset() is None:
        raise ValueError(f"{flag} must carry a time zone (e.g. 2027-01-01T03:00+08:00)")
    return value


def _open(args: argparse.Namespace, *, migrate: bool = True) -> Any:
    from pos_app.hq.database import HQDatabase

    db = HQDatabase(args.db)
    if migrate:
        db.migrate()
    return db


def cmd_migrate(args: argparse.Namespace) -> int:
    from pos_app.hq.database import head_revision

    db = _open(args)
    try:
        revision = db.current_revision()
        print(f"HQ database at revision {revision} (head {head_revision()})")
        return 0
    finally:
        db.close()


def serve_config(args: argparse.Namespace) -> Any:
    """The :class:`pos_app.hq.serve.ServeConfig` ``pos-hq serve``'s flags describe."""
    from pos_app.hq.config import HQSettings
    from pos_app.hq.database import EngineOptions
    from pos_app.hq.serve import ServeConfig

    settings = HQSettings(
        clock_skew_seconds=args.clock_skew,
        write_slots=args.write_slots,
        read_slots=args.read_slots,
        queue_limit=args.queue,
        queue_wait_seconds=args.queue_wait,
        retry_after_seconds=args.retry_after,
        replica_wait_seconds=args.replica_wait,
    )
    engine = EngineOptions(pool_timeout=args.pool_timeout, lock_timeout=args.lock_timeout or None)
    return ServeConfig(args.db, args.replica_db, settings, engine, args.master_key)


def tls_files(args: argparse.Namespace) -> Any:
    """The :class:`pos_app.hq.serve.TLSFiles` of ``--tls-cert``/``--tls-key``, or None.

    Raises:
        ValueError: one without the other, files that cannot serve TLS, or plain HTTP on
            an address other machines reach without ``--allow-insecure-http``.
    """
    from pos_app.hq.serve import TLSFiles, is_loopback

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        tls = TLSFiles(args.tls_cert, args.tls_key)
        tls.check()
        return tls
    if not is_loopback(args.host) and not args.allow_insecure_http:
        raise ValueError(
            f"refusing to serve plain HTTP on {args.host}: tokens would cross the network in "
            "clear. Give --tls-cert and --tls-key (docs/security.md), or --allow-insecure-http "
            "behind a TLS-terminating proxy"
        )
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    from pos_app.hq.serve import serve

    config = serve_config(args)  # bad flags fail before the database is touched
    tls = tls_files(args)
    config.master_key()  # a master key file that cannot be used stops it here
    db = _open(args)
    try:
        if db.is_sqlite:
            print(f"pos-hq: serving the SQLite demo database {args.db}", file=sys.stderr)
            if args.workers > 1 or args.replica_db:
                print("pos-hq: a SQLite demo has one worker and no replica", file=sys.stderr)
                return 2
    finally:
        db.close()
    serve(
        config,
        host=args.host,
        port=args.port,
        workers=args.workers,
        keep_alive=args.keep_alive,
        log_level=args.log_level,
        tls=tls,
    )
    return 0


def cmd_create_store(args: argparse.Namespace) -> int:
    from pos_app.hq import admin
    from pos_app.hq.schemas import StoreIn

    store = StoreIn(code=args.code, name=args.name or args.code, region=args.region)
    db = _open(args)
    try:
        _print_json(
            admin.create_store(db, store.code, store.name, _now(), store.region, actor=_actor())
        )
        return 0
    finally:
        db.close()


def cmd_assign_members(args: argparse.Namespace) -> int:
    from pos_app.hq.schemas import ScopeMembersIn, StoreIn
    from pos_app.hq.scopes import assign_members

    region = StoreIn(code=args.region, name="").code
    members = ScopeMembersIn(member_ids=args.members).member_ids
    db = _open(args)
    try:
        _print_json(assign_members(db, region, list(members), _now(), actor=_actor()))
        return 0
    finally:
        db.close()


def cmd_register_till(args: argparse.Namespace) -> int:
    from pos_app.hq import admin
    from pos_app.hq.schemas import TillIn

    TillIn(till_code=args.till)
    db = _open(args)
    try:
        cred = admin.register_till(db, args.store, args.till, _now(), actor=_actor())
        _print_json(cred.model_dump())
        print("pos-hq: the token is shown only now; HQ keeps only its hash.", file=sys.stderr)
        return 0
    finally:
        db.close()


def cmd_create_admin(args: argparse.Namespace) -> int:
    from pos_app.hq import admin

    db = _open(args)
    try:
        cred = admin.create_admin(db, args.name, _now(), actor=_actor())
        _print_json(cred.model_dump(exclude_none=True))
        print("pos-hq: the token is shown only now; HQ keeps only its hash.", file=sys.stderr)
        return 0
    finally:
        db.close()


def cmd_create_channel(args: argparse.Namespace) -> int:
    from pos_app.hq import admin
    from pos_app.hq.schemas import ChannelIn

    ChannelIn(code=args.code, name=args.name)
    db = _open(args)
    try:
        cred = admin.create_channel(db, args.code, args.name or args.code, _now(), actor=_actor())
        _print_json(cred.model_dump(exclude_none=True))
        return 0
    finally:
        db.close()


def cmd_publish_rules(args: argparse.Namespace) -> int:
    from pos_app.hq import admin

    try:
        document = json.loads(Path(args.file).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"pos-hq: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    db = _open(args)
    try:
        _print_json(
            admin.publish_rule_set(db, document, not args.no_activate, _now(), actor=_actor())
        )
        return 0
    finally:
        db.close()


def _job_time(args: argparse.Namespace) -> dt.datetime | None:
    """``--now`` (aware ISO) or the clock; None (after saying why) when malformed."""
    if not args.now:
        return _now()
    try:
        now = dt.datetime.fromisoformat(args.now)
    except ValueError:
        print(f"pos-hq: --now {args.now!r} is not an ISO date-time", file=sys.stderr)
        return None
    if now.utcoffset() is None:
        print(
            "pos-hq: --now must carry a time zone (e.g. 2027-01-01T03:00+08:00)",
            file=sys.stderr,
        )
        return None
    return now


def _job_setup(args: argparse.Namespace) -> tuple[dt.datetime, Any] | None:
    """(time of the run, notification setup), or None after saying what is wrong."""
    now = _job_time(args)
    if now is None:
        return None
    try:
        return now, _reach(args)
    except ValueError as exc:
        print(f"pos-hq: {exc}", file=sys.stderr)
        return None


def _reach(args: argparse.Namespace) -> Any:
    """The notification setup of ``--notify-config`` and the master key."""
    from pos_app.hq.channels import NotifyConfig
    from pos_app.hq.notify import Reach

    path = args.notify_config or os.environ.get("POS_HQ_NOTIFY_CONFIG")
    config = NotifyConfig.load(Path(path) if path else None)
    # The master key opens the addresses: needed only when there is a channel to send on.
    return Reach(config, _master(args) if path else None)


def cmd_run_jobs(args: argparse.Namespace) -> int:
    from pos_app.hq.jobs import run_jobs

    setup = _job_setup(args)
    if setup is None:
        return 2
    now, reach = setup
    from pos_app.hq.console.rules import publish_due
    from pos_app.hq.console.summaries import refresh

    db = _open(args)
    try:
        published = publish_due(db, now)  # a rule set due now governs today's jobs
        done = run_jobs(db, now, reach).as_dict()
        console = {"rules_published": published, **refresh(db, now).as_dict()}
        _print_json({"now": now.isoformat(), **done, "console": console})
        return 0
    finally:
        db.close()


def _new_password(args: argparse.Namespace) -> str:
    """The new operator's password: one line of standard input, or typed twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_operator_add(args: argparse.Namespace) -> int:
    from pos_app.hq.console import auth

    password = _new_password(args)
    db = _open(args)
    try:
        auth.add_operator(
            db, args.username, password, args.role, _now(), display_name=args.name, actor=_actor()
        )
        print(f"operator {args.username} ({args.role}) added")
        return 0
    finally:
        db.close()


def cmd_operator_role(args: argparse.Namespace) -> int:
    from pos_app.hq.console import auth

    db = _open(args)
    try:
        auth.set_role(db, args.username, args.role, _now(), actor=_actor())
        print(f"operator {args.username} is now {args.role}; their sessions ended")
        return 0
    finally:
        db.close()


def cmd_operator_disable(args: argparse.Namespace) -> int:
    from pos_app.hq.console import auth

    db = _open(args)
    try:
        auth.disable(db, args.username, _now(), actor=_actor())
        print(f"operator {args.username} disabled; their sessions ended")
        return 0
    finally:
        db.close()


def cmd_operator_list(args: argparse.Namespace) -> int:
    from pos_app.hq.console import auth

    db = _open(args)
    try:
        _print_json(auth.list_operators(db))
        return 0
    finally:
        db.close()


def cmd_notify(args: argparse.Namespace) -> int:
    from pos_app.core.notify import UnknownKind
    from pos_app.hq import notify
    from pos_app.hq.ledger import active_rules

    setup = _job_setup(args)
    if setup is None:
        return 2
    now, reach = setup
    mall_url = reach.config.mall_url
    db = _open(args)
    try:
        if args.preview:
            kind, member = args.preview
            with db.read() as s:
                try:
                    shown = notify.preview(s, active_rules(s), now, kind, member, mall_url)
                except (UnknownKind, LookupError) as exc:
                    print(f"pos-hq: {exc}", file=sys.stderr)
                    return 1
            _print_json(shown)
            return 0
        if args.dry_run:
            with db.read() as s:
                report = notify.plan(s, active_rules(s), now, mall_url)
            lines = [
                {
                    "member_id": p.member_id,
                    "kind": p.kind,
                    "period": p.period,
                    "channel": p.channel,
                    "params": p.params,
                }
                for p in report.planned
            ]
            _print_json({"now": now.isoformat(), "would_send": lines, **report.counts()})
            return 0
        planned, sent = reach.run(db, now)
        _print_json({"now": now.isoformat(), "planned": planned, "sent": sent})
        return 0
    finally:
        db.close()


def cmd_add_manager(args: argparse.Namespace) -> int:
    from pos_app.hq import adjustments
    from pos_app.hq.schemas import ManagerIn

    manager = ManagerIn(manager_id=args.manager_id, name=args.name)
    db = _open(args)
    try:
        _print_json(
            adjustments.add_manager(
                db, args.store, manager.manager_id, manager.name, _now(), actor=_actor()
            )
        )
        return 0
    finally:
        db.close()


def cmd_remove_manager(args: argparse.Namespace) -> int:
    from pos_app.hq import adjustments

    db = _open(args)
    try:
        _print_json(
            adjustments.remove_manager(db, args.store, args.manager_id, _now(), actor=_actor())
        )
        return 0
    finally:
        db.close()


def _master(args: argparse.Namespace, *, create: bool = False) -> Any:
    from pos_app.hq.keys import MasterKey

    path = Path(args.master_key)
    if create:
        if not path.exists():
            print(
                f"pos-hq: made HQ's master key {path} (keep it off the database's backups)",
                file=sys.stderr,
            )
        return MasterKey.load_or_create(path)
    return MasterKey.load(path) if path.exists() else None


def cmd_keys_create(args: argparse.Namespace) -> int:
    from pos_app.hq import keys

    since = _when(args.valid_from, "--valid-from")
    until = _when(args.valid_until, "--valid-until")
    master = _master(args, create=True)
    db = _open(args)
    try:
        _print_json(
            keys.create_key(db, master, _now(), valid_from=since, valid_until=until, actor=_actor())
        )
        return 0
    finally:
        db.close()


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from pos_app.hq import keys

    master = _master(args, create=True)
    db = _open(args)
    try:
        _print_json(keys.rotate_keys(db, master, _now(), actor=_actor()))
        return 0
    finally:
        db.close()


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from pos_app.hq import keys

    db = _open(args)
    try:
        _print_json(keys.revoke_key(db, args.key_id, args.reason, _now(), actor=_actor()))
        return 0
    finally:
        db.close()


def cmd_keys_list(args: argparse.Namespace) -> int:
    from pos_app.hq import keys

    db = _open(args)
    try:
        _print_json(keys.list_keys(db, _now()))
        return 0
    finally:
        db.close()


def cmd_member_code(args: argparse.Namespace) -> int:
    """Print a member's signed code and its QR (support and testing)."""
    import qrcode

    from pos_app.hq import audit, member_codes
    from pos_app.hq.keys import sign_member_code

    master = _master(args)
    db = _open(args)
    try:
        member_no = member_codes.member_no_of(db, args.member)
        if member_no is None:
            if not (args.any_number and args.member.strip().isdigit()):
                print(f"pos-hq: HQ has no member {args.member}", file=sys.stderr)
                return 1
            member_no = int(args.member.strip())  # a member HQ has not received yet
        now = _now()
        with db.write() as s:
            signed = sign_member_code(
                s, master, member_no, now, dt.timedelta(seconds=args.lifetime)
            )
            audit.record(
                s,
                now,
                _actor(),
                "member_code.sign",
                str(member_no),
                key_id=signed.key_id,
                expires_at=signed.expires_at.isoformat(),
            )
    finally:
        db.close()
    print(signed.code)
    print(
        f"member {member_no}, key {signed.key_id}, valid until {signed.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(signed.code)
    qr.make(fit=True)
    if not args.no_qr:
        text = io.StringIO()
        qr.print_ascii(out=text, invert=True)
        print(text.getvalue(), end="")
    if args.png:
        qr.make_image().save(args.png)
        print(f"QR saved to {args.png}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk HQ's audit chain and every till's as HQ received it, and check the ledger's
    references: exit 0 when all are intact, 1 naming each break (a till's by till and
    row, a dangling reference by kind and count)."""
    from pos_app.hq import audit, till_audit
    from pos_app.hq.ledger import dangling_references

    expect = audit.Head.parse(args.expect) if args.expect else None
    db = _open(args)
    try:
        with db.read() as s:
            verdict = audit.verify(s, expect)
            tills = till_audit.verify_tills(s)
            dangling = dangling_references(s)
    finally:
        db.close()
    for problem in verdict.problems:
        print(f"BROKEN: {problem}")
    for till_id, breaks in tills.items():
        for found in breaks:
            print(f"BROKEN: till {till_id}: {found.describe()}")
    for what, count in dangling.items():
        print(f"BROKEN: {count} {what}")
    if verdict.ok:
        print(f"OK: {verdict.rows} audit rows chain up to head {verdict.head}")
    if not tills:
        print("OK: every till's audit chain holds as HQ received it")
    if not dangling:
        print(
            "OK: every ledger row names a member, sale, entry and lot that exist,"
            " and every entry id is its member's alone"
        )
    return 0 if verdict.ok and not tills and not dangling else 1


def cmd_audit_head(args: argparse.Namespace) -> int:
    """Print the newest audit row as SEQ:HASH (write it down somewhere else)."""
    from pos_app.hq import audit

    db = _open(args)
    try:
        with db.read() as s:
            print(audit.stored_head(s))
        return 0
    finally:
        db.close()


def cmd_import_members(args: argparse.Namespace) -> int:
    from pos_app.hq.member_import import import_members

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"pos-hq: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    db = _open(args)
    try:
        report = import_members(
            db,
            data,
            now=_now(),
            source=Path(args.file).name,
            default_store=args.default_store,
            dry_run=args.dry_run,
            skip_bad=args.skip_bad,
            actor=_actor(),
        )
    finally:
        db.close()
    print("\n".join(report.lines()))
    return report.exit_code


def cmd_openapi(args: argparse.Namespace) -> int:
    from pos_app.hq.app import create_app

    db = _open(args, migrate=False)
    try:
        _print_json(create_app(db).openapi())
        return 0
    finally:
        db.close()


def _at_least(low: float, kind: Callable[[str], float]) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)``, refused below ``low``."""

    def parse(text: str) -> Any:
        value = kind(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, not {text}")
        return value

    return parse


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    """``pos-hq serve``'s flags (defaults from :class:`pos_app.hq.config.HQSettings`)."""
    from pos_app.hq.config import HQSettings
    from pos_app.hq.serve import KEEP_ALIVE_SECONDS, LOCK_TIMEOUT_SECONDS, POOL_TIMEOUT_SECONDS

    d = HQSettings()
    count, seconds = _at_least(1, int), _at_least(0, float)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--tls-cert", help="HQ's TLS certificate chain (PEM): serve HTTPS")
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    p.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="serve plain HTTP on a non-loopback address (only behind a TLS proxy)",
    )
    _master_key_argument(p)
    p.add_argument("--workers", type=count, default=1, help="server processes (default 1)")
    p.add_argument(
        "--keep-alive",
        type=count,
        default=KEEP_ALIVE_SECONDS,
        help=f"seconds an idle HTTP connection stays open (default {KEEP_ALIVE_SECONDS}; "
        "a till syncs every 15 s)",
    )
    p.add_argument(
        "--replica-db",
        default=os.environ.get("POS_HQ_REPLICA_DB"),
        help="a streaming replica of --db serving pull and member look-ups "
        "(default $POS_HQ_REPLICA_DB)",
    )
    p.add_argument(
        "--replica-wait",
        type=seconds,
        default=d.replica_wait_seconds,
        help="seconds a read ahead of the replica waits for it before the primary answers "
        f"(default {d.replica_wait_seconds:g})",
    )
    p.add_argument(
        "--write-slots",
        type=count,
        default=d.write_slots,
        help=f"push, channel and hold requests served at once, per worker (default {d.write_slots})",
    )
    p.add_argument(
        "--read-slots",
        type=count,
        default=d.read_slots,
        help=f"pulls and member look-ups served at once, per worker (default {d.read_slots})",
    )
    p.add_argument(
        "--queue",
        type=_at_least(0, int),
        default=d.queue_limit,
        help=f"requests of each kind that may wait for a slot (default {d.queue_limit})",
    )
    p.add_argument(
        "--queue-wait",
        type=seconds,
        default=d.queue_wait_seconds,
        help=f"seconds a request may wait for a slot, then 503 (default {d.queue_wait_seconds:g})",
    )
    p.add_argument(
        "--retry-after",
        type=count,
        default=d.retry_after_seconds,
        help=f"Retry-After of a 503, seconds (default {d.retry_after_seconds})",
    )
    p.add_argument(
        "--pool-timeout",
        type=seconds,
        default=POOL_TIMEOUT_SECONDS,
        help="seconds to wait for a database connection, then 503 "
        f"(default {POOL_TIMEOUT_SECONDS:g})",
    )
    p.add_argument(
        "--lock-timeout",
        type=seconds,
        default=LOCK_TIMEOUT_SECONDS,
        help="seconds a statement waits for a lock (a writer's for the change counter), "
        f"then 503 (default {LOCK_TIMEOUT_SECONDS:g}; 0: forever)",
    )
    p.add_argument(
        "--clock-skew",
        type=int,
        default=d.clock_skew_seconds,
        help="seconds before a clock is flagged",
    )
    p.add_argument("--log-level", default="info")


def _notify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--notify-config",
        default=None,
        help="the channels' JSON configuration (default $POS_HQ_NOTIFY_CONFIG; none: "
        "plan only, send nothing); docs/notifications.md",
    )
    _master_key_argument(p)


def _master_key_argument(p: argparse.ArgumentParser) -> None:
    from pos_app.hq.keys import default_master_key_path

    p.add_argument(
        "--master-key",
        default=str(default_master_key_path()),
        help="HQ's master key file, which opens the member-code signing keys "
        "(default $POS_HQ_MASTER_KEY, else hq-master.key in the user's config folder)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``pos-hq`` argument parser."""
    from pos_app.core.notify import KINDS

    parser = argparse.ArgumentParser(
        prog="pos-hq",
        description="Points till HQ: the authoritative loyalty ledger and its sync API.",
    )
    parser.add_argument("--version", action="version", version=f"pos-hq {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        return _leaf(sub, name, handler, help_text)

    p = command("serve", cmd_serve, "migrate the database, then serve the API")
    _serve_arguments(p)
    command("migrate", cmd_migrate, "upgrade the database schema to head")
    p = command("create-store", cmd_create_store, "create a store")
    p.add_argument("code")
    p.add_argument("--name", default="")
    p.add_argument("--region", default=None, help="its region (default: the store's code)")
    p = command(
        "assign-members", cmd_assign_members, "put members in a region (its tills hold them)"
    )
    p.add_argument("--region", required=True)
    p.add_argument("members", nargs="+", metavar="MEMBER")
    p = command("register-till", cmd_register_till, "register a till and print its token once")
    p.add_argument("store")
    p.add_argument("--till", default=None, help="till code (the next free one by default)")
    p = command("add-manager", cmd_add_manager, "make a till user a manager of a store")
    p.add_argument("store")
    p.add_argument("manager_id", help="her user id on the store's tills")
    p.add_argument("--name", default="")
    p = command("remove-manager", cmd_remove_manager, "she approves no more adjustments")
    p.add_argument("store")
    p.add_argument("manager_id")
    p = command("create-admin", cmd_create_admin, "create an admin and print its token once")
    p.add_argument("name")
    p = command("create-channel", cmd_create_channel, "create a channel credential (mall, app)")
    p.add_argument("code")
    p.add_argument("--name", default="")
    p = command("publish-rules", cmd_publish_rules, "publish a rule set version from a JSON file")
    p.add_argument("file")
    p.add_argument("--no-activate", action="store_true")
    p = command(
        "run-jobs",
        cmd_run_jobs,
        "run expiry, the yearly tier review and the members' notifications (idempotent)",
    )
    p.add_argument("--now", default=None, help="HQ's time for the run (ISO, with a zone)")
    _notify_arguments(p)
    p = command("notify", cmd_notify, "plan and send members' notifications (idempotent)")
    p.add_argument("--now", default=None, help="HQ's time for the run (ISO, with a zone)")
    _notify_arguments(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--dry-run", action="store_true", help="show who would get what; write and send nothing"
    )
    what.add_argument(
        "--preview",
        nargs=2,
        metavar=("KIND", "MEMBER"),
        help=f"the text KIND would send MEMBER now (one of {', '.join(KINDS)})",
    )
    p = command(
        "import-members",
        cmd_import_members,
        "load a chain's existing members from a CSV file (nothing is written if a row is bad)",
    )
    p.add_argument("file", help="CSV (UTF-8, header row): phone,name,birthday,store,...")
    p.add_argument("--default-store", default=None, help="store of rows with no store")
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    p.add_argument("--skip-bad", action="store_true", help="load the good rows, report the rest")
    _keys_commands(sub)
    p = command("member-code", cmd_member_code, "print a member's signed code and its QR")
    p.add_argument("member", help="member id, card code (M…) or member number")
    p.add_argument("--lifetime", type=_at_least(1, int), default=120, help="seconds (max 600)")
    p.add_argument(
        "--any-number",
        action="store_true",
        help="sign for a member number HQ has not received yet (a till's offline member)",
    )
    p.add_argument("--png", help="also save the QR code as a PNG file")
    p.add_argument("--no-qr", action="store_true", help="print only the code")
    _master_key_argument(p)
    _audit_commands(sub)
    _operator_commands(sub)
    command("openapi", cmd_openapi, "print the OpenAPI document")
    return parser


def _nested(sub: Any, name: str, help_text: str) -> Any:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True)


def _leaf(sub: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--db", default=default_db_url(), help="database URL (postgresql+psycopg://...)")
    p.set_defaults(handler=handler)
    return p


def _keys_commands(sub: Any) -> None:
    keys = _nested(sub, "keys", "member-code signing keys (Ed25519)")
    p = _leaf(keys, "create", cmd_keys_create, "create a signing key")
    p.add_argument("--valid-from", help="signs from (ISO, with a zone; default now)")
    p.add_argument("--valid-until", help="signs until (ISO, with a zone; default open)")
    _master_key_argument(p)
    p = _leaf(keys, "rotate", cmd_keys_rotate, "a new key signs from now; the others stop")
    _master_key_argument(p)
    p = _leaf(keys, "revoke", cmd_keys_revoke, "withdraw a key: tills refuse its codes")
    p.add_argument("key_id", type=int)
    p.add_argument("--reason", required=True)
    _leaf(keys, "list", cmd_keys_list, "list the keys (public halves, windows)")


def _audit_commands(sub: Any) -> None:
    trail = _nested(sub, "audit", "HQ's tamper-evident audit trail")
    p = _leaf(trail, "verify", cmd_audit_verify, "report every edited or deleted audit row")
    p.add_argument("--expect", help="a head recorded earlier (SEQ:HASH from `audit head`)")
    _leaf(trail, "head", cmd_audit_head, "print the newest row as SEQ:HASH")


def _operator_commands(sub: Any) -> None:
    from pos_app.hq.console.models import ROLES

    ops = _nested(sub, "operator", "console operators (sign in at /console)")
    p = _leaf(ops, "add", cmd_operator_add, "add an operator (asks for the password)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", default="", help="display name (default: the username)")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p = _leaf(ops, "role", cmd_operator_role, "give an operator another role")
    p.add_argument("username")
    p.add_argument("role", choices=ROLES)
    p = _leaf(ops, "disable", cmd_operator_disable, "the operator can no longer sign in")
    p.add_argument("username")
    _leaf(ops, "list", cmd_operator_list, "list the operators")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pos-hq``."""
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        print(f"pos-hq: {where}: {first['msg']}", file=sys.stderr)
        return 2
    except HQError as exc:
        print(f"pos-hq: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"pos-hq: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
