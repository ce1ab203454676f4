"""Wall time of `mmsim.compare` on several strategy sets: in one process versus worker processes.

    python benchmarks/compare_parallel.py [--days 7] [--jobs 2]

Prints the serial and parallel wall times and their ratio, measured in the same run on the same
bars, and checks that both give the same comparison table.
"""

from __future__ import annotations

import argparse
import os
import time

from polars.testing import assert_frame_equal

import mmsim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=args.days, seed=1)
    sets = {
        "as": mmsim.make_strategy("avellaneda_stoikov", gamma=0.0005, max_inventory=10),
        "glft": mmsim.make_strategy("glft"),
        "mexico": mmsim.make_strategy("mexico", levels=3, inventory_skew_bps=4),
        "tokyo": mmsim.make_strategy("tokyo"),
    }
    common = dict(risk={"max_leverage": 3.0}, venue=mmsim.Venue())
    started = time.perf_counter()
    serial = mmsim.compare(bars, sets, **common)
    t_serial = time.perf_counter() - started
    started = time.perf_counter()
    parallel = mmsim.compare(bars, sets, jobs=args.jobs, **common)
    t_parallel = time.perf_counter() - started
    assert_frame_equal(serial.table, parallel.table)
    n = bars.height * len(sets)
    print(f"{len(sets)} sets x {bars.height:,} symbol-bars ({args.days:g} days, 2 symbols)")
    print(f"serial     {t_serial:7.2f} s  ({n / t_serial:,.0f} symbol-bars/s)")
    print(f"jobs={args.jobs:<5} {t_parallel:7.2f} s  ({n / t_parallel:,.0f} symbol-bars/s)")
    print(f"speed-up   {t_serial / t_parallel:7.2f}x  (same table: yes)")


if __name__ == "__main__":
    main()
