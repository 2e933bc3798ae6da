"""``pos-app member-code``: print a signed dynamic member code and its QR (support tool).

    pos-app member-code 13812341234                 # phone, member code M…, or member no.
    pos-app member-code M90000100018 --png code.png
    pos-app member-code 9000010001 --key /secure/hq-signing-key.pem --lifetime 60

It signs with HQ's PRIVATE key, which the till never holds: by default the demo key
file next to the till database (``hq-demo-signing-key.pem``, made on the demo till's
first run), else ``--key``. The key id is the one under which the till knows the
matching public key, so a code this prints is one the till accepts (once).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``member-code`` to ``pos-app``'s subcommands."""
    parser = subparsers.add_parser(
        "member-code",
        help="print a signed dynamic member code and its QR (needs HQ's private key)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("member", help="phone number, member code (M…) or member number")
    parser.add_argument("--png", help="also save the QR code as a PNG file")
    parser.add_argument(
        "--key",
        help="HQ's Ed25519 private key (PEM); default: the demo key next to the database",
    )
    parser.add_argument(
        "--lifetime", type=int, default=120, help="seconds the code is valid (max 600)"
    )
    parser.add_argument("--no-qr", action="store_true", help="print only the code")
    parser.set_defaults(handler=cmd_member_code)


def _member_no(ctx: Any, text: str) -> int:
    from pos_app.core.codes import ScanKind, classify_scan, member_code
    from pos_app.services import members

    value = text.strip()
    if value.isdigit() and len(value) == 10:
        return members.find_by_code(ctx, member_code(int(value))).member_no
    scan = classify_scan(value)
    if scan.kind == ScanKind.MEMBER_CODE:
        return members.find_by_code(ctx, scan.value).member_no
    return members.find_by_phone(ctx, value).member_no


def cmd_member_code(args: argparse.Namespace) -> int:
    """Print a fresh code for the member (and its QR); exit 2 on a refusal."""
    import qrcode

    from pos_app.services import member_codes
    from pos_app.services.context import open_till

    db = Path(args.db)
    if not db.exists():
        print(f"{db} does not exist", file=sys.stderr)
        return 2
    ctx = open_till(db)
    try:
        key_path = Path(args.key) if args.key else member_codes.demo_key_path(ctx)
        if not key_path.is_file():
            print(
                f"no private key at {key_path}: pass HQ's signing key with --key",
                file=sys.stderr,
            )
            return 2
        private = member_codes.read_private_key(key_path)
        key_id = member_codes.key_id_for(ctx, private)
        member_no = _member_no(ctx, args.member)
        now = dt.datetime.now(dt.UTC)
        code = member_codes.mint(
            private, key_id, member_no, now, dt.timedelta(seconds=args.lifetime)
        )
    finally:
        ctx.db.close()
    print(code)
    expires = now + dt.timedelta(seconds=args.lifetime)
    print(f"member {member_no}, key {key_id}, valid until {expires:%Y-%m-%d %H:%M:%S} UTC")
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(code)
    qr.make(fit=True)
    if not args.no_qr:
        text = io.StringIO()
        qr.print_ascii(out=text, invert=True)
        print(text.getvalue(), end="")
    if args.png:
        qr.make_image().save(args.png)
        print(f"QR saved to {args.png}")
    return 0
