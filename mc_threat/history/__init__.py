"""History as a test set: every system-year since 1816 against observed alliances.

* :mod:`.data` builds the state system of a region in a year (rules in its docstring and in
  docs/history.md) from the extracts in ``mc_threat/data/history``;
* :mod:`.score` scores predicted blocs pair by pair and computes the null models;
* :mod:`.panel` runs a period (``mc-threat history``);
* :mod:`.search` calibrates on one period and scores another, with the permutation test of
  the search, and leaves one shipped case out at a time;
* :mod:`.output` writes the table and the zarr store; :mod:`.cli` is the command.
"""

from .data import INTENT_SOURCES, REGIONS, YearSystem, build_year, load_history
from .panel import History, predict, run_history, to_json
from .score import Counts, counts, null_models, permutation_null, permutation_tp

__all__ = ["Counts", "History", "INTENT_SOURCES", "REGIONS", "YearSystem", "build_year",
           "counts", "load_history", "null_models", "permutation_null", "permutation_tp",
           "predict", "run_history", "to_json"]
