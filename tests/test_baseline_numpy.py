"""The vectorized NumPy baseline (mc_threat.model.baseline_numpy) must agree with
mc_threat.evaluate.

Both use the engine's own elementary functions (MODEL.md section 9; the baseline through their
NumPy twins), so the results must agree BIT FOR BIT everywhere: integer arrays with
``np.array_equal``, float outcomes with ``==`` (no tolerance), threat matrices and the
choice-by-power counts exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

import mc_threat
from mc_threat import OUTCOMES, Systems, evaluate, generate_systems, threat_matrix
from mc_threat.kernels import power_bin_edges
from mc_threat.model.baseline_numpy import evaluate_numpy, threat_matrix_numpy
from mc_threat.model.elementary import exp_np

INT_FIELDS = {"target": np.int32, "choice": np.int8, "bloc": np.int32,
              "bop_target": np.int32, "bop_choice": np.int8}

PARAMS = [
    {},
    {"form": "multiplicative"},
    {"weights": {"power": 0, "proximity": 1, "offense": 0, "intent": 0}},
    {"weights": {"power": 1, "proximity": 0, "offense": 0, "intent": 0}},  # threat == BoP
    {"weights": {"power": 0, "proximity": 0, "offense": 1, "intent": 0}},
    {"form": "multiplicative",
     "weights": {"power": 2, "proximity": 1, "offense": 0, "intent": 0.5}},
    # exponents 0.5: np.power's sqrt fast path must not be taken
    {"form": "multiplicative", "weights": {"power": 1, "proximity": 1, "offense": 0, "intent": 0}},
    {"form": "multiplicative", "weights": {"power": 0, "proximity": 0, "offense": 1, "intent": 3}},
    {"neutral_below": 0.3},
    {"form": "multiplicative", "neutral_below": 0.5},
    {"neutral_below": 2.0},  # every state neutral
    {"viability": 0.0},
    {"viability": 50.0},
    {"bandwagon_ratio": 0.0},
    {"bandwagon_ratio": 1.0, "viability": 2.0},
    {"reach": 0.01, "form": "multiplicative"},
    {"reach": 100.0},
    {"weights": {"power": 0.3, "proximity": 2.7, "offense": 1.1, "intent": 0.9}, "reach": 0.1,
     "bandwagon_ratio": 0.5, "viability": 1.0, "neutral_below": 0.2},
    {"form": "multiplicative",
     "weights": {"power": 0.3, "proximity": 2.7, "offense": 1.1, "intent": 0.9}, "reach": 0.4,
     "bandwagon_ratio": 0.3, "viability": 0.8, "neutral_below": 0.1},
]
PARAM_IDS = [f"p{k}" for k in range(len(PARAMS))]

DYADIC_PARAMS = [
    {},
    {"form": "multiplicative"},
    {"weights": {"power": 0, "proximity": 0, "offense": 0, "intent": 1}},
    {"form": "multiplicative", "weights": {"power": 1, "proximity": 0.5, "offense": 0, "intent": 1},
     "neutral_below": 0.2, "bandwagon_ratio": 0.6, "viability": 3.0},
]


# ------------------------------------------------------------------------------ comparing
def _mismatched_systems(ev, res) -> np.ndarray:
    """Boolean (count,) mask of systems where any per-system field differs."""
    bad = np.zeros(ev.target.shape[0], bool)
    for f, dtype in INT_FIELDS.items():
        got = res[f]
        assert got.dtype == dtype, (f, got.dtype)
        assert got.shape == ev.target.shape, (f, got.shape)
        bad |= (getattr(ev, f) != got).any(axis=1)
    assert set(res["outcomes"]) == set(OUTCOMES)
    for name in OUTCOMES:
        got = res["outcomes"][name]
        assert got.dtype == np.float64 and got.shape == ev.target.shape[:1], name
        bad |= ev.outcomes[name] != got  # no tolerance: no NaN can occur
    return bad


def _describe(systems, params, ev, res, k) -> str:
    lines = [f"params={params}", f"system {k}:"]
    with np.printoptions(floatmode="unique", linewidth=120):
        for f in ("power", "position", "offense", "intent"):
            lines.append(f"  {f} = {np.array2string(getattr(systems, f)[k], separator=', ')}")
    for f in INT_FIELDS:
        a, b = getattr(ev, f)[k], res[f][k]
        if not np.array_equal(a, b):
            lines.append(f"  {f}: engine {a.tolist()} numpy {b.tolist()}")
    for name in OUTCOMES:
        a, b = ev.outcomes[name][k], res["outcomes"][name][k]
        if a != b:
            lines.append(f"  outcomes[{name}]: engine {a!r} numpy {b!r}")
    return "\n".join(lines)


def check(systems, params, *, threats=True, chunk=None):
    """Compare ``evaluate_numpy`` with ``mc_threat.evaluate``: bit-for-bit agreement on every
    system and of the choice-by-power counts, and (``threats``) of the threat matrices.
    Returns the engine's Evaluation."""
    ev = evaluate(systems, params)
    res = evaluate_numpy(systems, params, chunk=chunk)
    bad = _mismatched_systems(ev, res)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        pytest.fail(f"{int(bad.sum())} of {bad.size} systems differ\n"
                    + _describe(systems, params, ev, res, k))
    np.testing.assert_array_equal(res["choice_by_power"], ev.choice_by_power)
    assert res["choice_by_power"].dtype == np.int64 and res["choice_by_power"].shape == (10, 3)
    if threats:
        assert np.array_equal(threat_matrix(systems, params), threat_matrix_numpy(systems, params),
                              equal_nan=True), "threat matrices differ"
    return ev


