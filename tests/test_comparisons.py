"""Every kernel of the table of slow equivalents (``mc_threat.perf.comparisons.COMPARISONS``)
agrees bit for bit with its NumPy baseline and its plain-Python reference on adversarial
inputs (tests/adversarial.py): integers equal, floats with the same bit pattern (NaN where
NaN)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from adversarial import family_cases

from mc_threat import Systems
from mc_threat.perf.comparisons import COMPARISONS

FAMILIES = ("random", "tied_powers", "dyadic")


def reference(name: str):
    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


def run_python(c, batch, params):
    ref = reference(c.python)
    if not c.per_system:
        return ref(batch, params)
    return [ref(batch["power"][k], batch["position"][k], batch["offense"][k],
                batch["intent"][k], params) for k in range(len(batch["power"]))]


def differences(a, b, where="") -> list[str]:
    """Where two results differ: dicts key by key, arrays element by element by bit pattern
    (so 0.0 and -0.0 differ; any NaN equals any NaN: the reference's NaN diagonal is Python's
    float('nan'), the kernels' NumPy's)."""
    if isinstance(a, dict) or isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}.{k}")]
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        return [f"{where}: shape {x.shape} != {y.shape}"]
    same = (x.view(np.uint64) == y.view(np.uint64)) | (np.isnan(x) & np.isnan(y))
    if not same.all():
        first = tuple(int(v[0]) for v in np.nonzero(~same))
        return [f"{where}{list(first)}: {x[first]!r} != {y[first]!r}"]
    return []


def test_every_reference_resolves():
    for c in COMPARISONS.values():
        assert callable(c.kernel) and callable(reference(c.python))


@pytest.mark.parametrize("name", sorted(COMPARISONS))
@pytest.mark.parametrize("family", FAMILIES)
def test_kernel_numpy_and_python_agree_exactly(name, family):
    c = COMPARISONS[name]
    rng = np.random.default_rng(20260101)
    checked = 0
    for batch, params in family_cases(family, rng, count=4, params_per_size=1):
        fast = c.kernel(Systems(**batch), params)
        slow = run_python(c, batch, params)
        assert differences(fast, slow, f"{name} vs {c.python}") == [], (family, params)
        if c.numpy is not None:
            assert differences(fast, c.numpy(Systems(**batch), params),
                               f"{name} vs NumPy") == [], (family, params)
        checked += 1
    assert checked > 0


def test_a_difference_is_seen():
    """The comparison above fails on a one-ulp difference, a swapped label or a NaN lost."""
    a = {"x": np.array([1.0, np.nan]), "y": np.array([[0, 1]], np.int32)}
    assert differences(a, {"x": [1.0, np.nan], "y": [[0, 1]]}) == []
    assert differences(a, {"x": [np.nextafter(1.0, 2.0), np.nan], "y": [[0, 1]]})
    assert differences(a, {"x": [1.0, np.nan], "y": [[1, 0]]})
    assert differences(a, {"x": [1.0, 0.0], "y": [[0, 1]]})
