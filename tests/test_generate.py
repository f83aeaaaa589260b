"""Tests of mc_threat.generate_systems (MODEL.md section 6)."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import stats

import mc_threat
from mc_threat import ConfigError, GeneratorParams, Systems, generate_systems
from mc_threat.kernels.rng import MAX_STATES
from mc_threat.model.elementary import cbrt_py, exp_py, log_py, pow_py, sincos2pi_py

# ------------------------------------------------------------------ independent reference
# Written from the documented layout (rng.py docstring, MODEL.md section 6), in plain Python.

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SEED_SALT = 0xD1B54A32D192ED03


def _mix64(z):
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_uniform(seed, system, draw):
    key = _mix64(seed * GOLDEN + SEED_SALT)
    bits = _mix64(key + (system * 2**20 + draw + 1) * GOLDEN)
    return ((bits >> 12) + 0.5) * 2.0**-52


def ref_system(seed, system, n, sigma=1.0, rho=0.7, oab=(2.0, 2.0), iab=(1.0, 3.0)):
    u = [[ref_uniform(seed, system, 8 * i + k) for k in range(8)] for i in range(n)]
    comps = []
    pos, off, inte = [], [], []
    for i in range(n):
        r1 = math.sqrt(-2 * math.log(u[i][0]))
        r2 = math.sqrt(-2 * math.log(u[i][2]))
        g = r1 * math.cos(2 * math.pi * u[i][1])
        e = (r1 * math.sin(2 * math.pi * u[i][1]), r2 * math.cos(2 * math.pi * u[i][3]),
             r2 * math.sin(2 * math.pi * u[i][3]))
        comps.append([math.exp(sigma * (math.sqrt(rho) * g + math.sqrt(1 - rho) * ek)) for ek in e])
        pos.append((u[i][4], u[i][5]))
        a, b = oab
        off.append((1 - (1 - u[i][6]) ** (1 / b)) ** (1 / a))
        a, b = iab
        inte.append((1 - (1 - u[i][7]) ** (1 / b)) ** (1 / a))
    tot = [sum(c[k] for c in comps) for k in range(3)]
    power = [sum(c[k] / tot[k] for k in range(3)) / 3 for c in comps]
    return np.array(power), np.array(pos), np.array(off), np.array(inte)


def _root_py(x, inv_k):
    """The generator's ``x ** inv_k`` (MODEL.md section 9): exact shortcuts for 1, 1/2, 1/3."""
    if inv_k == 1.0:
        return x
    if inv_k == 0.5:
        return math.sqrt(x)
    if inv_k == 1.0 / 3.0:
        return cbrt_py(x)
    return pow_py(x, inv_k)


def ref_system_exact(seed, system, n, sigma=1.0, rho=0.7, oab=(2.0, 2.0), iab=(1.0, 3.0)):
    """MODEL.md section 6 in plain Python with the engine's elementary functions (their
    Python twins), in the documented operation order: must equal the kernel bit for bit."""
    u = [[ref_uniform(seed, system, 8 * i + k) for k in range(8)] for i in range(n)]
    sr, sq = math.sqrt(rho), math.sqrt(1.0 - rho)
    comps, pos, off, inte = [], [], [], []
    for i in range(n):
        r1 = math.sqrt(-2.0 * log_py(u[i][0]))
        s1, c1 = sincos2pi_py(u[i][1])
        r2 = math.sqrt(-2.0 * log_py(u[i][2]))
        s2, c2 = sincos2pi_py(u[i][3])
        g = r1 * c1
        comps.append([exp_py(sigma * (sr * g + sq * e)) for e in (r1 * s1, r2 * c2, r2 * s2)])
        pos.append((u[i][4], u[i][5]))
        a, b = oab
        off.append(_root_py(1.0 - _root_py(1.0 - u[i][6], 1.0 / b), 1.0 / a))
        a, b = iab
        inte.append(_root_py(1.0 - _root_py(1.0 - u[i][7], 1.0 / b), 1.0 / a))
    tot = [0.0, 0.0, 0.0]
    for c in comps:
        for k in range(3):
            tot[k] += c[k]
    power = [((c[0] / tot[0] + c[1] / tot[1]) + c[2] / tot[2]) / 3.0 for c in comps]
    return np.array(power), np.array(pos), np.array(off), np.array(inte)


def kumaraswamy_cdf(a, b):
    return lambda x: 1.0 - (1.0 - np.clip(x, 0, 1) ** a) ** b


def bits(a):
    return np.ascontiguousarray(a).view(np.uint64)


