"""How long building a receipt's ESC/POS bytes takes (layout + encoding + QR code).

Usage::

    .venv/bin/python benchmarks/bench_receipt.py [--runs N]

Prints p50/p99 milliseconds of :func:`pos_app.devices.escpos_render.render` for the
sample member receipt on 58 mm and 80 mm paper, with a native (``GS ( k``) and an
image (``GS v 0``) QR code. Every run renders a different receipt (its own receipt
number and mall URL), so nothing is served from a warm cache. Wall-clock figures
include whatever else the machine is doing; the CPU column is this thread's own time.
The budget is "well under 5 ms" per receipt.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from pos_app.devices.escpos_render import PrinterProfile, render
from pos_app.devices.receipt import Receipt
from pos_app.devices.samples import sample_receipt


def receipts(count: int) -> list[Receipt]:
    """``count`` distinct member receipts."""
    base = sample_receipt()
    assert base.member is not None
    out = []
    for n in range(count):
        member = dataclasses.replace(
            base.member, mall_url=f"https://mall.example.cn/m/{n:08X}?from=receipt"
        )
        out.append(
            dataclasses.replace(base, receipt_no=f"S01{20240518:08d}-{n:04d}", member=member)
        )
    return out


def measure(profile: PrinterProfile, runs: int) -> tuple[float, float, float, int]:
    """p50 and p99 wall time, p50 CPU time (ms), and the job size in bytes."""
    batch = receipts(runs)
    size = len(render(batch[0], profile))  # warm-up: imports, encoder tables
    wall, cpu = [], []
    for receipt in batch:
        start, start_cpu = time.perf_counter(), time.thread_time()
        render(receipt, profile)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(wall, n=100, method="inclusive")
    return cuts[49], cuts[98], statistics.median(cpu), size


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description="Receipt build time (ESC/POS bytes).")
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'paper':<6}{'qr':<8}{'p50 ms':>8}{'p99 ms':>8}{'cpu p50':>9}{'bytes':>8}")
    for columns, paper in ((32, "58mm"), (48, "80mm")):
        for qr in ("native", "image"):
            profile = PrinterProfile(columns=columns, qr=qr)  # type: ignore[arg-type]
            p50, p99, cpu, size = measure(profile, args.runs)
            print(f"{paper:<6}{qr:<8}{p50:>8.3f}{p99:>8.3f}{cpu:>9.3f}{size:>8}")


if __name__ == "__main__":
    main()
