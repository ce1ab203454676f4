"""Load time and peak memory of mmsim's loaders, each case in a fresh process.

    python benchmarks/bench_load.py            # real sets in ../shared/data/real + a synthetic year
    python benchmarks/bench_load.py --small    # a synthetic month only (a quick smoke run)

Cases:
- every bar set in ../shared/data/real through `mmsim.load_bars` (the largest is the 1m spot
  set benicio1007_bot_trading__binance_spot_1m: 6 CSVs, 300,000 bars);
- one synthetic year of 1m bars for one symbol (525,600 bars) written to a temp folder as
  twelve monthly Binance dumps, read as ZIPs, as CSVs and from the Parquet cache; the baseline
  is a bare `pl.read_csv` of the same CSVs (no checks, no conversion) in the same run.
Time is the best of 3 loads after one warm-up (files in the OS cache); "1st s" is that first
load. Peak RSS is the process's high-water mark (ru_maxrss) right after the first load, printed
beside the same figure for a process that only imports mmsim, so the difference (+MB) is what
loading once costs. Every case runs in a fresh process started by a parent that never loads
data itself (Linux carries the high-water mark across fork and exec).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MMSIM_SHARED") or ROOT.parent / "shared") / "data" / "real"
REAL_SETS = {
    "benicio1007_bot_trading__binance_spot_1m": {},
    "andresciancio_freqtrade__binance_spot_1m_2023": {},
    "damiankluk_freqtrade__binance_spot_1m_2021": {},
    "owlacar_isda__binance_usdm_futures_1m_dump": {},
    "timheyes_btc_eth_pair_trading__cryptodatadownload_binance_spot_1h": {
        "drop": ["duplicates", "jumps"]
    },
    "ingiorn_crypto_data__cryptodatadownload_binance_usdm_futures_1h": {},
    "timcaron_market_maker_strategies__cryptodatadownload_binance_spot_1d": {},
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _folder_bytes(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file())


def child(case: str, arg: str) -> dict:
    """Run one case in this process and return its figures."""
    sys.path.insert(0, str(ROOT))
    import polars as pl

    import mmsim
    from mmsim.data.binance import _SCHEMA, KLINE_COLUMNS

    if case == "baseline":
        return {"seconds": 0.0, "rows": 0, "frame_mb": 0.0, "peak_mb": _peak_mb()}
    if case.startswith("write"):
        write_synthetic_year(Path(arg), int(case.split(":")[1]))
        return {}
    folder = Path(arg)
    if case == "real":
        options = REAL_SETS[folder.name]

        def load():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", mmsim.DroppedRowsWarning)
                return mmsim.load_bars(folder, **options)
    elif case == "zip":

        def load():
            return mmsim.load_bars(sorted(folder.glob("*.zip")))
    elif case == "csv":

        def load():
            return mmsim.load_bars(sorted(folder.glob("*.csv")))
    elif case == "parquet":

        def load():
            return mmsim.load_bars(folder / "cache")
    elif case == "raw_polars_csv":

        def load():
            files = sorted(folder.glob("*.csv"))
            return pl.concat(
                pl.read_csv(f, has_header=False, new_columns=list(KLINE_COLUMNS), schema=_SCHEMA)
                for f in files
            )
    else:
        raise SystemExit(f"unknown case {case}")
    started = time.perf_counter()
    frame = load()
    first = time.perf_counter() - started
    peak = _peak_mb()
    times = []
    for _ in range(3):
        started = time.perf_counter()
        load()
        times.append(time.perf_counter() - started)
    return {
        "seconds": min(times),
        "first_seconds": first,
        "rows": frame.height,
        "frame_mb": frame.estimated_size() / 2**20,
        "peak_mb": peak,
    }


def run(case: str, arg: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, arg], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_synthetic_year(folder: Path, days: int) -> None:
    """`days` of 1m BTCUSDT bars as monthly Binance CSVs and ZIPs, plus the Parquet cache."""
    sys.path.insert(0, str(ROOT))
    import zipfile

    import polars as pl

    import mmsim

    bars = mmsim.synthetic_bars(
        ("BTCUSDT",), days=days, interval="1m", seed=1, start="2023-01-01", funding=False
    )
    open_ms = pl.col("ts").dt.epoch("ms")
    dump = bars.select(
        open_ms.alias("open_time"),
        "open",
        "high",
        "low",
        "close",
        "volume",
        (open_ms + 59_999).alias("close_time"),
        (pl.col("volume") * pl.col("close")).round(4).alias("quote_volume"),
        (pl.col("volume") * 37).cast(pl.Int64).alias("count"),
        "taker_buy_volume",
        (pl.col("taker_buy_volume") * pl.col("close")).round(4).alias("taker_buy_quote_volume"),
        pl.lit(0).alias("ignore"),
        pl.col("ts").dt.strftime("%Y-%m").alias("month"),
    )
    for (month,), part in dump.partition_by("month", as_dict=True).items():
        name = f"BTCUSDT-1m-{month}"
        part.drop("month").write_csv(folder / f"{name}.csv", include_header=False)
        with zipfile.ZipFile(folder / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(folder / f"{name}.csv", f"{name}.csv")
    (folder / "cache").mkdir()
    mmsim.load_bars(sorted(folder.glob("*.zip"))).write_parquet(
        folder / "cache" / "BTCUSDT.parquet"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", nargs=2, metavar=("CASE", "ARG"), help=argparse.SUPPRESS)
    parser.add_argument("--small", action="store_true", help="a synthetic month only, no real data")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    base = run("baseline")["peak_mb"]
    print(f"peak RSS of a process that only imports mmsim: {base:.0f} MB\n")
    header = (
        f"{'case':<70} {'bars':>9} {'input MB':>9} {'load s':>7} {'1st s':>6} "
        f"{'frame MB':>9} {'peak MB':>8} {'+MB':>6}"
    )
    print(header)
    print("-" * len(header))

    def show(name: str, figures: dict, size: float) -> None:
        print(
            f"{name:<70} {figures['rows']:>9,} {size:>9.1f} {figures['seconds']:>7.3f} "
            f"{figures['first_seconds']:>6.2f} {figures['frame_mb']:>9.1f} "
            f"{figures['peak_mb']:>8.0f} "
            f"{figures['peak_mb'] - base:>6.0f}"
        )

    if not args.small:
        if SHARED.is_dir():
            for name in REAL_SETS:
                folder = SHARED / name
                if folder.is_dir():
                    show(f"real: {name}", run("real", str(folder)), _folder_bytes(folder) / 2**20)
        else:
            print(f"(real data not found at {SHARED}; set MMSIM_SHARED to include it)")
    days = 30 if args.small else 365
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run(f"write:{days}", tmp)  # in its own process: peak RSS carries over fork and exec
        label = (
            f"synthetic {days} days of 1m BTCUSDT, 12 monthly files"
            if days == 365
            else f"synthetic {days} days of 1m"
        )
        results = {}
        for case, pattern in (
            ("zip", "*.zip"),
            ("csv", "*.csv"),
            ("parquet", "cache/*"),
            ("raw_polars_csv", "*.csv"),
        ):
            results[case] = run(case, tmp)
            show(f"{label}: {case}", results[case], _folder_bytes(folder, pattern) / 2**20)
        ratio = results["csv"]["seconds"] / results["raw_polars_csv"]["seconds"]
        print(
            f"\nload_bars on the CSVs takes {ratio:.1f}x a bare pl.read_csv of the same files "
            f"(checks, unit detection, sorting, categorical symbol)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
