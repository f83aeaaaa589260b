"""Random and adversarial state systems (numpy arrays with a leading ``count`` axis) and params.

A *batch* is a dict ``{"power": (count, n), "position": (count, n, 2), "offense": (count, n),
"intent": (count, n) or (count, n, n)}``; every system in it is valid per MODEL.md section 1
(power > 0, offense and intent in [0, 1], finite positions).  A params dict has the keys
``form, weights{power, proximity, offense, intent}, reach, bandwagon_ratio, viability,
neutral_below``.

``FAMILIES`` lists (name, batch maker, params maker); ``family_cases(name, rng)`` yields
(batch, params) pairs for a family, covering both forms.
"""

from __future__ import annotations

import numpy as np

WEIGHT_KEYS = ("power", "proximity", "offense", "intent")
FORMS = ("additive", "multiplicative")


# ------------------------------------------------------------------------------ attributes
def dirichlet_power(rng, count, n, conc=None):
    """Dirichlet-ish shares: gamma(conc) normalised, floored so that every power is > 0."""
    if conc is None:
        conc = rng.uniform(0.3, 3.0)
    g = rng.gamma(conc, size=(count, n)) + 1e-12
    return g / g.sum(axis=1, keepdims=True)


def lognormal_power(rng, count, n, sigma=1.0):
    c = np.exp(sigma * rng.standard_normal((count, n)))
    return c / c.sum(axis=1, keepdims=True)


def kumaraswamy(rng, shape, a, b):
    u = rng.uniform(size=shape)
    return (1.0 - (1.0 - u) ** (1.0 / b)) ** (1.0 / a)


def _batch(power, position, offense, intent):
    return {
        "power": np.ascontiguousarray(power, dtype=np.float64),
        "position": np.ascontiguousarray(position, dtype=np.float64),
        "offense": np.ascontiguousarray(offense, dtype=np.float64),
        "intent": np.ascontiguousarray(intent, dtype=np.float64),
    }


def random_systems(rng, count, n, dyadic=False):
    power = dirichlet_power(rng, count, n) if rng.uniform() < 0.5 else lognormal_power(
        rng, count, n, sigma=rng.uniform(0.2, 2.0))
    position = rng.uniform(size=(count, n, 2))
    offense = kumaraswamy(rng, (count, n), 2.0, 2.0)
    if dyadic:
        intent = rng.uniform(size=(count, n, n))
    else:
        intent = kumaraswamy(rng, (count, n), 1.0, 3.0)
    return _batch(power, position, offense, intent)


def dyadic_systems(rng, count, n):
    return random_systems(rng, count, n, dyadic=True)


def dyadic_garbage_diagonal_systems(rng, count, n):
    """Dyadic intent whose (never used) diagonal holds NaN, 7 or -1 (docs/model.md, item 5)."""
    b = dyadic_systems(rng, count, n)
    diag = rng.choice(np.array([np.nan, 7.0, -1.0]), size=(count, n))
    b["intent"][:, np.arange(n), np.arange(n)] = diag
    return b


