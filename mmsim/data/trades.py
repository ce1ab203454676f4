"""Trade tapes in, bars out: Binance trades/aggTrades dumps, recorder files, generic trade tables.

The trades frame (one row per print, in tape order): ts (Datetime µs, UTC), symbol, price
(quote currency), qty (base units, > 0), side (the aggressor's: +1 the taker bought, -1 sold),
trade_id (Int64, null where the file has none). Within a symbol the rows keep file order, which
is feed order when several prints share a timestamp (whole-second tapes).

Layouts read (per file, detected from the name and the first line, or named with `layout=`):
- "binance": data.binance.vision `trades` (id, price, qty, quote_qty, time, is_buyer_maker
  [, is_best_match]) and `aggTrades` (agg_trade_id, price, quantity, first_trade_id,
  last_trade_id, transact_time, is_buyer_maker [, is_best_match]), spot and USDT-M, with or
  without a header, times in ms or µs, plain CSV or the verified ZIP;
- "coinbase_recorder": a websocket recorder's CSV (topBid, topAsk[, bidVol, askVol], sequence,
  time as M/D/YYYY H:MM:SS UTC, side as the maker's, size, price) whose top-of-book rows (the
  first fields only) are mixed in with the trade rows and skipped;
- "binance_stream": a recording of Binance's websocket streams, one `<receive time> <json>` per
  line (gzip or plain); the `trade` messages are kept (t, p, q, T in ms, m), the others skipped;
- "table": any CSV/Parquet with columns found by name or mapped with `columns=` (targets ts,
  price, qty, side or is_buyer_maker, symbol, trade_id), `side_of` saying whose side the file
  names ("aggressor" or "maker").
Bad rows are named (file, line, column) and never fixed: unparseable, non-finite or non-positive
prices and sizes, unparseable or non-finite times, unknown sides, timestamps that go backwards,
repeated trade ids.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from mmsim.data.errors import DataError
from mmsim.data.files import PathLike, data_suffix, expand_paths, read_zip_csv
from mmsim.data.readers import _key, symbol_from_name
from mmsim.data.timestamps import (
    detect_epoch_unit,
    epoch_to_us,
    interval_us,
    parse_bound,
    parse_iso,
    us_to_datetime,
)

TRADE_SCHEMA = {
    "ts": pl.Datetime("us"),
    "symbol": pl.String,
    "price": pl.Float64,
    "qty": pl.Float64,
    "side": pl.Int8,
    "trade_id": pl.Int64,
}
LAYOUTS = ("auto", "binance", "coinbase_recorder", "binance_stream", "table")
SIDES_OF = ("aggressor", "maker")
TRADE_SUFFIXES = (".csv", ".zip", ".txt", ".parquet", ".pq", ".gz", ".jsonl")
_STREAM_LINE = re.compile(rb"\d+ \{")

# Binance dump columns by (kind, number of fields)
_BINANCE = {
    ("trades", 7): (
        "id",
        "price",
        "qty",
        "quote_qty",
        "time",
        "is_buyer_maker",
        "is_best_match",
    ),
    ("trades", 6): ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker"),
    ("aggTrades", 8): (
        "agg_trade_id",
        "price",
        "quantity",
        "first_trade_id",
        "last_trade_id",
        "transact_time",
        "is_buyer_maker",
        "is_best_match",
    ),
    ("aggTrades", 7): (
        "agg_trade_id",
        "price",
        "quantity",
        "first_trade_id",
        "last_trade_id",
        "transact_time",
        "is_buyer_maker",
    ),
}
_BINANCE_NAME = re.compile(
    r"(?P<symbol>[A-Z0-9]+)-(?P<kind>trades|aggTrades)-\d{4}-\d{2}(?:-\d{2})?\.(?:csv|zip)"
)
_RECORDER_TIME = "%m/%d/%Y %H:%M:%S"
_RECORDER_BOOK = ("topBid", "topAsk", "bidVol", "askVol")
_ALIASES = {
    "ts": ("ts", "time", "timestamp", "datetime", "date", "transact time", "trade time", "t"),
    "price": ("price", "p", "px", "trade price"),
    "qty": ("qty", "size", "amount", "quantity", "q", "base qty", "volume"),
    "side": ("side", "taker side", "aggressor side", "aggressor"),
    "is_buyer_maker": ("is buyer maker", "isbuyermaker", "m", "buyer is maker"),
    "symbol": ("symbol", "pair", "product id", "product", "market", "instrument"),
    "trade_id": ("trade id", "tradeid", "id", "tid", "agg trade id", "sequence", "seq"),
}
_BUY = ("buy", "b", "bid", "1", "+1")
_SELL = ("sell", "s", "ask", "offer", "-1")


def parse_trades_name(path: PathLike) -> tuple[str, str] | None:
    """(symbol, 'trades' | 'aggTrades') of a Binance dump name like BTCUSDT-trades-2024-01.zip."""
    match = _BINANCE_NAME.fullmatch(Path(path).name)
    return (match["symbol"], match["kind"]) if match else None


def _line_of(frame: pl.DataFrame, condition: pl.Expr) -> dict | None:
    bad = frame.filter(condition)
    return bad.row(0, named=True) if bad.height else None


def _csv_strings(data: bytes, where: str, names: tuple[str, ...] | None) -> pl.DataFrame:
    """Every field as text plus `line` (1-based line in the file); names None: the file's header."""
    try:
        raw = pl.read_csv(
            io.BytesIO(data),
            has_header=names is None,
            new_columns=list(names) if names else None,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{where}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    first = 2 if names is None else 1
    return raw.with_row_index("line", offset=first)


def _number(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)


def _check_parsed(raw: pl.DataFrame, parsed: pl.DataFrame, columns: Mapping[str, str], where: str):
    """Name the first line where a column did not parse (text present, value null)."""
    for target, source in columns.items():
        row = _line_of(
            raw.with_columns(parsed[target].alias("__parsed")),
            pl.col("__parsed").is_null(),
        )
        if row is not None:
            raise DataError(
                f"{where} line {row['line']}: column {source!r} is {row[source]!r}, "
                f"not a valid {target}"
            )


def _bool(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["true", "1"]))
        .then(True)
        .when(text.is_in(["false", "0"]))
        .then(False)
        .otherwise(None)
    )


