"""Strategies by name: build one from a parameter dict, list what exists (configs, sweeps, CLI).

    make_strategy("glft", gamma=0.05, kappa=0.3)  -> Strategy
    list_strategies()  -> [StrategySpec(name, params, doc, factory), ...]

Unknown names, unknown keywords and bad values raise `StrategyError` (a ValueError) naming the
strategy and the parameter at fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import attrs

from mmsim.strategies.base import Strategy
from mmsim.strategies.params import ParamInfo, StrategyError, make_params, param_infos


@attrs.frozen(slots=True)
class StrategySpec:
    """A registered strategy (immutable): its name, params class, documentation and factory."""

    name: str
    params: type
    doc: str
    factory: Callable[..., Strategy] = attrs.field(eq=False, repr=False)

    @property
    def summary(self) -> str:
        """The first sentence of the documentation."""
        first = " ".join(self.doc.strip().split("\n\n")[0].split())
        return first

    def parameters(self) -> tuple[ParamInfo, ...]:
        """Each parameter's name, default, unit and meaning."""
        return param_infos(self.params)


_REGISTRY: dict[str, StrategySpec] = {}
_BUILTINS: list[str] = []


def _spec(factory, name: str | None = None) -> StrategySpec:
    return StrategySpec(
        name or factory.strategy_name, factory.params_class, factory.__doc__ or "", factory
    )


def _registry() -> dict[str, StrategySpec]:
    if not _BUILTINS:
        # imported here so strategy modules never import the registry (no cycles)
        from mmsim.strategies.avellaneda_stoikov import avellaneda_stoikov
        from mmsim.strategies.cities import lima, lisbon, nairobi, oslo, tokyo
        from mmsim.strategies.fixed_spread import fixed_spread
        from mmsim.strategies.glft import glft
        from mmsim.strategies.mexico import mexico

        builtins = (
            fixed_spread,
            avellaneda_stoikov,
            glft,
            mexico,
            tokyo,
            lisbon,
            oslo,
            nairobi,
            lima,
        )
        users = dict(_REGISTRY)
        _REGISTRY.clear()
        for factory in builtins:
            _REGISTRY[factory.strategy_name] = _spec(factory)
            _BUILTINS.append(factory.strategy_name)
        _REGISTRY.update(users)
    return _REGISTRY


def register_strategy(
    factory: Callable[..., Strategy], *, name: str | None = None, replace: bool = False
) -> StrategySpec:
    """Add a factory made by `strategy_factory` to the registry (under its own name by default)."""
    params_cls = getattr(factory, "params_class", None)
    if params_cls is None or not attrs.has(params_cls):
        raise StrategyError(
            f"{factory!r} is not a strategy factory: decorate it with "
            "mmsim.strategies.params.strategy_factory(name, ParamsClass)"
        )
    spec = _spec(factory, name)
    registry = _registry()
    if spec.name in registry and not replace:
        raise StrategyError(
            f"a strategy named {spec.name!r} is already registered (pass replace=True)"
        )
    registry[spec.name] = spec
    return spec


def get_strategy(name: str) -> StrategySpec:
    """The spec registered under `name`; StrategyError lists the known names otherwise."""
    registry = _registry()
    if not isinstance(name, str) or name not in registry:
        known = sorted(registry)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StrategyError(
            f"unknown strategy {name!r}{hint}; known strategies: {', '.join(known)}"
        )
    return registry[name]


def list_strategies() -> list[StrategySpec]:
    """Every registered strategy, built-ins first in a teaching order, then users' additions."""
    return list(_registry().values())


def make_strategy(name: str, **params) -> Strategy:
    """Build the strategy registered as `name` with keyword parameters (defaults for the rest)."""
    spec = get_strategy(name)
    return spec.factory.from_params(make_params(spec.params, params, owner=name))


__all__ = ["StrategySpec", "get_strategy", "list_strategies", "make_strategy", "register_strategy"]
