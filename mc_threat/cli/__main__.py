"""``python -m mc_threat.cli``: the same as the ``mc-threat`` command."""

import sys

from .main import main

sys.exit(main())
