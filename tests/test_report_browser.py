"""The report in a real headless browser (Debian's chromium): every chart renders, no script error.

The browser runs with its network pointed at a closed local port, so a report that needed
anything from the network would fail here. CI installs chromium (.ci/run); elsewhere the test is
skipped when chromium is missing, and fails instead when CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

import mmsim

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI installs it in .ci/run)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    return CHROMIUM


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets the async rendering finish)."""
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",  # no network at all
            "--virtual-time-budget=60000",
            "--window-size=1280,1000",  # a laptop screen: wide tables must fit it
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class _Charts(HTMLParser):
    """Per chart container (div.mmsim-chart): how many Vega SVG scenes it holds."""

    def __init__(self):
        super().__init__()
        self.svgs: dict[str, int] = {}
        self.errors = ""
        self._stack: list[str | None] = []
        self._in_errors = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div":
            self._stack.append(a.get("id") if "mmsim-chart" in (a.get("class") or "") else None)
            if self._stack[-1]:
                self.svgs.setdefault(self._stack[-1], 0)
        if tag == "svg" and "marks" in (a.get("class") or ""):
            owner = next((x for x in reversed(self._stack) if x), None)
            if owner:
                self.svgs[owner] += 1
        self._in_errors = tag == "pre" and a.get("id") == "mmsim-errors"

    def handle_endtag(self, tag):
        if tag == "div" and self._stack:
            self._stack.pop()
        if tag == "pre":
            self._in_errors = False

    def handle_data(self, data):
        if self._in_errors:
            self.errors += data


def _check(dom: str) -> tuple[int, int, _Charts]:
    expected = int(re.search(r'data-charts="(\d+)"', dom).group(1))
    rendered = re.search(r'data-charts-rendered="(\d+)"', dom)
    parser = _Charts()
    parser.feed(dom)
    return expected, int(rendered.group(1)) if rendered else -1, parser


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=1, interval="1m", seed=4)
    result = mmsim.backtest(
        bars,
        {
            "BTCUSDT": mmsim.avellaneda_stoikov(
                gamma=0.0005, kappa=0.5, order_value=2_000.0, max_inventory=5
            ),
            "ETHUSDT": mmsim.fixed_spread(half_spread_bps=5, order_value=2_000.0),
        },
        risk=mmsim.basic_risk(max_leverage=3.0, emergency_drawdown=0.004),
        venue=mmsim.Venue(maker_fee=0.0002, taker_fee=0.0005),
    )
    return result.report(tmp_path_factory.mktemp("report") / "report.html")


def test_every_chart_of_the_report_renders_without_a_script_error(browser, report, tmp_path):
    dom = dump_dom(browser, report, tmp_path / "profile")
    expected, rendered, charts = _check(dom)
    assert charts.errors.strip() == ""
    assert expected == 11 and rendered == expected
    assert len(charts.svgs) == expected
    assert all(n >= 1 for n in charts.svgs.values()), charts.svgs


def test_the_check_catches_a_broken_chart_and_a_script_error(browser, report, tmp_path):
    """An invalid spec and an exception thrown by a script both show up: the check can fail."""
    page = report.read_text()
    start = page.index('id="chart-0-spec">') + len('id="chart-0-spec">')
    broken = page[:start] + page[start:].replace('"type":"line"', '"type":"no-such-mark"', 1)
    head, _, tail = broken.rpartition("</body>")  # the last one: the JS bundle holds the string too
    broken = head + "<script>throw new Error('boom');</script></body>" + tail
    bad = tmp_path / "broken.html"
    bad.write_text(broken)
    expected, rendered, charts = _check(dump_dom(browser, bad, tmp_path / "profile"))
    assert rendered == expected - 1
    assert "chart-0" in charts.errors and "boom" in charts.errors


def test_a_run_that_never_traded_still_renders_every_chart(browser, tmp_path):
    from mmsim.core.orders import NO_QUOTES

    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, interval="1m", seed=1)
    result = mmsim.backtest(bars, mmsim.stateless("silent", lambda inputs: NO_QUOTES))
    assert result.fills.height == 0
    page = result.report(tmp_path / "silent.html")
    expected, rendered, charts = _check(dump_dom(browser, page, tmp_path / "profile"))
    assert charts.errors.strip() == ""
    assert rendered == expected == len(charts.svgs) == 10
    assert all(n >= 1 for n in charts.svgs.values()), charts.svgs


