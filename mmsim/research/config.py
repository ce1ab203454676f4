"""TOML run configurations for `mmsim run --config FILE`: symbols, data, venue, risk, strategies.

    symbols = ["BTCUSDT", "ETHUSDT"]   # optional: trade these (default: every symbol in the data)
    initial_cash = 100000.0            # USDT (default 100,000)
    out = "results/run1"               # optional results folder, relative to this file
    allow_gaps = false                 # see mmsim.validate_bars

    [data]                             # exactly one of `synthetic` and `path`
    synthetic = { days = 30, seed = 7, interval = "1m" }   # + symbols (default: top-level list)
    # path = "bars.parquet"            # relative to this file; read by mmsim.data.load_bars
    # options = { interval = "1m" }    # keywords passed to mmsim.data.load_bars(path, ...)

    [venue]                            # keywords of mmsim.Venue
    maker_fee = 0.0002

    [risk]                             # keywords of mmsim.basic_risk
    max_leverage = 3.0

    [strategies]                       # symbol -> strategy; "*" = every symbol not listed
    BTCUSDT = { strategy = "avellaneda_stoikov", gamma = 0.0005 }
    "*" = { strategy = "fixed_spread", half_spread_bps = 8 }

Instead of `[strategies]`, several named sets (`[sets.NAME]`, each shaped like `[strategies]`)
run on the same data and are compared (`mmsim.compare`). Every mistake is a ConfigError naming
the file, the table and the key at fault; strategies are built when the file is read, so a bad
parameter fails before any data is loaded.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from mmsim.core.bars import bad_symbol
from mmsim.core.risk import RiskRule, basic_risk
from mmsim.core.venue import Venue
from mmsim.data.synthetic import synthetic_bars
from mmsim.strategies.base import Strategy
from mmsim.strategies.params import StrategyError
from mmsim.strategies.registry import make_strategy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ALL = "*"
DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
_TOP_KEYS = (
    "symbols",
    "initial_cash",
    "out",
    "allow_gaps",
    "data",
    "venue",
    "risk",
    "strategies",
    "sets",
)
_SYNTHETIC_KEYS = tuple(
    p for p in inspect.signature(synthetic_bars).parameters if p != "symbols"
) + ("symbols",)


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the file, table and key at fault."""


@attrs.frozen(slots=True)
class DataSpec:
    """Where the bars come from: a seeded synthetic market, or a file read on demand."""

    synthetic: dict[str, Any] | None = None
    path: Path | None = None
    options: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True, eq=False)
class RunConfig:
    """A parsed run configuration (immutable); strategies are already built and validated.

    sets: set name -> {symbol or "*": Strategy}; a config with a `[strategies]` table has the
    one set "main".
    """

    source: str
    data: DataSpec
    symbols: tuple[str, ...] | None
    venue: Venue
    risk_options: dict[str, Any]
    sets: dict[str, dict[str, Strategy]]
    initial_cash: float = 100_000.0
    allow_gaps: bool = False
    out: Path | None = None
    # the document as run: data paths made absolute, `out` left out; `mmsim run --config`
    # reruns it from the results folder's config.toml or config.json
    document: dict[str, Any] = attrs.field(factory=dict)
    text: str | None = None  # the TOML file's own text, when there was one

    @property
    def risk(self) -> RiskRule:
        return basic_risk(**self.risk_options)

    def load_bars(self) -> pl.DataFrame:
        """The bars of the data section, restricted to `symbols` when given."""
        data = self.data
        if data.synthetic is not None:
            options = dict(data.synthetic)
            symbols = options.pop("symbols", None) or self.symbols or DEFAULT_SYMBOLS
            try:
                bars = synthetic_bars(symbols, **options)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{self.source}: [data.synthetic]: {exc}") from None
        else:
            bars = _read_path(self.source, data.path, data.options)
        if self.symbols is not None:
            present = set(bars["symbol"].unique().to_list())
            missing = [s for s in self.symbols if s not in present]
            if missing:
                raise ConfigError(
                    f"{self.source}: symbols {missing} are not in the data; "
                    f"it has {sorted(present)}"
                )
            bars = bars.filter(pl.col("symbol").is_in(list(self.symbols)))
        return bars

    def strategies_for(
        self, set_name: str, symbols: tuple[str, ...] | list[str]
    ) -> dict[str, Strategy]:
        """The set's strategy for each symbol ("*" covers those not named)."""
        chosen = self.sets[set_name]
        where = (
            "[strategies]" if set_name == "main" and len(self.sets) == 1 else f"[sets.{set_name}]"
        )
        unknown = [s for s in chosen if s != ALL and s not in symbols]
        if unknown:
            raise ConfigError(
                f"{self.source}: {where} names symbols {unknown} that are not traded; "
                f"the run trades {list(symbols)}"
            )
        missing = [s for s in symbols if s not in chosen and ALL not in chosen]
        if missing:
            raise ConfigError(
                f"{self.source}: {where} has no strategy for {missing}; name them or add "
                f'"*" = {{ strategy = "..." }} for every other symbol'
            )
        return {s: chosen.get(s, chosen.get(ALL)) for s in symbols}


