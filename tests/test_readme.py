"""Every ```python block of the README runs, in order, in one namespace (a promise checked)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _binance_folder(folder: Path) -> None:
    """What `mmsim data fetch` leaves for the README's real-data walk-through: Binance ZIP dumps."""
    from data_support import kline_csv, write_dump

    import mmsim

    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=2, start="2024-01-01")
    for symbol in ("BTCUSDT", "ETHUSDT"):
        one = bars.filter(bars["symbol"] == symbol)
        write_dump(folder, f"{symbol}-1m-2024-01.zip", kline_csv(one))


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert blocks, "the README has no python example"
    monkeypatch.chdir(tmp_path)
    _binance_folder(tmp_path / "DATA")
    namespace: dict = {"__name__": "readme"}
    for k, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {k}", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"README python block {k} failed: {exc!r}\n{block}") from exc
    assert "result" in namespace and namespace["result"].equity.height > 0