def test_markup_in_names_does_not_break_the_report(browser, tmp_path):
    """A symbol and a strategy named '<!--<script>' (an edited results folder): still renders."""
    from test_hostile import PAYLOAD, doctored

    page = doctored(PAYLOAD, name=PAYLOAD).report(tmp_path / "report.html")
    expected, rendered, charts = _check(dump_dom(browser, page, tmp_path / "profile"))
    assert charts.errors.strip() == ""
    assert expected >= 9 and rendered == expected == len(charts.svgs)
    assert all(n >= 1 for n in charts.svgs.values()), charts.svgs


def _recorded_run(**options):
    """A run through the config path, so its config records data, risk settings and versions."""
    from mmsim.research.config import options_document, parse_config, run_config

    doc = options_document(
        synthetic={"symbols": ["BTCUSDT", "ETHUSDT"], "days": 1, "seed": 4, "interval": "1m"},
        **options,
    )
    return run_config(parse_config(doc, source="mmsim run"))


def test_the_report_names_its_strategies_states_limits_and_fits_the_page(browser, tmp_path):
    result = _recorded_run(
        strategy="avellaneda_stoikov",
        params={"gamma": 0.0005, "order_value": 20_000.0},
        risk={"max_leverage": 0.5, "max_symbol_leverage": 0.3, "emergency_drawdown": 0.05},
    )
    page = result.report(tmp_path / "report.html")
    dom = dump_dom(browser, page, tmp_path / "profile")
    expected, rendered, charts = _check(dom)
    assert charts.errors.strip() == "" and rendered == expected
    assert "<title>mmsim report: avellaneda_stoikov on BTCUSDT, ETHUSDT</title>" in dom
    assert 'data-wide-tables="0"' in dom  # every table fits the page width
    assert 'data-name="pnl_per_symbol"' in dom
    assert charts.svgs[re.search(r'id="(chart-\d+)" data-name="pnl_per_symbol"', dom)[1]] >= 1
    limits = dom[dom.index('id="risk-limits"') :].split("</table>")[0]
    assert "max_leverage" in limits and "0.50" in limits and "emergency_drawdown" in limits
    reached = float(result.equity["leverage"].max())
    assert f"{reached:,.2f}" in limits
    # this run ends above its cap (caps act at placement, prices move after): the page says so
    assert reached > 0.5 and "checked when orders are placed" in limits
    # the note on funding appears exactly when the data had no funding_rate column
    assert ('id="funding-note"' in dom) is (result.config["data"]["funding"] is False)
    assert "fees as they add to PnL" in dom


def test_a_quote_far_off_the_mark_keeps_the_price_readable(browser, tmp_path):
    import attrs
    import polars as pl

    from mmsim.results.charts import price_chart

    result = _recorded_run(strategy="fixed_spread")
    marks = result.symbols.filter(pl.col("symbol") == "BTCUSDT")["mark"]
    jumped = result.symbols.with_columns(
        pl.when((pl.col("symbol") == "BTCUSDT") & (pl.int_range(pl.len()) == 400))
        .then(pl.col("mark") * 1.15)
        .otherwise(pl.col("ask"))
        .alias("ask")
    )
    result = attrs.evolve(result, symbols=jumped)
    spec = price_chart(result, "BTCUSDT").to_dict()
    scale = spec["layer"][0]["encoding"]["y"]["scale"]
    low, high = scale["domain"]
    assert scale["clamp"] is True
    assert high < float(marks.max()) * 1.05 and low > float(marks.min()) * 0.95
    page = result.report(tmp_path / "jump.html")
    dom = dump_dom(browser, page, tmp_path / "profile")
    expected, rendered, charts = _check(dom)
    assert charts.errors.strip() == "" and rendered == expected
    assert "1 quotes beyond the price range drawn at the chart" in dom


def test_the_comparison_page_warns_on_different_periods_and_gives_each_run_its_length(
    browser, tmp_path
):
    from mmsim.results.report import write_comparison

    bars = mmsim.synthetic_bars(("BTCUSDT",), days=1, interval="1m", seed=2)
    short = bars.head(720)
    runs = {
        name: mmsim.backtest(frame, mmsim.fixed_spread(half_spread_bps=5))
        for name, frame in (("day", bars), ("half", short))
    }
    page = write_comparison(runs, tmp_path / "compare.html")
    dom = dump_dom(browser, page, tmp_path / "profile")
    expected, rendered, charts = _check(dom)
    assert charts.errors.strip() == "" and rendered == expected == 1
    assert "different periods or bar counts" in dom and "720 bars" in dom
    # each run's own length in the chart's subtitle, drawn in the SVG
    drawn = re.sub(r"<[^>]+>", "", dom[dom.index("<svg") :])
    assert "day: 1,440 bars of 1 min" in drawn
    assert "half: 720 bars of 1 min, not aggregated" in drawn
