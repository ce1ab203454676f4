"""TOML run configurations: parsing, clear errors, data sources, equivalence with the default."""

import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import mmsim
from mmsim.cli import default_setup
from mmsim.research.compare import Comparison
from mmsim.research.config import ConfigError, load_config, run_config

ROOT = Path(__file__).resolve().parents[1]

# the embedded default run (mmsim.cli.default_setup) written as a config, one day long
DEFAULT_AS_TOML = """
initial_cash = 100000.0

[data]
synthetic = { symbols = ["BTCUSDT", "ETHUSDT"], days = 1, seed = 7, interval = "1m" }

[venue]
maker_fee = 0.0002
taker_fee = 0.0005

[risk]
max_leverage = 3.0
max_symbol_leverage = 2.0
min_order_value = 10.0
emergency_drawdown = 0.2
stop_equity_fraction = 0.5

[strategies.BTCUSDT]
strategy = "avellaneda_stoikov"
gamma = 0.0005
kappa = 0.5
horizon = "1d"
order_value = 2000.0
max_inventory = 10

[strategies.ETHUSDT]
strategy = "fixed_spread"
half_spread_bps = 8
order_value = 2000.0
max_position_value = 30000.0
"""


SYN = "[data]\nsynthetic = {}\n"
TOKYO = '[strategies]\n"*" = { strategy = "tokyo" }\n'


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_default_run_as_a_config_gives_the_same_result(tmp_path):
    config = load_config(write(tmp_path, DEFAULT_AS_TOML))
    from_config = run_config(config)
    setup = default_setup(days=1, seed=7)
    direct = mmsim.backtest(setup.pop("bars"), **setup)
    for frame in ("fills", "equity", "symbols", "summary"):
        assert_frame_equal(getattr(from_config, frame), getattr(direct, frame))
    assert from_config.fills.height > 0


def test_example_config_builds_three_sets(tmp_path):
    config = load_config(ROOT / "examples" / "strategies.toml")
    assert list(config.sets) == ["avellaneda_stoikov", "glft", "mexico"]
    assert config.sets["glft"]["*"].params.gamma == 0.01
    assert config.symbols == ("BTCUSDT", "ETHUSDT")
    assert config.out == (ROOT / "mmsim-results" / "strategies-example").resolve()


def test_one_strategy_for_all_symbols_and_a_comparison_of_sets(tmp_path):
    path = write(
        tmp_path,
        """
        symbols = ["ETHUSDT", "BTCUSDT"]
        [data]
        synthetic = { days = 0.25, seed = 1 }
        [sets.tokyo]
        "*" = { strategy = "tokyo", levels = 2 }
        [sets.mixed]
        BTCUSDT = { strategy = "glft" }
        ETHUSDT = { strategy = "lisbon" }
    """,
    )
    outcome = run_config(load_config(path))
    assert isinstance(outcome, Comparison)
    assert outcome.table["set"].to_list() == ["tokyo", "mixed"]
    mixed = outcome.results["mixed"].config["strategies"]
    assert (mixed["BTCUSDT"]["name"], mixed["ETHUSDT"]["name"]) == ("glft", "lisbon")


def test_parquet_path_relative_to_the_config_without_mmsim_data(tmp_path, monkeypatch):
    """Without mmsim.data, a Parquet file in mmsim's layout is read with polars."""
    monkeypatch.setitem(sys.modules, "mmsim.data", None)  # as if the package were absent
    bars = mmsim.synthetic_bars(("BTCUSDT", "SOLUSDT"), days=0.25, seed=3)
    (tmp_path / "data").mkdir()
    bars.write_parquet(tmp_path / "data" / "bars.parquet")
    config = load_config(
        write(
            tmp_path,
            """
        symbols = ["SOLUSDT"]
        [data]
        path = "data/bars.parquet"
        [strategies]
        "*" = { strategy = "oslo" }
    """,
        )
    )
    assert_frame_equal(config.load_bars(), bars.filter(pl.col("symbol") == "SOLUSDT"))
    result = run_config(config)
    assert result.config["symbols"] == ["SOLUSDT"] and result.fills.height > 0


