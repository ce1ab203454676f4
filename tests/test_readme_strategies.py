"""The strategies page (docs/strategies.md) stays true: its table and its TOML example."""

import re
from pathlib import Path

from mmsim.research.config import parse_config, tomllib
from mmsim.strategies import list_strategies

ROOT = Path(__file__).resolve().parents[1]


def section() -> str:
    return (ROOT / "docs" / "strategies.md").read_text()


def test_table_lists_every_strategy_with_every_parameter_and_unit():
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| `(\w+)` \|.*$", section(), flags=re.MULTILINE)
    }
    assert sorted(rows) == sorted(spec.name for spec in list_strategies())
    for spec in list_strategies():
        for p in spec.parameters():
            assert f"`{p.name}` ({p.unit}, " in rows[spec.name], (spec.name, p.name)


def test_toml_example_is_the_example_file_and_loads():
    block = re.search(r"```toml\n(.*?)```", section(), flags=re.DOTALL).group(1)
    example = (ROOT / "examples" / "strategies.toml").read_text()
    assert tomllib.loads(block) == tomllib.loads(example)
    config = parse_config(tomllib.loads(block), source="docs/strategies.md", base=ROOT / "examples")
    assert list(config.sets) == ["avellaneda_stoikov", "glft", "mexico"]
    assert config.load_bars()["symbol"].unique().sort().to_list() == ["BTCUSDT", "ETHUSDT"]
