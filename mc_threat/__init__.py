"""mc_threat: batch Monte Carlo engine for Walt's balance-of-threat theory of alliances.

The public API::

    from mc_threat import generate_systems, Systems, ModelParams, evaluate, threat_matrix

See MODEL.md in the docs for what is computed.
"""

from .config import Config, ConfigError, GeneratorParams, ModelParams, load_config
from .kernels import BALANCE, BANDWAGON, NEUTRAL, OUTCOMES
from .model.batch import Evaluation, evaluate, threat_matrix
from .model.generate import generate_systems
from .model.systems import Systems
from .store import open_reservoir, open_results

__version__ = "0.3.0"

__all__ = [
    "BALANCE",
    "BANDWAGON",
    "NEUTRAL",
    "OUTCOMES",
    "Config",
    "ConfigError",
    "Evaluation",
    "GeneratorParams",
    "ModelParams",
    "Systems",
    "evaluate",
    "generate_systems",
    "load_config",
    "open_reservoir",
    "open_results",
    "threat_matrix",
]
