"""Failing generated markets kept as Parquet files and replayed as plain pytest cases.

A case file is the market's bars as Parquet with a JSON description in the file's key-value
metadata (key "mmsim.case"): the generating MarketSpec with its seeds (when the kit generated
the frame), and how to run it again: either a kit property (its name, the strategy's factory
and parameters, the venue, the risk rule's keywords, the initial cash) or a user's test (its
module, name and the other arguments it was called with).

    @given(bars=bars_frames(), strategy=strategy_space(my_mm))
    @keep_failures("tests/regressions")          # on failure: tests/regressions/test_my_mm.parquet
    def test_my_mm(bars, strategy): ...

    def test_regressions():                       # a plain pytest case, no Hypothesis run
        for path in regression_cases("tests/regressions"):
            replay(path)                          # raises if the case fails again

Hypothesis runs the shrunk example last, so the file holds the minimal failing market.
Writes are atomic (a temporary file renamed into place).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import attrs
import polars as pl

from mmsim.strategies.base import Strategy
from mmsim.testing._registry import recall, remember
from mmsim.testing.params import Built, init_values
from mmsim.testing.regimes import MarketSpec, spec_of

KEY = "mmsim.case"
FORMAT = 1
ENV = "MMSIM_SAVE_FAILURES"


class CaseError(ValueError):
    """A case file that cannot be read or replayed; the message names the file and the reason."""


# --- values to JSON and back ----------------------------------------------------------------


def reference(obj: Callable) -> str:
    """'module:qualname' of a module-level function or class."""
    return f"{obj.__module__}:{obj.__qualname__}"


def resolve(ref: str, file: str | None = None):
    """The object named 'module:qualname' (imported from `file` if the module is not importable)."""
    module_name, _, qualname = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        # a case saved before a module moved still names a public object of the package
        if module_name.startswith("mmsim.") and "." not in qualname:
            import mmsim

            if qualname in mmsim.__all__:
                return getattr(mmsim, qualname)
        if not file or not Path(file).is_file():
            raise
        spec = importlib.util.spec_from_file_location(f"_mmsim_case_{abs(hash(file))}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _importable(obj) -> bool:
    try:
        return resolve(reference(obj)) is obj
    except Exception:
        return False


def recorded(factory: Callable, *args, **kwargs):
    """`factory(*args, **kwargs)`, remembered so that a case saved with it can rebuild it
    (e.g. `recorded(mmsim.basic_risk, max_leverage=3.0)`: a risk rule is a pair of closures)."""
    built = factory(*args, **kwargs)
    remember(built, Built(factory, args, kwargs))
    return built


def _known_factory(strategy: Strategy):
    # a built-in or kit strategy built by hand: its factory is named after it
    import mmsim
    import mmsim.testing.fixtures as fixtures

    params = strategy.params
    for home in (fixtures, mmsim):
        factory = getattr(home, strategy.name, None)
        if not callable(factory):
            continue
        try:
            if factory(**init_values(params)).params == params:
                return factory
        except Exception:  # not this factory
            continue
    return None


def _built_by(obj) -> Built | None:
    built = recall(obj)
    if isinstance(built, Built):
        return built
    params = getattr(obj, "params", None)
    if not (isinstance(obj, Strategy) and params is not None and attrs.has(type(params))):
        return None
    factory = getattr(obj, "origin", None) or _known_factory(obj)  # origin: a registered factory
    return Built(factory, (), init_values(params)) if factory is not None else None


def encode(value, *, bars: pl.DataFrame | None = None):
    """A JSON-ready form of `value`; what cannot be rebuilt becomes {"__unsaved__": repr}."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, pl.DataFrame):
        return (
            {"__bars__": True}
            if value is bars
            else {"__unsaved__": f"a DataFrame of shape {value.shape}"}
        )
    if isinstance(value, tuple):
        return {"__tuple__": [encode(x, bars=bars) for x in value]}
    if isinstance(value, list):
        return [encode(x, bars=bars) for x in value]
    if isinstance(value, Mapping):
        return {
            "__dict__": [[encode(k, bars=bars), encode(x, bars=bars)] for k, x in value.items()]
        }
    built = _built_by(value)
    if built is not None and _importable(built.factory):
        return {
            "__call__": reference(built.factory),
            "args": [encode(x, bars=bars) for x in built.args],
            "kwargs": {k: encode(x, bars=bars) for k, x in built.kwargs.items()},
        }
    if attrs.has(type(value)) and _importable(type(value)):
        fields = {k: encode(x, bars=bars) for k, x in init_values(value).items()}
        if not _unsaved(fields):  # a value holding a closure is saved whole or not at all
            return {"__attrs__": reference(type(value)), "fields": fields}
    return {"__unsaved__": repr(value)[:200]}


