"""Hypothesis strategies for markets, venues, accounts, strategies and risk rules.

Needs the `testing` extra (`pip install 'mmsim[testing]'`). Generated bars are valid by
construction (see `mmsim.testing.regimes`), so every example exercises the engine and the
strategy, not the validator.

    market_specs() / bars_frames()   regime-driven markets, one or several symbols
    venues(prices=...)               fees (maker rebates included), fill rule, slippage, margin,
                                     per-symbol tick and lot sizes around the inferred ones
    positions() / accounts()         valid ledger values; risk_inputs(): what a risk rule sees
    risk_specs() / risk_rules()      basic_risk keyword sets / the rules they build
    market_makers()                  the built-in makers and a test ladder over their parameters
    strategy_inputs(strategy)        what a strategy's update sees (features included)
    runs()                           whole backtest Results on generated markets
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from mmsim.testing._extra import hypothesis_module

st = hypothesis_module("hypothesis.strategies", needed_by="markets")

import mmsim  # noqa: E402  (after the extra's check, so its error comes first)
from mmsim.core.account import FLAT, Account, Position  # noqa: E402
from mmsim.core.orders import Order  # noqa: E402
from mmsim.core.risk import RiskInput  # noqa: E402
from mmsim.core.venue import SymbolSpec, infer_lot_size, infer_tick_size  # noqa: E402
from mmsim.testing.fixtures import ladder  # noqa: E402
from mmsim.testing.params import strategy_space, tracked  # noqa: E402
from mmsim.testing.regimes import GAPLESS, REGIMES, MarketSpec, SymbolPath  # noqa: E402

SYMBOLS = ("AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT")
# midnight, and a few minutes before it: a session ('1d' horizon) resets inside the market
STARTS = ("2024-01-01T00:00:00", "2024-01-01T23:50:00")


def symbol_paths(
    symbol: str, *, regimes: tuple[str, ...] = GAPLESS, max_move: float = 0.05
) -> st.SearchStrategy[SymbolPath]:
    """One symbol's generation: a regime, a first price from 0.001 to 100,000, a volatility
    per bar up to `max_move`, the regime's strength and a seed."""
    unknown = sorted(set(regimes) - set(REGIMES))
    if unknown or not regimes:
        raise ValueError(f"unknown regime(s) {unknown or regimes!r}; the regimes are {REGIMES}")
    return st.builds(
        SymbolPath,
        symbol=st.just(symbol),
        regime=st.sampled_from(regimes),
        price=st.floats(-3, 5).map(lambda e: float(f"{10**e:.6g}")),
        volatility=st.floats(0.0, max_move),
        strength=st.floats(0.0, 1.0),
        seed=st.integers(0, 2**32 - 1),
        on_tick=st.booleans(),
    )


@st.composite
def market_specs(
    draw,
    symbols: tuple[str, ...] | None = None,
    *,
    min_symbols: int = 1,
    max_symbols: int = 3,
    min_bars: int = 2,
    max_bars: int = 40,
    regimes: tuple[str, ...] = GAPLESS,
    max_move: float = 0.05,
    funding: bool | None = None,
    intervals: tuple[str, ...] = ("1m",),
    starts: tuple[str, ...] = STARTS,
) -> MarketSpec:
    """A MarketSpec: `symbols` (or 1-3 of SYMBOLS), each with a regime drawn from `regimes`
    (add "gapping", or use REGIMES, for frames with missing bars), `min_bars`-`max_bars` bars
    of an interval from `intervals`; funding None draws whether there is a funding column."""
    if symbols is None:
        symbols = SYMBOLS[: draw(st.integers(min_symbols, max_symbols), label="n_symbols")]
    paths = tuple(draw(symbol_paths(s, regimes=regimes, max_move=max_move)) for s in symbols)
    return MarketSpec(
        paths,
        n_bars=draw(st.integers(min_bars, max_bars), label="n_bars"),
        interval=draw(st.sampled_from(intervals), label="interval"),
        start=draw(st.sampled_from(starts), label="start"),
        funding=draw(st.booleans()) if funding is None else funding,
    )


def bars_frames(
    symbols: tuple[str, ...] | None = None,
    min_bars: int = 2,
    max_bars: int = 40,
    max_move: float = 0.05,
    funding: bool | None = True,
    *,
    regimes: tuple[str, ...] = GAPLESS,
    **spec_kwargs,
) -> st.SearchStrategy:
    """Bars frames of generated markets (see `market_specs`); each frame remembers its spec,
    so a failing one saved with `save_case` keeps its regimes and seeds. With "gapping" among
    the regimes, run them with `backtest(..., allow_gaps=mmsim.testing.has_gaps(bars))`."""
    return market_specs(
        symbols,
        min_bars=min_bars,
        max_bars=max_bars,
        max_move=max_move,
        funding=funding,
        regimes=regimes,
        **spec_kwargs,
    ).map(MarketSpec.bars)


