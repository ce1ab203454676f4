"""Files in: paths, folders and globs; the one CSV inside a ZIP, read safely; atomic writes."""

from __future__ import annotations

import glob
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from mmsim.atomic import atomic_write
from mmsim.data.errors import DataError

DATA_SUFFIXES = (".parquet", ".pq", ".zip", ".csv", ".json", ".feather", ".arrow", ".ipc")
# A monthly 1s kline CSV is about 400 MB; anything far beyond that in one member is suspicious.
MAX_MEMBER_BYTES = 4 * 2**30

PathLike = str | os.PathLike


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def data_suffix(path: Path) -> str:
    """'.csv' for x.csv and x.csv.gz; the lower-case suffix otherwise."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] == ".gz":
        return suffixes[-2]
    return path.suffix.lower()


def expand_paths(
    sources: PathLike | Iterable[PathLike], suffixes: Iterable[str] = DATA_SUFFIXES
) -> list[Path]:
    """Files named by paths, folders (searched recursively) and globs, sorted, without duplicates.

    Raises FileNotFoundError when a path does not exist or a glob or folder holds no data file.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    suffixes = tuple(suffixes)
    found: dict[Path, None] = {}
    for source in sources:
        text = os.fspath(source)
        if _is_glob(text):
            matches = [Path(p) for p in sorted(glob.glob(os.path.expanduser(text), recursive=True))]
            files = [p for p in matches if p.is_file() and data_suffix(p) in suffixes]
            if not files:
                raise FileNotFoundError(f"no data files ({', '.join(suffixes)}) match {text!r}")
        else:
            path = Path(text).expanduser()
            if path.is_dir():
                files = sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and data_suffix(p) in suffixes and not p.name.startswith(".")
                )
                if not files:
                    raise FileNotFoundError(
                        f"no data files ({', '.join(suffixes)}) in folder {text!r}"
                    )
            elif path.is_file():
                files = [path]
            else:
                raise FileNotFoundError(f"no such file or folder: {text!r}")
        for f in files:
            found.setdefault(f, None)
    return list(found)


def check_member_name(name: str, archive: PathLike) -> str:
    """Refuse archive member names that would escape a folder (absolute, '..', drive letters)."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if (
        not name
        or posix.is_absolute()
        or ".." in posix.parts
        or (posix.parts and ":" in posix.parts[0])
    ):
        raise DataError(
            f"{os.fspath(archive)}: unsafe path {name!r} inside the ZIP; refusing to read it"
        )
    return posix.name


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, path) -> bytes:
    """A member's bytes, inflated a chunk at a time and stopped past `limit` bytes.

    The declared size is not trusted: a small archive can claim 100 bytes and inflate to GBs.
    """
    parts, total = [], 0
    with archive.open(member) as src:
        while chunk := src.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise DataError(
                    f"{os.fspath(path)}: member {member.filename!r} unpacks to more than the "
                    f"{limit:,} bytes allowed (it declares {member.file_size:,})"
                )
            parts.append(chunk)
    return b"".join(parts)


def read_zip_csv(path: PathLike, max_bytes: int = MAX_MEMBER_BYTES) -> tuple[str, bytes]:
    """(member name, bytes) of the single CSV inside a Binance ZIP, read in memory.

    Raises DataError naming the file for a truncated or corrupt archive, a CRC mismatch, an
    archive that does not hold exactly one CSV, an unsafe member path or an oversized member.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            for m in members:
                check_member_name(m.filename, path)
            csvs = [m for m in members if m.filename.lower().endswith(".csv")]
            if len(csvs) != 1 or len(members) != 1:
                names = [m.filename for m in members]
                raise DataError(
                    f"{os.fspath(path)}: expected one CSV inside the ZIP, found {names}"
                )
            member = csvs[0]
            if member.file_size > max_bytes:
                raise DataError(
                    f"{os.fspath(path)}: member {member.filename!r} unpacks to "
                    f"{member.file_size:,} "
                    f"bytes, more than the {max_bytes:,} allowed"
                )
            return member.filename, _inflate(archive, member, max_bytes, path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{os.fspath(path)}: truncated or corrupt ZIP ({exc})") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise DataError(f"{os.fspath(path)}: unreadable ZIP ({exc})") from None


def safe_extract(path: PathLike, dest: PathLike) -> list[Path]:
    """Extract a ZIP's files flat into `dest` (each via a temp file), refusing path tricks.

    Member names are checked before anything is written; each file lands as dest/<basename>.
    """
    dest = Path(dest)
    out = []
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            names = [check_member_name(m.filename, path) for m in members]
            for m in members:
                if m.file_size > MAX_MEMBER_BYTES:
                    raise DataError(
                        f"{os.fspath(path)}: member {m.filename!r} is too large to extract"
                    )
                if m.external_attr >> 16 & 0o170000 == 0o120000:
                    raise DataError(
                        f"{os.fspath(path)}: member {m.filename!r} is a symlink; refusing it"
                    )
            dest.mkdir(parents=True, exist_ok=True)
            for m, name in zip(members, names, strict=True):
                with archive.open(m) as src, atomic_write(dest / name) as dst:
                    written = 0
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_MEMBER_BYTES:  # the declared size is not trusted
                            raise DataError(
                                f"{os.fspath(path)}: member {m.filename!r} is too large to extract"
                            )
                        dst.write(chunk)
                out.append(dest / name)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{os.fspath(path)}: truncated or corrupt ZIP ({exc})") from None
    return out


__all__ = ["atomic_write", "check_member_name", "expand_paths", "read_zip_csv", "safe_extract"]
