"""Venue validation and rounding; placement turns quotes into post-only orders on the grid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmsim.core.orders import Quotes
from mmsim.core.placement import place_quotes
from mmsim.core.venue import (
    SymbolSpec,
    Venue,
    infer_lot_size,
    infer_tick_size,
    round_price,
    round_qty,
)


def test_rounding_is_never_more_aggressive_than_asked():
    assert round_price(100.07, 0.1, 1) == 100.0
    assert round_price(100.01, 0.1, -1) == 100.1
    assert round_price(100.0, 0.1, 1) == 100.0  # on the grid stays put despite float noise
    assert round_qty(0.0199999, 0.01) == 0.01
    assert round_qty(0.03, 0.01) == 0.03


def test_inferred_sizes_follow_the_price_level():
    assert infer_tick_size(60_000) == pytest.approx(0.1)
    assert infer_tick_size(3_000) == pytest.approx(0.01)
    assert infer_lot_size(60_000) == pytest.approx(1e-4)
    assert infer_lot_size(0.5) == pytest.approx(10.0)
    venue = Venue(tick_sizes={"BTCUSDT": 0.5})
    assert venue.spec("BTCUSDT", 60_000).tick_size == 0.5
    assert venue.spec("ETHUSDT", 3_000).tick_size == pytest.approx(0.01)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"maker_fee": 0.5}, "maker_fee"),
        ({"taker_fee": -0.001}, "taker_fee"),
        ({"penetration_ticks": -1}, "penetration_ticks"),
        ({"max_participation": 1.5}, "max_participation"),
        ({"maintenance_margin_rate": 0.0}, "maintenance_margin_rate"),
        ({"tick_sizes": {"BTCUSDT": 0.0}}, "tick_sizes"),
        # the messages name the parameter (the symbol of a per-symbol size), the value and
        # what was expected
        (
            {"maker_fee": float("nan")},
            r"^maker_fee must be a finite number in \(-0\.01, 0\.01\), got nan$",
        ),
        (
            {"max_participation": 1.5},
            r"^max_participation must be a finite number in \(0, 1\] or None, got 1\.5$",
        ),
        (
            {"tick_sizes": {"ETHUSDT": 0.01, "BTCUSDT": "x"}},
            r"^tick_sizes\['BTCUSDT'\] must be a finite number > 0, got 'x'$",
        ),
        (
            {"lot_sizes": {"BTCUSDT": -1}},
            r"^lot_sizes\['BTCUSDT'\] must be a finite number > 0, got -1\.0$",
        ),
        ({"penetration_ticks": True}, r"^penetration_ticks must be an integer >= 0, got True$"),
    ],
)
def test_invalid_venues_cannot_exist(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Venue(**kwargs)


SPEC = SymbolSpec(tick_size=0.1, lot_size=0.01)


def test_quotes_are_rounded_bids_down_asks_up_and_lots_down():
    orders, rejected = place_quotes("A", Quotes(((99.97, 1.234),), ((100.32, 0.5),)), 100.0, SPEC)
    assert [(o.side, o.price, o.qty) for o in orders] == [(1, 99.9, 1.23), (-1, 100.4, 0.5)]
    assert rejected == ()


def test_a_quote_crossing_the_close_is_rejected_post_only():
    orders, rejected = place_quotes(
        "A", Quotes(((100.05, 1.0), (99.0, 1.0)), ((100.0, 1.0),)), 100.0, SPEC, post_only="reject"
    )
    assert [(o.side, o.price, o.level) for o in orders] == [(1, 99.0, 1)]
    assert sorted((r.order.side, r.reason) for r in rejected) == [
        (-1, "post_only"),
        (1, "post_only"),
    ]


def test_a_quantity_below_one_lot_is_rejected():
    orders, rejected = place_quotes("A", Quotes(((99.0, 0.004),), ()), 100.0, SPEC)
    assert orders == () and [r.reason for r in rejected] == ["lot_size"]


def test_a_strategy_proposing_a_nan_price_gets_a_clear_error():
    with pytest.raises(ValueError, match="strategy for A proposed an invalid bid level 0"):
        place_quotes("A", Quotes(((float("nan"), 1.0),), ()), 100.0, SPEC)


@pytest.mark.parametrize("step", [2.0**-14, 2.0**-7, 0.25, 0.005, 1e-8, 0.1])
def test_rounding_keeps_every_digit_of_the_step(step):
    # 7965 lots of 2^-14 is 0.48614501953125 exactly: it must not lose its last digits
    for n in (1, 7, 7965, 123_457):
        exact = float(Decimal(n) * Decimal(repr(step)))  # n steps, written in decimal
        assert round_qty(n * step, step) == exact
        assert round_price(n * step, step, 1) == exact
        assert round_price(n * step, step, -1) == exact


def test_a_binary_fraction_lot_stays_on_its_grid():
    assert round_qty(0.48614501953125, 2.0**-14) == 0.48614501953125
    assert round_qty(0.4861451, 2.0**-14) == 0.48614501953125