def assert_same(s1: Systems, s2: Systems):
    for f in ("power", "position", "offense", "intent"):
        a, b = getattr(s1, f), getattr(s2, f)
        assert a.shape == b.shape, f
        assert np.array_equal(bits(a), bits(b)), f


# ------------------------------------------------------------------ shape and reference


def test_shapes_types_and_ranges():
    s = generate_systems(None, n_states=16, seed=3, start=0, count=50)
    assert isinstance(s, Systems)
    assert s.power.shape == (50, 16) and s.position.shape == (50, 16, 2)
    assert s.offense.shape == (50, 16) and s.intent.shape == (50, 16)
    assert not s.dyadic and s.count == 50 and s.n_states == 16
    for a in (s.power, s.position, s.offense, s.intent):
        assert a.dtype == np.float64 and np.isfinite(a).all()
    assert (s.position > 0).all() and (s.position < 1).all()
    assert (s.offense >= 0).all() and (s.offense <= 1).all()
    assert (s.intent >= 0).all() and (s.intent <= 1).all()
    # generated systems pass the public validation unchanged
    v = Systems(power=s.power, position=s.position, offense=s.offense, intent=s.intent)
    assert_same(s, v)


def test_defaults_match_model_md():
    s0 = generate_systems(seed=5, count=3)
    s1 = generate_systems(GeneratorParams(), n_states=16, seed=5, start=0, count=3)
    s2 = generate_systems({"power_sigma": 1.0, "power_corr": 0.7, "offense": {"a": 2, "b": 2},
                           "intent": {"a": 1, "b": 3}}, 16, 5, 0, 3)
    assert s0.n_states == 16 and s0.count == 3
    assert_same(s0, s1)
    assert_same(s0, s2)
    assert generate_systems().count == 1


def test_count_zero():
    s = generate_systems(None, 5, 1, 0, 0)
    assert s.power.shape == (0, 5) and s.position.shape == (0, 5, 2)


