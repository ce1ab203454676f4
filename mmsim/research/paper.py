"""Avellaneda & Stoikov (2008), section 3.3: the paper's market, its two strategies, its experiment.

The paper's units: absolute prices (the mid starts at s0 = 100), time in paper time units (one
unit = `time_unit`, a day by default, so T = 1 is one session of 200 bars of 7m12s), σ in price
per √(time unit), γ and κ per price unit, A arrivals per time unit, one unit traded per fill.

The market: an arithmetic random walk of the mid, s_k = s_(k−1) ± σ·√dt with equal probability,
and two uniform draws per bar that decide whether the bid and the ask are hit (see
`mmsim.intensity`). Each path is one symbol of a bars frame: an opening bar whose close is t = 0
(open = close = s0), then one bar per step from t_(k−1) to t_k (open = s_(k−1), close = s_k).

The strategies (both built on `reservation_price` and `optimal_spread`): at each close the
"inventory" strategy quotes r ± δ/2 around the reservation price r = s − q·γ·σ²·(T − t); the
"symmetric" one quotes the same spread around the mid (the published benchmark quotes the
inventory strategy's time-averaged spread, a constant: pass `spread=`). T − t is read from the
bar's close time: windows of `horizon` aligned to the epoch, as in the core strategy.

Run paths through the real engine (`method="engine"`: one `mmsim.backtest` per path) or through
the fast path (`method="fast"`): each path on the engine's compiled kernels (the paper's
strategies have one), read from the kernel's output without building a run's frames; tests
prove them identical.
"""

from __future__ import annotations

import datetime
import importlib.util
import math
from collections.abc import Sequence

import attrs
import numpy as np
import polars as pl
from attrs import validators as v

from mmsim.core.backtest import backtest
from mmsim.core.bars import bar_interval_us, validate_bars
from mmsim.core.clock import parse_duration_us, time_left_us
from mmsim.core.intensity import IntensityParams, intensity_matching
from mmsim.core.orders import Quotes
from mmsim.core.specs import symbol_specs
from mmsim.core.venue import Venue
from mmsim.strategies.avellaneda_stoikov import optimal_spread, reservation_price
from mmsim.strategies.base import (
    Strategy,
    StrategyInput,
    stateless,
)

# The paper's section 3.3 settings.
S0, SIGMA, HORIZON, DT, A, KAPPA = 100.0, 2.0, 1.0, 0.005, 140.0, 1.5
GAMMAS = (0.1, 0.01, 1.0)

# Tables 1-3 of the published article (Quantitative Finance 8(3), 2008, pp. 222-223), as
# (average spread, profit, std(profit), final q, std(final q)); 1000 simulations each.
PUBLISHED_2008 = {
    (0.1, "inventory"): (1.49, 65.0, 6.6, 0.08, 2.9),
    (0.1, "symmetric"): (1.49, 68.4, 12.7, 0.26, 8.4),
    (0.01, "inventory"): (1.35, 68.6, 8.7, 0.12, 5.1),
    (0.01, "symmetric"): (1.35, 68.8, 12.8, 0.09, 8.7),
    (1.0, "inventory"): (3.02, 31.4, 5.0, 0.02, 1.7),
    (1.0, "symmetric"): (3.02, 44.0, 11.0, 0.00, 5.1),
}
# Tables 1-3 of the working paper of October 5, 2006 (its third table is for gamma = 0.5).
PREPRINT_2006 = {
    (0.1, "inventory"): (1.29, 62.94, 5.89, 0.10, 2.80),
    (0.1, "symmetric"): (1.29, 67.21, 13.43, -0.018, 8.66),
    (0.01, "inventory"): (1.33, 66.78, 8.76, -0.02, 4.70),
    (0.01, "symmetric"): (1.33, 67.36, 13.40, -0.31, 8.65),
    (0.5, "inventory"): (1.15, 33.92, 4.72, -0.02, 1.88),
    (0.5, "symmetric"): (1.15, 66.20, 14.53, 0.25, 9.06),
}


