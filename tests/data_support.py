"""Helpers for the data tests: the shared real-data folder, Binance-layout files, a dump server."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import zipfile
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

# ../shared beside the repository root; MMSIM_SHARED overrides it (e.g. for a worktree elsewhere)
SHARED = Path(
    os.environ.get("MMSIM_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)
REAL = SHARED / "data" / "real"


def real(*parts: str) -> Path:
    """A path under ../shared/data/real: skip when absent, fail when MMSIM_REQUIRE_SHARED=1."""
    path = REAL.joinpath(*parts)
    if not path.exists():
        reason = f"real market data not found at {path} (../shared/data is absent in this checkout)"
        if os.environ.get("MMSIM_REQUIRE_SHARED") == "1":
            pytest.fail(reason + "; MMSIM_REQUIRE_SHARED=1 requires it")
        pytest.skip(reason)
    return path


def kline_csv(
    bars: pl.DataFrame, *, unit: str = "ms", header: bool = False, interval_ms: int = 60_000
) -> bytes:
    """One symbol's bars in Binance's 12-column kline layout (open_time in ms or µs)."""
    factor = {"ms": 1, "us": 1000}[unit]
    open_ms = bars["ts"].dt.epoch("ms")
    taker = bars["taker_buy_volume"] if "taker_buy_volume" in bars.columns else bars["volume"] / 2
    frame = pl.DataFrame(
        {
            "open_time": open_ms * factor,
            "open": bars["open"],
            "high": bars["high"],
            "low": bars["low"],
            "close": bars["close"],
            "volume": bars["volume"],
            "close_time": (open_ms + interval_ms) * factor - 1,
            "quote_volume": (bars["volume"] * bars["close"]).round(4),
            "count": open_ms // 60_000 % 97 + 1,
            "taker_buy_volume": taker,
            "taker_buy_quote_volume": (taker * bars["close"]).round(4),
            "ignore": pl.repeat(0, bars.height, eager=True),
        }
    )
    out = io.BytesIO()
    frame.write_csv(out, include_header=header)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def write_dump(folder: Path, name: str, csv: bytes) -> Path:
    """Write a Binance ZIP `name` (e.g. BTCUSDT-1m-2024-01.zip) holding `csv` as <stem>.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(zip_bytes({name.replace(".zip", ".csv"): csv}))
    return path


def checksum_text(data: bytes, name: str) -> bytes:
    return f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()


class DumpServer:
    """A real HTTP server on 127.0.0.1 serving in-memory files, with scripted faults.

    files: url path (no leading slash) -> bytes. faults: url path -> list of faults used one per
    request ('503', 'short' = a body cut below its Content-Length, 'trickle' = the body a byte at
    a time for 8 s, then the rest; 'trickle-headers' = the status line and headers a byte at a
    time, 0.2 s apart, then the body at once).
    requests: every path asked for, in order.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.requests: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.lstrip("/")
                with server._lock:
                    server.requests.append(path)
                    fault = server.faults[path].pop(0) if server.faults.get(path) else None
                if fault == "503":
                    self.send_error(503, "try again")
                    return
                data = server.files.get(path)
                if data is None:
                    self.send_error(404, "no such key")
                    return
                if fault == "trickle-headers":
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                    try:
                        for k in range(len(head)):
                            self.wfile.write(head[k : k + 1])
                            self.wfile.flush()
                            time.sleep(0.2)
                        self.wfile.write(data)
                    except OSError:  # the client gave up
                        self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "trickle":  # a byte every 0.2 s for 8 s, then the rest at once
                    for k in range(40):
                        self.wfile.write(data[k : k + 1])
                        self.wfile.flush()
                        time.sleep(0.2)
                    self.wfile.write(data[40:])
                    return
                if fault == "short":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add_dump(self, path: str, csv: bytes, *, corrupt: bool = False) -> bytes:
        """Serve data/.../NAME.zip holding `csv` and its .CHECKSUM; corrupt=True alters the ZIP."""
        name = path.rsplit("/", 1)[-1]
        data = zip_bytes({name.replace(".zip", ".csv"): csv})
        self.files[path + ".CHECKSUM"] = checksum_text(data, name)
        self.files[path] = data[:-40] + bytes(40) if corrupt else data
        return data

    def __enter__(self) -> DumpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
