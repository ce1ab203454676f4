"""What loading can go wrong with: one error type, one warning type for rows the user drops."""

from __future__ import annotations

import polars as pl

from mmsim.core.bars import MissingBarsError
from mmsim.core.errors import DataError


class FetchError(DataError):
    """A download that failed after its retries: missing files, bad checksums, network errors."""


class DroppedRowsWarning(UserWarning):
    """Rows dropped because the caller asked for it (`drop=...`); never raised for silent fixes.

    Attributes: problem (the kind, e.g. "duplicates"), count (rows dropped), source (file or
    frame they came from) and rows (a Polars frame of the dropped rows, at most 1,000).
    """

    def __init__(self, problem: str, count: int, source: str, rows: pl.DataFrame):
        self.problem = problem
        self.count = count
        self.source = source
        self.rows = rows
        first = (
            ", ".join(str(x) for x in rows["ts"].head(3).to_list()) if "ts" in rows.columns else ""
        )
        super().__init__(
            f"dropped {count} row(s) with {problem} from {source} (first at ts {first})"
        )


__all__ = ["DataError", "DroppedRowsWarning", "FetchError", "MissingBarsError"]
