"""Monte Carlo moments: fixed-order accumulation and Chan et al.'s pairwise merge.

A moment record is ``(count, mean, m2, min, max)`` along the last axis, where ``m2`` is
the sum of squared deviations from the mean. Records are merged in a fixed order (sub-block
index within a chunk, then chunk index within a run), so a result never depends on which
thread or worker computed which part.
"""

from __future__ import annotations

import numpy as np

from .decorators import kernel

M_COUNT = 0
M_MEAN = 1
M_M2 = 2
M_MIN = 3
M_MAX = 4
N_MOMENTS = 5


@kernel
def empty_moments(shape0, shape1):
    """Moment records of zero observations, (shape0, shape1, N_MOMENTS)."""
    out = np.zeros((shape0, shape1, N_MOMENTS))
    out[:, :, M_MIN] = np.inf
    out[:, :, M_MAX] = -np.inf
    return out


@kernel
def merge_moments(acc, part):
    """Merge moment records ``part`` into ``acc`` in place (both (a, b, N_MOMENTS)).

    Chan, Golub and LeVeque's update: with ``n = n_A + n_B`` and
    ``delta = mean_B - mean_A``, ``mean = mean_A + delta n_B / n`` and
    ``m2 = m2_A + m2_B + delta^2 n_A n_B / n``.
    """
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            nb = part[i, j, M_COUNT]
            if nb == 0.0:
                continue
            na = acc[i, j, M_COUNT]
            if na == 0.0:
                for k in range(N_MOMENTS):
                    acc[i, j, k] = part[i, j, k]
                continue
            n = na + nb
            delta = part[i, j, M_MEAN] - acc[i, j, M_MEAN]
            acc[i, j, M_MEAN] = acc[i, j, M_MEAN] + delta * (nb / n)
            acc[i, j, M_M2] = acc[i, j, M_M2] + part[i, j, M_M2] + delta * delta * (na * nb / n)
            acc[i, j, M_COUNT] = n
            acc[i, j, M_MIN] = min(acc[i, j, M_MIN], part[i, j, M_MIN])
            acc[i, j, M_MAX] = max(acc[i, j, M_MAX], part[i, j, M_MAX])


def summary_from_moments(mom: np.ndarray) -> dict[str, np.ndarray]:
    """``mean, std, sem, count, min, max`` from moment records (..., N_MOMENTS).

    ``std`` is the sample standard deviation (``ddof = 1``; 0 for a single observation)
    and ``sem = std / sqrt(count)``.
    """
    count = mom[..., M_COUNT]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(count > 1, mom[..., M_M2] / np.maximum(count - 1, 1), 0.0)
        std = np.sqrt(np.maximum(var, 0.0))
        sem = np.where(count > 0, std / np.sqrt(np.maximum(count, 1)), np.nan)
    mean = np.where(count > 0, mom[..., M_MEAN], np.nan)
    return {
        "mean": mean,
        "std": std,
        "sem": sem,
        "count": count,
        "min": np.where(count > 0, mom[..., M_MIN], np.nan),
        "max": np.where(count > 0, mom[..., M_MAX], np.nan),
    }
