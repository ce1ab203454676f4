"""End to end, as docs/real-data.md shows: Binance ZIP dumps, a TOML config naming them, the run."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
from data_support import kline_csv, write_dump

import mmsim

CONFIG = """
symbols = ["BTCUSDT", "ETHUSDT"]
initial_cash = 100000.0
allow_gaps = true
out = "results/binance"

[data]
path = "DATA"                       # the folder `mmsim data fetch` filled (ZIPs or Parquet cache)
options = { interval = "1m" }       # keywords of mmsim.load_bars

[venue]
maker_fee = 0.0002
taker_fee = 0.0005

[risk]
max_leverage = 3.0
min_order_value = 10.0

[strategies]
BTCUSDT = { strategy = "avellaneda_stoikov", gamma = 0.0005, kappa = 0.5, max_inventory = 10 }
"*" = { strategy = "fixed_spread", half_spread_bps = 8 }
"""


def test_mmsim_run_backtests_a_folder_of_binance_zips_named_by_a_config(tmp_path):
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=2, start="2024-03-01", seed=11)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for day in (1, 2):
            one = bars.filter((pl.col("symbol") == symbol) & (pl.col("ts").dt.day() == day))
            write_dump(tmp_path / "DATA", f"{symbol}-1m-2024-03-0{day}.zip", kline_csv(one))
    (tmp_path / "run.toml").write_text(CONFIG)
    proc = subprocess.run(
        [sys.executable, "-m", "mmsim.cli", "run", "--config", "run.toml", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "BTCUSDT" in proc.stdout and "ETHUSDT" in proc.stdout
    out = tmp_path / "results" / "binance"
    result = mmsim.load_result(out)
    assert result.equity.height == 2 * 1440
    assert result.config["bars"]["start"].startswith("2024-03-01 00:00")
    summary = json.loads((out / "summary.json").read_text())
    assert {row["symbol"] for row in summary} == {"BTCUSDT", "ETHUSDT", "TOTAL"}
    # the same bars straight from Python give the same run
    direct = mmsim.backtest(
        mmsim.load_bars(tmp_path / "DATA"),
        {
            "BTCUSDT": mmsim.avellaneda_stoikov(gamma=0.0005, kappa=0.5, max_inventory=10),
            "ETHUSDT": mmsim.fixed_spread(half_spread_bps=8),
        },
        risk=mmsim.basic_risk(max_leverage=3.0, min_order_value=10.0),
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
        allow_gaps=True,
    )
    assert direct.fills.equals(result.fills)