@pytest.mark.parametrize(
    "gen,seed,start",
    [
        ({}, 0, 0),
        ({}, 2**63 - 1, 2**40 + 3),
        ({"power_sigma": 2.5, "power_corr": 0.2, "offense": {"a": 0.7, "b": 1.8},
          "intent": {"a": 3.0, "b": 0.5}}, 99, 12345),
        ({"power_corr": 0.0, "offense": {"a": 1.0, "b": 1.0}}, 7, 2**44 - 3),
    ],
)
def test_matches_independent_reference(gen, seed, start):
    g = GeneratorParams(**gen) if gen else GeneratorParams()
    n = 9
    s = generate_systems(gen, n_states=n, seed=seed, start=start, count=3)
    for k in range(3):
        p, x, o, h = ref_system(seed, start + k, n, g.power_sigma, g.power_corr,
                                (g.offense.a, g.offense.b), (g.intent.a, g.intent.b))
        # positions are the uniforms themselves: bit-exact
        assert np.array_equal(s.position[k], x)
        np.testing.assert_allclose(s.power[k], p, rtol=1e-12, atol=0)
        np.testing.assert_allclose(s.offense[k], o, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(s.intent[k], h, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "gen,seed,start,n",
    [
        ({}, 0, 0, 16),
        ({}, 2**63 - 1, 2**40 + 3, 2),
        ({"power_sigma": 2.5, "power_corr": 0.2, "offense": {"a": 0.7, "b": 1.8},
          "intent": {"a": 3.0, "b": 0.5}}, 99, 12345, 9),
        ({"power_corr": 0.0, "offense": {"a": 1.0, "b": 1.0}}, 7, 2**44 - 4, 5),
        ({"power_sigma": 0.0, "power_corr": 1.0, "offense": {"a": 2.0, "b": 3.0},
          "intent": {"a": 0.5, "b": 2.0}}, 3, 77, 7),
    ],
)
def test_matches_the_exact_reference_bit_for_bit(gen, seed, start, n):
    g = GeneratorParams(**gen) if gen else GeneratorParams()
    s = generate_systems(gen, n_states=n, seed=seed, start=start, count=4)
    for k in range(4):
        ref = ref_system_exact(seed, start + k, n, g.power_sigma, g.power_corr,
                               (g.offense.a, g.offense.b), (g.intent.a, g.intent.b))
        for name, got, want in zip(("power", "position", "offense", "intent"),
                                   (s.power[k], s.position[k], s.offense[k], s.intent[k]), ref,
                                   strict=True):
            assert np.array_equal(bits(got), bits(want)), (name, k)


def test_unit_shapes_are_exact_transforms_of_uniforms():
    # Kumaraswamy(1, 1): o = 1 - (1 - u), no pow involved, so bit-exact to the reference
    s = generate_systems({"offense": {"a": 1, "b": 1}, "intent": {"a": 1, "b": 1}}, 6, 31, 2**40, 2)
    for k in range(2):
        for i in range(6):
            for d, arr in ((6, s.offense), (7, s.intent)):
                u = ref_uniform(31, 2**40 + k, 8 * i + d)
                assert arr[k, i] == 1.0 - (1.0 - u)


# ------------------------------------------------------------------ reproducibility


@pytest.mark.parametrize("n", [2, 16, 50])
def test_identical_across_chunkings(n):
    whole = generate_systems(None, n, 42, 0, 1000)
    parts = [generate_systems(None, n, 42, 100 * k, 100) for k in range(10)]
    for k, part in enumerate(parts):
        assert_same(whole[100 * k:100 * (k + 1)], part)
    # uneven chunks and single systems, away from zero
    odd = [generate_systems(None, n, 42, s, c) for s, c in ((0, 1), (1, 333), (334, 7), (341, 659))]
    cat = Systems(*(np.concatenate([getattr(o, f) for o in odd]) for f in
                    ("power", "position", "offense", "intent")), validate=False)
    assert_same(whole, cat)


def test_identical_at_large_start_across_chunkings():
    start = 2**44 - 300
    whole = generate_systems({"offense": {"a": 0.7, "b": 1.8}}, 8, 2**63 - 1, start, 300)
    for k in range(0, 300, 60):
        part = generate_systems({"offense": {"a": 0.7, "b": 1.8}}, 8, 2**63 - 1, start + k, 60)
        assert np.array_equal(bits(whole.power[k:k + 60]), bits(part.power))
        assert np.array_equal(bits(whole.offense[k:k + 60]), bits(part.offense))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs >= 2 numba threads")
def test_identical_across_thread_counts():
    old = numba.get_num_threads()
    gen = {"power_sigma": 1.7, "offense": {"a": 0.7, "b": 1.8}}
    try:
        numba.set_num_threads(1)
        one = generate_systems(gen, 16, 8, 5, 1000)
        numba.set_num_threads(2)
        two = generate_systems(gen, 16, 8, 5, 1000)
        two_chunk = generate_systems(gen, 16, 8, 505, 500)
    finally:
        numba.set_num_threads(old)
    assert_same(one, two)
    assert np.array_equal(bits(one.power[500:]), bits(two_chunk.power))


def test_numpy_integer_arguments_equal_python_ints():
    a = generate_systems(None, 7, 123, 40, 5)
    b = generate_systems(None, np.int64(7), np.uint64(123), np.int64(40), np.int32(5))
    assert_same(a, b)


@pytest.mark.parametrize("m,n", [(2, 3), (5, 16), (16, 100), (3, 1000)])
def test_state_draws_do_not_depend_on_n(m, n):
    small = generate_systems(None, m, 77, 10, 20)
    big = generate_systems(None, n, 77, 10, 20)
    assert np.array_equal(bits(small.position), bits(big.position[:, :m]))
    assert np.array_equal(bits(small.offense), bits(big.offense[:, :m]))
    assert np.array_equal(bits(small.intent), bits(big.intent[:, :m]))
    # power is a share of the system total, so it changes with n ...
    assert not np.array_equal(small.power, big.power[:, :m])
    # ... but with power_corr = 1 (one lognormal per state) the ratios between the first m
    # states do not
    s1 = generate_systems({"power_corr": 1.0}, m, 77, 10, 20)
    b1 = generate_systems({"power_corr": 1.0}, n, 77, 10, 20)
    ratio = b1.power[:, :m] / b1.power[:, :m].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ratio, s1.power, rtol=1e-12)


def test_max_states():
    s = generate_systems(None, MAX_STATES, 1, 2**44 - 1, 1)
    assert s.power.shape == (1, MAX_STATES)
    assert abs(s.power.sum() - 1) < 1e-12 and (s.power > 0).all()
    # the last state's draws are still the documented ones (draw 2**20 - 1 is intent)
    assert s.position[0, -1, 1] == ref_uniform(1, 2**44 - 1, 8 * (MAX_STATES - 1) + 5)
    small = generate_systems(None, 4, 1, 2**44 - 1, 1)
    assert np.array_equal(small.intent[0], s.intent[0, :4])


