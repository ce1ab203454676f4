"""Sweeps: grid points, run ids, routing of grid keys, rows, storage, resume, executors."""

from __future__ import annotations

import math
import os
import threading

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from sweep_helpers import GRID, broken, kill_when_marked, stall_once

import mmsim
from mmsim.research.sweep import (
    config_hash,
    data_fingerprint,
    grid_points,
    load_sweep,
    make_spec,
    stored_run_ids,
    sweep,
)


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, seed=21)


@pytest.fixture(scope="module")
def reference(bars) -> pl.DataFrame:
    """The GRID sweep run in-process: the rows every other executor must reproduce."""
    return sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, executor="inprocess")


def same_rows(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert_frame_equal(a.drop("elapsed_s"), b.drop("elapsed_s"))


# ----------------------------------------------------------------------------- grid points

grids = st.dictionaries(
    st.sampled_from(["gamma", "kappa", "risk.max_leverage", "venue.maker_fee", "BTCUSDT.x"]),
    st.lists(st.integers(-5, 5), min_size=1, max_size=4, unique=True),
    min_size=1,
    max_size=4,
)


@given(grids)
def test_product_has_every_combination_once_first_key_slowest(grid):
    """The product lists each combination of values exactly once, the first key varying slowest."""
    points = grid_points(grid)
    assert len(points) == math.prod(len(v) for v in grid.values())
    assert len({tuple(p.items()) for p in points}) == len(points)
    first = next(iter(grid))
    firsts = [p[first] for p in points]
    block = len(points) // len(grid[first])
    assert firsts == [v for v in grid[first] for _ in range(block)]


@given(grids, st.integers(1, 300), st.integers(0, 3))
def test_random_samples_are_distinct_points_of_the_product(grid, samples, seed):
    """A random sample is min(samples, size) distinct points of the product, the same per seed."""
    everything = [tuple(p.items()) for p in grid_points(grid)]
    picked = [tuple(p.items()) for p in grid_points(grid, samples=samples, seed=seed)]
    assert len(picked) == min(samples, len(everything)) == len(set(picked))
    assert set(picked) <= set(everything)
    assert picked == [tuple(p.items()) for p in grid_points(grid, samples=samples, seed=seed)]


def test_a_list_of_points_is_kept_as_given():
    points = [{"gamma": 1.0}, {"gamma": 2.0, "kappa": 0.5}]
    assert grid_points(points) == points


@pytest.mark.parametrize(
    "grid, message", [({"gamma": 0.1}, "list of values"), ({"gamma": []}, "empty")]
)
def test_bad_grids_name_the_key(grid, message):
    with pytest.raises(ValueError, match=f"gamma.*{message}|{message}.*gamma"):
        grid_points(grid)


# ----------------------------------------------------------------------------- run ids


@settings(max_examples=50)
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(-10, 10), max_size=5))
def test_run_id_ignores_key_order_and_int_float_spelling(config):
    """The run id of a config does not depend on key order or on writing 3 or 3.0."""
    reordered = dict(reversed(list(config.items())))
    as_floats = {k: float(v) for k, v in config.items()}
    assert config_hash(config, "fp") == config_hash(reordered, "fp") == config_hash(as_floats, "fp")


def test_run_id_changes_with_any_value_and_with_the_data(bars):
    base = {"gamma": 0.1, "risk": {"max_leverage": 3.0}}
    ids = {
        config_hash(base, "a"),
        config_hash({**base, "gamma": 0.2}, "a"),
        config_hash({**base, "risk": {"max_leverage": 2.0}}, "a"),
        config_hash(base, "b"),
    }
    assert len(ids) == 4


def test_fingerprint_sees_one_changed_price_and_not_a_reload(bars, tmp_path):
    path = tmp_path / "bars.parquet"
    bars.write_parquet(path)
    assert data_fingerprint(pl.read_parquet(path)) == data_fingerprint(bars)
    nudged = bars.with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(pl.col("close") + 0.1).otherwise(pl.col("close"))
    )
    assert data_fingerprint(nudged) != data_fingerprint(bars)


