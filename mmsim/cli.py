"""The `mmsim` command line: `mmsim run` backtests the embedded synthetic market by default."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

import mmsim


def default_setup(days: float = 30, seed: int = 7) -> dict:
    """The embedded default run: BTC-like and ETH-like 1-minute bars, AS on BTC, fixed spread on ETH."""
    return {
        "bars": mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=days, interval="1m", seed=seed),
        "strategies": {
            "BTCUSDT": mmsim.avellaneda_stoikov(
                gamma=0.0005, kappa=0.5, horizon="1d", order_value=2_000.0, max_inventory=10
            ),
            "ETHUSDT": mmsim.fixed_spread(
                half_spread_bps=8, order_value=2_000.0, max_position_value=30_000.0
            ),
        },
        "risk": mmsim.basic_risk(
            max_leverage=3.0,
            max_symbol_leverage=2.0,
            min_order_value=10.0,
            emergency_drawdown=0.2,
            stop_equity_fraction=0.5,
        ),
        "venue": mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
        "initial_cash": 100_000.0,
    }


def print_summary(result: mmsim.Result, console=None) -> None:
    """A readable table of the summary frame (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="mmsim backtest summary (USDT)")
    columns = ["symbol", "pnl", "fees", "funding", "fills", "volume", "max_drawdown", "sharpe", "final_position"]
    for c in columns:
        table.add_column(c, justify="left" if c == "symbol" else "right")
    for row in result.summary.iter_rows(named=True):
        cells = []
        for c in columns:
            x = row[c]
            if x is None:
                cells.append("-")
            elif c == "max_drawdown":
                cells.append(f"{x:.2%}")
            elif c in ("fills",):
                cells.append(f"{x:,}")
            elif c in ("sharpe", "final_position"):
                cells.append(f"{x:.4g}")
            elif isinstance(x, float):
                cells.append(f"{x:,.2f}")
            else:
                cells.append(str(x))
        table.add_row(*cells)
    console.print(table)
    eq = result.equity
    console.print(
        f"equity {eq['equity'][0]:,.2f} -> {eq['equity'][-1]:,.2f} over {eq.height:,} bars; "
        f"max leverage {eq['leverage'].max():.2f}, max margin ratio {eq['margin_ratio'].max():.4f}"
    )
    if result.halted:
        console.print(f"[bold red]halted[/]: {result.halted}")


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    console = Console()
    setup = default_setup(days=args.days, seed=args.seed)
    bars: pl.DataFrame = setup.pop("bars")
    n = bars["ts"].n_unique()
    started = time.perf_counter()
    with Progress(console=console, transient=True, disable=args.quiet) as progress:
        task = progress.add_task("backtesting", total=n)
        result = mmsim.backtest(
            bars, **setup, progress=lambda done, total: progress.update(task, completed=done)
        )
    elapsed = time.perf_counter() - started
    print_summary(result, console)
    out = result.save(args.out, overwrite=True)
    console.print(
        f"{bars.height:,} symbol-bars in {elapsed:.2f} s ({bars.height / elapsed:,.0f}/s); results in {out}/"
    )
    return 0


def _print_frame(frame: pl.DataFrame, title: str, console) -> None:
    from rich.table import Table

    table = Table(title=title)
    for c in frame.columns:
        table.add_column(c, justify="right" if frame.schema[c].is_numeric() else "left")
    for row in frame.iter_rows():
        cells = ("-" if x is None else f"{x:.6g}" if isinstance(x, float) else str(x) for x in row)
        table.add_row(*cells)
    console.print(table)


def _sweep_options(args: argparse.Namespace, config) -> dict:
    """The config file's sweep keywords with the command line's overrides."""
    kwargs = config.sweep_kwargs()
    if args.scheduler:
        kwargs["executor"], kwargs["scheduler"] = "dask", args.scheduler
    if args.executor:
        kwargs["executor"] = args.executor
    if args.workers:
        kwargs["workers"] = args.workers
    if kwargs["executor"] == "dask" and not kwargs["scheduler"]:
        raise ValueError("executor 'dask' needs --scheduler tcp://host:port (or [sweep] scheduler)")
    return kwargs


