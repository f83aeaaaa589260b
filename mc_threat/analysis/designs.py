"""The designs of a sensitivity run: the default factors and sizes used when a config has no
``sweep`` section (:func:`default_sweep`, :func:`with_default_sweep`), and the check that a
config's design can be analysed (:func:`check_sensitivity_design`)."""

from __future__ import annotations

from ..config import ConfigError, config_from_dict

SAMPLED_FOR_ANALYSIS = ("sobol", "morris")


DEFAULT_FACTORS: dict[str, list[float]] = {
    "model.weights.power": [0.0, 1.0],
    "model.weights.proximity": [0.0, 1.0],
    "model.weights.offense": [0.0, 1.0],
    "model.weights.intent": [0.0, 1.0],
    "model.bandwagon_ratio": [0.0, 0.5],
    "model.viability": [0.0, 1.0],
    "model.reach": [0.05, 0.5],
    "generator.power_sigma": [0.5, 2.0],
}
"""Factors and bounds of a sensitivity run whose config has no ``sweep`` section: the four
criterion weights over ``[0, 1]`` (only their ratios matter), then the alignment parameters
and the spread of power around MODEL.md's defaults."""


DEFAULT_SOBOL_SAMPLES = 256


DEFAULT_MORRIS_TRAJECTORIES = 20


WEIGHT_FACTORS = tuple(f"model.weights.{w}" for w in ("power", "proximity", "offense", "intent"))


def default_sweep(design: str = "sobol", *, samples: int | None = None,
                  trajectories: int | None = None, second_order: bool = False,
                  seed: int = 0) -> dict:
    """The ``sweep`` section used when a sensitivity config has none.

    Parameters
    ----------
    design : {'sobol', 'morris'}
    samples : Sobol base sample N (a power of 2; ``N * (D + 2)`` points), default 256.
    trajectories : Morris trajectories (``r * (D + 1)`` points), default 20.
    second_order : Sobol second-order indices (``N * (2 D + 2)`` points).
    seed : the SALib sampler's seed.

    Returns
    -------
    dict
        A ``sweep`` mapping over :data:`DEFAULT_FACTORS`.
    """
    factors = {k: list(v) for k, v in DEFAULT_FACTORS.items()}
    if design == "sobol":
        return {"design": "sobol", "samples": samples or DEFAULT_SOBOL_SAMPLES,
                "second_order": bool(second_order), "seed": seed, "factors": factors}
    if design == "morris":
        return {"design": "morris", "trajectories": trajectories or DEFAULT_MORRIS_TRAJECTORIES,
                "levels": 4, "seed": seed, "factors": factors}
    raise ConfigError(f"--design: must be sobol or morris, got {design!r}")


def with_default_sweep(config, design: str = "sobol", **kwargs):
    """``config`` itself when it has a ``sweep`` section, else ``config`` with
    :func:`default_sweep` (``design``, ``**kwargs``) as its sweep."""
    if config.sweep is not None:
        return config
    d = config.model_dump(mode="python")
    d["sweep"] = default_sweep(design, **kwargs)
    return config_from_dict(d)


def check_sensitivity_design(config):
    """Raise :class:`ConfigError` unless ``config`` has a Sobol or Morris design whose
    every point is valid; return the resolved :class:`~mc_threat.design.Design`.

    A Morris design puts factors on a grid that includes its bounds, so when the four
    weights all have lower bound 0 a point may have all weights 0, which the model
    rejects; the error then says how to avoid it.
    """
    from ..design import design_points

    kind = config.sweep.design if config.sweep is not None else None
    if kind not in SAMPLED_FOR_ANALYSIS:
        raise ConfigError(f"sweep.design: sensitivity analysis needs a sobol or morris design, "
                          f"got {kind or 'no sweep'}")
    try:
        return design_points(config)
    except ConfigError as exc:
        if any("at least one weight must be > 0" in line for line in exc.errors):
            hint = ("sweep: a point has all four weights 0 (undefined threat); Morris levels "
                    "include the bounds, so raise one weight's lower bound (for example "
                    "model.weights.power: [0.05, 1.0]) or change sweep.seed")
            raise ConfigError([exc.errors[0], hint]) from None
        raise
