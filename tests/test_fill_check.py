"""The fill-model report: every bar fill rule against trade-level fills from the same tape."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from data_support import REAL

import mmsim
from mmsim.cli import main
from mmsim.research.fill_check import fill_markouts, fill_model_chart, fill_model_report
from mmsim.testing.tapes import tape_from_bars

TAPE = REAL / "trades" / "andronovDR_data__coinbase_btcusd_trades_2018"
VENUE = mmsim.Venue(maker_fee=0.0, tick_sizes={"BTCUSDT": 0.1}, lot_sizes={"BTCUSDT": 1e-6})


@pytest.fixture(scope="module")
def synthetic_report():
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.25, interval="1m", seed=3, funding=False)
    strategy = mmsim.fixed_spread(half_spread_bps=3, order_value=1_000.0)
    return fill_model_report(tape_from_bars(bars), strategy, venue=VENUE, queue_ahead=0.0, block=30)


def test_a_tape_of_the_bars_prices_agrees_with_the_touch_rule_row_for_row(synthetic_report):
    table = synthetic_report.table
    assert table["rule"].to_list() == ["through_0", "through_1", "through_2", "intensity", "tape"]
    touch, tape = (
        table.filter(pl.col("rule") == r).row(0, named=True) for r in ("through_0", "tape")
    )
    for column in ("fills", "filled_qty", "pnl", "markout_1_bps", "markout_15_bps"):
        assert tape[column] == pytest.approx(touch[column], rel=1e-12), column
    assert tape["fills_vs_tape"] == 1.0 and tape["pnl_vs_tape"] == 0.0


def test_deeper_penetration_fills_less_and_intervals_are_positive(synthetic_report):
    table = synthetic_report.table
    fills = table["fills"].to_list()
    assert fills[0] >= fills[1] >= fills[2] > 0
    assert (table["pnl_ci"] > 0).all() and (table["markout_5_ci"] > 0).all()
    A, kappa = synthetic_report.intensity
    assert A > 0 and kappa > 0
    levels = synthetic_report.levels
    assert set(levels["rule"]) == set(table["rule"])
    by_rule = levels.group_by("rule").agg(pl.col("fills").sum())
    assert dict(by_rule.iter_rows()) == dict(table.select("rule", "fills").iter_rows())


def test_markouts_are_signed_for_the_fill_and_measured_h_bars_later(synthetic_report):
    result = synthetic_report.results["through_0"]
    marks = fill_markouts(result, (1,))
    fill = marks.row(0, named=True)
    later = result.symbols.filter(pl.col("ts") > fill["ts"]).sort("ts")["mark"][0]
    assert fill["markout_1_bps"] == pytest.approx(
        fill["side"] * (later - fill["price"]) / fill["price"] * 1e4
    )


def test_pnl_interval_is_the_spread_of_block_sums(synthetic_report):
    result = synthetic_report.results["tape"]
    row = synthetic_report.table.filter(pl.col("rule") == "tape").row(0, named=True)
    steps = result.equity["equity"].diff().fill_null(result.equity["equity"][0] - 100_000.0)
    sums = [sum(steps[k : k + 30]) for k in range(0, steps.len(), 30)]
    mean = sum(sums) / len(sums)
    sd = math.sqrt(sum((s - mean) ** 2 for s in sums) / (len(sums) - 1))
    assert row["pnl"] == pytest.approx(sum(sums))
    assert row["pnl_ci"] == pytest.approx(1.959963984540054 * sd * math.sqrt(len(sums)))


def test_the_chart_has_a_markout_and_a_pnl_panel(synthetic_report):
    spec = fill_model_chart(synthetic_report).to_dict()
    titles = [panel["title"] for panel in spec["hconcat"]]
    assert titles == ["markout of the fills", "PnL per fill (95% CI)"]


@pytest.mark.skipif(not TAPE.exists(), reason="real trade tapes not present")
def test_fills_check_on_a_real_tape_writes_the_table_and_chart(tmp_path, capsys):
    hour = tmp_path / "hour.csv"
    mmsim.read_trades(
        TAPE / "btcusdMarket10302018" / "btcusdmarket.txt",
        symbol="BTCUSD",
        start="2018-10-31 05:00",
        end="2018-10-31 06:00",
    ).with_columns(pl.col("ts").dt.epoch("ms")).write_csv(hour)
    code = main(
        [
            "fills-check",
            str(hour),
            "--tick-size",
            "0.01",
            "--param",
            "half_spread_bps=1",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "through_0" in printed and "tape" in printed
    table = pl.read_csv(tmp_path / "out" / "fill_models.csv")
    assert table.height == 5
    tape = table.filter(pl.col("rule") == "tape").row(0, named=True)
    touch = table.filter(pl.col("rule") == "through_0").row(0, named=True)
    # a quote can fill from the tape only where the bar traded at or through it
    assert 0 < tape["fills"] <= touch["fills"]
    assert (tmp_path / "out" / "fill_models.html").stat().st_size > 1000
    assert main(["fills-check", str(hour), "--set", "half_spread"]) == 2  # --set: the same option
    assert "--param 'half_spread': write NAME=VALUE" in capsys.readouterr().err


@pytest.mark.skipif(not TAPE.exists(), reason="real trade tapes not present")
def test_the_docs_coinbase_tables_are_what_the_example_computes_now(tmp_path):
    root = Path(__file__).resolve().parents[1]
    script = root / "examples" / "fill_models_coinbase.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--tapes", str(TAPE.parent), "--markdown"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    tables = proc.stdout.strip()
    assert tables.count("| fixed 20 bps |") == 2 and tables.count("| A-S |") == 2
    assert tables in (root / "docs" / "fill-models.md").read_text()