def _unsaved(encoded) -> bool:
    if isinstance(encoded, dict):
        return "__unsaved__" in encoded or any(_unsaved(x) for x in encoded.values())
    if isinstance(encoded, list):
        return any(_unsaved(x) for x in encoded)
    return False


def decode(value, *, bars: pl.DataFrame, name: str = "value", path: str = "?"):
    """The value `encode` described (raises CaseError for one that was not saved)."""
    if isinstance(value, list):
        return [decode(x, bars=bars, name=name, path=path) for x in value]
    if not isinstance(value, dict):
        return value
    if "__bars__" in value:
        return bars
    if "__tuple__" in value:
        return tuple(decode(x, bars=bars, name=name, path=path) for x in value["__tuple__"])
    if "__dict__" in value:
        return {
            decode(k, bars=bars, name=name, path=path): decode(x, bars=bars, name=name, path=path)
            for k, x in value["__dict__"]
        }
    if "__call__" in value:
        factory = resolve(value["__call__"])
        args = [decode(x, bars=bars, name=name, path=path) for x in value["args"]]
        return factory(
            *args,
            **{k: decode(x, bars=bars, name=name, path=path) for k, x in value["kwargs"].items()},
        )
    if "__attrs__" in value:
        cls = resolve(value["__attrs__"])
        return cls(
            **{k: decode(x, bars=bars, name=name, path=path) for k, x in value["fields"].items()}
        )
    if "__unsaved__" in value:
        raise CaseError(
            f"{path}: argument {name!r} ({value['__unsaved__']}) could not be saved; "
            f"pass it to replay: replay({path!r}, {name}=...)"
        )
    return value


# --- files ----------------------------------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class Case:
    """A saved case: its bars, its description and, if the kit generated it, its MarketSpec."""

    path: Path
    bars: pl.DataFrame
    meta: dict

    @property
    def market(self) -> MarketSpec | None:
        data = self.meta.get("market")
        return MarketSpec.from_dict(data) if data else None

    @property
    def seeds(self) -> dict[str, int]:
        """Each symbol's seed, when the kit generated the market."""
        market = self.market
        return {p.symbol: p.seed for p in market.paths} if market else {}

    def regenerate(self) -> pl.DataFrame:
        """The bars again from the MarketSpec (equal to `bars`: the generator is deterministic)."""
        if self.market is None:
            raise CaseError(f"{self.path}: this case has no MarketSpec; its bars are all there is")
        return self.market.bars()


