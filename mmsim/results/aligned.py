"""A run's symbols and fills frames lined up once, for the metrics computed over them.

Each symbol's bars are made contiguous and in time order (rows ordered by symbol, then ts) and
coded by a small integer `sid` (symbols numbered in order of first appearance); each fill gets
the row of its bar and that bar's mark. Attribution, trading figures and markouts all read this
one alignment, so a summary matches fills to bars once, by binary search on sorted integer keys,
instead of one hash join on (ts, symbol) per table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import polars as pl

from mmsim.results.schema import FILL_SCHEMA, in_frames

SID = pl.UInt32


@attrs.frozen(slots=True, eq=False)
class Plan:
    """A table as lazy queries and the function turning their collected frames into it, so
    several tables' queries run in one `pl.collect_all` (`run_plans`) instead of one collect
    each (a query has a fixed cost that small tables do not repay).

    A query collected with others gives the same bits as collected alone; an eager
    `DataFrame.select` of the same expression may round the last bit differently (another
    engine), so each figure stays on the side, lazy or eager, its table computes it on."""

    queries: tuple[pl.LazyFrame, ...]
    finish: Callable[[Sequence[pl.DataFrame]], Any]

    def run(self) -> Any:
        """The table, its queries collected on their own."""
        return run_plans(self)[0]


def run_plans(*plans: Plan) -> list[Any]:
    """Each plan's table, every query of every plan collected together."""
    queries = [q for plan in plans for q in plan.queries]
    got = pl.collect_all(queries) if queries else []
    out, at = [], 0
    for plan in plans:
        out.append(plan.finish(got[at : at + len(plan.queries)]))
        at += len(plan.queries)
    return out


