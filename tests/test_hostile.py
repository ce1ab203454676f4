"""The hostile-input catalogue: what a careless user or an attacker may hand mmsim.

Each case sets up real files in a temporary folder (the current folder while it runs), does the
hostile thing, expects a clear error (an exception `mmsim` prints as one line, whose message
matches) and then checks that nothing was lost: the user's files, the previous results. The
reliability section of the documentation counts this table (`catalogue_counts`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import mmsim
from mmsim.atomic import (
    MARKER,
    FolderBusyError,
    IncompleteResultsError,
    NotResultsFolderError,
    folder_lock,
)
from mmsim.cli.commands import build_parser
from mmsim.core.engine import StrategyRunError
from mmsim.research.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@attrs.frozen
class Hostile:
    """One hostile input: `act` must raise `error` (type, message pattern); `kept` then holds."""

    name: str
    act: Callable[[Path, Any], Any]
    error: tuple[type[BaseException], str] | None
    kept: Callable[[Path, Any], None] | None = None
    setup: Callable[[Path], Any] | None = None


CASES: list[Hostile] = []


def hostile(name, *, error=None, setup=None, kept=None):
    def register(act):
        CASES.append(Hostile(name, act, error, kept, setup))
        return act

    return register


def catalogue_counts() -> dict[str, int]:
    """tried / clear error / nothing lost, as the reliability documentation states them."""
    return {
        "tried": len(CASES),
        "clear error": sum(c.error is not None for c in CASES),
        "nothing lost": sum(c.kept is not None for c in CASES),
    }


def cli(*argv: str) -> int:
    """Run a command as `mmsim` does, but let its error propagate (main prints it as one line)."""
    args = build_parser().parse_args([str(a) for a in argv])
    return args.func(args)


# ---------------------------------------------------------------------------------------------
# helpers: a user's files, and small results folders


def user_files(tmp: Path, folder: str = "DATA") -> dict[Path, bytes]:
    """A folder of the user's own files (CSVs, notes); returns their contents to compare later."""
    files = {
        tmp / folder / "BTCUSDT.csv": b"ts,open,high,low,close,volume\n",
        tmp / folder / "notes.md": b"# my notes\n",
        tmp / folder / "sub" / "keep.txt": b"keep me\n",
    }
    for path, body in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return files


def all_there(files: dict[Path, bytes]) -> None:
    for path, body in files.items():
        assert path.read_bytes() == body, f"{path} was lost or changed"


def only_these(folder: Path, files: dict[Path, bytes]) -> None:
    """The user's files are all there, and nothing was added among them."""
    all_there(files)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        {p.relative_to(folder).parts[0] for p in files}
    )


def small_result(seed: int) -> mmsim.Result:
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=seed)
    return mmsim.backtest(bars, mmsim.fixed_spread())


def saved(tmp: Path, seed: int = 1, name: str = "res") -> mmsim.Result:
    result = small_result(seed)
    result.save(tmp / name, report=False)
    return result


def hidden(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------------------
# 1. `--out` and a config's `out` replace only a results folder mmsim wrote

REFUSED = (NotResultsFolderError, r"refusing to replace .*not a results folder written by mmsim")


@hostile(
    "run --out a folder of data files",
    error=REFUSED,
    setup=user_files,
    kept=lambda tmp, files: all_there(files),
)
def _(tmp, files):
    cli("run", "--days", "0.01", "--out", "DATA", "--quiet")


@hostile(
    "run --out the current folder",
    error=(NotResultsFolderError, r"refusing to replace .*holds the current folder"),
    setup=lambda tmp: user_files(tmp, "."),
    kept=lambda tmp, files: all_there(files),
)
def _(tmp, files):
    cli("run", "--days", "0.01", "--out", ".", "--quiet")


@hostile(
    "run --out the parent of the current folder",
    error=(NotResultsFolderError, r"holds the current folder"),
    setup=lambda tmp: (user_files(tmp, "."), os.chdir(tmp / "sub"))[0],
    kept=lambda tmp, files: all_there(files),
)
def _(tmp, files):
    cli("run", "--days", "0.01", "--out", "..", "--quiet")


def config_two_levels_down(tmp: Path) -> dict[Path, bytes]:
    files = user_files(tmp, "work/project")
    config = tmp / "work" / "project" / "configs" / "run.toml"
    config.parent.mkdir()
    config.write_text(
        'out = "../.."\n[data]\nsynthetic = { days = 0.01 }\n'
        '[strategies]\n"*" = { strategy = "fixed_spread" }\n'
    )
    files[config] = config.read_bytes()
    return files


@hostile(
    'config with out = "../.." (the folder above the project)',
    error=REFUSED,
    setup=config_two_levels_down,
    kept=lambda tmp, files: all_there(files),
)
def _(tmp, files):
    cli("run", "--config", tmp / "work" / "project" / "configs" / "run.toml", "--quiet")


@hostile(
    "run --out a file",
    error=(NotResultsFolderError, r"refusing to replace .*not a folder"),
    setup=lambda tmp: user_files(tmp, "."),
    kept=lambda tmp, files: all_there(files),
)
def _(tmp, files):
    cli("run", "--days", "0.01", "--out", "notes.md", "--quiet")


@hostile(
    "save(overwrite=True) onto a folder of data files",
    error=REFUSED,
    setup=user_files,
    kept=lambda tmp, files: all_there(files),
)
def _(tmp, files):
    small_result(1).save(tmp / "DATA", overwrite=True, report=False)


def sweep_folder(tmp: Path) -> pl.DataFrame:
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1)
    return mmsim.sweep(
        bars,
        strategy=mmsim.fixed_spread,
        grid={"half_spread_bps": [5, 10]},
        executor="inprocess",
        out=tmp / "rows",
    )


