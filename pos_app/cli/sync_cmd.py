"""``pos-app sync`` and ``pos-app register-till``: the till's link to HQ from a shell.

    pos-app register-till --hq https://hq.example.com --ca hq-ca.pem --admin-token pta_… --store 001
    pos-app sync                                   # push the outbox, pull HQ's changes
    pos-app sync --hq http://127.0.0.1:8700 --token ptt_… --save
    pos-app sync --push-only --json
    pos-app sync --retry-refused                   # after fixing what HQ refused

``register-till`` asks HQ for a till credential (an admin's token is needed once) and
stores it in the till database with HQ's phone-hash key, the store and till codes HQ
gave and HQ's CA certificate (``--ca``: from then on the till trusts that CA alone for
HQ); the till then syncs on its own (the UI starts the background sync). Plain
``http://`` is refused except to this machine, unless ``--allow-insecure-http``. ``sync``
runs one push and pull now and says what happened; it exits 0 when everything went,
1 when HQ refused an event (it is named, and stays unsent until it is fixed and sent
with ``--retry-refused``), 2 when HQ could not be reached or the till is not set up.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ERROR = 2


def register(subparsers: Any) -> None:
    """Add ``sync`` and ``register-till`` to ``pos-app``'s subcommands."""
    sync = subparsers.add_parser(
        "sync",
        help="push the outbox to HQ and pull HQ's changes, once",
        description="Push every pending outbox event to HQ, then pull HQ's changes.",
    )
    sync.add_argument("--hq", help="HQ's base URL (default: the one stored by register-till)")
    sync.add_argument("--token", help="the till's token (default: the stored one)")
    sync.add_argument("--save", action="store_true", help="store --hq and --token for next time")
    only = sync.add_mutually_exclusive_group()
    only.add_argument("--push-only", action="store_true", help="push, do not pull")
    only.add_argument("--pull-only", action="store_true", help="pull, do not push")
    sync.add_argument("--batch", type=int, default=100, help="events per push request")
    sync.add_argument("--page", type=int, default=500, help="changes per pull page")
    sync.add_argument(
        "--retry-refused",
        action="store_true",
        help="send again the event HQ refused (after the cause was fixed)",
    )
    sync.add_argument("--json", action="store_true", help="print the result as JSON")
    sync.set_defaults(handler=cmd_sync)

    reg = subparsers.add_parser(
        "register-till",
        help="get a till credential from HQ and store it here",
        description="Register this till at HQ (needs an admin token once).",
    )
    reg.add_argument("--hq", required=True, help="HQ's base URL")
    reg.add_argument("--admin-token", required=True, help="an HQ admin token (pta_…)")
    reg.add_argument("--store", required=True, help="the store's code at HQ")
    reg.add_argument("--till", help="the till's code in the store (HQ picks one if omitted)")
    reg.add_argument("--ca", help="HQ's CA certificate (PEM): the only CA trusted for HQ")
    reg.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http:// to a non-loopback HQ (tokens cross the network in clear)",
    )
    reg.set_defaults(handler=cmd_register_till)


def _open(db: str) -> Any:
    from pos_app.services.context import open_till

    path = Path(db)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (start the till once, or run demo-data)")
    return open_till(path)


def _result_dict(result: Any) -> dict[str, Any]:
    import dataclasses

    value: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(result), default=str))
    return value


