"""Atomic writes: a file or a folder appears whole under its name, or not at all.

Everything mmsim writes is built under a temporary name beside its destination and renamed
into place when complete, so an interrupted run never leaves a result that looks finished.

Every results folder mmsim writes (a run, a comparison, a walk-forward, a sweep) holds a marker
file, `mmsim.json`, written last. mmsim replaces only a folder holding that marker (of a kind it
may replace), never anything else; a folder without it is incomplete or not mmsim's. Replacing
renames the old folder aside, renames the new one in, and only then removes the old one, under
a lock beside the target, so an interrupted or concurrent writer never loses either.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: exclusive creation of the lock file instead
    fcntl = None

MARKER = "mmsim.json"
RESULT_KINDS = ("run", "comparison", "walk-forward", "sweep")
_NEW, _OLD, _LOCK = ".mmsim-new-", ".mmsim-old-", ".mmsim-lock"
_HELD: dict[str, int] = {}  # folders this process holds the lock of (the lock is re-entrant)


class NotResultsFolderError(FileExistsError):
    """A destination mmsim will not replace: it holds something mmsim did not write."""


class FolderBusyError(FileExistsError):
    """Another mmsim process is writing the same results folder."""


class IncompleteResultsError(FileNotFoundError):
    """A folder without mmsim's completion marker: an interrupted write, or not mmsim's."""


def _crash_point(point: str) -> None:
    """Fault injection for the crash tests: MMSIM_CRASH_AT=point[:INT] kills (interrupts) here."""
    spec = os.environ.get("MMSIM_CRASH_AT")
    if not spec:
        return
    name, _, how = spec.partition(":")
    if name == point:
        os.kill(os.getpid(), signal.SIGINT if how == "INT" else signal.SIGKILL)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Write to a temp file beside `path`, then rename it over `path`; on error nothing is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_marker(folder: str | os.PathLike, kind: str) -> Path:
    """Write `folder/mmsim.json`, which says mmsim wrote the folder (of `kind`) completely."""
    from mmsim._version import __version__

    if kind not in RESULT_KINDS:
        raise ValueError(f"kind must be one of {RESULT_KINDS}, got {kind!r}")
    marker = Path(folder) / MARKER
    with atomic_write(marker, "w") as handle:
        json.dump({"written_by": "mmsim", "version": __version__, "kind": kind}, handle)
    return marker


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The marker of a folder mmsim wrote completely, or None (absent, unreadable, not mmsim's)."""
    try:
        marker = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("written_by") != "mmsim":
        return None
    return marker


def check_replaceable(target: str | os.PathLike, kinds: Iterable[str]) -> None:
    """NotResultsFolderError unless `target` is absent, empty, or mmsim's folder of `kinds`."""
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return
    kinds = tuple(kinds)
    where = target.resolve()
    refuse = f"refusing to replace {where}"
    if target.is_symlink() or not target.is_dir():
        raise NotResultsFolderError(f"{refuse}: it is not a folder; choose another output folder")
    cwd = Path.cwd().resolve()
    if where == cwd or where in cwd.parents:
        raise NotResultsFolderError(
            f"{refuse}: it holds the current folder; choose an output folder inside it instead"
        )
    if not any(target.iterdir()):
        return  # an empty folder: nothing to lose
    marker = read_marker(target)
    if marker is None:
        raise NotResultsFolderError(
            f"{refuse}: it is not a results folder written by mmsim (no {MARKER} inside), and "
            "mmsim only ever replaces its own; choose another output folder, or move this one "
            "away yourself"
        )
    if marker.get("kind") not in kinds:
        raise NotResultsFolderError(
            f"{refuse}: it holds mmsim's {marker.get('kind')} results, not a "
            f"{' or '.join(kinds)}; choose another output folder"
        )


def _stale(target: Path) -> list[Path]:
    """Temporary folders an earlier, interrupted write of `target` left beside it."""
    prefixes = (f".{target.name}{_NEW}", f".{target.name}{_OLD}")
    if not target.parent.is_dir():
        return []
    return [p for p in target.parent.iterdir() if p.name.startswith(prefixes) and p.is_dir()]


def remove_folder(folder: Path) -> None:
    """Remove a results folder, its marker first: a half-removed folder never looks complete."""
    with contextlib.suppress(FileNotFoundError):
        (folder / MARKER).unlink()
    _crash_point("removing")
    shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(target: str | os.PathLike) -> Iterator[None]:
    """Hold the lock of results folder `target` (a lock file beside it); re-entrant in a process.

    Raises FolderBusyError at once if another process holds it; a crashed holder's lock is
    released by the operating system.
    """
    target = Path(target).absolute()
    key = os.path.realpath(target)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}{_LOCK}"
    fd = _acquire(lock, target)
    _HELD[key] = 1
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)  # before releasing: a waiter then sees a fresh file and retries
        os.close(fd)


def _acquire(lock: Path, target: Path) -> int:
    while True:
        if fcntl is None:  # pragma: no cover
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                raise FolderBusyError(_busy(lock, target)) from None
            break
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusyError(_busy(lock, target)) from None
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed the file as we opened it: take the new one
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _busy(lock: Path, target: Path) -> str:
    try:
        pid = lock.read_text().strip() or "?"
    except OSError:
        pid = "?"
    return (
        f"{target} is being written by another mmsim process (pid {pid}, lock {lock}); "
        "wait for it to finish or choose another output folder"
    )


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    kind: str = "run",
    replaces: Iterable[str] | None = None,
) -> Iterator[Path]:
    """Yield a temp folder beside `path`; when the block ends it replaces `path` whole.

    The folder gets mmsim's marker (of `kind`) last. An existing `path` raises FileExistsError
    (before anything is written) unless overwrite, and even then NotResultsFolderError unless
    it is a folder mmsim wrote, of a kind in `replaces` (default: `kind`). The old folder is
    renamed aside, the new one renamed in, then the old one removed; temporary folders left by
    earlier interrupted writes are removed. FolderBusyError if another process writes `path`.
    """
    target = Path(path)
    replaces = (kind,) if replaces is None else tuple(replaces)
    with folder_lock(target):
        if target.exists() or target.is_symlink():
            if not overwrite:
                raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
            check_replaceable(target, replaces)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_NEW}", dir=target.parent))
        aside: Path | None = None
        try:
            yield tmp
            os.chmod(tmp, 0o755)
            write_marker(tmp, kind)  # last: a folder without it is incomplete
            _crash_point("built")
            if target.exists():
                aside = Path(tempfile.mkdtemp(prefix=f".{target.name}{_OLD}", dir=target.parent))
                os.rename(target, aside)  # onto the empty folder mkdtemp reserved
                _crash_point("aside")
            os.rename(tmp, target)
            _crash_point("in")
        except BaseException:
            if aside is not None and not target.exists():
                os.rename(aside, target)  # put the old folder back
                aside = None
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if aside is not None:
                remove_folder(aside)
        for stale in _stale(target):
            remove_folder(stale)


__all__ = [
    "MARKER",
    "FolderBusyError",
    "IncompleteResultsError",
    "NotResultsFolderError",
    "atomic_dir",
    "atomic_write",
    "check_replaceable",
    "folder_lock",
    "read_marker",
    "remove_folder",
    "write_marker",
]
