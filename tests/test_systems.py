"""Tests of mc_threat.Systems: validation against MODEL.md section 1."""

from __future__ import annotations

import numpy as np
import pytest

from mc_threat import ConfigError, Systems

N = 4
FIELDS = ("power", "position", "offense", "intent")


def single(n=N, seed=0):
    r = np.random.default_rng(seed)
    return {
        "power": r.uniform(0.1, 2.0, n),
        "position": r.uniform(-5, 5, (n, 2)),
        "offense": r.uniform(0, 1, n),
        "intent": r.uniform(0, 1, n),
    }


def batch(count=3, n=N, seed=1, dyadic=False):
    r = np.random.default_rng(seed)
    return {
        "power": r.uniform(0.1, 2.0, (count, n)),
        "position": r.uniform(-5, 5, (count, n, 2)),
        "offense": r.uniform(0, 1, (count, n)),
        "intent": r.uniform(0, 1, (count, n, n) if dyadic else (count, n)),
    }


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def raises_naming(field, **kwargs):
    with pytest.raises(ConfigError) as info:
        Systems(**kwargs)
    lines = info.value.errors
    assert any(line.startswith(field) for line in lines), (field, lines)
    assert field in str(info.value)
    return info.value


# ------------------------------------------------------------------ valid input


def test_single_system_gets_leading_axis():
    d = single()
    s = Systems(**d)
    assert s.count == 1 and len(s) == 1 and s.n_states == N and not s.dyadic
    assert s.power.shape == (1, N) and s.position.shape == (1, N, 2)
    assert s.offense.shape == (1, N) and s.intent.shape == (1, N)
    for f in FIELDS:
        arr = getattr(s, f)
        assert arr.dtype == np.float64
        assert np.array_equal(bits(arr[0]), bits(d[f])), f
    assert s.intent_matrix_view().shape == (1, 1, N)


def test_batch_input():
    d = batch()
    s = Systems(**d)
    assert s.count == 3 and s.n_states == N and not s.dyadic
    for f in FIELDS:
        assert np.array_equal(bits(getattr(s, f)), bits(d[f])), f
    sub = s[1]
    assert sub.count == 1 and np.array_equal(sub.power[0], d["power"][1])
    assert s[-1].count == 1 and np.array_equal(s[-1].power[0], d["power"][-1])
    assert s[0:2].count == 2


def test_two_states_minimum_is_accepted():
    s = Systems(power=[1, 2], position=[[0, 0], [1, 1]], offense=[0, 1], intent=[1, 0])
    assert s.n_states == 2 and s.count == 1


def test_lists_and_integers_are_converted_to_float():
    s = Systems(power=[1, 2, 3], position=[[0, 0], [1, 2], [3, 4]], offense=[0, 1, 0],
                intent=[[0, 1, 1], [0, 0, 1], [1, 1, 0]])
    assert s.power.dtype == np.float64 and s.intent.dtype == np.float64
    assert np.array_equal(s.power, [[1.0, 2.0, 3.0]])
    assert s.dyadic


def test_other_float_dtypes_accepted():
    d = single()
    s = Systems(**{k: np.asarray(v, dtype=np.float32) for k, v in d.items()})
    for f in FIELDS:
        assert getattr(s, f).dtype == np.float64
        assert np.array_equal(getattr(s, f)[0], np.asarray(d[f], dtype=np.float32))


def test_single_dyadic_intent():
    d = single()
    h = np.random.default_rng(3).uniform(0, 1, (N, N))
    s = Systems(**{**d, "intent": h})
    assert s.dyadic and s.intent.shape == (1, N, N)
    assert np.array_equal(bits(s.intent[0]), bits(h))
    assert s.intent_matrix_view().shape == (1, N, N)


def test_batch_dyadic_intent():
    d = batch(dyadic=True)
    s = Systems(**d)
    assert s.dyadic and s.intent.shape == (3, N, N)
    assert np.array_equal(bits(s.intent), bits(d["intent"]))


