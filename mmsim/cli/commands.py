"""The `mmsim` command line: `mmsim run` backtests the embedded synthetic market by default.

`mmsim run --config FILE` runs a TOML configuration (see `mmsim.config`); `mmsim strategies`
lists the strategies with their parameters, defaults and units.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
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


def default_document(days: float = 30, seed: int = 7) -> dict:
    """`default_setup` as a config document: what `mmsim run` with no data or config runs."""
    return {
        "initial_cash": 100_000.0,
        "data": {
            "synthetic": {
                "symbols": ["BTCUSDT", "ETHUSDT"],
                "days": days,
                "seed": seed,
                "interval": "1m",
            }
        },
        "venue": {"maker_fee": 0.0002, "taker_fee": 0.0005},
        "risk": {
            "max_leverage": 3.0,
            "max_symbol_leverage": 2.0,
            "min_order_value": 10.0,
            "emergency_drawdown": 0.2,
            "stop_equity_fraction": 0.5,
        },
        "strategies": {
            "BTCUSDT": {
                "strategy": "avellaneda_stoikov",
                "gamma": 0.0005,
                "kappa": 0.5,
                "horizon": "1d",
                "order_value": 2000.0,
                "max_inventory": 10,
            },
            "ETHUSDT": {
                "strategy": "fixed_spread",
                "half_spread_bps": 8,
                "order_value": 2000.0,
                "max_position_value": 30000.0,
            },
        },
    }


COMMAND_LINE = "mmsim run"
_RUN_OPTIONS = ("data", "symbols", "start", "end", "strategy", "param", "venue", "risk", "drop")


def _run_config_of(args: argparse.Namespace):
    """The run configuration the command line names: a file, the options, or the default."""
    from mmsim.research.config import (
        ConfigError,
        load_config,
        options_document,
        parse_assignments,
        parse_config,
    )

    given = [f"--{k}" for k in _RUN_OPTIONS if getattr(args, k)]
    if args.config is not None:
        extra = given + [f"--{k}" for k in ("days", "seed") if getattr(args, k) is not None]
        if extra:
            raise ConfigError(
                f"{' '.join(extra)} cannot be combined with --config; with --config set them in "
                "[data.synthetic], [data], [strategies], [venue] or [risk] of the file"
            )
        return load_config(args.config)
    if args.data is not None and (args.days is not None or args.seed is not None):
        raise ConfigError("--days and --seed set the embedded market; with --data leave them out")
    synthetic = {
        "days": 30 if args.days is None else args.days,
        "seed": 7 if args.seed is None else args.seed,
        "interval": "1m",
    }
    if args.strategy is None:
        if given:
            raise ConfigError(
                f"{' '.join(given)} need --strategy NAME (see `mmsim strategies`), "
                "e.g. --strategy avellaneda_stoikov"
            )
        doc = default_document(synthetic["days"], synthetic["seed"])
    else:
        doc = options_document(
            data=args.data,
            symbols=args.symbols.split(",") if args.symbols else None,
            start=args.start,
            end=args.end,
            drop=args.drop or (),
            strategy=args.strategy,
            params=parse_assignments(args.param, "--param"),
            venue=parse_assignments(args.venue, "--venue"),
            risk=parse_assignments(args.risk, "--risk"),
            synthetic=synthetic,
        )
    return parse_config(doc, source=COMMAND_LINE)


def _strategy_names(config, symbols) -> str:
    """'avellaneda_stoikov on BTCUSDT, ETHUSDT' per set (the set named when there are several)."""
    names = []
    for set_name in config.sets:
        chosen = config.strategies_for(set_name, tuple(symbols))
        by_name: dict[str, list[str]] = {}
        for symbol, strategy in chosen.items():
            by_name.setdefault(strategy.name, []).append(symbol)
        described = "; ".join(f"{n} on {', '.join(s)}" for n, s in by_name.items())
        names.append(described if len(config.sets) == 1 else f"{set_name}: {described}")
    return " | ".join(names)


def _describe_data(record: dict) -> str:
    where = record.get("path") or "embedded synthetic market"
    return (
        f"{where}: {', '.join(record['symbols'])}, {record['rows']:,} symbol-bars from "
        f"{record['first_bar']} to {record['last_bar']} UTC"
    )


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
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from mmsim.atomic import atomic_write
    from mmsim.cli.console import Phases, make_console, print_comparison, print_summary
    from mmsim.research.config import data_record, run_config, to_toml

    console = make_console()
    note = make_console(stderr=True)
    phases = Phases(args.started)
    config = _run_config_of(args)
    if args.jobs is not None and len(config.sets) == 1:
        raise ValueError("--jobs applies to a config with several [sets.*]; see --config")
    out = args.out or config.out or Path(DEFAULT_OUT)
    with _results_folder(out, note) as target:  # refused or locked before any work
        with phases("loading data"), note.status("loading data"):
            bars = config.load_bars()
        record = data_record(config, bars)
        note.print(f"data: {_describe_data(record)}", highlight=False)
        note.print(f"strategies: {_strategy_names(config, record['symbols'])}", highlight=False)
        if not record["funding"]:
            note.print(
                "note: the data has no funding_rate column (spot data?): it runs as a perpetual "
                "without funding payments",
                highlight=False,
            )
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} bars"),
            TimeElapsedColumn(),
        )
        with (
            phases("backtesting"),
            # a bar only where it can be redrawn: in a pipe or a log it is noise
            Progress(
                *columns,
                console=note,
                transient=True,
                disable=args.quiet or not note.is_terminal,
            ) as bar,
        ):
            task = bar.add_task("backtesting", total=bars["ts"].n_unique())

            def on_set(name: str, k: int, n: int) -> None:
                bar.reset(task, description=f"set {k + 1}/{n}: {name}")
                if not args.quiet:
                    note.print(f"running set {k + 1}/{n}: {name}", highlight=False)

            outcome = run_config(
                config,
                bars=bars,
                jobs=args.jobs or 1,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                on_set=on_set,
                engine=args.engine,
            )
        note.print(f"engine: {_engine_line(outcome)}", highlight=False)
        if isinstance(outcome, mmsim.Result):
            print_summary(outcome, console, fmt=args.format)
        else:
            print_comparison(
                _sets_table(outcome), console, title="strategy sets compared", fmt=args.format
            )
        writing = "writing results" + ("" if args.no_report else " and report")
        with phases(writing), note.status(writing) as status:

            def writing_set(name: str, k: int, n: int) -> None:
                status.update(f"{writing}: set {k + 1}/{n}: {name}")
                if not args.quiet:
                    note.print(f"writing set {k + 1}/{n}: {name}", highlight=False)

            more = {} if isinstance(outcome, mmsim.Result) else {"on_set": writing_set}
            saved = Path(outcome.save(target, overwrite=True, report=not args.no_report, **more))
            # the document as run, so `mmsim run --config RESULTS/config.toml` repeats it
            with atomic_write(saved / "config.toml", "w") as handle:
                handle.write(to_toml(config.document))
    report = saved / ("comparison.html" if len(config.sets) > 1 else "report.html")
    note.print(
        f"{bars.height:,} symbol-bars, {len(config.sets)} strategy set(s); {phases.line()}",
        highlight=False,
    )
    note.print(
        f"results in {saved}/" + (f"; report {report}" if report.exists() else ""),
        highlight=False,
    )
    if args.open and report.exists():
        import webbrowser

        webbrowser.open(report.resolve().as_uri())
    return 0


def _engine_line(outcome) -> str:
    """Which engine ran and why (the first set's, or each distinct one of several sets)."""
    results = [outcome] if isinstance(outcome, mmsim.Result) else list(outcome.results.values())
    lines = []
    for result in results:
        chosen = result.config.get("engine") or {}
        line = f"{chosen.get('name', '?')} ({chosen.get('reason', 'as asked')})"
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


def _sets_table(outcome) -> pl.DataFrame:
    """A comparison's sets side by side with the metrics of `mmsim compare`."""
    from mmsim.results.metrics import compare

    return compare(outcome.results)


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
    from mmsim.cli.console import Phases, make_console, print_table
    from mmsim.research.sweep_charts import save_chart, sweep_heatmap, top_runs
    from mmsim.research.sweep_config import load_sweep_config

    console, phases = make_console(), Phases(args.started)
    config = load_sweep_config(args.config)
    kwargs = _sweep_options(args, config)
    out = args.out or config.sweep.get("out") or Path("sweep-results")
    metric = config.sweep.get("metric", "sharpe")
    with phases("loading data"):
        bars = config.bars()
    with phases("running the grid"):
        rows = mmsim.sweep(
            bars,
            **kwargs,
            per_symbol=bool(config.sweep.get("per_symbol", False)),
            out=out,
            progress=not args.quiet,
            max_runs=args.max_runs,
        )
    failed = rows.filter(pl.col("status") != "ok")
    console.print(
        f"{rows.height} runs ({rows.height - failed.height} ok, {failed.height} failed); "
        f"{phases.line()}; rows in {out}/",
        highlight=False,
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
        print_table(best, console, title=f"top runs by {metric}", fmt=args.format)
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


def _walk(bars, kwargs, walk, metric, maximize, out, quiet):
    return mmsim.walk_forward(
        bars,
        **kwargs,
        train=walk.get("train", "14d"),
        test=walk.get("test", "7d"),
        step=walk.get("step"),
        anchored=bool(walk.get("anchored", False)),
        metric=metric,
        maximize=maximize,
        out=out,
        progress=not quiet,
    )


def _walk_forward(args: argparse.Namespace) -> int:
    from mmsim.cli.console import Phases, make_console, print_table
    from mmsim.research.sweep_config import load_sweep_config

    console, note, phases = make_console(), make_console(stderr=True), Phases(args.started)
    config = load_sweep_config(args.config)
    kwargs = _sweep_options(args, config)
    walk = config.walk_forward
    out = args.out or walk.get("out") or Path("walk-forward")
    metric = walk.get("metric", config.sweep.get("metric", "sharpe"))
    maximize = walk.get("maximize", config.sweep.get("maximize"))
    with phases("loading data"):
        bars = config.bars()
    with phases("walk-forward"):
        wf = _walk(bars, kwargs, walk, metric, maximize, out, args.quiet)
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
    print_table(wf.windows.select(shown), console, title=title, fmt=args.format)
    print_table(wf.summary, console, title="in-sample vs out-of-sample", fmt=args.format)
    with (
        _results_folder(out / "result", note, kinds=("walk-forward",)) as target,
        phases("writing results"),
        note.status("writing results"),
    ):
        saved = wf.save(target, overwrite=True)
    note.print(f"results in {saved}/; {phases.line()}", highlight=False)
    return 0


DEFAULT_OUT = "mmsim-results/latest"

EXAMPLES = {
    "run": """examples:
  mmsim run                                    # the embedded synthetic market, 30 days
  mmsim run --data bars/ --symbols BTCUSDT,ETHUSDT --start 2024-10-01 --end 2024-10-07 \\
            --strategy avellaneda_stoikov --param gamma=0.001 --param order_value=500 \\
            --venue maker_fee=0.0001 --risk max_leverage=2 --out results/as-oct
  mmsim run --data BTCUSDT-1m-2024-10.zip --strategy glft --drop duplicates --open
  mmsim run --config examples/strategies.toml --jobs 2   # several [sets.*] compared
  mmsim run --config results/as-oct/config.toml --out results/again   # rerun a results folder

--data reads a Parquet cache, a folder of Binance ZIPs or CSVs, a CSV/JSON/Parquet file or a
glob (see `mmsim data check`). --param, --venue and --risk take name=value (repeat them):
strategy parameters (`mmsim strategies NAME`), mmsim.Venue fields (`mmsim venue`: maker_fee,
taker_fee, post_only, ...) and mmsim.basic_risk keywords (`mmsim risk basic_risk`:
max_leverage, max_symbol_leverage, min_order_value, emergency_drawdown, ...). A config file
holds the same in TOML: symbols, [data] path/options, [venue], [risk], [strategies] or
[sets.NAME] (the results folder's config.toml is one). Status and timings go to stderr,
tables to stdout.""",
    "strategies": """examples:
  mmsim strategies                    # every strategy with its parameters, units and defaults
  mmsim strategies avellaneda_stoikov # one strategy with its formulas""",
    "risk": """examples:
  mmsim risk                          # every risk rule with its parameters, units and defaults
  mmsim risk basic_risk               # the keywords --risk and a config's [risk] take""",
    "venue": """examples:
  mmsim venue                         # every field --venue and a config's [venue] take
  mmsim run --data bars/ --strategy glft --venue maker_fee=-0.0001 --venue post_only=reject""",
    "report": """examples:
  mmsim report mmsim-results/latest             # rewrite report.html and charts/*.png
  mmsim report results/as-oct --no-png --open
  mmsim report results/as-oct --format csv > as-oct.csv""",
    "compare": """examples:
  mmsim compare results/as-oct results/glft-oct --out results/oct.html
  mmsim compare results/a results/b --format csv | column -s, -t""",
    "sweep": """examples:
  mmsim sweep examples/sweep.toml --workers 2
  mmsim sweep grid.toml --scheduler tcp://127.0.0.1:8786 --out sweeps/grid --top 20

The TOML holds [data] (as in `mmsim run --config`), [sweep] (out, metric, per_symbol, top,
heatmap) and [grid.NAME] tables of parameter lists.""",
    "walk-forward": """examples:
  mmsim walk-forward grid.toml                        # [walk_forward] train = "14d", test = "7d"
  mmsim walk-forward grid.toml --format csv > windows.csv""",
}


def _parser(sub, name: str, text: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=text,
        description=text,
        epilog=EXAMPLES.get(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=("table", "csv"),
        default="table",
        help="tables as text (default; whole, never cut, in a pipe) or as CSV",
    )


def _add_sweep_commands(sub) -> None:
    """`mmsim sweep CONFIG.toml` and `mmsim walk-forward CONFIG.toml` (see mmsim.sweep_config)."""
    commands = (
        ("sweep", _sweep, "backtest a parameter grid; rows stream to a resumable Parquet folder"),
        ("walk-forward", _walk_forward, "pick parameters on train windows, judge them on the next"),
    )
    for name, func, text in commands:
        p = _parser(sub, name, text)
        p.add_argument("config", type=Path, help="the sweep TOML file")
        p.add_argument("--scheduler", help="run on a Dask cluster: tcp://host:port")
        p.add_argument("--executor", choices=("inprocess", "processes", "dask"))
        p.add_argument("--workers", type=int, help="local pool size (default: all cores)")
        p.add_argument("--out", type=Path, help="results folder (overrides the file's out)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        _add_format(p)
        if name == "sweep":
            p.add_argument("--max-runs", type=int, help="stop after computing this many runs")
            p.add_argument("--top", type=int, help="rows in the top table (default 10)")
        p.set_defaults(func=func)


def _strategies(args: argparse.Namespace) -> int:
    from mmsim.strategies import get_strategy, list_strategies

    specs = [get_strategy(args.name)] if args.name else list_strategies()
    for k, spec in enumerate(specs):
        if k:
            print()
        print(f"{spec.name}: {spec.summary}")
        if args.name:  # the formulas live in the module docstring
            module = sys.modules.get(spec.factory.__module__)
            if module is not None and module.__doc__:
                print(f"\n{module.__doc__.strip()}\n")
        _print_params(spec.parameters())
    return 0


def _print_params(infos) -> None:
    """A parameter table: name, unit, default and meaning, one row per parameter."""
    from mmsim.core.params import format_default

    header = ("parameter", "unit", "default", "meaning")
    rows = [(p.name, p.unit, format_default(p.default), p.help) for p in infos]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    for name, unit, default, meaning in (header, *rows):
        print(f"  {name:<{widths[0]}}  {unit:<{widths[1]}}  {default:<{widths[2]}}  {meaning}")


def _risk(args: argparse.Namespace) -> int:
    from mmsim.core.params import param_infos
    from mmsim.core.risk_params import RISK_PARAMS

    if args.name and args.name not in RISK_PARAMS:
        raise ValueError(f"unknown risk rule {args.name!r}; the rules are {', '.join(RISK_PARAMS)}")
    names = [args.name] if args.name else list(RISK_PARAMS)
    for k, name in enumerate(names):
        if k:
            print()
        cls = RISK_PARAMS[name]
        print(f"{name}: {cls.__doc__.splitlines()[0].removeprefix(f'`{name}`: ')}")
        _print_params(param_infos(cls))
    return 0


def _venue(args: argparse.Namespace) -> int:
    from mmsim.core.params import param_infos
    from mmsim.core.venue import Venue

    print("venue: fees, fill rule and margin of a linear USDT perpetual (--venue, [venue])")
    _print_params(param_infos(Venue))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmsim",
        description=__doc__,
        epilog="examples:\n  mmsim run --help\n  mmsim strategies\n  mmsim data check bars/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mmsim {mmsim.__version__}")
    parser.set_defaults(started=None)  # main() sets when the process started
    sub = parser.add_subparsers(dest="command", required=True)
    run = _parser(
        sub, "run", "backtest data (or the embedded market, or a --config) into a results folder"
    )
    data = run.add_argument_group("data and strategy (instead of --config)")
    data.add_argument("--data", help="bars: a file, folder or glob (see `mmsim data check`)")
    data.add_argument("--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT (default: all)")
    data.add_argument("--start", help="first bar, e.g. 2024-10-01 or 2024-10-01T12:00 (UTC)")
    data.add_argument("--end", help="last day included (a date) or end time, exclusive (UTC)")
    data.add_argument(
        "--drop",
        action="append",
        choices=("duplicates", "ohlc", "jumps"),
        help="drop (and count) rows with this problem instead of failing; repeatable",
    )
    data.add_argument("--strategy", help="strategy for every symbol (see `mmsim strategies`)")
    data.add_argument(
        "--param", action="append", metavar="NAME=VALUE", help="strategy parameter, repeatable"
    )
    data.add_argument(
        "--venue", action="append", metavar="NAME=VALUE", help="venue field, e.g. maker_fee=0.0001"
    )
    data.add_argument(
        "--risk", action="append", metavar="NAME=VALUE", help="risk keyword, e.g. max_leverage=2"
    )
    run.add_argument(
        "--config", type=Path, default=None, help="a TOML run config, or a results folder's config"
    )
    run.add_argument("--days", type=float, default=None, help="embedded market: days of 1m bars")
    run.add_argument("--seed", type=int, default=None, help="embedded market: its seed (7)")
    run.add_argument("--out", type=Path, default=None, help=f"results folder ({DEFAULT_OUT})")
    run.add_argument(
        "--jobs", type=int, default=None, help="processes for a config's [sets.*] (default 1)"
    )
    run.add_argument(
        "--engine",
        choices=("auto", "fast", "reference"),
        default="auto",
        help="auto (default): the compiled kernels when every stage has one and they are "
        "compiled or the run is long enough to pay for compiling (about a minute, once); "
        "fast: compile if needed; reference: the pure Python fold",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--open", action="store_true", help="open the report in a browser")
    run.add_argument(
        "--no-report", action="store_true", help="skip report.html and the PNG charts (faster)"
    )
    _add_format(run)
    run.set_defaults(func=_run)
    strategies = _parser(
        sub, "strategies", "list the strategies with their parameters, defaults and units"
    )
    strategies.add_argument("name", nargs="?", help="show one strategy with its formulas")
    strategies.set_defaults(func=_strategies)
    risk = _parser(sub, "risk", "list the risk rules with their parameters, defaults and units")
    risk.add_argument("name", nargs="?", help="show one rule (basic_risk: what --risk takes)")
    risk.set_defaults(func=_risk)
    venue = _parser(sub, "venue", "list the venue's fields with their defaults and units")
    venue.set_defaults(func=_venue)
    from mmsim.cli.data import add_data_commands

    add_data_commands(sub)
    from mmsim.cli.fills import add_fills_command

    add_fills_command(sub)
    _add_report_commands(sub)
    _add_sweep_commands(sub)
    return parser


def _report(args: argparse.Namespace) -> int:
    from mmsim.cli.console import Phases, make_console, print_metrics, print_summary
    from mmsim.results.report import write_report

    console, note, phases = make_console(), make_console(stderr=True), Phases(args.started)
    with phases("loading results"):
        result = mmsim.load_result(args.results)
    out = args.out or Path(args.results) / "report.html"
    png_dir = None if args.no_png else (args.png_dir or Path(out).parent / "charts")
    with phases("writing the report"), note.status("writing the report"):
        path = write_report(result, out, png_dir=png_dir)
    print_summary(result, console, fmt=args.format)
    print_metrics(result.metrics(), console, fmt=args.format)
    note.print(
        f"report: {path}"
        + (f"; PNG charts in {png_dir}/" if png_dir else "")
        + f"; {phases.line()}",
        highlight=False,
    )
    if args.open:
        import webbrowser

        webbrowser.open(Path(path).resolve().as_uri())
    return 0


def _compare(args: argparse.Namespace) -> int:
    from mmsim.cli.console import Phases, make_console, print_comparison
    from mmsim.results.metrics import compare
    from mmsim.results.report import period_warnings, write_comparison

    console, note, phases = make_console(), make_console(stderr=True), Phases(args.started)
    results: dict[str, mmsim.Result] = {}
    n = len(args.results)
    with phases("loading results"), note.status("loading results") as status:
        for k, folder in enumerate(args.results):
            name = Path(folder).resolve().name
            while name in results:  # two folders with the same name: keep both
                name += "'"
            status.update(f"loading results: {k + 1}/{n}: {name}")
            if not args.quiet:
                note.print(f"loading result {k + 1}/{n}: {name} ({folder})", highlight=False)
            results[name] = mmsim.load_result(folder)
    for line in period_warnings(results):
        note.print(f"mmsim: warning: {line}", highlight=False)
    print_comparison(compare(results), console, fmt=args.format)
    out = Path(args.out)
    png = None if args.no_png else out.with_suffix(".png")
    with phases("writing the comparison"), note.status("writing the comparison"):
        write_comparison(results, out, png=png)
    note.print(
        f"comparison: {out}" + (f"; chart {png}" if png else "") + f"; {phases.line()}",
        highlight=False,
    )
    return 0


def _add_report_commands(sub) -> None:
    report = _parser(sub, "report", "write report.html and PNG charts for a results folder")
    report.add_argument("results", type=Path, help="a results folder written by `mmsim run`")
    report.add_argument("--out", type=Path, help="HTML file (default RESULTS/report.html)")
    report.add_argument("--png-dir", type=Path, help="PNG folder (default: charts/ beside --out)")
    report.add_argument("--no-png", action="store_true", help="skip the PNG charts")
    report.add_argument("--open", action="store_true", help="open the report in a browser")
    _add_format(report)
    report.set_defaults(func=_report)
    comp = _parser(sub, "compare", "print and chart several results folders side by side")
    comp.add_argument("results", type=Path, nargs="+", help="results folders of `mmsim run`")
    comp.add_argument(
        "--out",
        type=Path,
        default=Path("mmsim-results/compare.html"),
        help="comparison HTML (default mmsim-results/compare.html; its PNG chart beside it)",
    )
    comp.add_argument("--no-png", action="store_true", help="skip the PNG chart")
    comp.add_argument("--quiet", action="store_true", help="no line per results folder loaded")
    _add_format(comp)
    comp.set_defaults(func=_compare)


# Python spellings in library messages, and what to type at the command line instead
_CLI_WORDS = (
    (re.compile(r"drop=\[?'(\w+)'\]?"), r"--drop \1"),
    (re.compile(r"allow_gaps=True"), "allow_gaps = true in a config"),
    (
        re.compile(r"pass interval='(\w+)'"),
        r"read one interval: give --data a single file or a glob like *-\1-*",
    ),
    (re.compile(r"pass interval=\B"), "give --data files of one interval"),
    (re.compile(r"mmsim\.resample_bars"), "mmsim.data.resample_bars"),
)
_CONFIG_WORDS = (
    (re.compile(r"drop=\[?'(\w+)'\]?"), r'[data] options = { drop = ["\1"] }'),
    (re.compile(r"allow_gaps=True"), "allow_gaps = true"),
    (re.compile(r"pass interval='(\w+)'"), r'set [data] options = { interval = "\1" }'),
)


def cli_words(message: str, *, config_file: bool) -> str:
    """A library message in the words the user types: CLI flags, or TOML keys for a config."""
    for pattern, words in _CONFIG_WORDS if config_file else _CLI_WORDS:
        message = pattern.sub(words, message)
    if not config_file:
        message = message.replace(f"{COMMAND_LINE}: [strategies] *", "--strategy/--param")
        message = message.replace(f"{COMMAND_LINE}: [venue]", "--venue")
        message = message.replace(f"{COMMAND_LINE}: [risk]", "--risk")
    return message


def main(argv: list[str] | None = None) -> int:
    import warnings

    from mmsim.cli.console import process_start, warning_line

    # from the process's start on the command line, so the printed total includes the start-up
    started = process_start() if argv is None else None
    args = build_parser().parse_args(argv)
    args.started = started
    config_file = getattr(args, "config", None) is not None
    shown = warnings.showwarning
    warnings.showwarning = lambda message, *rest, **kw: warning_line(
        cli_words(str(message), config_file=config_file), *rest, **kw
    )
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"mmsim: error: {cli_words(str(exc), config_file=config_file)}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":
    sys.exit(main())
