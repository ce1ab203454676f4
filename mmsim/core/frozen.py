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


def unchecked(cls: type) -> Any:
    """A constructor of the frozen slotted attrs class `cls` that skips its validators,
    converters and `__attrs_post_init__`: `make(*values)`, every field in declaration order.

    Only for values assembled from parts that are already valid (a mark moved to a validated
    close, an order rounded onto the grid and checked positive): public construction still
    validates. It sets each slot once, as the generated `__init__` does, at about half its cost.
    """
    import attrs

    names = [a.name for a in attrs.fields(cls)]
    if any(not a.init for a in attrs.fields(cls)) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: unchecked construction needs slots and init fields")
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = []
    for k, name in enumerate(names):
        scope[f"_set{k}"] = cls.__dict__[name].__set__  # the slot's own setter
        body.append(f"    _set{k}(self, v{k})\n")
    args = ", ".join(f"v{k}" for k in range(len(names)))
    source = f"def make({args}):\n    self = _new(_cls)\n{''.join(body)}    return self\n"
    exec(compile(source, f"<unchecked {cls.__qualname__}>", "exec"), scope)  # noqa: S102
    make = scope["make"]
    make.__doc__ = f"{cls.__qualname__}({', '.join(names)}), unchecked (see `unchecked`)."
    return make
