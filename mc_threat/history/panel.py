"""Every system-year of a region and period, predicted and scored (``mc-threat history``).

:func:`predict` evaluates a :class:`~.data.YearSystem` under rows of model parameters with
the case kernels (``mc_threat.cases.evaluate_points``: CINC, great-circle proximity, the
engine's threat, choice and bloc code), giving the blocs of balance of threat and of balance
of power (the same procedure with weights (1, 0, 0, 0), docs/model.md decision 1).
:func:`run_history` scores them year by year against the observed ATOP alliances beside the
null models of :mod:`.score`, pools the panel, and (optionally) adds the out-of-sample
search of :mod:`.search`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..config import ModelParams
from .data import CITATIONS, FIRST_YEAR, LAST_YEAR, build_year, load_history, parse_intent
from .predict import DEFAULT_MODEL, default_params, predict  # noqa: F401  (re-exported)
from .score import Counts, counts_many, null_models, permutation_null, permutation_tp, pooled

DEFAULT_PERMUTATIONS = 1000
DEFAULT_SEED = 20260101
PASSES = ("balance_of_threat", "balance_of_power")


def parse_years(text: str) -> tuple[int, int]:
    """``'1816-2014'`` or ``'1914'`` -> (first, last); ValueError with a plain message."""
    t = text.strip()
    a, sep, b = t.partition("-")
    try:
        first = int(a)
        last = int(b) if sep else first
    except ValueError:
        raise ValueError(f"expected YEAR or FIRST-LAST, got {text!r}") from None
    if first > last:
        raise ValueError(f"the first year {first} is after the last {last}")
    if first < FIRST_YEAR or last > LAST_YEAR:
        raise ValueError(f"the data cover {FIRST_YEAR}-{LAST_YEAR}, got {text!r}")
    return first, last


@dataclass
class History:
    """The result of :func:`run_history`: a JSON-ready dict and what the store needs."""

    result: dict
    systems: list

    def config_hash(self) -> str:
        keys = ("region", "years", "intent", "params", "permutations", "seed", "search")
        blob = json.dumps({k: self.result.get(k) for k in keys}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _year_rng(seed: int, year: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, year]))


def score_year(system, bloc, bbloc, permutations: int, seed: int) -> tuple[dict, dict]:
    """The JSON entry of one year and its raw material for pooling."""
    allied = system.allied
    rng = _year_rng(seed, system.year)
    entry = {"year": system.year, "ccodes": [int(c) for c in system.ccodes],
             "abbs": list(system.abbs),
             "observed_allied_pairs": [list(p) for p in system.allied_pairs()]}
    raw = {}
    bases = null_models(allied)
    perm = {}
    for name, b in zip(PASSES, (bloc, bbloc), strict=True):
        c = Counts(*counts_many(b[None, :], allied)[0])
        tp_r = permutation_tp(b, allied, permutations, rng)
        entry[name] = {"bloc": [int(x) for x in b], **c.as_dict()}
        perm[name] = permutation_null(c, tp_r)
        raw[name] = (c, tp_r)
    entry["baselines"] = {**bases, "permutation": perm}
    if system.dropped:
        entry["dropped"] = [list(d) for d in system.dropped]
    return entry, raw


def summarize(entries_raw: list, permutations: int) -> dict:
    """Panel scores: pooled counts over the years, the mean of the yearly scores, the pooled
    null models and the panel permutation p-value (the r-th permutations pooled)."""
    out = {"years_scored": len(entries_raw)}
    if not entries_raw:
        return out
    total = pooled(Counts(*r[1]["balance_of_threat"][0]) for r in entries_raw)
    A = total.tp + total.fn
    N = total.pairs
    out["pairs"] = N
    out["allied_pairs"] = A
    perm = {}
    for name in PASSES:
        c = pooled(r[1][name][0] for r in entries_raw)
        tp_r = np.sum([r[1][name][1] for r in entries_raw], axis=0) if permutations else \
            np.zeros(0, np.int64)
        yearly_acc = [r[0][name]["dyadic_accuracy"] for r in entries_raw]
        yearly_mcc = [r[0][name]["mcc"] for r in entries_raw]
        out[name] = {**c.as_dict(), "mean_yearly_accuracy": float(np.mean(yearly_acc)),
                     "mean_yearly_mcc": float(np.mean(yearly_mcc)),
                     "years_better_than_no_alliances": int(sum(
                         r[0][name]["dyadic_accuracy"] > r[0]["baselines"]["no_alliances"][
                             "dyadic_accuracy"] for r in entries_raw))}
        perm[name] = permutation_null(c, np.asarray(tp_r, np.int64))
    bases = {"no_alliances": Counts(0, 0, A, N - A).as_dict()}
    if A > N - A:
        bases["majority"] = Counts(A, N - A, 0, 0).as_dict()
    by_year = Counts(*np.sum([
        (a, n - a, 0, 0) if a > n - a else (0, 0, a, n - a)
        for a, n in ((r[0]["balance_of_threat"]["tp"] + r[0]["balance_of_threat"]["fn"],
                      Counts(*r[1]["balance_of_threat"][0]).pairs) for r in entries_raw)],
        axis=0))
    if by_year.tp > 0:  # some year has most pairs allied: the yearly majority differs
        bases["majority_by_year"] = by_year.as_dict()
    bases["permutation"] = perm
    out["baselines"] = bases
    return out


def run_history(region: str, years: tuple[int, int], params: ModelParams | None = None,
                intent: str = "mid", permutations: int = DEFAULT_PERMUTATIONS,
                seed: int = DEFAULT_SEED, search: dict | None = None,
                progress=None) -> History:
    """Build, predict and score every year of ``years`` (inclusive) for ``region``.

    ``search``: options of :func:`.search.out_of_sample` (None: no out-of-sample search).
    Years with fewer than two states have no pairs and are listed in ``skipped_years``.
    """
    from ..cases import params_dict

    parse_intent(intent)
    params = params or default_params()
    data = load_history()
    entries, pairs, systems, skipped = [], [], [], []
    for y in range(years[0], years[1] + 1):
        s = build_year(y, region, intent, data)
        if s.n < 2:
            skipped.append(y)
            continue
        bloc, bbloc = predict(s, params)
        e, raw = score_year(s, bloc[0], bbloc[0], permutations, seed)
        entries.append(e)
        pairs.append((e, raw))
        systems.append(s)
        if progress is not None:
            progress(y)
    result = {
        "region": region, "years": list(years), "intent": intent,
        "params": params_dict(params), "permutations": permutations, "seed": seed,
        "search": search, "skipped_years": skipped,
        "years_detail": entries,
        "summary": summarize(pairs, permutations),
        "sources": list(CITATIONS),
    }
    result["out_of_sample"] = None
    if search is not None:
        from .search import out_of_sample

        result["out_of_sample"] = out_of_sample(region, years, intent=intent, data=data,
                                                base=params, **search)
    return History(result, systems)


def to_json(h: History) -> dict:
    """The ``--json`` document: ``years_detail`` is written as ``years``."""
    r = dict(h.result)
    r["years"] = r.pop("years_detail")
    r["period"] = list(h.result["years"])
    return r


def compare_intents(region: str, years: tuple[int, int], params: ModelParams | None = None,
                    sources=None, permutations: int = DEFAULT_PERMUTATIONS,
                    seed: int = DEFAULT_SEED, search: dict | None = None) -> dict:
    """The panel under each intent source, side by side (balance of threat; balance of power
    does not use intent). The favoured source has the highest pooled MCC; the margin is its
    MCC minus the runner-up's, with the number of years in which its yearly MCC is higher,
    lower or equal. With ``search``, each source's out-of-sample test MCC is added (the
    fairer comparison: each source gets its own calibration on the training years)."""
    from .data import INTENT_SOURCES

    sources = tuple(sources or INTENT_SOURCES)
    rows, yearly = {}, {}
    for src in sources:
        h = run_history(region, years, params, src, permutations, seed, search)
        s = h.result["summary"]
        if not s.get("years_scored"):
            continue
        b = s["balance_of_threat"]
        p = s["baselines"]["permutation"]["balance_of_threat"]
        rows[src] = {"dyadic_accuracy": b["dyadic_accuracy"], "mcc": b["mcc"],
                     "mean_yearly_mcc": b["mean_yearly_mcc"],
                     "permutation_mean_mcc": p["mean_mcc"], "permutation_p": p["p_value"]}
        o = h.result.get("out_of_sample")
        if o and "out_of_sample" in o:
            rows[src]["test_mcc"] = o["out_of_sample"]["mcc"]
            rows[src]["test_accuracy"] = o["out_of_sample"]["dyadic_accuracy"]
            rows[src]["test_permutation_p"] = o["out_of_sample"]["permutation"]["p_value"]
        yearly[src] = {e["year"]: e["balance_of_threat"]["mcc"]
                       for e in h.result["years_detail"]}
    out = {"region": region, "years": list(years), "sources": rows}
    if len(rows) >= 2:
        order = sorted(rows, key=lambda k: -rows[k]["mcc"])
        a, b = order[0], order[1]
        diffs = [yearly[a][y] - yearly[b][y] for y in yearly[a]]
        out["favoured"] = {"source": a, "runner_up": b,
                           "mcc_margin": rows[a]["mcc"] - rows[b]["mcc"],
                           "years_higher": int(sum(d > 0 for d in diffs)),
                           "years_lower": int(sum(d < 0 for d in diffs)),
                           "years_equal": int(sum(d == 0 for d in diffs))}
        if all("test_mcc" in r for r in rows.values()):
            t = sorted(rows, key=lambda k: -rows[k]["test_mcc"])
            out["favoured_out_of_sample"] = {
                "source": t[0], "runner_up": t[1],
                "test_mcc_margin": rows[t[0]]["test_mcc"] - rows[t[1]]["test_mcc"]}
    return out
