"""`strategy_properties`: every strategy property as a Hypothesis test class, in one line.

TestMyMM = strategy_properties(my_mm)        # in a test module; pytest collects one test
                                             # per property, each over generated markets,
                                             # parameters, venues, risk rules and cash
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

from mmsim.testing._extra import hypothesis_module

hypothesis = hypothesis_module(needed_by="strategy_properties")
st = hypothesis_module("hypothesis.strategies", needed_by="strategy_properties")

import mmsim  # noqa: E402
from mmsim.core.risk import RiskRule  # noqa: E402
from mmsim.strategies.base import Strategy  # noqa: E402
from mmsim.testing.markets import cash, market_specs, risk_specs, venues  # noqa: E402
from mmsim.testing.params import strategy_space, tracked  # noqa: E402
from mmsim.testing.properties import PROPERTIES, check_property, failure_message  # noqa: E402
from mmsim.testing.regimes import REGIMES  # noqa: E402
from mmsim.testing.regression import add_note, save_folder, save_property_case  # noqa: E402


def backtest_settings(**overrides) -> hypothesis.settings:
    """The active Hypothesis settings made fit for backtests: no deadline (a run takes tens of
    milliseconds), no explain phase (it re-runs hundreds of whole backtests only to annotate
    the falsifying example; shrinking already finds the small market a regression case needs),
    and no too_slow / filter_too_much health checks; `overrides` on top."""
    checks = {hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.filter_too_much}
    base = hypothesis.settings()
    return hypothesis.settings(
        base,
        deadline=None,
        phases=[p for p in base.phases if p.name != "explain"],
        suppress_health_check=sorted(
            set(base.suppress_health_check) | checks, key=lambda c: c.value
        ),
        **overrides,
    )


def load_profile(name: str = "mmsim", **overrides) -> None:
    """Register `backtest_settings(**overrides)` as Hypothesis profile `name` and load it
    (in a conftest.py: every test of the suite then runs with it)."""
    hypothesis.settings.register_profile(name, backtest_settings(**overrides))
    hypothesis.settings.load_profile(name)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part)


def strategy_properties(
    strategy: Callable[..., Strategy] | Strategy,
    *,
    params: dict | st.SearchStrategy | None = None,
    markets: st.SearchStrategy | None = None,
    venue: mmsim.Venue | st.SearchStrategy | None = None,
    risk: RiskRule | st.SearchStrategy | None = None,
    initial_cash: float | st.SearchStrategy | None = None,
    properties: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    max_examples: int | None = None,
    save_failures: str | None = None,
    **property_kwargs,
) -> type:
    """A pytest test class with one Hypothesis test per strategy property (see PROPERTIES).

    strategy: a factory (its parameter space is derived from its params class; `params` is a
    dict of overrides for `strategy_space`, or a SearchStrategy of Strategies) or a Strategy.
    markets: MarketSpecs (default: 1-3 symbols, 2-30 bars, every regime, gaps included);
    venue / risk / initial_cash: fixed values or SearchStrategies (default: drawn venues with
    tick and lot sizes per symbol, basic_risk keyword sets, three account sizes).
    properties / skip: which properties to test. max_examples: per property (default: the
    active Hypothesis profile). save_failures: folder for failing cases (default: the
    MMSIM_SAVE_FAILURES environment variable; none). property_kwargs: passed to the checks
    (inventory=..., cuts=..., max_calls=...).
    """
    names = list(properties) if properties is not None else list(PROPERTIES)
    unknown = sorted((set(names) | set(skip)) - set(PROPERTIES))
    if unknown:
        raise ValueError(f"unknown propert(ies) {unknown}; the properties are {sorted(PROPERTIES)}")
    names = [n for n in names if n not in set(skip)]

    if isinstance(strategy, Strategy):
        strategies, label = st.just(strategy), strategy.name
    elif isinstance(params, st.SearchStrategy):
        strategies, label = params, getattr(strategy, "__name__", "strategy")
    else:
        strategies, label = (
            strategy_space(strategy, **(params or {})),
            getattr(strategy, "__name__", "strategy"),
        )
    markets = markets if markets is not None else market_specs(max_bars=30, regimes=REGIMES)
    risks = (
        risk
        if isinstance(risk, st.SearchStrategy)
        else (st.just(risk) if risk is not None else risk_specs())
    )
    cashes = (
        initial_cash
        if isinstance(initial_cash, st.SearchStrategy)
        else (st.just(initial_cash) if initial_cash is not None else cash())
    )
    settings = backtest_settings(
        **({"max_examples": max_examples} if max_examples is not None else {})
    )

    def make(name: str):
        def test(self, market, strategy, risk, initial_cash, data):
            bars = market.bars()
            if venue is None:
                prices = {p.symbol: p.price for p in market.paths}
                chosen = data.draw(venues(prices=prices), label="venue")
            elif isinstance(venue, st.SearchStrategy):
                chosen = data.draw(venue, label="venue")
            else:
                chosen = venue
            rule = tracked(mmsim.basic_risk)(**risk) if isinstance(risk, dict) else risk
            run = {"venue": chosen, "risk": rule, "initial_cash": initial_cash, **property_kwargs}
            if name == "leverage_caps":
                run["max_leverage"] = data.draw(st.floats(0.2, 10), label="max_leverage")
                run["max_symbol_leverage"] = data.draw(
                    st.floats(0.1, 8), label="max_symbol_leverage"
                )
            violations = check_property(name, strategy, bars, **run)
            if violations:
                error = AssertionError(failure_message(name, violations))
                folder = save_folder(save_failures)
                if folder is not None:
                    path = save_property_case(
                        folder / f"{strategy.name}-{name}.parquet",
                        name,
                        strategy,
                        bars,
                        error=str(error),
                        **run,
                    )
                    add_note(
                        error,
                        f"failing market saved to {path};"
                        f" replay it with mmsim.testing.replay({str(path)!r})",
                    )
                raise error

        test.__name__ = test.__qualname__ = f"test_{name}"
        test.__doc__ = f"{label}: {PROPERTIES[name].__doc__.split(chr(10))[0]}"
        given = hypothesis.given(
            market=markets, strategy=strategies, risk=risks, initial_cash=cashes, data=st.data()
        )
        return settings(given(test))

    caller = inspect.currentframe().f_back
    module = caller.f_globals.get("__name__", __name__) if caller is not None else __name__
    cls = type(f"Test{_camel(label)}Properties", (), {f"test_{n}": make(n) for n in names})
    cls.__module__ = module
    cls.__doc__ = f"The strategy properties of {label}: {', '.join(names)}."
    return cls
