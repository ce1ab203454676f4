"""examples/report_images.py runs in its small mode and writes what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_report_images_example_small(tmp_path):
    out = tmp_path / "images"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "report_images.py"),
            "--small",
            "--out",
            str(out),
            "--report",
            str(tmp_path / "report.html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    written = [
        line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("wrote ")
    ]
    assert len(written) == 7
    for name in ("price_BTCUSDT", "equity", "drawdown", "attribution", "inventory", "markouts"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "report.html").stat().st_size > 500_000
    figures = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    # figures print with 6 significant digits
    assert abs(float(figures["return"]) - float(figures["pnl"]) / 100_000.0) < 1e-5
