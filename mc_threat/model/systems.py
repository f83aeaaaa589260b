"""Batches of state systems as arrays, validated against MODEL.md section 1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_float_array(name: str, value, problems: list[str]) -> np.ndarray | None:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        problems.append(f"{name}: cannot be read as an array ({exc})")
        return None
    if arr.dtype.kind not in "iuf":  # bools, complex, dates, timedeltas, objects, text
        problems.append(f"{name}: must hold numbers, got dtype {arr.dtype}")
        return None
    # A private copy: changing the caller's array later cannot bypass the validation.
    return np.array(arr, dtype=np.float64, order="C", copy=True)


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"at index {idx}: {arr[idx]!r}"


@dataclass(frozen=True, init=False)
class Systems:
    """A batch of ``count`` state systems of ``n`` states each.

    Attributes
    ----------
    power : (count, n) float64, every value > 0
    position : (count, n, 2) float64, finite
    offense : (count, n) float64 in [0, 1]
    intent : (count, n) monadic (``h_ij = h_j``) or (count, n, n) dyadic (row ``i`` is how
        aggressive each state looks to ``i``; the diagonal is ignored), in [0, 1]

    A single system may be given without the leading ``count`` axis: ``power (n,)``,
    ``position (n, 2)``, ``offense (n,)``, ``intent (n,)`` or ``(n, n)``.
    Invalid input raises :class:`mc_threat.config.ConfigError` naming the field; values
    are never clipped.
    """

    power: np.ndarray
    position: np.ndarray
    offense: np.ndarray
    intent: np.ndarray

    def __init__(self, power, position, offense, intent, *, validate: bool = True):
        if validate:
            power, position, offense, intent = _validated(power, position, offense, intent)
        object.__setattr__(self, "power", power)
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "offense", offense)
        object.__setattr__(self, "intent", intent)

    @property
    def count(self) -> int:
        """Number of systems."""
        return self.power.shape[0]

    @property
    def n_states(self) -> int:
        """States per system."""
        return self.power.shape[1]

    @property
    def dyadic(self) -> bool:
        """True when intent is a full (count, n, n) matrix per system."""
        return self.intent.ndim == 3

    def intent_matrix_view(self) -> np.ndarray:
        """Intent as (count, 1, n) or (count, n, n), the layout the kernels take."""
        return self.intent if self.dyadic else self.intent[:, None, :]

    def __getitem__(self, item) -> Systems:
        """Select systems along the first axis (an int keeps the axis)."""
        if isinstance(item, (int, np.integer)):
            item = slice(item, item + 1 if item != -1 else None)
        return Systems(self.power[item], self.position[item], self.offense[item],
                       self.intent[item], validate=False)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        kind = "dyadic" if self.dyadic else "monadic"
        return f"Systems(count={self.count}, n_states={self.n_states}, intent={kind})"


def _validated(power, position, offense, intent):
    from ..config import ConfigError

    problems: list[str] = []
    p = _as_float_array("power", power, problems)
    x = _as_float_array("position", position, problems)
    o = _as_float_array("offense", offense, problems)
    h = _as_float_array("intent", intent, problems)
    if problems:
        raise ConfigError(problems)
    single = p.ndim == 1
    if single:
        p, x, o, h = p[None], x[None], o[None], h[None]
    if p.ndim != 2:
        raise ConfigError([f"power: must have shape (count, n) or (n,), got {p.shape}"])
    count, n = p.shape
    if n < 2:
        problems.append(f"power: a system needs at least 2 states, got {n}")
    if x.shape != (count, n, 2):
        problems.append(f"position: must have shape {(count, n, 2)[single:]}, got "
                        f"{x.shape[1:] if single else x.shape}")
    if o.shape != (count, n):
        problems.append(f"offense: must have shape {(count, n)[single:]}, got "
                        f"{o.shape[1:] if single else o.shape}")
    if h.shape not in ((count, n), (count, n, n)):
        want = f"{(count, n)[single:]} or {(count, n, n)[single:]}"
        problems.append(f"intent: must have shape {want}, got {h.shape[1:] if single else h.shape}")
    if problems:
        raise ConfigError(problems)
    h_used = h
    if h.ndim == 3:  # the diagonal of a dyadic intent is never used: it may hold anything
        h_used = h.copy()
        h_used[:, np.arange(n), np.arange(n)] = 0.0
    for name, arr in (("power", p), ("position", x), ("offense", o), ("intent", h_used)):
        bad = ~np.isfinite(arr)
        if bad.any():
            problems.append(f"{name}: must be finite, got a non-finite value "
                            f"{_first_bad(arr, bad)}")
    if not problems:
        if (p <= 0).any():
            problems.append(f"power: must be > 0, got {_first_bad(p, p <= 0)}")
        for name, arr in (("offense", o), ("intent", h_used)):
            bad = (arr < 0) | (arr > 1)
            if bad.any():
                problems.append(f"{name}: must be in [0, 1], got {_first_bad(arr, bad)}")
    if problems:
        raise ConfigError(problems)
    return p, x, o, h
