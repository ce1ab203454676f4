"""Trade tapes: Binance trades/aggTrades dumps, the recorder format, generic tables, bars."""

from __future__ import annotations

import io
import warnings

import polars as pl
import pytest
from data_support import REAL, DumpServer, zip_bytes

import mmsim
from mmsim.cli import main
from mmsim.data import DataError
from mmsim.data.fetch import fetch_binance, plan_files
from mmsim.data.trades import bars_from_trades, read_trades

TAPES = REAL / "trades"
BINANCE_2017 = TAPES / "avishj19_tradeops__binance_spot_trades_dump/BTCUSDT-trades-2017-08-17.csv"
COINBASE = TAPES / "andronovDR_data__coinbase_btcusd_trades_2018"
needs_real = pytest.mark.skipif(not TAPES.exists(), reason="real trade tapes not present")

# five prints: ms times 2024-01-05 00:00:00.100 onwards; two sells (taker sold: buyer is maker)
PRINTS = [
    (101, "42000.10", "0.50", 1704412800100, "False"),
    (102, "42000.00", "0.25", 1704412800200, "True"),
    (103, "42000.20", "1.00", 1704412861000, "False"),
    (104, "41999.90", "0.10", 1704412861000, "True"),
    (105, "42000.30", "0.05", 1704412925000, "False"),
]


def trades_csv(*, header: bool, unit: str = "ms", spot: bool = True) -> bytes:
    lines = ["id,price,qty,quote_qty,time,is_buyer_maker"] if header else []
    for i, p, q, t, m in PRINTS:
        quote = float(p) * float(q)
        t = t * 1000 if unit == "us" else t
        lines.append(f"{i},{p},{q},{quote},{t},{m}" + (",True" if spot else ""))
    return ("\n".join(lines) + "\n").encode()


def agg_csv(*, header: bool, unit: str = "ms", spot: bool = True) -> bytes:
    names = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
    lines = [names] if header else []
    for i, p, q, t, m in PRINTS:
        t = t * 1000 if unit == "us" else t
        lines.append(f"{i},{p},{q},{i * 10},{i * 10 + 2},{t},{m}" + (",True" if spot else ""))
    return ("\n".join(lines) + "\n").encode()


def expected() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": [t * 1000 for *_, t, _ in PRINTS],
            "symbol": "BTCUSDT",
            "price": [float(p) for _, p, *_ in PRINTS],
            "qty": [float(q) for _, _, q, *_ in PRINTS],
            "side": [-1 if m == "True" else 1 for *_, m in PRINTS],
            "trade_id": [i for i, *_ in PRINTS],
        },
        schema_overrides={"side": pl.Int8},
    ).with_columns(pl.from_epoch("ts", time_unit="us"))


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("BTCUSDT-trades-2024-01-05.csv", lambda: trades_csv(header=False)),
        ("BTCUSDT-trades-2025-01-05.csv", lambda: trades_csv(header=False, unit="us")),
        ("BTCUSDT-trades-2024-01.csv", lambda: trades_csv(header=True, spot=False)),
        ("BTCUSDT-aggTrades-2024-01-05.csv", lambda: agg_csv(header=False)),
        ("BTCUSDT-aggTrades-2025-01-05.csv", lambda: agg_csv(header=False, unit="us")),
        ("BTCUSDT-aggTrades-2024-01.csv", lambda: agg_csv(header=True, spot=False)),
        ("BTCUSDT-aggTrades-2024-02.csv", lambda: agg_csv(header=False, spot=False)),
        ("btc_prints.csv", lambda: trades_csv(header=True, spot=False)),
    ],
)
def test_binance_dumps_of_every_layout_read_to_the_same_tape(tmp_path, name, make):
    path = tmp_path / name
    path.write_bytes(make())
    symbol = None if name.startswith("BTCUSDT") else "BTCUSDT"
    assert read_trades(path, symbol=symbol).equals(expected())
    zipped = tmp_path / "zip" / name.replace(".csv", ".zip")
    zipped.parent.mkdir()
    zipped.write_bytes(zip_bytes({name: make()}))
    assert read_trades(zipped, symbol=symbol).equals(expected())