# ------------------------------------------------------------------------------ systems
def _dyadic(systems, rng, nan_diagonal=True):
    count, n = systems.power.shape
    h = rng.uniform(size=(count, n, n))
    h[:, rng.uniform(size=n) < 0.3, :] = 0.0  # some exact zeros (0^w in the product form)
    if nan_diagonal:
        h[:, np.arange(n), np.arange(n)] = np.nan
    return Systems(systems.power, systems.position, systems.offense, h)


def _family(name, rng, count, n):
    """Tie-heavy and edge-case systems."""
    g = generate_systems(n_states=n, seed=int(rng.integers(1 << 40)), count=count)
    p, x, o, h = g.power.copy(), g.position.copy(), g.offense.copy(), g.intent.copy()
    if name == "equal_power":
        p[:] = 1.0 / n
    elif name == "integer_power":
        p = rng.integers(1, 4, size=(count, n)).astype(float)
        p /= p.sum(axis=1, keepdims=True)
    elif name == "coincident":
        pts = rng.uniform(size=(count, 2, 2))
        x = pts[np.arange(count)[:, None], rng.integers(0, 2, size=(count, n))]
        x[: count // 4] = 0.5  # everybody at one point
    elif name == "grid":
        x = rng.integers(0, 5, size=(count, n, 2)) * rng.choice([0.25, 0.1], size=(count, 1, 1))
        p = rng.integers(1, 3, size=(count, n)).astype(float)
    elif name == "identical_states":
        p[:] = 1.0
        x[:] = 0.3
        o[:] = 0.5
        h[:] = 0.5
    elif name == "zero_offense_intent":
        o[:] = 0.0
        h[:] = rng.choice([0.0, 1.0], size=(count, 1))
        x = np.round(x, 1)
    elif name == "bin_edges":
        edges = power_bin_edges()
        p = edges[rng.integers(0, 10, size=(count, n))]
        p[:, 0] = 1.0
        p *= rng.choice([1.0, 0.5, 3.0], size=(count, 1))
        o = np.round(o, 1)
    elif name == "extreme_power":
        p = 10.0 ** rng.uniform(-12, 0, size=(count, n))
        p[:, :2] = p[:, :1]  # tied hegemon candidates now and then
    else:
        raise ValueError(name)
    return Systems(p, x, o, h)


FAMILIES = ["equal_power", "integer_power", "coincident", "grid", "identical_states",
            "zero_offense_intent", "bin_edges", "extreme_power"]
FAMILY_PARAMS = [
    {},
    {"form": "multiplicative"},
    {"weights": {"power": 1, "proximity": 2, "offense": 0, "intent": 0},  # W = 3
     "bandwagon_ratio": 1.0, "viability": 1.0},
    {"form": "multiplicative", "weights": {"power": 1, "proximity": 2, "offense": 0.5, "intent": 0},
     "neutral_below": 0.25, "viability": 0.0},
    {"weights": {"power": 0, "proximity": 1, "offense": 1, "intent": 0}, "bandwagon_ratio": 0.0,
     "viability": 20.0},
]


@pytest.fixture(scope="module")
def generated():
    return generate_systems(n_states=16, seed=20240611, count=2000)


# ------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("params", PARAMS, ids=PARAM_IDS)
def test_generated_systems(generated, params):
    check(generated[:300], params)  # threat matrices, bit for bit
    check(generated, params, threats=False)


@pytest.mark.parametrize("params", DYADIC_PARAMS)
def test_dyadic_intent(params):
    rng = np.random.default_rng(7)
    for n, count in ((2, 300), (5, 400), (16, 1000)):
        s = _dyadic(generate_systems(n_states=n, seed=n, count=count), rng)
        check(s, params)


@pytest.mark.parametrize("family", FAMILIES)
def test_tie_heavy_families(family):
    rng = np.random.default_rng(1000 + FAMILIES.index(family))
    for n, count in ((2, 100), (3, 120), (7, 150), (16, 250), (33, 40)):
        s = _family(family, rng, count, n)
        for k, params in enumerate(FAMILY_PARAMS):
            check(s, params, threats=k < 2)
        check(_dyadic(s, rng), FAMILY_PARAMS[3], threats=False)


def test_chunking_does_not_matter(generated):
    s = generated[:700]
    a = evaluate_numpy(s, {"form": "multiplicative", "neutral_below": 0.3})
    b = evaluate_numpy(s, {"form": "multiplicative", "neutral_below": 0.3}, chunk=37)
    for f in INT_FIELDS:
        assert np.array_equal(a[f], b[f])
    for name in OUTCOMES:
        assert np.array_equal(a["outcomes"][name], b["outcomes"][name])
    assert np.array_equal(a["choice_by_power"], b["choice_by_power"])
    check(s[:40], {"form": "multiplicative", "neutral_below": 0.3}, chunk=1)


@pytest.mark.parametrize("n", [2, 3, 31, 32, 33, 64])
def test_longest_bandwagon_chain(n):
    """State i fears i + 1 (dyadic intent only) and is weaker: a bandwagon chain through all
    n states ending in the coalition against state 0 (the deepest possible forest)."""
    h = np.zeros((n, n))
    h[np.arange(n - 1), np.arange(1, n)] = 1.0
    p = 2.0 ** np.arange(n)
    s = Systems(p / p.sum(), np.zeros((n, 2)), np.full(n, 0.5), h)
    params = {"weights": {"power": 0, "proximity": 0, "offense": 0, "intent": 1},
              "bandwagon_ratio": 1.0}
    ev = check(s, params)
    res = evaluate_numpy(s, params)
    assert (res["choice"][0, :-1] == mc_threat.BANDWAGON).all()
    assert (res["bloc"] == n + 0).all()
    assert np.array_equal(res["bloc"], ev.bloc)


def test_accepts_dict_and_rejects_other():
    s = generate_systems(n_states=4, seed=1, count=3)
    d = {"power": s.power, "position": s.position, "offense": s.offense, "intent": s.intent}
    assert np.array_equal(evaluate_numpy(d)["target"], evaluate(s).target)
    with pytest.raises(TypeError, match="systems"):
        evaluate_numpy([1, 2, 3])
    empty = evaluate_numpy(generate_systems(n_states=5, seed=1, count=0))
    assert empty["target"].shape == (0, 5) and empty["outcomes"]["contained"].shape == (0,)


# ------------------------------------------------------------- exact ties of proximity
def test_adjacent_distances_rank_the_same_in_both():
    """A perceiver at the origin, candidates 1 and 2 at distances d1 > d2 one ulp apart,
    proximity the only criterion: ``exp(-d1)`` and ``exp(-d2)`` are equal or adjacent, so the
    principal threat is decided in the last bit (ties to the smaller index). The baseline's
    NumPy exp twin decides exactly as the engine's exp; with ``np.exp`` (the C library or
    NumPy's SIMD code, whichever this machine has) such pairs used to come out differently."""
    rng = np.random.default_rng(3)
    d1 = rng.uniform(0.13, 0.24, 4000)
    d2 = np.nextafter(d1, 0.0)
    count = d1.size
    pos = np.zeros((count, 3, 2))
    pos[:, 1, 0] = d1
    pos[:, 2, 1] = d2
    s = Systems(np.full((count, 3), 1 / 3), pos, np.full((count, 3), 0.5),
                np.full((count, 3), 0.5))
    params = {"weights": {"power": 0, "proximity": 1, "offense": 0, "intent": 0}, "reach": 1.0}
    ev = check(s, params)
    ties = exp_np(-d1) == exp_np(-d2)
    assert 0 < ties.sum() < count  # both outcomes of the last bit occur
    assert np.array_equal(ev.target[:, 0], np.where(ties, 1, 2))
