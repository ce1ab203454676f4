"""Every ```python block of the README and of each page in docs/ runs, in order, one namespace
per page (a promise checked); every page is linked from the README and every relative link
resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def _binance_folder(folder: Path) -> None:
    """What `mmsim data fetch` leaves for the real-data walk-through: Binance ZIP dumps."""
    from data_support import kline_csv, write_dump

    import mmsim

    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=2, start="2024-01-01")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        one = bars.filter(bars["symbol"] == symbol)
        write_dump(folder, f"{symbol}-1m-2024-01.zip", kline_csv(one))


def run_page(page: Path, folder: Path, monkeypatch) -> dict:
    """Execute the page's python blocks in order in one fresh namespace, inside `folder`."""
    monkeypatch.chdir(folder)
    if "DATA/" in page.read_text():
        _binance_folder(folder / "DATA")
    namespace: dict = {"__name__": "readme"}
    for k, block in enumerate(python_blocks(page)):
        name = page.relative_to(ROOT)
        try:
            exec(compile(block, f"{name} python block {k}", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"{name} python block {k} failed: {exc!r}\n{block}") from exc
    return namespace


def test_the_readme_quick_start_runs(tmp_path, monkeypatch):
    assert python_blocks(README), "the README has no python example"
    namespace = run_page(README, tmp_path, monkeypatch)
    assert namespace["result"].equity.height > 0


@pytest.mark.parametrize(
    "page", [p for p in PAGES if p != README and python_blocks(p)], ids=lambda p: p.name
)
def test_docs_python_examples_run(page, tmp_path, monkeypatch):
    namespace = run_page(page, tmp_path, monkeypatch)
    assert any(not name.startswith("__") for name in namespace)


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)\)", README.read_text()))
    assert linked == {f"docs/{p.name}" for p in PAGES if p != README}
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_real_data_command_prints_what_the_readme_shows(tmp_path):
    """The command-line quick start run on the real week it names: the same lines, timings
    and the engine's reason aside (they vary by machine and by whether kernels are compiled)."""
    import shlex
    import shutil
    import subprocess
    import sys

    from data_support import real

    source = real("benicio1007_bot_trading__binance_spot_1m", "Q4_2024")
    demo = tmp_path / "mmsim-demo"
    (demo / "binance-spot-1m").mkdir(parents=True)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        shutil.copy(source / f"{symbol}_1m.csv", demo / "binance-spot-1m")
    section = README.read_text().split("## Quick start (command line, real data)")[1]
    command = section.split("```bash\n")[1].split("```")[0].replace("\\\n", " ")
    shown = section.split("```text\n")[1].split("```")[0].replace("/tmp/mmsim-demo", str(demo))
    mmsim = Path(sys.executable).parent / "mmsim"
    args = [str(mmsim), *shlex.split(command)[1:], "--no-report"]  # the report: timings only
    done = subprocess.run(
        args,
        cwd=demo,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "80"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as a terminal shows them: one stream, in order
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout

    def comparable(line: str) -> str:
        line = line.rstrip()
        for varying in ("engine: ", "20,160 symbol-bars, 1 strategy set(s); total "):
            if line.startswith(varying):
                return varying
        return line.split("; report ")[0]

    printed = [comparable(line) for line in done.stdout.splitlines()]
    assert printed == [comparable(line) for line in shown.splitlines()]
