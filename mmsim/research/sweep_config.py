"""The TOML file of `mmsim sweep` and `mmsim walk-forward` (self-contained; paths are relative
to the file). Every table but [data], [strategy] and [grid] is optional:

    [data]                      # exactly one of: path, or the [data.synthetic] table
    path = "bars.parquet"       # a bars frame (ts, symbol, open, high, low, close, volume, ...)
    [data.synthetic]            # keywords of mmsim.synthetic_bars
    symbols = ["BTCUSDT"]
    days = 14

    [strategy]
    name = "avellaneda_stoikov" # a registry name, or "module:function" of a factory
    params = { horizon = "1d", order_value = 2000.0 }   # fixed for every run

    [grid]                      # key = [values]: the cartesian product (see mmsim.sweep for keys)
    gamma = [0.0001, 0.0005, 0.001]
    "risk.max_leverage" = [2.0, 3.0]
    # ...or instead of [grid], a list of points:  [[points]]  gamma = 0.001  kappa = 0.5

    [risk]                      # fixed keywords of mmsim.basic_risk
    [venue]                     # fixed fields of mmsim.Venue

    [sweep]
    metric = "sharpe"           # ranks the top table, picks walk-forward parameters
    out = "sweep-results"       # the Parquet dataset folder (resumable)
    executor = "processes"      # or "inprocess", "dask" (with scheduler = "tcp://host:port")
    workers = 2                 # pool size (default: all cores)
    samples = 50                # random points of the grid instead of all of them
    seed = 0
    per_symbol = false
    initial_cash = 100000.0
    top = 10
    heatmap = { x = "gamma", y = "kappa", path = "heatmap.png", aggregate = "max" }

    [walk_forward]
    train = "14d"
    test = "7d"
    step = "7d"                 # default: test
    anchored = false
    out = "walk-forward"        # result folder (train sweeps resume from out/train)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import attrs

from mmsim.core.params import Check, flag, positive, whole
from mmsim.research.config import (  # one error type for every TOML file of mmsim
    ConfigError,
    _parse_venue_and_risk,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_TABLES = {"data", "strategy", "grid", "points", "risk", "venue", "sweep", "walk_forward"}
_DATA = {"path", "synthetic"}
_STRATEGY = {"name", "params"}
_SWEEP = {
    "metric",
    "maximize",
    "out",
    "executor",
    "scheduler",
    "workers",
    "samples",
    "seed",
    "per_symbol",
    "initial_cash",
    "allow_gaps",
    "top",
    "heatmap",
}
_HEATMAP = {"x", "y", "path", "aggregate", "metric"}
_WALK = {"train", "test", "step", "anchored", "out", "metric", "maximize"}


# what each scalar value of [sweep] and [walk_forward] must be
_TEXT = Check(lambda v: isinstance(v, str) and v != "", "a non-empty string")
_FLAG = flag
_COUNT = whole(1)
_SEED = whole(0)
_CASH = positive
_SWEEP_TYPES = {
    "metric": _TEXT,
    "maximize": _FLAG,
    "out": _TEXT,
    "executor": _TEXT,
    "scheduler": _TEXT,
    "workers": _COUNT,
    "samples": _COUNT,
    "seed": _SEED,
    "per_symbol": _FLAG,
    "initial_cash": _CASH,
    "allow_gaps": _FLAG,
    "top": _COUNT,
}
_WALK_TYPES = {
    "train": _TEXT,
    "test": _TEXT,
    "step": _TEXT,
    "anchored": _FLAG,
    "out": _TEXT,
    "metric": _TEXT,
    "maximize": _FLAG,
}
_HEATMAP_TYPES = dict.fromkeys(_HEATMAP, _TEXT)


def _check_types(source: Path, table: str, values: dict[str, Any], types: dict) -> None:
    """ConfigError naming the file, the table and the key of the first value of a wrong type."""
    for key, value in values.items():
        ok, expected, _ = types.get(key, Check(lambda v: True, ""))
        if not ok(value):
            raise ConfigError(f"{source}: [{table}] {key} must be {expected}, got {value!r}")


@attrs.frozen(slots=True)
class SweepConfig:
    """A parsed sweep TOML file (immutable); paths are absolute."""

    source: Path
    data_path: Path | None
    synthetic: dict[str, Any] | None
    strategy: str
    params: dict[str, Any]
    grid: Any
    risk: dict[str, Any] | None
    venue: dict[str, Any]
    sweep: dict[str, Any]
    walk_forward: dict[str, Any]

    def bars(self):
        """The bars: a Parquet path (shipped to workers as a path) or a synthetic frame."""
        if self.data_path is not None:
            return self.data_path
        from mmsim.data.synthetic import synthetic_bars

        try:
            return synthetic_bars(**self.synthetic)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.source}: [data.synthetic]: {exc}") from exc

    def sweep_kwargs(self) -> dict[str, Any]:
        """Keywords of `mmsim.sweep` / `mmsim.walk_forward` shared by both commands."""
        s = self.sweep
        kwargs = {
            "strategy": self.strategy,
            "grid": self.grid,
            "params": self.params,
            "risk": self.risk,
            "venue": self.venue,
            "executor": s.get("executor", "processes"),
            "scheduler": s.get("scheduler"),
            "workers": s.get("workers"),
            "samples": s.get("samples"),
            "seed": s.get("seed", 0),
            "initial_cash": float(s.get("initial_cash", 100_000.0)),
            "allow_gaps": bool(s.get("allow_gaps", False)),
        }
        return kwargs


def _check_keys(source: Path, table: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{table}] must be a table, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {unknown} in [{table}]; known: {sorted(allowed)}"
        )
    return value


def _resolve(source: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else (source.parent / path).resolve()


def load_sweep_config(path: str | os.PathLike) -> SweepConfig:
    """Read and check a sweep TOML file; errors name the file and the offending key."""
    source = Path(path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"sweep config {source} does not exist")
    try:
        doc = tomllib.loads(source.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
    unknown = sorted(set(doc) - _TABLES)
    if unknown:
        raise ConfigError(f"{source}: unknown table(s) {unknown}; known: {sorted(_TABLES)}")

    data_path, synthetic = _parse_data(source, doc)
    name, params = _parse_strategy(source, doc)
    grid = _parse_grid(source, doc)
    risk = doc.get("risk")
    if risk is not None and not isinstance(risk, dict):
        raise ConfigError(f"{source}: [risk] must be a table of mmsim.basic_risk keywords")
    venue = doc.get("venue", {})
    if not isinstance(venue, dict):
        raise ConfigError(f"{source}: [venue] must be a table of mmsim.Venue fields")
    # checked now, naming the key, rather than failing every run of the grid
    _parse_venue_and_risk(str(source), {"venue": venue, "risk": risk or {}})
    sweep = _parse_sweep(source, doc)
    walk = dict(_check_keys(source, "walk_forward", doc.get("walk_forward", {}), _WALK))
    _check_types(source, "walk_forward", walk, _WALK_TYPES)
    if "out" in walk:
        walk["out"] = _resolve(source, walk["out"])
    return SweepConfig(
        source=source,
        data_path=data_path,
        synthetic=synthetic,
        strategy=name,
        params=params,
        grid=grid,
        risk=risk,
        venue=venue,
        sweep=sweep,
        walk_forward=walk,
    )


def _parse_data(source: Path, doc: dict) -> tuple[Path | None, dict | None]:
    data = _check_keys(source, "data", doc.get("data", {}), _DATA)
    if ("path" in data) == ("synthetic" in data):
        raise ConfigError(f"{source}: [data] needs exactly one of path = '...' or [data.synthetic]")
    data_path = _resolve(source, data.get("path"))
    if data_path is not None and not data_path.is_file():
        raise ConfigError(f"{source}: [data] path {data_path} does not exist")
    synthetic = data.get("synthetic")
    if synthetic is not None and not isinstance(synthetic, dict):
        raise ConfigError(f"{source}: [data.synthetic] must be a table")
    return data_path, synthetic


def _parse_strategy(source: Path, doc: dict) -> tuple[str, dict]:
    strategy = _check_keys(source, "strategy", doc.get("strategy", {}), _STRATEGY)
    name = strategy.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: [strategy] name must be a registry name or 'module:function'")
    if ":" in name:  # a config naming code: it must be a strategy factory, checked now
        from mmsim.research.sweep import resolve_strategy

        try:
            resolve_strategy(name)
        except ValueError as exc:
            raise ConfigError(f"{source}: [strategy] name: {exc}") from None
    params = strategy.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{source}: [strategy] params must be a table")
    return name, params


def _parse_grid(source: Path, doc: dict) -> dict | list:
    if ("grid" in doc) == ("points" in doc):
        raise ConfigError(f"{source}: give exactly one of [grid] or [[points]]")
    if "points" in doc:
        points = doc["points"]
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise ConfigError(f"{source}: [[points]] must be an array of tables")
        return points
    grid = doc["grid"]
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{source}: [grid] must be a non-empty table of key = [values]")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: [grid] {key} must be a non-empty list: {values!r}")
    return grid


def _parse_sweep(source: Path, doc: dict) -> dict:
    sweep = dict(_check_keys(source, "sweep", doc.get("sweep", {}), _SWEEP))
    _check_types(source, "sweep", {k: v for k, v in sweep.items() if k != "heatmap"}, _SWEEP_TYPES)
    if "out" in sweep:
        sweep["out"] = _resolve(source, sweep["out"])
    if "heatmap" in sweep:
        heat = dict(_check_keys(source, "sweep.heatmap", sweep["heatmap"], _HEATMAP))
        _check_types(source, "sweep.heatmap", heat, _HEATMAP_TYPES)
        if not {"x", "y"} <= set(heat):
            raise ConfigError(f"{source}: [sweep] heatmap needs x and y parameter names")
        heat["path"] = _resolve(source, heat.get("path", "heatmap.png"))
        sweep["heatmap"] = heat
    executor = sweep.get("executor", "processes")
    if executor not in ("inprocess", "processes", "dask"):
        raise ConfigError(f"{source}: [sweep] executor must be inprocess, processes or dask")
    return sweep


__all__ = ["ConfigError", "SweepConfig", "load_sweep_config"]
