"""Where the time goes: a per-stage profile of the kernels and the elementary floor.

Part of ``mc-threat bench`` (the ``profile`` entry of ``results/bench.json``). On one numba
thread it times the sweep kernel's pipeline stage by stage, each stage cumulative on the
same systems, so the difference between two consecutive stages is the cost of the later
one:

1. ``generate``: draw the system (hashed uniforms, Box-Muller, lognormal components,
   Kumaraswamy roots);
2. ``prepare``: criteria ``A`` and ``O``, hegemon, relative-power bins;
3. ``proximity``: the proximity matrix, ``n^2`` distances and exponentials (full rows);
4. ``bop``: the balance-of-power pass (shared by every weight vector with the same
   ``bandwagon_ratio``, ``viability`` and ``neutral_below``);
5. ``threats``: principal threats, per weight vector;
6. ``choices``: choices, ally availability, blocs, per weight vector;
7. ``outcomes``: the outcomes of MODEL.md section 5 and the running sums, per weight vector.

It also times each of the engine's own elementary functions (``exp``, ``log``,
``sincos2pi``, ``cbrt``; MODEL.md section 9) and IEEE ``sqrt`` in a plain loop the compiler
vectorizes, and multiplies by how often one system needs it: the **elementary floor**, the
time per system that no reorganisation of the rest of the code can remove. Beside it, the
C library's ``exp``, ``log``, ``sin``, ``cos`` and ``cbrt`` in the same loop, which the
kernels called before version 0.2.0 (the **C-library floor** of that design).
"""

from __future__ import annotations

import numpy as np

from ..kernels.profile import division_loop as _division_loop
from ..kernels.profile import elementary_loop as _elementary_loop
from ..kernels.profile import libm_loop as _libm_loop
from ..kernels.profile import pipeline as _pipeline
from ..kernels.profile import uniforms_only as _uniforms_only
from ..kernels.rng import DRAWS_PER_STATE

STAGES = ("generate", "prepare", "proximity", "bop", "threats", "choices", "outcomes")
_PER_ROW = ("threats", "choices", "outcomes")
FUNCTIONS = ("exp", "log", "sin", "cos", "cbrt", "sqrt")  # the C library's, for comparison
ELEMENTARY = ("exp", "log", "sincos2pi", "cbrt", "sqrt")  # the engine's own (and IEEE sqrt)


def libm_calls_per_system(n: int) -> dict:
    """How often the kernels would call each C-library function for one system of ``n``
    states if they used the C library's functions (as 0.1.0 did; for comparison),
    at the default generator (MODEL.md section 6): Box-Muller needs 2 ``log``, 2 ``sin``,
    2 ``cos`` and 2 ``sqrt`` per state, the three lognormal components 3 ``exp``, the
    Kumaraswamy(2, 2) offense 2 ``sqrt`` and the Kumaraswamy(1, 3) intent one ``cbrt``, and
    the system ``sqrt(rho)`` and ``sqrt(1 - rho)``; the proximity matrix one ``sqrt`` and one
    ``exp`` per ordered pair of states, the diagonal included (``n^2``: full rows run as
    vector code, see ``kernels.threat.proximity_matrix``)."""
    pairs = n * n
    return {"exp": 3 * n + pairs, "log": 2 * n, "sin": 2 * n, "cos": 2 * n, "cbrt": n,
            "sqrt": 4 * n + 2 + pairs}


def elementary_calls_per_system(n: int) -> dict:
    """The same counts for the engine's own functions: one ``sincos2pi`` gives a sine and
    a cosine."""
    c = libm_calls_per_system(n)
    return {"exp": c["exp"], "log": c["log"], "sincos2pi": c["sin"], "cbrt": c["cbrt"],
            "sqrt": c["sqrt"]}


