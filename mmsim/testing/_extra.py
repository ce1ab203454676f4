"""The optional `testing` extra: Hypothesis is imported only by the helpers that need it."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL = "pip install 'mmsim[testing]'"


def hypothesis_module(name: str = "hypothesis", *, needed_by: str = "this helper") -> ModuleType:
    """Import `name` (hypothesis or a submodule) or fail naming the extra that provides it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"mmsim.testing.{needed_by} needs Hypothesis, which is not installed; "
            f"install the testing extra: {INSTALL}"
        ) from exc