def _read_path(source: str, path: Path, options: dict[str, Any]) -> pl.DataFrame:
    if not path.exists():
        raise ConfigError(f"{source}: [data] path {str(path)!r} does not exist")
    try:
        from mmsim.data import load_bars
    except ModuleNotFoundError as exc:
        if exc.name != "mmsim.data":
            raise
        # without the data package, read mmsim's own bars layout from Parquet
        if options:
            raise ConfigError(
                f"{source}: [data] options {sorted(options)} need mmsim.data (not installed)"
            ) from None
        if path.suffix.lower() != ".parquet":
            raise ConfigError(
                f"{source}: [data] path {str(path)!r}: only Parquet files in mmsim's bars layout "
                "can be read without mmsim.data"
            ) from None
        return pl.read_parquet(path)
    return load_bars(path, **options)


def _table(source: str, doc: Mapping, key: str, where: str) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {where} must be a table, got {value!r}")
    return dict(value)


def _check_keys(source: str, where: str, table: Mapping, allowed) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise ConfigError(
            f"{source}: {where}: unknown key(s) {unknown}; allowed: {', '.join(allowed)}"
        )


def _strategy_set(source: str, where: str, table: Mapping) -> dict[str, Strategy]:
    if not table:
        raise ConfigError(f"{source}: {where} names no strategy")
    out = {}
    for symbol, spec in table.items():
        at = f"{where} {symbol}"
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"{source}: {at} must be a table like "
                f'{{ strategy = "tokyo", levels = 3 }}, got {spec!r}'
            )
        params = dict(spec)
        name = params.pop("strategy", None)
        if not isinstance(name, str):
            raise ConfigError(f'{source}: {at} needs strategy = "<name>" (see `mmsim strategies`)')
        try:
            out[symbol] = make_strategy(name, **params)
        except StrategyError as exc:
            raise ConfigError(f"{source}: {at}: {exc}") from None
    return out


def _key_at_fault(build, options: Mapping[str, Any], exc: Exception) -> str:
    """' key:' of the first option `build` refuses on its own, unless `exc` names it; or ''."""
    for key, value in options.items():
        try:
            build(**{key: value})
        except (TypeError, ValueError):
            return "" if key in str(exc) else f" {key}:"
    return ""


def parse_config(
    doc: Mapping[str, Any],
    *,
    source: str = "<config>",
    base: Path | None = None,
    text: str | None = None,
) -> RunConfig:
    """Validate a config mapping (a parsed TOML document); relative paths resolve from `base`."""
    base = base or Path.cwd()
    _check_keys(source, "top level", doc, _TOP_KEYS)
    venue, risk_opts = _parse_venue_and_risk(source, doc)
    data = _parse_data(source, doc, base)
    return RunConfig(
        source=source,
        document=_as_run(doc, data),
        text=text,
        data=data,
        symbols=_parse_symbols(source, doc),
        venue=venue,
        risk_options=risk_opts,
        sets=_parse_sets(source, doc),
        initial_cash=_parse_cash(source, doc),
        allow_gaps=_parse_allow_gaps(source, doc),
        out=_parse_out(source, doc, base),
    )


def _as_run(doc: Mapping[str, Any], data: DataSpec) -> dict[str, Any]:
    """The document as it runs anywhere: the data path made absolute, `out` left out."""
    document = {k: v for k, v in doc.items() if k != "out"}
    if data.path is not None:
        document["data"] = {**doc["data"], "path": str(data.path)}
    return document