def profile(n: int = 16, count: int = 40_000, rows: int = 16, repeats: int = 9) -> dict:
    """Profile one thread: microseconds per system for each stage, the elementary floor.

    Per-row stages (``threats``, ``choices``, ``outcomes``) are timed with ``rows`` weight
    vectors per system and reported per weight vector. Every figure is the best of
    ``repeats`` rounds, each round timing everything once (``count`` systems per stage).
    """
    import numba

    from ..config import coerce_generator
    from ..model.batch import POWER_BIN_EDGES, params_vector
    from ..model.generate import generator_vector
    from .timing import best as _best
    from .timing import weight_rows as _weight_rows

    gen = generator_vector(coerce_generator(None))
    params = np.stack([params_vector(p) for p in _weight_rows(rows)])
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        x = np.random.default_rng(0).uniform(2.0**-53, 1.0, 4096)
        out = np.empty_like(x)
        reps = 100
        runs = {f"stage {st}": (lambda st=st: _pipeline(st, count, n, gen, params,
                                                         POWER_BIN_EDGES), count)
                for st in range(len(STAGES))}
        runs["uniforms"] = (lambda: _uniforms_only(count, n), count)
        for k, name in enumerate(FUNCTIONS):
            runs[name] = (lambda k=k: _libm_loop(k, x, out, reps), reps * x.size)
        for k, name in enumerate(ELEMENTARY):
            runs["own " + name] = (lambda k=k: _elementary_loop(k, x, out, reps), reps * x.size)
        runs["division"] = (lambda: _division_loop(x, out, 3.0, reps), reps * x.size)
        for st in range(len(STAGES)):  # compile or load every kernel before timing
            _pipeline(st, 2, n, gen, params, POWER_BIN_EDGES)
        _uniforms_only(2, n)
        for k in range(len(FUNCTIONS)):
            _libm_loop(k, x[:8], out[:8], 1)
        for k in range(len(ELEMENTARY)):
            _elementary_loop(k, x[:8], out[:8], 1)
        _division_loop(x[:8], out[:8], 3.0, 1)
        # Repeats outermost, so a slow spell of a shared machine touches every figure alike;
        # each figure keeps its best repeat (time per item).
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(repeats):
            for key, (fn, items) in runs.items():
                best[key] = min(best[key], _best(fn, 1) / items)
        totals = [best[f"stage {st}"] * 1e6 for st in range(len(STAGES))]
        rng_us = best["uniforms"] * 1e6
        per_call = {name: best[name] * 1e9 for name in FUNCTIONS}
        own = {name: best["own " + name] * 1e9 for name in ELEMENTARY}
        div_ns = best["division"] * 1e9
        calls = libm_calls_per_system(n)
        own_calls = elementary_calls_per_system(n)
    finally:
        numba.set_num_threads(previous)
    stages = {}
    for k, name in enumerate(STAGES):
        delta = totals[k] - (totals[k - 1] if k else 0.0)
        stages[name] = delta / rows if name in _PER_ROW else delta
    floor_us = sum(calls[f] * per_call[f] for f in FUNCTIONS) / 1e3
    own_floor_us = sum(own_calls[f] * own[f] for f in ELEMENTARY) / 1e3
    shared = sum(v for k, v in stages.items() if k not in _PER_ROW)
    per_row = sum(stages[k] for k in _PER_ROW)
    return {
        "n": n, "systems": count, "weight_rows": rows, "threads": 1,
        "stage_us_per_system": stages,  # per-row stages: per system and weight vector
        "uniforms_us_per_system": rng_us,  # the hashing part of "generate"
        "shared_us_per_system": shared,
        "per_weight_vector_us": per_row,
        "one_vector_us_per_system": shared + per_row,
        "elementary_ns_per_element": own,
        "elementary_calls_per_system": own_calls,
        "elementary_floor_us_per_system": own_floor_us,
        "elementary_share_of_one_vector": own_floor_us / (shared + per_row),
        "libm_ns_per_call": per_call,
        "libm_calls_per_system": calls,
        "libm_floor_us_per_system": floor_us,
        "libm_share_of_one_vector": floor_us / (shared + per_row),
        # Principal threats need n (n - 1) divisions per weight vector (T = numerator / W).
        "division_ns_vectorized": div_ns,
        "threat_division_floor_us": n * (n - 1) * div_ns / 1e3,
    }


def print_profile(p: dict, cores: int) -> None:
    """The profile as a table, and what it implies for ``cores`` cores."""
    print(f"profile, one thread, n = {p['n']} (microseconds per system; per-row stages per "
          f"system and weight vector):")
    for name, us in p["stage_us_per_system"].items():
        tag = "  (per weight vector)" if name in _PER_ROW else ""
        print(f"  {name:<10} {us:7.3f}{tag}")
        if name == "generate":
            print(f"    of which the {p['n'] * DRAWS_PER_STATE} hashed uniforms "
                  f"{p['uniforms_us_per_system']:.3f}")
    print(f"  one weight vector: {p['one_vector_us_per_system']:.2f} us per system; elementary "
          f"floor {p['elementary_floor_us_per_system']:.2f} us "
          f"({100 * p['elementary_share_of_one_vector']:.0f}%); with the C library's "
          f"functions it would be {p['libm_floor_us_per_system']:.2f} us")
    own = ", ".join(f"{p['elementary_calls_per_system'][f]} {f} "
                    f"({p['elementary_ns_per_element'][f]:.2f} ns)" for f in ELEMENTARY)
    print(f"  elementary functions per system: {own}")
    calls = ", ".join(f"{f} {p['libm_ns_per_call'][f]:.2f} ns" for f in FUNCTIONS)
    print(f"  the C library in the same loop: {calls}")
    print(f"  principal threats: {p['n'] * (p['n'] - 1)} divisions per weight vector at "
          f"{p['division_ns_vectorized']:.2f} ns (vectorized) = "
          f"{p['threat_division_floor_us']:.3f} us, against "
          f"{p['stage_us_per_system']['threats']:.3f} us measured")
    print(f"  upper bounds on {cores} cores: "
          f"{cores * 1e6 / p['elementary_floor_us_per_system']:,.0f} systems/s (floor alone), "
          f"{cores * 1e6 / p['per_weight_vector_us']:,.0f} point-systems/s (per-vector work "
          f"alone)")