@hostile(
    "run --out a sweep's folder",
    error=(NotResultsFolderError, r"holds mmsim's sweep results, not a run or comparison"),
    setup=sweep_folder,
    kept=lambda tmp, rows: assert_frame_equal(
        mmsim.load_sweep(tmp / "rows").sort("run_id"), rows.sort("run_id")
    ),
)
def _(tmp, rows):
    cli("run", "--days", "0.01", "--out", "rows", "--quiet")


@hostile(
    "sweep rows written into a folder of data files",
    error=(NotResultsFolderError, r"refusing to write sweep rows into .*holds files mmsim did not"),
    setup=user_files,
    kept=lambda tmp, files: only_these(tmp / "DATA", files),
)
def _(tmp, files):
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1)
    mmsim.sweep(bars, strategy=mmsim.fixed_spread, grid={"half_spread_bps": [5]}, out=tmp / "DATA")


# ---------------------------------------------------------------------------------------------
# 2. replacing a results folder, killed (SIGKILL) or interrupted (Ctrl-C) at each step

SAVE = """
import sys, mmsim
bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=2)
mmsim.backtest(bars, mmsim.fixed_spread()).save(sys.argv[1], overwrite=True, report=False)
"""


def replaced_at(point: str) -> Callable[[Path, Any], subprocess.CompletedProcess]:
    def act(tmp, old):
        env = {**os.environ, "MMSIM_CRASH_AT": point}
        return subprocess.run(
            [sys.executable, "-c", SAVE, str(tmp / "res")],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return act


def same(a: mmsim.Result, b: mmsim.Result) -> None:
    assert_frame_equal(a.fills, b.fills)
    assert_frame_equal(a.equity, b.equity)


def recovers(tmp: Path) -> None:
    """The next save to the folder succeeds and removes what the interrupted one left."""
    new = small_result(2)
    new.save(tmp / "res", overwrite=True, report=False)
    same(mmsim.load_result(tmp / "res"), new)
    assert hidden(tmp) == []


def killed_before_the_swap(tmp, old):
    same(mmsim.load_result(tmp / "res"), old)  # the old results, whole
    (new,) = [p for p in tmp.iterdir() if p.name.startswith(".res.mmsim-new-")]
    same(mmsim.load_result(new), small_result(2))  # the new ones, complete, beside it
    recovers(tmp)


def killed_between_aside_and_in(tmp, old):
    (aside,) = [p for p in tmp.iterdir() if p.name.startswith(".res.mmsim-old-")]
    (new,) = [p for p in tmp.iterdir() if p.name.startswith(".res.mmsim-new-")]
    same(mmsim.load_result(aside), old)  # neither is lost
    same(mmsim.load_result(new), small_result(2))
    recovers(tmp)


def interrupted_keeps_the_old(tmp, old):
    same(mmsim.load_result(tmp / "res"), old)
    assert hidden(tmp) == []


def killed_after_the_swap(tmp, old):
    same(mmsim.load_result(tmp / "res"), small_result(2))
    recovers(tmp)


def killed_while_removing_the_old(tmp, old):
    same(mmsim.load_result(tmp / "res"), small_result(2))
    (aside,) = [p for p in tmp.iterdir() if p.name.startswith(".res.mmsim-old-")]
    with pytest.raises(IncompleteResultsError, match=f"no {MARKER}"):
        mmsim.load_result(aside)  # half removed: never loads as if whole
    recovers(tmp)


for point, check in [
    ("built", killed_before_the_swap),
    ("built:INT", interrupted_keeps_the_old),
    ("aside", killed_between_aside_and_in),
    ("aside:INT", interrupted_keeps_the_old),
    ("in", killed_after_the_swap),
    ("removing", killed_while_removing_the_old),
]:
    hostile(
        f"replacing results, {'Ctrl-C' if point.endswith('INT') else 'killed'} at {point}",
        setup=saved,
        kept=check,
    )(replaced_at(point))


@hostile(
    "load a folder missing its completion marker",
    error=(IncompleteResultsError, r"not a complete mmsim results folder.*write was interrupted"),
    setup=lambda tmp: (saved(tmp), (tmp / "res" / MARKER).unlink()),
)
def _(tmp, state):
    mmsim.load_result(tmp / "res")


# ---------------------------------------------------------------------------------------------
# 3. two runs writing the same folder at once


def other_process_writing(tmp: Path) -> mmsim.Result:
    return saved(tmp)


@hostile(
    "run --out a folder another process is writing",
    error=(FolderBusyError, r"being written by another mmsim process \(pid \d+"),
    setup=other_process_writing,
    kept=lambda tmp, old: same(mmsim.load_result(tmp / "res"), old),
)
def _(tmp, old):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom mmsim.atomic import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)",
            str(tmp / "res"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        cli("run", "--days", "0.01", "--out", "res", "--quiet")
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------------------------
# 4. infinities and NaN in every numeric input column

T0 = "2024-01-01"


def frame_with(column: str, value: float, row: int = 3) -> pl.DataFrame:
    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.01, seed=3, start=T0)
    if column == "high":  # keep the bar consistent apart from the poison
        bars = bars.with_columns(pl.col("high").cast(pl.Float64))
    values = bars[column].cast(pl.Float64).to_list()
    values[row] = value
    return bars.with_columns(pl.Series(column, values))


