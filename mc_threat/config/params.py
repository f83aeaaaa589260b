"""The sections of a configuration that describe the model and a run: :class:`ModelParams`
(with :class:`Weights`), :class:`GeneratorParams` (with :class:`Kumaraswamy`) and
:class:`RunParams`. Every field has the default of MODEL.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_serializer, model_validator

from .base import FiniteFloat, Frozen, StrictInt, empty_sections_to_defaults, python_scalar

SEED_MAX = 2**63 - 1
"""Largest accepted seed (the counter-based generator keys on 64-bit words)."""



# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class Weights(Frozen):
    """Weights of the four sources of threat (MODEL.md section 2).

    Parameters
    ----------
    power, proximity, offense, intent : float, default 1.0
        Non-negative, finite weights ``w_A, w_D, w_O, w_I`` of aggregate power, geographic
        proximity, offensive capability and offensive intentions. Only their ratios matter
        (the threat divides by their sum), and at least one must be positive.
    """

    power: FiniteFloat = Field(1.0, ge=0)
    proximity: FiniteFloat = Field(1.0, ge=0)
    offense: FiniteFloat = Field(1.0, ge=0)
    intent: FiniteFloat = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> Weights:
        total = ((self.power + self.proximity) + self.offense) + self.intent
        if total <= 0:
            raise ValueError("at least one weight must be > 0")
        if not math.isfinite(total):
            raise ValueError(f"the weights must have a finite sum (the threat divides by it), "
                             f"got {total}")
        return self


class ModelParams(Frozen):
    """Parameters of threat assessment and alignment choice (MODEL.md sections 1-3).

    Parameters
    ----------
    n_states : int, default 16
        Number of states per system, ``2 <= n_states <= 100000``.
    form : {'additive', 'multiplicative'}, default 'additive'
        How the four criteria combine into a threat score.
    weights : Weights, default all 1.0
        Criterion weights; a (partial) mapping is accepted.
    reach : float, default 0.25
        Distance scale of the proximity term ``exp(-d / reach)``; ``> 0``.
    bandwagon_ratio : float, default 0.1
        beta in ``[0, 1]``: a state bandwagons when its power is below beta times the power
        of its principal threat.
    viability : float, default 0.5
        alpha ``>= 0``: balancers weaker than their threat bandwagon when the balancing
        coalition has less than alpha times the power of the threat's side. 0 switches
        the viability step off.
    neutral_below : float, default 0.0
        A state stays neutral when its principal threat level is below this; ``>= 0``.
    """

    n_states: StrictInt = Field(16, ge=2, le=100_000)
    form: Literal["additive", "multiplicative"] = "additive"
    weights: Weights = Field(default_factory=Weights)
    reach: FiniteFloat = Field(0.25, gt=0)
    bandwagon_ratio: FiniteFloat = Field(0.1, ge=0, le=1)
    viability: FiniteFloat = Field(0.5, ge=0)
    neutral_below: FiniteFloat = Field(0.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _empty_weights(cls, data: Any) -> Any:
        return empty_sections_to_defaults(data, ("weights",))

    def weight_vector(self) -> tuple[float, float, float, float]:
        """Return the weights in the order ``(power, proximity, offense, intent)``.

        Returns
        -------
        tuple of 4 float
            ``(w_A, w_D, w_O, w_I)``, the order used by the kernels.
        """
        w = self.weights
        return (w.power, w.proximity, w.offense, w.intent)


class Kumaraswamy(Frozen):
    """A Kumaraswamy(a, b) distribution on ``[0, 1]``: ``x = (1 - (1 - u)^(1/b))^(1/a)``.

    Parameters
    ----------
    a, b : float
        Finite shape parameters, both ``> 0``. Required here; the sections that use this
        model (:class:`GeneratorParams`) supply their own defaults.
    """

    a: FiniteFloat = Field(gt=0)
    b: FiniteFloat = Field(gt=0)


_OFFENSE_DEFAULT = {"a": 2.0, "b": 2.0}
_INTENT_DEFAULT = {"a": 1.0, "b": 3.0}


class GeneratorParams(Frozen):
    """How randomized state systems are drawn (MODEL.md section 6).

    Parameters
    ----------
    power_sigma : float, default 1.0
        Log-scale spread sigma of the power components, in ``[0, 20]``.
    power_corr : float, default 0.7
        Correlation rho in ``[0, 1]`` between a state's three power components.
    offense : Kumaraswamy, default a=2, b=2
        Distribution of offensive posture ``o_i``.
    intent : Kumaraswamy, default a=1, b=3
        Distribution of (monadic) intent ``h_j``.

    Notes
    -----
    A partial mapping for ``offense`` or ``intent`` keeps the default of the shape it omits:
    ``{'offense': {'a': 3}}`` means Kumaraswamy(3, 2).
    """

    power_sigma: FiniteFloat = Field(1.0, ge=0, le=20)
    power_corr: FiniteFloat = Field(0.7, ge=0, le=1)
    offense: Kumaraswamy = Field(default_factory=lambda: Kumaraswamy(**_OFFENSE_DEFAULT))
    intent: Kumaraswamy = Field(default_factory=lambda: Kumaraswamy(**_INTENT_DEFAULT))

    @model_validator(mode="before")
    @classmethod
    def _fill_partial_distributions(cls, data: Any) -> Any:
        data = empty_sections_to_defaults(data, ("offense", "intent"))
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for name, default in (("offense", _OFFENSE_DEFAULT), ("intent", _INTENT_DEFAULT)):
            if isinstance(data.get(name), Mapping):
                data[name] = {**default, **data[name]}
        return data


_DEFAULT_CHUNK = 100_000


class RunParams(Frozen):
    """Size and seed of a Monte Carlo run.

    Parameters
    ----------
    seed : int, default 20260101
        Key of the counter-based generator, ``0 <= seed <= 2**63 - 1``.
    systems : int, default 1000000
        Number of random systems per sweep point, ``>= 1``.
    chunk : int, default ``min(100000, systems)``
        Systems per task, ``1 <= chunk <= systems``. Results do not depend on it. When
        omitted it is capped at ``systems``, so ``{'systems': 1000}`` alone is valid; an
        explicit chunk larger than ``systems`` is an error.
    reservoir : int, default 0
        Keep the outcomes and attributes of the first ``reservoir`` systems (indices
        ``0 .. reservoir - 1``, the same systems at every point that shares ``n`` and the
        generator) at every point, in the store's ``reservoir`` group (read it with
        :func:`mc_threat.store.open_reservoir`; ``mc-threat features`` scores it). At most
        ``chunk``. 0 keeps none; a config without it hashes as before it existed.
    """

    seed: StrictInt = Field(20260101, ge=0, le=SEED_MAX)
    systems: StrictInt = Field(1_000_000, ge=1)
    chunk: StrictInt = Field(_DEFAULT_CHUNK, ge=1)
    reservoir: StrictInt = Field(0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _default_chunk_within_systems(cls, data: Any) -> Any:
        # Defaults are not validated by pydantic: without this, a small `systems` and the
        # default chunk would build an object that violates chunk <= systems.
        if isinstance(data, Mapping) and "chunk" not in data:
            systems = python_scalar(data.get("systems"))
            if isinstance(systems, int) and not isinstance(systems, bool) and systems >= 1:
                return {**data, "chunk": min(_DEFAULT_CHUNK, systems)}
        return data

    @field_validator("chunk")
    @classmethod
    def _chunk_within_systems(cls, chunk: int, info: ValidationInfo) -> int:
        # `systems` is validated first (field order); it is absent when it was itself invalid.
        systems = info.data.get("systems")
        if systems is not None and chunk > systems:
            raise ValueError(f"must not exceed run.systems ({systems}), got {chunk}")
        return chunk

    @field_validator("reservoir")
    @classmethod
    def _reservoir_within_chunk(cls, reservoir: int, info: ValidationInfo) -> int:
        # Every kept system lies in the first chunk, computed by the first task of a block.
        chunk = info.data.get("chunk")
        if chunk is not None and reservoir > chunk:
            raise ValueError(f"must not exceed run.chunk ({chunk}): the kept systems are the "
                             f"first chunk's, got {reservoir}")
        return reservoir

    @model_serializer(mode="wrap")
    def _omit_no_reservoir(self, handler):
        # A config that keeps no reservoir serializes (and hashes, and is stored) exactly as
        # before the field existed, so stores made before it still resume.
        data = handler(self)
        if isinstance(data, dict) and data.get("reservoir") == 0:
            data.pop("reservoir")
        return data
