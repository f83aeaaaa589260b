"""Pure numba kernels. They import nothing from the rest of the package."""

from .alignment import BALANCE, BANDWAGON, NEUTRAL
from .outcomes import (
    N_CHOICES,
    N_OUTCOMES,
    N_POWER_BINS,
    OUTCOMES,
    POWER_BIN_EDGES,
    power_bin_edges,
)
from .threat import N_PARAMS

__all__ = [
    "BALANCE",
    "BANDWAGON",
    "NEUTRAL",
    "N_CHOICES",
    "N_OUTCOMES",
    "N_PARAMS",
    "N_POWER_BINS",
    "OUTCOMES",
    "POWER_BIN_EDGES",
    "power_bin_edges",
]
