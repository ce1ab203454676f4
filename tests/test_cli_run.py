"""`mmsim run --data ...` and friends through the installed console script, as a user types them."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from data_support import kline_csv, real
from polars.testing import assert_frame_equal

import mmsim

ROOT = Path(__file__).resolve().parents[1]
MMSIM = shutil.which("mmsim", path=str(Path(sys.executable).parent)) or shutil.which("mmsim")
Q4 = ("benicio1007_bot_trading__binance_spot_1m", "Q4_2024")


def mmsim_cli(
    *args: str, cwd: Path, timeout: int = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """The `mmsim` console script in a pipe (not a terminal), this checkout first on the path."""
    assert MMSIM is not None, "the mmsim console script is not installed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", **(env or {})}
    env.pop("CI", None)
    return subprocess.run(
        [MMSIM, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    """Two symbols of 1-minute bars in Binance's dump layout, one file each."""
    folder = tmp_path_factory.mktemp("dumps")
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=3)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        one = bars.filter(pl.col("symbol") == symbol)
        (folder / f"{symbol}-1m-2024-01.csv").write_bytes(kline_csv(one))
    return folder


def _times(stderr: str) -> tuple[float, dict[str, float]]:
    """The printed 'total 9.9 s: starting 0.8 s, loading data 0.1 s, ...' as figures."""
    line = next(line for line in stderr.splitlines() if "total " in line)
    total, parts = line.split("total ", 1)[1].split(": ", 1)
    pairs = (part.rsplit(" ", 2)[:2] for part in parts.split(", "))
    return float(total.removesuffix(" s")), {name: float(s) for name, s in pairs}


FRAMES = ("fills", "equity", "symbols", "summary", "rejections", "events")


def _commands(parser, prefix=()) -> list[tuple[str, ...]]:
    """Every command and subcommand of the parser, e.g. ('data', 'fetch', 'binance')."""
    import argparse

    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(*prefix, name), *_commands(sub, (*prefix, name))]
    return found