# ---------------------------------------------------------------------------------- market
def paper_market(
    *,
    paths: int = 1000,
    seed: int = 2008,
    s0: float = S0,
    sigma: float = SIGMA,
    horizon: float = HORIZON,
    dt: float = DT,
    time_unit: str = "1d",
    start: str | datetime.datetime = "2024-01-01",
    draws: Sequence[str] = ("u_bid", "u_ask"),
) -> pl.DataFrame:
    """The paper's market for `paths` independent paths: one bars frame, one symbol per path.

    Layout: ts, symbol ("path0000", ...), open, high, low, close, volume (0), and one uniform
    [0, 1) column per name in `draws`; sorted by (ts, symbol). t = 0 is `start` (UTC): the close
    of the opening bar; it must start a window of `horizon` time units counted from the epoch,
    because the strategies read T − t from such windows (e.g. UTC midnight for one day).
    Path i draws from its own child of SeedSequence(seed): the same path whatever the number of
    paths asked for.
    """
    if not (isinstance(paths, int) and paths >= 1):
        raise ValueError(f"paths must be a positive integer, got {paths!r}")
    for name, value in (("s0", s0), ("sigma", sigma), ("horizon", horizon), ("dt", dt)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite, got {value!r}")
    steps = round(horizon / dt)
    if steps < 1 or abs(steps * dt - horizon) > 1e-9 * horizon:
        raise ValueError(f"horizon ({horizon}) must be a whole number of steps dt ({dt})")
    unit_us = parse_duration_us(time_unit)
    interval_us = round(dt * unit_us)
    if interval_us < 1 or abs(interval_us - dt * unit_us) > 1e-6 * dt * unit_us:
        raise ValueError(f"dt = {dt} {time_unit} is not a whole number of microseconds")
    draws = tuple(draws)
    if len(set(draws)) != len(draws) or not all(
        isinstance(d, str) and d.isidentifier() for d in draws
    ):
        raise ValueError(f"draws must be distinct column names, got {draws!r}")
    if isinstance(start, str):
        start = datetime.datetime.fromisoformat(start)
    if start.tzinfo is not None:
        start = start.astimezone(datetime.timezone.utc).replace(tzinfo=None)

    start_us = int((start - datetime.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    horizon_us = round(horizon * unit_us)
    if start_us % horizon_us:
        raise ValueError(
            f"start {start} is not at the start of a {horizon} x {time_unit} window counted from "
            "the epoch, where the strategies' T - t begins (e.g. use a UTC midnight for 1 day)"
        )
    n_bars = steps + 1
    step = sigma * math.sqrt(dt)
    mids = np.empty((n_bars, paths))
    uniforms = np.empty((len(draws), n_bars, paths))
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(paths)):
        rng = np.random.default_rng(child)
        signs = np.where(rng.random(steps) < 0.5, 1.0, -1.0)
        mids[0, i] = s0
        mids[1:, i] = s0 + step * np.cumsum(signs)
        uniforms[:, :, i] = rng.random((len(draws), n_bars))
    opens = np.vstack([mids[:1], mids[:-1]])
    first = np.datetime64(start, "us") - np.timedelta64(interval_us, "us")
    ts = first + np.arange(n_bars) * np.timedelta64(interval_us, "us")
    width = max(4, len(str(paths - 1)))
    symbols = [f"path{i:0{width}d}" for i in range(paths)]
    return pl.DataFrame(
        {
            "ts": np.repeat(ts, paths),
            "symbol": symbols * n_bars,
            "open": opens.ravel(),
            "high": np.maximum(opens, mids).ravel(),
            "low": np.minimum(opens, mids).ravel(),
            "close": mids.ravel(),
            "volume": np.zeros(n_bars * paths),
            **{name: uniforms[k].ravel() for k, name in enumerate(draws)},
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


def paper_venue(symbols: Sequence[str], *, tick_size: float = 1e-9, lot_size: float = 1.0) -> Venue:
    """The paper's venue: no fees, whole units, a price grid too fine to matter, no post-only rule.

    The paper's quotes sit around the reservation price, which a large inventory pushes past
    the mid; the model does not reject such a quote but fills it with probability λ(δ)·dt at
    δ < 0 (a sure fill once that exceeds 1), so post-only is off (Venue.post_only=False).
    """
    return Venue(
        maker_fee=0.0,
        taker_fee=0.0,
        post_only=False,
        tick_sizes={s: tick_size for s in symbols},
        lot_sizes={s: lot_size for s in symbols},
    )


def paper_matching(
    *, A: float = A, kappa: float = KAPPA, dt: float = DT, probability: str = "linear"
):
    """Intensity fills with the paper's A, κ and dt, δ in price units, probability λ(δ)·dt."""
    return intensity_matching(A=A, kappa=kappa, dt=dt, probability=probability, units="price")


# ------------------------------------------------------------------------------ strategies
@attrs.frozen(slots=True)
class PaperQuoteParams:
    """gamma: risk aversion (1/price); sigma: price per √(time unit); kappa: intensity decay
    (1/price); center: "reservation" (inventory strategy) or "mid" (symmetric); spread: a
    constant bid-to-ask distance (price), or None for optimal_spread at each quote; horizon: T,
    the session length (windows aligned to the epoch); time_unit: the unit of T − t and σ;
    order_qty: units per quote, also the unit of the inventory q.
    """

    gamma: float = attrs.field(validator=v.gt(0.0))
    sigma: float = attrs.field(validator=v.gt(0.0))
    kappa: float = attrs.field(validator=v.gt(0.0))
    center: str = attrs.field(default="reservation", validator=v.in_(("reservation", "mid")))
    spread: float | None = attrs.field(default=None, validator=v.optional(v.gt(0.0)))
    horizon: str = "1d"
    time_unit: str = "1d"
    order_qty: float = attrs.field(default=1.0, validator=v.gt(0.0))
    horizon_us: int = attrs.field(init=False)
    time_unit_us: int = attrs.field(init=False)

    @horizon_us.default
    def _horizon_us(self):
        return parse_duration_us(self.horizon)

    @time_unit_us.default
    def _time_unit_us(self):
        return parse_duration_us(self.time_unit)


def time_left(params: PaperQuoteParams, close_ts: int) -> float:
    """T − t in time units at a bar close (µs since the epoch)."""
    return time_left_us(close_ts, params.horizon_us) / params.time_unit_us


def paper_quotes(params: PaperQuoteParams, mid, inventory, tau: float):
    """(bid, ask, center) at mid s, inventory q (order units) and T − t = tau; arrays allowed."""
    spread = (
        optimal_spread(params.gamma, params.sigma, tau, params.kappa)
        if params.spread is None
        else params.spread
    )
    if params.center == "reservation":
        center = reservation_price(mid, inventory, params.gamma, params.sigma, tau)
    else:
        center = mid
    half = spread / 2.0
    return center - half, center + half, center


def _quote(params: PaperQuoteParams, inputs: StrategyInput) -> Quotes:
    tau = time_left(params, inputs.close_ts)
    bid, ask, center = paper_quotes(
        params, inputs.bar.close, inputs.position / params.order_qty, tau
    )
    qty = params.order_qty
    return Quotes(
        bids=((bid, qty),) if bid > 0 else (),  # a non-positive price cannot be quoted
        asks=((ask, qty),) if ask > 0 else (),
        reservation_price=center if center > 0 else None,
    )


def paper_strategy(params: PaperQuoteParams) -> Strategy:
    """The paper's strategy for these parameters: "as2008_inventory" around the reservation
    price, "as2008_symmetric" around the mid (the fast path has its kernel)."""
    name = "as2008_inventory" if params.center == "reservation" else "as2008_symmetric"
    strategy = stateless(name, lambda inputs: _quote(params, inputs), params=params)
    return attrs.evolve(strategy, origin=paper_strategy)


paper_strategy.from_params = paper_strategy  # a strategy pickles as (factory, params)


def inventory_strategy(
    *,
    gamma: float,
    sigma: float = SIGMA,
    kappa: float = KAPPA,
    spread: float | None = None,
    horizon: str = "1d",
    time_unit: str = "1d",
    order_qty: float = 1.0,
) -> Strategy:
    """The paper's "inventory" strategy: r ± δ/2 around the reservation price, fixed σ and T."""
    params = PaperQuoteParams(
        gamma, sigma, kappa, "reservation", spread, horizon, time_unit, order_qty
    )
    return paper_strategy(params)


def symmetric_strategy(
    *,
    gamma: float,
    sigma: float = SIGMA,
    kappa: float = KAPPA,
    spread: float | None = None,
    horizon: str = "1d",
    time_unit: str = "1d",
    order_qty: float = 1.0,
) -> Strategy:
    """The paper's "symmetric" benchmark: s ± δ/2 around the mid (δ constant if `spread` given)."""
    params = PaperQuoteParams(gamma, sigma, kappa, "mid", spread, horizon, time_unit, order_qty)
    return paper_strategy(params)


def quote_times_left(market: pl.DataFrame, params: PaperQuoteParams) -> list[float]:
    """T − t at each close where a quote is set that can still fill (all bars but the last)."""
    ts = market["ts"].unique().sort().dt.epoch("us")
    if ts.len() < 2:
        raise ValueError("the market needs at least two bars")
    interval = int(ts.diff().drop_nulls().mode().min())  # the bar length, as bar_interval_us
    return [time_left(params, t + interval) for t in ts.to_list()[:-1]]


def average_spread(market: pl.DataFrame, strategy: Strategy) -> float:
    """The optimal spread averaged over the quotes of a session (the symmetric benchmark's)."""
    p = strategy.params
    taus = quote_times_left(market, p)
    return sum(optimal_spread(p.gamma, p.sigma, tau, p.kappa) for tau in taus) / len(taus)


# ----------------------------------------------------------------------------------- runs
_RESULT_SCHEMA = {
    "symbol": pl.String,
    "profit": pl.Float64,
    "final_q": pl.Float64,
    "fills": pl.Int64,
    "spread": pl.Float64,
}


def run_paths(
    market: pl.DataFrame,
    strategy: Strategy,
    *,
    matching=None,
    venue: Venue | None = None,
    initial_cash: float = 10_000.0,
    method: str = "fast",
) -> pl.DataFrame:
    """Run `strategy` on every path (symbol) of `market`, each as its own single-symbol account.

    matching: an `intensity_matching(...)` stage (default: `paper_matching()`); venue: default
    `paper_venue(symbols)`. method="engine" runs one reference-engine `mmsim.backtest` per path;
    "fast" runs each path on the engine's compiled kernels (paper strategies and intensity
    fills only).
    Returns one row per path: symbol, profit (final equity − initial cash), final_q (units),
    fills, spread (the mean ask − bid of the quotes that rested).
    """
    matching = matching or paper_matching()
    frame = validate_bars(market)
    symbols = tuple(frame["symbol"].unique(maintain_order=True).sort().to_list())
    venue = venue or paper_venue(symbols)
    if method == "engine":
        return _run_engine(frame, symbols, strategy, matching, venue, initial_cash)
    if method == "fast":
        return _run_fast(frame, symbols, strategy, matching, venue, initial_cash)
    raise ValueError(f"method must be 'engine' or 'fast', got {method!r}")


def _run_engine(frame, symbols, strategy, matching, venue, initial_cash) -> pl.DataFrame:
    rows = []
    parts = frame.partition_by("symbol", as_dict=True)
    for symbol in symbols:
        one = parts[(symbol,)]
        result = backtest(  # the reference engine: the fast path is proven against it
            one,
            strategy,
            venue=venue,
            matching=matching,
            initial_cash=initial_cash,
            engine="reference",
        )
        quotes = result.symbols.head(
            result.symbols.height - 1
        )  # the last close's quotes never rest
        spread = (quotes["ask"] - quotes["bid"]).mean()
        rows.append(
            (
                symbol,
                result.equity["equity"][-1] - initial_cash,
                result.symbols["position"][-1],
                result.fills.height,
                spread,
            )
        )
    return pl.DataFrame(rows, schema=_RESULT_SCHEMA, orient="row")


def _run_fast(frame, symbols, strategy, matching, venue, initial_cash) -> pl.DataFrame:
    """Each path on the fast engine's kernels, its own single-symbol account as `_run_engine`
    runs it (the kernels are proven equal to the reference engine), read from the kernel's
    output without building a run's frames."""
    from mmsim.core.engine import account_bar
    from mmsim.core.risk import NO_RISK
    from mmsim.fast.plan import fast_plan

    fills_model = getattr(matching, "params", None)
    plan = None
    if isinstance(strategy.params, PaperQuoteParams) and isinstance(fills_model, IntensityParams):
        plan, _ = fast_plan((strategy,), NO_RISK, matching, account_bar, (symbols[0],))
    if plan is None:
        raise ValueError(
            "the fast path runs the paper's strategies (mmsim.paper.inventory_strategy / "
            "symmetric_strategy) with intensity fills (mmsim.intensity_matching); "
            "use method='engine' for anything else"
        )
    if importlib.util.find_spec("numba") is None:
        raise ValueError("the fast path needs numba; use method='engine'")
    if frame.height != len(symbols) * frame["ts"].n_unique():
        raise ValueError("every path must have a bar at every timestamp for the fast path")
    from mmsim.fast.engine import R_ASK, R_BID, run
    from mmsim.fast.run import InvalidQuote, books_of, kernel_inputs, symbol_inputs

    plan, _ = fast_plan((strategy,) * len(symbols), NO_RISK, matching, account_bar, symbols)
    specs = symbol_specs(frame, venue)
    first = dict(zip(symbols, frame["close"].head(len(symbols)).to_list(), strict=True))
    every = kernel_inputs(
        frame, symbols, plan, venue, specs, initial_cash, bar_interval_us(frame), first
    )
    rows = []
    for j, symbol in enumerate(symbols):  # each path its own account, as `_run_engine` runs it
        inputs = symbol_inputs(every, j)
        out = run(*inputs)
        try:
            books = books_of(out, inputs, (symbol,), plan, initial_cash)
        except InvalidQuote as exc:
            raise ValueError(f"path {symbol}: {exc}") from None
        rec, fills = out[0], out[3]
        gaps = rec[:-1, 0, R_ASK] - rec[:-1, 0, R_BID]  # the last close's quotes never rest
        quoted = gaps[~np.isnan(gaps)]
        rows.append(
            (
                symbol,
                books["wallet"][-1] + books["total_unrealized"][-1] - initial_cash,
                books["position"][-1, 0],
                len(fills),
                pl.Series(quoted).mean() if len(quoted) else None,
            )
        )
    return pl.DataFrame(rows, schema=_RESULT_SCHEMA, orient="row")


# ---------------------------------------------------------------------------------- tables
def summarize_paths(results: pl.DataFrame) -> dict:
    """Mean, std (ddof=1) and Monte Carlo standard error of profit and final q over paths.

    std_se is the large-sample standard error of a standard deviation, sqrt((m4 − s⁴)/(4·n·s²)),
    with m4 the fourth central moment (no normality assumed).
    """
    n = results.height
    if n < 2:
        raise ValueError(f"need at least 2 paths to estimate a standard deviation, got {n}")
    out = {"paths": n, "spread": results["spread"].mean(), "fills": results["fills"].mean()}
    for column in ("profit", "final_q"):
        x = results[column].to_numpy()
        mean, std = float(x.mean()), float(x.std(ddof=1))
        m4 = float(((x - mean) ** 4).mean())
        out[column] = mean
        out[f"{column}_se"] = std / math.sqrt(n)
        out[f"{column}_std"] = std
        out[f"{column}_std_se"] = (
            math.sqrt(max(m4 - std**4, 0.0) / (4 * n * std**2)) if std > 0 else 0.0
        )
    return out


__all__ = [
    "GAMMAS",
    "PREPRINT_2006",
    "PUBLISHED_2008",
    "PaperQuoteParams",
    "average_spread",
    "inventory_strategy",
    "paper_market",
    "paper_matching",
    "paper_quotes",
    "paper_venue",
    "quote_times_left",
    "run_paths",
    "summarize_paths",
    "symmetric_strategy",
    "time_left",
]
