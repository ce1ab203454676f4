"""Single kernels of the fast path against the functions they stand for."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import example, given
from hypothesis import strategies as st
from numba import njit

import mmsim
from mmsim.fast.placement import round_digits
from mmsim.fast.strategies import phase


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


# decimal grids as venues list them, a binary one, and one with no decimal form (float noise)
_STEPS = (0.01, 0.1, 0.5, 0.05, 1.0, 25.0, 1e-8, 0.001, 2.0**-14, 0.1 + 0.2)


def _near_steps(step):
    """Values a whole number of steps away, off by about the venue's noise (1e-9 step plus
    1e-12 per step) or half a step: where an estimated count could differ from the quotient's."""
    n = st.integers(-(10**9), 10**9)
    off = st.one_of(
        st.sampled_from([0.0, 1e-9, -1e-9, 2e-9, 1e-12, -1e-12, 0.5, -0.5]),
        st.floats(-1e-6, 1e-6),
    )
    rel = st.sampled_from([0.0, 1.0, -1.0])  # the relative part of the venue's noise
    return st.builds(
        lambda n, off, rel: n * step + (off + rel * 1e-12 * abs(n)) * step, n, off, rel
    )


def _around(x, count=64):
    """x and its `count` float neighbours on either side (every float a boundary may sit on)."""
    below = [x]
    above = [x]
    for _ in range(count):
        below.append(float(np.nextafter(below[-1], -np.inf)))
        above.append(float(np.nextafter(above[-1], np.inf)))
    return below[::-1] + above[1:]


def _same(got, want):
    return np.float64(got).tobytes() == np.float64(want).tobytes()


@given(data=st.data(), step=st.sampled_from(_STEPS), side=st.sampled_from([1, -1]))
@example(data=None, step=0.01, side=1)
def test_grid_rounding_without_division_is_the_venues(data, step, side):
    """Prices and quantities rounded on the grid from an estimated count (a product with
    1 / step, the division only near a whole number) are the venue's, bit for bit (below 2**52
    units of 10**-decimals: beyond 2**53 the venue rounds in decimal, numba in binary)."""
    from mmsim.core.venue import _decimal_step, round_price, round_qty
    from mmsim.fast.placement import lot_count, on_grid, tick_count
    from mmsim.fast.run import grid_digits

    units = _decimal_step(step)[0] if _decimal_step(step) else 1
    values = st.one_of(_near_steps(step), st.floats(1e-300, 1e15))
    x0 = 0.3 if data is None else data.draw(values.filter(lambda x: abs(x / step) * units < 2**52))
    digits = grid_digits(step)
    for x in _around(x0):
        price = on_grid(tick_count(x, step, 1.0 / step, side), step, digits)
        assert _same(price, round_price(x, step, side)), (x, step, side)
        if x > 0:
            qty = on_grid(lot_count(x, step, 1.0 / step), step, digits)
            assert _same(qty, round_qty(x, step)), (x, step)


def test_an_ask_below_a_tick_rounds_to_the_venues_positive_zero():
    """The kernels count ticks as whole floats, and np.ceil of a negative fraction is -0.0
    where the venue's integer count is 0: an ask a fraction of the noise above zero (a case
    the property above found) still rounds to the venue's 0.0, sign included."""
    from mmsim.core.venue import round_price as venue_round_price
    from mmsim.fast.placement import on_grid, round_price, tick_count
    from mmsim.fast.run import grid_digits

    for step in _STEPS:
        digits = grid_digits(step)
        for x in (5e-324, 1e-300, 1e-12 * step):
            want = venue_round_price(x, step, -1)
            assert _same(on_grid(tick_count(x, step, 1.0 / step, -1), step, digits), want)
            assert _same(round_price(x, step, -1, digits), want), (x, step)


