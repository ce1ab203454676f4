"""The one numba decorator of the kernels: compiled on first call, cached on disk, no GIL."""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, nogil=True)
