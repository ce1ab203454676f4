"""Parameter spaces derived from parameter classes: attrs validators read exactly, opaque
validators probed, draws always valid, falsifying examples printed as the factory call."""

from __future__ import annotations

import math

import attrs
import pytest
from attrs import validators as v
from conftest import scaled
from hypothesis import given, settings
from hypothesis import strategies as st

import mmsim
from mmsim.strategies import AvellanedaStoikovParams, FixedSpreadParams
from mmsim.testing import Domain, ladder, param_domains
from mmsim.testing.params import param_space, params_class_of, strategy_space


@attrs.frozen(slots=True)
class Knobs:
    """Every attrs validator kind the derivation reads."""

    spread_bps: float = attrs.field(default=10.0, validator=[v.gt(0.0), v.lt(500.0)])
    skew: float = attrs.field(default=0.0, validator=[v.ge(-1.0), v.le(1.0)])
    levels: int = attrs.field(default=3, validator=[v.instance_of(int), v.ge(1), v.le(8)])
    window: int | None = attrs.field(default=None, validator=v.optional(v.ge(2)))
    side: str = attrs.field(default="both", validator=v.in_(("both", "bid", "ask")))
    hedge: bool = attrs.field(default=False, validator=v.instance_of(bool))
    label: str = attrs.field(default="plain")
    derived: float = attrs.field(init=False, default=1.0)


def check(predicate, text):
    """A validator in the style of a hand-written check: an opaque closure."""

    def validate(instance, attribute, value):
        if not predicate(value):
            raise ValueError(f"{attribute.name} must be {text}, got {value!r}")

    return validate


def number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def one_of(*choices):
    return check(lambda x: x in choices, "one of " + ", ".join(choices))


@attrs.frozen(slots=True)
class Opaque:
    """The same kinds of domain behind validators the derivation cannot read, only call."""

    gamma: float = attrs.field(default=0.1, validator=check(lambda x: number(x) and x > 0, "> 0"))
    half_spread_bps: float = attrs.field(
        default=10.0, validator=check(lambda x: number(x) and 0 < x < 10_000, "in (0, 1e4)")
    )
    window: int = attrs.field(
        default=60, validator=check(lambda x: isinstance(x, int) and x >= 2, "an integer >= 2")
    )
    cap: float | None = attrs.field(
        default=None,
        validator=check(lambda x: x is None or (number(x) and x >= 0.5), ">= 0.5 or None"),
    )
    units: str = attrs.field(default="bps", validator=one_of("bps", "price"))
    horizon: str = attrs.field(
        default="1d", validator=check(lambda x: x in ("1m", "1h", "1d", "inf"), "a horizon")
    )


@attrs.frozen(slots=True)
class Ordered:
    """A cross-field rule the fields' validators do not show: low <= high."""

    low: float = attrs.field(default=1.0, validator=v.ge(0.0))
    high: float = attrs.field(default=2.0, validator=v.ge(0.0))

    def __attrs_post_init__(self):
        if self.low > self.high:
            raise ValueError(f"low {self.low} > high {self.high}")


def test_attrs_validators_are_read_exactly():
    d = param_domains(Knobs)
    assert d["spread_bps"] == Domain("spread_bps", "float", 10.0, 0.0, 500.0, True, True)
    assert d["skew"] == Domain("skew", "float", 0.0, -1.0, 1.0)
    assert d["levels"] == Domain("levels", "int", 3, 1, 8)
    assert d["window"] == Domain("window", "int", None, 2, None, optional=True)
    assert d["side"] == Domain("side", "choice", "both", choices=("both", "bid", "ask"))
    assert d["hedge"] == Domain("hedge", "bool", False)
    assert d["label"].kind == "fixed" and d["label"].default == "plain"
    assert "derived" not in d  # init=False: not a parameter


def test_opaque_validators_are_probed_to_the_same_bounds():
    d = param_domains(Opaque)
    assert (d["gamma"].kind, d["gamma"].low, d["gamma"].low_open, d["gamma"].high) == (
        "float",
        0.0,
        True,
        None,
    )
    assert (d["half_spread_bps"].low, d["half_spread_bps"].high) == (0.0, 10_000.0)
    assert d["half_spread_bps"].low_open and d["half_spread_bps"].high_open
    assert (d["window"].kind, d["window"].low, d["window"].high) == ("int", 2, None)
    assert (d["cap"].low, d["cap"].low_open, d["cap"].optional) == (0.5, False, True)
    assert d["units"].kind == "choice" and set(d["units"].choices) == {"bps", "price"}
    assert set(d["horizon"].choices) == {
        "1m",
        "1h",
        "1d",
        "inf",
    }  # its constants and durations it accepts
    assert {x.source for x in d.values()} == {"probe"}


