"""The command line: `mmsim strategies`, `mmsim run --config`, and the default `mmsim run`."""

import json
import textwrap

import polars as pl
from polars.testing import assert_frame_equal

import mmsim
from mmsim.cli import default_setup, main
from mmsim.strategies import list_strategies


def test_strategies_lists_every_strategy_with_its_parameters_units_and_defaults(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for spec in list_strategies():
        assert f"{spec.name}: " in out
        for p in spec.parameters():
            line = next(x for x in out.splitlines() if x.split()[:1] == [p.name] and p.help in x)
            assert p.unit in line


def test_strategies_with_a_name_shows_its_formulas(capsys):
    assert main(["strategies", "glft"]) == 0
    out = capsys.readouterr().out
    assert "c2 = sqrt( γ / (2·A·κ)" in out and "calibration_window" in out


def test_unknown_strategy_is_an_error_naming_the_known_ones(capsys):
    assert main(["strategies", "kyoto"]) == 2
    assert "unknown strategy 'kyoto'" in capsys.readouterr().err


def test_run_with_a_config_writes_each_set(tmp_path):
    config = tmp_path / "cmp.toml"
    config.write_text(
        textwrap.dedent("""
        [data]
        synthetic = { symbols = ["BTCUSDT"], days = 0.2, seed = 2 }
        [sets.tokyo]
        "*" = { strategy = "tokyo" }
        [sets.nairobi]
        "*" = { strategy = "nairobi" }
    """)
    )
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    table = pl.read_csv(tmp_path / "out" / "comparison.csv")
    assert table["set"].to_list() == ["tokyo", "nairobi"]
    saved = json.loads((tmp_path / "out" / "nairobi" / "config.json").read_text())
    assert saved["strategies"]["BTCUSDT"]["name"] == "nairobi"


def test_run_config_refuses_embedded_market_flags(tmp_path, capsys):
    config = tmp_path / "one.toml"
    config.write_text('[data]\nsynthetic = {}\n[strategies]\n"*" = { strategy = "tokyo" }\n')
    assert main(["run", "--config", str(config), "--days", "3"]) == 2
    assert "with --config set them in [data.synthetic]" in capsys.readouterr().err


def test_bad_config_is_a_one_line_error(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(
        '[data]\nsynthetic = {}\n[strategies]\n"*" = { strategy = "glft", gamma = -1 }\n'
    )
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmsim: error: ") and "gamma must be a finite number > 0, got -1" in err


def test_default_run_is_unchanged(tmp_path):
    """`mmsim run` with no config is the embedded default setup, as before."""
    assert (
        main(["run", "--days", "0.5", "--seed", "7", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    )
    setup = default_setup(days=0.5, seed=7)
    direct = mmsim.backtest(setup.pop("bars"), **setup)
    assert_frame_equal(mmsim.load_result(tmp_path / "d").fills, direct.fills)
