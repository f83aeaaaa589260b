"""The outputs of ``mc-threat history``: the text table and the zarr store.

Store layout (one zarr v3 directory, read with ``xarray.open_zarr``)::

    year                 the scored years
    n_states, pairs, allied_pairs                          (year,)
    bot_tp, bot_fp, bot_fn, bot_tn, bot_accuracy, bot_mcc  (year,) balance of threat
    bop_...                                                (year,) balance of power
    no_alliances_accuracy                                  (year,)
    bot_perm_mean_accuracy, bot_perm_p, bop_perm_...       (year,) permutation null
    entry                state-years, in year order and increasing COW code within a year
    entry_year, ccode, power, offense, bot_bloc, bop_bloc  (entry,)
    allied_pair          observed allied pairs: allied_year, allied_ccode1, allied_ccode2
    attrs                region, period, intent, params, seed, permutations, summary,
                         out_of_sample, intent_comparison and neutrals (JSON, the last two
                         when asked for), sources, config_hash, versions, created

The store obeys the shared rule (``mc_threat.store.check_new_store``): an existing path is
replaced only with ``overwrite`` and only if it is an mc-threat store or an empty directory.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from ..text import table
from .panel import PASSES, History

SHORT = {"balance_of_threat": "bot", "balance_of_power": "bop"}


def dataset(h: History):
    """The store's contents as an ``xarray.Dataset``."""
    import xarray as xr

    from ..store import now, versions

    r = h.result
    ent = r["years_detail"]
    yv = {"n_states": [len(e["ccodes"]) for e in ent],
          "allied_pairs": [len(e["observed_allied_pairs"]) for e in ent]}
    yv["pairs"] = [n * (n - 1) // 2 for n in yv["n_states"]]
    for name in PASSES:
        s = SHORT[name]
        for k in ("tp", "fp", "fn", "tn"):
            yv[f"{s}_{k}"] = [e[name][k] for e in ent]
        yv[f"{s}_accuracy"] = [e[name]["dyadic_accuracy"] for e in ent]
        yv[f"{s}_mcc"] = [e[name]["mcc"] for e in ent]
        perm = [e["baselines"]["permutation"][name] for e in ent]
        yv[f"{s}_perm_mean_accuracy"] = [np.nan if p["mean_accuracy"] is None
                                         else p["mean_accuracy"] for p in perm]
        yv[f"{s}_perm_p"] = [np.nan if p["p_value"] is None else p["p_value"] for p in perm]
    yv["no_alliances_accuracy"] = [e["baselines"]["no_alliances"]["dyadic_accuracy"]
                                   for e in ent]
    data = {k: ("year", np.asarray(v)) for k, v in yv.items()}
    ey, cc, pw, of, bb, pb = [], [], [], [], [], []
    for e, s in zip(ent, h.systems, strict=True):
        ey += [e["year"]] * len(e["ccodes"])
        cc += e["ccodes"]
        pw += list(s.power)
        of += list(s.offense)
        bb += e["balance_of_threat"]["bloc"]
        pb += e["balance_of_power"]["bloc"]
    data.update({"entry_year": ("entry", np.asarray(ey, np.int64)),
                 "ccode": ("entry", np.asarray(cc, np.int64)),
                 "power": ("entry", np.asarray(pw, float)),
                 "offense": ("entry", np.asarray(of, float)),
                 "bot_bloc": ("entry", np.asarray(bb, np.int64)),
                 "bop_bloc": ("entry", np.asarray(pb, np.int64))})
    ap = [(e["year"], a, b) for e in ent for a, b in e["observed_allied_pairs"]]
    ap_arr = np.asarray(ap, np.int64).reshape(-1, 3)
    data.update({"allied_year": ("allied_pair", ap_arr[:, 0]),
                 "allied_ccode1": ("allied_pair", ap_arr[:, 1]),
                 "allied_ccode2": ("allied_pair", ap_arr[:, 2])})
    ds = xr.Dataset(data, coords={"year": np.asarray([e["year"] for e in ent], np.int64)})
    ds.attrs.update({
        "title": f"mc-threat history: {r['region']} {r['years'][0]}-{r['years'][1]}",
        "kind": "history",
        "region": r["region"], "period": list(r["years"]), "intent": r["intent"],
        "params": json.dumps(r["params"]), "seed": r["seed"],
        "permutations": r["permutations"], "skipped_years": list(r["skipped_years"]),
        "summary": json.dumps(r["summary"]),
        "out_of_sample": json.dumps(r.get("out_of_sample")),
        "sources": json.dumps(r["sources"]),
        "bloc_labels": "within a year of n states (ccodes increasing): n + t is the coalition "
                       "against the t-th state, r < n the neutral root r",
        **{k: json.dumps(r[k]) for k in ("intent_comparison", "neutrals") if k in r},
        "config_hash": h.config_hash(),
        "versions": json.dumps(versions()), "created": now(),
    })
    return ds


def write_store(h: History, out, overwrite: bool = False) -> Path:
    """Write the store at ``out`` (see the module doc for the overwrite rule)."""
    from ..store import check_new_store, remove_store

    out = Path(out)
    check_new_store(out, overwrite=overwrite)
    ds = dataset(h)
    staging = out.with_name(f".{out.name}.creating")
    if staging.exists() or staging.is_symlink():
        remove_store(staging)  # left by a run killed while writing this store
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(staging, mode="w-", zarr_format=3, consolidated=True)
    if out.exists() or out.is_symlink():
        remove_store(out)
    os.rename(staging, out)
    return out


def _f(x, nd=3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _p(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_table(h: History, per_year: bool = True) -> str:
    """The text report: one line per year, then the panel."""
    r = h.result
    lines = [f"history {r['region']} {r['years'][0]}-{r['years'][1]}, intent {r['intent']}, "
             f"{r['permutations']} permutations (seed {r['seed']})",
             "dyadic scores: a pair is observed allied when an ATOP defense or offense pledge "
             "is in force; predicted allied when in the same bloc", ""]
    if per_year:
        rows = [["year", "n", "pairs", "allied", "BoT acc", "BoT mcc", "p", "BoP acc",
                 "BoP mcc", "p", "no-all acc", "perm acc"]]
        for e in r["years_detail"]:
            n = len(e["ccodes"])
            pr = e["baselines"]["permutation"]
            rows.append([str(e["year"]), str(n), str(n * (n - 1) // 2),
                         str(len(e["observed_allied_pairs"])),
                         _f(e["balance_of_threat"]["dyadic_accuracy"]),
                         _f(e["balance_of_threat"]["mcc"]),
                         _p(pr["balance_of_threat"]["p_value"]),
                         _f(e["balance_of_power"]["dyadic_accuracy"]),
                         _f(e["balance_of_power"]["mcc"]),
                         _p(pr["balance_of_power"]["p_value"]),
                         _f(e["baselines"]["no_alliances"]["dyadic_accuracy"]),
                         _f(pr["balance_of_threat"]["mean_accuracy"])])

        lines += table(rows, right=set(range(1, 12)))
        lines.append("")
    lines += summary_lines(r)
    if r.get("skipped_years"):
        lines.append(f"years with fewer than 2 states (not scored): {len(r['skipped_years'])}")
    return "\n".join(lines)


def summary_lines(r: dict) -> list[str]:
    s = r["summary"]
    if not s.get("years_scored"):
        return ["panel: no year with two or more states"]
    b = s["baselines"]
    out = [f"panel: {s['years_scored']} years, {s['pairs']} pair-years, {s['allied_pairs']} "
           f"allied ({100 * s['allied_pairs'] / s['pairs']:.1f} %)"]
    for name, label in (("balance_of_threat", "balance of threat"),
                        ("balance_of_power", "balance of power")):
        c, p = s[name], b["permutation"][name]
        out.append(f"  {label:18s} accuracy {_f(c['dyadic_accuracy'])}  mcc "
                   f"{_f(c['mcc'])}   permutation null: accuracy {_f(p['mean_accuracy'])}, "
                   f"mcc {_f(p['mean_mcc'])}, p = {_p(p['p_value'])}")
    out.append(f"  {'no alliances':18s} accuracy {_f(b['no_alliances']['dyadic_accuracy'])}  "
               "mcc 0.000")
    for key, label in (("majority", "majority"), ("majority_by_year", "majority (by year)")):
        if key in b:
            out.append(f"  {label:18s} accuracy {_f(b[key]['dyadic_accuracy'])}  mcc "
                       f"{_f(b[key]['mcc'])}")
    return out


def oos_lines(o: dict | None) -> list[str]:
    """Text of the out-of-sample section."""
    if not o:
        return []
    out = [""]
    if "skipped" in o:
        out.append(f"out of sample: skipped ({o['skipped']})")
    elif "best_point" in o:
        t = o["out_of_sample"]
        sn = o["search_null"]
        out += [
            f"out of sample: {o['points']} LHS points, chosen by {o['criterion']} on "
            f"{o['train'][0]}-{o['train'][1]}, scored on {o['test'][0]}-{o['test'][1]}",
            f"  in sample (train) best mcc {_f(o['in_sample']['train_mcc'])} (median over "
            f"points {_f(o['in_sample']['train_median_mcc_over_points'])}); the same search "
            f"against {sn.get('permutations', 0)} permuted observations: best mcc median "
            f"{_f(sn.get('null_best_mcc_median'))}, 95th percentile "
            f"{_f(sn.get('null_best_mcc_q95'))}, p = {_p(sn.get('p_value'))}",
            f"  test: balance of threat accuracy {_f(t['dyadic_accuracy'])} mcc {_f(t['mcc'])}"
            f"; balance of power {_f(t['balance_of_power']['dyadic_accuracy'])} / "
            f"{_f(t['balance_of_power']['mcc'])}; defaults {_f(t['defaults']['dyadic_accuracy'])}"
            f" / {_f(t['defaults']['mcc'])}",
            f"  test nulls: no alliances accuracy {_f(t['no_alliances']['dyadic_accuracy'])}; "
            f"permutation accuracy {_f(t['permutation']['mean_accuracy'])} mcc "
            f"{_f(t['permutation']['mean_mcc'])}, p = {_p(t['permutation']['p_value'])}",
        ]
    lo = o.get("leave_one_case_out")
    if lo:
        out.append(f"leave one case out ({lo['points']} LHS points, mean accuracy on the other "
                   "two cases):")
        for name, v in lo["held_out"].items():
            out.append(f"  {name}: held out {_f(v['held_out_accuracy'])} (balance of power "
                       f"{_f(v['held_out_bop_accuracy'])}); in-sample best "
                       f"{_f(v['held_out_in_sample_best'])}, defaults "
                       f"{_f(v['held_out_defaults'])}, majority null {_f(v['majority_null'])}")
    return out


def intent_lines(c: dict) -> list[str]:
    """Text of the intent-source comparison."""

    out = ["", f"intent sources compared ({c['region']} {c['years'][0]}-{c['years'][1]}, "
           "balance of threat)"]
    rows = [["source", "accuracy", "mcc", "perm mcc", "p", "test acc", "test mcc", "test p"]]
    for k, v in c["sources"].items():
        rows.append([k, _f(v["dyadic_accuracy"]), _f(v["mcc"]), _f(v["permutation_mean_mcc"]),
                     _p(v["permutation_p"]), _f(v.get("test_accuracy")),
                     _f(v.get("test_mcc")), _p(v.get("test_permutation_p"))])
    out += table(rows, right=set(range(1, 8)))
    f = c.get("favoured")
    if f:
        out.append(f"favoured in the panel: {f['source']} (mcc {f['mcc_margin']:+.3f} over "
                   f"{f['runner_up']}; higher in {f['years_higher']} years, lower in "
                   f"{f['years_lower']}, equal in {f['years_equal']})")
    g = c.get("favoured_out_of_sample")
    if g:
        out.append(f"favoured out of sample: {g['source']} (test mcc {g['test_mcc_margin']:+.3f}"
                   f" over {g['runner_up']})")
    return out


def _fmt_metric(m) -> str:
    if isinstance(m, dict):
        return f"{m['states_against_us']} states, power ratio {m['power_ratio']:.2f}"
    if isinstance(m, (list, tuple)):
        return f"{m[0]} vs {m[1]} states"
    return f"power ratio {m:.2f}"


def _claim_rows(label: str, e: dict) -> list[str]:
    d = e["defaults"]
    out = [f"  {label}"]
    rec = e["record"]
    if "power_ratio" in rec:
        out.append(f"    record: power ratio {rec['power_ratio']:.2f} -> "
                   f"{'holds' if rec['holds'] else 'does not hold'}")
    elif "sizes" in rec:
        out.append(f"    record: {rec['sizes'][0]} vs {rec['sizes'][1]} states -> "
                   f"{'holds' if rec['holds'] else 'does not hold'}")
    else:
        out.append(f"    record (ATOP defense/offense): {rec['allied_with_us']} states allied "
                   f"with the US (CINC {rec['power_allied_with_us']:.3f}) vs "
                   f"{rec['allied_with_russia_or_china_not_us']} allied with Russia or China "
                   f"and not the US (CINC {rec['power_allied_with_russia_or_china_not_us']:.3f})"
                   f" -> {'holds' if rec['holds'] else 'does not hold'}")
    for k, name in (("balance_of_threat", "balance of threat"),
                    ("balance_of_power", "balance of power")):
        r = e["calibrated_region"][k]
        u = e.get("attribute_uncertainty", {}).get(k)
        out.append(f"    {name}: defaults {_fmt_metric(d[k])} -> "
                   f"{'holds' if d['holds'][k] else 'does not hold'}; holds at "
                   f"{100 * r['share_holds']:.0f} % of the {r['points']} calibrated points"
                   + (f", in {100 * u['share_holds']:.0f} % of {u['draws']} perturbed draws"
                      if u else ""))
    return out


def claims_lines(r: dict) -> list[str]:
    """Text of ``mc-threat claims``."""
    cr = r["calibrated_region"]
    out = [f"Walt's claims (calibrated region: {cr['kept']} of {cr['points']} LHS points with "
           f"mean accuracy over the three cases within {cr['tolerance']} of the best, "
           f"{cr['best_mean_accuracy']:.3f}; {r['draws']} perturbed draws, seed {r['seed']})"]
    a = r["a_coalition_against_germany"]
    out += ["", f"(a) {a['claim']}", f"    metric: {a['metric']}"]
    for name in ("europe_1914", "europe_1936"):
        out += _claim_rows(name, a[name])
    b = r["b_1955_sided_with_the_stronger"]
    out += ["", f"(b) {b['claim']} (CINC USA {b['power']['USA']:.3f}, USSR "
            f"{b['power']['USSR']:.3f})", f"    metric: {b['metric']}"]
    out += _claim_rows("coldwar_1955", b)
    c = r["c_2004_no_counterbalancing"]
    out += ["", f"(c) {c['claim']}", f"    metric: {c['metric']}"]
    out += _claim_rows(f"global {c['year']} ({c['states']} states; NMC v7.0 documents 2004, "
                       "not provisional)", c)
    return out
