"""Read-only containers for the dicts and lists inside frozen values (`Bar.features`,
`Result.config`): they compare, JSON-serialise and pickle as the plain dict or list they hold,
and any change raises TypeError."""

from __future__ import annotations

from typing import Any


def _refuse(self, *args, **kwargs):
    raise TypeError(f"{type(self).__name__} is read-only: build a new one instead")


class FrozenDict(dict):
    """A dict that refuses every change (as `types.MappingProxyType`, but a dict, so it
    serialises to JSON and pickles by value)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


class FrozenList(list):
    """A list that refuses every change; JSON and pickle see a list."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __reduce__(self):
        return (type(self), (list(self),))

    def __repr__(self) -> str:
        return f"FrozenList({list.__repr__(self)})"


EMPTY = FrozenDict()


def frozen_dict(mapping: Any = None) -> FrozenDict:
    """`mapping` as a FrozenDict (one level: for flat mappings such as a bar's features)."""
    if isinstance(mapping, FrozenDict):
        return mapping
    return FrozenDict(mapping) if mapping else EMPTY


def freeze(value: Any) -> Any:
    """`value` with every dict and list inside it, at any depth, made read-only (a copy)."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    if type(value) is tuple:
        return tuple(freeze(v) for v in value)
    return value