for column, value in [
    ("high", float("inf")),
    ("close", float("-inf")),
    ("volume", float("inf")),
    ("funding_rate", float("nan")),
    ("funding_rate", float("inf")),
]:
    hostile(
        f"{value} {column} in a bars frame",
        error=(mmsim.BarsError, rf"{value} in column '{column}' at symbol '\w+', row 3 \(ts "),
    )(
        lambda tmp, _, column=column, value=value: mmsim.backtest(
            frame_with(column, value), mmsim.fixed_spread()
        )
    )


CSV_HEAD = "ts,symbol,open,high,low,close,volume\n"


def csv_rows(*rows: str) -> str:
    good = [f"2024-01-01T00:0{k}:00,BTCUSDT,100,101,99,100,{5 + k}" for k in range(4)]
    return CSV_HEAD + "\n".join(good + list(rows)) + "\n"


@hostile(
    "inf in a CSV, read by `mmsim data check`",
    error=(mmsim.DataError, r"bars\.csv line 6 \(symbol 'BTCUSDT'\): inf in column 'high'"),
    setup=lambda tmp: (tmp / "bars.csv").write_text(
        csv_rows("2024-01-01T00:04:00,BTCUSDT,100,inf,99,100,5")
    ),
)
def _(tmp, _):
    cli("data", "check", "bars.csv")


@hostile(
    "inf in an extra CSV column",
    error=(mmsim.DataError, r"line 3 \(symbol 'BTCUSDT'\): inf in column 'quote_volume'"),
    setup=lambda tmp: (tmp / "bars.csv").write_text(
        "ts,symbol,open,high,low,close,volume,quote_volume\n"
        "2024-01-01T00:00:00,BTCUSDT,100,101,99,100,5,500\n"
        "2024-01-01T00:01:00,BTCUSDT,100,101,99,100,5,inf\n"
    ),
)
def _(tmp, _):
    mmsim.data.load_bars(tmp / "bars.csv")


# ---------------------------------------------------------------------------------------------
# 5. timestamps no market has: negative epochs, seconds too large (read as ms), 1916 dates

for label, stamps in [
    ("negative epoch seconds", (-1_700_000_000 + 60 * k for k in range(3))),
    ("epoch seconds >= 1e11", (100_000_000_000 + 60 * k for k in range(3))),
    ("epoch ms before 1980", (100_000_000_000 + 60_000 * k for k in range(3))),
]:
    body = CSV_HEAD + "".join(f"{t},BTCUSDT,100,101,99,100,5\n" for t in stamps)
    hostile(
        f"{label} in a CSV",
        error=(mmsim.DataError, r"is in an unknown unit: no market time \(.*expected seconds"),
        setup=lambda tmp, body=body: (tmp / "bars.csv").write_text(body),
    )(lambda tmp, _: mmsim.data.load_bars(tmp / "bars.csv"))


@hostile(
    "an ISO date in 1916",
    error=(
        mmsim.DataError,
        r"time 1916-03-01 00:00:00 is not a market time .*; its times were read as ISO text",
    ),
    setup=lambda tmp: (tmp / "bars.csv").write_text(
        CSV_HEAD + "".join(f"1916-03-01T00:0{k}:00,BTCUSDT,100,101,99,100,5\n" for k in range(3))
    ),
)
def _(tmp, _):
    mmsim.data.load_bars(tmp / "bars.csv")