def test_non_parquet_path_needs_mmsim_data(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mmsim.data", None)
    (tmp_path / "bars.csv").write_text("ts,symbol\n")
    config = load_config(
        write(
            tmp_path,
            """
        [data]
        path = "bars.csv"
        [strategies]
        "*" = { strategy = "tokyo" }
    """,
        )
    )
    with pytest.raises(ConfigError, match=r"run.toml: \[data\] path .*bars.csv.*only Parquet"):
        config.load_bars()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'colour = "red"\n[data]\nsynthetic = {}\n[strategies]\n"*" = { strategy = "tokyo" }',
            r"top level: unknown key\(s\) \['colour'\]",
        ),
        (
            '[data]\nsynthetic = {}\n[strategies]\n"*" = { strategy = "tokio" }',
            r"\[strategies\] \*: unknown strategy 'tokio' \(did you mean 'tokyo'\?\)",
        ),
        (
            '[data]\nsynthetic = {}\n[strategies]\nBTCUSDT = { strategy = "mexico", levels = 0 }',
            r"\[strategies\] BTCUSDT: mexico: bad parameter: levels must be an integer >= 1, got 0",
        ),
        (
            '[data]\nsynthetic = {}\n[strategies]\nBTCUSDT = { strategy = "glft", gama = 1 }',
            r"\[strategies\] BTCUSDT: glft: unknown parameter 'gama' \(did you mean 'gamma'\?\)",
        ),
        (
            "[data]\nsynthetic = {}\n[strategies]\nBTCUSDT = { levels = 2 }",
            r'needs strategy = "<name>"',
        ),
        (
            SYN + 'path = "x.parquet"\n' + TOKYO,
            r"\[data\] needs exactly one of",
        ),
        (
            '[data]\nsynthetic = { dayz = 3 }\n[strategies]\n"*" = { strategy = "tokyo" }',
            r"\[data.synthetic\]: unknown key\(s\) \['dayz'\]",
        ),
        (
            SYN + "[venue]\nmaker_fees = 0.1\n" + TOKYO,
            r"\[venue\]: unknown key\(s\) \['maker_fees'\]",
        ),
        (
            SYN + "[venue]\nmaker_fee = 0.5\n" + TOKYO,
            r"\[venue\]: .*maker_fee",
        ),
        (
            SYN + "[risk]\nmax_leverage = -1\n" + TOKYO,
            r"\[risk\]: max_leverage must be a finite number > 0 or None, got -1$",
        ),
        ("[data]\nsynthetic = {}", r"either \[strategies\] .* or \[sets.NAME\]"),
        (
            'initial_cash = -5\n[data]\nsynthetic = {}\n[strategies]\n"*" = { strategy = "tokyo" }',
            r"initial_cash must be a positive number",
        ),
        ("[data\nsynthetic = {}", r"not valid TOML"),
    ],
)
def test_mistakes_name_the_file_table_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'symbols = ["BTCUSDT"]\n[data]\nsynthetic = { days = 0.1 }\n'
            '[strategies]\nETHUSDT = { strategy = "tokyo" }',
            r"\[strategies\] names symbols \['ETHUSDT'\] that are not traded",
        ),
        (
            '[data]\nsynthetic = { days = 0.1 }\n[strategies]\nBTCUSDT = { strategy = "tokyo" }',
            r"\[strategies\] has no strategy for \['ETHUSDT'\]",
        ),
        (
            'symbols = ["DOGEUSDT"]\n[data]\npath = "bars.parquet"\n' + TOKYO,
            r"symbols \['DOGEUSDT'\] are not in the data",
        ),
        (
            '[data]\npath = "missing.parquet"\n[strategies]\n"*" = { strategy = "tokyo" }',
            r"\[data\] path .*missing.parquet' does not exist",
        ),
    ],
)
def test_mistakes_found_when_the_data_is_read(tmp_path, text, message):
    mmsim.synthetic_bars(("BTCUSDT",), days=0.1).write_parquet(tmp_path / "bars.parquet")
    with pytest.raises(ConfigError, match=message):
        run_config(load_config(write(tmp_path, text)))


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does-not-exist.toml"):
        load_config(tmp_path / "does-not-exist.toml")


def test_a_feature_column_missing_from_the_data_is_named(tmp_path, monkeypatch):
    """oslo reads taker_buy_volume; a file without it fails with the column's name."""
    monkeypatch.setitem(sys.modules, "mmsim.data", None)
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.1).drop("taker_buy_volume")
    bars.write_parquet(tmp_path / "bars.parquet")
    path = write(
        tmp_path, '[data]\npath = "bars.parquet"\n[strategies]\n"*" = { strategy = "oslo" }\n'
    )
    with pytest.raises(ConfigError, match="run.toml: a strategy's features .*taker_buy_volume"):
        run_config(load_config(path))
