"""Where the fast path's compiled kernels are cached on disk, and whether they are there yet.

No numba here: `mmsim.backtest(engine="auto")` asks `kernels_cached()` before deciding whether
compiling the kernels (tens of seconds, once per install and source change) pays off.

The kernels are cached in a folder named by a digest of the sources of every kernel module
(the modules that import `mmsim.fast._jit`, and that one): numba keys a cached function on its
own file only, so an edited stage would otherwise leave the fold that inlines it stale.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
from importlib import metadata
from pathlib import Path

_HERE = Path(__file__).parent
_SOURCES = sorted(
    p
    for p in _HERE.glob("*.py")
    if p.name == "_jit.py" or re.search(r"^from mmsim\.fast\._jit import", p.read_text(), re.M)
)
DIGEST = hashlib.sha256(b"".join(p.read_bytes() for p in _SOURCES)).hexdigest()[:16]
_BASE = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mmsim", "numba"
)
CACHE_DIR = os.path.join(_BASE, f"fast-{DIGEST}")

# CPU seconds to compile the kernels from an empty cache (the fold and the summary pass), and
# the reference engine's CPU seconds per symbol-bar (built-in strategies, 1m bars;
# benchmarks/bench_engines.py)
COMPILE_SECONDS = 70.0
REFERENCE_SECONDS_PER_SYMBOL_BAR = 5e-5


def _entry_index(source: Path, name: str = "run") -> Path:
    """numba's index file of the function `name` defined in `source` (by default
    `mmsim.fast.engine.run`; its user-provided cache locator)."""
    folder = os.path.dirname(os.path.abspath(source))
    sub = f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"
    lines = source.read_text().splitlines()
    lineno = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    while lineno > 0 and lines[lineno - 1].startswith("@"):
        lineno -= 1  # a decorated function's code starts at its first decorator
    lineno += 1
    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return Path(CACHE_DIR) / sub / f"{source.stem}.{name}-{lineno}.{version}.nbi"


def _index(source: Path, name: str = "run") -> tuple | None:
    """(stamp, overloads) of numba's index of `name` in `source` when it was written by this
    numba; None when it is missing, unreadable or another numba's."""
    try:
        with open(_entry_index(source, name), "rb") as f:
            version = pickle.load(f)
            stamp, overloads = pickle.loads(f.read())
        if version != metadata.version("numba"):
            return None
    except (OSError, StopIteration, ValueError, EOFError, pickle.UnpicklingError,
            metadata.PackageNotFoundError):  # fmt: skip
        return None
    return stamp, overloads


# a fast run's entry points: the fold, and the summary pass its result's summary reads
_ENTRIES = (("engine.py", "run"), ("summary.py", "summary_pass"))


def kernels_cached() -> bool:
    """Whether a fast run's entry points are compiled on disk for these sources and this numba:
    the fold (`engine.run`) and the summary pass its result's summary reads
    (`summary.summary_pass`), each index naming at least one compiled signature and stamped
    with its file as it is; False when unsure."""
    return all(_compiled(_HERE / f, name) for f, name in _ENTRIES)


def _compiled(source: Path, name: str) -> bool:
    index = _index(source, name)
    if index is None:
        return False
    stamp, overloads = index
    st = os.stat(source)
    fresh = stamp in (hashlib.sha256(source.read_bytes()).digest(), (st.st_mtime, st.st_size))
    return fresh and bool(overloads)


def cached_signatures(source: Path, name: str) -> list:
    """The signatures numba has compiled on disk for the function `name` in the kernel module
    `source`, for these sources and this numba (empty when none is there)."""
    index = _index(source, name)
    return [] if index is None else [key[0] for key in index[1]]
