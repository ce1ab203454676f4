"""What the kit knows about the values it generated, kept while they live (weak references).

A generated frame remembers its MarketSpec, a generated strategy or risk rule the factory call
that built it, so a saved failing case can record how to rebuild them, not only their repr.
"""

from __future__ import annotations

import weakref
from typing import Any

_KNOWN: dict[int, tuple[weakref.ref, Any]] = {}


def remember(obj: Any, info: Any) -> None:
    """Attach `info` to `obj` for as long as `obj` lives (objects without weakrefs are skipped)."""
    key = id(obj)
    try:
        ref = weakref.ref(obj, lambda _ref, key=key: _KNOWN.pop(key, None))
    except TypeError:
        return
    _KNOWN[key] = (ref, info)


def recall(obj: Any) -> Any:
    """The info attached to `obj`, or None."""
    entry = _KNOWN.get(id(obj))
    return entry[1] if entry is not None and entry[0]() is obj else None
