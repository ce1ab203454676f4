"""Generic OHLCV files: CSV (CCXT, CryptoDataDownload, vendors), Parquet/Feather, freqtrade JSON.

Columns are found by name (case-insensitive: timestamp/date/unix/open_time, open, high, low,
close, volume or "Volume <BASE>", symbol/pair) or mapped explicitly with `columns=`.
Timestamps may be epoch seconds/ms/µs/ns (unit detected from the magnitude, per file) or ISO
text (naive text is UTC). Newest-first files are re-sorted. Other numeric columns are kept as
float64 features (quote volume as `quote_volume`, trade counts as `trades`, taker-buy base
volume as `taker_buy_volume`); non-numeric extra columns (a text date beside a unix one) are
left out. Banner lines above the header (CryptoDataDownload's URL line) are skipped.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
import polars as pl

from mmsim.data.binance import KLINE_COLUMNS, diagnose_csv
from mmsim.data.checks import DEFAULT_MAX_OPEN_JUMP, OHLCV, Source, check_drop, finish
from mmsim.data.errors import DataError
from mmsim.data.files import PathLike, data_suffix, expand_paths
from mmsim.data.timestamps import (
    UNITS,
    detect_epoch_unit,
    epoch_reading,
    epoch_to_us,
    parse_bound,
    parse_iso,
    us_to_datetime,
)

TABLE_SUFFIXES = (".csv", ".json", ".parquet", ".pq", ".feather", ".arrow", ".ipc")


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", " ", str(name).strip().strip('"').lower())


_TS = (
    "open time",
    "timestamp",
    "unix timestamp",
    "unix",
    "ts",
    "time",
    "datetime",
    "date",
    "date time",
    "opentime",
)
_ALIASES = {
    "ts": _TS,
    "symbol": ("symbol", "pair", "ticker", "market", "instrument"),
    "open": ("open", "o", "open price"),
    "high": ("high", "h", "high price"),
    "low": ("low", "l", "low price"),
    "close": ("close", "c", "close price"),
    "volume": ("volume", "vol", "v", "base volume", "volume base"),
}
_EXTRAS = {
    "quote volume": "quote_volume",
    "quote asset volume": "quote_volume",
    "volume quote": "quote_volume",
    "tradecount": "trades",
    "trade count": "trades",
    "count": "trades",
    "number of trades": "trades",
    "trades": "trades",
    "taker buy volume": "taker_buy_volume",
    "taker buy base volume": "taker_buy_volume",
    "taker buy base asset volume": "taker_buy_volume",
    "taker buy quote volume": "taker_buy_quote_volume",
    "taker buy quote asset volume": "taker_buy_quote_volume",
    "funding rate": "funding_rate",
}
_IGNORED = {"close time", "ignore", "unnamed: 0", "index", ""}
_QUOTE_ONLY = {"usdt", "usd", "usdc", "busd", "fdusd", "tusd", "dai", "quote"}
_QUOTES = sorted(
    ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD", "DAI", "EUR", "TRY", "BTC", "ETH", "BNB"),
    key=len,
    reverse=True,
)


def symbol_from_name(path: PathLike) -> str | None:
    """'Binance_BTCUSDT_1h.csv', 'BTC_USDT-1m.json', 'SOLUSDT_1m.csv' -> the symbol, or None."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", Path(path).name.split(".")[0]) if t]
    tokens = [t.upper() if (t.isupper() or t.islower()) and t.isalnum() else "" for t in tokens]
    for i, tok in enumerate(tokens):
        if not tok or tok[0].isdigit():
            continue
        if tok in _QUOTES and i > 0 and tokens[i - 1].isalpha() and tokens[i - 1] != tok:
            return tokens[i - 1] + tok
        for quote in _QUOTES:
            if (
                tok.endswith(quote)
                and len(tok) > len(quote)
                and tok[: -len(quote)] not in ("", "VOLUME")
            ):
                return tok
    return None


