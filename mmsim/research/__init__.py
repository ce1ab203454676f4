"""Research on top of the core: configs, comparisons, sweeps, walk-forward, calibration, the A-S 2008 paper."""