def venues(
    prices: Mapping[str, float] | None = None,
    *,
    bars=None,
    post_only: str | bool | None = None,
) -> st.SearchStrategy[mmsim.Venue]:
    """Venues: maker fees from a 2.5 bps rebate to 10 bps, taker fees, 0-2 ticks of
    penetration, participation caps, market slippage, maintenance margin rates, post-only
    "clamp" or False (`post_only` fixes any mode, "reject" too); with `prices`
    (symbol -> first close) or `bars`, per-symbol tick sizes of 0.1x-1000x and lot sizes of
    0.01x-100x the inferred ones (or the inferred ones: None)."""
    if bars is not None:
        import polars as pl

        prices = dict(
            bars.sort("ts")
            .group_by("symbol", maintain_order=True)
            .agg(pl.col("close").first())
            .iter_rows()
        )
    sizes: dict = {}
    if prices:
        sizes["tick_sizes"] = st.fixed_dictionaries(
            {},
            optional={
                s: st.sampled_from([infer_tick_size(p) * 10.0**k for k in (-1, 0, 1, 2, 3)])
                for s, p in prices.items()
            },
        )
        sizes["lot_sizes"] = st.fixed_dictionaries(
            {},
            optional={
                s: st.sampled_from([infer_lot_size(p) * 10.0**k for k in (-2, -1, 0, 1, 2)])
                for s, p in prices.items()
            },
        )
    kwargs = dict(
        maker_fee=st.sampled_from([0.0, 0.0002, -0.0001, -0.00025, 0.001]),
        taker_fee=st.sampled_from([0.0, 0.0005, 0.001]),
        penetration_ticks=st.integers(0, 2),
        max_participation=st.one_of(st.none(), st.floats(0.01, 1.0)),
        market_slippage_bps=st.sampled_from([0.0, 2.0, 25.0]),
        maintenance_margin_rate=st.sampled_from([0.005, 0.05, 0.2]),
        **sizes,
    )
    if "post_only" in attrs.fields_dict(mmsim.Venue):
        # a quote through the close clamped behind it (the default) or left to rest; "reject"
        # differs from "clamp" only in refusing the quote instead (pass post_only="reject")
        kwargs["post_only"] = (
            st.booleans().map(lambda off: False if off else "clamp")
            if post_only is None
            else st.just(post_only)
        )
    return st.builds(mmsim.Venue, **kwargs)


# --- ledger values --------------------------------------------------------------------------


@st.composite
def positions(
    draw, *, max_qty: float = 1e4, min_price: float = 1e-3, max_price: float = 1e5
) -> Position:
    """A valid Position: flat, or a signed quantity with a positive entry price."""
    qty = draw(st.one_of(st.just(0.0), st.floats(-max_qty, max_qty, allow_nan=False)), label="qty")
    if qty == 0.0:
        return FLAT
    return Position(qty, draw(st.floats(min_price, max_price), label="entry_price"))


@st.composite
def accounts(
    draw,
    symbols: tuple[str, ...] | None = None,
    *,
    min_equity: float | None = None,
    max_qty: float = 1e4,
) -> Account:
    """A valid Account: positions and marks per symbol (marks within +-50 % of the entry),
    wallet, and running realized PnL, fees (rebates make them negative), funding and traded
    notional. min_equity: keep only accounts with at least that equity."""
    if symbols is None:
        symbols = SYMBOLS[: draw(st.integers(1, 3), label="n_symbols")]
    held = tuple(draw(positions(max_qty=max_qty)) for _ in symbols)
    marks = tuple(
        (
            p.entry_price * math.exp(draw(st.floats(-0.5, 0.5)))
            if p.qty
            else draw(st.floats(1e-3, 1e5))
        )
        for p in held
    )
    n = len(symbols)
    money = st.floats(-1e6, 1e6)
    account = Account(
        tuple(symbols),
        wallet=draw(st.floats(-1e5, 1e7), label="wallet"),
        positions=held,
        marks=marks,
        realized=tuple(draw(money) for _ in range(n)),
        fees=tuple(draw(st.floats(-1e3, 1e4)) for _ in range(n)),
        funding=tuple(draw(st.floats(-1e4, 1e4)) for _ in range(n)),
        traded=tuple(draw(st.floats(0.0, 1e8)) for _ in range(n)),
    )
    if min_equity is not None:
        hypothesis_module(needed_by="accounts").assume(account.equity >= min_equity)
    return account