def normalize_symbol(expr: pl.Expr) -> pl.Expr:
    """'BTC/USDT', 'BTC/USDT:USDT', 'btc-usdt' -> 'BTCUSDT'."""
    return (
        expr.cast(pl.String)
        .str.replace(r":.*$", "")
        .str.replace_all(r"[/\-_ ]", "")
        .str.to_uppercase()
    )


def resolve_columns(
    names: Sequence[str], columns: Mapping[str, str] | None, where: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(target -> file column for ts/symbol/OHLCV, file column -> feature name for the extras)."""
    mapping: dict[str, str] = {}
    for target, source in (columns or {}).items():
        if source not in names:
            raise DataError(
                f"{where}: column {source!r} (for {target!r}) is not in the file; "
                f"it has {list(names)}"
            )
        mapping[target] = source
    used = set(mapping.values())
    keys = {n: _key(n) for n in names}
    for target, aliases in _ALIASES.items():
        if target in mapping:
            continue
        for alias in aliases:
            match = next((n for n in names if keys[n] == alias and n not in used), None)
            if match is not None:
                mapping[target] = match
                used.add(match)
                break
    extras: dict[str, str] = {}
    for n in names:
        if n in used or keys[n] in _IGNORED:
            continue
        volume_of = re.fullmatch(r"volume (\w+)", keys[n])
        if volume_of and volume_of[1] not in _QUOTE_ONLY and "volume" not in mapping:
            mapping["volume"] = n
            used.add(n)
            continue
        if volume_of and volume_of[1] in _QUOTE_ONLY:
            name = "quote_volume"
        else:
            name = _EXTRAS.get(keys[n]) or re.sub(r"\W+", "_", keys[n]).strip("_")
        if name and name not in extras.values() and name not in mapping:
            extras[n] = name
    missing = [t for t in ("ts", *OHLCV) if t not in mapping]
    if missing:
        raise DataError(
            f"{where}: cannot find column(s) {missing} among {list(names)}; "
            "map them with columns={'ts': ..., 'open': ..., ...}"
        )
    return mapping, extras


def _first_bad(raw: pl.DataFrame, column: str, parsed: pl.Expr) -> dict | None:
    bad = raw.with_row_index("_k").filter(pl.col(column).is_not_null() & parsed.is_null())
    return bad.row(0, named=True) if bad.height else None


def _position(src: Source, k: int, offset: int) -> str:
    return f"{src.name} {src.unit} {k + offset}"


def _timestamps(
    raw: pl.DataFrame,
    column: str,
    src: Source,
    offset: int,
    time_unit: str | None,
    time_format: str | None,
) -> tuple[pl.Expr, str]:
    """(an expression for Datetime("us") UTC timestamps from the raw `column`, after checking
    it; how the column is read, for messages: 'epoch milliseconds (detected)', 'ISO text')."""
    dtype = raw.schema[column]
    col = pl.col(column)
    where = f"{src.name} (column {column!r})"
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return col.cast(pl.Datetime("us")), "a datetime column"
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")), "a date column"
    if time_unit not in (None, "iso", *UNITS):
        raise DataError(f"time_unit={time_unit!r}: use one of {UNITS}, 'iso' or None (detect)")
    numeric = (
        col.str.strip_chars().cast(pl.Float64, strict=False)
        if dtype == pl.String
        else col.cast(pl.Float64)
    )
    if time_unit != "iso" and (
        dtype != pl.String or time_unit in UNITS or _all_numeric(raw, column)
    ):
        values = raw.select(numeric).to_series()
        bad = _first_bad(raw, column, numeric)
        if bad is not None:
            raise DataError(
                f"{_position(src, bad['_k'], offset)}: timestamp {bad[column]!r} in column "
                f"{column!r} is not a number (time_unit={time_unit!r})"
            )
        unit = time_unit or detect_epoch_unit(values, where)
        return us_to_datetime(epoch_to_us(numeric, unit)), epoch_reading(unit, time_unit is None)
    if dtype != pl.String:
        raise DataError(f"{where}: timestamps of type {dtype} cannot be read")
    parsed = parse_iso(col, time_format)
    try:
        bad = _first_bad(raw, column, parsed)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{where}: cannot read the timestamps ({exc}); pass time_format=") from None
    if bad is not None:
        raise DataError(
            f"{_position(src, bad['_k'], offset)}: cannot read timestamp {bad[column]!r} in column "
            f"{column!r} (expected epoch numbers or ISO date-times; pass time_format=...)"
        )
    return parsed, "ISO text" if time_format is None else f"text in format {time_format!r}"


def _all_numeric(raw: pl.DataFrame, column: str) -> bool:
    parsed = pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
    return raw.select((pl.col(column).is_null() | parsed.is_not_null()).all()).item()


def normalize_table(
    raw: pl.DataFrame,
    src: Source,
    k: int,
    *,
    offset: int,
    symbol: str | None,
    columns: Mapping[str, str] | None,
    time_unit: str | None,
    time_format: str | None,
    label: str,
    path: PathLike,
) -> tuple[pl.DataFrame, str]:
    """Raw columns (text or typed) -> (unchecked bars rows with _src/_pos (see
    `checks.finish`), how the time column was read)."""
    mapping, extras = resolve_columns(raw.columns, columns, src.name)
    ts, time_read = _timestamps(raw, mapping["ts"], src, offset, time_unit, time_format)
    exprs = [ts.alias("ts")]
    if symbol is not None:
        exprs.append(pl.lit(symbol.upper(), pl.String).alias("symbol"))
    elif "symbol" in mapping:
        exprs.append(normalize_symbol(pl.col(mapping["symbol"])).alias("symbol"))
    else:
        guess = symbol_from_name(path)
        if guess is None:
            raise DataError(f"{src.name}: no symbol column and none in the file name; pass symbol=")
        exprs.append(pl.lit(guess, pl.String).alias("symbol"))
    for target in OHLCV:
        column = mapping[target]
        number = _number(raw, column)
        bad = _first_bad(raw, column, number)
        if bad is not None:
            raise DataError(
                f"{_position(src, bad['_k'], offset)}: column {column!r} is {bad[column]!r}, "
                "not a number"
            )
        exprs.append(number.alias(target))
    for column, name in extras.items():
        number = _number(raw, column)
        if raw.schema[column] == pl.Boolean or _first_bad(raw, column, number) is not None:
            continue  # a text column (e.g. a date beside the unix time) is not a feature
        exprs.append(number.alias(name))
    exprs += [
        pl.lit(k, pl.UInt32).alias("_src"),
        (pl.int_range(pl.len(), dtype=pl.UInt32) + offset).alias("_pos"),
    ]
    frame = raw.select(exprs)
    if label == "close":
        step = frame.select(pl.col("ts").sort().diff().over("symbol").mode().min()).item()
        if step is None:
            raise DataError(
                f"{src.name}: label='close' needs at least two bars to know the interval"
            )
        frame = frame.with_columns(pl.col("ts") - step)
    elif label != "open":
        raise DataError(f"label={label!r}: use 'open' (timestamps are bar open times) or 'close'")
    return frame, time_read


def _number(raw: pl.DataFrame, column: str) -> pl.Expr:
    dtype = raw.schema[column]
    if dtype == pl.String:
        return pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
    if dtype.is_numeric() or dtype == pl.Boolean:
        return pl.col(column).cast(pl.Float64)
    return pl.lit(None, pl.Float64)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip ({exc})") from None
    return data


def _csv_raw(
    path: Path, separator: str, columns: Mapping[str, str] | Sequence[str] | None
) -> tuple[pl.DataFrame, int, Source]:
    """(all-text frame, line of its first row, source) of a CSV with or without banner/header."""
    data = _read_bytes(path)
    src = Source(str(path), "line")
    if not data.strip():
        raise DataError(f"{path}: empty file")
    head = data[:8192].decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:6]
    header_line = None
    wanted = {_key(columns["ts"])} if isinstance(columns, Mapping) and "ts" in columns else set(_TS)
    for i, line in enumerate(head):
        if any(_key(f) in wanted for f in line.split(separator)):
            header_line = i
            break
    if isinstance(columns, Sequence) and not isinstance(columns, str):
        names = list(columns)
        header_line = None
    elif header_line is None:
        first = head[0].split(separator)
        try:
            float(first[0])
        except ValueError:
            raise DataError(
                f"{path}: no header line naming a time column in the first lines (looked for "
                f"{', '.join(_TS)}); pass columns={{'ts': ..., ...}} or a list of column names"
            ) from None
        if len(first) == len(KLINE_COLUMNS):
            names = list(KLINE_COLUMNS)
        elif len(first) == 6:
            names = ["ts", *OHLCV]
        else:
            raise DataError(
                f"{path} line 1: no header and {len(first)} fields; pass columns=[...] naming them"
            )
    if header_line is None:
        skip, has_header, first_line = 0, False, 1
    else:
        skip, has_header, first_line = header_line, True, header_line + 2
        names = [f.strip().strip('"') for f in head[header_line].split(separator)]
    try:
        raw = pl.read_csv(
            io.BytesIO(data),
            skip_rows=skip,
            has_header=has_header,
            separator=separator,
            new_columns=None if has_header else names,
            infer_schema=False,
        )
    except pl.exceptions.PolarsError as exc:
        error = diagnose_csv(data, str(path), tuple(names), (), first_line - 1)
        raise error or DataError(f"{path}: cannot parse the CSV ({exc})") from None
    if raw.width != len(names) or raw.select(pl.any_horizontal(pl.all().is_null()).any()).item():
        # a short line gives nulls: say which line and how many fields it has
        error = diagnose_csv(data, str(path), tuple(names), (), first_line - 1)
        if error is not None:
            raise error
    return raw, first_line, src


def _json_raw(path: Path) -> tuple[pl.DataFrame, Source]:
    """freqtrade's JSON: an array of [open_time_ms, open, high, low, close, volume] rows."""
    src = Source(str(path), "row")
    try:
        rows = json.loads(_read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to be candles") from None
    if not isinstance(rows, list) or not rows:
        raise DataError(f"{path}: expected a non-empty JSON array of candles")
    if isinstance(rows[0], dict):
        return pl.DataFrame(rows, infer_schema_length=None), src
    try:
        array = np.asarray(rows, dtype=np.float64)
        ok = array.ndim == 2 and array.shape[1] == 6
    except (ValueError, TypeError):
        ok = False
    if not ok:
        for k, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != 6:
                raise DataError(
                    f"{path} row {k}: expected [open_time, open, high, low, close, volume], "
                    f"got {row!r:.80}"
                )
            for name, x in zip(("ts", *OHLCV), row, strict=True):
                if isinstance(x, bool) or not isinstance(x, int | float):
                    raise DataError(f"{path} row {k}: {name} is {x!r}, not a number")
        raise DataError(f"{path}: cannot read the candles")
    return pl.DataFrame(array, schema=["ts", *OHLCV], orient="row").with_columns(
        pl.col("ts").cast(pl.Int64)
    ), src


def _table_raw(path: Path, start, end, columns) -> tuple[pl.DataFrame, Source]:
    suffix = data_suffix(path)
    try:
        lazy = pl.scan_parquet(path) if suffix in (".parquet", ".pq") else pl.scan_ipc(path)
        schema = lazy.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: unreadable {suffix[1:]} file ({exc})") from None
    mapping, _ = resolve_columns(schema.names(), columns, str(path))
    ts = mapping["ts"]
    if isinstance(schema[ts], pl.Datetime) and schema[ts].time_zone is None:
        # the cache's own layout: push the window down to the scan
        if start is not None:
            lazy = lazy.filter(pl.col(ts) >= start)
        if end is not None:
            lazy = lazy.filter(pl.col(ts) < end)
    try:
        return lazy.collect(), Source(str(path), "row")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(f"{path}: unreadable {suffix[1:]} file ({exc})") from None


def table_rows(
    paths: Iterable[Path],
    *,
    symbol: str | None = None,
    symbols: Collection[str] | None = None,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    time_unit: str | None = None,
    time_format: str | None = None,
    label: str = "open",
    separator: str = ",",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    first_source: int = 0,
) -> tuple[pl.DataFrame | None, list[Source]]:
    """Parsed, unchecked rows of generic files (see `checks.finish`)."""
    frames, sources = [], []
    mapping = columns if isinstance(columns, Mapping) else None
    for path in paths:
        k = first_source + len(sources)
        suffix = data_suffix(path)
        if suffix == ".csv":
            raw, offset, src = _csv_raw(path, separator, columns)
        elif suffix == ".json":
            (raw, src), offset = _json_raw(path), 0
        elif suffix in (".parquet", ".pq", ".feather", ".arrow", ".ipc"):
            (raw, src), offset = _table_raw(path, start, end, mapping), 0
        else:
            raise DataError(
                f"{path}: unknown file type {suffix!r}; expected one of {TABLE_SUFFIXES}"
            )
        if raw.height == 0:
            raise DataError(f"{path}: no rows")
        frame, time_read = normalize_table(
            raw,
            src,
            k,
            offset=offset,
            symbol=symbol,
            columns=mapping,
            time_unit=time_unit,
            time_format=time_format,
            label=label,
            path=path,
        )
        if symbols is not None:
            frame = frame.filter(pl.col("symbol").is_in(list(symbols)))
        if start is not None:
            frame = frame.filter(pl.col("ts") >= start)
        if end is not None:
            frame = frame.filter(pl.col("ts") < end)
        frames.append(frame)
        sources.append(attrs.evolve(src, time=time_read))
    return (pl.concat(frames, how="diagonal_relaxed") if frames else None), sources


def read_bars(
    path: PathLike | Iterable[PathLike],
    *,
    symbol: str | None = None,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    time_unit: str | None = None,
    time_format: str | None = None,
    label: str = "open",
    separator: str = ",",
    start: str | dt.date | dt.datetime | None = None,
    end: str | dt.date | dt.datetime | None = None,
    drop: Collection[str] = (),
    max_open_jump: float | None = DEFAULT_MAX_OPEN_JUMP,
) -> pl.DataFrame:
    """Read generic OHLCV files (CSV, Parquet, Feather, freqtrade JSON) into a bars frame.

    path: a file, folder, glob or list of them (files concatenate; each has its symbol).
    symbol: the symbol for every row (default: a symbol/pair column, else the file name, as in
    'Binance_BTCUSDT_1h.csv' or freqtrade's 'BTC_USDT-1m.json').
    columns: {'ts': 'Unix Timestamp', 'open': 'Open', ...} for names not found automatically,
    or a list of names for a CSV without a header line.
    time_unit: 's', 'ms', 'us', 'ns' or 'iso' (default: detected per file); time_format: a
    strftime format for text timestamps. label: 'open' (default) if timestamps are bar open
    times, 'close' if they are close times (shifted back one interval).
    start/end: keep bars opening in [start, end) (a bare end date includes that day).
    drop, max_open_jump: as in `read_binance_klines`: problems to drop (counted, reported as a
    DroppedRowsWarning) instead of raising: 'duplicates', 'ohlc', 'jumps'.
    """
    files = expand_paths(path, TABLE_SUFFIXES)
    rows, sources = table_rows(
        files,
        symbol=symbol,
        columns=columns,
        time_unit=time_unit,
        time_format=time_format,
        label=label,
        separator=separator,
        start=parse_bound(start, end=False),
        end=parse_bound(end, end=True),
    )
    if rows is None or rows.height == 0:
        raise DataError(f"no bars in {path!r} for the window {start} .. {end}")
    return finish(rows, sources, drop=check_drop(drop), max_open_jump=max_open_jump)


__all__ = ["normalize_symbol", "read_bars", "resolve_columns", "symbol_from_name"]