def _finite(expr: pl.Expr) -> pl.Expr:
    """Null where not a finite number, so the row is named as unparsed (never an inf time)."""
    return pl.when(expr.is_finite()).then(expr)


def _epoch_us(raw: pl.DataFrame, column: str, where: str) -> pl.Expr:
    values = raw[column].str.strip_chars().cast(pl.Float64, strict=False)
    unit = detect_epoch_unit(values, f"{where} column {column!r}")
    return epoch_to_us(
        _finite(pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)), unit
    )


def _binance_layout(data: bytes, where: str, kind: str | None) -> tuple[tuple[str, ...], bool]:
    first = data[:4096].split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff")
    fields = [f.strip().strip('"') for f in first.split(",")]
    header = not fields[0].lstrip("-").isdigit()
    if header:
        for (k, _), names in _BINANCE.items():
            if tuple(f.lower() for f in fields) == names and kind in (None, k):
                return names, True
        raise DataError(f"{where} line 1: not a Binance trades/aggTrades header ({first[:80]!r})")
    candidates = [
        (k, names) for (k, n), names in _BINANCE.items() if n == len(fields) and kind in (None, k)
    ]
    if kind is None:
        # 7 fields is spot trades or USDT-M aggTrades: the 6th field is a flag in the first
        is_flag = fields[5].lower() in ("true", "false") if len(fields) > 5 else False
        candidates = [
            (k, names) for k, names in candidates if (names[5] == "is_buyer_maker") == is_flag
        ]
    if len(candidates) != 1:
        raise DataError(
            f"{where} line 1: {len(fields)} fields fit no Binance trades/aggTrades layout "
            "(trades: 6 or 7 fields, aggTrades: 7 or 8)"
        )
    return candidates[0][1], False


