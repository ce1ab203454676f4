"""`mmsim sweep` and `mmsim walk-forward` run as a user would: a TOML file, a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mmsim.cli import main
from mmsim.research.sweep import load_sweep
from mmsim.research.sweep_config import ConfigError, load_sweep_config

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[data.synthetic]
symbols = ["BTCUSDT"]
days = 1
seed = 5

[strategy]
name = "mmsim.strategies:fixed_spread"
params = { order_value = 1500.0 }

[grid]
half_spread_bps = [3.0, 8.0]
"risk.max_leverage" = [1.0, 3.0]

[risk]
min_order_value = 10.0

[sweep]
metric = "pnl"
out = "rows"
executor = "inprocess"
heatmap = { x = "half_spread_bps", y = "risk.max_leverage", path = "heat.png" }

[walk_forward]
train = "12h"
test = "6h"
out = "wf"
"""


def mmsim_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mmsim.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sweep_command_stores_rows_resumes_and_draws(tmp_path):
    (tmp_path / "sweep.toml").write_text(CONFIG)
    first = mmsim_cli("sweep", "sweep.toml", "--quiet", "--max-runs", "3", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "3 runs (3 ok, 0 failed)" in first.stdout
    assert len(list((tmp_path / "rows").glob("run-*.parquet"))) == 3
    rest = mmsim_cli("sweep", "sweep.toml", "--quiet", cwd=tmp_path)
    assert rest.returncode == 0, rest.stderr
    assert "4 runs (4 ok, 0 failed)" in rest.stdout and "top runs by pnl" in rest.stdout
    rows = load_sweep(tmp_path / "rows")
    assert rows.height == 4 and rows["run_id"].n_unique() == 4
    assert (tmp_path / "heat.png").read_bytes()[:4] == b"\x89PNG"


def test_walk_forward_command_writes_its_result(tmp_path):
    from test_cli_run import mmsim_cli as console_script

    (tmp_path / "sweep.toml").write_text(CONFIG)
    proc = console_script("walk-forward", "sweep.toml", cwd=tmp_path)  # in a pipe, 80 columns
    assert proc.returncode == 0, proc.stderr
    # progress on stderr, naming the phase; tables on stdout, whole
    assert "walk-forward train: 2 windows x 4 points" in proc.stderr
    assert "walk-forward test: 2 windows" in proc.stderr
    assert "walk-forward" not in proc.stdout.replace("walk-forward windows", "")
    header = next(line for line in proc.stdout.splitlines() if "test_start" in line)
    assert len(header) > 80 and "status" in header and "…" not in proc.stdout
    assert "in-sample vs out-of-sample" in proc.stdout
    windows = pl.read_parquet(tmp_path / "wf" / "result" / "windows.parquet")
    assert windows.height == 2 and windows["status"].to_list() == ["ok"] * 2
    as_csv = console_script("walk-forward", "sweep.toml", "--format", "csv", cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stderr
    lines = as_csv.stdout.splitlines()
    assert lines[0] == "# walk-forward windows (best pnl on train)"
    assert lines[1].startswith("window,test_start,test_end,") and len(lines[2].split(",")) == len(
        lines[1].split(",")
    )


def test_a_config_error_names_the_file_and_the_key(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(CONFIG.replace('metric = "pnl"', 'metrik = "pnl"'))
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "metrik" in err and "[sweep]" in err


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("[grid]\nhalf_spread_bps = [3.0, 8.0]", "[grid]\nhalf_spread_bps = 3.0"),
            "half_spread_bps must be a non-empty list",
        ),
        (
            ("[data.synthetic]", '[data]\npath = "nope.parquet"\n[data.synthetic]'),
            "exactly one of path",
        ),
        (('executor = "inprocess"', 'executor = "gpu"'), "executor must be"),
        (("[walk_forward]", "[walk]"), "unknown table"),
    ],
)
def test_config_mistakes_are_caught_before_running(tmp_path, edit, message):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.replace(*edit))
    with pytest.raises(ConfigError, match=message):
        load_sweep_config(path)


def test_the_docs_sweep_toml_loads(tmp_path):
    import re

    section = (ROOT / "docs" / "sweeps.md").read_text()
    block = re.search(r"```toml\n(.*?)```", section, flags=re.DOTALL).group(1)
    path = tmp_path / "as.toml"
    path.write_text(block)
    config = load_sweep_config(path)
    assert config.strategy == "avellaneda_stoikov" and set(config.grid) == {"gamma", "kappa"}
    assert config.walk_forward["train"] == "7d" and config.sweep["out"] == tmp_path / "sweeps/as"
