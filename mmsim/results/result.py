"""A backtest's result: Polars frames built after the fold, and a folder written atomically.

fills:      ts, symbol, side (+1 buy / -1 sell), price, qty, fee, liquidity, reason, level,
            bars_waited (a market order's bars of delay: 0 when it executed at the open of the
            bar right after the close it was sent at, k when its symbol missed k bars first;
            0 for maker fills and liquidations)
equity:     one row per bar (state at its close): ts, wallet, equity, unrealized, notional,
            leverage, margin_ratio, fees, funding, realized (running totals, USDT), halted
symbols:    one row per bar and symbol: ts, symbol, position, entry_price, mark, unrealized,
            notional, leverage, realized, fees, funding (running, USDT), bid, ask, bid_qty,
            ask_qty (the best quotes posted at that close, resting during the next bar),
            reservation_price, orders (posted), rejected (refused at that close), clamped
            (posted orders that placement moved behind the close, Venue.post_only="clamp")
rejections: ts, symbol, side, level, price, qty, reason
events:     ts, event (emergency exits, early stop, liquidation)
posted:     symbol, side, level, orders, qty: limit orders posted over the run that then rested
            during a bar (the last bar's orders never meet one, nor those before a hole in time),
            the denominators of fill rates

A saved folder also holds config.json, summary.json, report.html (self-contained, offline) and
charts/*.png; `load_result` reads the frames and config back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.atomic import MARKER, IncompleteResultsError, atomic_dir, read_marker
from mmsim.core.frozen import freeze
from mmsim.results import report as html_report
from mmsim.results.metrics import compute_metrics
from mmsim.results.schema import FRAMES, POSTED_SCHEMA

REPLACES = ("run", "comparison")  # what saving a run may replace (`mmsim run` writes either)


Lazy = pl.DataFrame | Callable[[], pl.DataFrame]


def _no_posted() -> pl.DataFrame:
    return pl.DataFrame(schema=POSTED_SCHEMA)


@attrs.frozen(slots=True, eq=False, repr=False)
class Result:
    """The frames of one run and its resolved configuration (immutable).

    `equity`, `symbols` and `summary` may be built when first read: a fast run whose per-bar
    frames nobody reads holds only the kernel's tables (a few numbers a symbol-bar)."""

    fills: pl.DataFrame
    # the per-bar frames and the summary: each a frame, or a picklable zero-argument callable
    # building it on first read from the engine's records
    _equity: Lazy = attrs.field(alias="equity")
    _symbols: Lazy = attrs.field(alias="symbols")
    rejections: pl.DataFrame
    events: pl.DataFrame
    _summary: Lazy = attrs.field(alias="summary")
    config: dict[str, Any] = attrs.field(converter=freeze)  # read-only, JSON and pickle as dicts
    posted: pl.DataFrame = attrs.field(factory=_no_posted, kw_only=True)

    def __repr__(self) -> str:
        """What the run was, in one line (the frames are a read away; none is built here)."""
        config = self.config
        bars = config.get("bars") or {}
        engine = config.get("engine") or {}
        return (
            f"Result(symbols={list(config.get('symbols', []))}, "
            f"symbol_bars={bars.get('rows')}, fills={self.fills.height}, "
            f"engine={engine.get('name')!r}, halted={self.halted!r})"
        )

    def _built(self, field: str) -> pl.DataFrame:
        frame = getattr(self, field)
        if not isinstance(frame, pl.DataFrame):
            # the same frame every time: a cache, not a change of value
            frame = frame()
            object.__setattr__(self, field, frame)
        return frame

    @property
    def equity(self) -> pl.DataFrame:
        """One row per bar: the account at its close (built on first read)."""
        return self._built("_equity")

    @property
    def symbols(self) -> pl.DataFrame:
        """One row per bar and symbol (built on first read)."""
        return self._built("_symbols")

    @property
    def summary(self) -> pl.DataFrame:
        """One row per symbol and TOTAL (see `mmsim.results.metrics.summarize`), computed once
        on first read: runs whose summary nobody reads skip it."""
        return self._built("_summary")

    @property
    def halted(self) -> str | None:
        """Why the run stopped trading early, or None."""
        return self.config.get("halted")

    @property
    def final_equity(self) -> float:
        return float(self.equity["equity"][-1])

    def metrics(self, *, horizons: tuple[int, ...] = (1, 5, 15, 60)):
        """Every metric table of this run (see `mmsim.results.metrics.compute_metrics`)."""
        return compute_metrics(self, horizons=horizons)

    def report(
        self,
        path: str | os.PathLike,
        *,
        png_dir: str | os.PathLike | None = None,
        title: str | None = None,
    ) -> Path:
        """Write the self-contained offline HTML report to `path` (and PNG charts to `png_dir`)
        (`mmsim.results.report.write_report`)."""
        return html_report.write_report(self, path, png_dir=png_dir, title=title)

    def save(
        self, path: str | os.PathLike, *, overwrite: bool = False, report: bool = True
    ) -> Path:
        """Write every frame as Parquet, config.json, summary.json, report.html and charts/*.png.

        The folder is written beside its destination under a temporary name and renamed into
        place only when complete, so an interrupted save never leaves a folder that looks whole.
        overwrite=True replaces only a run's or a comparison's folder that mmsim wrote.
        report=False skips report.html and the PNG charts (the slow part of a save).
        """
        with atomic_dir(path, overwrite=overwrite, replaces=REPLACES) as tmp:
            for name in FRAMES:
                getattr(self, name).write_parquet(tmp / f"{name}.parquet")
            (tmp / "config.json").write_text(json.dumps(self.config, indent=2, default=str))
            (tmp / "summary.json").write_text(
                json.dumps(self.summary.to_dicts(), indent=2, default=str)
            )
            if report:
                html_report.write_report(self, tmp / "report.html", png_dir=tmp / "charts")
        return Path(path)


def load_result(path: str | os.PathLike) -> Result:
    """Read a folder written by `Result.save`; refuses one whose write did not complete."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not an mmsim results folder: no such folder")
    marker = read_marker(folder)
    if marker is None:
        raise IncompleteResultsError(
            f"{folder} is not a complete mmsim results folder: it has no {MARKER}, which mmsim "
            "writes last (the write was interrupted, or mmsim did not write it)"
        )
    if marker.get("kind") != "run":
        raise IncompleteResultsError(
            f"{folder} holds mmsim's {marker.get('kind')} results, not one run's"
            + (
                "; load one of its sets, e.g. FOLDER/<set>"
                if marker.get("kind") == "comparison"
                else ""
            )
        )
    frames = {
        name: pl.read_parquet(folder / f"{name}.parquet")
        for name in FRAMES
        if name != "posted" or (folder / "posted.parquet").is_file()  # absent in older folders
    }
    return Result(**frames, config=json.loads((folder / "config.json").read_text()))