def _read_binance(data: bytes, where: str, symbol: str, kind: str | None) -> pl.DataFrame:
    names, header = _binance_layout(data, where, kind)
    raw = _csv_strings(data, where, None if header else names)
    raw = raw.rename({c: c.lower() for c in raw.columns})
    short = _line_of(raw, pl.any_horizontal(pl.col(c).is_null() for c in names))
    if short is not None:
        have = sum(short[c] is not None for c in names)
        raise DataError(
            f"{where} line {short['line']}: {have} fields, expected {len(names)} "
            f"({', '.join(names)})"
        )
    agg = names[0] == "agg_trade_id"
    time_col = "transact_time" if agg else "time"
    qty_col = "quantity" if agg else "qty"
    id_col = names[0]
    parsed = raw.select(
        ts=_epoch_us(raw, time_col, where),
        price=_number("price"),
        qty=_number(qty_col),
        maker=_bool("is_buyer_maker"),
        trade_id=pl.col(id_col).str.strip_chars().cast(pl.Int64, strict=False),
    )
    _check_parsed(
        raw,
        parsed,
        {
            "ts": time_col,
            "price": "price",
            "qty": qty_col,
            "maker": "is_buyer_maker",
            "trade_id": id_col,
        },
        where,
    )
    # is_buyer_maker: the resting order bought, so the taker sold
    return pl.DataFrame(
        {
            "line": raw["line"],
            "ts": parsed["ts"],
            "symbol": symbol,
            "price": parsed["price"],
            "qty": parsed["qty"],
            "side": pl.Series(parsed["maker"]).not_().cast(pl.Int8) * 2 - 1,
            "trade_id": parsed["trade_id"],
        }
    )


def _read_recorder(data: bytes, where: str, symbol: str) -> pl.DataFrame:
    raw = _csv_strings(data, where, None)
    trade_cols = [c for c in raw.columns if c not in _RECORDER_BOOK and c != "line"]
    book_cols = [c for c in raw.columns if c in _RECORDER_BOOK]
    is_trade = pl.all_horizontal(pl.col(c).is_not_null() for c in trade_cols)
    is_book = pl.all_horizontal(pl.col(c).is_not_null() for c in book_cols) & pl.all_horizontal(
        pl.col(c).is_null() for c in trade_cols
    )
    bad = _line_of(raw, ~is_trade & ~is_book)
    if bad is not None:
        filled = sum(bad[c] is not None for c in raw.columns if c != "line")
        raise DataError(
            f"{where} line {bad['line']}: {filled} fields; a recorder row is either a trade "
            f"({len(raw.columns) - 1} fields) or a top-of-book row ({len(book_cols)} fields)"
        )
    return _from_table(
        raw.filter(is_trade),
        where,
        symbol,
        {"ts": "time", "price": "price", "qty": "size", "side": "side", "trade_id": "sequence"},
        side_of="maker",
        time_format=_RECORDER_TIME,
    )


