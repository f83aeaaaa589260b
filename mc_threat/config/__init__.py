"""What to run: the validated configuration (see :mod:`mc_threat.config.load`).

Everything a caller needs is importable from here, as it was when this was one module.
"""

from .load import *  # noqa: F401,F403
from .load import (  # noqa: F401  (names used across the package, not in load.__all__)
    SECTIONS,
    SEED_MAX,
    FiniteFloat,
    StrictInt,
)