def _parse_symbols(source: str, doc: Mapping[str, Any]) -> tuple[str, ...] | None:
    symbols = doc.get("symbols")
    if symbols is None:
        return None
    if not (isinstance(symbols, list) and symbols and all(isinstance(s, str) for s in symbols)):
        raise ConfigError(f"{source}: symbols must be a non-empty list of names, got {symbols!r}")
    for symbol in symbols:
        if (problem := bad_symbol(symbol)) is not None:
            raise ConfigError(f"{source}: symbols: {problem}")
    if len(set(symbols)) != len(symbols):
        raise ConfigError(f"{source}: symbols repeat a name: {symbols!r}")
    return tuple(symbols)


def _parse_data(source: str, doc: Mapping[str, Any], base: Path) -> DataSpec:
    data = _table(source, doc, "data", "[data]")
    _check_keys(source, "[data]", data, ("synthetic", "path", "options"))
    if ("synthetic" in data) == ("path" in data):
        raise ConfigError(f"{source}: [data] needs exactly one of `synthetic` (a table) and `path`")
    if "synthetic" in data:
        synthetic = _table(source, data, "synthetic", "[data.synthetic]")
        _check_keys(source, "[data.synthetic]", synthetic, _SYNTHETIC_KEYS)
        if "options" in data:
            raise ConfigError(f"{source}: [data] options apply to a path, not to synthetic data")
        return DataSpec(synthetic=synthetic)
    if not isinstance(data["path"], str):
        raise ConfigError(f"{source}: [data] path must be a string, got {data['path']!r}")
    path = Path(os.path.expanduser(data["path"]))
    return DataSpec(
        path=path if path.is_absolute() else base / path,
        options=_table(source, data, "options", "[data.options]"),
    )


def _parse_venue_and_risk(source: str, doc: Mapping[str, Any]) -> tuple[Venue, dict[str, Any]]:
    venue_opts = _table(source, doc, "venue", "[venue]")
    _check_keys(source, "[venue]", venue_opts, [f.name for f in attrs.fields(Venue)])
    try:
        venue = Venue(**venue_opts)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: [venue]:{_key_at_fault(Venue, venue_opts, exc)} {exc}"
        ) from None
    risk_opts = _table(source, doc, "risk", "[risk]")
    _check_keys(source, "[risk]", risk_opts, list(inspect.signature(basic_risk).parameters))
    try:
        basic_risk(**risk_opts)
    except (TypeError, ValueError) as exc:
        key = _key_at_fault(basic_risk, risk_opts, exc)
        raise ConfigError(f"{source}: [risk]:{key} {exc}") from None
    return venue, risk_opts


