"""Real state systems against the record: historical cases and the tables they are built from.

``spec`` (constants, geometry, the case file schema) -> ``tables`` (reading a case's CSV
tables) -> ``case`` (:class:`Case`: loading, making) -> ``nulls`` (null models) ->
``evaluate`` (one parameter set, scored) -> ``calibrate`` (a sweep of parameters with
attribute uncertainty, the calibration store); ``cow`` builds the tables from Correlates of
War data. The compiled case kernels are :mod:`mc_threat.kernels.cases`.

Every name of the cases API is importable from here.
"""

from ..kernels.cases import evaluate_points  # noqa: F401  (used by mc_threat.history)
from .calibrate import (  # noqa: F401
    Calibration,
    calibrate_case,
    open_calibration,
    perturbed_attributes,
    resolve_design,
    summarize_calibration,
)
from .case import Case, find_case, load_case, make_case, shipped_cases  # noqa: F401
from .evaluate import (  # noqa: F401
    CaseEvaluation,
    PassResult,
    best_matching,
    bloc_name,
    case_params,
    evaluate_case,
    params_dict,
)
from .nulls import (  # noqa: F401
    NULL_PERMUTATIONS,
    SEARCH_NULL_PERMUTATIONS,
    majority_null,
    permutation_null,
    search_null,
)
from .spec import (  # noqa: F401
    CHOICE_NAMES,
    CRITERIA,
    DEFAULT_SWEEP,
    EARTH_RADIUS_KM,
    MAX_SIDES,
    NO_SIDE,
    POWER_COMPONENTS,
    REPO_ROOT,
    SHIPPED_CASES,
    STATS,
    Bound,
    CalibrateSpec,
    CaseFile,
    NonEmpty,
    ObservedSpec,
    UncertaintySpec,
    great_circle_km,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "Calibration",
    "Case",
    "CaseEvaluation",
    "best_matching",
    "calibrate_case",
    "evaluate_case",
    "find_case",
    "great_circle_km",
    "load_case",
    "majority_null",
    "make_case",
    "open_calibration",
    "permutation_null",
    "perturbed_attributes",
    "search_null",
    "shipped_cases",
    "summarize_calibration",
]
