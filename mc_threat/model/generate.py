"""Randomized state systems (MODEL.md section 6): the Python face of the generator.

The generator draws every attribute from :mod:`mc_threat.kernels.rng`, keyed by
``(seed, system index, draw index)``, so systems do not depend on how a run is chunked
or how many threads generate them.
"""

from __future__ import annotations

import numpy as np

from ..kernels.generate import generate_batch
from ..kernels.rng import MAX_STATES, MAX_SYSTEMS
from .systems import Systems


def generator_vector(generator) -> np.ndarray:
    """The generator settings as the float64 vector the kernels take."""
    return np.array(
        [
            generator.power_sigma,
            generator.power_corr,
            generator.offense.a,
            generator.offense.b,
            generator.intent.a,
            generator.intent.b,
        ],
        dtype=np.float64,
    )


def n_blocks(count: int) -> int:
    """Parallel blocks for ``count`` systems: a few per thread, at most one per system."""
    import numba

    return max(1, min(count, 4 * numba.get_num_threads()))


def generate_systems(generator=None, n_states: int = 16, seed: int = 0, start: int = 0,
                     count: int = 1) -> Systems:
    """Generate ``count`` random systems with indices ``start .. start + count - 1``.

    Parameters
    ----------
    generator : GeneratorParams, dict or None
        Generator settings (MODEL.md section 6); a dict may give any subset of the fields,
        the rest take their defaults; None means all defaults.
    n_states : int
        States per system, ``2 <= n_states <= 131072``.
    seed : int
        Run seed, ``0 <= seed < 2**63``.
    start, count : int
        Index of the first system and number of systems.

    Returns
    -------
    Systems
        ``power (count, n)``, ``position (count, n, 2)``, ``offense (count, n)`` and
        monadic ``intent (count, n)``.
    """
    from ..config import ConfigError, coerce_generator

    gen = coerce_generator(generator)
    problems = []
    if not isinstance(n_states, (int, np.integer)) or isinstance(n_states, bool):
        problems.append(f"n_states: must be an integer, got {n_states!r}")
    elif not 2 <= n_states <= MAX_STATES:
        problems.append(f"n_states: must be between 2 and {MAX_STATES}, got {n_states}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        problems.append(f"seed: must be an integer in [0, 2**63), got {seed!r}")
    if not isinstance(start, (int, np.integer)) or isinstance(start, bool) or start < 0:
        problems.append(f"start: must be a non-negative integer, got {start!r}")
    if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 0:
        problems.append(f"count: must be a non-negative integer, got {count!r}")
    if not problems and int(start) + int(count) > MAX_SYSTEMS:
        problems.append(
            f"start + count: system indices must stay below 2**44, got {int(start) + int(count)}"
        )
    if problems:
        raise ConfigError(problems)
    return generate_from_vector(generator_vector(gen), int(n_states), int(seed), int(start),
                                int(count))


def generate_from_vector(gen: np.ndarray, n: int, seed: int, start: int,
                         count: int) -> Systems:
    """:func:`generate_systems` from the generator vector (:func:`generator_vector`), without
    checking its arguments: for the engine, whose configs were validated already."""
    power = np.empty((count, n))
    position = np.empty((count, n, 2))
    offense = np.empty((count, n))
    intent = np.empty((count, n))
    if count:
        generate_batch(np.uint64(seed), np.int64(start), np.ascontiguousarray(gen, np.float64),
                       n_blocks(count), power, position, offense, intent)
    return Systems(power=power, position=position, offense=offense, intent=intent,
                   validate=False)