def test_different_seeds_and_indices_give_different_systems():
    a = generate_systems(None, 16, 0, 0, 50)
    b = generate_systems(None, 16, 1, 0, 50)
    c = generate_systems(None, 16, 0, 50, 50)
    for other in (b, c):
        for f in ("power", "position", "offense", "intent"):
            assert not np.any(getattr(a, f) == getattr(other, f)), f
    # systems within one call differ from each other
    assert np.unique(a.position[:, 0, 0]).size == 50


# ------------------------------------------------------------------ common random numbers


def test_common_random_numbers_between_generator_settings():
    base = generate_systems(None, 12, 4, 0, 30)
    sig = generate_systems({"power_sigma": 0.3}, 12, 4, 0, 30)
    off = generate_systems({"offense": {"a": 5.0}}, 12, 4, 0, 30)
    # changing power does not touch the other attributes, and vice versa
    for f in ("position", "offense", "intent"):
        assert np.array_equal(getattr(base, f), getattr(sig, f))
    assert not np.array_equal(base.power, sig.power)
    for f in ("power", "position", "intent"):
        assert np.array_equal(getattr(base, f), getattr(off, f))
    assert not np.array_equal(base.offense, off.offense)
    # and the ordering of states by offense is the same (monotone transform of the same u)
    assert np.array_equal(np.argsort(base.offense, axis=1, kind="stable"),
                          np.argsort(off.offense, axis=1, kind="stable"))


def test_partial_dict_generator():
    s = generate_systems({"power_sigma": 0.5}, 10, 2, 0, 20)
    t = generate_systems(GeneratorParams(power_sigma=0.5), 10, 2, 0, 20)
    assert_same(s, t)
    # a partial distribution keeps the other shape's default: offense Kumaraswamy(3, 2)
    u = generate_systems({"offense": {"a": 3}}, 10, 2, 0, 20)
    v = generate_systems({"offense": {"a": 3, "b": 2}}, 10, 2, 0, 20)
    assert_same(u, v)
    assert_same(generate_systems({}, 10, 2, 0, 20), generate_systems(None, 10, 2, 0, 20))


# ------------------------------------------------------------------ distributions