def _parse_sets(source: str, doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if ("strategies" in doc) == ("sets" in doc):
        raise ConfigError(
            f"{source}: give either [strategies] (one set) or [sets.NAME] tables (sets to compare)"
        )
    if "strategies" in doc:
        table = _table(source, doc, "strategies", "[strategies]")
        return {"main": _strategy_set(source, "[strategies]", table)}
    sets = {}
    for name, table in _table(source, doc, "sets", "[sets]").items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [sets.{name}] must be a table of symbol -> strategy")
        if bad_symbol(name) is not None:  # a set's results go to a folder of its name
            raise ConfigError(
                f"{source}: [sets] name {name!r} cannot name a folder: use letters, digits, "
                "'.', '_' or '-'"
            )
        sets[name] = _strategy_set(source, f"[sets.{name}]", table)
    if not sets:
        raise ConfigError(f"{source}: [sets] holds no set")
    return sets


def _parse_cash(source: str, doc: Mapping[str, Any]) -> float:
    cash = doc.get("initial_cash", 100_000.0)
    if isinstance(cash, bool) or not isinstance(cash, int | float) or not 0 < cash < math.inf:
        raise ConfigError(f"{source}: initial_cash must be a positive number of USDT, got {cash!r}")
    return float(cash)


def _parse_allow_gaps(source: str, doc: Mapping[str, Any]) -> bool:
    allow_gaps = doc.get("allow_gaps", False)
    if not isinstance(allow_gaps, bool):
        raise ConfigError(f"{source}: allow_gaps must be true or false, got {allow_gaps!r}")
    return allow_gaps


def _parse_out(source: str, doc: Mapping[str, Any], base: Path) -> Path | None:
    out = doc.get("out")
    if out is None:
        return None
    if not isinstance(out, str):
        raise ConfigError(f"{source}: out must be a folder name, got {out!r}")
    path = Path(os.path.expanduser(out))
    return path if path.is_absolute() else (base / path).resolve()


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a run configuration (see the module docstring for its format).

    A TOML file, or the config.json / config.toml of a results folder: those hold the
    document as it ran, so the run can be repeated from them.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a folder; give its config.toml (a results folder) or a TOML file"
        ) from None
    if path.suffix.lower() == ".json":
        return _load_json(path, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(doc, source=str(path), base=path.resolve().parent, text=text)


def _load_json(path: Path, text: str) -> RunConfig:
    import json

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    run = doc.get("run") if isinstance(doc, Mapping) else None
    if isinstance(run, Mapping):  # a results folder's config.json
        if not isinstance(run.get("document"), Mapping):
            raise ConfigError(f"{path}: its run section holds no document to rerun")
        doc = run["document"]
    elif isinstance(doc, Mapping) and "strategies" in doc and "data" not in doc:
        raise ConfigError(
            f"{path}: this results folder was written from Python (mmsim.backtest), not by "
            "`mmsim run`, so it does not record its data source; it cannot be rerun from here"
        )
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: a JSON config must be an object, got {type(doc).__name__}")
    return parse_config(doc, source=str(path), base=path.resolve().parent)


def parse_value(text: str) -> Any:
    """A command-line value as TOML reads it (0.001, 10, true, [1, 2]); anything else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items: Sequence[str] | None, option: str) -> dict[str, Any]:
    """["gamma=0.001", "horizon=1d"] -> {"gamma": 0.001, "horizon": "1d"}."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{option} {item!r}: write it as {option} name=value")
        if key in out:
            raise ConfigError(f"{option} {key} is given twice")
        out[key] = parse_value(value.strip())
    return out