@given(
    data=st.data(),
    step=st.sampled_from(_STEPS),
    side=st.sampled_from([1, -1]),
    penetration=st.sampled_from([0.0, 1.0, 2.0, 1e-6]),
)
def test_grid_comparisons_without_division_are_the_venues(data, step, side, penetration):
    """Whether a quote crosses the close and whether a bar traded through a resting order,
    decided from estimated quotients, are the reference's decisions."""
    from mmsim.core.placement import crosses
    from mmsim.core.venue import at_or_through
    from mmsim.fast.matching import limit_traded_by
    from mmsim.fast.placement import crosses_by

    close = data.draw(_near_steps(step).filter(lambda c: c > 0))
    edge = penetration - 1e-6  # the trade-through threshold, in ticks
    shift = data.draw(st.sampled_from([0.0, 1.0, -1.0, 2.0, -2.0, edge, -edge]))
    for price in _around(close + shift * step, 16):
        got = crosses_by(side, price, close, step, 1.0 / step)
        assert got == crosses(side, price, close, step), (side, price, close, step)
        extreme = close  # the bar's low for a bid, its high for an ask
        got = limit_traded_by(side, price, extreme, extreme, step, 1.0 / step, penetration)
        want = at_or_through(side, price, extreme, extreme, penetration, step)
        assert got == bool(want), (side, price, extreme, step, penetration)


@njit
def _phases(closes, h_us):
    clock = np.full(2, -1, dtype=np.int64)
    out = np.empty_like(closes)
    for i in range(closes.shape[0]):
        out[i] = phase(clock, closes[i], h_us)
    return out


@given(
    start=st.integers(-(10**12), 2 * 10**15),
    steps=st.lists(st.integers(-(10**8), 10**11), min_size=1, max_size=200),
    h_us=st.sampled_from([60_000_000, 3_600_000_000, 86_400_000_000, 7]),
)
@example(start=86_400_000_000 - 60_000_000, steps=[60_000_000] * 3, h_us=86_400_000_000)
@example(start=-120_000_000, steps=[60_000_000] * 4, h_us=86_400_000_000)
def test_horizon_phase_is_the_remainder(start, steps, h_us):
    """The A-S kernel's phase of a close in its horizon, carried from the last close's, is
    close % horizon at every close (horizon boundaries, gaps, closes going back, before 1970)."""
    closes = np.cumsum(np.array([start, *steps], dtype=np.int64))
    assert _phases(closes, h_us).tolist() == [int(c) % h_us for c in closes]


def test_kernel_inputs_have_one_type_whatever_the_frame():
    """One compiled signature serves every run: a frame of one symbol or several, full or with
    gaps, gives the kernel arrays of the same types (a read-only array is another type, and
    each new type costs a whole compile of the kernels)."""
    import numba

    from mmsim.core.engine import account_bar
    from mmsim.core.matching import match_bar
    from mmsim.core.setup import prepare_run
    from mmsim.fast.plan import fast_plan
    from mmsim.fast.run import kernel_inputs

    two = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.05, interval="1m", seed=2)
    one = two.filter(pl.col("symbol") == "BTCUSDT")
    gappy = two.filter(~((pl.col("symbol") == "ETHUSDT") & (pl.int_range(pl.len()) % 7 == 0)))
    types = set()
    for bars, gaps in ((one, False), (two, False), (gappy, True)):
        strategy = mmsim.avellaneda_stoikov()
        setup = prepare_run(bars, strategy, risk=mmsim.basic_risk(), allow_gaps=gaps)
        plan, _ = fast_plan(
            setup.strategies, mmsim.basic_risk(), match_bar, account_bar, setup.symbols
        )
        first = dict(zip(setup.symbols, setup.state0.account.marks, strict=True))
        inputs = kernel_inputs(
            setup.frame, setup.symbols, plan, setup.venue, setup.specs, setup.initial_cash,
            setup.interval_us, first,
        )  # fmt: skip
        types.add(tuple(numba.typeof(x) for x in inputs))
    assert len(types) == 1


def test_the_fold_is_compiled_for_one_signature():
    """A whole run, a batched sweep and a run into reused tables all call the fold with the same
    types, so it is compiled once per install (about a minute): the bar index it starts from
    must be an int64 at every call, never the literal 0 numba would type a first call with."""
    from pathlib import Path

    from mmsim.fast import engine
    from mmsim.fast.cache import cached_signatures

    bars = mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.02, interval="1m", seed=3)
    mmsim.backtest(bars, mmsim.avellaneda_stoikov(), risk=mmsim.basic_risk(), engine="fast")
    grid = {"half_spread_bps": [2, 4]}
    mmsim.sweep(bars, strategy="fixed_spread", grid=grid, executor="inprocess", engine="fast")
    signatures = cached_signatures(Path(engine.__file__), "fold")
    assert len(signatures) == 1, signatures
    assert str(signatures[0][0]) == "int64"
