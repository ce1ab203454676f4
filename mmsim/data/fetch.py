"""Download Binance kline dumps from data.binance.vision, verify them, and build a Parquet cache.

Layout under `dest` (mirrors the server, so the same files can be synced by other tools):
    dest/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip (+ .zip.CHECKSUM)
    dest/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-04-05.zip
    dest/parquet/<market>/<interval>/BTCUSDT.parquet      (the cache; `load_bars` reads it)
Trade dumps (kind="trades" or "aggTrades") follow the same layout without the interval folder:
    dest/data/spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2024-04-05.zip
and get the same verification; their cache is dest/parquet/<market>/<kind>/<SYMBOL>.parquet,
the trades frame of `mmsim.read_trades`.
Whole months come as monthly ZIPs; the days of a partial month (at either end of the range)
as daily ZIPs. Each ZIP is checked against the SHA-256 in its `.CHECKSUM` file before it is
renamed into place, so a file under its final name is always complete and verified; a file
already present with a matching checksum is not downloaded again. Transient failures
(connection errors, timeouts, HTTP 5xx/429, short bodies, checksum mismatches) are retried
with exponential backoff; a missing file (HTTP 404) is not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import os
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import polars as pl

from mmsim.data.binance import parse_kline_name, read_binance_klines
from mmsim.data.errors import DataError, FetchError
from mmsim.data.files import atomic_write, safe_extract
from mmsim.data.trades import read_trades

BASE_URL = "https://data.binance.vision"
MARKETS = {"spot": "spot", "um": "futures/um"}
INTERVALS = (
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
)
KINDS = ("klines", "trades", "aggTrades")
_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
_CHUNK = 1 << 16


@attrs.frozen(slots=True)
class RemoteFile:
    """One dump file: its symbol, path relative to the base URL (and to `dest`), and day span."""

    symbol: str
    path: str
    first_day: dt.date
    last_day: dt.date

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _month_end(day: dt.date) -> dt.date:
    nxt = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _as_date(value: str | dt.date, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(f"{name}={value!r}: use a date like 2024-01-31") from None


def plan_files(
    *,
    market: str,
    symbols: Iterable[str],
    interval: str | None,
    start: str | dt.date,
    end: str | dt.date,
    kind: str = "klines",
) -> list[RemoteFile]:
    """The monthly and daily files covering [start, end] (both days included), per symbol.

    kind: "klines" (bars of `interval`), "trades" or "aggTrades" (interval unused).
    """
    if market not in MARKETS:
        raise DataError(f"market={market!r}: choose one of {sorted(MARKETS)}")
    if kind not in KINDS:
        raise DataError(f"kind={kind!r}: choose one of {', '.join(KINDS)}")
    if kind != "klines":
        return _plan(market, symbols, kind, None, start, end)
    if interval not in INTERVALS:
        raise DataError(f"interval={interval!r}: Binance dumps have {', '.join(INTERVALS)}")
    if interval == "1s" and market != "spot":
        raise DataError("1s klines exist for the spot market only")
    return _plan(market, symbols, "klines", interval, start, end)


def _plan(market, symbols, kind, interval, start, end) -> list[RemoteFile]:
    first, last = _as_date(start, "start"), _as_date(end, "end")
    if first > last:
        raise DataError(f"start {first} is after end {last}")
    symbols = [s.strip().upper() for s in symbols if s.strip()]
    if not symbols:
        raise DataError("no symbols to fetch")
    for s in symbols:
        if not re.fullmatch(r"[A-Z0-9]{2,30}", s):
            raise DataError(f"symbol {s!r} is not a Binance symbol like BTCUSDT")
    root = f"data/{MARKETS[market]}"
    files = []
    for symbol in symbols:
        # klines: <SYMBOL>/<interval>/<SYMBOL>-<interval>-...; trades: <SYMBOL>/<SYMBOL>-<kind>-...
        folder = f"{kind}/{symbol}/{interval}" if interval else f"{kind}/{symbol}"
        stem = f"{symbol}-{interval or kind}"
        month = dt.date(first.year, first.month, 1)
        while month <= last:
            lo, hi = max(month, first), min(_month_end(month), last)
            if lo == month and hi == _month_end(month):
                name = f"{stem}-{month:%Y-%m}.zip"
                files.append(RemoteFile(symbol, f"{root}/monthly/{folder}/{name}", lo, hi))
            else:
                day = lo
                while day <= hi:
                    name = f"{stem}-{day:%Y-%m-%d}.zip"
                    files.append(RemoteFile(symbol, f"{root}/daily/{folder}/{name}", day, day))
                    day += dt.timedelta(days=1)
            month = _month_end(month) + dt.timedelta(days=1)
    return files


class _Missing(Exception):
    """HTTP 404: the server does not have the file."""


class _Transient(Exception):
    """A failure worth retrying."""


MIN_RATE = 64 * 1024  # bytes/s: a download slower than this on average is abandoned


class _HeadersDeadline:
    """Cuts the connection when the response headers are not all in within `seconds`.

    The socket timeout bounds each read only: a server sending its headers a byte at a time
    would otherwise hold the request for as long as it likes.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the plain socket's: a blocked TLS read sees EOF
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _handler(self, base: type) -> urllib.request.BaseHandler:
        deadline = self

        class Tracked(base):
            def do_open(self, http_class, req, **kw):
                class Connection(http_class):
                    def connect(self):
                        super().connect()
                        deadline._track(self.sock)

                return super().do_open(Connection, req, **kw)

        return Tracked()

    def open(self, request: urllib.request.Request, timeout: float):
        """`urlopen(request)`, its status line and headers read within the deadline."""
        opener = urllib.request.build_opener(
            self._handler(urllib.request.HTTPHandler), self._handler(urllib.request.HTTPSHandler)
        )
        timer = threading.Timer(self.seconds, self._cut)
        timer.daemon = True
        timer.start()
        try:
            response = opener.open(request, timeout=timeout)
        finally:
            timer.cancel()
        if self.expired:  # cut just as the headers came in: the body would be cut too
            response.close()
            raise OSError("response cut at the deadline")
        return response


