"""Sweep grids: the points of a grid mapping or list, drawn whole or sampled at random."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Grid = Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]


def grid_points(grid: Grid, *, samples: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """The points of a grid: the cartesian product of a mapping key -> values (first key varies
    slowest), or a list of point mappings as given; `samples` draws that many distinct points of
    the product at random (seeded) without building it.

    >>> grid_points({"gamma": [1, 2], "kappa": [0.5]})
    [{'gamma': 1, 'kappa': 0.5}, {'gamma': 2, 'kappa': 0.5}]
    """
    if isinstance(grid, Mapping):
        keys = list(grid)
        values = []
        for k in keys:
            v = grid[k]
            if isinstance(v, str | bytes) or not isinstance(v, Iterable):
                raise ValueError(f"grid[{k!r}] must be a list of values, got {v!r}")
            v = list(v)
            if not v:
                raise ValueError(f"grid[{k!r}] is empty")
            values.append(v)
        sizes = [len(v) for v in values]
        total = math.prod(sizes)
        if samples is None:
            return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        picks = random.Random(seed).sample(range(total), min(samples, total))
        points = []
        for index in sorted(picks):
            combo = []
            for size, vals in zip(reversed(sizes), reversed(values), strict=True):
                index, r = divmod(index, size)
                combo.append(vals[r])
            points.append(dict(zip(keys, reversed(combo), strict=True)))
        return points
    points = [dict(p) for p in grid]
    for i, p in enumerate(points):
        if not all(isinstance(k, str) for k in p):
            raise ValueError(f"grid point {i} has a non-string key: {p!r}")
    if samples is not None:
        rng = random.Random(seed)
        keep = sorted(rng.sample(range(len(points)), min(samples, len(points))))
        points = [points[i] for i in keep]
    return points


def symbol_grids(grid: Grid | Mapping[str, Grid], symbols: tuple[str, ...]) -> dict[str, Grid]:
    """Per-symbol mode: one grid for every symbol, or a mapping symbol -> grid."""
    if isinstance(grid, Mapping) and grid and all(k in symbols for k in grid):
        return {s: grid[s] for s in symbols if s in grid}
    return {s: grid for s in symbols}


__all__ = ["Grid", "grid_points", "symbol_grids"]
