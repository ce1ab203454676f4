"""The command line: `mmsim strategies`, `mmsim run --config`, and the default `mmsim run`."""

import inspect
import json
import textwrap

import attrs
import polars as pl
from polars.testing import assert_frame_equal

import mmsim
from mmsim.cli import default_setup, main
from mmsim.core.params import format_default, param_infos
from mmsim.core.risk_params import RISK_PARAMS
from mmsim.strategies import list_strategies


def test_strategies_lists_every_strategy_with_its_parameters_units_and_defaults(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for spec in list_strategies():
        assert f"{spec.name}: " in out
        for p in spec.parameters():
            line = next(x for x in out.splitlines() if x.split()[:1] == [p.name] and p.help in x)
            assert p.unit in line


def _row(out: str, p) -> str:
    return next(x for x in out.splitlines() if x.split()[:1] == [p.name] and p.help in x)


def test_risk_lists_every_rule_with_its_parameters_units_and_defaults(capsys):
    assert main(["risk"]) == 0
    out = capsys.readouterr().out
    blocks = {block.split(":")[0]: block for block in out.strip().split("\n\n")}
    assert list(blocks) == list(RISK_PARAMS)
    for name, cls in RISK_PARAMS.items():
        for p in param_infos(cls):
            line = _row(blocks[name], p)
            assert p.unit in line and format_default(p.default) in line
    # basic_risk's rows are exactly the keywords --risk and a config's [risk] take
    assert main(["risk", "basic_risk"]) == 0
    out = capsys.readouterr().out
    names = [x.split()[0] for x in out.splitlines()[2:]]
    assert names == list(inspect.signature(mmsim.basic_risk).parameters)


def test_venue_lists_every_field(capsys):
    assert main(["venue"]) == 0
    out = capsys.readouterr().out
    for p in param_infos(mmsim.Venue):
        assert p.unit in _row(out, p)
    assert [x.split()[0] for x in out.splitlines()[2:]] == [
        f.name for f in attrs.fields(mmsim.Venue)
    ]


def test_unknown_risk_rule_is_an_error_naming_the_known_ones(capsys):
    assert main(["risk", "stop_loss"]) == 2
    assert "unknown risk rule 'stop_loss'; the rules are basic_risk" in capsys.readouterr().err


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