def _get(url: str, timeout: float, sink: Callable[[bytes], None]) -> int:
    """Stream `url` into `sink`, return the byte count; raise _Missing, _Transient or FetchError.

    `timeout` bounds each read, the wait for the response headers and, plus one second per
    MIN_RATE bytes of the declared length, the whole download: a server trickling a byte at a
    time cannot hold a file forever.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "mmsim-data-fetch"})
    started = time.monotonic()
    deadline = _HeadersDeadline(timeout)
    try:
        with deadline.open(request, timeout) as response:
            expected = response.headers.get("Content-Length")
            allowed = timeout + (int(expected) if expected and expected.isdigit() else 0) / MIN_RATE
            total = 0
            while chunk := response.read1(_CHUNK):  # returns what arrived, not _CHUNK bytes
                sink(chunk)
                total += len(chunk)
                if time.monotonic() - started > allowed:
                    raise _Transient(
                        f"too slow: {total:,} bytes in {time.monotonic() - started:.0f} s (a file "
                        f"must arrive within {allowed:.0f} s: --timeout plus 1 s per "
                        f"{MIN_RATE // 1024} KiB)"
                    )
            if expected is not None and total != int(expected):
                raise _Transient(f"short body: {total} of {expected} bytes")
            return total
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise _Missing(url) from None
        if exc.code in _TRANSIENT_HTTP:
            raise _Transient(f"HTTP {exc.code}") from None
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (http.client.HTTPException, OSError) as exc:  # URLError is an OSError
        if deadline.expired:
            raise _Transient(
                f"too slow: no response within {timeout:g} s (--timeout bounds the wait for "
                "the response headers too)"
            ) from None
        if not isinstance(exc, _RETRIED):
            raise
        raise _Transient(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


_RETRIED = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


def parse_checksum(text: str, name: str, where: str) -> str:
    """The SHA-256 hex digest in a Binance `.CHECKSUM` file ('<sha256>  <file name>')."""
    match = re.fullmatch(r"\s*([0-9a-fA-F]{64})\s+\*?(\S+)\s*", text)
    if not match:
        raise FetchError(f"{where}: malformed checksum file {text[:100]!r}")
    if match[2] != name:
        raise FetchError(f"{where}: checksum is for {match[2]!r}, not {name!r}")
    return match[1].lower()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _zip_problem(path: Path) -> str | None:
    """Why `path` is not a readable ZIP (every member's CRC is checked), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
        return None if bad is None else f"bad CRC in {bad!r}"
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
        return f"{type(exc).__name__}: {exc}"


class _CorruptZip(FetchError):
    status = "corrupt"


def _install(tmp: Path, target: Path) -> None:
    """Rename a verified download onto `target`, unless it is not a readable ZIP."""
    problem = _zip_problem(tmp)
    if problem is not None:
        kept = _quarantine(tmp, target)
        raise _CorruptZip(
            f"matches the server's checksum but is not a readable ZIP ({problem}); "
            f"kept as {kept} for inspection (delete it when done)"
        )
    os.replace(tmp, target)


def _tidy(target: Path, checksum_path: Path) -> None:
    """Remove what earlier runs left: stale .part files, and an unreadable ZIP (set aside)."""
    for stale in target.parent.glob(f".{target.name}.*.part"):
        stale.unlink(missing_ok=True)
    if target.exists() and _zip_problem(target) is not None:
        _quarantine(target)  # fetched again below
        checksum_path.unlink(missing_ok=True)


def _quarantine(path: Path, name: Path | None = None) -> Path:
    """Move an unreadable ZIP aside as NAME.corrupt, so it no longer passes for a good one."""
    kept = (name or path).with_name((name or path).name + ".corrupt")
    os.replace(path, kept)
    return kept


@attrs.frozen(slots=True)
class _Outcome:
    file: RemoteFile
    status: str  # downloaded | present | missing | corrupt | error
    size: int = 0
    attempts: int = 0
    error: str = ""


def _fetch_one(
    remote: RemoteFile,
    dest: Path,
    base_url: str,
    *,
    retries: int,
    backoff: float,
    timeout: float,
    on_bytes: Callable[[int], None],
) -> _Outcome:
    target = dest / remote.path
    checksum_path = target.with_name(target.name + ".CHECKSUM")
    url = f"{base_url}/{remote.path}"
    _tidy(target, checksum_path)
    if target.exists() and checksum_path.exists():
        try:
            expected = parse_checksum(checksum_path.read_text(), remote.name, str(checksum_path))
            if sha256_file(target) == expected:
                return _Outcome(remote, "present", target.stat().st_size)
        except FetchError:
            pass  # a damaged local checksum: fetch it again
    attempts, last_error, status = 0, "", "error"
    expected = None
    while attempts <= retries:
        if attempts:
            time.sleep(backoff * 2 ** (attempts - 1))
        attempts += 1
        try:
            if expected is None:
                chunks: list[bytes] = []
                _get(url + ".CHECKSUM", timeout, chunks.append)
                text = b"".join(chunks).decode("utf-8", "replace")
                expected = parse_checksum(text, remote.name, url + ".CHECKSUM")
                if target.exists() and sha256_file(target) == expected:
                    with atomic_write(checksum_path, "w") as handle:
                        handle.write(text)
                    return _Outcome(remote, "present", target.stat().st_size, attempts)
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as handle:

                    def sink(chunk: bytes, handle=handle, digest=digest) -> None:
                        handle.write(chunk)
                        digest.update(chunk)
                        on_bytes(len(chunk))

                    size = _get(url, timeout, sink)
                got = digest.hexdigest()
                if got != expected:
                    status = "corrupt"
                    raise _Transient(f"checksum mismatch: expected sha256 {expected}, got {got}")
                _install(Path(tmp), target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            with atomic_write(checksum_path, "w") as handle:
                handle.write(text)
            return _Outcome(remote, "downloaded", size, attempts)
        except _Missing as exc:
            return _Outcome(remote, "missing", 0, attempts, f"not found (HTTP 404): {exc}")
        except _Transient as exc:
            last_error = str(exc)
            if not last_error.startswith("checksum mismatch"):
                status = "error"
        except FetchError as exc:
            return _Outcome(remote, getattr(exc, "status", "error"), 0, attempts, str(exc))
    return _Outcome(
        remote, status, 0, attempts, f"{last_error} (after {attempts} attempts) at {url}"
    )


@attrs.frozen(slots=True)
class FetchReport:
    """What a fetch did (immutable): one row per file, and the Parquet cache written per symbol.

    files: url path, symbol, status (downloaded, present, missing, corrupt, error), bytes,
    attempts, error. cache: symbol -> Parquet file (empty when the cache was not built).
    """

    files: pl.DataFrame = attrs.field(eq=False)
    cache: dict = attrs.field(factory=dict, eq=False)

    @property
    def failed(self) -> pl.DataFrame:
        return self.files.filter(~pl.col("status").is_in(["downloaded", "present"]))


def _hint(status: str) -> str:
    if status == "missing":
        return (
            " (Binance has no such file: the symbol was not listed yet, or the month is not "
            "published yet - monthly files appear a few days after the month ends)"
        )
    return ""


def fetch_binance(
    *,
    market: str,
    symbols: Iterable[str],
    interval: str | None = "1m",
    start: str | dt.date,
    end: str | dt.date,
    dest: str | os.PathLike,
    kind: str = "klines",
    base_url: str = BASE_URL,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 30.0,
    workers: int = 4,
    cache: bool = True,
    extract: bool = False,
    allow_missing: bool = False,
    progress: bool = True,
    console=None,
) -> FetchReport:
    """Download, verify and cache Binance klines for `symbols` over [start, end] (whole days, UTC).

    market: 'spot' or 'um' (USDT-M futures). kind: "klines" (bars of `interval`), "trades" or
    "aggTrades" (the tape; its cache is the trades frame of `mmsim.read_trades`).
    base_url: the server (tests point it at 127.0.0.1).
    retries: extra attempts per file after a transient failure, waiting backoff * 2**k seconds.
    cache: write dest/parquet/<market>/<interval>/<SYMBOL>.parquet from every verified ZIP of
    that symbol under dest. extract: also unpack each ZIP's CSV to dest/csv/... (safely).
    allow_missing: build the cache even when some files are missing or failed.
    Raises FetchError listing every file that is missing, corrupt or failed (after downloading
    all the others, so a second run only fetches what is left).
    """
    if retries < 0 or backoff < 0 or timeout <= 0 or workers < 1:
        raise DataError("retries and backoff must be >= 0, timeout > 0 and workers >= 1")
    files = plan_files(
        market=market, symbols=symbols, interval=interval, start=start, end=end, kind=kind
    )
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    base_url = base_url.rstrip("/")

    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    )
    with bar:
        task = bar.add_task(f"fetching {len(files)} files", total=len(files))
        bytes_task = bar.add_task("bytes", total=None, visible=False)

        def run(remote: RemoteFile) -> _Outcome:
            outcome = _fetch_one(
                remote,
                dest,
                base_url,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
                on_bytes=lambda n: bar.advance(bytes_task, n),
            )
            bar.update(task, advance=1, description=f"{remote.name} {outcome.status}")
            return outcome

        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(run, files))
    report = pl.DataFrame(
        [(o.file.path, o.file.symbol, o.status, o.size, o.attempts, o.error) for o in outcomes],
        schema={
            "path": pl.String,
            "symbol": pl.String,
            "status": pl.String,
            "bytes": pl.Int64,
            "attempts": pl.Int64,
            "error": pl.String,
        },
        orient="row",
    )
    failed = [o for o in outcomes if o.status not in ("downloaded", "present")]
    if failed and not allow_missing:
        lines = "\n".join(
            f"  {o.file.name}: {o.status}: {o.error}{_hint(o.status)}" for o in failed
        )
        raise FetchError(
            f"{len(failed)} of {len(files)} files failed; no cache was written:\n{lines}"
        )
    good = [o.file for o in outcomes if o.status in ("downloaded", "present")]
    if extract:
        for remote in good:
            folder = dest / "csv" / Path(remote.path).parent.relative_to("data")
            safe_extract(dest / remote.path, folder)
    written: dict[str, Path] = {}
    if cache:
        for symbol in dict.fromkeys(f.symbol for f in files):
            if kind != "klines":
                path = build_trades_cache(
                    dest, [f for f in good if f.symbol == symbol], market=market, kind=kind
                )
                if path is not None:
                    written[symbol] = path
                continue
            path = build_cache(dest, market=market, symbol=symbol, interval=interval)
            if path is not None:
                written[symbol] = path
    return FetchReport(report, written)


