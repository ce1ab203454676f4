"""The report: one self-contained HTML file per run (or comparison) that opens offline.

The page inlines the Vega, Vega-Lite and Vega-Embed JavaScript bundled with vl-convert-python,
every chart's spec and data, the metric tables, the resolved configuration, data provenance and
the mmsim version; its Content-Security-Policy forbids fetching anything from the network.
Script errors are caught by a window.onerror hook and written into the page (#mmsim-errors),
and once every chart has rendered, <body data-charts-rendered="N"> says so: a browser test (or a
person) can check both. Charts are also exported as PNG with vl-convert. Files are written to a
temporary name and renamed into place, so a half-written report never exists.
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mmsim._version import __version__
from mmsim.atomic import atomic_write
from mmsim.results._altair import alt
from mmsim.results.charts import MAX_FILLS, MAX_POINTS, comparison_chart, report_charts
from mmsim.results.formats import FEE_NOTE, display_frame, format_value
from mmsim.results.metrics import (
    COMPARE_COLUMNS,
    DEFINITIONS,
    TOTAL,
    compare,
    compute_metrics,
    summary_of,
)

if TYPE_CHECKING:
    from mmsim.results.metrics import Metrics
    from mmsim.results.result import Result

PNG_SCALE = 2.0
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1180px;
padding:16px 28px;color:#222}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 14px;font-variant-numeric:tabular-nums;font-size:12px}
th,td{padding:3px 6px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6;vertical-align:bottom;font-weight:600}td{white-space:nowrap}
td:first-child,th:first-child{text-align:left}.meta{color:#555}.halt{color:#b00020;font-weight:600}
figure{margin:10px 0 18px}pre{background:#f7f7f7;padding:10px;overflow:auto;font-size:12px}
#mmsim-errors{color:#b00020;background:none;padding:0}#mmsim-errors:empty{display:none}
.scroll{overflow-x:auto}dl{display:grid;grid-template-columns:max-content auto;gap:3px 14px}
dt{font-weight:600}dd{margin:0}
"""


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega + Vega-Lite + Vega-Embed as one script, from the vl-convert-python package (offline)."""
    import vl_convert

    return vl_convert.javascript_bundle()


def _versions() -> dict[str, str]:
    import vl_convert

    return {
        "mmsim": __version__,
        "python": platform.python_version(),
        "polars": pl.__version__,
        "altair": alt.__version__,
        "vega-lite": alt.VEGALITE_VERSION,
        "vega": vl_convert.get_vega_version(),
        "vega-embed": vl_convert.get_vega_embed_version(),
    }


# --- formatting ------------------------------------------------------------------------------


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return html.escape(format_value(column, value))


def _header(column: str) -> str:
    # long metric names may break after an underscore, so wide tables fit the page
    return "_<wbr>".join(html.escape(part) for part in column.split("_"))


def table_html(frame: pl.DataFrame, *, max_rows: int = 500) -> str:
    """An HTML table of a Polars frame (numbers formatted by kind, fees as they add to PnL,
    text escaped, long frames cut)."""
    frame = display_frame(frame)
    head = "".join(f"<th>{_header(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.head(max_rows).iter_rows():
        rows.append(
            "<tr>"
            + "".join(f"<td>{_cell(c, v)}</td>" for c, v in zip(frame.columns, row, strict=True))
            + "</tr>"
        )
    more = (
        f'<p class="meta">first {max_rows:,} of {frame.height:,} rows shown</p>'
        if frame.height > max_rows
        else ""
    )
    if frame.height == 0:
        return '<p class="meta">none</p>'
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
        f"</tbody></table></div>{more}"
    )


def _side_names(frame: pl.DataFrame) -> pl.DataFrame:
    if "side" not in frame.columns:
        return frame
    return frame.with_columns(
        pl.when(pl.col("side") > 0).then(pl.lit("buy")).otherwise(pl.lit("sell")).alias("side")
    )


def _markouts_wide(markouts: pl.DataFrame) -> pl.DataFrame:
    if markouts.height == 0:
        return markouts
    wide = _side_names(markouts).pivot(
        on="horizon", index=["symbol", "side"], values="markout_bps", sort_columns=False
    )
    return wide.rename({c: f"{c} bars (bps)" for c in wide.columns if c not in ("symbol", "side")})


_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _json_script(element_id: str, value: Any) -> str:
    # no '<', '>' or '&' at all: '<!--' and '<script' change how a script element is parsed
    text = json.dumps(value, separators=(",", ":"), allow_nan=False).translate(_SCRIPT_SAFE)
    return f'<script type="application/json" id="{element_id}">{text}</script>'


# --- the page --------------------------------------------------------------------------------

_HOOK = """<pre id="mmsim-errors"></pre>
<script>
window.mmsimError = function (message) {
  var box = document.getElementById("mmsim-errors");
  box.textContent += message + "\\n";
  document.body.setAttribute("data-errors", String(box.textContent.trim().split("\\n").length));
};
window.onerror = function (message, source, line, column) {
  window.mmsimError("script error: " + message + " (" + source + ":" + line + ":" + column + ")");
};
window.addEventListener("unhandledrejection", function (event) {
  window.mmsimError("unhandled rejection: " + event.reason);
});
</script>"""

_RENDER = """<script>
(function () {
  var figures = document.querySelectorAll("div.mmsim-chart");
  var done = 0;
  var jobs = Array.prototype.map.call(figures, function (div) {
    var spec = JSON.parse(document.getElementById(div.id + "-spec").textContent);
    var options = {renderer: "svg",
                   actions: {export: true, source: false, compiled: false, editor: false}};
    return vegaEmbed("#" + div.id, spec, options).then(function (out) {
      return out.view.runAsync();
    }).then(function () { done += 1; }).catch(function (error) {
      window.mmsimError("chart " + div.id + ": " + error);
    });
  });
  Promise.all(jobs).then(function () {
    // tables wider than the page scroll sideways; count them so a check can tell
    var wide = Array.prototype.filter.call(document.querySelectorAll("div.scroll"),
      function (box) { return box.scrollWidth > box.clientWidth + 1; });
    document.body.setAttribute("data-wide-tables", String(wide.length));
    document.body.setAttribute("data-charts-rendered", String(done));
  });
})();
</script>"""


def _page(title: str, body: str, specs: Mapping[str, dict]) -> str:
    scripts = "\n".join(_json_script(f"{cid}-spec", spec) for cid, spec in specs.items())
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f'<body data-charts="{len(specs)}">\n{_HOOK}\n{body}\n{scripts}\n'
        f"<script>\n{vega_bundle()}\n</script>\n{_RENDER}\n</body>\n</html>\n"
    )


def _figure(cid: str, name: str) -> str:
    name = html.escape(name)
    return f'<figure><div class="mmsim-chart" id="{cid}" data-name="{name}"></div></figure>'


def _spec(chart: alt.TopLevelMixin) -> dict:
    return chart.to_dict()


def _definitions() -> str:
    items = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in DEFINITIONS.items()
    )
    return f"<details><summary>Metric definitions</summary><dl>{items}</dl></details>"


def _provenance(config: Mapping[str, Any]) -> str:
    bars = config.get("bars", {})
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    facts = {
        "symbols": ", ".join(config.get("symbols", [])),
        "bar interval": f"{int(config.get('interval_us', 0)) / 60e6:g} min",
        "bars (symbol-bars)": f"{bars.get('rows', '?'):,}"
        if isinstance(bars.get("rows"), int)
        else "?",
        "first bar (open, UTC)": bars.get("start", "?"),
        "last bar (open, UTC)": bars.get("end", "?"),
    }
    if data.get("path"):
        facts["data path"] = data["path"]
        if data.get("options"):
            facts["data options"] = json.dumps(data["options"], default=str)
    elif data.get("synthetic") is not None:
        facts["data"] = "synthetic: " + json.dumps(data["synthetic"], default=str)
    if "funding" in data:
        facts["funding"] = (
            "from the data's funding_rate column"
            if data["funding"]
            else "none: the data has no funding_rate column (spot data run as a perpetual)"
        )
    if data.get("fingerprint"):
        facts["bars fingerprint (sha256)"] = data["fingerprint"]
    run = config.get("run") if isinstance(config.get("run"), Mapping) else {}
    if run.get("source"):
        facts["run from"] = run["source"]
    versions = config.get("versions") or _versions()
    facts.update({f"{k} version": v for k, v in versions.items()})
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    toml = run.get("toml")
    text = (
        f"<h3>The configuration file as written</h3><pre>{html.escape(toml)}</pre>" if toml else ""
    )
    return f'<div class="scroll"><table><tbody>{rows}</tbody></table></div>{text}'


def strategy_title(config: Mapping[str, Any]) -> str:
    """'avellaneda_stoikov on BTCUSDT, fixed_spread on ETHUSDT' (one name when all share it)."""
    chosen = config.get("strategies") or {}
    names = {s: (v.get("name") if isinstance(v, Mapping) else str(v)) for s, v in chosen.items()}
    if not names:
        return ", ".join(config.get("symbols", []))
    if len(set(names.values())) == 1:
        return f"{next(iter(names.values()))} on {', '.join(names)}"
    return ", ".join(f"{n} on {s}" for s, n in names.items())


def risk_limits(result: Result, metrics: Metrics) -> pl.DataFrame:
    """Each risk limit the run set beside the extreme the run reached (empty when unrecorded).

    Leverage caps are checked when orders are placed, so leverage can end above its cap as
    prices move or fills land; the note says so where it happens.
    """
    settings = result.config.get("risk_settings") or {}
    eq = result.equity
    cash = float(result.config["initial_cash"])
    rows = []
    total = metrics.risk.filter(pl.col("symbol") == TOTAL)
    per_symbol = metrics.risk.filter(pl.col("symbol") != TOTAL)

    def add(rule, limit, reached, unit, note=""):
        rows.append(
            {"rule": rule, "limit": limit, "max reached": reached, "unit": unit, "note": note}
        )

    placement = "caps are checked when orders are placed; price moves and fills can exceed them"
    lev = settings.get("max_leverage")
    if lev is not None and total.height:
        top = float(total["max_leverage"][0] or 0.0)
        add("max_leverage", lev, top, "x", placement if top > lev else "")
    sym = settings.get("max_symbol_leverage")
    if sym is not None and per_symbol.height:
        top = float(per_symbol["max_leverage"].max() or 0.0)
        add("max_symbol_leverage", sym, top, "x", placement if top > sym else "")
    if settings.get("emergency_leverage") is not None and total.height:
        add(
            "emergency_leverage",
            settings["emergency_leverage"],
            float(total["max_leverage"][0] or 0.0),
            "x",
        )
    if settings.get("emergency_margin_ratio") is not None and eq.height:
        add(
            "emergency_margin_ratio",
            settings["emergency_margin_ratio"],
            float(eq["margin_ratio"].max()),
            "fraction",
        )
    if settings.get("emergency_drawdown") is not None:
        add(
            "emergency_drawdown",
            settings["emergency_drawdown"],
            float(metrics.performance.filter(pl.col("symbol") == TOTAL)["max_drawdown"][0]),
            "fraction of peak equity",
        )
    if settings.get("stop_equity_fraction") is not None and eq.height:
        add(
            "stop_equity_fraction (lowest equity / initial cash)",
            settings["stop_equity_fraction"],
            float(eq["equity"].min()) / cash,
            "fraction",
            "the lowest equity reached, against the floor",
        )
    if settings.get("min_order_value"):
        add("min_order_value", settings["min_order_value"], None, "USDT", "per order")
    schema = {
        "rule": pl.String,
        "limit": pl.Float64,
        "max reached": pl.Float64,
        "unit": pl.String,
        "note": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _funding_note(config: Mapping[str, Any]) -> str:
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    if data.get("funding") is False:
        return (
            '<p class="meta" id="funding-note">No funding: the data has no funding_rate column '
            "(spot data), so it ran as a perpetual without funding payments.</p>"
        )
    return ""


def _limits_html(limits: pl.DataFrame) -> str:
    if limits.height == 0:
        return ""
    rows = []
    for row in limits.iter_rows(named=True):
        fmt = "max_drawdown" if "fraction" in row["unit"] else "max_leverage"
        over = row["max reached"] is not None and row["max reached"] > row["limit"]
        over = over and not row["rule"].startswith("stop_equity")
        cells = [
            html.escape(row["rule"]),
            _cell(fmt, row["limit"]),
            f'<span class="halt">{_cell(fmt, row["max reached"])}</span>'
            if over
            else _cell(fmt, row["max reached"]),
            html.escape(row["unit"]),
            html.escape(row["note"]),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("rule", "limit", "max reached", "unit", "note"))
    return (
        '<h3>Risk limits and the extremes reached</h3><div class="scroll" id="risk-limits">'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


_QUOTING = (
    "symbol",
    "quoting_both",
    "quoting_one_side",
    "quoting_none",
    "clamped",
    "clamped_share",
)

_SECTIONS = (
    ("Price, quotes and fills", "price_"),
    ("Equity, PnL per symbol and drawdown", ("equity", "pnl_per_symbol", "drawdown")),
    ("PnL attribution", ("attribution",)),
    ("Inventory and risk", ("inventory", "leverage", "margin_ratio")),
    ("Adverse selection and fill rates", ("markouts", "fill_rates")),
)


def render_report(
    result: Result,
    *,
    title: str | None = None,
    metrics: Metrics | None = None,
    charts: Mapping[str, alt.TopLevelMixin] | None = None,
    max_points: int = MAX_POINTS,
    max_fills: int = MAX_FILLS,
) -> str:
    """The report of one run as an HTML string (self-contained, offline)."""
    metrics = metrics or compute_metrics(result)
    charts = (
        charts
        if charts is not None
        else report_charts(result, metrics, max_points=max_points, max_fills=max_fills)
    )
    config = result.config
    set_name = f" (set {config['set']})" if config.get("set") else ""
    title = title or f"mmsim report: {strategy_title(config)}{set_name}"
    ids = {name: f"chart-{k}" for k, name in enumerate(charts)}
    specs = {ids[name]: _spec(chart) for name, chart in charts.items()}
    summary = metrics.summary
    eq = result.equity
    halted = config.get("halted")
    start = float(config["initial_cash"])
    end = float(eq["equity"][-1]) if eq.height else start
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">equity {start:,.2f} &rarr; {end:,.2f} USDT over {eq.height:,} bars '
        f"({html.escape(str(config.get('bars', {}).get('start', '')))} to "
        f"{html.escape(str(config.get('bars', {}).get('end', '')))} UTC); "
        f"mmsim {html.escape(_versions()['mmsim'])}</p>",
        f'<p class="halt">halted: {html.escape(str(halted))}</p>' if halted else "",
        _funding_note(config),
        "<h2>Summary</h2>",
        f'<p class="meta">{html.escape(FEE_NOTE)}</p>',
        table_html(
            summary.select(
                "symbol",
                "pnl",
                "return",
                "annual_return",
                "sharpe",
                "sortino",
                "max_drawdown",
                "max_drawdown_days",
                "calmar",
                "fills",
                "volume",
                "fees",
                "funding",
                "final_position",
            )
        ),
        "<h3>Quoting (share of bars)</h3>",
        table_html(metrics.trading.select(*_QUOTING, "rejected")),
        _definitions(),
    ]
    used = set()
    for heading, names in _SECTIONS:
        chosen = [
            n for n in charts if (n.startswith(names) if isinstance(names, str) else n in names)
        ]
        if not chosen:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.extend(_figure(ids[n], n) for n in chosen)
        used.update(chosen)
        if heading == "PnL attribution":
            parts.append(table_html(metrics.attribution))
        if heading == "Adverse selection and fill rates":
            parts += [
                "<h3>Markouts (mean, bps)</h3>",
                table_html(_markouts_wide(metrics.markouts)),
                "<h3>Fill rates</h3>",
                table_html(_side_names(metrics.fill_rates)),
            ]
    others = [n for n in charts if n not in used]
    if others:
        parts.append("<h2>More charts</h2>")
        parts.extend(_figure(ids[n], n) for n in others)
    parts += [
        "<h2>Performance</h2>",
        table_html(metrics.performance),
        "<h2>Trading</h2>",
        # the quoting shares have their own table under the summary
        table_html(metrics.trading.drop(*_QUOTING[1:], "time_quoting")),
        "<h3>Rejected quotes by reason</h3>",
        table_html(metrics.rejections),
        "<h2>Risk</h2>",
        _limits_html(risk_limits(result, metrics)),
        table_html(metrics.risk),
        "<h3>Emergency exits, early stops and liquidations</h3>",
        table_html(metrics.events, max_rows=200),
        "<h2>Configuration (resolved)</h2>",
        f"<pre>{html.escape(json.dumps(config, indent=2, default=str))}</pre>",
        "<h2>Data and provenance</h2>",
        _provenance(config),
    ]
    return _page(title, "\n".join(p for p in parts if p), specs)


def _write_atomic(path: Path, data: bytes) -> Path:
    with atomic_write(path) as f:
        f.write(data)
    return path


def safe_file_name(name: str) -> str:
    """`name` as one plain file name: anything but letters, digits, '.', '_', '-' becomes '_'."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"


