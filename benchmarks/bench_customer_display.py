"""How closely the customer display follows the till, and what feeding it costs the till.

Runs a real :class:`~pos_app.services.customer_display.DisplayFeed` with a real pole
display (:class:`~pos_app.services.customer_display.PoleSink`) on a socat loopback serial
pair (tests/support/serial_pair.py), and prints:

* the cost of ``DisplayFeed.publish`` on the caller (the GUI thread's share);
* the latency from ``publish`` to the last byte of that view's frame arriving at the
  display's end of the line (the target is 100 ms). A PTY has no line speed: the time a
  real line takes to carry the frame (~46 bytes: 48 ms at 9600 baud 8N1, 4 ms at
  115200) is printed beside it, to be added;
* the same while the till scans faster than the display can take (views every 5 ms):
  the feed drops the views the display never had time for and shows the latest.

No asserts: the tests check behaviour; this prints figures. Needs socat.

    .venv/bin/python benchmarks/bench_customer_display.py [--views 200] [--pace-ms 150]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pos_app.devices.customer_view import CustomerView
from pos_app.devices.pole_display import ESC_INIT, frame, pole_lines
from pos_app.services.customer_display import DisplayConfig, DisplayFeed, PoleSink
from tests.support.serial_pair import SerialPair


def _view(n: int) -> CustomerView:
    return CustomerView(
        "item",
        item_name="红富士苹果(散装)",
        item_sku="10001",
        item_quantity=1,
        item_weight_g=1000 + n,
        item_unit_fen=1160,
        item_amount_fen=1160 + n,
        total_fen=10000 + n,
        line_count=n,
    )


def _expected(view: CustomerView) -> bytes:
    return frame(pole_lines(view, "zh_CN", chinese=True), "gb18030")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(baud: int, views: int, pace: float) -> None:
    with SerialPair() as pair:
        pair._reader.baudrate = baud
        feed = DisplayFeed([PoleSink(DisplayConfig(pole_port=pair.device, baudrate=baud))])
        try:
            first = _view(0)
            feed.publish(first)
            pair.read(len(ESC_INIT + _expected(first)))
            costs: list[float] = []
            latencies: list[float] = []
            for n in range(1, views + 1):
                view = _view(n)
                expected = _expected(view)
                started = time.perf_counter()
                feed.publish(view)
                costs.append(time.perf_counter() - started)
                got = pair.read(len(expected), timeout=5)
                latencies.append(time.perf_counter() - started)
                if got != expected:
                    print(f"  view {n}: wrong bytes received", file=sys.stderr)
                time.sleep(pace)
            wire = len(_expected(first)) * 10 / baud  # 8N1: 10 bits a byte
            print(
                f"{baud:>6} baud (+{wire * 1e3:.1f} ms on a real line): publish p50 {statistics.median(costs) * 1e6:.0f} us, "
                f"p99 {_pct(costs, 0.99) * 1e6:.0f} us; "
                f"on the display p50 {statistics.median(latencies) * 1e3:.1f} ms, "
                f"p99 {_pct(latencies, 0.99) * 1e3:.1f} ms, max {max(latencies) * 1e3:.1f} ms "
                f"({views} views)"
            )
        finally:
            feed.stop()


def burst(views: int) -> None:
    with SerialPair() as pair:
        feed = DisplayFeed([PoleSink(DisplayConfig(pole_port=pair.device))])
        try:
            started = time.perf_counter()
            last = _view(0)
            for n in range(views):
                last = _view(n)
                feed.publish(last)
                time.sleep(0.005)
            burst_end = time.perf_counter()
            expected = _expected(last)
            received = b""
            while not received.endswith(expected) and time.perf_counter() - started < 30:
                received += pair.read(1, timeout=0.01)
            spent = time.perf_counter() - burst_end
            print(
                f"  9600 baud burst: {views} views 5 ms apart; the display showed "
                f"{feed.shown('pole')} of them and the last {spent * 1e3:.0f} ms after the burst"
            )
        finally:
            feed.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=200)
    parser.add_argument("--pace-ms", type=float, default=150.0, help="time between views")
    args = parser.parse_args()
    for baud in (9600, 115200):
        run(baud, args.views, args.pace_ms / 1000)
    burst(args.views)


if __name__ == "__main__":
    main()