def test_headerless_seven_fields_are_told_apart_by_the_flag_in_the_sixth():
    # spot trades (…, time, is_buyer_maker, is_best_match) vs USDT-M aggTrades (…, time, flag)
    spot = io.BytesIO(trades_csv(header=False))
    um_agg = io.BytesIO(agg_csv(header=False, spot=False))
    for data in (spot, um_agg):
        assert len(data.getvalue().split(b"\n")[0].split(b",")) == 7
    from mmsim.data.trades import _binance_layout

    assert _binance_layout(spot.getvalue(), "x", None)[0][0] == "id"
    assert _binance_layout(um_agg.getvalue(), "x", None)[0][0] == "agg_trade_id"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("106,abc,0.1,1,1704412925001,False,True", r"line 6: column 'price' is 'abc'"),
        ("106,42000,-0.1,1,1704412925001,False,True", r"line 6: non-positive quantity"),
        ("106,42000,0.1,1,1704412925001,Maybe,True", r"line 6: column 'is_buyer_maker' is 'Maybe'"),
        ("106,42000,0.1,1,1704412800000,False,True", r"line 6: timestamp earlier than"),
        ("105,42000,0.1,1,1704412925001,False,True", r"line 6: repeated trade id"),
        ("106,42000,0.1,1,1704412925001,False", r"line 6: 6 fields, expected 7"),
        ("106,nan,0.1,1,1704412925001,False,True", r"line 6: price that is not a finite number"),
        ("106,42000,inf,1,1704412925001,False,True", r"line 6: quantity that is not a finite"),
        ("106,42000,0.1,1,nan,False,True", r"line 6: column 'time' is 'nan'"),
    ],
)
def test_bad_rows_are_named_never_fixed(tmp_path, row, message):
    path = tmp_path / "BTCUSDT-trades-2024-01-05.csv"
    path.write_bytes(trades_csv(header=False) + row.encode() + b"\n")
    with pytest.raises(DataError, match=message):
        read_trades(path)


def test_a_parquet_table_with_a_nan_price_or_time_is_named_not_read(tmp_path):
    path = tmp_path / "prints.parquet"
    good = {"ts": [1704412800100, 1704412800200], "price": [100.0, 100.5], "qty": [1.0, 2.0]}
    for column, value, message in (
        ("price", float("nan"), r"line 2: price that is not a finite number"),
        ("ts", float("inf"), r"line 2: column 'ts' is inf, not a valid ts"),
    ):
        values = {**good, "side": [1, -1]}
        values[column] = [float(v) for v in values[column][:1]] + [value]
        pl.DataFrame(values).write_parquet(path)
        with pytest.raises(DataError, match=message):
            read_trades(path, symbol="ETHUSD")


def test_the_same_trade_in_two_files_is_an_error(tmp_path):
    for day in ("05", "06"):
        (tmp_path / f"BTCUSDT-trades-2024-01-{day}.csv").write_bytes(trades_csv(header=False))
    with pytest.raises(DataError, match="also in another file"):
        read_trades(tmp_path)


def test_a_generic_table_maps_columns_and_the_makers_side(tmp_path):
    path = tmp_path / "prints.csv"
    path.write_text(
        "when,px,amount,maker_side,pair\n"
        "2024-01-05T00:00:00.100Z,100.5,2,sell,ETH-USD\n"
        "2024-01-05T00:00:01.000Z,100.4,1,buy,ETH-USD\n"
    )
    got = read_trades(
        path,
        columns={"ts": "when", "price": "px", "qty": "amount", "side": "maker_side"},
        side_of="maker",
    )
    assert got.select("symbol", "price", "qty", "side").rows() == [
        ("ETHUSD", 100.5, 2.0, 1),
        ("ETHUSD", 100.4, 1.0, -1),
    ]
    assert got["ts"].dt.epoch("ms").to_list() == [1704412800100, 1704412801000]
    assert got["trade_id"].null_count() == 2  # the file has no trade id
    as_taker = read_trades(
        path, columns={"ts": "when", "price": "px", "qty": "amount", "side": "maker_side"}
    )
    assert as_taker["side"].to_list() == [-1, 1]  # the default: the file names the aggressor
    path.write_text("when,px,amount,maker_side\n1704412800100,100.5,2,up\n")
    with pytest.raises(DataError, match="line 2: column 'maker_side' is 'up'"):
        read_trades(
            path,
            symbol="ETHUSD",
            columns={"ts": "when", "price": "px", "qty": "amount", "side": "maker_side"},
        )