@st.composite
def risk_inputs(
    draw,
    symbols: tuple[str, ...] | None = None,
    *,
    max_orders: int = 6,
    venue=None,
    initial_cash: float | None = None,
) -> RiskInput:
    """What a risk rule sees at a bar close: an account, orders proposed around each mark (on
    the symbol's tick and lot grid, up to `max_orders` in all), the venue and specs."""
    account = draw(accounts(symbols), label="account")
    venue = venue if venue is not None else draw(venues(), label="venue")
    specs = {
        s: SymbolSpec(infer_tick_size(m), infer_lot_size(m))
        for s, m in zip(account.symbols, account.marks)
    }
    orders = []
    for k in range(draw(st.integers(0, max_orders), label="n_orders")):
        i = draw(st.integers(0, len(account.symbols) - 1))
        symbol, mark, spec = account.symbols[i], account.marks[i], specs[account.symbols[i]]
        side = draw(st.sampled_from([1, -1]))
        distance = draw(st.floats(0.0001, 0.5))
        price = max(
            spec.tick_size, round(mark * (1 - side * distance) / spec.tick_size) * spec.tick_size
        )
        lots = draw(st.integers(1, 10_000))
        orders.append(Order(symbol, side, price, lots * spec.lot_size, k))
    cash = initial_cash if initial_cash is not None else draw(st.sampled_from([1_000.0, 100_000.0]))
    return RiskInput(0, tuple(orders), account, cash, venue, specs)


# --- rules and strategies -------------------------------------------------------------------


# thresholds from loose to tight: tight ones must fire within a few tens of bars
_DRAWDOWNS = st.one_of(st.none(), st.floats(0.001, 0.5), st.sampled_from([0.001, 0.003, 0.01]))
_STOPS = st.one_of(st.none(), st.floats(0.3, 0.9999), st.sampled_from([0.99, 0.999, 0.9999]))


def risk_specs() -> st.SearchStrategy[dict]:
    """Keyword sets of `mmsim.basic_risk`: every combination of caps, thresholds and stops
    (None = that rule absent); a dict, so a saved failing case can rebuild its rule."""
    return st.fixed_dictionaries(
        {
            "max_leverage": st.one_of(st.none(), st.floats(0.5, 50)),
            "max_symbol_leverage": st.one_of(st.none(), st.floats(0.2, 30)),
            "min_order_value": st.sampled_from([0.0, 10.0, 500.0]),
            "emergency_leverage": st.one_of(st.none(), st.floats(1, 40)),
            "emergency_drawdown": _DRAWDOWNS,
            "stop_equity_fraction": _STOPS,
        }
    )


def risk_rules() -> st.SearchStrategy[mmsim.RiskRule]:
    """`mmsim.basic_risk` with every combination of caps, thresholds and stops."""
    return st.builds(
        tracked(mmsim.basic_risk),
        max_leverage=st.one_of(st.none(), st.floats(0.5, 50)),
        max_symbol_leverage=st.one_of(st.none(), st.floats(0.2, 30)),
        min_order_value=st.sampled_from([0.0, 10.0, 500.0]),
        emergency_leverage=st.one_of(st.none(), st.floats(1, 40)),
        emergency_drawdown=_DRAWDOWNS,
        stop_equity_fraction=_STOPS,
    )


def market_makers() -> st.SearchStrategy[mmsim.Strategy]:
    """The built-in market makers and the test ladder over their derived parameter spaces,
    narrowed where a 40-bar market needs it (short volatility windows, order values)."""
    value = st.floats(50, 50_000)
    return st.one_of(
        strategy_space(mmsim.fixed_spread, half_spread_bps=st.floats(0.5, 200), order_value=value),
        strategy_space(
            mmsim.avellaneda_stoikov,
            gamma=st.floats(1e-5, 0.1),
            kappa=st.floats(0.01, 5),
            horizon=st.sampled_from(["10m", "1h", "1d"]),
            order_value=value,
            vol_window=st.integers(2, 10),
        ),
        strategy_space(
            ladder,
            levels=st.integers(1, 4),
            spacing_bps=st.floats(1, 300),
            order_value=value,
            skew_bps=st.floats(0, 50),
        ),
    )


def cash() -> st.SearchStrategy[float]:
    """Initial cash: small, medium and large accounts (USDT)."""
    return st.sampled_from([1_000.0, 20_000.0, 1_000_000.0])


# --- what a strategy sees, and whole runs ---------------------------------------------------

MINUTE_US = 60_000_000