# ---------------------------------------------------------------------------------------------
# 6. a ZIP that declares 100 bytes and inflates to hundreds of MB

BOMB_MB = 400
READ_ZIP = r"""
import re, sys
from pathlib import Path
from mmsim.data.files import read_zip_csv
try:
    read_zip_csv(sys.argv[1])
    print("read")
except Exception as exc:
    print(type(exc).__name__, exc)
# this process's peak resident memory (ru_maxrss would include the parent's, before exec)
print(int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]) // 1024)
"""


def zip_bomb(tmp: Path) -> tuple[Path, Path]:
    """A ZIP of BOMB_MB MiB of zeros whose headers declare 100 bytes, and a small honest ZIP."""
    import struct
    import zipfile

    bomb = tmp / "BTCUSDT-1m-2024-01.zip"
    zeros = bytes(1 << 20)
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("BTCUSDT-1m-2024-01.csv", "w") as member,
    ):
        for _ in range(BOMB_MB):
            member.write(zeros)
    data = bytearray(bomb.read_bytes())
    struct.pack_into("<I", data, 22, 100)  # the local header's uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # and the central directory's
    bomb.write_bytes(bytes(data))
    honest = tmp / "honest" / bomb.name
    honest.parent.mkdir()
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BTCUSDT-1m-2024-01.csv", "x" * 100)
    return bomb, honest


def peak_mb(path: Path) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", READ_ZIP, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.splitlines()
    return out[0], int(out[-1])


def bounded_memory(tmp: Path, paths: tuple[Path, Path]) -> None:
    bomb, honest = paths
    message, bomb_mb = peak_mb(bomb)
    _, honest_mb = peak_mb(honest)
    assert message.startswith("DataError"), message
    assert bomb_mb < honest_mb + BOMB_MB / 4, (bomb_mb, honest_mb)  # never inflated whole


@hostile(
    "a ZIP declaring 100 B that inflates to 400 MiB",
    error=(mmsim.DataError, r"BTCUSDT-1m-2024-01\.zip: .*(CRC|corrupt|more than)"),
    setup=zip_bomb,
    kept=bounded_memory,
)
def _(tmp, paths):
    mmsim.data.load_bars(paths[0])


# ---------------------------------------------------------------------------------------------
# 7. downloads: a trickling server, stale .part files, a corrupt ZIP the checksum vouches for


def served(tmp: Path, fault: str = "", corrupt_zip: bool = False):
    from data_support import DumpServer, checksum_text, kline_csv

    server = DumpServer().__enter__()
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=1, interval="1h", start=T0, funding=False)
    path = "data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01-01.zip"
    good = server.add_dump(path, kline_csv(bars, interval_ms=3_600_000))
    if corrupt_zip:  # a damaged file whose published checksum is of the damage
        bad = good[:-40] + bytes(40)
        server.files[path], server.files[path + ".CHECKSUM"] = (
            bad,
            checksum_text(bad, Path(path).name),
        )
        server.good = (path, good, checksum_text(good, Path(path).name))
    if fault:
        server.faults[path].append(fault)
    server.target = tmp / "dl" / path
    return server


def fetch_day(tmp: Path, server, **kw):
    return mmsim.data.fetch_binance(
        market="um",
        symbols=["BTCUSDT"],
        interval="1h",
        start=T0,
        end=T0,
        dest=tmp / "dl",
        base_url=server.url,
        progress=False,
        backoff=0.01,
        **kw,
    )


def nothing_partial(tmp: Path, server) -> None:
    assert not server.target.exists()
    assert not list(server.target.parent.glob(".*.part"))


@hostile(
    "a server sending a byte every 0.2 s (--timeout 1)",
    error=(mmsim.FetchError, r"too slow: .* bytes in \d+ s"),
    setup=lambda tmp: served(tmp, "trickle"),
    kept=nothing_partial,
)
def _(tmp, server):
    fetch_day(tmp, server, timeout=1.0, retries=0)


@hostile(
    "a server sending its response headers a byte every 0.2 s (--timeout 1)",
    error=(mmsim.FetchError, r"too slow: no response within 1 s"),
    setup=lambda tmp: served(tmp, "trickle-headers"),
    kept=nothing_partial,
)
def _(tmp, server):
    fetch_day(tmp, server, timeout=1.0, retries=0)


def stale_part(tmp: Path):
    server = served(tmp)
    server.target.parent.mkdir(parents=True)
    server.stale = server.target.parent / f".{server.target.name}.k3j2.part"
    server.stale.write_bytes(b"half a download")
    return server


