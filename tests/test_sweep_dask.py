"""Sweeps on a real Dask cluster: a LocalCluster of two worker processes on this machine."""

from __future__ import annotations

import os
import threading

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sweep_helpers import GRID, kill_when_marked, stall_once

import mmsim
from mmsim.research.sweep import load_sweep, sweep

distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the dev extra")


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return mmsim.synthetic_bars(("BTCUSDT", "ETHUSDT"), days=0.5, seed=21)


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    ) as local:
        yield local


@pytest.fixture()
def client(cluster):
    with distributed.Client(cluster) as c:
        yield c


def test_dask_cluster_gives_the_rows_of_the_pool_and_of_in_process(bars, cluster, client, tmp_path):
    inprocess = sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, executor="inprocess")
    pool = sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, executor="processes", workers=2)
    by_client = sweep(bars, strategy=mmsim.fixed_spread, grid=GRID, scheduler=client)
    by_address = sweep(
        bars, strategy=mmsim.fixed_spread, grid=GRID, scheduler=cluster.scheduler_address
    )
    path = tmp_path / "bars.parquet"  # every worker reads the same file instead of a scatter
    bars.write_parquet(path)
    by_path = sweep(path, strategy=mmsim.fixed_spread, grid=GRID, scheduler=client)
    for rows in (pool, by_client, by_address, by_path):
        assert_frame_equal(rows.drop("elapsed_s"), inprocess.drop("elapsed_s"))
    assert inprocess["status"].to_list() == ["ok"] * 4


def test_a_killed_dask_worker_loses_no_run_and_duplicates_none(bars, client, tmp_path):
    """A worker process SIGKILLed in the middle of a run: Dask reruns that run elsewhere and the
    dataset ends with every run exactly once."""
    workers = set(client.run(os.getpid).values())
    marker = tmp_path / "victim.pid"
    out = tmp_path / "rows"
    grid = {"half_spread_bps": [3.0, 5.0, 7.0, 9.0, 11.0], "stall": [False, True]}
    params = {"marker": str(marker), "driver": os.getpid()}
    killed: list[int] = []
    killer = threading.Thread(
        target=kill_when_marked,
        args=(marker, killed, lambda: set(client.run(os.getpid).values())),
    )
    killer.start()
    rows = sweep(bars, strategy=stall_once, grid=grid, params=params, scheduler=client, out=out)
    killer.join()
    assert len(killed) == 1 and killed[0] in workers  # a real worker was killed mid-run
    assert rows.height == 10 and rows["status"].to_list() == ["ok"] * 10
    stored = load_sweep(out)
    assert stored.height == 10 and stored["run_id"].n_unique() == 10
    assert sorted(stored["run_id"]) == sorted(rows["run_id"])
    # no temporary or partial file left behind: the rows and the folder's marker only
    assert len([p for p in out.iterdir() if p.name != "mmsim.json"]) == 10