def save_pngs(
    charts: Mapping[str, alt.TopLevelMixin], folder: str | os.PathLike, *, scale: float = PNG_SCALE
) -> list[Path]:
    """Each chart as folder/NAME.png (vl-convert, no browser needed); returns the paths."""
    import vl_convert

    out = []
    for name, chart in charts.items():
        png = vl_convert.vegalite_to_png(_spec(chart), scale=scale)
        out.append(_write_atomic(Path(folder) / f"{safe_file_name(name)}.png", png))
    return out


def write_report(
    result: Result,
    path: str | os.PathLike,
    *,
    png_dir: str | os.PathLike | None = None,
    title: str | None = None,
    max_points: int = MAX_POINTS,
    max_fills: int = MAX_FILLS,
) -> Path:
    """Write the run's HTML report to `path` (atomically) and, with png_dir, each chart as PNG."""
    metrics = compute_metrics(result)
    charts = report_charts(result, metrics, max_points=max_points, max_fills=max_fills)
    page = render_report(result, title=title, metrics=metrics, charts=charts)
    target = _write_atomic(Path(path), page.encode("utf-8"))
    if png_dir is not None:
        save_pngs(charts, png_dir)
    return target


def render_comparison(results: Mapping[str, Result], *, title: str | None = None) -> str:
    """One HTML page comparing several runs (strategy sets) side by side."""
    if not results:
        raise ValueError("render_comparison needs at least one result")
    title = title or f"mmsim comparison: {', '.join(map(str, results))}"
    warnings = "".join(
        f'<p class="halt">warning: {html.escape(w)}</p>' for w in period_warnings(results)
    )
    table = compare(results)
    chart = comparison_chart(results)
    per_symbol = pl.concat(
        [
            summary_of(r)
            .filter(pl.col("symbol") != TOTAL)
            .select(
                pl.lit(str(name)).alias("name"),
                "symbol",
                "pnl",
                "return",
                "sharpe",
                "max_drawdown",
                "spread_capture",
                "inventory_pnl",
                "fills",
                "fill_rate",
                "markout_1_bps",
            )
            for name, r in results.items()
        ],
        how="diagonal_relaxed",
    )
    configs = "".join(
        f"<details><summary>{html.escape(str(name))}</summary><pre>"
        f"{html.escape(json.dumps(r.config, indent=2, default=str))}</pre></details>"
        for name, r in results.items()
    )
    body = "\n".join(
        [
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">{len(results)} runs; mmsim {html.escape(_versions()["mmsim"])}</p>',
            warnings,
            _figure("chart-0", "comparison"),
            "<h2>Totals per strategy set</h2>",
            table_html(table.select("name", *[c for c in COMPARE_COLUMNS if c in table.columns])),
            "<h2>Per symbol</h2>",
            table_html(per_symbol),
            _definitions(),
            "<h2>Configurations (resolved)</h2>",
            configs,
            "<h2>Provenance</h2>",
            _provenance(next(iter(results.values())).config),
        ]
    )
    return _page(title, body, {"chart-0": _spec(chart)})