@hostile(
    "a stale .part file of an interrupted fetch",
    setup=stale_part,
    kept=lambda tmp, server: (
        (server.target.is_file() and not server.stale.exists())
        or pytest.fail("the stale .part file is still there")
    ),
)
def _(tmp, server):
    fetch_day(tmp, server, timeout=5.0)


def refetched_once_fixed(tmp: Path, server) -> None:
    nothing_partial(tmp, server)
    path, good, checksum = server.good
    server.files[path], server.files[path + ".CHECKSUM"] = good, checksum
    report = fetch_day(tmp, server, timeout=5.0)  # the corrupt file does not block this
    assert report.files["status"].to_list() == ["downloaded"]
    assert mmsim.data.load_bars(server.target).height == 24


@hostile(
    "a corrupt ZIP whose server checksum matches",
    error=(
        mmsim.FetchError,
        r"corrupt: matches the server's checksum but is not a readable ZIP",
    ),
    setup=lambda tmp: served(tmp, corrupt_zip=True),
    kept=refetched_once_fixed,
)
def _(tmp, server):
    fetch_day(tmp, server, timeout=5.0, retries=0)


# ---------------------------------------------------------------------------------------------
# 8. symbol names are not paths; 9. nor markup; set names neither

ESCAPE = "A/../../../../x"
PAYLOAD = "<!--<script>"


def doctored(symbol: str, name: str = "fixed_spread") -> mmsim.Result:
    """A run whose symbol (and strategy name) were rewritten after the fact, as in an edited
    results folder: the writers must stay safe even for names the bars check would refuse."""
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.05, seed=5)
    result = mmsim.backtest(bars, mmsim.fixed_spread())
    rename = {
        frame: getattr(result, frame).with_columns(pl.col("symbol").replace("BTCUSDT", symbol))
        for frame in ("fills", "symbols", "rejections", "summary", "posted")
    }
    text = json.dumps(result.config, default=str).replace('"BTCUSDT"', json.dumps(symbol))
    config = {**json.loads(text), "strategies": {symbol: name}}
    return attrs.evolve(result, **rename, config=config)


@hostile(
    "a symbol with '/..' in a bars frame",
    error=(mmsim.BarsError, r"symbol 'A/\.\./\.\./\.\./\.\./x' is not a symbol name"),
)
def _(tmp, _):
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1)
    mmsim.backtest(bars.with_columns(pl.lit(ESCAPE).alias("symbol")), mmsim.fixed_spread())


@hostile(
    "a symbol with '/..' in a run TOML",
    error=(ConfigError, r"run\.toml: symbols: symbol 'A/\.\./.*' is not a symbol name"),
    setup=lambda tmp: (tmp / "run.toml").write_text(
        f'symbols = ["{ESCAPE}"]\n[data]\nsynthetic = {{ days = 0.01 }}\n'
        '[strategies]\n"*" = { strategy = "fixed_spread" }\n'
    ),
)
def _(tmp, _):
    cli("run", "--config", "run.toml", "--quiet")


@hostile(
    "a symbol with '/..' in a saved run's frames (its chart file names)",
    kept=lambda tmp, _: only_inside(tmp, tmp / "work" / "res"),
    setup=lambda tmp: (tmp / "work").mkdir(),
)
def _(tmp, _):
    doctored(ESCAPE).save(tmp / "work" / "res")


def only_inside(tmp: Path, folder: Path) -> None:
    """Every file under tmp lies inside `folder`."""
    strays = [p for p in tmp.rglob("*") if p.is_file() and folder not in p.parents]
    assert strays == [], strays
    assert any(p.suffix == ".png" for p in (folder / "charts").iterdir())


@hostile(
    "a set name with '/..' in a comparison",
    error=(ValueError, r"set names must be non-empty folder-safe strings, got '\.\./\.\./evil'"),
    kept=lambda tmp, _: only_these(tmp, {}),
)
def _(tmp, _):
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1)
    comparison = mmsim.compare(bars, {"../../evil": mmsim.fixed_spread(), "b": mmsim.tokyo()})
    comparison.save(tmp / "cmp", report=False)


def chart_specs(page: str) -> list[str]:
    return re.findall(r'<script type="application/json" id="[^"]*">(.*?)</script>', page, re.S)


def markup_stays_data(tmp: Path, _) -> None:
    page = (tmp / "report.html").read_text()
    specs = chart_specs(page)
    assert specs and all("<" not in text for text in specs)  # nothing a parser could read as a tag
    decoded = [json.loads(text) for text in specs]
    assert any(PAYLOAD in json.dumps(spec) for spec in decoded)  # the name is kept, as data
    assert page.count("<script") == page.count("</script>")