def cmd_sync(args: argparse.Namespace) -> int:
    """One push and pull; see the module docstring for the exit codes."""
    from pos_app.services.sync import (
        HQClient,
        PullResult,
        PushResult,
        SyncClient,
        SyncConfig,
        SyncError,
        load_sync_config,
        save_sync_config,
    )

    try:
        ctx = _open(args.db)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        stored = load_sync_config(ctx)
        url = args.hq or (stored.hq_url if stored else None)
        token = args.token or (stored.token if stored else None)
        if not url or not token:
            print(
                "error: no HQ is set up: pass --hq and --token, or run pos-app register-till",
                file=sys.stderr,
            )
            return EXIT_ERROR
        if args.save:
            save_sync_config(ctx, url, token)
        config = SyncConfig(
            url,
            token,
            push_batch=args.batch,
            pull_page=args.page,
            ca_pem=stored.ca_pem if stored else None,
            allow_insecure_http=bool(stored and stored.allow_insecure_http),
        )

        def progress(p: Any) -> None:
            if p.members_total:  # a first sync: the region's members, whole
                print(
                    f"\rmembers from HQ: {p.members:,} of {p.members_total:,} …",
                    end="\n" if p.members >= p.members_total else "",
                    file=sys.stderr,
                    flush=True,
                )
            elif p.has_more:  # a long pull: show it moving
                print(f"\rpulled {p.changes:,} changes …", end="", file=sys.stderr, flush=True)
            elif p.pages > 1:
                print(file=sys.stderr)

        try:
            client = HQClient.from_config(config)
        except SyncError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        with client:
            syncer = SyncClient(
                ctx,
                client,
                push_batch=config.push_batch,
                pull_page=config.pull_page,
                on_progress=progress,
                retry_refused=args.retry_refused,
            )
            try:
                syncer.verify_identity()
                pushed = PushResult() if args.pull_only else syncer.push()
                pulled = PullResult(cursor=syncer.cursor()) if args.push_only else syncer.pull()
                if pulled.restarted:  # HQ was restored: send everything again, then pull
                    pushed = syncer.push()
                    pulled = dataclasses.replace(syncer.pull(), restarted=True)
            except SyncError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_ERROR
    finally:
        ctx.db.close()
    if args.json:
        print(
            json.dumps(
                {"push": _result_dict(pushed), "pull": _result_dict(pulled)},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(
            f"pushed {pushed.acknowledged} events in {pushed.batches} requests "
            f"({pushed.replayed} HQ already had), {pushed.pending} still pending"
        )
        if pushed.flags:
            print(f"HQ flagged for review: {', '.join(pushed.flags)}")
        if pushed.waiting is not None:
            print(f"waiting: {pushed.waiting}")
        if not args.push_only:
            applied = ", ".join(f"{n} {topic}" for topic, n in sorted(pulled.applied.items()))
            if pulled.snapshot_members:
                print(f"loaded {pulled.snapshot_members} members of the region from HQ")
            print(
                f"pulled {pulled.changes} changes ({applied or 'nothing new'}), "
                f"cursor {pulled.cursor or '(first sync unfinished)'}"
            )
        for member_id in pulled.mismatches:
            print(f"warning: member {member_id}: balance differs from HQ's")
        for problem in pulled.problems:
            print(f"warning: {problem}")
    if pushed.refused is not None:
        print(f"refused by HQ: {pushed.refused}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def cmd_register_till(args: argparse.Namespace) -> int:
    """Get a till credential from HQ and adopt it; exit 2 on any refusal."""
    from pos_app.services.sync import HQClient, SyncError, holds_data, save_registration

    try:
        ca_pem = Path(args.ca).read_text("ascii") if args.ca else None
        ctx = _open(args.db)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if holds_data(ctx) and (args.store, args.till or ctx.till_id) != (
            ctx.store_id,
            ctx.till_id,
        ):
            print(
                f"error: this till already holds members or sales as till {ctx.till_id} of "
                f"store {ctx.store_id}: register it with --store {ctx.store_id} --till "
                f"{ctx.till_id}, or start a new till database",
                file=sys.stderr,
            )
            return EXIT_ERROR
        try:
            client = HQClient(args.hq, ca_pem=ca_pem, allow_insecure_http=args.allow_insecure_http)
        except SyncError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        with client:
            try:
                credential = client.register_till(args.admin_token, args.store, args.till)
            except SyncError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_ERROR
            try:
                save_registration(
                    ctx,
                    args.hq,
                    credential,
                    ca_pem=ca_pem,
                    allow_insecure_http=args.allow_insecure_http,
                )
            except SyncError as exc:
                print(
                    f"error: {exc}\nHQ created till {credential.get('id')} for nothing: "
                    "ask HQ to deactivate it",
                    file=sys.stderr,
                )
                return EXIT_ERROR
    finally:
        ctx.db.close()
    print(
        f"registered as till {credential['till_code']} of store {credential['store_code']} "
        f"at {args.hq}; the token is stored in {args.db}"
    )
    return EXIT_OK
