"""``pos-app display``: the customer displays (客显), set up and tried from the command line.

pos-app display setup [--port DEV] [--baud N] [--encoding E] [--chinese-mode on|off]
                      [--lang zh_CN|en] [--screen auto|off|N]     configure the displays
pos-app display status                                            what is configured
pos-app display test [--port DEV]                                 show a test screen now

``--port ""`` removes the pole display. The till reads the settings when it starts.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from pos_app.cli.receipt_cmd import _open
from pos_app.devices.pole_display import POLE_ENCODINGS, POLE_LANGUAGES


def register(sub: Any) -> None:
    """Add ``display`` to the ``pos-app`` subcommands."""
    display = sub.add_parser("display", help="the customer displays (pole display, screen)")
    commands = display.add_subparsers(dest="display_command", required=True)

    setup = commands.add_parser("setup", help="configure the customer displays")
    setup.add_argument("--port", help='pole display serial port, e.g. /dev/ttyUSB0 ("" = none)')
    setup.add_argument("--baud", type=int, help="its speed (9600 by default)")
    setup.add_argument("--encoding", choices=POLE_ENCODINGS, help="its text encoding")
    setup.add_argument("--chinese-mode", choices=("on", "off"), help="send FS & after ESC @")
    setup.add_argument("--lang", dest="display_lang", choices=POLE_LANGUAGES)
    setup.add_argument("--screen", help="customer screen: auto, off or a screen number")
    setup.set_defaults(handler=cmd_setup)

    status = commands.add_parser("status", help="what is configured")
    status.set_defaults(handler=cmd_status)

    test = commands.add_parser("test", help="show a test screen on the pole display now")
    test.add_argument("--port", help="serial port (default: the configured one)")
    test.set_defaults(handler=cmd_test)


def _describe(config: Any) -> str:
    pole = (
        f"pole {config.pole_port} {config.baudrate} baud, {config.encoding}, "
        f"FS & {'on' if config.chinese_mode else 'off'}, {config.language}"
        if config.pole_port
        else "no pole display"
    )
    return f"{pole}; customer screen: {config.screen}"


def cmd_setup(args: argparse.Namespace) -> int:
    from pos_app.services.customer_display import configure_display, display_config

    changes: dict[str, Any] = {}
    for option, field in (
        ("port", "pole_port"),
        ("baud", "baudrate"),
        ("encoding", "encoding"),
        ("display_lang", "language"),
        ("screen", "screen"),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[field] = value
    if args.chinese_mode:
        changes["chinese_mode"] = args.chinese_mode == "on"
    ctx = _open(args)
    try:
        config = configure_display(ctx, replace(display_config(ctx), **changes))
    finally:
        ctx.db.close()
    print(f"customer display: {_describe(config)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pos_app.services.customer_display import display_config

    ctx = _open(args)
    try:
        config = display_config(ctx)
    finally:
        ctx.db.close()
    print(f"customer display: {_describe(config)}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from pos_app.devices.customer_view import CustomerView
    from pos_app.devices.pole_display import PoleDisplayError
    from pos_app.services.customer_display import PoleSink, display_config, idle_view

    ctx = _open(args)
    try:
        config = display_config(ctx)
        idle = idle_view(ctx)
    finally:
        ctx.db.close()
    if args.port is not None:
        config = replace(config, pole_port=args.port)
    if not config.pole_port:
        print("error: no pole display is configured (pos-app display setup --port DEV)")
        return 2
    sink = PoleSink(config)
    sample = CustomerView(
        "item",
        item_name="测试商品 Test",
        item_sku="TEST",
        item_quantity=1,
        item_unit_fen=1234,
        item_amount_fen=1234,
        total_fen=1234,
        line_count=1,
    )
    try:
        sink.show(sample)
        sink.show(idle)
    except PoleDisplayError as exc:
        print(f"error: pole display {exc.kind}: {exc}")
        return 2
    finally:
        sink.close()
    print(f"sent {sum(len(f) for f in sink.sent)} bytes to {config.pole_port}")
    return 0