def test_every_command_has_examples_in_its_help(tmp_path):
    from mmsim.cli.commands import build_parser

    commands = _commands(build_parser())
    assert ("data", "fetch", "binance") in commands and ("venue",) in commands
    for command in commands:
        proc = mmsim_cli(*command, "--help", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        examples = proc.stdout.partition("examples:")[2]
        assert f"mmsim {command[0]}" in examples, command
    assert "--data" in mmsim_cli("run", "--help", cwd=tmp_path).stdout


def test_run_names_data_and_strategy_and_reruns_from_its_config_to_identical_frames(
    dumps, tmp_path
):
    proc = mmsim_cli(
        "run",
        "--data",
        str(dumps),
        "--symbols",
        "btcusdt,ETHUSDT",
        "--end",
        "2024-01-01T08:00",
        "--strategy",
        "avellaneda_stoikov",
        "--param",
        "gamma=0.001",
        "--param",
        "horizon=1d",
        "--venue",
        "maker_fee=0.0001",
        "--risk",
        "max_leverage=2",
        "--risk",
        "emergency_drawdown=0.1",
        "--out",
        "first",
        "--no-report",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "BTCUSDT" in proc.stdout and "TOTAL" in proc.stdout
    # spot-like data (no funding_rate) is said once
    assert proc.stderr.count("no funding_rate column") == 1
    # the total is what the user waited for, start-up included, and its parts add up to it
    total, parts = _times(proc.stderr)
    assert list(parts)[:2] == ["starting", "loading data"] and "writing results" in parts
    assert sum(parts.values()) == pytest.approx(total, abs=0.05 * (len(parts) + 1))
    assert "" not in proc.stderr.splitlines()  # no progress bar residue in a pipe
    config = json.loads((tmp_path / "first" / "config.json").read_text())
    assert config["data"]["path"] == str(dumps)
    assert config["data"]["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert config["data"]["last_bar"].startswith("2024-01-01 07:59")
    assert len(config["data"]["fingerprint"]) == 64 and config["data"]["funding"] is False
    assert config["risk_settings"]["max_leverage"] == 2
    assert config["risk_settings"]["emergency_drawdown"] == 0.1
    assert config["risk_settings"]["max_symbol_leverage"] is None  # every rule, defaults too
    assert config["venue"]["maker_fee"] == 0.0001
    params = config["strategies"]["BTCUSDT"]["params"]
    assert params["gamma"] == 0.001 and "kappa" in params
    assert config["versions"]["mmsim"] == mmsim.__version__ and "polars" in config["versions"]
    first = mmsim.load_result(tmp_path / "first")
    for source, out in (("first/config.toml", "again"), ("first/config.json", "json")):
        proc = mmsim_cli("run", "--config", source, "--out", out, "--no-report", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        rerun = mmsim.load_result(tmp_path / out)
        for frame in FRAMES:
            assert_frame_equal(getattr(rerun, frame), getattr(first, frame))
        assert rerun.config["data"]["fingerprint"] == config["data"]["fingerprint"]


def test_data_mistakes_are_said_in_command_line_words(dumps, tmp_path):
    wrong = mmsim_cli(
        "run", "--data", str(dumps), "--symbols", "XRPUSDT", "--strategy", "tokyo", cwd=tmp_path
    )
    assert wrong.returncode == 2
    assert "XRPUSDT" in wrong.stderr and "['BTCUSDT', 'ETHUSDT']" in wrong.stderr

    twice = tmp_path / "twice"
    twice.mkdir()
    btc = (dumps / "BTCUSDT-1m-2024-01.csv").read_bytes()
    (twice / "BTCUSDT-1m-2024-01.csv").write_bytes(btc)
    lines = btc.splitlines(keepends=True)
    (twice / "BTCUSDT-1m-2024-01-01.csv").write_bytes(b"".join(lines[: len(lines) // 2]))
    args = ("run", "--data", str(twice), "--strategy", "tokyo", "--no-report", "--quiet")
    failed = mmsim_cli(*args, cwd=tmp_path)
    assert failed.returncode == 2 and "--drop duplicates" in failed.stderr
    assert "drop=" not in failed.stderr
    dropped = mmsim_cli(*args, "--drop", "duplicates", cwd=tmp_path)
    assert dropped.returncode == 0, dropped.stderr
    warning = [line for line in dropped.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith("mmsim: warning: dropped ")
    assert "warnings.warn" not in dropped.stderr and "Warning:" not in dropped.stderr

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "BTCUSDT-1m-2024-01.csv").write_bytes(btc)
    hourly = mmsim.data.resample_bars(mmsim.load_bars(dumps / "BTCUSDT-1m-2024-01.csv"), "1h")
    (mixed / "BTCUSDT-1h-2024-01.csv").write_bytes(kline_csv(hourly, interval_ms=3_600_000))
    proc = mmsim_cli("run", "--data", str(mixed), "--strategy", "tokyo", cwd=tmp_path)
    assert proc.returncode == 2 and "mixed intervals for BTCUSDT" in proc.stderr
    assert "1h" in proc.stderr and "conflicting" not in proc.stderr


def test_piped_tables_are_whole_and_csv_is_csv(dumps, tmp_path):
    args = ("run", "--data", str(dumps), "--strategy", "tokyo", "--no-report", "--quiet")
    table = mmsim_cli(*args, "--out", "t", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if "symbol" in line)
    assert len(header) > 80 and "final_position" in header  # COLUMNS=80 is not obeyed in a pipe
    assert "…" not in table.stdout
    as_csv = mmsim_cli(*args, "--out", "c", "--format", "csv", cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout.split("\n", 1)[1])))
    assert [r["symbol"] for r in rows] == ["BTCUSDT", "ETHUSDT", "TOTAL"]
    summary = mmsim.load_result(tmp_path / "c").summary
    total = summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    # one fee sign everywhere: fees are shown as they add to PnL, as the attribution does
    assert float(rows[-1]["fees"]) == pytest.approx(-total["fees"]) and total["fees"] > 0
    report = mmsim_cli("report", "c", "--no-png", "--format", "csv", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    attribution = report.stdout.split("# PnL attribution (USDT)\n", 1)[1]
    parts = list(csv.DictReader(io.StringIO(attribution)))[-1]
    fees = sum(float(parts[c]) for c in ("maker_fees", "rebates", "taker_fees"))
    assert fees == pytest.approx(float(rows[-1]["fees"]), abs=1e-6)
    assert "writing the report" in report.stderr


def test_several_sets_show_progress_by_name_and_write_a_comparison_page(dumps, tmp_path):
    config = tmp_path / "sets.toml"
    config.write_text(
        f'[data]\npath = "{dumps}"\noptions = {{ end = "2024-01-01T04:00" }}\n'
        '[sets.tokyo]\n"*" = { strategy = "tokyo" }\n'
        '[sets.glft]\n"*" = { strategy = "glft" }\n'
    )
    proc = mmsim_cli("run", "--config", str(config), "--out", "sets", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "running set 1/2: tokyo" in proc.stderr and "running set 2/2: glft" in proc.stderr
    assert "writing results and report" in proc.stderr
    assert "writing set 1/2: tokyo" in proc.stderr and "writing set 2/2: glft" in proc.stderr
    page = (tmp_path / "sets" / "comparison.html").read_text()
    assert "tokyo" in page and "glft" in page
    assert (tmp_path / "sets" / "config.toml").is_file()
    rerun = mmsim_cli(
        "run", "--config", "sets/config.toml", "--out", "again", "--no-report", cwd=tmp_path
    )
    assert rerun.returncode == 0, rerun.stderr
    for name in ("tokyo", "glft"):
        first, again = (mmsim.load_result(tmp_path / d / name) for d in ("sets", "again"))
        assert_frame_equal(first.fills, again.fills)


def test_compare_warns_when_runs_cover_different_periods(dumps, tmp_path):
    base = ("run", "--data", str(dumps), "--strategy", "tokyo", "--no-report", "--quiet")
    assert mmsim_cli(*base, "--out", "long", cwd=tmp_path).returncode == 0
    short = mmsim_cli(*base, "--end", "2024-01-01T03:00", "--out", "short", cwd=tmp_path)
    assert short.returncode == 0, short.stderr
    proc = mmsim_cli("compare", "long", "short", "--no-png", "--out", "c.html", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "different periods" in proc.stderr and "720 bars" in proc.stderr
    assert "loading result 1/2: long (long)" in proc.stderr
    assert "loading result 2/2: short (short)" in proc.stderr
    same = mmsim_cli(
        "compare", "long", "long", "--no-png", "--out", "s.html", "--quiet", cwd=tmp_path
    )
    assert "different periods" not in same.stderr and "loading result 1/2" not in same.stderr


def test_real_binance_spot_data_end_to_end(tmp_path):
    folder = real(*Q4)
    proc = mmsim_cli(
        "run",
        "--data",
        str(folder),
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--start",
        "2024-10-01",
        "--end",
        "2024-10-01",
        "--strategy",
        "avellaneda_stoikov",
        "--out",
        "real",
        "--no-report",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = mmsim.load_result(tmp_path / "real")
    assert result.fills.height > 0
    assert set(result.fills["side"].to_list()) == {-1, 1}  # both sides quoted and filled
    bars = mmsim.load_bars(folder, symbols=["BTCUSDT", "ETHUSDT"], end="2024-10-01")
    bars = bars.with_columns(pl.col("symbol").cast(pl.String))
    inside = result.fills.join(bars, on=["ts", "symbol"]).filter(
        (pl.col("price") < pl.col("low")) | (pl.col("price") > pl.col("high"))
    )
    assert inside.height == 0


def test_a_config_run_records_what_ran_in_its_report_and_opens_it(dumps, tmp_path):
    text = (
        f'symbols = ["BTCUSDT"]\n\n[data]\npath = "{dumps}"\n'
        'options = { end = "2024-01-01T03:00" }\n\n'
        "[venue]\nmaker_fee = 0.00015\n\n[risk]\nmax_leverage = 2.5\nmin_order_value = 10\n\n"
        '[strategies]\n"*" = { strategy = "glft", gamma = 0.02 }\n'
    )
    (tmp_path / "glft.toml").write_text(text)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    env = {"BROWSER": f"{sys.executable} {browser} %s", "DISPLAY": ""}
    proc = mmsim_cli("run", "--config", "glft.toml", "--out", "r", "--open", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    report = tmp_path / "r" / "report.html"
    assert opened.read_text().splitlines() == [report.as_uri()]
    page = report.read_text()
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert "<title>mmsim report: glft on BTCUSDT</title>" in page
    assert str(dumps) in page and config["data"]["fingerprint"] in page
    assert html.escape(text) in page  # the TOML file as written
    for name, value in config["risk_settings"].items():  # every rule's setting, unset ones too
        assert html.escape(f'"{name}": {json.dumps(value)}') in page, name
    for setting in ('"maker_fee": 0.00015', '"gamma": 0.02', '"kappa": '):
        assert html.escape(setting) in page, setting
    for package in ("mmsim", "polars", "numpy"):
        assert f"{package} version</td><td>{config['versions'][package]}<" in page
    # spot data: said once in the output and once as the report's note
    assert proc.stderr.count("no funding_rate column") == 1
    assert page.count('id="funding-note"') == 1