@pytest.mark.parametrize("diag", [np.nan, 5.0, -3.0, np.inf, -np.inf])
def test_dyadic_diagonal_is_ignored(diag):
    d = batch(dyadic=True)
    h = d["intent"].copy()
    h[:, np.arange(N), np.arange(N)] = diag
    s = Systems(**{**d, "intent": h})
    # stored unchanged, diagonal included (never clipped or overwritten)
    assert np.array_equal(bits(s.intent), bits(h))
    # the input was not modified either
    assert np.array_equal(bits(h[:, np.arange(N), np.arange(N)]),
                          bits(np.full((3, N), diag)))
    # and for a single system
    h1 = single()["intent"][None, :].repeat(N, axis=0)
    np.fill_diagonal(h1, diag)
    s1 = Systems(**{**single(), "intent": h1})
    assert np.array_equal(bits(s1.intent[0]), bits(h1))


def test_bounds_are_inclusive_and_values_never_clipped():
    d = single()
    d["offense"] = np.array([0.0, 1.0, -0.0, 0.5])
    d["intent"] = np.array([1.0, 0.0, 1e-300, 1 - 2**-53])
    d["power"] = np.array([5e-324, 1e-300, 1e300, 1.0])
    d["position"] = np.array([[-1e300, 1e300], [0, 0], [-0.0, 0.0], [6e3, -7e3]])
    s = Systems(**d)
    for f in FIELDS:
        assert np.array_equal(bits(getattr(s, f)[0]), bits(d[f])), f


@pytest.mark.parametrize("field", ["offense", "intent"])
@pytest.mark.parametrize("value", [1 + 2**-52, -5e-324, -1e-12, 1.5, -1.0])
def test_just_outside_unit_interval_rejected_not_clipped(field, value):
    d = single()
    d[field] = d[field].copy()
    d[field][2] = value
    err = raises_naming(field, **d)
    assert "[0, 1]" in str(err)


# ------------------------------------------------------------------ invalid input


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_states(n):
    d = single(n=max(n, 1))
    d = {k: v[:n] for k, v in d.items()}
    raises_naming("power", **d)
    b = batch(n=max(n, 1))
    b = {k: v[:, :n] for k, v in b.items()}
    raises_naming("power", **b)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kind", ["single", "batch", "dyadic"])
def test_non_finite_anywhere_rejected(field, bad, kind):
    d = single() if kind == "single" else batch(dyadic=(kind == "dyadic"))
    arr = np.array(d[field], dtype=float)
    flat = arr.reshape(-1)
    if kind == "dyadic" and field == "intent":
        flat[1] = bad  # off the diagonal: row 0, column 1 of system 0
    else:
        flat[-1] = bad
    d[field] = arr
    raises_naming(field, **d)


@pytest.mark.parametrize("value", [0.0, -0.0, -1.0, -1e-300])
@pytest.mark.parametrize("kind", ["single", "batch"])
def test_power_not_positive_rejected(value, kind):
    d = single() if kind == "single" else batch()
    d["power"] = np.array(d["power"], dtype=float)
    d["power"].reshape(-1)[1] = value
    err = raises_naming("power", **d)
    assert "> 0" in str(err)


@pytest.mark.parametrize("value", [-0.01, 1.01])
def test_dyadic_off_diagonal_out_of_range_rejected(value):
    d = batch(dyadic=True)
    d["intent"][2, 3, 1] = value
    raises_naming("intent", **d)


