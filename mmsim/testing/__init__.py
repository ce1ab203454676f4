"""mmsim.testing: property-based testing for strategies, risk rules and the engine itself.

`check_invariants(result, bars)` lists every broken accounting promise of a run;
`assert_invariants` fails with a readable message. The Hypothesis strategies (generated
markets, venues, strategies and risk rules) live in `mmsim.testing.markets` and need the
`testing` extra (`pip install 'mmsim[testing]'`).
"""

from mmsim.testing.invariants import Violation, assert_invariants, check_invariants

__all__ = ["Violation", "assert_invariants", "check_invariants"]