def options_document(
    *,
    data: str | None = None,
    symbols: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    drop: Sequence[str] = (),
    strategy: str,
    params: Mapping[str, Any] | None = None,
    venue: Mapping[str, Any] | None = None,
    risk: Mapping[str, Any] | None = None,
    initial_cash: float | None = None,
    allow_gaps: bool = False,
    synthetic: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The config document that `mmsim run --data ... --strategy ...` stands for."""
    doc: dict[str, Any] = {}
    if symbols:
        doc["symbols"] = [s.strip().upper() for s in symbols if s.strip()]
    if initial_cash is not None:
        doc["initial_cash"] = initial_cash
    if allow_gaps:
        doc["allow_gaps"] = True
    if data is None:
        if start or end or drop:
            raise ConfigError("--start, --end and --drop select from --data PATH; none was given")
        doc["data"] = {"synthetic": dict(synthetic or {})}
    else:
        options: dict[str, Any] = {}
        if start:
            options["start"] = start
        if end:
            options["end"] = end
        if drop:
            options["drop"] = list(drop)
        doc["data"] = {"path": str(Path(os.path.expanduser(data)).resolve())}
        if options:
            doc["data"]["options"] = options
    if venue:
        doc["venue"] = dict(venue)
    if risk:
        doc["risk"] = dict(risk)
    doc["strategies"] = {ALL: {"strategy": strategy, **(params or {})}}
    return doc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        import json

        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) as TOML")


def _toml_key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key)
    return key if bare else _toml_value(key)


def to_toml(doc: Mapping[str, Any]) -> str:
    """A config document as TOML text (read back by `load_config` to the same document)."""
    lines = [
        f"{_toml_key(k)} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, Mapping)
    ]
    for key, table in doc.items():
        if not isinstance(table, Mapping):
            continue
        lines += ["", f"[{_toml_key(key)}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def bars_fingerprint(bars: pl.DataFrame) -> str:
    """sha256 of the bars' times, symbols, prices, volumes and funding: same bars, same hash."""
    import hashlib

    digest = hashlib.sha256()
    frame = bars.sort("ts", "symbol")
    for name in ("ts", "symbol", "open", "high", "low", "close", "volume", "funding_rate"):
        if name not in frame.columns:
            continue
        column = frame[name]
        if name == "ts":
            column = column.dt.epoch("us")
        elif name == "symbol":
            digest.update("\n".join(column.cast(pl.String).to_list()).encode())
            continue
        digest.update(name.encode())
        digest.update(column.cast(pl.Float64 if name != "ts" else pl.Int64).to_numpy().tobytes())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """mmsim's version and those of Python and the libraries a run's figures depend on."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("mmsim", "polars", "numpy", "attrs", "toolz", "altair", "vl-convert-python"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    from mmsim._version import __version__

    out["mmsim"] = __version__
    return out


def risk_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every `basic_risk` keyword with the value the run used (its default when not given)."""
    signature = inspect.signature(basic_risk)
    return {
        name: options.get(name, p.default)
        for name, p in signature.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def data_record(config: RunConfig, bars: pl.DataFrame) -> dict[str, Any]:
    """Where the bars came from and a fingerprint that tells whether a rerun read the same."""
    ts = bars["ts"]
    source: dict[str, Any]
    if config.data.synthetic is not None:
        source = {"synthetic": dict(config.data.synthetic)}
    else:
        source = {"path": str(config.data.path), "options": dict(config.data.options)}
    return {
        **source,
        "symbols": sorted(bars["symbol"].cast(pl.String).unique().to_list()),
        "first_bar": str(ts.min()),
        "last_bar": str(ts.max()),
        "rows": bars.height,
        "funding": "funding_rate" in bars.columns,
        "fingerprint": bars_fingerprint(bars),
    }


def record(result, config: RunConfig, data: Mapping[str, Any], set_name: str | None = None):
    """The result with everything needed to rerun it in its config (see `Result.config`)."""
    extra = {
        "set": set_name,
        "data": dict(data),
        "risk_settings": risk_settings(config.risk_options),
        "versions": package_versions(),
        "run": {"source": config.source, "document": config.document, "toml": config.text},
    }
    return attrs.evolve(result, config={**result.config, **extra})


def run_config(
    config: RunConfig,
    *,
    jobs: int | None = 1,
    progress=None,
    bars: pl.DataFrame | None = None,
    on_set=None,
    engine: str = "auto",
):
    """Run a configuration: a `Result` for one set, a `research.compare.Comparison` for several.

    progress(done, total) follows the bars of the set being run; on_set(name, k, n) is called
    as set k of n starts (one process only: with jobs > 1 the sets run in workers at once).
    engine: each backtest's engine ("auto", "fast" or "reference"); it is not part of the
    document, since every engine gives the same frames.
    Each result's config records the data source, its fingerprint, the risk settings,
    versions and the document, so `mmsim run --config RESULTS/config.json` repeats it.
    """
    from mmsim.core.backtest import backtest
    from mmsim.data.features import FeatureError
    from mmsim.research.compare import Comparison, compare, comparison_table

    bars = config.load_bars() if bars is None else bars
    data = data_record(config, bars)
    symbols = tuple(sorted(bars["symbol"].unique().to_list()))
    per_set = {name: config.strategies_for(name, symbols) for name in config.sets}
    common = dict(
        venue=config.venue,
        initial_cash=config.initial_cash,
        allow_gaps=config.allow_gaps,
        engine=engine,
    )
    try:
        if len(per_set) == 1:
            (strategies,) = per_set.values()
            result = backtest(bars, strategies, risk=config.risk, progress=progress, **common)
            return record(result, config, data)
        if jobs == 1:
            results = {}
            for k, (name, strategies) in enumerate(per_set.items()):
                if on_set is not None:
                    on_set(name, k, len(per_set))
                results[name] = backtest(
                    bars, strategies, risk=config.risk, progress=progress, **common
                )
        else:
            results = compare(bars, per_set, jobs=jobs, risk=config.risk_options, **common).results
    except (pl.exceptions.PolarsError, FeatureError) as exc:
        # e.g. a strategy's feature needs a column the data lacks (oslo: taker_buy_volume)
        raise ConfigError(
            f"{config.source}: a strategy's features cannot be computed on the data: {exc}"
        ) from None
    results = {name: record(r, config, data, name) for name, r in results.items()}
    return Comparison(results, comparison_table(results, per_set))


__all__ = [
    "ConfigError",
    "DataSpec",
    "RunConfig",
    "bars_fingerprint",
    "load_config",
    "options_document",
    "package_versions",
    "parse_assignments",
    "parse_config",
    "risk_settings",
    "run_config",
    "to_toml",
]
