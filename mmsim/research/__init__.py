"""Research on top of the core: configs, comparisons, sweeps, walk-forward, calibration and the
Avellaneda-Stoikov 2008 paper."""
