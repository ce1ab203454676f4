"""Several strategy sets on the same bars: one Result each, a table, parallel equals serial."""

import pickle

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import mmsim
from mmsim.research.compare import compare
from mmsim.strategies import make_strategy, stateless

FRAMES = ("fills", "equity", "symbols", "rejections", "events", "summary")


@pytest.fixture(scope="module")
def bars():
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, seed=11)


def sets():
    return {
        "as": make_strategy("avellaneda_stoikov", gamma=0.0005, max_inventory=10),
        "mixed": {"BTCUSDT": make_strategy("glft"), "ETHUSDT": make_strategy("lima")},
        "mexico": make_strategy("mexico", levels=3, inventory_skew_bps=3),
    }


def test_parallel_processes_give_the_same_results_as_serial(bars):
    common = dict(
        risk={"max_leverage": 3.0, "min_order_value": 10.0},
        venue=mmsim.Venue(),
        initial_cash=50_000.0,
    )
    serial = compare(bars, sets(), **common)
    parallel = compare(bars, sets(), jobs=2, **common)
    assert list(parallel.results) == ["as", "mixed", "mexico"]
    for name in serial.results:
        for frame in FRAMES:
            assert_frame_equal(
                getattr(serial.results[name], frame), getattr(parallel.results[name], frame)
            )
        assert serial.results[name].config == parallel.results[name].config
    assert_frame_equal(serial.table, parallel.table)


def test_each_set_equals_its_own_backtest_and_the_table_reads_its_summary(bars):
    comparison = compare(bars, sets(), risk=mmsim.basic_risk(max_leverage=2.0))
    for name, strategies in sets().items():
        alone = mmsim.backtest(bars, strategies, risk=mmsim.basic_risk(max_leverage=2.0))
        assert_frame_equal(comparison.results[name].fills, alone.fills)
        row = comparison.table.filter(pl.col("set") == name).row(0, named=True)
        total = alone.summary.filter(pl.col("symbol") == "TOTAL").row(0, named=True)
        assert row["pnl"] == total["pnl"] and row["fills"] == total["fills"]
        assert row["return"] == pytest.approx(total["pnl"] / 100_000.0)
        assert row["final_equity"] == alone.final_equity
    assert (
        comparison.table.filter(pl.col("set") == "mixed")["strategies"][0]
        == "BTCUSDT: glft, ETHUSDT: lima"
    )


def test_save_writes_every_set_and_the_table(bars, tmp_path):
    comparison = compare(bars, {"tokyo": make_strategy("tokyo")})
    out = comparison.save(tmp_path / "cmp")
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.csv",
        "comparison.html",
        "comparison.parquet",
        "mmsim.json",
        "tokyo",
    ]
    assert_frame_equal(mmsim.load_result(out / "tokyo").fills, comparison.results["tokyo"].fills)
    assert_frame_equal(pl.read_parquet(out / "comparison.parquet"), comparison.table)
    with pytest.raises(FileExistsError):
        comparison.save(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left behind


def test_unpicklable_parts_give_a_clear_error_for_parallel_runs(bars):
    with pytest.raises(ValueError, match="risk of 'every set' cannot be sent.*basic_risk keywords"):
        compare(bars, {"a": mmsim.tokyo(), "b": mmsim.lisbon()}, jobs=2, risk=mmsim.basic_risk())
    handmade = stateless("mine", lambda inputs: mmsim.core.orders.NO_QUOTES)
    with pytest.raises(pickle.PicklingError, match="not built by a strategy factory"):
        pickle.dumps(handmade)
    with pytest.raises(ValueError, match="strategies of 'b' cannot be sent"):
        compare(bars, {"a": mmsim.tokyo(), "b": handmade}, jobs=2)


def test_bad_arguments(bars):
    with pytest.raises(ValueError, match="at least one"):
        compare(bars, {})
    with pytest.raises(ValueError, match="folder-safe"):
        compare(bars, {"a/b": mmsim.tokyo()})
    with pytest.raises(ValueError, match="jobs"):
        compare(bars, {"a": mmsim.tokyo()}, jobs=0)
