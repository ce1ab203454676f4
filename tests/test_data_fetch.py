"""The downloader against a real HTTP server on 127.0.0.1 serving dumps the tests build."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest
from data_support import DumpServer, kline_csv, zip_bytes
from rich.console import Console

import mmsim
from mmsim.cli import main
from mmsim.data import DataError, FetchError, fetch_binance, plan_files, safe_extract

OHLCV = ["open", "high", "low", "close", "volume"]
FAST = {"backoff": 0.01, "timeout": 5.0, "progress": False}


def test_plan_uses_monthly_files_for_whole_months_and_daily_files_for_partial_ones():
    files = plan_files(
        market="um", symbols=["btcusdt"], interval="1h", start="2024-01-30", end="2024-03-02"
    )
    assert [f.name for f in files] == [
        "BTCUSDT-1h-2024-01-30.zip",
        "BTCUSDT-1h-2024-01-31.zip",
        "BTCUSDT-1h-2024-02.zip",
        "BTCUSDT-1h-2024-03-01.zip",
        "BTCUSDT-1h-2024-03-02.zip",
    ]
    assert files[2].path == "data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02.zip"
    assert files[0].path == "data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01-30.zip"
    spot = plan_files(
        market="spot", symbols=["ETHUSDT"], interval="1m", start="2024-02-01", end="2024-02-29"
    )
    assert [f.path for f in spot] == ["data/spot/monthly/klines/ETHUSDT/1m/ETHUSDT-1m-2024-02.zip"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"market": "cm"}, "market='cm'"),
        ({"interval": "7m"}, "interval='7m'"),
        ({"interval": "1s", "market": "um"}, "1s klines exist for the spot market only"),
        ({"start": "2024-03-01", "end": "2024-02-01"}, "is after end"),
        ({"symbols": ["BTC/USDT"]}, "not a Binance symbol"),
        ({"start": "01/02/2024"}, "use a date like"),
    ],
)
def test_plan_refuses_bad_arguments(kwargs, message):
    args = {
        "market": "spot",
        "symbols": ["BTCUSDT"],
        "interval": "1m",
        "start": "2024-01-01",
        "end": "2024-01-02",
    }
    with pytest.raises(DataError, match=message):
        plan_files(**{**args, **kwargs})


def month_bars(symbol: str, start: str, days: int) -> pl.DataFrame:
    return mmsim.synthetic_bars(
        (symbol,), days=days, interval="1h", seed=len(symbol) + days, start=start, funding=False
    )


@pytest.fixture
def server():
    with DumpServer() as srv:
        yield srv


def serve_range(
    server: DumpServer, symbol: str, *, corrupt: str = "", skip: str = ""
) -> pl.DataFrame:
    """Serve 1h um dumps of `symbol`: January as a monthly file, 1-2 February as daily files."""
    jan, feb = month_bars(symbol, "2024-01-01", 31), month_bars(symbol, "2024-02-01", 2)
    root = f"data/futures/um/{{}}/klines/{symbol}/1h"
    name = f"{symbol}-1h-2024-01.zip"
    if skip != name:
        server.add_dump(
            f"{root.format('monthly')}/{name}",
            kline_csv(jan, header=True, interval_ms=3_600_000),
            corrupt=corrupt == name,
        )
    for day in (1, 2):
        part = feb.filter(pl.col("ts").dt.day() == day)
        name = f"{symbol}-1h-2024-02-{day:02d}.zip"
        if skip != name:
            server.add_dump(
                f"{root.format('daily')}/{name}",
                kline_csv(part, interval_ms=3_600_000),
                corrupt=corrupt == name,
            )
    return pl.concat([jan, feb])


def fetch(server: DumpServer, dest: Path, symbols=("BTCUSDT", "ETHUSDT"), **kw):
    args = dict(
        market="um",
        symbols=symbols,
        interval="1h",
        start="2024-01-01",
        end="2024-02-02",
        dest=dest,
        base_url=server.url,
        **FAST,
    )
    return fetch_binance(**{**args, **kw})


def test_fetch_verifies_caches_and_skips_what_it_has(server, tmp_path):
    expected = {s: serve_range(server, s) for s in ("BTCUSDT", "ETHUSDT")}
    report = fetch(server, tmp_path)
    assert report.files["status"].to_list() == ["downloaded"] * 6
    cache = tmp_path / "parquet" / "um" / "1h"
    assert report.cache == {
        "BTCUSDT": cache / "BTCUSDT.parquet",
        "ETHUSDT": cache / "ETHUSDT.parquet",
    }
    bars = mmsim.load_bars(cache)
    for symbol, want in expected.items():
        got = bars.filter(pl.col("symbol") == symbol)
        assert got.select("ts", *OHLCV).equals(want.select("ts", *OHLCV))
    assert bars.equals(mmsim.load_bars(tmp_path))  # the cache is what a folder load reads
    assert bars.equals(mmsim.load_bars(tmp_path / "data"))  # and it matches the ZIPs themselves
    assert not list(tmp_path.rglob("*.part"))
    asked = len(server.requests)
    again = fetch(server, tmp_path)
    assert again.files["status"].to_list() == ["present"] * 6
    assert len(server.requests) == asked  # verified files cost no request at all


def test_transient_failures_are_retried(server, tmp_path):
    serve_range(server, "BTCUSDT")
    monthly = "data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip"
    server.faults[monthly] = ["503", "short"]
    server.faults[monthly + ".CHECKSUM"] = ["503"]
    report = fetch(server, tmp_path, symbols=["BTCUSDT"])
    row = report.files.filter(pl.col("path") == monthly).row(0, named=True)
    assert (row["status"], row["attempts"]) == (
        "downloaded",
        4,
    )  # checksum 503, zip 503, zip short, ok
    assert server.requests.count(monthly) == 3
    assert report.cache["BTCUSDT"].exists()


def test_a_corrupted_file_fails_clearly_and_leaves_nothing_behind(server, tmp_path):
    serve_range(server, "BTCUSDT", corrupt="BTCUSDT-1h-2024-02-01.zip")
    serve_range(server, "ETHUSDT")
    with pytest.raises(FetchError) as caught:
        fetch(server, tmp_path, retries=2)
    message = str(caught.value)
    assert "1 of 6 files failed; no cache was written" in message
    assert "BTCUSDT-1h-2024-02-01.zip: corrupt: checksum mismatch: expected sha256" in message
    assert "(after 3 attempts)" in message
    bad = tmp_path / "data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02-01.zip"
    assert not bad.exists()
    assert not list(tmp_path.rglob("*.part"))
    assert not (tmp_path / "parquet").exists()
    assert (
        len(list(tmp_path.rglob("*.zip"))) == 5
    )  # the good files stay, verified, for the next run


def test_a_missing_month_fails_clearly_unless_allowed(server, tmp_path):
    serve_range(server, "BTCUSDT", skip="BTCUSDT-1h-2024-01.zip")
    serve_range(server, "ETHUSDT")
    with pytest.raises(
        FetchError,
        match=r"BTCUSDT-1h-2024-01\.zip: missing: not found \(HTTP 404\).*not published yet",
    ):
        fetch(server, tmp_path)
    asked = len(server.requests)
    report = fetch(server, tmp_path, allow_missing=True)
    assert len(server.requests) == asked + 1  # only the missing month's checksum is asked again
    assert report.failed.select("symbol", "status").rows() == [("BTCUSDT", "missing")]
    btc = pl.read_parquet(report.cache["BTCUSDT"])
    assert btc["ts"].min() == dt.datetime(2024, 2, 1)  # February's daily files only


def test_extract_unpacks_csvs_safely(server, tmp_path):
    serve_range(server, "ETHUSDT")
    fetch(server, tmp_path, symbols=["ETHUSDT"], extract=True, cache=False)
    csvs = sorted(p.name for p in (tmp_path / "csv").rglob("*.csv"))
    assert csvs == [
        "ETHUSDT-1h-2024-01.csv",
        "ETHUSDT-1h-2024-02-01.csv",
        "ETHUSDT-1h-2024-02-02.csv",
    ]
    assert not (tmp_path / "parquet").exists()


def test_safe_extract_refuses_path_tricks_and_symlinks(tmp_path):
    evil = tmp_path / "evil.zip"
    evil.write_bytes(zip_bytes({"ok.csv": b"1", "../../outside.csv": b"2"}))
    with pytest.raises(DataError, match=r"unsafe path '\.\./\.\./outside\.csv'"):
        safe_extract(evil, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "outside.csv").exists()
    absolute = tmp_path / "abs.zip"
    absolute.write_bytes(zip_bytes({"/etc/passwd": b"x"}))
    with pytest.raises(DataError, match="unsafe path '/etc/passwd'"):
        safe_extract(absolute, tmp_path / "out")
    import zipfile

    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as archive:
        info = zipfile.ZipInfo("data.csv")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="is a symlink"):
        safe_extract(link, tmp_path / "out")


def test_progress_bar_reports_files(server, tmp_path):
    serve_range(server, "ETHUSDT")
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    fetch(server, tmp_path, symbols=["ETHUSDT"], progress=True, console=console, cache=False)
    text = out.getvalue()
    assert "3/3" in text and "downloaded" in text


def test_cli_fetch_then_check(server, tmp_path, capsys):
    serve_range(server, "BTCUSDT")
    args = [
        "data",
        "fetch",
        "binance",
        "--market",
        "um",
        "--symbols",
        "BTCUSDT",
        "--interval",
        "1h",
        "--start",
        "2024-01-01",
        "--end",
        "2024-02-02",
        "--dir",
        str(tmp_path),
        "--base-url",
        server.url,
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 downloaded" in out and "BTCUSDT.parquet" in out and "mmsim.load_bars(" in out
    assert main(args) == 0
    assert "3 present" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "parquet" / "um" / "1h")]) == 0
    assert "0 gap(s)" in capsys.readouterr().out
    missing = [*args[:12], "2024-03-05", *args[13:]]  # March 3-5 are not served
    assert main(missing) == 2
    assert "HTTP 404" in capsys.readouterr().err