def local_dumps(dest: str | os.PathLike, *, market: str, symbol: str, interval: str) -> list[Path]:
    """Verified ZIPs of one symbol under `dest` (a month's daily files yield to its monthly ZIP)."""
    root = Path(dest) / "data" / MARKETS[market]
    found = []
    for kind in ("monthly", "daily"):
        folder = root / kind / "klines" / symbol / interval
        found += [
            p for p in sorted(folder.glob("*.zip")) if p.with_name(p.name + ".CHECKSUM").exists()
        ]
    months = {
        (i.start.year, i.start.month) for p in found if (i := parse_kline_name(p)) and not i.daily
    }
    return [
        p
        for p in found
        if (i := parse_kline_name(p)) is not None
        and (not i.daily or (i.start.year, i.start.month) not in months)
    ]


def build_cache(dest: str | os.PathLike, *, market: str, symbol: str, interval: str) -> Path | None:
    """Rewrite dest/parquet/<market>/<interval>/<symbol>.parquet from the local ZIPs, atomically."""
    files = local_dumps(dest, market=market, symbol=symbol, interval=interval)
    if not files:
        return None
    bars = read_binance_klines(files, interval=interval)
    out = Path(dest) / "parquet" / market / interval / f"{symbol}.parquet"
    with atomic_write(out) as handle:
        bars.write_parquet(handle, compression="zstd", statistics=True)
    return out


def build_trades_cache(
    dest: str | os.PathLike, files: list[RemoteFile], *, market: str, kind: str
) -> Path | None:
    """Rewrite dest/parquet/<market>/<kind>/<symbol>.parquet from verified trade ZIPs (atomic)."""
    if not files:
        return None
    trades = read_trades([Path(dest) / f.path for f in files])
    out = Path(dest) / "parquet" / market / kind / f"{files[0].symbol}.parquet"
    with atomic_write(out) as handle:
        trades.write_parquet(handle, compression="zstd", statistics=True)
    return out


__all__ = [
    "BASE_URL",
    "KINDS",
    "build_trades_cache",
    "FetchReport",
    "RemoteFile",
    "build_cache",
    "fetch_binance",
    "local_dumps",
    "plan_files",
]
