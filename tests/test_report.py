"""The report file and the results folder: self-contained, complete, written atomically."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import mmsim
from mmsim.results.formats import format_value
from mmsim.results.report import render_comparison, render_report

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, interval="1m", seed=11)
    return mmsim.backtest(
        bars,
        mmsim.fixed_spread(half_spread_bps=4, order_value=3_000.0),
        risk=mmsim.basic_risk(max_leverage=2.0, emergency_drawdown=0.003),
        venue=mmsim.Venue(maker_fee=-0.00005, taker_fee=0.0004),
    )


def test_the_report_is_self_contained(result):
    page = render_report(result)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page.lower()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "vegaEmbed" in page  # the libraries are inline
    assert page.count('class="mmsim-chart"') == 11


def test_the_report_shows_tables_config_provenance_and_version(result):
    page = render_report(result, title="Test run")
    assert "<title>Test run</title>" in page
    for heading in (
        "Summary",
        "PnL attribution",
        "Performance",
        "Trading",
        "Rejected quotes",
        "Risk",
        "Configuration (resolved)",
        "Data and provenance",
    ):
        assert heading in page, heading
    assert f"mmsim version</td><td>{mmsim.__version__}" in page
    assert json.dumps(result.config["venue"]["maker_fee"]) in page
    assert f"{result.config['bars']['rows']:,}" in page
    assert "emergency_exit" in page  # the exits are listed


def test_save_writes_report_and_pngs_and_loads_back(result, tmp_path):
    out = result.save(tmp_path / "run")
    names = {p.name for p in out.iterdir()}
    assert {
        "report.html",
        "summary.json",
        "config.json",
        "fills.parquet",
        "equity.parquet",
        "posted.parquet",
        "charts",
    } <= names
    pngs = sorted(p.name for p in (out / "charts").iterdir())
    assert pngs == sorted(f"{n}.png" for n in mmsim.report_charts(result))
    for p in (out / "charts").iterdir():
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000
    back = mmsim.load_result(out)
    for name in ("fills", "equity", "symbols", "rejections", "events", "summary", "posted"):
        assert getattr(back, name).equals(getattr(result, name)), name
    assert back.config == json.loads(json.dumps(result.config, default=str))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def test_an_interrupted_save_leaves_nothing_that_looks_finished(result, tmp_path, monkeypatch):
    import mmsim.results.report

    def fail(*args, **kwargs):
        raise KeyboardInterrupt("interrupted while charting")

    monkeypatch.setattr(mmsim.results.report, "write_report", fail)
    with pytest.raises(KeyboardInterrupt):
        result.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_saved_before_posted_existed_still_loads(result, tmp_path):
    out = result.save(tmp_path / "old", report=False)
    assert not (out / "report.html").exists()
    (out / "posted.parquet").unlink()
    back = mmsim.load_result(out)
    assert back.posted.height == 0 and back.posted.columns == result.posted.columns
    back.report(tmp_path / "old.html")  # the report still renders, with empty fill rates
    assert (tmp_path / "old.html").stat().st_size > 100_000


def test_comparison_page_lists_every_run(result):
    page = render_comparison({"first": result, "second": result})
    assert page.count('class="mmsim-chart"') == 1
    assert "first" in page and "second" in page


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "mmsim.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )


def test_cli_report_and_compare(result, tmp_path):
    a = result.save(tmp_path / "a", report=False)
    b = result.save(tmp_path / "b", report=False)
    done = _cli("report", a, "--no-png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (a / "report.html").is_file() and not (a / "charts").exists()
    assert "report:" in done.stderr  # status on stderr, tables on stdout
    done = _cli("compare", a, b, "--out", tmp_path / "cmp" / "compare.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cmp" / "compare.html").is_file()
    assert (tmp_path / "cmp" / "compare.png").read_bytes()[:8] == PNG_MAGIC
    assert "sortino" in done.stdout and " a " in done.stdout and " b " in done.stdout
    bad = _cli("report", tmp_path / "missing", cwd=tmp_path)
    assert bad.returncode == 2 and "not an mmsim results folder" in bad.stderr


def test_summary_json_has_the_new_metrics(result, tmp_path):
    out = result.save(tmp_path / "run", report=False)
    rows = json.loads((out / "summary.json").read_text())
    total = next(r for r in rows if r["symbol"] == "TOTAL")
    assert total["pnl"] == pytest.approx(result.final_equity - 100_000.0)
    assert {"sortino", "spread_capture", "markout_1_bps"} <= set(total)
    assert pl.DataFrame(rows).height == 3


def _table_after(page: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and the rows of cells of the first table after `heading`."""
    section = page[page.index(heading) :]
    section = section[: section.index("</table>")]
    head = [re.sub(r"<wbr>", "", h) for h in re.findall(r"<th>(.*?)</th>", section)]
    rows = [re.findall(r"<td>(.*?)</td>", r) for r in re.findall(r"<tr>(<td>.*?)</tr>", section)]
    return head, rows


def test_the_report_shows_each_symbols_quoting_shares_and_clamped_quotes():
    """A bid through the close on BTCUSDT (clamped every bar, both sides quoted) and a bid
    only on ETHUSDT: the report's quoting table has one row per symbol with the summary's
    shares of bars quoting both sides, one side and none, and the clamped quotes."""
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.05, interval="1m", seed=5)

    def quote(inputs):
        close = inputs.bar.close
        if inputs.bar.symbol == "BTCUSDT":
            return mmsim.Quotes(((close * 1.001, 0.001),), ((close * 1.002, 0.001),))
        return mmsim.Quotes(((close * 0.999, 0.01),), ())

    result = mmsim.backtest(bars, mmsim.stateless("lean", quote))
    page = render_report(result)
    head, rows = _table_after(page, "<h3>Quoting (share of bars)</h3>")
    columns = ["quoting_both", "quoting_one_side", "quoting_none", "clamped", "clamped_share"]
    assert head[: len(columns) + 1] == ["symbol", *columns]
    by_symbol = {r[0]: r[1 : len(columns) + 1] for r in rows}
    summary = {r["symbol"]: r for r in result.summary.iter_rows(named=True)}
    assert set(by_symbol) == {"BTCUSDT", "ETHUSDT", "TOTAL"}
    for symbol, cells in by_symbol.items():
        assert cells == [format_value(c, summary[symbol][c]) for c in columns], symbol
    n = bars["ts"].n_unique()
    assert summary["BTCUSDT"]["quoting_both"] == 1.0 and summary["BTCUSDT"]["clamped"] == n
    assert summary["ETHUSDT"]["quoting_one_side"] == 1.0 and summary["ETHUSDT"]["clamped"] == 0
    assert by_symbol["BTCUSDT"][:3] == ["100.00%", "0.00%", "0.00%"]
    assert by_symbol["ETHUSDT"][:3] == ["0.00%", "100.00%", "0.00%"]