@hostile(
    f"{PAYLOAD} as a symbol and a strategy name in report.html",
    kept=markup_stays_data,
)
def _(tmp, _):
    doctored(PAYLOAD, name=PAYLOAD).report(tmp / "report.html")


# ---------------------------------------------------------------------------------------------
# 10. a config's "module:function" is code: it must name a strategy factory

SWEEP_TOML = """
[data.synthetic]
symbols = ["BTCUSDT"]
days = 0.02
[strategy]
name = "{name}"
[grid]
command = ["touch pwned"]
[sweep]
executor = "inprocess"
out = "rows"
"""


@hostile(
    'a sweep TOML with [strategy] name = "os:system"',
    error=(ConfigError, r"sweep\.toml: \[strategy\] name: strategy 'os:system' is not a Python"),
    setup=lambda tmp: (tmp / "sweep.toml").write_text(SWEEP_TOML.format(name="os:system")),
    kept=lambda tmp, _: [p.name for p in tmp.iterdir()] == ["sweep.toml"] or pytest.fail("wrote"),
)
def _(tmp, _):
    cli("sweep", "sweep.toml", "--quiet")


@hostile(
    "a sweep TOML naming a function not annotated -> Strategy",
    error=(ConfigError, r"'shutil:rmtree' is not annotated to return a Strategy"),
    setup=lambda tmp: (tmp / "sweep.toml").write_text(SWEEP_TOML.format(name="shutil:rmtree")),
)
def _(tmp, _):
    cli("sweep", "sweep.toml", "--quiet")


# ---------------------------------------------------------------------------------------------
# 11. a strategy that raises or returns nonsense: named, with the symbol and the bar


def run_strategy(propose: Callable) -> mmsim.Result:
    bars = mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1, start=T0)
    return mmsim.backtest(bars, mmsim.stateless("wobbly", propose))


def third_bar(make: Callable) -> Callable:
    """Quote normally, then return `make(inputs)` from the bar at 00:02 on."""
    start = dt.datetime(2024, 1, 1, 0, 2, tzinfo=dt.timezone.utc).timestamp() * 1e6

    def propose(inputs):
        if inputs.bar.ts < start - 0.5:
            return mmsim.Quotes(
                ((inputs.bar.close * 0.99, 0.01),), ((inputs.bar.close * 1.01, 0.01),)
            )
        return make(inputs)

    return propose


def _raise(inputs):
    raise KeyError("spread")


AT_BAR = r"strategy 'wobbly' on BTCUSDT at the bar of ts 2024-01-01 00:02:00 "
for label, make, expected in [
    ("raises", _raise, r"raised KeyError: 'spread'"),
    ("returns None", lambda inputs: None, r"returned quotes None; expected a Quotes"),
    (
        "returns NaN as reservation price",
        lambda inputs: mmsim.Quotes(reservation_price=float("nan")),
        r"returned reservation_price nan; expected a finite number or None",
    ),
    (
        "returns a text quantity",
        lambda inputs: mmsim.Quotes(bids=((inputs.bar.close, "1"),)),
        r"returned bid level 0 \(price [\d.]+, qty '1'\); expected positive finite numbers",
    ),
    (
        "returns a negative quantity",
        lambda inputs: mmsim.Quotes(asks=((inputs.bar.close * 1.01, -0.5),)),
        r"returned ask level 0 \(price [\d.]+, qty -0\.5\); expected positive finite numbers",
    ),
    (
        "returns a zero price",
        lambda inputs: mmsim.Quotes(bids=((0.0, 0.01),)),
        r"returned bid level 0 \(price 0\.0, qty 0\.01\); expected positive finite numbers",
    ),
]:
    hostile(f"a strategy that {label}", error=(StrategyRunError, AT_BAR + expected))(
        lambda tmp, _, make=make: run_strategy(third_bar(make))
    )


# ---------------------------------------------------------------------------------------------
# 12. validation of risk, venue and config values


for label, act, error in [
    (
        "basic_risk(min_order_value=-5)",
        lambda: mmsim.basic_risk(min_order_value=-5),
        r"min_order_value must be a finite number >= 0, got -5",
    ),
    (
        "basic_risk(min_order_value=nan)",
        lambda: mmsim.basic_risk(min_order_value=float("nan")),
        r"min_order_value must be a finite number >= 0, got nan",
    ),
    (
        "basic_risk(emergency_drawdown=inf)",
        lambda: mmsim.basic_risk(emergency_drawdown=float("inf")),
        r"emergency_drawdown must be a finite number in \(0, 1\) or None, got inf",
    ),
    (
        "Venue(market_slippage_bps=10000)",
        lambda: mmsim.Venue(market_slippage_bps=10_000),
        r"market_slippage_bps must be a finite number in \[0, 1000\), got 10000",
    ),
    (
        'Venue(maker_fee="0.1")',
        lambda: mmsim.Venue(maker_fee="0.1"),
        r"maker_fee must be a finite number in \(-0\.01, 0\.01\), got '0\.1'",
    ),
]:
    hostile(label, error=(ValueError, error))(lambda tmp, _, act=act: act())


