"""examples/report_images.py runs in its small mode, writes what it says, and is deterministic
(the one test that runs it: tests/test_examples.py leaves it here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from repo_support import repo_snapshot, written

ROOT = Path(__file__).resolve().parents[1]


def _run(folder: Path) -> subprocess.CompletedProcess:
    folder.mkdir()
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "report_images.py"),
            "--small",
            "--out",
            str(folder / "images"),
            "--report",
            str(folder / "report.html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )


def test_report_images_example_small(tmp_path):
    before = repo_snapshot()
    runs = {name: _run(tmp_path / name) for name in ("a", "b")}
    assert not written(before, repo_snapshot()), "the small run wrote into the repository"
    for done in runs.values():
        assert done.returncode == 0, done.stderr
    out, done = tmp_path / "a" / "images", runs["a"]
    written_files = [
        line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("wrote ")
    ]
    assert len(written_files) == 7
    for name in ("price_BTCUSDT", "equity", "drawdown", "attribution", "inventory", "markouts"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "a" / "report.html").stat().st_size > 500_000
    figures = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    # figures print with 6 significant digits
    assert abs(float(figures["return"]) - float(figures["pnl"]) / 100_000.0) < 1e-5
    # deterministic: the same figures and the same files, wherever it runs
    a, b = (runs[n].stdout.replace(str(tmp_path / n), "<tmp>") for n in ("a", "b"))
    assert a.strip() and a == b, "the example is not deterministic"