def test_power_shares_sum_to_one_and_positive():
    for gen in ({}, {"power_sigma": 3.0, "power_corr": 0.0}, {"power_sigma": 20.0},
                {"power_sigma": 20.0, "power_corr": 1.0}):
        s = generate_systems(gen, 16, 6, 0, 2000)
        assert (s.power > 0).all(), gen
        np.testing.assert_allclose(s.power.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    s = generate_systems(None, 2, 6, 0, 500)
    np.testing.assert_allclose(s.power.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_positions_uniform_on_unit_square():
    s = generate_systems(None, 16, 10, 0, 4000)
    x = s.position[..., 0].ravel()
    y = s.position[..., 1].ravel()
    assert stats.kstest(x, "uniform").pvalue > 1e-4
    assert stats.kstest(y, "uniform").pvalue > 1e-4
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / math.sqrt(x.size)
    h, _, _ = np.histogram2d(x, y, bins=8, range=[[0, 1], [0, 1]])
    assert stats.chisquare(h.ravel()).pvalue > 1e-4


@pytest.mark.parametrize(
    "field,a,b",
    [
        ("offense", 2.0, 2.0),   # default: sqrt path
        ("intent", 1.0, 3.0),    # default: identity and cbrt path
        ("offense", 0.7, 1.8),   # general pow path
        ("intent", 0.7, 1.8),
        ("offense", 3.0, 0.5),   # cbrt and pow(x, 2)
        ("intent", 0.5, 1.0),
    ],
)
def test_kumaraswamy_distribution(field, a, b):
    default = {"offense": (2.0, 2.0), "intent": (1.0, 3.0)}[field]
    gen = None if (a, b) == default else {field: {"a": a, "b": b}}
    s = generate_systems(gen, 16, 21, 0, 4000)
    v = getattr(s, field).ravel()
    assert (v >= 0).all() and (v <= 1).all()
    res = stats.kstest(v, kumaraswamy_cdf(a, b))
    assert res.pvalue > 1e-4, res
    # the test has power: a clearly different Kumaraswamy is rejected
    wrong = stats.kstest(v, kumaraswamy_cdf(a * 1.15, b))
    assert wrong.pvalue < 1e-6
    # mean = b * B(1 + 1/a, b)
    mean = b * math.exp(math.lgamma(1 + 1 / a) + math.lgamma(b) - math.lgamma(1 + 1 / a + b))
    assert abs(v.mean() - mean) < 0.01


def test_other_field_keeps_its_distribution():
    s = generate_systems({"offense": {"a": 0.7, "b": 1.8}}, 16, 22, 0, 3000)
    assert stats.kstest(s.intent.ravel(), kumaraswamy_cdf(1.0, 3.0)).pvalue > 1e-4


@pytest.mark.parametrize("sigma", [0.25, 1.0, 2.0, 4.0])
def test_power_log_spread_matches_sigma_when_fully_correlated(sigma):
    n, count = 16, 3000
    s = generate_systems({"power_corr": 1.0, "power_sigma": sigma}, n, 13, 0, count)
    logp = np.log(s.power)
    dev = logp - logp.mean(axis=1, keepdims=True)  # = sigma (g_i - mean g)
    pooled = math.sqrt((dev**2).sum() / (count * (n - 1)))
    assert abs(pooled / sigma - 1) < 0.03, pooled
    # one state's deviation per system is N(0, sigma^2 (1 - 1/n)), independent over systems
    z = dev[:, 0] / (sigma * math.sqrt(1 - 1 / n))
    assert stats.kstest(z, "norm").pvalue > 1e-4
    # p_i = exp(sigma g_i) / sum_j exp(sigma g_j): log p_i + logsumexp = sigma g_i
    lse = np.log(np.exp(logp).sum(axis=1))
    np.testing.assert_allclose(lse, 0.0, atol=1e-12)


def test_power_correlation_matters():
    """With rho < 1 the three shares differ, so the log spread of the mean share is smaller."""
    n, count = 16, 3000
    full = generate_systems({"power_corr": 1.0, "power_sigma": 1.0}, n, 13, 0, count)
    part = generate_systems({"power_corr": 0.0, "power_sigma": 1.0}, n, 13, 0, count)

    def spread(s):
        lp = np.log(s.power)
        return (lp - lp.mean(axis=1, keepdims=True)).std()

    assert spread(part) < 0.85 * spread(full)


@pytest.mark.parametrize("n", [2, 7, 16, 33])
def test_power_sigma_zero_gives_equal_powers(n):
    s = generate_systems({"power_sigma": 0.0}, n, 3, 0, 100)
    np.testing.assert_allclose(s.power, 1.0 / n, rtol=1e-15, atol=0)
    assert (s.power == s.power[:, :1]).all()


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"n_states": 1}, "n_states"),
        ({"n_states": 0}, "n_states"),
        ({"n_states": MAX_STATES + 1}, "n_states"),
        ({"n_states": 16.0}, "n_states"),
        ({"n_states": True}, "n_states"),
        ({"n_states": "16"}, "n_states"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": None}, "seed"),
        ({"seed": True}, "seed"),
        ({"count": -1}, "count"),
        ({"count": 2.0}, "count"),
        ({"start": -1}, "start"),
        ({"start": 2**44 - 1, "count": 2}, "start + count"),
        ({"start": 2**45, "count": 1}, "start + count"),
        ({"generator": {"power_sigma": -1}}, "power_sigma"),
        ({"generator": {"power_sigma": float("nan")}}, "power_sigma"),
        ({"generator": {"power_sigma": 21}}, "power_sigma"),
        ({"generator": {"power_corr": 1.5}}, "power_corr"),
        ({"generator": {"power_corr": -0.1}}, "power_corr"),
        ({"generator": {"offense": {"a": 0}}}, "offense"),
        ({"generator": {"intent": {"b": -1}}}, "intent"),
        ({"generator": {"intent": {"b": float("inf")}}}, "intent"),
        ({"generator": {"bogus": 1}}, "bogus"),
        ({"generator": 5}, "generator"),
    ],
)
def test_invalid_arguments_raise_config_error_naming_field(kwargs, field):
    args = {"generator": None, "n_states": 4, "seed": 0, "start": 0, "count": 2, **kwargs}
    with pytest.raises(ConfigError) as info:
        generate_systems(**args)
    assert field in str(info.value)
    assert isinstance(info.value, mc_threat.ConfigError) and isinstance(info.value, ValueError)


def test_error_lists_every_problem():
    with pytest.raises(ConfigError) as info:
        generate_systems(None, n_states=1, seed=-1, start=-1, count=-1)
    msg = str(info.value)
    for field in ("n_states", "seed", "start", "count"):
        assert field in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("start,count", [
    (np.int64(2**63 - 1), 1),
    (np.uint64(2**64 - 1), 1),
    (np.int64(2**63 - 1), np.int64(1)),
    (2**44 - 1, np.int64(2**63 - 1)),
])
def test_numpy_integer_start_count_overflow_rejected(start, count):
    with pytest.raises(ConfigError) as info:
        generate_systems(None, 4, 0, start, count)
    assert "start" in str(info.value)
