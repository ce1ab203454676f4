"""Venue.post_only: the default rejects a quote through the close; False lets it rest."""

import numpy as np
import polars as pl
import pytest

import mmsim
from mmsim.core.orders import Quotes
from mmsim.core.placement import crosses, place_quotes
from mmsim.core.venue import SymbolSpec

SPEC = SymbolSpec(0.01, 0.001)
THROUGH = Quotes(bids=((100.5, 1.0),), asks=((99.5, 1.0),))


def test_quotes_through_the_close_are_rejected_by_default():
    orders, rejected = place_quotes("X", THROUGH, 100.0, SPEC)
    assert orders == ()
    assert [(r.order.side, r.reason) for r in rejected] == [(1, "post_only"), (-1, "post_only")]


def test_quotes_through_the_close_rest_without_post_only():
    orders, rejected = place_quotes("X", THROUGH, 100.0, SPEC, post_only=False)
    assert [(o.side, o.price) for o in orders] == [(1, 100.5), (-1, 99.5)]
    assert rejected == ()


def test_crosses_includes_a_quote_at_the_close_and_works_on_arrays():
    assert crosses(1, 100.0, 100.0) and crosses(-1, 100.0, 100.0)
    assert not crosses(1, 99.99, 100.0) and not crosses(-1, 100.01, 100.0)
    assert crosses(1, np.array([99.0, 100.0, 101.0]), 100.0).tolist() == [False, True, True]


def test_venue_post_only_defaults_to_true_and_must_be_a_bool():
    assert mmsim.Venue().post_only is True
    with pytest.raises(TypeError):
        mmsim.Venue(post_only="no")


def test_engine_follows_the_venue_setting():
    bars = mmsim.synthetic_bars(("ETHUSDT",), days=0.05, interval="1m", seed=1, funding=False)
    above = mmsim.stateless(
        "bid_above_close",
        lambda inputs: Quotes(bids=((inputs.bar.close * 1.001, 0.1),)),
    )
    strict = mmsim.backtest(bars, above, venue=mmsim.Venue())
    loose = mmsim.backtest(bars, above, venue=mmsim.Venue(post_only=False))
    n = bars.height
    assert strict.rejections.filter(pl.col("reason") == "post_only").height == n
    assert strict.fills.height == 0
    assert loose.rejections.height == 0
    assert loose.symbols["bid"].null_count() == 0
    assert loose.fills.height > 0  # trade-through fills it when the low runs a tick under it
