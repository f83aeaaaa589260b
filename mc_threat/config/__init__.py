"""What to run: the validated configuration.

``base`` (strict types, the frozen base of every validated model) -> ``params`` (model,
generator, run sections) -> ``sweep`` (the sweep section's schema) -> ``load`` (the whole
:class:`Config`, YAML reading, error messages). Everything a caller needs is importable from
here, as it was when this was one module.
"""

from .load import *  # noqa: F401,F403
from .load import (  # noqa: F401  (names used across the package, not in load.__all__)
    SECTIONS,
    SEED_MAX,
    FiniteFloat,
    Frozen,
    StrictInt,
    python_scalar,
)