@attrs.frozen(slots=True, eq=False)
class Aligned:
    """The symbols frame ordered by symbol then ts, and the fills pointing into it.

    bars: the symbols frame's rows, by symbol (first-appearance order) then ts, plus `sid`
    (sorted) and `first` (True on each symbol's first bar). ends[sid]: the row after that
    symbol's last bar. fills: the fills in booking order, plus `sid`, `row` (their bar's row in
    bars) and `mark` (that bar's mark, USDT).
    """

    names: tuple[str, ...]
    bars: pl.DataFrame
    ends: np.ndarray
    fills: pl.DataFrame

    @property
    def starts(self) -> np.ndarray:
        """The row of each symbol's first bar in `bars`."""
        return np.concatenate([[0], self.ends[:-1]]).astype(np.int64)

    def per_symbol(self, frame: pl.DataFrame | pl.LazyFrame, *aggs: pl.Expr) -> pl.DataFrame:
        """`aggs` over the rows of each symbol of `frame` (bars or fills, with sid): one row per
        symbol in first-appearance order, `symbol` first; null for a symbol without rows."""
        return self.per_symbol_frame(self.per_symbol_query(frame, *aggs).collect())

    def per_symbol_query(self, frame: pl.DataFrame | pl.LazyFrame, *aggs: pl.Expr) -> pl.LazyFrame:
        """The query behind `per_symbol`, to collect together with others; its result goes
        through `per_symbol_frame`."""
        if len(self.names) == 1:  # one group: a plain reduction, null when it has no rows
            return frame.lazy().select(*aggs, pl.len().alias("_rows"))
        # lazily, so only the columns the aggregations read are touched
        return frame.lazy().group_by("sid", maintain_order=True).agg(*aggs)

    def per_symbol_frame(self, got: pl.DataFrame) -> pl.DataFrame:
        """A collected `per_symbol_query` as `per_symbol`'s frame (built from its columns, no
        further query)."""
        symbol = pl.Series("symbol", self.names, dtype=pl.String)
        if len(self.names) == 1:
            got = got if got["_rows"][0] else got.clear(1)
            return pl.DataFrame([symbol, *got.get_columns()[:-1]])
        where: list[int | None] = [None] * len(self.names)
        for at, sid in enumerate(got["sid"].to_list()):
            where[sid] = at
        # one take of the whole frame (a take per column would be a query each)
        taken = got[pl.Series(where, dtype=pl.UInt32)]
        return pl.DataFrame([symbol, *taken.get_columns()[1:]])

    def per_symbol_and_total(
        self, frame: pl.DataFrame | pl.LazyFrame, *aggs: pl.Expr
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(`per_symbol(frame, *aggs)`, `aggs` over every row of `frame`): a lazy frame is
        evaluated once when the run has one symbol and the frame has rows (both figures are then
        the same reduction of the same rows), else both in one collect."""
        if isinstance(frame, pl.DataFrame):
            return self.per_symbol(frame, *aggs), frame.select(*aggs)
        by_symbol = self.per_symbol_query(frame, *aggs)
        if len(self.names) == 1:
            got = by_symbol.collect()
            if got["_rows"][0]:
                return self.per_symbol_frame(got), pl.DataFrame(got.get_columns()[:-1])
            return self.per_symbol_frame(got), frame.select(*aggs).collect()
        got, total = pl.collect_all([by_symbol, frame.select(*aggs)])
        return self.per_symbol_frame(got), total

    def collect_per_symbol_and_total(
        self,
        *tables: tuple[pl.LazyFrame, Sequence[pl.Expr]]
        | tuple[pl.LazyFrame, Sequence[pl.Expr], str],
    ) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
        """`per_symbol_and_total` of several (lazy frame, aggs) tables in one collect_all.

        A table given as (frame, aggs, "symbol") is grouped by its symbol column instead of sid
        (a frame without sid, such as posted orders or rejections; symbols not in the run are
        left out)."""
        return self.per_symbol_and_total_plan(*tables).run()

    def per_symbol_and_total_plan(
        self,
        *tables: tuple[pl.LazyFrame, Sequence[pl.Expr]]
        | tuple[pl.LazyFrame, Sequence[pl.Expr], str],
    ) -> Plan:
        """`collect_per_symbol_and_total` as a Plan, to collect with other tables' queries."""
        one = len(self.names) == 1
        queries: list[pl.LazyFrame] = []
        for frame, aggs, *by in tables:
            if by:
                queries += [frame.group_by(*by, maintain_order=True).agg(*aggs)]
                queries += [frame.select(*aggs)]
            else:
                queries += [self.per_symbol_query(frame, *aggs)]
                queries += [] if one else [frame.select(*aggs)]

        def finish(collected: Sequence[pl.DataFrame]) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
            got = iter(collected)
            out = []
            for frame, aggs, *by in tables:
                if by:
                    out.append((self._by_name(next(got)), next(got)))
                    continue
                by_symbol = next(got)
                if not one:
                    total = next(got)
                elif by_symbol["_rows"][0]:  # the same reduction of the same rows
                    total = pl.DataFrame(by_symbol.get_columns()[:-1])
                else:
                    total = frame.select(*aggs).collect()
                out.append((self.per_symbol_frame(by_symbol), total))
            return out

        return Plan(tuple(queries), finish)

    def _by_name(self, got: pl.DataFrame) -> pl.DataFrame:
        """A frame grouped by `symbol` (first column) as one row per run symbol, in order; null
        for a symbol it lacks."""
        at = {name: i for i, name in enumerate(got.to_series(0).to_list())}
        taken = got[pl.Series([at.get(name) for name in self.names], dtype=pl.UInt32)]
        symbol = pl.Series("symbol", self.names, dtype=pl.String)
        return pl.DataFrame([symbol, *taken.get_columns()[1:]])


def _codes(symbol: pl.Series, names: Sequence[str]) -> pl.Series:
    """sid per row: the position of its symbol in `names` (null for a symbol not in it)."""
    if len(names) == 1:  # the usual single-symbol run: one comparison, no lookup table
        hit = symbol == names[0]
        if hit.null_count() == 0 and hit.all():
            return pl.Series("sid", np.zeros(len(symbol), dtype=np.uint32), dtype=SID)
        hit = pl.when(pl.lit(symbol) == names[0]).then(pl.lit(0, SID))
        return pl.select(hit.alias("sid")).to_series()
    return symbol.cast(pl.Enum(list(names)), strict=False).to_physical().cast(SID).alias("sid")


def stable_order(sid: np.ndarray, n: int) -> np.ndarray:
    """Rows grouped by sid (0 <= sid < n), each group in its original order."""
    small = np.uint8 if n <= 256 else np.uint16 if n <= 65536 else np.uint32
    return np.argsort(sid.astype(small), kind="stable")  # a radix sort for 8 and 16 bits


def _epoch(ts: pl.Series) -> np.ndarray:
    """A datetime column's integers (its own unit) as numpy, without a query."""
    values = ts.to_numpy()
    return values.view(np.int64) if values.dtype.kind == "M" else values.astype(np.int64)


def _sorted(series: pl.Series) -> pl.Series:
    return series.set_sorted() if series.is_sorted() else series


def align(fills: pl.DataFrame | None, symbols: pl.DataFrame) -> Aligned:
    """Line up a run's fills (None: none) with its symbols frame (see `Aligned`).

    Raises ValueError when the symbols frame holds a symbol twice at one ts, or when a fill has
    no bar (or no mark) in it: the frames do not belong to one run.
    """
    if not symbols["ts"].is_sorted():
        symbols = symbols.sort("ts", maintain_order=True)
    symbol = symbols["symbol"]
    if symbols.height and bool((symbol == symbol[0]).all()):  # one symbol: no lookup needed
        names, sid = (symbol[0],), np.zeros(symbols.height, dtype=np.uint32)
    else:
        names = tuple(symbol.unique(maintain_order=True).to_list())
        sid = _codes(symbol, names).to_numpy()
    ts = _epoch(symbols["ts"])
    new_ts = np.ones(len(ts), dtype=bool)
    new_ts[1:] = ts[1:] != ts[:-1]
    bar = np.cumsum(new_ts) - 1  # dense rank of ts
    times = ts[new_ts]
    if len(names) > 1 and not bool((np.diff(sid.astype(np.int64)) >= 0).all()):
        order = stable_order(sid, len(names))  # each symbol keeps its ts order
        symbols, sid, bar = symbols[order], sid[order], bar[order]
    key = sid.astype(np.int64) * max(len(times), 1) + bar
    if len(key) > 1 and not bool((np.diff(key) > 0).all()):
        at = int(np.flatnonzero(np.diff(key) <= 0)[0]) + 1
        raise ValueError(
            f"the symbols frame has two rows for {symbols['symbol'][at]} at "
            f"{symbols['ts'][at]}: the result's frames do not belong together"
        )
    ends = np.searchsorted(sid, np.arange(len(names)), side="right").astype(np.int64)
    first = np.ones(len(sid), dtype=bool)
    first[1:] = sid[1:] != sid[:-1]
    bars = symbols.hstack(
        [pl.Series("sid", sid, dtype=SID).set_sorted(), pl.Series("first", first)]
    )
    if fills is None:
        fills = pl.DataFrame(schema=in_frames(FILL_SCHEMA))
    return Aligned(names, bars, ends, _point_fills(fills, bars, names, times, key))


def _point_fills(
    fills: pl.DataFrame,
    bars: pl.DataFrame,
    names: tuple[str, ...],
    times: np.ndarray,
    key: np.ndarray,
) -> pl.DataFrame:
    """The fills with sid, row (their bar's row in bars) and mark; raises on a fill without."""
    if fills.height == 0:
        return fills.with_columns(
            pl.lit(None, SID).alias("sid"),
            pl.lit(None, pl.Int64).alias("row"),
            pl.lit(None, pl.Float64).alias("mark"),
        )
    sid = (
        _codes(fills["symbol"], names)
        if names
        else pl.repeat(None, fills.height, dtype=SID, eager=True)
    )
    ts = _epoch(fills["ts"])
    bar = np.minimum(np.searchsorted(times, ts), max(len(times) - 1, 0))
    found = (times[bar] == ts) if len(times) else np.zeros(len(ts), dtype=bool)
    if sid.null_count():
        found &= sid.is_not_null().to_numpy()
    codes = sid.fill_null(0) if sid.null_count() else sid
    wanted = codes.to_numpy().astype(np.int64) * max(len(times), 1) + bar
    if len(key) == len(names) * len(times):  # every symbol has every bar: key is the row
        row = wanted
    else:
        row = np.minimum(np.searchsorted(key, wanted), max(len(key) - 1, 0))
        found &= key[row] == wanted
    mark = (
        bars["mark"].gather(row)
        if len(key)
        else pl.repeat(None, len(row), dtype=pl.Float64, eager=True)
    )
    if mark.null_count():
        found &= mark.is_not_null().to_numpy()
    if not found.all():
        at = int(np.flatnonzero(~found)[0])
        raise ValueError(
            f"fill row {at} ({fills['symbol'][at]} at {fills['ts'][at]}) has no bar in the "
            "symbols frame: the result's frames do not belong together"
        )
    return fills.hstack([_sorted(sid), pl.Series("row", row, dtype=pl.Int64), mark.alias("mark")])


__all__ = ["Aligned", "Plan", "align", "run_plans"]
