"""Calibration from bars: volatility σ and the fill-intensity parameters A and κ.

Units (what the strategies take): σ in bps of the price per √bar; A in fills per bar at zero
distance; κ per bps; δ in bps of the close. The intensity model (Avellaneda–Stoikov, GLFT):

    λ(δ) = A · exp(−κ·δ)           probability of a fill within one bar  p(δ) = 1 − exp(−λ(δ)·Δt)

with Δt = one bar. On bars, "filled" means trade-through, as in `mmsim.matching`: a bid placed δ
bps below bar t−1's close is hit during bar t when low_t < close_{t−1}·(1 − δ/1e4); an ask when
high_t > close_{t−1}·(1 + δ/1e4). `trade_through` counts those events over a grid of δ (both
sides pooled: two trials per bar), and `fit_intensity` fits p(δ) to the counts:

- "wls": weighted least squares of y = ln(−ln(1 − p̂)) = ln A − κ·δ over the grid points with
  0 < p̂ < 1, each weighted by 1/Var(y) ≈ n·(1 − p̂)·ln(1 − p̂)² / p̂ (delta method);
- "mle" (default): the binomial maximum-likelihood fit, started from the WLS fit and refined by
  Fisher scoring; standard errors from the inverse Fisher information.

`intensity_features(window)` gives the rolling WLS fit as Polars features (`fill_A_<w>`,
`fill_kappa_<w>`): the value at bar t uses the w trade-through outcomes of bars t−w+1 … t only,
all known at bar t's close, so strategies can read calibrated parameters without look-ahead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import polars as pl

from mmsim.core.bars import bar_interval_us, validate_bars
from mmsim.data.features import Feature, add_features

DEFAULT_DELTAS_BPS: tuple[float, ...] = (1, 2, 3, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50)


class CalibrationError(ValueError):
    """The bars cannot support a fit (too few bars, or a δ grid where nothing is informative)."""


# --- σ ---------------------------------------------------------------------------------------


def estimate_sigma(bars: pl.DataFrame, *, method: str = "close") -> pl.DataFrame:
    """σ per symbol in bps per √bar (and annualised as a fraction on a 365-day year).

    method "close": std of close-to-close log returns; "parkinson": sqrt(mean(ln(H/L)²)/(4 ln 2)),
    which uses the bars' ranges and has a lower variance when prices follow a Brownian motion.
    Returns one row per symbol: symbol, sigma_bps, sigma_annual, bars.
    """
    frame = validate_bars(bars, allow_gaps=True)
    if method == "close":
        sigma = pl.col("_x").std()
        frame = frame.with_columns(
            pl.col("close").log().diff().over("symbol", order_by="ts").alias("_x")
        )
    elif method == "parkinson":
        frame = frame.with_columns((pl.col("high") / pl.col("low")).log().pow(2).alias("_x"))
        sigma = (pl.col("_x").mean() / (4 * math.log(2))).sqrt()
    else:
        raise ValueError(f"estimate_sigma method must be 'close' or 'parkinson', got {method!r}")
    per_year = 365 * 86_400e6 / bar_interval_us(frame)
    out = frame.group_by("symbol", maintain_order=True).agg(
        sigma.alias("sigma"), pl.len().alias("bars")
    )
    return out.select(
        "symbol",
        (pl.col("sigma") * 1e4).alias("sigma_bps"),
        (pl.col("sigma") * math.sqrt(per_year)).alias("sigma_annual"),
        "bars",
    ).sort("symbol")


# --- trade-through counts --------------------------------------------------------------------


def _check_deltas(deltas_bps: Sequence[float]) -> tuple[float, ...]:
    deltas = tuple(float(d) for d in deltas_bps)
    if len(deltas) < 2 or any(not (math.isfinite(d) and 0 <= d < 1e4) for d in deltas):
        raise ValueError(
            f"deltas_bps must be at least 2 distances in [0, 10000) bps, got {deltas_bps!r}"
        )
    if len(set(deltas)) != len(deltas):
        raise ValueError(f"deltas_bps must be distinct, got {deltas_bps!r}")
    return deltas


def _hit_exprs(delta: float, side: str) -> list[pl.Expr]:
    """Per-bar trade-through indicators (1.0/0.0, null at a symbol's first bar) of quotes δ away."""
    prev = pl.col("close").shift(1)
    bid = (pl.col("low") < prev * (1 - delta / 1e4)).cast(pl.Float64)
    ask = (pl.col("high") > prev * (1 + delta / 1e4)).cast(pl.Float64)
    return {"bid": [bid], "ask": [ask], "both": [bid, ask]}[side]


def _check_side(side: str) -> None:
    if side not in ("bid", "ask", "both"):
        raise ValueError(f"side must be 'bid', 'ask' or 'both', got {side!r}")


def trade_through(
    bars: pl.DataFrame, deltas_bps: Sequence[float] = DEFAULT_DELTAS_BPS, *, side: str = "both"
) -> pl.DataFrame:
    """How often the next bar trades through a quote δ bps from the close, per symbol and δ.

    Returns symbol, delta_bps, trials, hits, p_hat (hits / trials); with side "both" each bar
    gives two trials (its bid and its ask).
    """
    deltas = _check_deltas(deltas_bps)
    _check_side(side)
    frame = validate_bars(bars, allow_gaps=True)
    rows = []
    for k, d in enumerate(deltas):
        hits = _hit_exprs(d, side)
        cols = [h.over("symbol", order_by="ts").alias(f"_h{k}_{j}") for j, h in enumerate(hits)]
        rows.append((d, cols))
    wide = frame.select("symbol", *(c for _, cols in rows for c in cols))
    out = []
    for k, (d, cols) in enumerate(rows):
        names = [f"_h{k}_{j}" for j in range(len(cols))]
        agg = wide.group_by("symbol", maintain_order=True).agg(
            pl.sum_horizontal(pl.col(n).count() for n in names).alias("trials"),
            pl.sum_horizontal(pl.col(n).sum() for n in names).cast(pl.Int64).alias("hits"),
        )
        out.append(agg.with_columns(pl.lit(d).alias("delta_bps")))
    return (
        pl.concat(out)
        .select(
            "symbol",
            "delta_bps",
            "trials",
            "hits",
            (pl.col("hits") / pl.col("trials")).alias("p_hat"),
        )
        .sort("symbol", "delta_bps")
    )


# --- the fit ---------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class IntensityFit:
    """A fit of p(δ) = 1 − exp(−A·e^(−κδ)) to trade-through counts, with its quality (immutable).

    A: fills per bar at δ = 0; kappa: per bps; A_se, kappa_se: standard errors (inverse Fisher
    information; WLS: from the weighted regression); r_squared: 1 − SS_res/SS_tot of p̂ against the
    fitted p over the grid, weighted by trials; max_abs_z: the largest |p̂ − p| / sd(p̂) over the
    grid (about 3 or less when the model fits); grid: the counts with p_fit beside p_hat;
    points_used: grid points with 0 < p̂ < 1 (the only informative ones for WLS).
    """

    A: float
    kappa: float
    A_se: float
    kappa_se: float
    r_squared: float
    max_abs_z: float
    method: str
    points_used: int
    trials: int
    converged: bool
    grid: pl.DataFrame = attrs.field(eq=False, repr=False)

    def p(self, delta_bps: float) -> float:
        """The fitted trade-through probability of a quote δ bps away, within one bar."""
        return -math.expm1(-self.A * math.exp(-self.kappa * delta_bps))


def _wls(delta, trials, hits) -> tuple[float, float, np.ndarray]:
    """ln A, κ and their covariance from the log-log regression; raises if < 2 usable points."""
    p = hits / trials
    use = (p > 0) & (p < 1)
    if use.sum() < 2:
        raise CalibrationError(
            f"only {int(use.sum())} of {len(p)} grid points have a trade-through frequency "
            f"strictly between 0 and 1 (p_hat = {np.round(p, 4).tolist()}); choose δ values "
            "(bps) inside the bars' typical high-low range"
        )
    d, p, n = delta[use], p[use], trials[use]
    y = np.log(-np.log1p(-p))
    w = n * (1 - p) * np.log1p(-p) ** 2 / p
    X = np.column_stack([np.ones_like(d), -d])
    XtW = X.T * w
    cov = np.linalg.inv(XtW @ X)
    a, kappa = cov @ (XtW @ y)
    return float(a), float(kappa), cov


def _loglik(theta, delta, trials, hits) -> float:
    lam = np.exp(theta[0] - theta[1] * delta)
    with np.errstate(divide="ignore"):
        log_p = np.log(-np.expm1(-lam))
    ll = np.where(hits > 0, hits * log_p, 0.0) - (trials - hits) * lam
    return float(ll.sum())


def _fisher(theta, delta, trials, hits):
    lam = np.exp(theta[0] - theta[1] * delta)
    em1 = np.expm1(lam)
    score_lam = hits / em1 - (trials - hits)
    J = np.column_stack([lam, -delta * lam])
    info = (J.T * (trials / em1)) @ J
    return J.T @ score_lam, info


def _mle(delta, trials, hits, start) -> tuple[np.ndarray, np.ndarray, bool]:
    theta = np.asarray(start, dtype=float)
    ll = _loglik(theta, delta, trials, hits)
    converged = False
    for _ in range(100):
        score, info = _fisher(theta, delta, trials, hits)
        step = np.linalg.solve(info, score)
        t = 1.0
        while t > 1e-8:
            cand = theta + t * step
            ll_c = _loglik(cand, delta, trials, hits)
            if ll_c >= ll - 1e-12:
                break
            t /= 2
        else:
            break
        theta, ll_old, ll = cand, ll, ll_c
        if np.max(np.abs(t * step)) < 1e-10 or abs(ll - ll_old) < 1e-12 * max(1.0, abs(ll)):
            converged = True
            break
    _, info = _fisher(theta, delta, trials, hits)
    return theta, np.linalg.inv(info), converged


def fit_intensity(
    bars: pl.DataFrame | None = None,
    *,
    counts: pl.DataFrame | None = None,
    deltas_bps: Sequence[float] = DEFAULT_DELTAS_BPS,
    side: str = "both",
    symbol: str | None = None,
    method: str = "mle",
) -> IntensityFit:
    """Fit A (per bar) and κ (per bps) to one symbol's trade-through frequencies.

    Give `bars` (counted with `trade_through` over `deltas_bps` and `side`) or `counts` (a frame
    from `trade_through`). With several symbols, name one with `symbol`. method: "mle" or "wls"
    (see the module docstring). Raises CalibrationError when fewer than two grid points have a
    frequency strictly between 0 and 1.
    """
    if method not in ("mle", "wls"):
        raise ValueError(f"method must be 'mle' or 'wls', got {method!r}")
    if (bars is None) == (counts is None):
        raise ValueError("give exactly one of bars or counts")
    if counts is None:
        counts = trade_through(bars, deltas_bps, side=side)
    symbols = counts["symbol"].unique(maintain_order=True).to_list()
    if symbol is None:
        if len(symbols) != 1:
            raise ValueError(f"the bars hold symbols {symbols}; name one with symbol=")
        symbol = symbols[0]
    elif symbol not in symbols:
        raise ValueError(f"symbol {symbol!r} not in the bars; they hold {symbols}")
    grid = counts.filter(pl.col("symbol") == symbol).sort("delta_bps")
    delta = grid["delta_bps"].to_numpy().astype(float)
    trials = grid["trials"].to_numpy().astype(float)
    hits = grid["hits"].to_numpy().astype(float)
    if trials.min() < 1:
        raise CalibrationError(f"{symbol}: no trade-through trials (fewer than 2 bars)")
    try:
        a, kappa, cov = _wls(delta, trials, hits)
    except CalibrationError as exc:
        raise CalibrationError(f"{symbol}: {exc}") from None
    converged = True
    if method == "mle":
        theta, cov, converged = _mle(delta, trials, hits, (a, kappa))
        a, kappa = float(theta[0]), float(theta[1])
    A = math.exp(a)
    p_fit = -np.expm1(-A * np.exp(-kappa * delta))
    p_hat = hits / trials
    w = trials / trials.sum()
    mean = float((w * p_hat).sum())
    ss_tot = float((w * (p_hat - mean) ** 2).sum())
    ss_res = float((w * (p_hat - p_fit) ** 2).sum())
    sd = np.sqrt(np.clip(p_fit * (1 - p_fit), 1e-300, None) / trials)
    return IntensityFit(
        A=A,
        kappa=kappa,
        A_se=A * math.sqrt(max(cov[0, 0], 0.0)),
        kappa_se=math.sqrt(max(cov[1, 1], 0.0)),
        r_squared=1 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        max_abs_z=float(np.max(np.abs(p_hat - p_fit) / sd)),
        method=method,
        points_used=int(((p_hat > 0) & (p_hat < 1)).sum()),
        trials=int(trials.sum()),
        converged=converged,
        grid=grid.with_columns(pl.Series("p_fit", p_fit)),
    )


def calibrate(
    bars: pl.DataFrame,
    *,
    deltas_bps: Sequence[float] = DEFAULT_DELTAS_BPS,
    side: str = "both",
    method: str = "mle",
) -> pl.DataFrame:
    """σ (close-to-close), A and κ with their quality for every symbol of a bars frame.

    One row per symbol: symbol, sigma_bps, A, A_se, kappa, kappa_se, r_squared, max_abs_z,
    points_used, converged, error (the reason a symbol could not be fitted, else null).
    """
    counts = trade_through(bars, deltas_bps, side=side)
    sigma = dict(estimate_sigma(bars).select("symbol", "sigma_bps").iter_rows())
    rows = []
    for symbol in sorted(sigma):
        row = {"symbol": symbol, "sigma_bps": sigma[symbol]}
        try:
            fit = fit_intensity(counts=counts, symbol=symbol, method=method)
        except CalibrationError as exc:
            row.update(error=str(exc))
        else:
            row.update(
                A=fit.A,
                A_se=fit.A_se,
                kappa=fit.kappa,
                kappa_se=fit.kappa_se,
                r_squared=fit.r_squared,
                max_abs_z=fit.max_abs_z,
                points_used=fit.points_used,
                converged=fit.converged,
                error=None,
            )
        rows.append(row)
    schema = {
        "symbol": pl.String,
        "sigma_bps": pl.Float64,
        "A": pl.Float64,
        "A_se": pl.Float64,
        "kappa": pl.Float64,
        "kappa_se": pl.Float64,
        "r_squared": pl.Float64,
        "max_abs_z": pl.Float64,
        "points_used": pl.Int64,
        "converged": pl.Boolean,
        "error": pl.String,
    }
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


# --- rolling calibration as features (no look-ahead) -----------------------------------------


def _suffix(window: int, deltas: tuple[float, ...]) -> str:
    if deltas == DEFAULT_DELTAS_BPS:
        return str(window)
    # a stable short tag so two grids never share a feature name
    tag = "_".join(f"{d:g}".replace(".", "p") for d in deltas)
    return f"{window}_d{tag}"


def intensity_feature_names(
    window: int, deltas_bps: Sequence[float] = DEFAULT_DELTAS_BPS
) -> tuple[str, str]:
    """The names of the rolling (A, κ) features for `window` bars and a δ grid."""
    s = _suffix(window, _check_deltas(deltas_bps))
    return f"fill_A_{s}", f"fill_kappa_{s}"


def _wls_rows(p: np.ndarray, deltas: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise WLS of ln(-ln(1 - p)) = ln A - κ δ; p is (rows, grid) with NaN where unknown."""
    ok = (p > 0) & (p < 1)
    safe = np.where(ok, p, 0.5)  # any value in (0, 1): masked by the zero weight below
    y = np.log(-np.log1p(-safe))
    w = np.where(ok, n * (1 - safe) * np.log1p(-safe) ** 2 / safe, 0.0)
    s, sx, sy = w.sum(1), (w * deltas).sum(1), (w * y).sum(1)
    sxx, sxy = (w * deltas**2).sum(1), (w * deltas * y).sum(1)
    det = s * sxx - sx * sx
    valid = (ok.sum(1) >= 2) & (det > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (s * sxy - sx * sy) / det
        log_a = (sy - slope * sx) / s
    return np.where(valid, log_a, np.nan), np.where(valid, -slope, np.nan)


def _rolling_wls(window: int, deltas: tuple[float, ...], side: str) -> pl.Expr:
    """A struct expression (log_A, kappa) of the WLS fit over the last `window` bars' outcomes.

    The rolling trade-through frequencies are Polars expressions; the per-row regression over
    the grid is one vectorised numpy pass over the whole column (map_batches), not a row loop.
    """
    n = float(window * (2 if side == "both" else 1))
    grid = np.asarray(deltas, dtype=float)
    columns = []
    for k, d in enumerate(deltas):
        hits = _hit_exprs(d, side)
        mean_hit = sum(hits[1:], hits[0]) / len(hits)
        columns.append(mean_hit.rolling_mean(window, min_samples=window).alias(f"p{k}"))

    def fit(batch: pl.Series) -> pl.Series:
        p = np.column_stack(
            [
                batch.struct.field(f"p{k}").cast(pl.Float64).fill_null(np.nan).to_numpy()
                for k in range(len(deltas))
            ]
        )
        log_a, kappa = _wls_rows(p, grid, n)
        return pl.DataFrame({"log_A": log_a, "kappa": kappa}).to_struct("fit")

    schema = pl.Struct({"log_A": pl.Float64, "kappa": pl.Float64})
    return pl.struct(columns).map_batches(fit, return_dtype=schema)


def intensity_features(
    window: int, deltas_bps: Sequence[float] = DEFAULT_DELTAS_BPS, *, side: str = "both"
) -> tuple[Feature, Feature]:
    """Rolling A (per bar) and κ (per bps) over the last `window` bars as two Features.

    The value at bar t fits the trade-through outcomes of bars t−window+1 … t (each compares a
    bar's low/high with the previous close), all known at bar t's close: no look-ahead. Null
    during the first `window` bars and when fewer than two grid points are informative.
    """
    if not (isinstance(window, int) and window >= 10):
        raise ValueError(f"calibration window must be an integer >= 10 bars, got {window!r}")
    _check_side(side)
    deltas = _check_deltas(deltas_bps)
    fitted = _rolling_wls(window, deltas, side)
    name_a, name_k = intensity_feature_names(window, deltas)
    if side != "both":
        name_a, name_k = f"{name_a}_{side}", f"{name_k}_{side}"
    return (
        Feature(name_a, fitted.struct.field("log_A").exp()),
        Feature(name_k, fitted.struct.field("kappa")),
    )


def rolling_intensity(
    bars: pl.DataFrame, window: int, deltas_bps: Sequence[float] = DEFAULT_DELTAS_BPS
) -> pl.DataFrame:
    """The bars with the rolling (A, κ) feature columns added (see `intensity_features`)."""
    frame = validate_bars(bars, allow_gaps=True)
    return add_features(frame, intensity_features(window, deltas_bps))


# --- bars that follow the intensity law exactly (for tests and for checking a calibration) ---


def intensity_bars(
    *,
    A: float,
    kappa: float,
    n: int,
    symbol: str = "TESTUSDT",
    price: float = 100.0,
    interval: str = "1m",
    seed: int = 0,
    start: str = "2024-01-01",
) -> pl.DataFrame:
    """Bars whose trade-through chance at δ bps is exactly 1 − exp(−A·e^(−κδ)) on each side.

    Each bar opens at the previous close; its downward and upward excursions D (bps of the open)
    are drawn independently from P(D > δ) = 1 − exp(−A·e^(−κδ)) (inverse transform, D ≤ 0 meaning
    no excursion), low = open·(1 − D⁻/1e4), high = open·(1 + D⁺/1e4), and the close is uniform
    in [low, high] so it never decides a trade-through. Prices are not rounded to a tick.
    """
    if not (A > 0 and kappa > 0 and n >= 2):
        raise ValueError(f"need A > 0, kappa > 0, n >= 2; got A={A}, kappa={kappa}, n={n}")
    from mmsim.core.clock import parse_duration_us

    rng = np.random.default_rng(seed)
    u = rng.random((n, 2))
    # P(D > δ) = 1 − exp(−A e^{−κδ})  <=>  D = (ln A − ln(−ln(1 − U))) / κ with U uniform
    excursion = np.clip((math.log(A) - np.log(-np.log1p(-u))) / kappa, 0.0, None)
    where = rng.random(n)
    opens = np.empty(n)
    lows, highs, closes = np.empty(n), np.empty(n), np.empty(n)
    p = price
    for i in range(n):
        lo = p * (1 - excursion[i, 0] / 1e4)
        hi = p * (1 + excursion[i, 1] / 1e4)
        opens[i], lows[i], highs[i] = p, lo, hi
        p = lo + where[i] * (hi - lo)
        closes[i] = p
    step = parse_duration_us(interval)
    ts = np.datetime64(start, "us") + np.arange(n) * np.timedelta64(step, "us")
    return pl.DataFrame(
        {
            "ts": ts,
            "symbol": [symbol] * n,
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": np.full(n, 1_000.0),
        }
    ).with_columns(pl.col("ts").cast(pl.Datetime("us")))


__all__ = [
    "DEFAULT_DELTAS_BPS",
    "CalibrationError",
    "IntensityFit",
    "calibrate",
    "estimate_sigma",
    "fit_intensity",
    "intensity_bars",
    "intensity_feature_names",
    "intensity_features",
    "rolling_intensity",
    "trade_through",
]
