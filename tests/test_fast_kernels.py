"""Single kernels of the fast path against the functions they stand for."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from numba import njit

from mmsim.fast.placement import round_digits


@njit
def _numba_round(x, digits):
    return round(x, digits)


@given(
    x=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**9), 10**9).map(lambda n: n * 0.001),  # values on a decimal grid
        st.integers(0, 10**7).map(lambda n: n * 0.005),  # ties
    ),
    digits=st.integers(0, 30),
)
@example(x=2.675, digits=2)
@example(x=1.7976931348623157e308, digits=2)  # x * 10**digits overflows: x itself
@example(x=0.5, digits=0)
@example(x=2.5, digits=0)
def test_round_digits_is_numbas_round(x, digits):
    """The table-driven rounding on the tick and lot grids gives numba's `round(x, digits)`
    bit for bit (NaN for NaN)."""
    got, want = round_digits(x, digits), _numba_round(x, digits)
    assert (math.isnan(got) and math.isnan(want)) or np.float64(got).tobytes() == np.float64(
        want
    ).tobytes()