def _read_stream(data: bytes, where: str, symbol: str | None) -> pl.DataFrame:
    """The trade messages of a websocket recording (other streams skipped)."""
    rows = []
    for k, line in enumerate(data.splitlines(), start=1):
        if b'"trade"' not in line:
            continue
        _, _, body = line.partition(b" ")
        try:
            message = json.loads(body)
            trade = message.get("data", message)
            if trade.get("e") != "trade":
                continue
            rows.append(
                (
                    k,
                    int(trade["T"]) * 1000,
                    trade["s"],
                    float(trade["p"]),
                    float(trade["q"]),
                    -1 if trade["m"] else 1,
                    int(trade["t"]),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{where} line {k}: not a Binance trade message ({exc!r})") from None
    frame = pl.DataFrame(
        rows,
        schema={
            "line": pl.UInt32,
            "ts": pl.Int64,
            "symbol": pl.String,
            "price": pl.Float64,
            "qty": pl.Float64,
            "side": pl.Int8,
            "trade_id": pl.Int64,
        },
        orient="row",
    )
    if frame.height == 0:
        raise DataError(f"{where}: no trade messages in this stream recording")
    return frame if symbol is None else frame.with_columns(pl.lit(symbol).alias("symbol"))


def _side_expr(column: str, side_of: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()
    side = pl.when(text.is_in(_BUY)).then(1).when(text.is_in(_SELL)).then(-1).otherwise(None)
    return (side if side_of == "aggressor" else -side).cast(pl.Int8)


def _from_table(
    raw: pl.DataFrame,
    where: str,
    symbol: str | None,
    mapping: Mapping[str, str],
    *,
    side_of: str,
    time_format: str | None,
) -> pl.DataFrame:
    ts_col = mapping["ts"]
    if raw.schema[ts_col] == pl.String:
        numeric = raw[ts_col].str.strip_chars().cast(pl.Float64, strict=False)
        if time_format is None and numeric.null_count() == raw[ts_col].null_count():
            ts = _epoch_us(raw, ts_col, where)
        else:
            ts = parse_iso(pl.col(ts_col), time_format).dt.epoch("us")
    elif raw.schema[ts_col].is_numeric():
        unit = detect_epoch_unit(raw[ts_col].cast(pl.Float64), f"{where} column {ts_col!r}")
        ts = epoch_to_us(_finite(pl.col(ts_col).cast(pl.Float64)), unit)
    elif isinstance(raw.schema[ts_col], pl.Datetime):
        ts = pl.col(ts_col).dt.cast_time_unit("us").dt.epoch("us")
    else:
        raise DataError(f"{where}: column {ts_col!r} holds {raw.schema[ts_col]}, not times")
    if "side" in mapping:
        side = _side_expr(mapping["side"], side_of)
        side_source = mapping["side"]
    else:
        maker = (
            _bool(mapping["is_buyer_maker"])
            if raw.schema[mapping["is_buyer_maker"]] == pl.String
            else pl.col(mapping["is_buyer_maker"]).cast(pl.Boolean)
        )
        side = (maker.not_().cast(pl.Int8) * 2 - 1).cast(pl.Int8)
        side_source = mapping["is_buyer_maker"]

    def num(c):
        col = pl.col(c)
        return (
            col.str.strip_chars().cast(pl.Float64, strict=False)
            if raw.schema[c] == pl.String
            else col.cast(pl.Float64)
        )

    exprs = {"ts": ts, "price": num(mapping["price"]), "qty": num(mapping["qty"]), "side": side}
    sources = {"ts": ts_col, "price": mapping["price"], "qty": mapping["qty"], "side": side_source}
    if "trade_id" in mapping:
        c = mapping["trade_id"]
        exprs["trade_id"] = (
            pl.col(c).str.strip_chars().cast(pl.Int64, strict=False)
            if raw.schema[c] == pl.String
            else pl.col(c).cast(pl.Int64, strict=False)
        )
        sources["trade_id"] = c
    parsed = raw.select(**exprs)
    if "line" not in raw.columns:
        raw = raw.with_row_index("line", offset=1)
    _check_parsed(raw, parsed, sources, where)
    if "symbol" in mapping:
        from mmsim.data.readers import normalize_symbol

        sym = raw.select(normalize_symbol(pl.col(mapping["symbol"])))[:, 0]
    elif symbol:
        sym = pl.Series([symbol] * raw.height, dtype=pl.String)
    else:
        raise DataError(
            f"{where}: no symbol column and none in the file name; pass symbol='BTCUSDT'"
        )
    return pl.DataFrame(
        {
            "line": raw["line"],
            "ts": parsed["ts"],
            "symbol": sym,
            "price": parsed["price"],
            "qty": parsed["qty"],
            "side": parsed["side"],
            "trade_id": parsed["trade_id"]
            if "trade_id" in parsed.columns
            else pl.Series([None] * raw.height, dtype=pl.Int64),
        }
    )


def _resolve(names: list[str], columns: Mapping[str, str] | None, where: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for target, source in (columns or {}).items():
        if target not in _ALIASES:
            raise DataError(f"columns={{{target!r}: ...}}: targets are {sorted(_ALIASES)}")
        if source not in names:
            raise DataError(
                f"{where}: column {source!r} (for {target!r}) is not in the file; it has {names}"
            )
        mapping[target] = source
    keys = {n: _key(n) for n in names}
    for target, aliases in _ALIASES.items():
        if target in mapping or (target == "is_buyer_maker" and "side" in mapping):
            continue
        for alias in aliases:
            match = next((n for n in names if keys[n] == alias and n not in mapping.values()), None)
            if match is not None:
                mapping[target] = match
                break
    missing = [t for t in ("ts", "price", "qty") if t not in mapping]
    if "side" not in mapping and "is_buyer_maker" not in mapping:
        missing.append("side")
    if missing:
        raise DataError(
            f"{where}: no column for {missing}; it has {names}. Map them with "
            "columns={'ts': ..., 'price': ..., 'qty': ..., 'side': ...}"
        )
    if "side" in mapping:
        mapping.pop("is_buyer_maker", None)
    return mapping


def _file_bytes(path: Path) -> bytes:
    if path.suffix.lower() == ".zip":
        return read_zip_csv(path)[1]
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
    return data


def _read_one(
    path: Path,
    *,
    symbol: str | None,
    layout: str,
    columns: Mapping[str, str] | None,
    side_of: str,
    time_format: str | None,
) -> pl.DataFrame:
    where = str(path)
    named = parse_trades_name(path)
    sym = symbol or (named[0] if named else symbol_from_name(path))
    if data_suffix(path) in (".parquet", ".pq"):
        raw = pl.read_parquet(path).with_row_index("line", offset=1)
        mapping = _resolve([c for c in raw.columns if c != "line"], columns, where)
        return _from_table(raw, where, sym, mapping, side_of=side_of, time_format=time_format)
    data = _file_bytes(path)
    first = data[:4096].split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff")
    header = [f.strip().strip('"') for f in first.split(",")]
    if layout == "auto" and _STREAM_LINE.match(data[:64]):
        layout = "binance_stream"
    if layout == "binance_stream":
        return _read_stream(data, where, symbol)
    if layout == "auto":
        if (
            named
            or (header and header[0].lstrip("-").isdigit())
            or tuple(h.lower() for h in header) in _BINANCE.values()
        ):
            layout = "binance"
        elif header[:2] == ["topBid", "topAsk"] and "sequence" in header:
            layout = "coinbase_recorder"
        else:
            layout = "table"
    if layout in ("binance", "coinbase_recorder") and not sym:
        raise DataError(f"{where}: the file name names no symbol; pass symbol='BTCUSDT'")
    if layout == "binance":
        return _read_binance(data, where, sym, named[1] if named else None)
    if layout == "coinbase_recorder":
        return _read_recorder(data, where, sym)
    raw = _csv_strings(data, where, None)
    mapping = _resolve([c for c in raw.columns if c != "line"], columns, where)
    return _from_table(raw, where, sym, mapping, side_of=side_of, time_format=time_format)


def _check_rows(frame: pl.DataFrame, where: str) -> None:
    checks = [
        (pl.col("price") <= 0, "price", "non-positive price"),
        (pl.col("qty") <= 0, "qty", "non-positive quantity"),
        (~pl.col("price").is_finite(), "price", "price that is not a finite number"),
        (~pl.col("qty").is_finite(), "qty", "quantity that is not a finite number"),
        (
            pl.col("ts").diff().over("symbol") < 0,
            "ts",
            "timestamp earlier than the previous trade's (a tape is in time order)",
        ),
        (
            pl.col("trade_id").is_not_null()
            & (pl.int_range(pl.len()).over("symbol", "trade_id") > 0),
            "trade_id",
            "repeated trade id",
        ),
    ]
    for condition, column, problem in checks:
        row = _line_of(frame, condition)
        if row is not None:
            raise DataError(
                f"{where} line {row['line']}: {problem} in column {column!r} "
                f"(symbol {row['symbol']!r}, {column}={row[column]!r})"
            )


def read_trades(
    sources: PathLike | Iterable[PathLike],
    *,
    symbol: str | None = None,
    layout: str = "auto",
    columns: Mapping[str, str] | None = None,
    side_of: str = "aggressor",
    time_format: str | None = None,
    start=None,
    end=None,
) -> pl.DataFrame:
    """Read trade tapes (files, folders, globs) into one trades frame (see the module docstring).

    symbol: for files whose name and columns name none. layout: "auto" (detected per file),
    "binance", "coinbase_recorder" or "table". columns: for "table" files, target -> file column
    (targets ts, price, qty, side or is_buyer_maker, symbol, trade_id). side_of: whose side a
    "table" file's side column names: the aggressor's (taker) or the maker's (resting order).
    time_format: strftime format of text times (default ISO-8601). start/end: keep trades in
    [start, end) (a bare date as end means through that day). Returns the frame sorted by
    (symbol, ts), tape order kept within a timestamp.
    """
    if layout not in LAYOUTS:
        raise DataError(f"layout={layout!r}: choose one of {LAYOUTS}")
    if side_of not in SIDES_OF:
        raise DataError(f"side_of={side_of!r}: choose 'aggressor' (taker) or 'maker'")
    paths = expand_paths(sources, TRADE_SUFFIXES)
    frames = []
    for path in paths:
        frame = _read_one(
            path,
            symbol=symbol,
            layout=layout,
            columns=columns,
            side_of=side_of,
            time_format=time_format,
        )
        _check_rows(frame, str(path))
        frames.append(frame.with_columns(pl.lit(len(frames)).alias("file")))
    trades = pl.concat(frames).sort("symbol", "ts", "file", "line", maintain_order=True)
    if len(frames) > 1:
        row = _line_of(
            trades.with_columns(pl.col("file").diff().over("symbol").alias("d")),
            (pl.col("d") != 0) & pl.col("trade_id").is_duplicated().over("symbol"),
        )
        if row is not None:
            raise DataError(
                f"{paths[row['file']]} line {row['line']}: trade id {row['trade_id']} of "
                f"{row['symbol']!r} is also in another file (overlapping tapes)"
            )
    trades = trades.with_columns(us_to_datetime(pl.col("ts")).alias("ts"))
    lo, hi = parse_bound(start, end=False), parse_bound(end, end=True)
    if lo is not None:
        trades = trades.filter(pl.col("ts") >= lo)
    if hi is not None:
        trades = trades.filter(pl.col("ts") < hi)
    return trades.select(pl.col(c).cast(t) for c, t in TRADE_SCHEMA.items())


def bars_from_trades(
    trades: pl.DataFrame, interval: str | int = "1m", *, empty: str = "flat"
) -> pl.DataFrame:
    """OHLCV bars (the layout `backtest` reads) built from a trades frame, per symbol.

    Bars open on the interval grid (UTC); volume and taker_buy_volume in base units,
    quote_volume in the quote currency, trades the number of prints. empty="flat" (Binance's
    klines): an interval without a trade between a symbol's first and last one is a flat bar at
    the previous close with zero volume; empty="drop": no row.
    """
    if empty not in ("flat", "drop"):
        raise DataError(f"empty={empty!r}: choose 'flat' (Binance klines) or 'drop'")
    missing = [c for c in ("ts", "symbol", "price", "qty", "side") if c not in trades.columns]
    if missing:
        raise DataError(f"trades frame is missing column(s) {missing}; it has {trades.columns}")
    if trades.height == 0:
        raise DataError("trades frame is empty: no bars to build")
    step = interval_us(interval)
    bucket = pl.from_epoch(pl.col("ts").dt.epoch("us") // step * step, time_unit="us").alias(
        "bucket"
    )
    buy = pl.col("side") > 0
    bars = (
        trades.with_columns(bucket)
        .group_by("symbol", "bucket", maintain_order=True)
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("qty").sum(),
            quote_volume=(pl.col("price") * pl.col("qty")).sum(),
            trades=pl.len().cast(pl.Int64),
            taker_buy_volume=pl.col("qty").filter(buy).sum(),
            taker_buy_quote_volume=(pl.col("price") * pl.col("qty")).filter(buy).sum(),
        )
        .rename({"bucket": "ts"})
        .sort("symbol", "ts")
    )
    if empty == "flat":
        grid = (
            bars.group_by("symbol", maintain_order=True)
            .agg(
                pl.datetime_ranges(
                    pl.col("ts").min(), pl.col("ts").max(), interval=f"{step}us", time_unit="us"
                )
                .first()
                .alias("ts")
            )
            .explode("ts")
        )
        bars = (
            grid.join(bars, on=["symbol", "ts"], how="left")
            .sort("symbol", "ts")
            .with_columns(pl.col("close").forward_fill().over("symbol"))
            .with_columns(pl.col(c).fill_null(pl.col("close")) for c in ("open", "high", "low"))
            .with_columns(
                pl.col(c).fill_null(0)
                for c in (
                    "volume",
                    "quote_volume",
                    "trades",
                    "taker_buy_volume",
                    "taker_buy_quote_volume",
                )
            )
        )
    return bars.select(
        "ts",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "trades",
        "taker_buy_volume",
        "taker_buy_quote_volume",
    ).sort("ts", "symbol")


__all__ = [
    "LAYOUTS",
    "TRADE_SCHEMA",
    "bars_from_trades",
    "parse_trades_name",
    "read_trades",
]
