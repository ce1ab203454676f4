"""mmsim.testing works without pytest and without Hypothesis (the optional `testing` extra):
the plain checks and the regression workflow run, and a Hypothesis-based helper fails with an
ImportError naming the extra. Run in a fresh interpreter where both packages cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["hypothesis"] = None  # import hypothesis -> ImportError, as if not installed
    sys.modules["pytest"] = None

    import mmsim
    import mmsim.testing as kit

    path = kit.SymbolPath("AAAUSDT", "flash_crash", 50.0, 0.01, 0.5, 1)
    bars = kit.MarketSpec((path,), n_bars=20).bars()
    result = mmsim.backtest(bars, kit.ladder())
    print("invariants", kit.check_invariants(result, bars))
    print("skew", kit.check_skew_reduces_inventory(kit.ladder(skew_bps=-3.0), bars)[0].invariant)
    print("domains", sorted(kit.param_domains(kit.LadderParams)))
    path = kit.save_property_case(sys.argv[1], "bid_below_ask", kit.ladder(), bars)
    print("replay", kit.replay(path).market.paths[0].seed)
    for name in ("bars_frames", "strategy_properties", "strategy_space"):
        try:
            getattr(kit, name)
        except ImportError as exc:
            print(name, "ImportError:", exc)
    try:
        from mmsim.testing import venues  # noqa: F401
    except ImportError as exc:
        print("from-import ImportError:", exc)
    try:
        import mmsim.testing.markets  # noqa: F401
    except ImportError as exc:
        print("module ImportError:", exc)
    print("loaded", sorted(m for m in ("hypothesis", "pytest") if sys.modules.get(m) is not None))
    """
)


def test_the_kit_imports_and_checks_without_pytest_or_hypothesis(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "case.parquet")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "invariants []"
    assert out[1] == "skew skew_reduces_inventory"
    assert out[2] == "domains ['levels', 'order_value', 'skew_bps', 'spacing_bps']"
    assert out[3] == "replay 1"
    extra = (
        "needs Hypothesis, which is not installed; install the testing extra:"
        " pip install 'mmsim[testing]'"
    )
    assert out[4] == f"bars_frames ImportError: mmsim.testing.bars_frames {extra}"
    assert out[5] == f"strategy_properties ImportError: mmsim.testing.strategy_properties {extra}"
    assert out[6] == f"strategy_space ImportError: mmsim.testing.strategy_space {extra}"
    assert out[7] == f"from-import ImportError: mmsim.testing.venues {extra}"
    assert out[8] == f"module ImportError: mmsim.testing.markets {extra}"
    assert out[9] == "loaded []"