def period_warnings(results: Mapping[str, Result]) -> list[str]:
    """What differs between runs compared side by side: their periods and bar counts."""
    spans = {
        name: (
            str(r.config.get("bars", {}).get("start")),
            str(r.config.get("bars", {}).get("end")),
            r.equity.height,
        )
        for name, r in results.items()
    }
    if len(set(spans.values())) <= 1:
        return []
    listing = "; ".join(f"{n}: {a} to {b}, {k:,} bars" for n, (a, b, k) in spans.items())
    return [f"the runs cover different periods or bar counts ({listing}); compare with care"]


def write_comparison(
    results: Mapping[str, Result], path: str | os.PathLike, *, png: str | os.PathLike | None = None
) -> Path:
    """Write the comparison page to `path` (atomically) and, with png, its chart as a PNG file."""
    target = _write_atomic(Path(path), render_comparison(results).encode("utf-8"))
    if png is not None:
        import vl_convert

        _write_atomic(
            Path(png), vl_convert.vegalite_to_png(_spec(comparison_chart(results)), scale=PNG_SCALE)
        )
    return target


__all__ = [
    "period_warnings",
    "render_comparison",
    "risk_limits",
    "strategy_title",
    "render_report",
    "save_pngs",
    "table_html",
    "vega_bundle",
    "write_comparison",
    "write_report",
]
