"""A snapshot of the repository's files, to check that tests write only to tmp dirs."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# caches that tools keep inside a checkout (all git-ignored)
CACHES = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def repo_snapshot(root: Path = ROOT) -> dict[str, tuple[int, int]]:
    """Every file under `root` outside the caches: relative path -> (mtime in ns, size)."""
    files = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in CACHES and not d.endswith(".egg-info")]
        for name in names:
            path = Path(folder, name)
            stat = path.stat()
            files[str(path.relative_to(root))] = (stat.st_mtime_ns, stat.st_size)
    return files


def written(before: dict, after: dict) -> list[str]:
    """Files created, rewritten or deleted between two snapshots."""
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