def save_case(path: str | os.PathLike, bars: pl.DataFrame, **meta) -> Path:
    """Write `bars` as Parquet with `meta` (JSON-ready) and the bars' MarketSpec (if the kit
    generated them) in its metadata; atomic: written beside the target, then renamed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = meta.pop("market", None) or spec_of(bars)
    description = {"format": FORMAT, "market": spec.to_dict() if spec is not None else None, **meta}
    text = json.dumps(description, default=repr)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a case file is shared
        bars.write_parquet(tmp, metadata={KEY: text})
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    return target


def load_case(path: str | os.PathLike) -> Case:
    """Read a case file written by `save_case`."""
    path = Path(path)
    if not path.is_file():
        raise CaseError(f"{path}: no such case file")
    try:
        meta = pl.read_parquet_metadata(path).get(KEY)
    except Exception as exc:
        raise CaseError(f"{path}: not a Parquet file ({exc})") from None
    if meta is None:
        raise CaseError(
            f"{path}: a Parquet file without an {KEY!r} description; was it written by save_case?"
        )
    description = json.loads(meta)
    if description.get("format") != FORMAT:
        raise CaseError(
            f"{path}: case format {description.get('format')!r}, this mmsim reads {FORMAT}"
        )
    return Case(path, pl.read_parquet(path), description)


def regression_cases(folder: str | os.PathLike) -> list[Path]:
    """The case files in `folder`, sorted (none if it does not exist)."""
    folder = Path(folder)
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


# --- keeping failures -----------------------------------------------------------------------

_REPLAYING: list[bool] = [False]


@contextlib.contextmanager
def _replaying() -> Iterator[None]:
    _REPLAYING[0], before = True, _REPLAYING[0]
    try:
        yield
    finally:
        _REPLAYING[0] = before


def _is_hypothesis_control(exc: BaseException) -> bool:
    # assume()/reject() and Hypothesis' own signals are not failures of the test
    return any(c.__module__.startswith("hypothesis") for c in type(exc).__mro__)


def add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(note)


def save_folder(folder: str | os.PathLike | None) -> Path | None:
    """`folder`, else the MMSIM_SAVE_FAILURES environment variable, else None (do not save)."""
    chosen = folder or os.environ.get(ENV)
    return Path(chosen) if chosen else None


def keep_failures(folder: str | os.PathLike | None = None) -> Callable:
    """Decorate a test (under `@given`): when it fails, save the failing market to
    `folder/<test name>.parquet` with the other arguments, and say how to replay it.

    The test must take the market as a bars frame argument (the first DataFrame given).
    folder None: the MMSIM_SAVE_FAILURES environment variable, or no saving.
    """

    def decorate(test: Callable) -> Callable:
        @functools.wraps(test)
        def wrapper(*args, **kwargs):
            try:
                return test(*args, **kwargs)
            except Exception as exc:
                target = save_folder(folder)
                if target is None or _REPLAYING[0] or _is_hypothesis_control(exc) or args:
                    raise
                bars = next((x for x in kwargs.values() if isinstance(x, pl.DataFrame)), None)
                if bars is None:
                    raise
                path = save_case(
                    target / f"{test.__name__}.parquet",
                    bars,
                    kind="test",
                    test={
                        "function": reference(test),
                        "file": getattr(sys.modules.get(test.__module__), "__file__", None),
                    },
                    args={k: encode(x, bars=bars) for k, x in kwargs.items()},
                    error=f"{type(exc).__name__}: {str(exc)[:2000]}",
                )
                add_note(
                    exc,
                    f"failing market saved to {path};"
                    f" replay it with mmsim.testing.replay({str(path)!r})",
                )
                raise

        return wrapper

    return decorate


def save_property_case(
    path: str | os.PathLike, name: str, strategy, bars: pl.DataFrame, *, error: str = "", **run
) -> Path:
    """Save a market on which kit property `name` fails for `strategy`, with the run's
    keywords (venue, risk, initial_cash, ...), so `replay(path)` checks the property again.
    A strategy or risk rule is stored as the factory call that built it (see `recorded`)."""
    return save_case(
        path,
        bars,
        kind="property",
        property=name,
        strategy=encode(strategy, bars=bars),
        run={k: encode(x, bars=bars) for k, x in run.items()},
        error=error[:2000],
    )


# --- replay ---------------------------------------------------------------------------------


def replay(path: str | os.PathLike, **overrides) -> Case:
    """Run a saved case again: its kit property, or its test with the saved arguments.

    Raises what the case raises (an AssertionError naming the violations) when it still
    fails; returns the Case when it passes. overrides: arguments to use instead of the saved
    ones (needed for arguments that could not be saved, e.g. a risk rule built by hand).
    """
    case = load_case(path)
    meta, where = case.meta, str(case.path)
    kind = meta.get("kind")
    if kind == "property":
        from mmsim.testing.properties import assert_property

        strategy = overrides.pop("strategy", None) or decode(
            meta["strategy"], bars=case.bars, name="strategy", path=where
        )
        run = {
            k: overrides.pop(k) if k in overrides else decode(x, bars=case.bars, name=k, path=where)
            for k, x in meta["run"].items()
        }
        run.update(overrides)
        try:
            assert_property(meta["property"], strategy, case.bars, **run)
        except AssertionError as exc:
            add_note(exc, f"replayed from {where}")
            raise
        return case
    if kind == "test":
        test = resolve(meta["test"]["function"], meta["test"].get("file"))
        inner = getattr(getattr(test, "hypothesis", None), "inner_test", test)
        kwargs = {
            k: overrides.pop(k) if k in overrides else decode(x, bars=case.bars, name=k, path=where)
            for k, x in meta["args"].items()
        }
        kwargs.update(overrides)
        with _replaying():
            try:
                inner(**kwargs)
            except Exception as exc:
                add_note(exc, f"replayed from {where}")
                raise
        return case
    if overrides:
        raise CaseError(
            f"{where}: a bars-only case has nothing to run the overrides {sorted(overrides)} with"
        )
    return case
