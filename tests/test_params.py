"""One way to declare parameters: the checks of mmsim.core.params, shared by strategies, the
venue and the risk rules, and the messages they give."""

from __future__ import annotations

import math

import attrs
import pytest

import mmsim
from mmsim.core import params as core
from mmsim.strategies import params as strategy_params


@attrs.frozen(slots=True, kw_only=True)
class Knobs:
    share: float = core.param(0.5, unit="fraction", help="h", checks=core.fraction)
    fee: float = core.param(0.0, unit="x", help="h", checks=core.between(0, 1, closed="left"))
    cap: float | None = core.param(None, unit="x", help="h", checks=core.optional(core.positive))
    sizes: tuple = core.param((), unit="USDT", help="h", checks=core.each_value(core.positive))
    levels: int = core.param(unit="levels", help="required", checks=core.at_least(1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"share": 1.0}, r"^share must be a finite number in \(0, 1\), got 1\.0$"),
        ({"fee": 1}, r"^fee must be a finite number in \[0, 1\), got 1$"),
        ({"fee": math.nan}, r"^fee must be a finite number in \[0, 1\), got nan$"),
        ({"cap": True}, r"^cap must be a finite number > 0 or None, got True$"),
        (
            {"sizes": (("A", 1.0), ("B", 0.0))},
            r"^sizes\['B'\] must be a finite number > 0, got 0\.0$",
        ),
        ({"levels": 0}, r"^levels must be an integer >= 1, got 0$"),
    ],
)
def test_a_refused_value_names_the_parameter_the_value_and_the_domain(kwargs, message):
    with pytest.raises(core.ParamError, match=message) as info:
        Knobs(**{"levels": 1, **kwargs})
    assert info.value.param.split("[")[0] == next(iter(kwargs))


def test_build_params_names_the_owner_and_param_infos_the_required_ones():
    with pytest.raises(core.ParamError, match=r"^knobs: share must be .*, got 2$"):
        core.build_params(Knobs, "knobs", levels=1, share=2)
    infos = {p.name: p for p in core.param_infos(Knobs)}
    assert infos["levels"].required and core.format_default(infos["levels"].default) == "required"
    assert not infos["cap"].required and infos["share"].unit == "fraction"


def test_strategies_venue_and_risk_raise_the_same_error_type():
    assert strategy_params.ParamError is core.ParamError is mmsim.ParamError
    for build in (
        lambda: mmsim.Venue(taker_fee=-1.0),
        lambda: mmsim.basic_risk(max_leverage=-1.0),
        lambda: mmsim.core.risk.early_stop(min_equity_fraction=1.0),
    ):
        with pytest.raises(core.ParamError):
            build()
    with pytest.raises(mmsim.StrategyError) as info:
        mmsim.fixed_spread(half_spread_bps=-1.0)
    assert "half_spread_bps must be a finite number > 0, got -1.0" in str(info.value)