# plausible values of mmsim's feature families, by name prefix (longest prefixes first):
# a value per bar as the feature computes it, given the bar's close
_FEATURE_VALUES = (
    ("ewma_volatility_", lambda close: st.floats(1e-5, 0.02)),
    ("parkinson_volatility_", lambda close: st.floats(1e-5, 0.02)),
    ("garman_klass_volatility_", lambda close: st.floats(1e-5, 0.02)),
    ("volatility_", lambda close: st.floats(1e-5, 0.02)),
    ("sma_close_", lambda close: st.floats(-0.02, 0.02).map(lambda x: close * (1 + x))),
    ("sma_deviation_", lambda close: st.floats(-0.05, 0.05)),
    ("ema_deviation_", lambda close: st.floats(-0.05, 0.05)),
    ("log_return_", lambda close: st.floats(-0.05, 0.05)),
    ("momentum_", lambda close: st.floats(-0.1, 0.1)),
    ("volume_value_", lambda close: st.floats(1.0, 1e7)),
    ("relative_volume_", lambda close: st.floats(0.0, 10.0)),
    ("flow_imbalance_", lambda close: st.floats(-1.0, 1.0)),
    ("taker_imbalance_", lambda close: st.floats(-1.0, 1.0)),
    ("natr_", lambda close: st.floats(0.0, 0.05)),
    ("atr_", lambda close: st.floats(0.0, 0.05).map(lambda x: close * x)),
    ("hl_range_", lambda close: st.floats(0.0, 0.05)),
    ("fill_A_", lambda close: st.floats(0.05, 5.0)),
    ("fill_kappa_", lambda close: st.floats(0.01, 2.0)),
)


@st.composite
def feature_values(draw, strategy, close: float, overrides: Mapping | None = None) -> dict:
    """A value for each feature `strategy` reads: `overrides[name]` (a value or a strategy),
    else a plausible one for mmsim's feature families (by name prefix)."""
    overrides = dict(overrides or {})
    values = {}
    for f in strategy.features:
        if f.name in overrides:
            given = overrides[f.name]
            values[f.name] = draw(given) if isinstance(given, st.SearchStrategy) else given
            continue
        family = next((make for prefix, make in _FEATURE_VALUES if f.name.startswith(prefix)), None)
        if family is None:
            raise ValueError(
                f"no values known for feature {f.name!r} of strategy {strategy.name!r}; "
                f"pass strategy_inputs(..., features={{{f.name!r}: <value or strategy>}})"
            )
        values[f.name] = draw(family(close))
    return values


@st.composite
def strategy_inputs(
    draw,
    strategy,
    *,
    max_position_value: float = 50_000.0,
    features: Mapping | None = None,
    interval_us: int = MINUTE_US,
    equity: float = 100_000.0,
):
    """What `strategy.update` sees at one bar close: a close from 0.01 to 200,000, a position
    worth up to +-max_position_value USDT entered within 5 % of the close, a timestamp, a
    value for every feature it reads (see `feature_values`), and the rule-of-thumb tick and
    lot at the close."""
    from mmsim.core.bars import Bar
    from mmsim.strategies.base import StrategyInput

    close = draw(st.floats(0.01, 200_000.0), label="close")
    position = (
        draw(st.floats(-max_position_value, max_position_value), label="position value") / close
    )
    entry = close * (1 + draw(st.floats(-0.05, 0.05), label="entry offset")) if position else 0.0
    ts = draw(st.integers(0, 10_000), label="minute") * MINUTE_US
    bar = Bar(
        "TESTUSDT",
        ts,
        close,
        close,
        close,
        close,
        1_000.0,
        0.0,
        draw(feature_values(strategy, close, features), label="features"),
    )
    return StrategyInput(
        bar,
        position,
        entry,
        equity,
        interval_us,
        tick_size=infer_tick_size(close),
        lot_size=infer_lot_size(close),
    )


@st.composite
def runs(
    draw,
    *,
    max_bars: int = 40,
    max_symbols: int = 3,
    regimes: tuple[str, ...] = REGIMES,
    intervals: tuple[str, ...] = ("1m", "1h"),
    strategies: st.SearchStrategy | None = None,
):
    """A whole backtest Result on a generated market (gaps included): a strategy per symbol
    (`strategies`, default `market_makers()`), no risk rule or a basic_risk set, a venue with
    tick and lot sizes, an account size. Small (tens of bars) so a property can run hundreds;
    wide (rebates, taker exits, early stops, liquidations, gaps, several quote levels) so the
    identities tested on them meet every kind of fill."""
    spec = draw(
        market_specs(
            max_symbols=max_symbols, max_bars=max_bars, regimes=regimes, intervals=intervals
        ),
        label="market",
    )
    bars = spec.bars()
    makers = strategies if strategies is not None else market_makers()
    per_symbol = {s: draw(makers, label=f"strategy {s}") for s in spec.symbols}
    # a basic_risk set three times in four (stops, exits and caps must fire), else none
    risk = (
        draw(risk_rules(), label="risk")
        if draw(st.integers(0, 3), label="with risk")
        else mmsim.chain()
    )
    from mmsim.testing.trace import has_gaps

    return mmsim.backtest(
        bars,
        per_symbol,
        risk=risk,
        venue=draw(venues(bars=bars), label="venue"),
        initial_cash=draw(cash(), label="initial_cash"),
        allow_gaps=has_gaps(bars),
    )
