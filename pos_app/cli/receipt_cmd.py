"""``pos-app receipt``: preview, print and queue receipts from the command line.

pos-app receipt preview RECEIPT_NO --png FILE [--width 58|80]   draw a receipt as a PNG
pos-app receipt print RECEIPT_NO --printer URI [--encoding E]    send it to a printer now
pos-app receipt test --printer URI                               print a test page now
pos-app receipt status                                           printer state, last jobs
pos-app receipt setup --printer URI [--width ...]                configure the till's printer

All of them use the till database given with ``pos-app --db``. ``print`` talks to the
printer directly (it does not go through the till's print queue) and marks the receipt
重印 when the till already printed it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from pos_app.devices.escpos_render import ENCODINGS


def register(sub: Any) -> None:
    """Add ``receipt`` to the ``pos-app`` subcommands."""
    receipt = sub.add_parser("receipt", help="preview, print and queue receipts")
    commands = receipt.add_subparsers(dest="receipt_command", required=True)

    preview = commands.add_parser("preview", help="draw a stored receipt as a PNG")
    preview.add_argument("receipt_no", help="receipt number of a sale or refund")
    preview.add_argument("--png", required=True, help="PNG file to write")
    _profile_options(preview)
    preview.add_argument("--reprint", action="store_true", help="mark it 重印")
    preview.set_defaults(handler=cmd_preview)

    send = commands.add_parser("print", help="print a stored receipt on a printer now")
    send.add_argument("receipt_no", help="receipt number of a sale or refund")
    send.add_argument("--printer", required=True, help="printer URI, e.g. tcp://192.168.1.50")
    _profile_options(send)
    send.add_argument(
        "--reprint",
        action="store_true",
        help="mark it 重印 (automatic when the till already printed it)",
    )
    send.set_defaults(handler=cmd_print)

    test = commands.add_parser("test", help="print a test page on a printer now")
    test.add_argument("--printer", required=True, help="printer URI")
    _profile_options(test)
    test.set_defaults(handler=cmd_test)

    status = commands.add_parser("status", help="the printer's state and the last jobs")
    status.add_argument("--jobs", type=int, default=10, help="how many jobs to list")
    status.set_defaults(handler=cmd_status)

    setup = commands.add_parser("setup", help="configure the till's receipt printer")
    setup.add_argument("--printer", help="printer URI (preview:// = no printer)")
    _profile_options(setup)
    setup.add_argument("--drawer-kick", choices=("on", "off"), help="open the cash drawer")
    setup.add_argument("--cut", choices=("on", "off"), help="the printer has a cutter")
    setup.add_argument("--mall-url", help="base URL of the member mall pages")
    setup.set_defaults(handler=cmd_setup)


def _profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, choices=(58, 80), help="paper width in mm")
    parser.add_argument("--encoding", choices=ENCODINGS, help="the printer's text encoding")
    parser.add_argument(
        "--chinese-mode", choices=("on", "off"), help="send FS & before Chinese text"
    )
    parser.add_argument("--qr", choices=("native", "image"), help="how QR codes are printed")
    parser.add_argument("--lang", dest="receipt_lang", choices=("zh_CN", "en"))


def _open(args: argparse.Namespace) -> Any:
    from pos_app.services.context import open_till

    path = Path(args.db)
    if not path.exists():
        raise FileNotFoundError(f"no till database at {path} (use --db)")
    return open_till(path)


def _config(ctx: Any, args: argparse.Namespace, uri: str | None = None) -> Any:
    """The till's printer configuration with the command line's overrides."""
    from pos_app.services.print_queue import check_printer_config, printer_config

    config = printer_config(ctx)
    changes: dict[str, Any] = {}
    if uri is not None:
        changes["uri"] = uri
    if args.width:
        changes["columns"] = 32 if args.width == 58 else 48
    if args.encoding:
        changes["encoding"] = args.encoding
    if args.chinese_mode:
        changes["chinese_mode"] = args.chinese_mode == "on"
    if args.qr:
        changes["qr_mode"] = args.qr
    if args.receipt_lang:
        changes["language"] = args.receipt_lang
    for name in ("drawer_kick", "cut"):
        value = getattr(args, name, None)
        if value:
            changes[name] = value == "on"
    return check_printer_config(replace(config, **changes))


def cmd_preview(args: argparse.Namespace) -> int:
    from pos_app.devices.preview import save_preview
    from pos_app.services.receipts import build_receipt

    ctx = _open(args)
    try:
        config = _config(ctx, args)
        receipt = build_receipt(
            ctx, args.receipt_no, reprint=args.reprint, language=config.language
        )
        path = save_preview(receipt, Path(args.png), config.profile())
    finally:
        ctx.db.close()
    print(f"{path}: receipt {receipt.receipt_no}, {config.paper_mm} mm")
    return 0


def cmd_print(args: argparse.Namespace) -> int:
    from pos_app.devices.escpos_render import render
    from pos_app.devices.printers import PrinterError, open_printer
    from pos_app.services.print_queue import jobs_for
    from pos_app.services.receipts import build_receipt, find_receipt

    ctx = _open(args)
    try:
        config = _config(ctx, args, uri=args.printer)
        ref = find_receipt(ctx, args.receipt_no)
        printed = any(job.status == "done" for job in jobs_for(ctx, ref.receipt_no))
        reprint = bool(args.reprint or printed)
        receipt = build_receipt(ctx, ref.id, reprint=reprint, language=config.language)
        data = render(receipt, config.profile())
    finally:
        ctx.db.close()
    try:
        with open_printer(config.uri) as printer:
            printer.send(data)
    except PrinterError as exc:
        print(f"error: {exc} ({exc.kind})", file=sys.stderr)
        return 1
    mark = " (重印)" if reprint else ""
    print(f"printed {receipt.receipt_no}{mark} on {config.uri}: {len(data)} bytes")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from pos_app.devices.escpos_render import render_ops
    from pos_app.devices.printers import PrinterError, open_printer
    from pos_app.services.print_queue import self_test_page

    ctx = _open(args)
    try:
        config = _config(ctx, args, uri=args.printer)
        data = render_ops(self_test_page(ctx, config), config.profile())
    finally:
        ctx.db.close()
    try:
        with open_printer(config.uri) as printer:
            printer.send(data)
    except PrinterError as exc:
        print(f"error: {exc} ({exc.kind})", file=sys.stderr)
        return 1
    print(f"test page printed on {config.uri}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pos_app.services.print_queue import list_jobs, printer_config, printer_state

    ctx = _open(args)
    try:
        config = printer_config(ctx)
        state = printer_state(ctx)
        jobs = list_jobs(ctx, limit=args.jobs)
        zone = ctx.rules.zone
    finally:
        ctx.db.close()
    print(f"printer: {config.uri} ({config.paper_mm} mm, {config.encoding}, QR {config.qr_mode})")
    print(f"state: {state.condition} - {state.text('en')}")
    if state.message:
        print(f"last error: {state.message}")
    for job in jobs:
        when = (job.printed_at or job.created_at).astimezone(zone)
        extra = f" {job.last_error}" if job.status != "done" and job.last_error else ""
        mark = " reprint" if job.reprint else ""
        print(
            f"  #{job.id} {job.kind}{mark} {job.status} attempts={job.attempts} "
            f"{when:%Y-%m-%d %H:%M:%S}{extra}"
        )
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from pos_app.services.print_queue import configure_printer
    from pos_app.services.receipts import receipt_settings, set_receipt_settings

    ctx = _open(args)
    try:
        config = configure_printer(ctx, _config(ctx, args, uri=args.printer))
        if args.mall_url:
            set_receipt_settings(ctx, replace(receipt_settings(ctx), mall_base_url=args.mall_url))
        base = receipt_settings(ctx).mall_base_url
    finally:
        ctx.db.close()
    print(
        f"printer: {config.uri}, {config.paper_mm} mm, {config.encoding}, "
        f"FS & {'on' if config.chinese_mode else 'off'}, QR {config.qr_mode}, "
        f"drawer kick {'on' if config.drawer_kick else 'off'}, language {config.language}; "
        f"mall {base}"
    )
    return 0
