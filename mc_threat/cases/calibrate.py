"""Calibrating a case: its accuracy over a sweep of model parameters, with attribute
uncertainty (perturbed draws of power, offense and intent), written to a zarr calibration
store (``mc-threat case NAME --calibrate --out DIR``) and summarised."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import (
    ConfigError,
    ModelParams,
    config_from_dict,
)
from ..kernels.cases import (
    evaluate_draws,
    evaluate_points,
)
from ..kernels.threat import P_WA, P_WD, P_WI, P_WO
from ..model.batch import params_vector
from ..store import check_new_store, coord_values
from .case import Case
from .evaluate import params_dict
from .nulls import SEARCH_NULL_PERMUTATIONS, majority_null, permutation_null, search_null
from .spec import CHOICE_NAMES, CRITERIA, DEFAULT_SWEEP, NO_SIDE, STATS, check_calibration_sweep


def resolve_design(model: ModelParams, sweep: Mapping, prefix: str = "calibrate."):
    """The points of a calibration design, as (names, values (P, F) object, configs, kind,
    problem, dropped). Grid points whose four weights are all 0 are dropped (they have no
    threat), and counted in ``dropped``."""
    import itertools

    from ..design import design_points

    check_calibration_sweep(model, sweep, prefix)
    factors = sweep.get("factors")
    base_model = model.model_dump(mode="python")
    kind = sweep.get("design")
    sweep_d = dict(sweep)
    dropped = 0
    if kind == "grid" and isinstance(factors, Mapping) and all(
            isinstance(v, list) and v for v in factors.values()):
        names = list(factors)
        points = []
        for row in itertools.product(*(factors[k] for k in names)):
            pt = dict(zip(names, row, strict=True))
            w = [pt.get(f"model.weights.{c}", base_model["weights"][c]) for c in CRITERIA]
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in w) and \
                    sum(w) == 0:
                dropped += 1
                continue
            points.append(pt)
        if not points:
            raise ConfigError(f"{prefix}sweep: every grid point has all four weights 0")
        sweep_d = {"design": "points", "points": points}
    try:
        cfg = config_from_dict({"model": base_model, "sweep": sweep_d})
        design = design_points(cfg)
    except ConfigError as exc:
        raise ConfigError([f"{prefix}{line}" for line in exc.errors]) from None
    return design.factors, design.values, design.configs, kind, design.problem, dropped


def perturbed_attributes(case: Case, draws: int, seed: int, uncertainty=None):
    """``draws`` perturbed copies of the case's power, offense and intent.

    Each attribute has its own stream (``SeedSequence(seed).spawn(3)``, PCG64), filled draw
    by draw, so the first ``m`` draws are the same for any ``draws >= m``.
    Power ``p U(1 - b, 1 + b)``; offense and intent ``U(max(0, x - b), min(1, x + b))`` per
    value (a dyadic intent per ordered pair; the diagonal stays 0).
    Returns ``power (D, n), offense (D, n), intent (D, 1, n) or (D, n, n)``.
    """
    u = uncertainty or case.uncertainty
    ss = np.random.SeedSequence(seed)
    g_pow, g_off, g_int = (np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(3))
    n = case.n
    base_h = case.intent_matrix()
    power = np.empty((draws, n))
    offense = np.empty((draws, n))
    intent = np.empty((draws, *base_h.shape))
    lo_o = np.maximum(0.0, case.offense - u.offense)
    hi_o = np.minimum(1.0, case.offense + u.offense)
    lo_h = np.maximum(0.0, base_h - u.intent)
    hi_h = np.minimum(1.0, base_h + u.intent)
    for d in range(draws):
        power[d] = case.power * (1.0 + u.power * (2.0 * g_pow.random(n) - 1.0))
        offense[d] = lo_o + (hi_o - lo_o) * g_off.random(n)
        intent[d] = lo_h + (hi_h - lo_h) * g_int.random(base_h.shape)
        if case.dyadic:
            np.fill_diagonal(intent[d], 0.0)
    return power, offense, intent


@dataclass
class Calibration:
    """The results of a calibration: the dataset (also in the store) and its summary."""

    dataset: Any
    summary: dict
    path: Path | None


def _stats(x: np.ndarray) -> np.ndarray:
    """(P, D) -> (P, 6): mean, std (ddof 1, 0 for one draw), sem, count, min, max."""
    P, D = x.shape
    out = np.full((P, len(STATS)), np.nan)
    if D == 0:
        out[:, 3] = 0
        return out
    mean = x.mean(axis=1)
    std = x.std(axis=1, ddof=1) if D > 1 else np.zeros(P)
    out[:, 0] = mean
    out[:, 1] = std
    out[:, 2] = std / math.sqrt(D)
    out[:, 3] = D
    out[:, 4] = x.min(axis=1)
    out[:, 5] = x.max(axis=1)
    return out


def calibrate_case(case: Case, out=None, *, sweep: Mapping | None = None,
                   draws: int | None = None, seed: int | None = None,
                   overwrite: bool = False, progress: bool = False,
                   chunk: int = 64, threads: int | None = None,
                   null_permutations: int | None = None) -> Calibration:
    """Sweep the model parameters over a case, with attribute uncertainty.

    Parameters
    ----------
    case : Case
    out : path of the zarr store to write (None: no store)
    sweep : a sweep design over ``model.*`` factors (default ``case.calibrate.sweep``, else
        :data:`DEFAULT_SWEEP`)
    draws, seed : perturbed attribute draws per point and their seed (defaults from the case)
    overwrite : replace an existing store
    progress : show a progress bar
    chunk, threads : points per task and threads (default: the CPUs this process may use);
        results do not depend on either
    null_permutations : permuted observations of the search's permutation test (default
        :data:`SEARCH_NULL_PERMUTATIONS`; 0 skips it)

    Every point sees the same perturbed draws (common random numbers). See docs/cases.md for
    the stored variables and how the best point and its robustness are defined.
    """

    cal = case.calibrate
    draws = cal.draws if draws is None else draws
    seed = cal.seed if seed is None else seed
    if draws < 0:
        raise ConfigError(f"draws: must be >= 0, got {draws}")
    if out is not None:
        out = Path(out)
        _check_out(out, overwrite)  # before the work: refuse early
    sweep = sweep if sweep is not None else (cal.sweep if cal.sweep is not None
                                             else DEFAULT_SWEEP)
    names, values, configs, kind, problem, dropped = resolve_design(case.model, sweep)
    params = np.stack([params_vector(c.model) for c in configs])
    P, n, k = params.shape[0], case.n, len(case.sides)
    started = time.time()
    from ..store import now, versions

    t_start = now()
    side = case.side_codes
    intent0 = np.ascontiguousarray(case.intent_matrix())
    dist = case.distance
    nominal = {name: np.empty((P, n), dt) for name, dt in (
        ("target", np.int32), ("theta", np.float64), ("choice", np.int8), ("bloc", np.int32),
        ("pred", np.int64), ("bop_target", np.int32), ("bop_theta", np.float64),
        ("bop_choice", np.int8), ("bop_bloc", np.int32), ("bop_pred", np.int64))}
    correct = np.empty(P, np.int64)
    bop_correct = np.empty(P, np.int64)
    evaluate_points(params, case.power, case.offense, intent0, dist, side, k,
                     nominal["target"], nominal["theta"], nominal["choice"], nominal["bloc"],
                     nominal["pred"], correct, nominal["bop_target"], nominal["bop_theta"],
                     nominal["bop_choice"], nominal["bop_bloc"], nominal["bop_pred"],
                     bop_correct)
    pw, of, it = perturbed_attributes(case, draws, seed)
    c_draws = np.zeros((P, draws), np.int64)
    b_draws = np.zeros((P, draws), np.int64)
    side_count = np.zeros((P, n, k + 1), np.int64)
    bop_side_count = np.zeros((P, n, k + 1), np.int64)
    choice_count = np.zeros((P, n, 3), np.int64)
    if draws:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=P, unit="point", desc=f"calibrating {case.name}")
        from concurrent.futures import ThreadPoolExecutor

        def work(lo):
            hi = min(P, lo + chunk)
            evaluate_draws(params[lo:hi], pw, of, it, dist, side, k, c_draws[lo:hi],
                            b_draws[lo:hi], side_count[lo:hi], bop_side_count[lo:hi],
                            choice_count[lo:hi])
            return hi - lo

        # The kernel releases the GIL: threads over disjoint blocks of points.
        with ThreadPoolExecutor(max_workers=threads or _default_threads()) as pool:
            for done in pool.map(work, range(0, P, chunk)):
                if bar is not None:
                    bar.update(done)
        if bar is not None:
            bar.close()
    ds = _dataset(case, names, values, configs, params, nominal, correct, bop_correct,
                  c_draws, b_draws, side_count, bop_side_count, choice_count, draws, seed,
                  kind, problem, dropped)
    summary = summarize_calibration(ds, case)
    b = summary["best"]["point"]
    summary["null_models"] = {
        "majority": majority_null(case),
        "permutation_at_best": permutation_null(case, nominal["bloc"][b],
                                                int(correct[b]), seed=seed),
        "search": search_null(case, nominal["bloc"], int(correct[b]),
                              SEARCH_NULL_PERMUTATIONS if null_permutations is None
                              else null_permutations, seed=seed),
    }
    seconds = time.time() - started
    summary["seconds"] = seconds
    ds.attrs.update({"started": t_start, "finished": now(), "seconds": seconds,
                     "versions": json.dumps(versions()),
                     "summary": json.dumps(summary, default=_json_default)})
    if out is not None:
        _write_store(ds, out, overwrite)
        summary["store"] = os.fspath(out)
    return Calibration(ds, summary, out)


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _dataset(case, names, values, configs, params, nominal, correct, bop_correct, c_draws,
             b_draws, side_count, bop_side_count, choice_count, draws, seed, kind, problem,
             dropped):
    import xarray as xr

    P, n, k = params.shape[0], case.n, len(case.sides)
    m = case.n_scored
    side_labels = np.array([*case.sides, NO_SIDE], dtype=object)
    coords = {
        "point": np.arange(P),
        "state": np.array(case.abb, dtype=object),
        "side": side_labels,
        "stat": np.array(STATS, dtype=object),
        "choice": np.array(CHOICE_NAMES, dtype=object),
        "criterion": np.array(CRITERIA, dtype=object),
        "draw": np.arange(draws),
        "state_name": ("state", np.array(case.names, dtype=object)),
        "ccode": ("state", np.array([-1 if c is None else c for c in case.ccode])),
        "observed": ("state", np.array([s or "" for s in case.observed], dtype=object)),
        "power_value": ("state", case.power),
        "offense_value": ("state", case.offense),
    }
    for j, name in enumerate(names):
        coords[name] = ("point", coord_values(values[:, j]))
    w = params[:, [P_WA, P_WD, P_WO, P_WI]]
    shares = w / w.sum(axis=1, keepdims=True)
    denom = max(draws, 1)

    def probs(counts, nominal_pred):
        if draws:
            return counts / denom
        one = np.zeros((P, n, k + 1))
        idx = np.where(nominal_pred < 0, k, nominal_pred)
        np.put_along_axis(one, idx[:, :, None], 1.0, axis=2)
        return one

    choice_p = choice_count / denom if draws else np.eye(3)[nominal["choice"]]

    def var(dims, data, long_name, units):
        return xr.Variable(dims, data, attrs={"long_name": long_name, "units": units})

    data_vars = {
        "weight_share": var(("point", "criterion"), shares, "criterion weight over W = sum "
                            "of the weights", "1"),
        "accuracy": var("point", correct / m, "share of scored states on the correct side "
                        "(nominal attributes, balance of threat)", "fraction of scored states"),
        "correct": var("point", correct, "scored states on the correct side (nominal, balance "
                       "of threat)", "states"),
        "bop_accuracy": var("point", bop_correct / m, "accuracy of balance of power (nominal "
                            "attributes, same bandwagon_ratio/viability/neutral_below)",
                            "fraction of scored states"),
        "bop_correct": var("point", bop_correct, "scored states on the correct side (nominal, "
                           "balance of power)", "states"),
        "accuracy_mc": var(("point", "stat"), _stats(c_draws / m), "accuracy over the "
                           "perturbed attribute draws (balance of threat)",
                           "fraction of scored states"),
        "bop_accuracy_mc": var(("point", "stat"), _stats(b_draws / m), "accuracy over the "
                               "perturbed attribute draws (balance of power)",
                               "fraction of scored states"),
        "correct_draws": var(("point", "draw"), c_draws.astype(np.int16), "correct states in "
                             "each perturbed draw (balance of threat)", "states"),
        "bop_correct_draws": var(("point", "draw"), b_draws.astype(np.int16), "correct states "
                                 "in each perturbed draw (balance of power)", "states"),
        "side_probability": var(("point", "state", "side"), probs(side_count, nominal["pred"]),
                                "share of draws in which the state ends on each side (balance "
                                "of threat; 'none': its bloc matched no side)", "probability"),
        "bop_side_probability": var(("point", "state", "side"),
                                    probs(bop_side_count, nominal["bop_pred"]),
                                    "the same under balance of power", "probability"),
        "choice_probability": var(("point", "state", "choice"), choice_p, "share of draws "
                                  "with each final choice (balance of threat)", "probability"),
        "target": var(("point", "state"), nominal["target"], "principal threat (state index, "
                      "nominal attributes)", "index"),
        "final_choice": var(("point", "state"), nominal["choice"], "final choice, 0 balance 1 "
                      "bandwagon 2 neutral (nominal)", "code"),
        "bloc": var(("point", "state"), nominal["bloc"], "bloc label (n + t: coalition "
                    "against t; r: neutral root r), nominal", "label"),
        "predicted_side": var(("point", "state"), nominal["pred"], "index of the matched side "
                              "(-1 none), nominal", "index"),
        "bop_target": var(("point", "state"), nominal["bop_target"], "principal threat under "
                          "balance of power, nominal", "index"),
        "bop_final_choice": var(("point", "state"), nominal["bop_choice"], "final choice under "
                          "balance of power, nominal", "code"),
        "bop_bloc": var(("point", "state"), nominal["bop_bloc"], "bloc under balance of power, "
                        "nominal", "label"),
        "bop_predicted_side": var(("point", "state"), nominal["bop_pred"], "matched side under "
                                  "balance of power (-1 none), nominal", "index"),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    u = case.uncertainty
    ds.attrs.update({
        "title": f"mc-threat case calibration: {case.title}",
        "case": case.name,
        "case_title": case.title,
        "case_year": -1 if case.year is None else case.year,
        "case_yaml": case.text,
        "case_fingerprint": case.fingerprint(),
        "coding": case.coding,
        "n_scored": m,
        "sources": json.dumps(list(case.sources)),
        "draws": draws,
        "seed": seed,
        "uncertainty": json.dumps(u.model_dump()),
        "design": kind or "",
        "factors": list(names),
        "grid_points_dropped": dropped,
        "salib_problem": json.dumps(problem) if problem else "",
        "base_model": json.dumps(params_dict(case.model)),
    })
    return ds


def _write_store(ds, out: Path, overwrite: bool) -> None:
    """Write the calibration store under the shared rule: ``--overwrite`` replaces only an
    mc-threat store or an empty directory (:func:`mc_threat.store.check_new_store`)."""
    from ..store import remove_store

    _check_out(out, overwrite)
    if out.exists() or out.is_symlink():
        remove_store(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(out, mode="w-", zarr_format=3, consolidated=True)


def _check_out(out: Path, overwrite: bool) -> None:
    from ..store import StoreError

    if (out.exists() or out.is_symlink()) and not overwrite:
        raise StoreError(f"{out}: already exists; use --overwrite to replace it")
    check_new_store(out, overwrite=True)  # replaces only an mc-threat store or empty dir


def open_calibration(path):
    """Open a calibration store as an ``xarray.Dataset``."""
    import xarray as xr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(path, consolidated=None)


def _factor_ranges(ds, mask) -> dict:
    out = {}
    for f in ds.attrs["factors"]:
        v = ds[f].values[mask]
        if v.dtype.kind in "fi":
            out[f] = [float(v.min()), float(v.max())]
        else:
            out[f] = sorted({str(x) for x in v})
    ws = ds["weight_share"].values[mask]
    for j, c in enumerate(CRITERIA):
        out[f"weight_share.{c}"] = [float(ws[:, j].min()), float(ws[:, j].max())]
    return out


def summarize_calibration(ds, case: Case) -> dict:
    """The best point, its robustness and the balance-of-power score (docs/cases.md).

    Best: the highest nominal accuracy; ties go to the higher mean accuracy over the
    perturbed draws, then to the lower point index.
    """
    m = int(ds.attrs["n_scored"])
    draws = int(ds.attrs["draws"])
    corr = ds["correct"].values
    mc = ds["accuracy_mc"].values
    mc_mean = np.nan_to_num(mc[:, 0], nan=-1.0)
    order = np.lexsort((np.arange(corr.size), -mc_mean, -corr))
    b = int(order[0])
    best_c = int(corr[b])
    at_best = corr == best_c
    within_one = corr >= best_c - 1
    bop = ds["bop_correct"].values
    P = corr.size
    w = ds["weight_share"].values[b]
    cfg_model = json.loads(ds.attrs["base_model"])
    prm = dict(cfg_model)
    prm["weights"] = dict(cfg_model["weights"])
    for f in ds.attrs["factors"]:
        v = ds[f].values[b]
        v = v.item() if hasattr(v, "item") else v
        keys = f.split(".")[1:]
        d = prm
        for key in keys[:-1]:
            d = d[key]
        d[keys[-1]] = v
    states = []
    sp = ds["side_probability"].values[b]
    bsp = ds["bop_side_probability"].values[b]
    labels = [str(s) for s in ds["side"].values]
    for i, abb in enumerate(case.abb):
        pred = int(ds["predicted_side"].values[b, i])
        bpred = int(ds["bop_predicted_side"].values[b, i])
        obs = case.observed[i]
        states.append({
            "abb": abb, "observed": obs,
            "predicted": None if pred < 0 else case.sides[pred],
            "bop_predicted": None if bpred < 0 else case.sides[bpred],
            "p_observed": None if obs is None else float(sp[i, case.sides.index(obs)]),
            "side_probability": {labels[s]: float(sp[i, s]) for s in range(len(labels))},
            "bop_side_probability": {labels[s]: float(bsp[i, s]) for s in range(len(labels))},
        })
    cd = ds["correct_draws"].values[b] if draws else np.empty(0)
    mc_b = mc[b]
    summary = {
        "case": case.name,
        "coding": case.coding,
        "points": int(P),
        "draws": draws,
        "seed": int(ds.attrs["seed"]),
        "design": ds.attrs["design"],
        "factors": list(ds.attrs["factors"]),
        "n_scored": m,
        "uncertainty": json.loads(ds.attrs["uncertainty"]),
        "best": {
            "point": b,
            "params": prm,
            "weight_shares": {c: float(w[j]) for j, c in enumerate(CRITERIA)},
            "correct": best_c,
            "accuracy": best_c / m,
            "accuracy_mc": None if not draws else {
                s: float(mc_b[j]) for j, s in enumerate(STATS)},
            "share_draws_at_best": None if not draws else float((cd >= best_c).mean()),
            "states": states,
        },
        "robustness": {
            "points_at_best": int(at_best.sum()),
            "share_at_best": float(at_best.mean()),
            "ranges_at_best": _factor_ranges(ds, at_best),
            "points_within_one": int(within_one.sum()),
            "share_within_one": float(within_one.mean()),
            "ranges_within_one": _factor_ranges(ds, within_one),
        },
        "balance_of_power": {
            "at_best": {"correct": int(bop[b]), "accuracy": int(bop[b]) / m,
                        "accuracy_mc_mean": None if not draws else
                        float(ds["bop_accuracy_mc"].values[b, 0])},
            "best_over_sweep": {"correct": int(bop.max()), "accuracy": int(bop.max()) / m,
                                "point": int(np.argmax(bop))},
            "share_points_threat_better": float((corr > bop).mean()),
            "share_points_power_better": float((corr < bop).mean()),
        },
    }
    return summary
