"""Real market data in: Binance dumps, generic CSV/Parquet/JSON, alignment, resampling, downloads.

    bars = mmsim.load_bars("DATA/")      # a Parquet cache, a folder of Binance ZIPs, or a CSV
    result = mmsim.backtest(bars, strategies, allow_gaps=True)

Every loader returns the bars frame of `mmsim.bars` (ts Datetime(us) UTC bar open, symbol
Categorical, float64 prices/volumes, extra numeric columns as features), raises DataError
naming the file and line of any malformed input, and drops rows only when asked (`drop=`),
reporting them as a DroppedRowsWarning.
"""

from mmsim.data.align import align_bars, bars_interval, describe_bars, gap_report
from mmsim.data.binance import parse_kline_name, read_binance_klines
from mmsim.data.errors import DataError, DroppedRowsWarning, FetchError, MissingBarsError
from mmsim.data.fetch import FetchReport, build_cache, fetch_binance, plan_files
from mmsim.data.files import safe_extract
from mmsim.data.load import load_bars
from mmsim.data.readers import read_bars
from mmsim.data.resample import resample_bars

__all__ = [
    "DataError",
    "DroppedRowsWarning",
    "FetchError",
    "FetchReport",
    "MissingBarsError",
    "align_bars",
    "bars_interval",
    "build_cache",
    "describe_bars",
    "fetch_binance",
    "gap_report",
    "load_bars",
    "parse_kline_name",
    "plan_files",
    "read_bars",
    "read_binance_klines",
    "resample_bars",
    "safe_extract",
]
