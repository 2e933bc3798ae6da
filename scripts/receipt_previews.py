"""Draw the sample member receipt for 58 mm and 80 mm paper into docs/images/.

Usage::

    .venv/bin/python scripts/receipt_previews.py [OUT_DIR]

Writes ``receipt-58mm.png`` and ``receipt-80mm.png`` (default: ``docs/images``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pos_app.devices.escpos_render import PrinterProfile
from pos_app.devices.preview import save_preview
from pos_app.devices.samples import sample_receipt

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "images"


def generate_previews(out_dir: Path = DEFAULT_OUT) -> list[Path]:
    """Write the 58 mm and 80 mm member receipt previews.

    Args:
        out_dir: Folder for the PNG files (created if missing).

    Returns:
        The files written, 58 mm first.
    """
    receipt = sample_receipt()
    return [
        save_preview(receipt, out_dir / "receipt-58mm.png", PrinterProfile(columns=32)),
        save_preview(receipt, out_dir / "receipt-80mm.png", PrinterProfile(columns=48)),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else DEFAULT_OUT
    for path in generate_previews(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