def small_bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT",), days=0.01, seed=1)


for label, kwargs, error in [
    ("backtest(risk=None)", {"risk": None}, r"risk must be a RiskRule such as mmsim\.basic_risk"),
    ("backtest(venue={...})", {"venue": {"maker_fee": 0.0}}, r"venue must be a mmsim\.Venue"),
    (
        "backtest(initial_cash=inf)",
        {"initial_cash": float("inf")},
        r"initial_cash must be a finite",
    ),
]:
    hostile(label, error=((TypeError, ValueError)[label.endswith("inf)")], error))(
        lambda tmp, _, kwargs=kwargs: mmsim.backtest(small_bars(), mmsim.fixed_spread(), **kwargs)
    )


def run_toml(extra: str, table: str = "", synthetic: str = "days = 0.01") -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        (tmp / "run.toml").write_text(
            f"{extra}\n[data]\nsynthetic = {{ {synthetic} }}\n{table}\n"
            '[strategies]\n"*" = { strategy = "fixed_spread" }\n'
        )

    return write


for label, setup, error in [
    (
        "a wrongly typed [venue] value in a run TOML",
        run_toml("", '[venue]\nmaker_fee = "0.1"'),
        r"run\.toml: \[venue\]: maker_fee must be a finite number in \(-0\.01, 0\.01\), got '0\.1'",
    ),
    (
        "a wrongly typed [risk] value in a run TOML",
        run_toml("", '[risk]\nmax_leverage = "3"'),
        r"run\.toml: \[risk\]: max_leverage must be a finite number > 0 or None, got '3'",
    ),
    (
        "initial_cash = inf in a run TOML",
        run_toml("initial_cash = inf"),
        r"run\.toml: initial_cash must be a positive number of USDT, got inf",
    ),
    (
        "a text symbols list in [data.synthetic] (read letter by letter)",
        run_toml("", synthetic='symbols = "BTC", days = 0.01'),
        r"run\.toml: \[data\.synthetic\]: symbols must be a list of symbol names such as "
        r"\['BTCUSDT'\], got 'BTC'",
    ),
    (
        "a wrongly typed [data.synthetic] days",
        run_toml("", synthetic='days = "x"'),
        r"run\.toml: \[data\.synthetic\]: days must be a finite number > 0, got 'x'",
    ),
    (
        "a fractional [data.synthetic] seed",
        run_toml("", synthetic="days = 0.01, seed = 1.5"),
        r"run\.toml: \[data\.synthetic\]: seed must be a whole number >= 0, got 1\.5",
    ),
    (
        "a module:function strategy in a run TOML",
        lambda tmp: (tmp / "run.toml").write_text(
            '[data]\nsynthetic = { days = 0.01 }\n[strategies]\n"*" = { strategy = "os:system" }\n'
        ),
        r"run\.toml: \[strategies\] \*: unknown strategy 'os:system'",
    ),
    (
        "a [sets] name with '/..' in a run TOML",
        lambda tmp: (tmp / "run.toml").write_text(
            '[data]\nsynthetic = { days = 0.01 }\n[sets."../x"]\n"*" = { strategy = "tokyo" }\n'
        ),
        r"run\.toml: \[sets\] name '\.\./x' cannot name a folder",
    ),
]:
    hostile(label, error=(ConfigError, error), setup=setup)(
        lambda tmp, _: cli("run", "--config", "run.toml", "--quiet")
    )


def sweep_toml(sweep: str = "", tables: str = "") -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        (tmp / "sweep.toml").write_text(
            '[data.synthetic]\nsymbols = ["BTCUSDT"]\ndays = 0.02\n[strategy]\n'
            'name = "fixed_spread"\n[grid]\nhalf_spread_bps = [5, 10]\n'
            f'[sweep]\nexecutor = "inprocess"\nout = "rows"\n{sweep}\n{tables}\n'
        )

    return write


