"""Speed of the Avellaneda-Stoikov (2008) experiment: the engine path against the fast path.

Prints the time per path of `run_paths(method="engine")` (one mmsim.backtest per path) and of
`run_paths(method="fast")` (each path on the compiled kernels), and their ratio, measured
in the same run on the same paths (gamma = 0.1, inventory strategy).

    python benchmarks/paper_fast_path.py [--engine-paths 50] [--fast-paths 1000]
"""

from __future__ import annotations

import argparse
import time

from mmsim.research import paper


def per_path_seconds(paths: int, method: str, repeat: int) -> float:
    market = paper.paper_market(paths=paths, seed=1)
    strategy = paper.inventory_strategy(gamma=0.1)
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()  # CPU time: the machine is shared
        paper.run_paths(market, strategy, method=method)
        best = min(best, time.process_time() - started)
    return best / paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine-paths", type=int, default=50)
    parser.add_argument("--fast-paths", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = per_path_seconds(args.engine_paths, "engine", args.repeat)
    fast = per_path_seconds(args.fast_paths, "fast", args.repeat)
    steps = 201  # bars per path
    print(
        f"engine: {engine * 1e3:8.2f} ms per path ({steps / engine:,.0f} bars/s), "
        f"{args.engine_paths} paths, best of {args.repeat}"
    )
    print(
        f"fast:   {fast * 1e3:8.3f} ms per path ({steps / fast:,.0f} bars/s), "
        f"{args.fast_paths} paths, best of {args.repeat}"
    )
    print(
        f"fast path speed-up: {engine / fast:.1f}x; "
        f"1,000 paths x 6 runs: engine {engine * 6000:.0f} s, fast {fast * 6000:.1f} s"
    )


if __name__ == "__main__":
    main()
