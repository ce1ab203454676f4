"""The `mmsim` command line: `mmsim run` backtests the embedded synthetic market by default.

`mmsim run --config FILE` runs a TOML configuration (see `mmsim.config`); `mmsim strategies`
lists the strategies with their parameters, defaults and units.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import polars as pl

import mmsim


def default_setup(days: float = 30, seed: int = 7) -> dict:
    """The embedded default run: BTC- and ETH-like 1-minute bars, AS on BTC, fixed spread on ETH."""
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


def _console():
    from rich.console import Console

    console = Console()
    # piped output (CI, files) gets a width that fits the summary table instead of 80 columns
    return console if console.is_terminal else Console(width=140)


def print_summary(result: mmsim.Result, console=None) -> None:
    """A readable table of the summary frame (rich)."""
    from rich.table import Table

    console = console or _console()
    table = Table(title="mmsim backtest summary (USDT)")
    columns = [
        "symbol",
        "pnl",
        "fees",
        "funding",
        "fills",
        "volume",
        "max_drawdown",
        "sharpe",
        "final_position",
    ]
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


@contextlib.contextmanager
def _results_folder(out, console, kinds=("run", "comparison")):
    """Lock the results folder `out` for this run, refuse it early unless mmsim may replace it."""
    from mmsim.atomic import check_replaceable, folder_lock

    target = Path(out).expanduser().absolute()
    with folder_lock(target):
        check_replaceable(target, kinds)
        console.print(f"results will go to {target}/")
        yield target


def _run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    if args.config is not None:
        return _run_config(args)
    if args.jobs is not None:
        raise ValueError("--jobs applies to a config with several [sets.*]; see --config")
    console = _console()
    setup = default_setup(
        days=30 if args.days is None else args.days, seed=7 if args.seed is None else args.seed
    )
    bars: pl.DataFrame = setup.pop("bars")
    n = bars["ts"].n_unique()
    with _results_folder(args.out or DEFAULT_OUT, console) as target:
        started = time.perf_counter()
        with Progress(console=console, transient=True, disable=args.quiet) as progress:
            task = progress.add_task("backtesting", total=n)
            result = mmsim.backtest(
                bars, **setup, progress=lambda done, total: progress.update(task, completed=done)
            )
        elapsed = time.perf_counter() - started
        print_summary(result, console)
        out = result.save(target, overwrite=True)
    console.print(
        f"{bars.height:,} symbol-bars in {elapsed:.2f} s ({bars.height / elapsed:,.0f}/s); "
        f"results in {out}/"
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

    from mmsim.research.sweep_charts import save_chart, sweep_heatmap, top_runs
    from mmsim.research.sweep_config import load_sweep_config

    console = Console()
    config = load_sweep_config(args.config)
    kwargs = _sweep_options(args, config)
    out = args.out or config.sweep.get("out") or Path("sweep-results")
    metric = config.sweep.get("metric", "sharpe")
    started = time.perf_counter()
    rows = mmsim.sweep(
        config.bars(),
        **kwargs,
        per_symbol=bool(config.sweep.get("per_symbol", False)),
        out=out,
        progress=not args.quiet,
        max_runs=args.max_runs,
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
        best = top_runs(
            rows,
            metric=metric,
            n=args.top or config.sweep.get("top", 10),
            maximize=config.sweep.get("maximize"),
        )
        _print_frame(best, f"top runs by {metric}", console)
        heat = config.sweep.get("heatmap")
        if heat:
            chart = sweep_heatmap(
                rows,
                x=heat["x"],
                y=heat["y"],
                metric=heat.get("metric", metric),
                aggregate=heat.get("aggregate", "max"),
            )
            console.print(f"heatmap in {save_chart(chart, heat['path'])}")
    return 0 if rows.height > failed.height else 1


def _walk_forward(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsim.research.sweep_config import load_sweep_config

    console = Console()
    config = load_sweep_config(args.config)
    kwargs = _sweep_options(args, config)
    walk = config.walk_forward
    out = args.out or walk.get("out") or Path("walk-forward")
    metric = walk.get("metric", config.sweep.get("metric", "sharpe"))
    maximize = walk.get("maximize", config.sweep.get("maximize"))
    wf = mmsim.walk_forward(
        config.bars(),
        **kwargs,
        train=walk.get("train", "14d"),
        test=walk.get("test", "7d"),
        step=walk.get("step"),
        anchored=bool(walk.get("anchored", False)),
        metric=metric,
        maximize=maximize,
        out=out,
        progress=not args.quiet,
    )
    params = [
        k
        for k in wf.windows.columns
        if k
        not in (
            "window",
            "train_start",
            "train_end",
            "test_start",
            "test_end",
            "status",
            "train_run_id",
            "test_run_id",
        )
        and not k.startswith(("is_", "oos_"))
    ]
    shown = [
        "window",
        "test_start",
        "test_end",
        *params,
        f"is_{metric}",
        f"oos_{metric}",
        "is_pnl_per_day",
        "oos_pnl_per_day",
        "status",
    ]
    title = f"walk-forward windows (best {metric} on train)"
    _print_frame(wf.windows.select(shown), title, console)
    _print_frame(wf.summary, "in-sample vs out-of-sample", console)
    with _results_folder(out / "result", console, kinds=("walk-forward",)) as target:
        console.print(f"results in {wf.save(target, overwrite=True)}/")
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


def print_comparison(table: pl.DataFrame, console=None) -> None:
    """A readable table of a comparison frame (rich): one row per strategy set."""
    from rich.table import Table

    console = console or _console()
    view = Table(title="mmsim comparison (USDT)")
    columns = ["set", "pnl", "return", "fees", "fills", "max_drawdown", "sharpe"]
    for c in columns:
        view.add_column(c, justify="left" if c == "set" else "right")
    for row in table.iter_rows(named=True):
        cells = []
        for c in columns:
            x = row[c]
            if x is None:
                cells.append("-")
            elif c in ("return", "max_drawdown"):
                cells.append(f"{x:.2%}")
            elif c == "fills":
                cells.append(f"{x:,}")
            elif c == "sharpe":
                cells.append(f"{x:.3g}")
            elif isinstance(x, float):
                cells.append(f"{x:,.2f}")
            else:
                cells.append(str(x))
        view.add_row(*cells)
    console.print(view)


def _run_config(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from mmsim.research.config import load_config, run_config

    if args.days is not None or args.seed is not None:
        raise ValueError(
            "--days and --seed set the embedded market; with --config set them in [data.synthetic]"
        )
    console = _console()
    config = load_config(args.config)
    # --out is relative to the current folder, a config's `out` to the config file
    out = args.out or config.out or Path(DEFAULT_OUT)
    with _results_folder(out, console) as target:
        started = time.perf_counter()
        quiet = args.quiet or len(config.sets) > 1  # sets report when each finishes, not per bar
        with Progress(console=console, transient=True, disable=quiet) as bar:
            task = bar.add_task("backtesting", total=None)
            outcome = run_config(
                config,
                jobs=args.jobs or 1,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        elapsed = time.perf_counter() - started
        if isinstance(outcome, mmsim.Result):
            print_summary(outcome, console)
        else:
            print_comparison(outcome.table, console)
        saved = outcome.save(target, overwrite=True)
    console.print(f"{len(config.sets)} strategy set(s) in {elapsed:.2f} s; results in {saved}/")
    return 0


def _strategies(args: argparse.Namespace) -> int:
    from mmsim.strategies import get_strategy, list_strategies
    from mmsim.strategies.params import format_default

    specs = [get_strategy(args.name)] if args.name else list_strategies()
    for k, spec in enumerate(specs):
        if k:
            print()
        print(f"{spec.name}: {spec.summary}")
        if args.name:  # the formulas live in the module docstring
            module = sys.modules.get(spec.factory.__module__)
            if module is not None and module.__doc__:
                print(f"\n{module.__doc__.strip()}\n")
        header = ("parameter", "unit", "default", "meaning")
        rows = [(p.name, p.unit, format_default(p.default), p.help) for p in spec.parameters()]
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
        for name, unit, default, meaning in (header, *rows):
            print(f"  {name:<{widths[0]}}  {unit:<{widths[1]}}  {default:<{widths[2]}}  {meaning}")
    return 0


DEFAULT_OUT = "mmsim-results/latest"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmsim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mmsim {mmsim.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="backtest the embedded market (or a --config) and write a results folder"
    )
    run.add_argument("--config", type=Path, default=None, help="a TOML run configuration")
    run.add_argument("--days", type=float, default=None, help="days of 1-minute bars (30)")
    run.add_argument("--seed", type=int, default=None, help="seed of the embedded market (7)")
    run.add_argument("--out", type=Path, default=None, help=f"results folder ({DEFAULT_OUT})")
    run.add_argument(
        "--jobs", type=int, default=None, help="processes for a config's [sets.*] (default 1)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    strategies = sub.add_parser(
        "strategies", help="list the strategies with their parameters, defaults and units"
    )
    strategies.add_argument("name", nargs="?", help="show one strategy with its formulas")
    strategies.set_defaults(func=_strategies)
    from mmsim.cli.data import add_data_commands

    add_data_commands(sub)
    _add_report_commands(sub)
    _add_sweep_commands(sub)
    return parser


def _report(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsim.cli.console import print_metrics
    from mmsim.results.report import write_report

    console = Console()
    result = mmsim.load_result(args.results)
    out = args.out or Path(args.results) / "report.html"
    png_dir = None if args.no_png else (args.png_dir or Path(out).parent / "charts")
    with console.status("writing the report"):
        path = write_report(result, out, png_dir=png_dir)
    print_summary(result, console)
    print_metrics(result.metrics(), console)
    console.print(f"report: {path}" + (f"; PNG charts in {png_dir}/" if png_dir else ""))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mmsim.cli.console import print_comparison
    from mmsim.results.metrics import compare
    from mmsim.results.report import write_comparison

    console = Console()
    results: dict[str, mmsim.Result] = {}
    for folder in args.results:
        name = Path(folder).resolve().name
        while name in results:  # two folders with the same name: keep both
            name += "'"
        results[name] = mmsim.load_result(folder)
    print_comparison(compare(results), console)
    out = Path(args.out)
    png = None if args.no_png else out.with_suffix(".png")
    with console.status("writing the comparison"):
        write_comparison(results, out, png=png)
    console.print(f"comparison: {out}" + (f"; chart {png}" if png else ""))
    return 0


def _add_report_commands(sub) -> None:
    report = sub.add_parser("report", help="write report.html and PNG charts for a results folder")
    report.add_argument("results", type=Path, help="a results folder written by `mmsim run`")
    report.add_argument("--out", type=Path, help="HTML file (default RESULTS/report.html)")
    report.add_argument("--png-dir", type=Path, help="PNG folder (default: charts/ beside --out)")
    report.add_argument("--no-png", action="store_true", help="skip the PNG charts")
    report.set_defaults(func=_report)
    comp = sub.add_parser("compare", help="print and chart several results folders side by side")
    comp.add_argument("results", type=Path, nargs="+", help="results folders of `mmsim run`")
    comp.add_argument(
        "--out",
        type=Path,
        default=Path("mmsim-results/compare.html"),
        help="comparison HTML (default mmsim-results/compare.html; its PNG chart beside it)",
    )
    comp.add_argument("--no-png", action="store_true", help="skip the PNG chart")
    comp.set_defaults(func=_compare)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"mmsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