def _shape_cases():
    s, b = single(), batch()
    return [
        ("position", {**s, "position": s["position"][:, :1]}),             # (n, 1)
        ("position", {**s, "position": np.zeros((N, 3))}),                 # (n, 3)
        ("position", {**s, "position": np.zeros(N)}),                      # (n,)
        ("position", {**s, "position": np.zeros((N + 1, 2))}),
        ("position", {**s, "position": np.zeros((1, N, 2))}),              # batch vs single
        ("position", {**b, "position": np.zeros((2, N, 2))}),              # wrong count
        ("position", {**b, "position": np.zeros((N, 2))}),
        ("offense", {**s, "offense": np.zeros(N + 1)}),
        ("offense", {**s, "offense": np.zeros((N, 1))}),
        ("offense", {**b, "offense": np.zeros((4, N))}),
        ("offense", {**b, "offense": np.zeros(N)}),
        ("offense", {**s, "offense": 0.5}),
        ("intent", {**s, "intent": np.zeros(N - 1)}),
        ("intent", {**s, "intent": np.zeros((N, N + 1))}),
        ("intent", {**s, "intent": np.zeros((N, N, N))}),
        ("intent", {**b, "intent": np.zeros((3, N, N - 1))}),
        ("intent", {**b, "intent": np.zeros((2, N))}),
        ("intent", {**b, "intent": np.zeros((N, N))}),
        ("power", {**s, "power": 1.0}),                                    # 0-d
        ("power", {**b, "power": np.ones((3, N, 1))}),                     # 3-d
    ]


@pytest.mark.parametrize("case", range(len(_shape_cases())))
def test_wrong_shapes_rejected(case):
    field, d = _shape_cases()[case]
    raises_naming(field, **d)


NON_NUMERIC = [
    ("str", lambda a: a.astype(str)),
    ("bool", lambda a: a > 0.5),
    ("complex", lambda a: a.astype(complex)),
    ("object", lambda a: a.astype(object)),
    ("none", lambda a: None),
    ("string", lambda a: "abc"),
    ("ragged", lambda a: [[1.0], [1.0, 2.0]]),
    ("datetime", lambda a: np.zeros(a.shape, dtype="datetime64[s]")),
]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("name,make", NON_NUMERIC, ids=[c[0] for c in NON_NUMERIC])
def test_non_numeric_rejected(field, name, make):
    d = single()
    d[field] = make(np.asarray(d[field]))
    raises_naming(field, **d)


@pytest.mark.parametrize("field", FIELDS)
def test_timedelta_is_non_numeric(field):
    d = single()
    d[field] = np.zeros(np.shape(d[field]), dtype="timedelta64[s]")
    if field == "power":
        d[field] = d[field] + np.timedelta64(1, "s")
    raises_naming(field, **d)


def test_bool_arrays_rejected_even_when_values_fit():
    # True/False are in [0, 1] and True > 0, but bools are not numbers here
    d = single()
    for f, v in (("offense", np.array([True, False, True, False])),
                 ("intent", np.ones(N, dtype=bool)),
                 ("power", np.ones(N, dtype=bool)),
                 ("position", np.zeros((N, 2), dtype=bool))):
        raises_naming(f, **{**d, f: v})
    raises_naming("intent", **{**d, "intent": np.eye(N, dtype=bool)})


def test_every_bad_field_is_reported():
    d = single()
    with pytest.raises(ConfigError) as info:
        Systems(power="x", position=None, offense=[True] * N, intent=object())
    msg = str(info.value)
    for f in FIELDS:
        assert f in msg
    assert len(info.value.errors) == 4
    # range problems of two fields are both reported
    with pytest.raises(ConfigError) as info:
        Systems(**{**d, "offense": d["offense"] + 2, "intent": d["intent"] - 2})
    assert "offense" in str(info.value) and "intent" in str(info.value)


def test_error_is_value_error_subclass():
    with pytest.raises(ValueError):
        Systems(**{**single(), "power": -single()["power"]})


def test_validate_false_skips_checks():
    # the generator's fast path; documented as not validating
    d = batch()
    d["power"][0, 0] = -1.0
    s = Systems(**d, validate=False)
    assert s.power[0, 0] == -1.0


def test_frozen():
    s = Systems(**single())
    with pytest.raises(AttributeError):
        s.power = np.ones((1, N))
