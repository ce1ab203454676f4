"""Byte-identical outputs: across processes, and no order-dependent Polars aggregation in mmsim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_group_by_in_mmsim_keeps_order():
    """Polars' parallel hash aggregation adds floats in a run-dependent order
    (pola-rs/polars#25163):
    the same run could print a last-digit-different summary in another process. maintain_order=True
    takes the ordered path, which is reproducible."""
    offenders = []
    for path in sorted((ROOT / "mmsim").rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"\.group_by\(", text):
            depth, end = 1, match.end()
            while depth:  # the call's arguments, nested parentheses included
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            if "maintain_order=True" not in text[match.end() : end]:
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text[match.start() : end]}")
    assert offenders == [], "group_by without maintain_order=True:\n" + "\n".join(offenders)


SCRIPT = """
import mmsim, sys
from mmsim.cli import default_setup
setup = default_setup(days=2)
bars = setup.pop("bars")
r = mmsim.backtest(bars, **setup)
sys.stdout.write(r.summary.write_csv() + r.equity.tail(3).write_csv())
"""


def test_two_processes_print_the_same_summary_to_the_last_digit():
    outs = {
        subprocess.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            timeout=300,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outs) == 1 and next(iter(outs)).startswith("symbol,pnl")
