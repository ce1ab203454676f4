"""The "Test your strategy" page (docs/testing.md), run as a user would: its strategy, conftest
and five-line test pass; with the skew's sign flipped the test fails with exactly the output the
page shows; and its regression workflow keeps the failing market and replays it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "testing.md"
RIGHT = "centre = close * (1 - p.skew_bps * q / 1e4)"
WRONG = "centre = close * (1 + p.skew_bps * q / 1e4)"


def section() -> str:
    return PAGE.read_text()


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.S)


def write_project(folder: Path, *, broken: bool, keep: bool = False, suite: bool = False) -> None:
    strategy, conftest, test, properties, kept = blocks("python")
    assert strategy.count(RIGHT) == 1, (
        "the page's strategy no longer has the skew line this test flips"
    )
    if broken:
        strategy = strategy.replace(RIGHT, WRONG)
    (folder / "conftest.py").write_text(conftest)
    parts = [strategy, test] + ([kept] if keep else []) + ([properties] if suite else [])
    (folder / "test_skewed_mm.py").write_text("\n\n".join(parts))


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    # the page shows what a user's 80-column terminal prints; pytest stops truncating the
    # short summary when it sees CI or BUILD_NUMBER, so the user's run is reproduced without them
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    for name in ("MMSIM_SAVE_FAILURES", "CI", "BUILD_NUMBER"):
        env.pop(name, None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--hypothesis-seed=0",
            "-W",
            "ignore::DeprecationWarning",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=600,
    )


def test_the_docs_example_fails_on_the_flipped_skew_exactly_as_shown(tmp_path):
    write_project(tmp_path, broken=True)
    proc = pytest_in(tmp_path, "test_skewed_mm.py", "-q")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Hypothesis >= 6.16x says "Failing test case:" where older releases said "Falsifying example:"
    same = lambda text: text.replace("Failing test case:", "Falsifying example:")  # noqa: E731
    shown = [same(line) for line in blocks("text")[0].splitlines() if line.strip()]
    printed = [same(line) for line in proc.stdout.splitlines()]
    position = 0
    for line in shown:  # every line the page shows, in the order it shows them
        assert line in printed[position:], (
            f"page line not printed (in order): {line!r}\n{proc.stdout[-4000:]}"
        )
        position = printed.index(line, position) + 1


def test_the_docs_example_passes_with_the_skew_the_right_way_round(tmp_path):
    write_project(tmp_path, broken=False, suite=True)
    proc = pytest_in(tmp_path, "test_skewed_mm.py", "-q", "-k", "not TestSkewedMM")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout
    # the one-line suite too (with fewer examples than a user's run, to keep CI fast)
    with (tmp_path / "conftest.py").open("a") as conftest:
        conftest.write("\nmmsim.testing.load_profile(max_examples=15)\n")
    suite = pytest_in(tmp_path, "test_skewed_mm.py", "-q", "-k", "TestSkewedMM")
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    assert "7 passed" in suite.stdout


def test_the_docs_regression_workflow_keeps_and_replays_the_market(tmp_path):
    write_project(tmp_path, broken=True, keep=True)
    kept = pytest_in(tmp_path, "test_skewed_mm.py", "-q", "-k", "test_skewed_mm_kept")
    assert (
        kept.returncode == 1
        and "failing market saved to tests/regressions/test_skewed_mm_kept.parquet" in kept.stdout
    )
    assert (tmp_path / "tests" / "regressions" / "test_skewed_mm_kept.parquet").is_file()
    replayed = pytest_in(tmp_path, "test_skewed_mm.py", "-q", "-k", "test_regressions")
    assert replayed.returncode == 1, replayed.stdout[-3000:]
    assert (
        "skew_reduces_inventory: the quotes must not rise as the position grows" in replayed.stdout
    )
    assert "replayed from tests/regressions/test_skewed_mm_kept.parquet" in replayed.stdout
    write_project(tmp_path, broken=False, keep=True)
    fixed = pytest_in(tmp_path, "test_skewed_mm.py", "-q", "-k", "test_regressions")
    assert fixed.returncode == 0 and "1 passed" in fixed.stdout, fixed.stdout[-3000:]
