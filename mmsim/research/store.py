"""Sweep rows and their folder: one Parquet file per run, written atomically, read back whole.

Each finished run is written as `DIR/run-<run_id>.parquet` (a temporary name, then a rename),
so an interrupted sweep never leaves a partial row, and a re-run skips every stored run id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from mmsim.atomic import MARKER, NotResultsFolderError, atomic_write, read_marker, write_marker
from mmsim.research.spec import RunSpec, plain

_TAIL = ("halted", "elapsed_s", "config")


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(plain(value))


def make_row(
    spec: RunSpec, outcome: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """One run's row: meta, extra columns, grid parameters, metrics, halted, elapsed, config."""
    parts = [
        pl.DataFrame(
            {
                "run_id": [spec.run_id],
                "status": [outcome["status"]],
                "error": [outcome.get("error")],
            },
            schema={"run_id": pl.String, "status": pl.String, "error": pl.String},
        )
    ]
    front = {**(extra or {}), **{k: _scalar(v) for k, v in spec.point.items()}}
    if front:
        parts.append(pl.DataFrame({k: [v] for k, v in front.items()}, strict=False))
    summary = outcome.get("summary")
    if summary is not None:
        total = summary.filter(pl.col("symbol") == "TOTAL").drop("symbol")
        parts.append(total)
        symbols = [s for s in summary["symbol"].to_list() if s != "TOTAL"]
        for i, symbol in enumerate(summary["symbol"].to_list()):
            if symbol != "TOTAL" and len(symbols) > 1:  # one symbol: its row repeats TOTAL
                parts.append(
                    summary.slice(i, 1).drop("symbol").select(pl.all().name.prefix(f"{symbol}."))
                )
    parts.append(
        pl.DataFrame(
            {
                "halted": [outcome.get("halted")],
                "elapsed_s": [float(outcome.get("elapsed_s", 0.0))],
                "config": [spec.config],
            },
            schema={"halted": pl.String, "elapsed_s": pl.Float64, "config": pl.String},
        )
    )
    names = [c for p in parts for c in p.columns]
    clash = sorted({c for c in names if names.count(c) > 1})
    if clash:
        raise ValueError(f"grid keys collide with result columns {clash}; rename the parameters")
    return pl.concat(parts, how="horizontal")


def _run_file(out: Path, run_id: str) -> Path:
    return out / f"run-{run_id}.parquet"


def write_row(out: Path, row: pl.DataFrame) -> Path:
    """Write one run's row atomically: a hidden temporary file, then a rename onto its run id."""
    target = _run_file(out, row["run_id"][0])
    with atomic_write(target) as handle:
        row.write_parquet(handle)
    return target


def claim_sweep_folder(folder: Path) -> None:
    """Create (or reuse) a sweep folder; refuse a folder holding anything but mmsim's files."""
    if folder.exists() and not folder.is_dir():
        raise NotResultsFolderError(f"{folder} is not a folder; choose another sweep folder")
    marker = read_marker(folder) if folder.is_dir() else None
    if marker is not None and marker.get("kind") != "sweep":
        raise NotResultsFolderError(
            f"{folder} holds mmsim's {marker.get('kind')} results, not a sweep; "
            "choose another sweep folder"
        )
    if marker is None and folder.is_dir():
        foreign = [
            p.name
            for p in folder.iterdir()
            if not (p.name.startswith((".run-", "run-")) and p.name.endswith((".parquet", ".part")))
        ]
        if foreign:
            raise NotResultsFolderError(
                f"refusing to write sweep rows into {folder.resolve()}: it holds files mmsim did "
                f"not write ({', '.join(sorted(foreign)[:3])}) and no {MARKER}; choose another "
                "sweep folder"
            )
    folder.mkdir(parents=True, exist_ok=True)
    if marker is None:
        write_marker(folder, "sweep")


def stored_run_ids(out: str | os.PathLike) -> set[str]:
    """Run ids already stored in a sweep folder (from the file names; nothing is read)."""
    folder = Path(out)
    if not folder.is_dir():
        return set()
    return {p.name[len("run-") : -len(".parquet")] for p in folder.glob("run-*.parquet")}


def load_sweep(out: str | os.PathLike, run_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """Read a sweep folder's rows (all, or those of `run_ids`) into one frame."""
    folder = Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a sweep results folder")
    ids = sorted(stored_run_ids(folder)) if run_ids is None else list(run_ids)
    frames = []
    for rid in ids:
        path = _run_file(folder, rid)
        try:
            frames.append(pl.read_parquet(path))
        except Exception as exc:
            raise ValueError(f"{path}: unreadable sweep row ({exc})") from exc
    if not frames:
        return pl.DataFrame(schema={"run_id": pl.String, "status": pl.String, "error": pl.String})
    return order_columns(pl.concat(frames, how="diagonal_relaxed"))


def order_columns(frame: pl.DataFrame) -> pl.DataFrame:
    tail = [c for c in _TAIL if c in frame.columns]
    rest = [c for c in frame.columns if c not in tail]
    return frame.select(*rest, *tail)


__all__ = [
    "claim_sweep_folder",
    "load_sweep",
    "make_row",
    "order_columns",
    "stored_run_ids",
    "write_row",
]
