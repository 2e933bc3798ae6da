"""``pos-app``: the till, and the command-line tools support staff and HQ use.

pos-app                              open the till (embedded demo by default)
pos-app --smoke [--screenshot F]     open the main window, (save it), exit 0
pos-app demo-data --members N        build a realistic store database
pos-app rules check FILE             validate a rule set
pos-app rules simulate ...           quote a basket under a rule set
pos-app check                        prove every balance equals its ledger; check the audit chain
pos-app support-bundle FILE.zip      logs, versions, settings (no secrets), the check result

Every command logs to a rotating file in the platform's data folder (pos_app.applog).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pos_app import __version__
from pos_app.core.errors import LoyaltyError

Handler = Callable[[argparse.Namespace], int]


def default_db_path() -> Path:
    """The till database: $POS_DB, else the user's data folder."""
    env = os.environ.get("POS_DB")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "points-till" / "till.sqlite"


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# -- demo-data -----------------------------------------------------------------------
def cmd_demo_data(args: argparse.Namespace) -> int:
    from pos_app.services.context import open_till
    from pos_app.services.demo import build_demo_data
    from pos_app.services.till_session import ensure_demo_users

    path = Path(args.db)
    if path.exists() and not args.force:
        print(f"{path} exists; use --force to replace it", file=sys.stderr)
        return 2
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ctx = open_till(path)
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or done == total:
            last[0] = now
            print(f"\r{stage}: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)
            if done == total:
                print(file=sys.stderr)

    stats = build_demo_data(
        ctx, members=args.members, sales=args.sales, seed=args.seed, progress=progress
    )
    users = ensure_demo_users(ctx)
    ctx.db.close()
    print(
        f"{path}: {stats.members:,} members, {stats.sales:,} sales, {stats.products} products, "
        f"{len(users)} users in {stats.seconds:.1f} s"
    )
    return 0


# -- rules -------------------------------------------------------------------------------
def _load_rules(path: str | None) -> Any:
    from pos_app.core.rules import default_rule_set, load_rule_set

    if path is None:
        return default_rule_set()
    return load_rule_set(Path(path).read_text("utf-8"))


def cmd_rules_check(args: argparse.Namespace) -> int:
    rules = _load_rules(args.file)
    print(f"OK: rule set {rules.version} ({rules.name or 'unnamed'})")
    print(f"  tiers: {', '.join(f'{lv.code}={lv.name}' for lv in rules.tiers.levels)}")
    print(f"  promotions: {', '.join(p.id for p in rules.earning.promotions) or 'none'}")
    return 0


def _parse_line(text: str) -> Any:
    """SKU:CATEGORY:QTY:PRICE_YUAN[:DISCOUNT_YUAN][:reward]"""
    from pos_app.core.quote import parse_basket_line

    return parse_basket_line(text)


def _tier_priced(
    rules: Any, tier: str | None, lines: list[Any], member_prices: list[str]
) -> list[tuple[Any, str]]:
    """Lines at the price ``tier`` pays (``--member-price SKU=YUAN``), each with what
    the simulation says about it ("" when the shelf price stands)."""
    from pos_app.core.errors import InvalidInput
    from pos_app.core.money import format_fen, yuan
    from pos_app.core.perks import priced_line, tier_price_percent

    prices: dict[str, int] = {}
    for text in member_prices:
        sku, sep, amount = text.partition("=")
        if not sep:
            raise InvalidInput("--member-price {text!r}: write SKU=YUAN", text=text)
        prices[sku] = yuan(amount)
    out = []
    for line in lines:
        member_price = prices.get(line.sku)
        priced = priced_line(rules, tier, line, line.unit_price_fen, member_price)
        note = ""
        if tier is not None and member_price is not None:
            note = (
                f"{line.sku}: {rules.tier_name(tier)}价 {format_fen(priced.unit_price_fen)} "
                f"(会员价 {format_fen(member_price)} x {tier_price_percent(rules, tier)}%, "
                f"原价 {format_fen(line.unit_price_fen)})"
            )
        out.append((priced, note))
    return out


def _anniversary_note(rules: Any, tier: str, registered: str, at: dt.datetime) -> str:
    """What the simulation says about the membership-anniversary bonus."""
    from pos_app.core.calendar import local_date
    from pos_app.core.perks import anniversary_bonus, membership_years

    since = dt.date.fromisoformat(registered)
    today = local_date(rules, at)
    points = anniversary_bonus(rules, tier, since, today)
    years = membership_years(since, today)
    if points:
        return f"入会 {since.isoformat()}：{today.year} 年周年礼 {points} 积分（HQ 在 {since.month} 月发放）"
    return f"入会 {since.isoformat()}（满 {max(years, 0)} 年）：本月没有周年礼"


def cmd_rules_simulate(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from pos_app.core.money import yuan
    from pos_app.core.quote import CouponInput, MemberContext, quote_basket

    rules = _load_rules(args.rules)
    zone = ZoneInfo(rules.timezone)
    at = dt.datetime.fromisoformat(args.at) if args.at else dt.datetime.now(zone)
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    lines = [_parse_line(text) for text in args.line]
    tier_prices = _tier_priced(
        rules, None if args.no_member else args.tier, lines, args.member_price
    )
    lines = [line for line, _ in tier_prices]
    member = None
    if not args.no_member:
        member = MemberContext(
            member_id="simulated",
            tier=args.tier,
            balance=args.balance,
            birthday=dt.date.fromisoformat(args.birthday) if args.birthday else None,
            first_purchase=args.first_purchase,
            earned_today=args.earned_today,
            spend_limit=args.offline_limit,
        )
    coupons = [
        CouponInput(c, amount_off_fen=yuan(c.split("=")[1]) if "=" in c else 0) for c in args.coupon
    ]
    points = args.points
    if points == -1:
        points = quote_basket(rules, lines, member=member, at=at, coupons=coupons).max_usable_points
    quote = quote_basket(rules, lines, member=member, at=at, coupons=coupons, points_to_use=points)
    if args.format in ("json", "both"):
        _print_json(quote.as_dict())
    if args.format in ("text", "both"):
        print(f"Rule set {rules.version}, {at.isoformat()}")
        for _line, note in tier_prices:
            if note:
                print(f"  - {note}")
        if args.registered and not args.no_member:
            print(f"  - {_anniversary_note(rules, args.tier, args.registered, at)}")
        for sentence in quote.explain():
            print(f"  - {sentence}")
    return 0


def check_lines(ctx: Any) -> list[str]:
    """What ``pos-app check`` finds wrong (empty when every figure holds)."""
    from pos_app.services.audit import check_chain
    from pos_app.services.health import ledger_check

    return [f"MISMATCH {m}" for m in ledger_check(ctx)] + [
        f"AUDIT {problem}" for problem in check_chain(ctx)
    ]


def cmd_check(args: argparse.Namespace) -> int:
    from pos_app.services.context import open_till

    ctx = open_till(args.db)
    try:
        problems = check_lines(ctx)
    finally:
        ctx.db.close()
    for line in problems:
        print(line)
    if problems:
        return 1
    print("OK: every balance equals its ledger sum and its lots; the audit chain holds")
    return 0


DEMO_MEMBERS = 5_000


def ensure_demo_database(path: Path) -> None:
    """The embedded default: a small demo store the first time the till opens."""
    if path.exists():
        return
    from pos_app.services.context import open_till
    from pos_app.services.demo import build_demo_data
    from pos_app.services.till_session import ensure_demo_users

    print(f"Building the demo store in {path} ...", file=sys.stderr)
    ctx = open_till(path)
    try:
        build_demo_data(ctx, members=DEMO_MEMBERS, sales=3_000)
        ensure_demo_users(ctx)
    finally:
        ctx.db.close()


def cmd_run(args: argparse.Namespace) -> int:
    from pos_app.ui.app import run_till

    ensure_demo_database(Path(args.db))

    kwargs: dict[str, Any] = {"smoke": args.smoke, "lang": args.lang}
    if args.screenshot:
        kwargs["screenshot"] = args.screenshot
    return run_till(args.db, **kwargs)


# -- parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pos-app", description="The points till (会员积分收银台)."
    )
    parser.add_argument("--version", action="version", version=f"pos-app {__version__}")
    parser.add_argument("--db", default=str(default_db_path()), help="till database file")
    parser.add_argument(
        "--lang", default=os.environ.get("POS_LANG", "zh_CN"), choices=("zh_CN", "en")
    )
    parser.add_argument("--smoke", action="store_true", help="open the main window and exit")
    parser.add_argument("--screenshot", help="with --smoke: save the main window as PNG")
    parser.set_defaults(handler=cmd_run)
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo-data", help="build a realistic store database")
    demo.add_argument("--members", type=int, default=10_000)
    demo.add_argument("--sales", type=int, default=None, help="sales history (default: scaled)")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--force", action="store_true", help="replace an existing database")
    demo.set_defaults(handler=cmd_demo_data)

    rules = sub.add_parser("rules", help="check or simulate a rule set")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate a rule set file")
    check.add_argument("file")
    check.set_defaults(handler=cmd_rules_check)
    sim = rules_sub.add_parser(
        "simulate",
        help="quote a basket under a rule set",
        description="Example: pos-app rules simulate --tier silver --at 2026-11-18T12:00 "
        "--line TEA:food:3:100",
    )
    sim.add_argument("--rules", help="rule set file (default: the built-in default)")
    sim.add_argument(
        "--line",
        action="append",
        required=True,
        help="SKU:CATEGORY:QTY:PRICE_YUAN[:DISCOUNT_YUAN][:reward], repeatable",
    )
    sim.add_argument("--tier", default="regular")
    sim.add_argument(
        "--member-price",
        action="append",
        default=[],
        help="SKU=YUAN: the product's member price; the tier's price (perks) applies",
    )
    sim.add_argument("--balance", type=int, default=0)
    sim.add_argument(
        "--points", type=int, default=0, help="points to use (-1 = the largest allowed)"
    )
    sim.add_argument("--birthday", help="YYYY-MM-DD")
    sim.add_argument("--registered", help="YYYY-MM-DD: the anniversary bonus due at --at")
    sim.add_argument("--first-purchase", action="store_true")
    sim.add_argument("--earned-today", type=int, default=0)
    sim.add_argument("--offline-limit", type=int, default=None)
    sim.add_argument("--coupon", action="append", default=[], help="CODE=YUAN_OFF, repeatable")
    sim.add_argument("--no-member", action="store_true")
    sim.add_argument("--at", help="ISO time (store time zone if none given)")
    sim.add_argument("--format", choices=("json", "text", "both"), default="both")
    sim.set_defaults(handler=cmd_rules_simulate)

    chk = sub.add_parser(
        "check", help="prove every balance equals its ledger sum; check the audit chain"
    )
    chk.set_defaults(handler=cmd_check)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Subcommands contributed by other modules (receipts, sync, customer displays)."""
    found: list[Callable[[Any], None]] = []
    for module_name in (
        "pos_app.cli.receipt_cmd",
        "pos_app.cli.sync_cmd",
        "pos_app.cli.display_cmd",
        "pos_app.cli.support_cmd",
    ):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        found.append(module.register)
    return found


def _db_first(argv: list[str]) -> list[str]:
    """Accept ``--db FILE`` anywhere (``pos-app demo-data --db F`` as well as
    ``pos-app --db F demo-data``): it is the main parser's option."""
    out: list[str] = []
    front: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out += argv[i:]
            break
        if token == "--db" and i + 1 < len(argv):
            front += [token, argv[i + 1]]
            i += 2
            continue
        if token.startswith("--db="):
            front.append(token)
        else:
            out.append(token)
        i += 1
    return front + out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pos-app``."""
    parser = build_parser()
    args = parser.parse_args(_db_first(list(sys.argv[1:] if argv is None else argv)))
    handler: Handler = args.handler
    from pos_app import applog

    try:
        applog.init_logging()
    except OSError as exc:  # a read-only profile must not keep the till from starting
        print(f"warning: no log file ({exc})", file=sys.stderr)
    logging.getLogger("pos_app").info(
        "pos-app %s: %s", __version__, getattr(args, "command", None) or "till"
    )
    try:
        return handler(args)
    except LoyaltyError as exc:
        print(f"error: {exc.message()}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