for label, setup, error in [
    (
        "initial_cash = inf in a sweep TOML",
        sweep_toml("initial_cash = inf"),
        r"sweep\.toml: \[sweep\] initial_cash must be a finite number > 0, got inf",
    ),
    (
        'allow_gaps = "no" in a sweep TOML (a text is not a flag)',
        sweep_toml('allow_gaps = "no"'),
        r"sweep\.toml: \[sweep\] allow_gaps must be true or false, got 'no'",
    ),
    (
        "a wrongly typed [venue] value in a sweep TOML",
        sweep_toml(tables='[venue]\nmaker_fee = "0.1"'),
        r"sweep\.toml: \[venue\]: maker_fee must be a finite number in \(-0\.01, 0\.01\)",
    ),
    (
        "a wrongly typed [walk_forward] value in a sweep TOML",
        sweep_toml(tables='[walk_forward]\nanchored = "yes"'),
        r"sweep\.toml: \[walk_forward\] anchored must be true or false, got 'yes'",
    ),
]:
    hostile(
        label,
        error=(ConfigError, error),
        setup=setup,
        kept=lambda tmp, _: [p.name for p in tmp.iterdir()] == ["sweep.toml"] or pytest.fail("ran"),
    )(lambda tmp, _: cli("sweep", "sweep.toml", "--quiet"))


@hostile(
    "deeply nested JSON read by `mmsim data check`",
    error=(mmsim.DataError, r"deep\.json: JSON nested too deeply"),
    setup=lambda tmp: (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000),
)
def _(tmp, _):
    cli("data", "check", "deep.json")


# ---------------------------------------------------------------------------------------------
# the harness


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(case: Hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state = case.setup(tmp_path) if case.setup else None
    try:
        if case.error is None:
            case.act(tmp_path, state)
        else:
            kind, pattern = case.error
            # the errors `mmsim` prints as one line (TypeError: a wrongly typed API argument)
            assert issubclass(kind, ValueError | FileNotFoundError | FileExistsError | TypeError)
            with pytest.raises(kind, match=pattern):
                case.act(tmp_path, state)
        if case.kept is not None:
            case.kept(tmp_path, state)
    finally:
        if hasattr(state, "__exit__"):  # a server started for the case
            state.__exit__(None, None, None)


def test_the_readme_states_the_catalogue_s_counts():
    text = " ".join((ROOT / "README.md").read_text().split())
    stated = re.search(
        r"(\d+) tried, (\d+) answered by a clear error, (\d+) checked to lose nothing", text
    )
    assert stated is not None, "the README's reliability section lost its counts"
    counts = catalogue_counts()
    assert tuple(map(int, stated.groups())) == (
        counts["tried"],
        counts["clear error"],
        counts["nothing lost"],
    )


def test_the_readme_says_a_config_naming_a_function_is_code():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert 'names its strategy as `"module:function"`' in text
    assert "is code: mmsim imports that module" in text
    assert "checked before it is called" in text


def test_data_check_says_which_time_unit_it_detected(tmp_path, capsys, monkeypatch):
    """Each file's epoch unit is detected from its size; `mmsim data check` says which it took."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two").mkdir()
    for name, symbol, first, step in [
        ("sec.csv", "BTCUSDT", 1_700_000_000, 60),
        ("ms.csv", "ETHUSDT", 1_700_000_000_000, 60_000),
    ]:
        rows = (f"{first + step * k},{symbol},100,101,99,100,5\n" for k in range(5))
        (tmp_path / "two" / name).write_text(CSV_HEAD + "".join(rows))
    assert cli("data", "check", "two") == 0
    out = capsys.readouterr().out
    assert "times read as epoch seconds (detected): sec.csv" in out
    assert "times read as epoch milliseconds (detected): ms.csv" in out


def test_two_runs_at_once_to_one_folder_both_end_cleanly(tmp_path):
    """Two real `mmsim run`s race for one --out: each finishes or fails clearly; it loads."""
    argv = [sys.executable, "-m", "mmsim.cli", "run", "--days", "0.01", "--out", "res", "--quiet"]
    procs = [
        subprocess.Popen(
            argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    for code, err in outcomes:
        assert code == 0 or (code == 2 and "being written by another mmsim process" in err), err
    assert any(code == 0 for code, _ in outcomes)
    assert mmsim.load_result(tmp_path / "res").equity.height > 0
    assert hidden(tmp_path) == []


def test_a_config_out_is_relative_to_the_config_and_announced(tmp_path, capsys, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cfg" / "run.toml").write_text(
        'out = "results/one"\n[data]\nsynthetic = { days = 0.01 }\n'
        '[strategies]\n"*" = { strategy = "fixed_spread" }\n'
    )
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli("run", "--config", "../cfg/run.toml", "--quiet") == 0
    target = (tmp_path / "cfg" / "results" / "one").resolve()
    said = capsys.readouterr()
    assert f"results will go to {target}/" in (said.out + said.err).replace("\n", "")
    assert mmsim.load_result(target).equity.height > 0
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_rerunning_replaces_mmsim_s_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    old = saved(tmp_path)
    with folder_lock(tmp_path / "res"):  # the lock is re-entrant within a process
        small_result(2).save(tmp_path / "res", overwrite=True, report=False)
    with pytest.raises(AssertionError):
        same(mmsim.load_result(tmp_path / "res"), old)
    assert hidden(tmp_path) == []