def test_the_builtin_strategies_parameter_domains():
    fs = param_domains(FixedSpreadParams)
    assert (fs["half_spread_bps"].low, fs["half_spread_bps"].high) == (0.0, 10_000.0)
    assert fs["max_position_value"].optional
    a = param_domains(AvellanedaStoikovParams)
    assert a["gamma"].low == 0.0 and a["gamma"].low_open
    assert a["vol_window"].kind == "int" and a["vol_window"].low == 2
    assert set(a["units"].choices) == {"bps", "price"}
    assert "1d" in a["horizon"].choices and "horizon_us" not in a


def test_sampling_ranges_keep_off_excluded_bounds_and_add_soft_ones():
    d = param_domains(Knobs)
    low, high = d["spread_bps"].sampling_range()
    assert 0.0 < low <= 1e-5 and 500.0 - 1e-4 <= high < 500.0
    assert param_domains(Opaque)["gamma"].sampling_range() == (
        pytest.approx(1e-7),
        pytest.approx(100.0),
    )
    assert d["window"].sampling_range() == (2, 12)


@settings(max_examples=scaled(100))
@given(knobs=param_space(Knobs), opaque=param_space(Opaque))
def test_param_space_draws_only_values_inside_every_domain(knobs, opaque):
    """Every drawn value lies in its field's domain, and the class accepted it."""
    for value in (knobs, opaque):
        for name, domain in param_domains(type(value)).items():
            assert domain.contains(getattr(value, name)), (name, getattr(value, name))


@settings(max_examples=scaled(50))
@given(p=param_space(Ordered))
def test_combinations_the_class_refuses_are_rejected_not_reported(p):
    """A cross-field rule (low <= high) holds in every drawn value."""
    assert p.low <= p.high


@settings(max_examples=scaled(30))
@given(p=param_space(Knobs, levels=5, spread_bps=(1.0, 2.0), side=st.just("bid")))
def test_overrides_fix_bound_or_replace_a_field(p):
    """name=value fixes a field, name=(low, high) bounds it, name=strategy replaces it."""
    assert p.levels == 5 and 1.0 <= p.spread_bps <= 2.0 and p.side == "bid"


def test_an_unknown_override_names_the_fields():
    with pytest.raises(TypeError, match=r"Knobs has no parameter\(s\) \['spreadbps'\]"):
        param_space(Knobs, spreadbps=1.0)


def test_the_parameter_class_is_found_from_the_factory():
    assert params_class_of(mmsim.fixed_spread) is FixedSpreadParams
    assert params_class_of(mmsim.avellaneda_stoikov) is AvellanedaStoikovParams
    with pytest.raises(TypeError, match="not an attrs class"):
        params_class_of(lambda: mmsim.stateless("bare", lambda i: mmsim.Quotes()))


def _falsifying_note(test) -> str:
    with pytest.raises(AssertionError) as info:
        test()
    return "\n".join(getattr(info.value, "__notes__", []))


def test_a_falsifying_strategy_prints_as_the_factory_call():
    @settings(max_examples=20, database=None, derandomize=True)
    @given(strategy=strategy_space(mmsim.fixed_spread))
    def spreads_are_tiny(strategy):
        assert strategy.params.half_spread_bps < 1.0

    note = _falsifying_note(spreads_are_tiny)
    assert "strategy=fixed_spread(" in note and "half_spread_bps=1.0" in note


def knob_factory(params: Knobs) -> mmsim.Strategy:
    """A factory taking its params value (not keywords)."""
    return mmsim.stateless("knobs", lambda i: mmsim.Quotes(), params=params)


@settings(max_examples=scaled(20))
@given(
    strategy=strategy_space(knob_factory, params_cls=Knobs, levels=2), lad=strategy_space(ladder)
)
def test_strategy_space_builds_through_keywords_or_a_params_value(strategy, lad):
    """A factory taking a params value gets one from the space; a keyword factory gets keywords."""
    assert isinstance(strategy.params, Knobs) and strategy.params.levels == 2
    assert lad.name == "ladder" and 1 <= lad.params.levels <= 10
