"""Walt's three claims as a reproducible report (``mc-threat claims``).

(a) Before both world wars the coalition against Germany had much greater combined power
    (the shipped cases ``europe_1914`` and ``europe_1936``).
(b) In 1955 more states sided with the stronger United States than with the Soviet Union
    (``coldwar_1955``).
(c) After 1991 no counterbalancing coalition formed against the United States (the global
    system of 2004 built by :mod:`.data`; NMC v7.0 documents 2004, so it is not provisional;
    the provisional NMC years 2017-2022 are not shipped).

For each claim: what the record shows, what balance of threat and balance of power predict at
the defaults, over the *calibrated region* (the points of a Latin hypercube over the cases'
calibration factors whose mean accuracy over the three shipped cases is within
:data:`REGION_TOLERANCE` of the best), and under attribute uncertainty (the cases'
perturbations: CINC x U(0.8, 1.2), offense and intent +- 0.1, at the defaults).
"""

from __future__ import annotations

import numpy as np

REGION_TOLERANCE = 0.05
DEFAULT_POINTS = 4000
DEFAULT_DRAWS = 200
US, USSR, GERMANY, CHINA = 2, 365, 255, 710


def _blocs(case, rows, power=None, offense=None, intent=None):
    from ..cases import evaluate_points

    P, n = rows.shape[0], case.n
    o = [np.empty((P, n), dt) for dt in (np.int32, np.float64, np.int8, np.int32, np.int64)]
    b = [np.empty((P, n), dt) for dt in (np.int32, np.float64, np.int8, np.int32, np.int64)]
    c1, c2 = np.empty(P, np.int64), np.empty(P, np.int64)
    h = case.intent_matrix() if intent is None else intent
    evaluate_points(rows, case.power if power is None else power,
                     case.offense if offense is None else offense, np.ascontiguousarray(h),
                     case.distance, case.side_codes, len(case.sides), *o, c1, *b, c2)
    return o[3], b[3], c1


def _index(case, ccode):
    return list(case.ccode).index(ccode)


def _against_ratio(case, bloc, g):
    """Combined power of the coalition against state ``g`` over that of ``g``'s bloc."""
    n = case.n
    against = bloc == n + g
    own = bloc == bloc[g]
    return float(case.power[against].sum() / case.power[own].sum())


def _bloc_sizes(bloc, a, b):
    """(states in a's bloc, states in b's bloc) (the same bloc counts for both)."""
    return int((bloc == bloc[a]).sum()), int((bloc == bloc[b]).sum())


def _summ(values) -> dict:
    v = np.asarray(values, float)
    return {"median": float(np.median(v)), "q05": float(np.quantile(v, 0.05)),
            "q95": float(np.quantile(v, 0.95))}


def calibrated_region(points: int = DEFAULT_POINTS, seed: int = 1):
    """Design rows whose mean accuracy over the three shipped cases is within
    :data:`REGION_TOLERANCE` of the best (balance of threat, nominal attributes)."""
    from ..cases import load_case
    from .search import design_rows

    cases = [load_case(c) for c in ("europe_1914", "europe_1936", "coldwar_1955")]
    rows, _ = design_rows(cases[0].model, points, seed)
    acc = np.mean([_blocs(c, rows)[2] / c.n_scored for c in cases], axis=0)
    keep = acc >= acc.max() - REGION_TOLERANCE - 1e-12
    return rows[keep], float(acc.max()), int(keep.sum())


def _evaluate_claim(case, metric, holds, rows_region, draws, seed):
    """The metric and whether the claim holds: record, defaults (BoT and BoP), over the
    calibrated region and under attribute uncertainty."""
    from ..cases import perturbed_attributes
    from ..model.batch import params_vector

    row = params_vector(case.model)[None, :]
    bt, bp, _ = _blocs(case, row)
    rt, rp, _ = _blocs(case, rows_region)
    out = {"defaults": {"balance_of_threat": metric(bt[0]), "balance_of_power": metric(bp[0])}}
    out["defaults"]["holds"] = {"balance_of_threat": holds(metric(bt[0])),
                                "balance_of_power": holds(metric(bp[0]))}
    for name, bl in (("balance_of_threat", rt), ("balance_of_power", rp)):
        ms = [metric(b) for b in bl]
        out.setdefault("calibrated_region", {})[name] = {
            "share_holds": float(np.mean([holds(m) for m in ms])), "points": len(ms)}
    if draws:
        pw, of, it = perturbed_attributes(case, draws, seed)
        res = {"balance_of_threat": [], "balance_of_power": []}
        for d in range(draws):
            bt, bp, _ = _blocs(case, row, pw[d], of[d], it[d])
            res["balance_of_threat"].append(holds(metric(bt[0])))
            res["balance_of_power"].append(holds(metric(bp[0])))
        out["attribute_uncertainty"] = {k: {"share_holds": float(np.mean(v)), "draws": draws}
                                        for k, v in res.items()}
    return out