def _row_by_row_fingerprint(bars: pl.DataFrame) -> str:
    """The fingerprint's definition with text columns joined row by row in Python (the
    stored run ids of earlier sweeps were made this way: resuming them must find them)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for name in sorted(bars.columns):
        col = bars[name]
        h.update(f"{name}:{col.dtype}:{col.len()}:{col.null_count()};".encode())
        if col.dtype.is_temporal():
            col = col.to_physical()
        if col.dtype.is_numeric() or col.dtype == pl.Boolean:
            h.update(col.fill_null(0).to_numpy().tobytes())
            if col.null_count():
                h.update(col.is_null().to_numpy().tobytes())
        else:
            h.update("\x00".join("\x01" if x is None else str(x) for x in col.to_list()).encode())
    return h.hexdigest()


@pytest.mark.parametrize(
    "symbols",
    [
        pl.Series("symbol", ["BTCUSDT", "ETHUSDT", "BTCUSDT"]),
        pl.Series("symbol", ["BTCUSDT", None, ""]),
        pl.Series("symbol", ["A", "B", "A"], dtype=pl.Categorical),
        pl.Series("symbol", ["A", "B", "A"], dtype=pl.Enum(["A", "B"])),
        pl.Series("symbol", [], dtype=pl.String),
    ],
)
def test_fingerprint_of_text_columns_is_the_row_by_row_one(symbols):
    frame = pl.DataFrame({"symbol": symbols, "close": [float(i) for i in range(len(symbols))]})
    assert data_fingerprint(frame) == _row_by_row_fingerprint(frame)


def test_points_that_resolve_alike_share_a_run_id():
    """A default spelled out is the same run as the default left out (ids hash resolved params)."""
    common = {"strategy": mmsim.fixed_spread, "symbols": ("BTCUSDT",), "fingerprint": "f"}
    a = make_spec({}, **common)
    b = make_spec({"half_spread_bps": 10.0}, **common)
    c = make_spec({"half_spread_bps": 11.0}, **common)
    assert a.run_id == b.run_id != c.run_id


# ----------------------------------------------------------------------------- grid keys


def test_grid_keys_route_to_strategy_symbol_risk_venue_and_cash():
    spec = make_spec(
        {
            "half_spread_bps": 4.0,
            "ETHUSDT.half_spread_bps": 9.0,
            "risk.max_leverage": 2.0,
            "venue.maker_fee": -0.0001,
            "initial_cash": 5_000.0,
        },
        strategy=mmsim.fixed_spread,
        symbols=("BTCUSDT", "ETHUSDT"),
        fingerprint="f",
        params={"order_value": 500.0},
        risk={"min_order_value": 5.0},
    )
    assert spec.error is None
    assert spec.params == {
        "BTCUSDT": {"order_value": 500.0, "half_spread_bps": 4.0},
        "ETHUSDT": {"order_value": 500.0, "half_spread_bps": 9.0},
    }
    assert spec.risk == {"min_order_value": 5.0, "max_leverage": 2.0}
    assert spec.venue == {"maker_fee": -0.0001}
    assert spec.initial_cash == 5_000.0


def test_an_unknown_key_prefix_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'SOLUSDT.gamma'.*not 'risk', 'venue' or a symbol"):
        make_spec(
            {"SOLUSDT.gamma": 1.0},
            strategy=mmsim.fixed_spread,
            symbols=("BTCUSDT",),
            fingerprint="f",
        )


def test_per_symbol_keys_change_only_that_symbols_results(bars):
    rows = sweep(
        bars,
        strategy=mmsim.fixed_spread,
        executor="inprocess",
        grid={"ETHUSDT.half_spread_bps": [4.0, 12.0]},
    )
    assert rows["BTCUSDT.pnl"].n_unique() == 1
    assert rows["ETHUSDT.pnl"].n_unique() == 2


# ----------------------------------------------------------------------------- rows


def test_rows_carry_params_total_and_symbol_metrics(bars, reference):
    assert reference.height == 4
    assert reference.columns[:5] == [
        "run_id",
        "status",
        "error",
        "half_spread_bps",
        "risk.max_leverage",
    ]
    assert reference["status"].to_list() == ["ok"] * 4
    assert reference.select("half_spread_bps", "risk.max_leverage").rows() == [
        (3.0, 1.0),
        (3.0, 3.0),
        (8.0, 1.0),
        (8.0, 3.0),
    ]
    # each row's metrics are those of the backtest it names: counts exactly, figures to 1e-9
    # relative (a batch sums them from the kernel's tables, in another order than Polars)
    direct = mmsim.backtest(
        bars, mmsim.fixed_spread(half_spread_bps=8.0), risk=mmsim.basic_risk(max_leverage=1.0)
    )
    total = direct.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
    eth = direct.summary.filter(pl.col("symbol") == "ETHUSDT").row(0, named=True)
    row = reference.row(2, named=True)

    def same(a, b):
        if isinstance(b, float) and a is not None:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return a == b

    for metric, value in total.items():
        if metric != "symbol":
            assert same(row[metric], value), (metric, row[metric], value)
            assert same(row[f"ETHUSDT.{metric}"], eth[metric]), metric
            assert type(row[metric]) is type(value), metric


def test_a_run_that_raises_is_recorded_and_the_sweep_goes_on(bars):
    rows = sweep(
        bars, strategy=broken, grid={"half_spread_bps": [5.0, 500.0, -1.0]}, executor="inprocess"
    )
    assert rows["status"].to_list() == ["ok", "failed", "failed"]
    assert rows["pnl"][0] is not None and rows["pnl"][1] is None
    assert rows["error"][1].startswith(
        "StrategyRunError: strategy 'broken' on BTCUSDT at the bar of ts 2024-01-01 00:00:00 "
        "raised ZeroDivisionError: broken strategy at"
    )
    assert "half_spread_bps" in rows["error"][2]  # invalid at build time: attrs names the field


def test_per_symbol_runs_each_symbol_alone_with_its_own_grid(bars):
    rows = sweep(
        bars,
        strategy=mmsim.fixed_spread,
        executor="inprocess",
        per_symbol=True,
        grid={"BTCUSDT": {"half_spread_bps": [5.0]}, "ETHUSDT": {"half_spread_bps": [6.0, 7.0]}},
    )
    assert rows.select("symbol", "half_spread_bps").rows() == [
        ("BTCUSDT", 5.0),
        ("ETHUSDT", 6.0),
        ("ETHUSDT", 7.0),
    ]
    alone = mmsim.backtest(
        bars.filter(pl.col("symbol") == "ETHUSDT"), mmsim.fixed_spread(half_spread_bps=7.0)
    )
    assert rows["pnl"][2] == alone.summary.filter(pl.col("symbol") == "TOTAL")["pnl"][0]
    assert "BTCUSDT.pnl" not in rows.columns


def test_strategy_given_as_module_function_text(bars, reference):
    rows = sweep(bars, strategy="mmsim.strategies:fixed_spread", grid=GRID, executor="inprocess")
    assert_frame_equal(rows.select("pnl", "sharpe"), reference.select("pnl", "sharpe"))
    with pytest.raises(ValueError, match="cannot import 'nope'"):
        sweep(bars, strategy="mmsim.strategies:nope", grid=GRID, executor="inprocess")


def test_strategy_given_by_registry_name(bars, reference):
    rows = sweep(bars, strategy="fixed_spread", grid=GRID, executor="inprocess")
    assert_frame_equal(rows.select("pnl", "sharpe"), reference.select("pnl", "sharpe"))


# ----------------------------------------------------------------------------- storage, resume


def test_rows_are_stored_one_file_per_run_and_read_back(bars, reference, tmp_path):
    rows = sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, executor="inprocess", out=tmp_path)
    same_rows(rows, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["mmsim.json", *(f"run-{rid}.parquet" for rid in reference["run_id"])]
    )
    same_rows(load_sweep(tmp_path).sort("run_id"), reference.sort("run_id"))


def test_resume_after_max_runs_computes_only_the_rest(bars, reference, tmp_path):
    computed: list[str] = []
    first = sweep(
        bars,
        strategy=mmsim.fixed_spread,
        grid=GRID,
        executor="inprocess",
        out=tmp_path,
        max_runs=3,
        on_result=lambda row: computed.append(row["run_id"][0]),
    )
    assert first.height == 3 == len(computed) == len(stored_run_ids(tmp_path))
    (tmp_path / ".run-deadbeef.parquet.x1y2.part").write_bytes(b"half a file")  # killed write
    again: list[str] = []
    rows = sweep(
        bars,
        strategy=mmsim.fixed_spread,
        grid=GRID,
        executor="inprocess",
        out=tmp_path,
        on_result=lambda row: again.append(row["run_id"][0]),
    )
    assert len(again) == 1 and again[0] not in computed
    same_rows(rows, reference)
    assert not list(tmp_path.glob(".*"))  # the stale temporary file was removed


class Interrupt(Exception):
    pass


def test_interrupted_pool_sweep_resumes_from_what_was_stored(bars, reference, tmp_path):
    """An exception in the driver after k rows stops the pool; a re-run computes only the rest."""
    seen: list[str] = []

    def stop_after_two(row):
        seen.append(row["run_id"][0])
        if len(seen) == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        sweep(
            bars,
            strategy=mmsim.fixed_spread,
            grid=GRID,
            executor="processes",
            workers=2,
            out=tmp_path,
            on_result=stop_after_two,
        )
    assert stored_run_ids(tmp_path) == set(seen)
    rest: list[str] = []
    rows = sweep(
        bars,
        strategy=mmsim.fixed_spread,
        grid=GRID,
        executor="inprocess",
        out=tmp_path,
        on_result=lambda row: rest.append(row["run_id"][0]),
    )
    assert sorted(rest + seen) == sorted(reference["run_id"])
    same_rows(rows, reference)


def test_failed_runs_are_skipped_on_resume_unless_retried(bars, tmp_path):
    grid = {"half_spread_bps": [5.0, 500.0]}
    sweep(bars, strategy=broken, grid=grid, executor="inprocess", out=tmp_path)
    counted: list[str] = []
    sweep(
        bars,
        strategy=broken,
        grid=grid,
        executor="inprocess",
        out=tmp_path,
        on_result=lambda row: counted.append(row["status"][0]),
    )
    assert counted == []
    sweep(
        bars,
        strategy=broken,
        grid=grid,
        executor="inprocess",
        out=tmp_path,
        retry_failed=True,
        on_result=lambda row: counted.append(row["status"][0]),
    )
    assert counted == ["failed"]


# ----------------------------------------------------------------------------- the process pool


def test_process_pool_gives_the_in_process_rows(bars, reference):
    rows = sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, executor="processes", workers=2)
    same_rows(rows, reference)


def test_bars_given_as_a_parquet_path_are_the_same_data(bars, reference, tmp_path):
    path = tmp_path / "bars.parquet"
    bars.write_parquet(path)
    rows = sweep(path, strategy=mmsim.fixed_spread, grid=GRID, executor="processes", workers=2)
    same_rows(rows, reference)  # same run ids too: the fingerprint is of the data, not the path


def test_a_lambda_factory_is_refused_for_the_pool_with_a_clear_error(bars):
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        sweep(bars, strategy=lambda **kw: mmsim.fixed_spread(**kw), grid=GRID)


def test_a_killed_pool_worker_loses_no_run_and_duplicates_none(bars, tmp_path):
    marker = tmp_path / "victim.pid"
    out = tmp_path / "rows"
    params = {"marker": str(marker), "driver": os.getpid()}
    grid = {"half_spread_bps": [3.0, 5.0, 7.0, 9.0, 11.0], "stall": [False, True]}
    killed: list[int] = []
    killer = threading.Thread(target=kill_when_marked, args=(marker, killed))
    killer.start()
    rows = sweep(
        bars,
        strategy=stall_once,
        grid=grid,
        params=params,
        executor="processes",
        workers=2,
        out=out,
    )
    killer.join()
    assert len(killed) == 1 and killed[0] != os.getpid()
    assert rows.height == 10 and rows["status"].to_list() == ["ok"] * 10
    assert rows["run_id"].n_unique() == 10
    rows_stored = [p for p in out.iterdir() if p.name != "mmsim.json"]
    assert len(rows_stored) == 10 and load_sweep(out)["run_id"].n_unique() == 10


def test_any_concurrent_futures_executor_can_run_a_sweep(bars, reference):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        rows = sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, executor=pool)
    same_rows(rows, reference)


def test_progress_bar_reports_done_failed_and_eta(bars, capsys):
    sweep(
        bars,
        strategy=broken,
        grid={"half_spread_bps": [5.0, 500.0]},
        executor="inprocess",
        progress=True,
    )
    printed = capsys.readouterr()
    shown = printed.err  # on stderr: stdout is for tables and CSV
    assert "sweep" in shown and "2/2" in shown and "failed 1" in shown and "ETA" in shown
    assert printed.out == ""
