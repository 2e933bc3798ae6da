"""``python -m pos_app`` and the frozen till's entry point."""

from __future__ import annotations

import multiprocessing

from pos_app.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