def run_claims(points: int = DEFAULT_POINTS, draws: int = DEFAULT_DRAWS,
               seed: int = 20260101) -> dict:
    """The report (see the module doc)."""
    from ..cases import load_case, make_case
    from .data import build_year

    region, best_acc, kept = calibrated_region(points)
    report = {"calibrated_region": {"points": points, "kept": kept, "best_mean_accuracy":
                                    best_acc, "tolerance": REGION_TOLERANCE},
              "draws": draws, "seed": seed}
    # (a) the coalition against Germany
    a = {}
    for name in ("europe_1914", "europe_1936"):
        case = load_case(name)
        g = _index(case, GERMANY)
        own = case.observed[g]
        obs_own = np.array([s == own for s in case.observed])
        obs_other = np.array([s is not None and s != own for s in case.observed])
        rec = float(case.power[obs_other].sum() / case.power[obs_own].sum())

        def metric(bloc, case=case, g=g):
            return _against_ratio(case, bloc, g)

        entry = {"record": {"power_ratio": rec, "holds": rec > 1.0},
                 **_evaluate_claim(case, metric, lambda r: r > 1.0, region, draws, seed)}
        a[name] = entry
    report["a_coalition_against_germany"] = {
        "claim": "before both world wars the coalition against Germany had much greater "
                 "combined power", "metric": "combined CINC of the coalition against Germany "
        "over that of Germany's bloc (record: the other side over Germany's side)", **a}
    # (b) 1955: more states with the stronger United States
    case = load_case("coldwar_1955")
    u, s = _index(case, US), _index(case, USSR)
    nato = sum(x == case.observed[u] for x in case.observed)
    warsaw = sum(x == case.observed[s] for x in case.observed)

    def metric_b(bloc):
        return _bloc_sizes(bloc, u, s)

    report["b_1955_sided_with_the_stronger"] = {
        "claim": "in 1955 more states sided with the stronger United States than with the "
                 "Soviet Union",
        "power": {"USA": float(case.power[u]), "USSR": float(case.power[s])},
        "metric": "(states in the US bloc, states in the Soviet bloc); holds when the first is "
                  "larger",
        "record": {"sizes": [nato, warsaw], "holds": nato > warsaw},
        **_evaluate_claim(case, metric_b, lambda m: m[0] > m[1] and m[0] != case.n, region,
                          draws, seed)}
    # (c) 2004: no counterbalancing coalition against the United States
    sysm = build_year(2004, "global")
    c = make_case(sysm.abbs, sysm.power, sysm.lat, sysm.lon, sysm.offense, sysm.intent,
                  ["all"] * sysm.n, name="global_2004", model=case.model)
    c = type(c)(**{**c.__dict__, "ccode": tuple(int(x) for x in sysm.ccodes)})
    us = _index(c, US)
    al = sysm.allied
    with_us = al[us].copy()
    with_us[us] = True
    rivals = [_index(c, x) for x in (USSR, CHINA)]
    against = np.zeros(c.n, bool)
    for r in rivals:
        against |= al[r]
        against[r] = True
    against &= ~with_us

    def metric_c(bloc):
        n = c.n
        coal = bloc == n + us
        return {"states_against_us": int(coal.sum()),
                "power_ratio": float(c.power[coal].sum() / c.power[bloc == bloc[us]].sum())}

    report["c_2004_no_counterbalancing"] = {
        "claim": "after 1991 no counterbalancing coalition formed against the United States",
        "year": 2004, "provisional": False, "states": c.n,
        "metric": "the coalition against the US bloc: its states and its combined CINC over "
                  "that of the US bloc; holds when the ratio is below 1",
        "record": {"allied_with_us": int(with_us.sum()),
                   "power_allied_with_us": float(c.power[with_us].sum()),
                   "allied_with_russia_or_china_not_us": int(against.sum()),
                   "power_allied_with_russia_or_china_not_us": float(c.power[against].sum()),
                   "holds": bool(c.power[against].sum() < c.power[with_us].sum())},
        **_evaluate_claim(c, metric_c, lambda m: m["power_ratio"] < 1.0, region, draws, seed)}
    return report