def test_a_recorder_row_that_is_neither_a_trade_nor_a_book_row_is_named(tmp_path):
    path = tmp_path / "btcusd.txt"
    path.write_text(
        "topBid,topAsk,bidVol,askVol,sequence,time,side,size,price\n"
        "10.0,10.1,1,2\n"
        "10.0,10.1,1,2,7,10/20/2018 04:10:57,buy,0.5,10.0\n"
        "10.0,10.1,1,2,8,10/20/2018 04:10:58\n"
    )
    with pytest.raises(DataError, match="line 4: 6 fields"):
        read_trades(path, symbol="BTCUSD")


@needs_real
def test_coinbase_recordings_keep_trade_rows_and_turn_the_makers_side_around():
    night = read_trades(COINBASE / "btcusdMarketOvernight.txt", symbol="BTCUSD")
    assert night.height == 10_024
    assert dict(night["side"].value_counts().iter_rows()) == {1: 6_307, -1: 3_717}
    assert night["trade_id"].is_sorted() and night["trade_id"].n_unique() == night.height
    day = read_trades(COINBASE / "btcusdMarket10302018" / "btcusdmarket.txt", symbol="BTCUSD")
    assert day.height == 7_096
    bars = bars_from_trades(day, "1m")
    assert bars.height == 442 and (bars["trades"] > 0).all()  # a trade in every minute
    assert bars["volume"].sum() == pytest.approx(day["qty"].sum())
    # the tick rule: prints that moved the price up were mostly bought by the taker
    moved = day.with_columns(pl.col("price").diff().sign().alias("tick")).filter(
        pl.col("tick") != 0
    )
    assert (moved["tick"] == moved["side"]).mean() > 0.95


@needs_real
def test_binance_2017_tape_agrees_with_binance_hourly_bars_on_every_high_and_low():
    tape = read_trades(BINANCE_2017)
    assert tape.height == 3_427 and (tape["side"] == -1).sum() == 1_055
    assert tape["trade_id"].to_list() == list(range(3_427))
    built = bars_from_trades(tape, "1h")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        klines = mmsim.read_bars(
            REAL / "timheyes_btc_eth_pair_trading__cryptodatadownload_binance_spot_1h",
            start="2017-08-17",
            end="2017-08-17",
            drop=["jumps"],  # its first candle's open and high are a known bad print
        ).filter(pl.col("symbol") == "BTCUSDT")
    both = built.join(klines.with_columns(pl.col("symbol").cast(pl.String)), on=["ts", "symbol"])
    assert both.height == 19
    assert (both["high"] == both["high_right"]).all()
    assert (both["low"] == both["low_right"]).all()
    relative = ((both["volume"] - both["volume_right"]) / both["volume_right"]).abs()
    assert relative.median() < 0.002  # the hourly file rounds volumes to 2 decimals


def test_bars_from_trades_are_binance_klines_flat_bars_included():
    bars = bars_from_trades(expected(), "1m")
    assert bars.select("open", "high", "low", "close", "volume", "trades").rows() == [
        (42000.10, 42000.10, 42000.00, 42000.00, 0.75, 2),
        (42000.20, 42000.20, 41999.90, 41999.90, 1.10, 2),
        (42000.30, 42000.30, 42000.30, 42000.30, 0.05, 1),
    ]
    assert bars["taker_buy_volume"].to_list() == [0.5, 1.0, 0.05]
    gappy = expected().filter(pl.col("trade_id") != 103).filter(pl.col("trade_id") != 104)
    flat = bars_from_trades(gappy, "1m")
    assert flat.row(1, named=True) | {"ts": None} == {
        "ts": None,
        "symbol": "BTCUSDT",
        **dict.fromkeys(("open", "high", "low", "close"), 42000.0),
        "volume": 0.0,
        "quote_volume": 0.0,
        "trades": 0,
        "taker_buy_volume": 0.0,
        "taker_buy_quote_volume": 0.0,
    }
    assert bars_from_trades(gappy, "1m", empty="drop").height == 2
    mmsim.validate_bars(flat)


