"""How long metrics, charts, the HTML report and the PNG charts take: a year of 1-minute bars
for 2 symbols against a small run, both real backtests of the default setup (with leverage caps
but no emergency exit, so the long run quotes and fills all year).

    python benchmarks/bench_report.py            # 365 days vs 3 days (the year's backtest ~1-2 min)
    python benchmarks/bench_report.py --days 30  # a shorter long run

Prints seconds per stage for each run, the ratio long/small, and the report's size; with
chromium installed, also how long headless chromium takes to open the report and draw every
chart (against a blank page, the browser's start-up). The charts
aggregate long runs to at most MAX_POINTS points per series, so their cost should grow far less
than the number of bars.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mmsim  # noqa: E402
from mmsim.cli import default_setup  # noqa: E402
from mmsim.results.charts import report_charts  # noqa: E402
from mmsim.results.metrics import compute_metrics, summary_of  # noqa: E402
from mmsim.results.report import render_report, save_pngs, vega_bundle  # noqa: E402


def _run(days: float) -> tuple[mmsim.Result, float]:
    setup = default_setup(days=days)
    # no emergency exit or early stop: the run keeps quoting (and filling) all year long
    setup["risk"] = mmsim.basic_risk(
        max_leverage=3.0, max_symbol_leverage=2.0, min_order_value=10.0
    )
    bars = setup.pop("bars")
    started = time.perf_counter()
    result = mmsim.backtest(bars, **setup)
    return result, time.perf_counter() - started


def _stages(result: mmsim.Result, folder: Path) -> dict[str, float]:
    out: dict[str, float] = {}

    def timed(name, fn):
        started = time.perf_counter()
        value = fn()
        out[name] = time.perf_counter() - started
        return value

    timed("summary", lambda: summary_of(result))
    metrics = timed("metrics", lambda: compute_metrics(result))
    charts = timed("charts (Altair objects)", lambda: report_charts(result, metrics))
    timed("chart specs (to_dict)", lambda: [c.to_dict() for c in charts.values()])
    page = timed("report HTML", lambda: render_report(result, metrics=metrics, charts=charts))
    (folder / "report.html").write_text(page)
    timed("PNG charts (vl-convert)", lambda: save_pngs(charts, folder / "charts"))
    if CHROMIUM:
        dom = timed("chromium: open + render", lambda: _render(folder / "report.html", folder))
        drawn = re.search(r'data-charts-rendered="(\d+)"', dom)
        if not drawn or int(drawn.group(1)) != len(charts):
            raise RuntimeError(
                f"chromium rendered {drawn and drawn.group(1)} of {len(charts)} charts"
            )
    out["report size (MB)"] = len(page.encode()) / 1e6
    return out


CHROMIUM = shutil.which("chromium")


def _render(page: Path, folder: Path) -> str:
    """The DOM after headless chromium opened the page and ran its scripts (network off)."""
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={folder / 'profile'}",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=120000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365.0, help="the long run (default 365)")
    parser.add_argument("--small-days", type=float, default=3.0, help="the small run (default 3)")
    args = parser.parse_args()
    vega_bundle()  # load the inline JavaScript once, outside the timings
    with tempfile.TemporaryDirectory() as tmp:  # first calls load Altair's schema, vl-convert's
        _stages(_run(0.5)[0], Path(tmp))  # engine and fonts: warm them up outside the timings
    if CHROMIUM:
        with tempfile.TemporaryDirectory() as tmp:
            blank = Path(tmp) / "blank.html"
            blank.write_text("<!DOCTYPE html><title>blank</title>")
            started = time.perf_counter()
            _render(blank, Path(tmp))
            print(
                f"chromium on a blank page (start-up baseline): "
                f"{time.perf_counter() - started:.2f} s"
            )
    runs = {}
    for label, days in (("small", args.small_days), ("long", args.days)):
        result, seconds = _run(days)
        print(
            f"{label}: {days:g} days, {result.symbols.height:,} symbol-bars, "
            f"{result.fills.height:,} fills; backtest {seconds:.1f} s",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as tmp:
            runs[label] = _stages(result, Path(tmp))
        del result
    small, long = runs["small"], runs["long"]
    print(f"\n{'stage':28s} {'small (s)':>10s} {'long (s)':>10s} {'long/small':>11s}")
    for stage in small:
        a, b = small[stage], long[stage]
        print(f"{stage:28s} {a:10.3f} {b:10.3f} {b / a if a else float('nan'):10.1f}x")
    total_small = sum(v for k, v in small.items() if "size" not in k)
    total_long = sum(v for k, v in long.items() if "size" not in k)
    print(f"{'total':28s} {total_small:10.3f} {total_long:10.3f} {total_long / total_small:10.1f}x")


if __name__ == "__main__":
    main()
