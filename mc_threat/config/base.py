"""The building blocks every validated model of mc-threat uses: strict number types, the
NumPy-scalar unwrapper and :class:`Frozen`, the one base class of validated models (frozen,
unknown keys refused). Configs, sweep designs, case files and data-build specs all use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Strict

# ---------------------------------------------------------------------------------------------
# Strict number types
# ---------------------------------------------------------------------------------------------


def python_scalar(value: Any) -> Any:
    """Turn a NumPy scalar (or 0-d array) into the equivalent Python object.

    Duck-typed so that this module does not import NumPy. ``np.bool_`` becomes ``bool`` and is
    then rejected by the strict number types, exactly like a Python ``True``.
    """
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


FiniteFloat = Annotated[
    float, Strict(), AllowInfNan(False), BeforeValidator(python_scalar)
]
"""A finite float; ints are accepted (stored as float), bools and strings are not."""

StrictInt = Annotated[int, Strict(), BeforeValidator(python_scalar)]
"""An int; bools, floats (even integral ones) and strings are rejected."""


def empty_sections_to_defaults(data: Any, names: Iterable[str]) -> Any:
    """Drop sub-sections given as ``None`` so that they take their defaults.

    A YAML section whose every line is commented out (``model:`` followed by nothing) loads
    as ``None``; treating it as "all defaults" is what a user means by it.
    """
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if not (k in names and v is None)}
    return data


class Frozen(BaseModel):
    """Base of all validated models: frozen, unknown keys forbidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)
