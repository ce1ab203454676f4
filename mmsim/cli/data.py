"""`mmsim data ...`: fetch Binance dumps into a verified Parquet cache; check a source's bars."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmsim.data.fetch import BASE_URL, INTERVALS, KINDS, MARKETS, fetch_binance


def _fetch(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    report = fetch_binance(
        market=args.market,
        symbols=args.symbols.split(","),
        interval=args.interval,
        kind=args.kind,
        start=args.start,
        end=args.end,
        dest=args.dir,
        base_url=args.base_url,
        retries=args.retries,
        timeout=args.timeout,
        workers=args.workers,
        cache=not args.no_cache,
        extract=args.extract,
        allow_missing=args.allow_missing,
        progress=not args.quiet,
        console=console,
    )
    counts = dict(report.files.group_by("status", maintain_order=True).len().iter_rows())
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    for row in report.failed.iter_rows(named=True):
        print(f"  {row['path']}: {row['status']}: {row['error']}")
    for symbol, path in report.cache.items():
        print(f"{symbol}: {path}")
    if report.cache and args.kind != "klines":
        folder = Path(args.dir) / "parquet" / args.market / args.kind
        print(f"load with mmsim.read_trades({str(folder)!r})")
    elif report.cache:
        folder = Path(args.dir) / "parquet" / args.market / args.interval
        print(f"load with mmsim.load_bars({str(folder)!r})")
    return 0


def _check(args: argparse.Namespace) -> int:
    import polars as pl

    from mmsim.data.align import describe_bars, gap_report
    from mmsim.data.load import load_with_sources

    bars, sources = load_with_sources(args.source, drop=args.drop or ())
    read: dict[str, list[str]] = {}
    for src in sources:
        read.setdefault(src.time or "a time column", []).append(Path(src.name).name)
    for how, names in read.items():  # a misread unit shows here, before any backtest
        shown = ", ".join(names[:3]) + (f", ... ({len(names)} files)" if len(names) > 3 else "")
        print(f"times read as {how}: {shown}")
    with pl.Config(tbl_rows=50, tbl_cols=12, tbl_width_chars=140):
        print(describe_bars(bars))
        gaps = gap_report(bars)
        print(f"{gaps.height} gap(s), {gaps['missing_bars'].sum()} missing bar(s)")
        if gaps.height:
            print(gaps.head(args.gaps))
    return 0


FETCH_EXAMPLES = """examples:
  mmsim data fetch binance --market um --symbols BTCUSDT,ETHUSDT --interval 1m \\
        --start 2024-01-01 --end 2024-03-31 --dir DATA/
  mmsim data fetch binance --market um --kind aggTrades --symbols BTCUSDT \\
        --start 2024-04-01 --end 2024-04-03 --dir DATA/"""
CHECK_EXAMPLES = """examples:
  mmsim data check DATA/parquet/um/1m/            # symbols, interval, first/last bar, gaps
  mmsim data check 'bars/*-1m-*.zip' --drop duplicates"""
EXAMPLES = {
    "data": FETCH_EXAMPLES + CHECK_EXAMPLES.removeprefix("examples:"),
    "fetch": FETCH_EXAMPLES,
    "binance": FETCH_EXAMPLES,
    "check": CHECK_EXAMPLES,
}


def _parser(subparsers, name: str, text: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=text,
        description=text,
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_data_commands(subparsers) -> None:
    """Add `data fetch binance` and `data check` to the `mmsim` argparse subparsers."""
    data = _parser(subparsers, "data", "download and inspect market data")
    sub = data.add_subparsers(dest="data_command", required=True)
    fetch = _parser(sub, "fetch", "download exchange data dumps into a verified Parquet cache")
    venues = fetch.add_subparsers(dest="venue", required=True)
    binance = _parser(
        venues,
        "binance",
        "Binance kline or trade dumps from data.binance.vision (monthly + daily ZIPs)",
    )
    binance.add_argument(
        "--market", choices=sorted(MARKETS), default="spot", help="spot or um (USDT-M futures)"
    )
    binance.add_argument("--symbols", required=True, help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    binance.add_argument(
        "--interval", default="1m", choices=INTERVALS, help="bar interval (default 1m)"
    )
    binance.add_argument(
        "--kind",
        choices=KINDS,
        default="klines",
        help="klines (bars, the default), trades or aggTrades (the trade tape)",
    )
    binance.add_argument("--start", required=True, help="first day, YYYY-MM-DD (UTC)")
    binance.add_argument("--end", required=True, help="last day, YYYY-MM-DD, included (UTC)")
    binance.add_argument(
        "--dir", type=Path, required=True, help="where ZIPs and the Parquet cache go"
    )
    binance.add_argument("--base-url", default=BASE_URL, help=f"server (default {BASE_URL})")
    binance.add_argument("--retries", type=int, default=3, help="retries per file (default 3)")
    binance.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per request (default 30)"
    )
    binance.add_argument("--workers", type=int, default=4, help="parallel downloads (default 4)")
    binance.add_argument("--no-cache", action="store_true", help="do not write the Parquet cache")
    binance.add_argument(
        "--extract", action="store_true", help="also unpack the CSVs under DIR/csv/"
    )
    binance.add_argument(
        "--allow-missing",
        action="store_true",
        help="build the cache even if some files are missing",
    )
    binance.add_argument("--quiet", action="store_true", help="no progress bar")
    binance.set_defaults(func=_fetch)
    check = _parser(sub, "check", "load a file, folder or glob and report symbols, spans and gaps")
    check.add_argument(
        "source", help="Parquet cache, folder of Binance ZIPs, CSV/JSON/Parquet file or glob"
    )
    check.add_argument(
        "--drop",
        action="append",
        choices=("duplicates", "ohlc", "jumps"),
        help="drop (and count) rows with this problem instead of failing",
    )
    check.add_argument("--gaps", type=int, default=20, help="how many gaps to list (default 20)")
    check.set_defaults(func=_check)


__all__ = ["add_data_commands"]