def _sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsim.sweep_charts import save_chart, sweep_heatmap, top_runs
    from mmsim.sweep_config import load_sweep_config

    console = Console()
    config = load_sweep_config(args.config)
    kwargs = _sweep_options(args, config)
    out = args.out or config.sweep.get("out") or Path("sweep-results")
    metric = config.sweep.get("metric", "sharpe")
    started = time.perf_counter()
    rows = mmsim.sweep(
        config.bars(), **kwargs, per_symbol=bool(config.sweep.get("per_symbol", False)), out=out,
        progress=not args.quiet, max_runs=args.max_runs,
    )
    elapsed = time.perf_counter() - started
    failed = rows.filter(pl.col("status") != "ok")
    console.print(
        f"{rows.height} runs ({rows.height - failed.height} ok, {failed.height} failed) "
        f"in {elapsed:.1f} s; rows in {out}/"
    )
    for row in failed.head(5).iter_rows(named=True):
        console.print(f"[red]failed[/] {row['run_id']}: {row['error']}")
    if rows.height > failed.height:
        best = top_runs(rows, metric=metric, n=args.top or config.sweep.get("top", 10),
                        maximize=config.sweep.get("maximize"))
        _print_frame(best, f"top runs by {metric}", console)
        heat = config.sweep.get("heatmap")
        if heat:
            chart = sweep_heatmap(rows, x=heat["x"], y=heat["y"], metric=heat.get("metric", metric),
                                  aggregate=heat.get("aggregate", "max"))
            console.print(f"heatmap in {save_chart(chart, heat['path'])}")
    return 0 if rows.height > failed.height else 1


def _walk_forward(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsim.sweep_config import load_sweep_config

    console = Console()
    config = load_sweep_config(args.config)
    kwargs = _sweep_options(args, config)
    walk = config.walk_forward
    out = args.out or walk.get("out") or Path("walk-forward")
    metric = walk.get("metric", config.sweep.get("metric", "sharpe"))
    maximize = walk.get("maximize", config.sweep.get("maximize"))
    wf = mmsim.walk_forward(
        config.bars(), **kwargs, train=walk.get("train", "14d"), test=walk.get("test", "7d"),
        step=walk.get("step"), anchored=bool(walk.get("anchored", False)), metric=metric,
        maximize=maximize, out=out, progress=not args.quiet,
    )
    params = [k for k in wf.windows.columns if k not in ("window", "train_start", "train_end",
              "test_start", "test_end", "status", "train_run_id", "test_run_id")
              and not k.startswith(("is_", "oos_"))]
    shown = ["window", "test_start", "test_end", *params, f"is_{metric}", f"oos_{metric}",
             "is_pnl_per_day", "oos_pnl_per_day", "status"]
    title = f"walk-forward windows (best {metric} on train)"
    _print_frame(wf.windows.select(shown), title, console)
    _print_frame(wf.summary, "in-sample vs out-of-sample", console)
    console.print(f"results in {wf.save(out / 'result', overwrite=True)}/")
    return 0


def _add_sweep_commands(sub) -> None:
    """`mmsim sweep CONFIG.toml` and `mmsim walk-forward CONFIG.toml` (see mmsim.sweep_config)."""
    commands = (
        ("sweep", _sweep, "backtest a parameter grid; rows stream to a resumable Parquet folder"),
        ("walk-forward", _walk_forward, "pick parameters on train windows, judge them on the next"),
    )
    for name, func, text in commands:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("config", type=Path, help="the sweep TOML file (schema: mmsim.sweep_config)")
        p.add_argument("--scheduler", help="run on a Dask cluster: tcp://host:port")
        p.add_argument("--executor", choices=("inprocess", "processes", "dask"))
        p.add_argument("--workers", type=int, help="local pool size (default: all cores)")
        p.add_argument("--out", type=Path, help="results folder (overrides the file's out)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "sweep":
            p.add_argument("--max-runs", type=int, help="stop after computing this many runs")
            p.add_argument("--top", type=int, help="rows in the top table (default 10)")
        p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmsim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mmsim {mmsim.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="backtest the embedded synthetic market and write a results folder")
    run.add_argument("--days", type=float, default=30, help="days of 1-minute bars (default 30)")
    run.add_argument("--seed", type=int, default=7, help="seed of the synthetic market (default 7)")
    run.add_argument("--out", type=Path, default=Path("mmsim-results/latest"), help="results folder")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    _add_sweep_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"mmsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
