"""altair, imported on first use: importing mmsim (a Result, the report module) stays light and
only drawing a chart pays for the plotting package."""

from __future__ import annotations

import importlib
from types import ModuleType


class _Altair:
    """Stands for the altair module; the first attribute read imports it."""

    __slots__ = ()

    def __getattr__(self, name: str):
        module: ModuleType = importlib.import_module("altair")
        return getattr(module, name)


alt = _Altair()