def test_plan_refuses_an_unknown_kind():
    with pytest.raises(
        DataError, match="kind='bookTicker': choose one of klines, trades, aggTrades"
    ):
        plan_files(
            market="spot",
            symbols=["BTCUSDT"],
            interval=None,
            start="2024-01-05",
            end="2024-01-05",
            kind="bookTicker",
        )


def test_fetch_trades_and_aggtrades_in_the_servers_layout_verified_and_cached(tmp_path):
    plan = plan_files(
        market="um",
        symbols=["BTCUSDT"],
        interval=None,
        start="2024-01-05",
        end="2024-01-05",
        kind="aggTrades",
    )
    assert [f.path for f in plan] == [
        "data/futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-01-05.zip"
    ]
    with DumpServer() as server:
        server.add_dump(
            "data/spot/daily/trades/BTCUSDT/BTCUSDT-trades-2024-01-05.zip",
            trades_csv(header=False),
        )
        server.add_dump(plan[0].path, agg_csv(header=True, spot=False), corrupt=True)
        report = fetch_binance(
            market="spot",
            symbols=["BTCUSDT"],
            kind="trades",
            start="2024-01-05",
            end="2024-01-05",
            dest=tmp_path,
            base_url=server.url,
            backoff=0.01,
            progress=False,
        )
        assert report.files["status"].to_list() == ["downloaded"]
        assert read_trades(report.cache["BTCUSDT"]).equals(expected())
        with pytest.raises(mmsim.FetchError, match="checksum mismatch"):
            fetch_binance(
                market="um",
                symbols=["BTCUSDT"],
                kind="aggTrades",
                start="2024-01-05",
                end="2024-01-05",
                dest=tmp_path,
                base_url=server.url,
                backoff=0.01,
                retries=1,
                progress=False,
            )
        assert not (tmp_path / plan[0].path).exists()
        server.add_dump(plan[0].path, agg_csv(header=True, spot=False))
        code = main(
            [
                "data",
                "fetch",
                "binance",
                "--market",
                "um",
                "--kind",
                "aggTrades",
                "--symbols",
                "BTCUSDT",
                "--start",
                "2024-01-05",
                "--end",
                "2024-01-05",
                "--dir",
                str(tmp_path),
                "--base-url",
                server.url,
                "--quiet",
            ]
        )
    assert code == 0
    cached = tmp_path / "parquet" / "um" / "aggTrades" / "BTCUSDT.parquet"
    assert read_trades(cached).equals(expected())


def test_a_websocket_recording_keeps_its_trade_messages_in_exchange_time(tmp_path):
    path = tmp_path / "feed.txt"
    path.write_text(
        '1723161253937085768 {"stream":"btcusdt@bookTicker","data":{"u":1,"b":"1","B":"1"}}\n'
        '1723161254087896568 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,'
        '"s":"BTCUSDT","t":7,"p":"61837.63","q":"0.02","T":1723161255342,"m":true,"M":true}}\n'
    )
    got = read_trades(path)
    assert got.select("symbol", "price", "qty", "side", "trade_id").rows() == [
        ("BTCUSDT", 61837.63, 0.02, -1, 7)
    ]
    assert got["ts"].dt.epoch("ms").to_list() == [1723161255342]
    with path.open("a") as handle:
        handle.write('1723161254087896569 {"stream":"btcusdt@trade","data":{"e":"trade"}}\n')
    with pytest.raises(DataError, match="line 3: not a Binance trade message"):
        read_trades(path)


@needs_real
def test_the_raw_binance_feed_gives_every_trade_id_once_across_its_two_files():
    tape = read_trades(REAL / "hftbacktest__binance_spot_raw_feed")
    assert tape.height == 19_904
    assert tape["trade_id"].to_list() == list(range(3_735_683_259, 3_735_703_163))
    bars = bars_from_trades(tape, "1m")
    assert bars.height == 12 and bars["trades"].sum() == 19_904
