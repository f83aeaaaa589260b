"""Which properties of a system drive an outcome: feature scoring on a sweep's reservoir.

A sweep run with ``run.reservoir: K`` keeps every outcome of the first ``K`` systems at
every point (the same systems at every point), with attributes of each system that do not
depend on the model's parameters (:data:`mc_threat.model.attributes.SYSTEM_ATTRIBUTES`:
the hegemon's share of power, power concentration, the hegemon's offense and intent, the
distances between states, ...). ``mc-threat features STORE --outcome alignment_change``
asks which of them, beside the swept factors, make an outcome high or low; with
``alignment_change`` (the share of states whose principal threat or choice differs from
balance of power), *which properties of a system make the two theories disagree*.

How it is scored:

* Each (point, kept system) is one row: the system's attributes and the point's numeric
  swept factors are the features, the system's outcome at that point the target. At most
  ``max_rows`` rows are used (drawn at random, seeded).
* The rows are split **by system**: the systems whose index is ``3 (mod 4)`` are the test
  set, so the test scores are on systems the model never saw (a quarter of the systems).
* scikit-learn's ``ExtraTreesRegressor`` is fitted on the training rows (``trees`` trees,
  leaves of at least 5 rows, ``random_state=seed``).
* **Permutation importance** (``sklearn.inspection.permutation_importance``, on the test
  rows, ``repeats`` shuffles of each feature): how much the test R^2 drops when the feature
  is shuffled, mean and standard deviation over the shuffles. This is the ranking reported.
  The trees' impurity importances are stored beside it (biased towards features with many
  distinct values; shown for comparison only).
* Beside the model's test R^2 stand two others: a model of the same kind on the swept
  factors alone (what the point's parameters explain without looking at the system) and
  the null that predicts the training mean (R^2 <= 0). The attributes matter to the extent
  the full model beats the factors-only one.

The result is stored in the store's group ``features/<outcome>`` (a rerun replaces it and
nothing else) and drawn as a bar chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..kernels import OUTCOMES
from ..store import StoreError, now, open_reservoir

FEATURES_GROUP = "features"
"""Parent group of every feature-scoring result in a store."""

TEST_EVERY = 4
"""Systems with ``index % TEST_EVERY == TEST_EVERY - 1`` form the test set."""


@dataclass
class FeatureScores:
    """The result of :func:`score_features` (see the module docstring)."""

    outcome: str
    features: list[str]
    kinds: list[str]  # "system" (an attribute) or "factor" (a swept factor) per feature
    permutation_mean: np.ndarray
    permutation_std: np.ndarray
    impurity: np.ndarray
    r2_train: float
    r2_test: float
    r2_factors_only: float | None
    r2_null: float
    rows: int
    train_rows: int
    test_rows: int
    systems: int
    points: int
    params: dict = field(default_factory=dict)
    ignored_factors: list[str] = field(default_factory=list)

    def ranking(self) -> list[int]:
        """Feature indices, most important first (permutation importance)."""
        return sorted(range(len(self.features)),
                      key=lambda k: (-self.permutation_mean[k], self.features[k]))

    def as_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "r2_test": self.r2_test, "r2_train": self.r2_train,
            "r2_factors_only": self.r2_factors_only, "r2_null": self.r2_null,
            "rows": self.rows, "train_rows": self.train_rows, "test_rows": self.test_rows,
            "systems": self.systems, "points": self.points,
            "features": [{"name": self.features[k], "kind": self.kinds[k],
                          "permutation_mean": float(self.permutation_mean[k]),
                          "permutation_std": float(self.permutation_std[k]),
                          "impurity": float(self.impurity[k])} for k in self.ranking()],
            "ignored_factors": self.ignored_factors,
            "params": self.params,
        }


def _require_sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ConfigError("mc-threat features needs scikit-learn: pip install "
                          "'mc-threat[discover]'") from None


def feature_table(path, outcome: str, *, max_rows: int = 50_000, seed: int = 0):
    """The rows to score from a store's reservoir: ``(X, y, system, names, kinds, ignored,
    shape)``, one row per (point, kept system), at most ``max_rows`` of them drawn at random
    (seeded), features = system attributes then the numeric swept factors; ``shape`` is
    ``(points, kept systems)`` of the whole reservoir. Only the drawn rows are held in
    memory (one variable of the whole reservoir at a time)."""
    from ..model.attributes import SYSTEM_ATTRIBUTES
    from .discover import check_complete, factor_columns

    path = Path(path)
    if outcome not in OUTCOMES:
        raise ConfigError(f"--outcome: {outcome!r} is not an outcome; one of "
                          f"{', '.join(OUTCOMES)}")
    ds = open_reservoir(path)
    check_complete(path)
    n_points, k = ds.sizes["point"], ds.sizes["system"]
    total = n_points * k
    rows = np.arange(total)
    if total > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(total, size=max_rows, replace=False))

    def column(name):
        try:
            values = np.asarray(ds[name].values, np.float64).reshape(-1)[rows]
        except Exception as exc:  # noqa: BLE001 - a damaged chunk: say which, no traceback
            raise StoreError(f"{path}: reservoir/{name} cannot be read ({type(exc).__name__}); "
                             "'mc-threat info' says what is wrong, --resume repairs it") \
                from None
        if not np.isfinite(values).all():
            raise StoreError(f"{path}: reservoir/{name} has missing values; 'mc-threat info' "
                             "says what is wrong, --resume repairs it")
        return values

    factors, ignored = factor_columns(ds, _factors(path), path)
    names = [*SYSTEM_ATTRIBUTES, *factors]
    kinds = ["system"] * len(SYSTEM_ATTRIBUTES) + ["factor"] * len(factors)
    point_of_row = rows // k
    X = np.stack([column(name) for name in SYSTEM_ATTRIBUTES]
                 + [v[point_of_row] for v in factors.values()], axis=1)
    y = column(outcome)
    return X, y, rows % k, names, kinds, ignored, (n_points, k)


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:  # scikit-learn's random_state
        raise ConfigError(f"--seed: must be between 0 and 2**32 - 1, got {seed}")


def _factors(path: Path) -> list[str]:
    from ..store import read_json

    root, _ = read_json(path / "zarr.json")
    factors = (root or {}).get("attributes", {}).get("factors", [])
    return [str(f) for f in factors] if isinstance(factors, list) else []


def score_features(X, y, system, names, kinds, *, outcome: str = "", max_rows: int = 50_000,
                   trees: int = 200, repeats: int = 10, seed: int = 0) -> FeatureScores:
    """Fit extra trees to ``y`` and score every feature (see the module docstring)."""
    _require_sklearn()
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import r2_score

    _check_seed(seed)
    rows = np.arange(len(y))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
    test = system[rows] % TEST_EVERY == TEST_EVERY - 1
    train_rows, test_rows = rows[~test], rows[test]
    if len(train_rows) < 10 or len(test_rows) < 10:
        raise ConfigError(f"--max-rows: {len(rows)} rows ({len(train_rows)} to fit, "
                          f"{len(test_rows)} to test) are too few to score features; at least "
                          "10 of each (raise --max-rows, or keep more systems: run.reservoir)")
    if np.ptp(y[rows]) == 0:
        raise ConfigError(f"--outcome: {outcome} takes one value ({y[rows][0]:g}) in every "
                          "kept system; there is nothing to explain")

    def model():
        return ExtraTreesRegressor(n_estimators=trees, min_samples_leaf=5, random_state=seed,
                                   n_jobs=1)

    full = model().fit(X[train_rows], y[train_rows])
    r2_train = float(r2_score(y[train_rows], full.predict(X[train_rows])))
    r2_test = float(r2_score(y[test_rows], full.predict(X[test_rows])))
    perm = permutation_importance(full, X[test_rows], y[test_rows], n_repeats=repeats,
                                  random_state=seed, n_jobs=1)
    factor_cols = [k for k, kind in enumerate(kinds) if kind == "factor"]
    r2_factors = None
    if factor_cols:
        only = model().fit(X[np.ix_(train_rows, factor_cols)], y[train_rows])
        r2_factors = float(r2_score(y[test_rows], only.predict(X[np.ix_(test_rows,
                                                                         factor_cols)])))
    null = np.full(len(test_rows), y[train_rows].mean())
    r2_null = float(r2_score(y[test_rows], null))
    return FeatureScores(
        outcome=outcome, features=list(names), kinds=list(kinds),
        permutation_mean=np.asarray(perm.importances_mean, np.float64),
        permutation_std=np.asarray(perm.importances_std, np.float64),
        impurity=np.asarray(full.feature_importances_, np.float64),
        r2_train=r2_train, r2_test=r2_test, r2_factors_only=r2_factors, r2_null=r2_null,
        rows=len(rows), train_rows=len(train_rows), test_rows=len(test_rows),
        systems=int(system.max()) + 1, points=len(y) // (int(system.max()) + 1),
        params={"max_rows": max_rows, "trees": trees, "repeats": repeats, "seed": seed,
                "min_samples_leaf": 5, "test_systems": f"index % {TEST_EVERY} == "
                f"{TEST_EVERY - 1}"})


def _to_dataset(s: FeatureScores):
    import xarray as xr

    meta = {k: v for k, v in s.as_dict().items() if k != "features"}
    meta["analyzer"] = "sklearn.ensemble.ExtraTreesRegressor + sklearn.inspection." \
        "permutation_importance"
    meta["analyzed"] = now()
    return xr.Dataset(
        {"permutation_mean": ("feature", s.permutation_mean,
                              {"long_name": "drop of the test R^2 when the feature is "
                                            "shuffled, mean over the shuffles"}),
         "permutation_std": ("feature", s.permutation_std,
                             {"long_name": "standard deviation of that drop"}),
         "impurity": ("feature", s.impurity,
                      {"long_name": "the trees' impurity importance (for comparison)"}),
         "kind": ("feature", np.array(s.kinds, dtype=object),
                  {"long_name": "system (an attribute) or factor (a swept factor)"})},
        coords={"feature": np.array(s.features, dtype=object)},
        attrs={"features": json.dumps(meta)})


def features_store(path, outcome: str = "alignment_change", *, write: bool = True,
                   **kwargs) -> FeatureScores:
    """:func:`score_features` on the reservoir of the store at ``path``; with ``write`` the
    result goes into the store's group ``features/<outcome>``."""
    from .common import replace_group

    max_rows, seed = kwargs.get("max_rows", 50_000), kwargs.get("seed", 0)
    _check_seed(seed)  # before reading anything
    X, y, system, names, kinds, ignored, (points, systems) = feature_table(
        path, outcome, max_rows=max_rows, seed=seed)
    s = score_features(X, y, system, names, kinds, outcome=outcome, **kwargs)
    s.ignored_factors = ignored
    s.points, s.systems = points, systems  # of the whole reservoir, not of the rows drawn
    if write:
        replace_group(Path(path), FEATURES_GROUP, outcome, _to_dataset(s))
    return s


def summary_text(s: FeatureScores) -> str:
    """The ranking as text, with the R^2 of the model, the factors-only model and the null."""
    from ..text import table

    lines = [f"{s.outcome}: {s.rows:,} rows ({s.points:,} points x {s.systems:,} kept systems"
             f"{', subsampled' if s.rows < s.points * s.systems else ''}); test = systems "
             f"{s.params['test_systems']} ({s.test_rows:,} rows)",
             f"test R^2: extra trees {s.r2_test:.3f} (train {s.r2_train:.3f}); swept factors "
             f"alone {'n/a' if s.r2_factors_only is None else f'{s.r2_factors_only:.3f}'}; "
             f"null (training mean) {s.r2_null:.3f}", ""]
    rows = [["feature", "kind", "permutation", "± std", "impurity"]]
    for k in s.ranking():
        rows.append([s.features[k], s.kinds[k], f"{s.permutation_mean[k]:.4f}",
                     f"{s.permutation_std[k]:.4f}", f"{s.impurity[k]:.3f}"])
    lines += table(rows, right={2, 3, 4})
    if s.ignored_factors:
        lines.append(f"factors left out (not numeric or constant): "
                     f"{', '.join(s.ignored_factors)}")
    return "\n".join(lines)