def tied_power_systems(rng, count, n):
    """Powers drawn from a few small integers (many exact ties, ties for the hegemon)."""
    b = random_systems(rng, count, n)
    k = rng.integers(1, 4, size=(count, n)).astype(np.float64)
    k[: max(1, count // 4)] = 1.0  # some systems with all powers equal
    b["power"] = k / k.sum(axis=1, keepdims=True)
    return b


def equal_power_systems(rng, count, n):
    b = random_systems(rng, count, n)
    b["power"] = np.full((count, n), 1.0 / n)
    return b


def coincident_position_systems(rng, count, n):
    """All states on one point in some systems, a few shared points in others."""
    b = random_systems(rng, count, n)
    pts = rng.uniform(size=(count, 3, 2))
    which = rng.integers(0, 3, size=(count, n))
    which[: max(1, count // 3)] = 0
    b["position"] = np.take_along_axis(pts, which[:, :, None].repeat(2, axis=2), axis=1)
    return b


def quantized_systems(rng, count, n):
    """Every attribute on a coarse grid: exact threat ties everywhere."""
    power = rng.integers(1, 4, size=(count, n)).astype(np.float64)
    position = rng.integers(0, 3, size=(count, n, 2)) * 0.5
    offense = rng.integers(0, 3, size=(count, n)) * 0.5
    intent = rng.integers(0, 3, size=(count, n)) * 0.5
    return _batch(power / power.sum(axis=1, keepdims=True), position, offense, intent)


def quantized_dyadic_systems(rng, count, n):
    b = quantized_systems(rng, count, n)
    b["intent"] = rng.integers(0, 3, size=(count, n, n)) * 0.5
    return b


def zero_offense_systems(rng, count, n):
    b = random_systems(rng, count, n)
    b["offense"] = np.zeros((count, n))
    return b


def intent_constant_systems(value):
    def make(rng, count, n):
        b = random_systems(rng, count, n)
        b["intent"] = np.full((count, n), float(value))
        return b

    return make


def extreme_power_systems(rng, count, n):
    """Powers spanning many orders of magnitude (bins 0..9, tiny states, clear hegemons)."""
    b = random_systems(rng, count, n)
    b["power"] = lognormal_power(rng, count, n, sigma=4.0) + 1e-300
    return b


def far_apart_systems(rng, count, n):
    """Positions far apart (km-like): exp(-d/reach) underflows to 0 for small reach."""
    b = random_systems(rng, count, n)
    b["position"] = rng.uniform(0.0, 5000.0, size=(count, n, 2))
    return b


def integer_power_systems(rng, count, n):
    """Small integer powers (not shares) and grid attributes: comparisons such as
    p_i == beta * p_t, S_B == alpha * S_W or theta == neutral_below hold exactly."""
    b = quantized_systems(rng, count, n)
    b["power"] = rng.integers(1, 5, size=(count, n)).astype(np.float64)
    return b


def bin_edge_systems(rng, count, n):
    """Relative powers exactly on (and one ulp around) the bin edges 10 ** (-3 + 0.3 k)."""
    b = random_systems(rng, count, n)
    edges = np.array([10.0 ** (-3 + 0.3 * k) for k in range(10)])
    r = edges[rng.integers(0, 10, size=(count, n))]
    shift = rng.integers(-1, 2, size=(count, n))
    r = np.where(shift < 0, np.nextafter(r, 0.0), np.where(shift > 0, np.nextafter(r, 2.0), r))
    r[:, 0] = 1.0  # the hegemon, so that p_i / p_h == r_i exactly
    r[r < 1e-4] = 1e-4
    b["power"] = np.where(rng.uniform(size=(count, 1)) < 0.5, r, r * 0.125)  # exact scaling
    return b


# The relative-power bin edges, computed as the kernels and the reference compute them.
BIN_EDGES = np.array([10.0 ** (-3 + 0.3 * k) for k in range(10)])
# Relative powers of the boundary systems: simple fractions (so p_i == beta * p_t and
# S_B == alpha * S_W hold exactly for the grid values of beta and alpha) and the bin edges.
BOUNDARY_RATIOS = np.concatenate([[1.0, 0.75, 0.5, 0.25, 0.125], BIN_EDGES[1:]])
GRID = np.array([0.0, 0.5, 1.0])


def boundary_systems(rng, count, n, dyadic=False):
    """Systems on which the rules are decided exactly at their thresholds.

    * Powers: in each system either small integers 1..4 (exact sums: ``S_B == alpha S_W``,
      ties for the hegemon and between a balancer and its threat), or a strongest state of
      power 1 with the others at simple fractions of it or exactly on the relative-power bin
      edges (``p_i == beta p_tau``, ``p_i / p_h == edge``); times an exact power of two.
    * Positions: every capital on one of three grid points (coincident capitals, proximity 1).
    * Offense and intent on the grid {0, 1/2, 1}: threat values tie exactly, and principal
      threat levels land on the grid values of ``neutral_below``.
    """
    ratios = BOUNDARY_RATIOS[rng.integers(0, len(BOUNDARY_RATIOS), size=(count, n))]
    ratios[np.arange(count), rng.integers(0, n, size=count)] = 1.0
    ints = rng.integers(1, 5, size=(count, n)).astype(np.float64)
    power = np.where(rng.uniform(size=(count, 1)) < 0.4, ints, ratios)
    power = power * 2.0 ** rng.integers(-3, 4, size=(count, 1))
    pts = rng.integers(0, 3, size=(count, 3, 2)) * 0.5
    which = rng.integers(0, 3, size=(count, n))
    position = np.take_along_axis(pts, which[:, :, None].repeat(2, axis=2), axis=1)
    offense = GRID[rng.integers(0, 3, size=(count, n))]
    shape = (count, n, n) if dyadic else (count, n)
    intent = GRID[rng.integers(0, 3, size=shape)]
    return _batch(power, position, offense, intent)


def boundary_params(rng, form=None):
    """Parameters on the grids that meet the boundary systems' values exactly: weights in
    {0, 1, 2} (at least one positive), ``bandwagon_ratio`` in {1/4, 1/2, 3/4, 1},
    ``viability`` in {1/2, 1, 3/2, 2} (sometimes 0), ``neutral_below`` in {1/4, 1/2, 3/4}
    (often 0), ``reach`` 1/2 or 1."""
    w = rng.integers(0, 3, size=4).astype(np.float64)
    if not np.any(w > 0):
        w[rng.integers(0, 4)] = 1.0
    u = rng.uniform()
    return {
        "form": form if form is not None else str(rng.choice(FORMS)),
        "weights": {k: float(v) for k, v in zip(WEIGHT_KEYS, w, strict=True)},
        "reach": float(rng.choice([0.5, 1.0])),
        "bandwagon_ratio": float(rng.choice([0.25, 0.5, 0.75, 1.0])),
        "viability": 0.0 if u < 0.1 else float(rng.choice([0.5, 1.0, 1.5, 2.0])),
        "neutral_below": 0.0 if rng.uniform() < 0.5 else float(rng.choice([0.25, 0.5, 0.75])),
    }


def agreement_draws(chunk, draws=25, count=12):
    """The draws of one chunk of the random agreement test: (label, batch, params).

    Two draws in three are random systems under random parameters; every third is a
    boundary draw (:func:`boundary_systems`, :func:`boundary_params`), so that every tie and
    threshold rule is decided exactly at its boundary many times in each run (counted by
    ``tests/test_boundaries.py``).
    """
    rng = np.random.default_rng([20240601, chunk])
    for draw in range(draws):
        n = int(rng.integers(2, 17))
        dyadic = bool(rng.uniform() < 0.25)
        if draw % 3 == 2:
            batch = boundary_systems(rng, count, n, dyadic=dyadic)
            params = boundary_params(rng)
            kind = "boundary"
        else:
            batch = random_systems(rng, count, n, dyadic=dyadic)
            params = random_params(rng)
            kind = "random"
        if draw % 5 == 0:
            params["n_states"] = n  # evaluate must ignore it
        yield f"{kind} chunk={chunk} draw={draw}", batch, params


# ---------------------------------------------------------------------------------- params
def random_weights(rng, allow_zero=True):
    w = rng.uniform(0.0, 2.0, size=4)
    if allow_zero:
        mask = rng.uniform(size=4) < 0.3
        w[mask] = 0.0
    if not np.any(w > 0):
        w[rng.integers(0, 4)] = rng.uniform(0.1, 2.0)
    return {k: float(v) for k, v in zip(WEIGHT_KEYS, w, strict=True)}


def random_params(rng, form=None, **overrides):
    u = rng.uniform()
    if u < 0.15:
        viability = 0.0
    elif u < 0.25:
        viability = float(rng.choice([5.0, 100.0]))
    else:
        viability = float(rng.uniform(0.0, 2.0))
    u = rng.uniform()
    beta = 0.0 if u < 0.1 else (1.0 if u < 0.2 else float(rng.uniform(0.0, 1.0)))
    nb = 0.0 if rng.uniform() < 0.6 else float(rng.uniform(0.0, 0.8))
    p = {
        "form": form if form is not None else str(rng.choice(FORMS)),
        "weights": random_weights(rng),
        "reach": float(np.exp(rng.uniform(np.log(0.02), np.log(2.0)))),
        "bandwagon_ratio": beta,
        "viability": viability,
        "neutral_below": nb,
    }
    p.update(overrides)
    return p


def one_weight(key):
    return {k: (1.0 if k == key else 0.0) for k in WEIGHT_KEYS}


BOP_WEIGHTS = one_weight("power")


def _params_with(**fixed):
    def make(rng, form):
        fx = dict(fixed)
        if callable(fx.get("weights")):
            fx["weights"] = fx["weights"](rng)
        return random_params(rng, form=form, **fx)

    return make


def _equal_weights(rng):
    return {k: 1.0 for k in WEIGHT_KEYS}


def _single_weight(rng):
    return one_weight(WEIGHT_KEYS[int(rng.integers(0, 4))])


def _scaled_weights(rng):
    s = float(rng.choice([1e-3, 1e3, 2.0**-40, 2.0**40]))
    return {k: v * s for k, v in random_weights(rng).items()}


def _with_offense_weight(rng):
    w = random_weights(rng)
    w["offense"] = float(rng.uniform(0.5, 2.0))
    return w


def _with_intent_weight(rng):
    w = random_weights(rng)
    w["intent"] = float(rng.uniform(0.5, 2.0))
    return w


def _some_zero_weights(rng):
    """One to three of the four weights exactly 0, the others positive."""
    w = rng.uniform(0.1, 2.0, size=4)
    zero = rng.permutation(4)[: int(rng.integers(1, 4))]
    w[zero] = 0.0
    return {k: float(v) for k, v in zip(WEIGHT_KEYS, w, strict=True)}


def _grid_choice(*values):
    return lambda rng: float(rng.choice(values))


def _params_grid(**grids):
    """Like _params_with but each value drawn from a small grid per params draw."""
    def make(rng, form):
        fx = {k: (g(rng) if callable(g) else g) for k, g in grids.items()}
        return random_params(rng, form=form, **fx)

    return make


# name -> (batch maker, params maker, sizes n)
FAMILIES = {
    "random": (random_systems, _params_with(), (2, 3, 5, 8, 16)),
    "dyadic": (dyadic_systems, _params_with(), (2, 3, 6, 12)),
    "dyadic_garbage_diagonal": (dyadic_garbage_diagonal_systems, _params_with(), (2, 3, 7)),
    "n2": (random_systems, _params_with(), (2,)),
    "tied_powers": (tied_power_systems, _params_with(), (3, 4, 7, 12)),
    "equal_powers": (equal_power_systems, _params_with(), (2, 3, 6)),
    "coincident_positions": (coincident_position_systems, _params_with(), (3, 5, 10)),
    "quantized": (quantized_systems, _params_with(), (3, 4, 6, 10)),
    "quantized_equal_weights": (quantized_systems, _params_with(weights=_equal_weights),
                                (3, 5, 8)),
    "quantized_dyadic": (quantized_dyadic_systems, _params_with(), (3, 5, 8)),
    "single_criterion": (random_systems, _params_with(weights=_single_weight), (3, 6, 10)),
    "zero_weights": (random_systems, _params_with(weights=_some_zero_weights), (4, 9)),
    "bop_weights": (random_systems, _params_with(weights=lambda r: dict(BOP_WEIGHTS)),
                    (2, 5, 12)),
    "scaled_weights": (random_systems, _params_with(weights=_scaled_weights), (3, 8)),
    "offense_zero": (zero_offense_systems, _params_with(weights=_with_offense_weight),
                     (2, 4, 9)),
    "intent_zero": (intent_constant_systems(0.0), _params_with(weights=_with_intent_weight),
                    (2, 4, 9)),
    "intent_one": (intent_constant_systems(1.0), _params_with(weights=_with_intent_weight),
                   (2, 4, 9)),
    "neutral_some": (random_systems, _params_with(neutral_below=0.35), (4, 10)),
    "neutral_all": (random_systems, _params_with(neutral_below=1.5), (3, 8)),
    "viability_0": (random_systems, _params_with(viability=0.0), (3, 8)),
    "viability_5": (random_systems, _params_with(viability=5.0), (3, 8, 16)),
    "viability_100": (random_systems, _params_with(viability=100.0), (3, 8, 16)),
    "bandwagon_0": (random_systems, _params_with(bandwagon_ratio=0.0), (3, 8)),
    "bandwagon_1": (random_systems, _params_with(bandwagon_ratio=1.0), (3, 8, 16)),
    "bandwagon_1_tied": (tied_power_systems, _params_with(bandwagon_ratio=1.0, viability=1.0),
                         (3, 6)),
    "extreme_powers": (extreme_power_systems, _params_with(), (5, 16)),
    "tiny_reach": (random_systems, _params_with(reach=1e-3), (3, 8)),
    "huge_reach": (random_systems, _params_with(reach=1e3), (3, 8)),
    "far_apart": (far_apart_systems, _params_with(reach=0.25), (3, 8)),
    "integer_powers_boundaries": (
        integer_power_systems,
        _params_grid(weights=_single_weight, bandwagon_ratio=_grid_choice(0.25, 0.5, 0.75, 1.0),
                     viability=_grid_choice(0.25, 0.5, 1.0, 2.0),
                     neutral_below=_grid_choice(0.0, 0.5, 1.0)),
        (2, 3, 4, 6, 9)),
    "bin_edges": (bin_edge_systems, _params_with(), (3, 10, 16)),
    "boundaries": (boundary_systems, lambda rng, form: boundary_params(rng, form),
                   (2, 3, 5, 8, 13)),
}


def family_cases(name, rng, count=12, params_per_size=3):
    """Yield (batch, params) for a family: every size, both forms, a few params draws each."""
    make_batch, make_params, sizes = FAMILIES[name]
    for n in sizes:
        for form in FORMS:
            for _ in range(params_per_size):
                yield make_batch(rng, count, n), make_params(rng, form)


def single(batch, k):
    """System k of a batch as a batch of one (for minimal failing examples)."""
    return {key: v[k : k + 1].copy() for key, v in batch.items()}
