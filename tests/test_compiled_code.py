"""The kernels that run are the kernels' sources as they are now, never machine code cached
from an earlier version.

numba, left to itself, revalidates a cached kernel against the timestamp of the file that
defines it, and only that file. ``evaluate.py``'s ``threat_matrix_batch`` inlines
``threat_value`` from ``threat.py``, so after an edit of ``threat.py`` a warm cache would keep
running the old code. ``mc_threat/kernels/decorators.py`` stamps every kernel's cache with a
hash of the whole kernels package instead, so that any edit of any kernel invalidates every
cached kernel. The test below proves that on a copy of the package: warm its default cache,
change an inlined kernel, and both a process that reuses the warm cache and a process
isolated the way the test run is (``tests/conftest.py`` gives every test run an empty
``NUMBA_CACHE_DIR`` of its own, which stays as a second guard) compute with the new code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import NUMBA_CACHE_DIR, ROOT

# Runs in a fresh interpreter: argv[1] is the copy's root, argv[2] "isolated" (do what the
# test run does, through conftest) or "default" (numba's own cache beside the sources).
SCRIPT = """
import json, sys
if sys.argv[2] == "isolated":
    sys.path.insert(0, sys.argv[3])
    import conftest  # noqa: F401  (isolates the numba cache on import)
import numpy as np
import mc_threat
from mc_threat.kernels.evaluate import threat_matrix_batch
assert mc_threat.__file__.startswith(sys.argv[1]), mc_threat.__file__
power = np.array([[1.0, 4.0]])
position = np.zeros((1, 2, 2))
offense = np.array([[0.5, 0.5]])
intent = np.array([[[1.0, 0.0]]])
params = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.1, 0.5, 0.0])
out = np.empty((1, 2, 2))
threat_matrix_batch(power, position, offense, intent, params, out)
print(json.dumps([out[0, 0, 1], out[0, 1, 0]]))
"""

ORIGINAL = "return (((wa * a + wd * d) + wo * o) + wi * h) / wsum\n"
EDITED = "return (((wa * a + wd * d) + wo * o) + wi * h) / wsum + 1.0\n"


def _run(copy: Path, mode: str) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(copy)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(copy), mode, str(ROOT / "tests")],
                          cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_this_run_has_its_own_numba_cache():
    import numba

    assert os.environ["NUMBA_CACHE_DIR"] == NUMBA_CACHE_DIR
    assert numba.config.CACHE_DIR == NUMBA_CACHE_DIR
    # not the package's own __pycache__, where a previous run may have left machine code
    assert not Path(NUMBA_CACHE_DIR).resolve().is_relative_to(ROOT / "mc_threat")


def test_an_edited_inlined_kernel_runs_in_the_next_process(tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(ROOT / "mc_threat", copy / "mc_threat",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    # Example 1 of tests/test_reference_hand.py: T_01 = 3/4, T_10 = 5/8.
    assert _run(copy, "default") == [0.75, 0.625]
    cache = copy / "mc_threat" / "kernels" / "__pycache__"
    assert any(f.name.startswith("evaluate.threat_matrix_batch") for f in cache.glob("*.nbi")), \
        "the first run did not cache the kernel"

    threat = copy / "mc_threat" / "kernels" / "threat.py"
    text = threat.read_text()
    assert text.count(ORIGINAL) == 1
    threat.write_text(text.replace(ORIGINAL, EDITED))

    # Isolated as the test run is: the edit is compiled in.
    assert _run(copy, "isolated") == [1.75, 1.625]
    # The warm cache beside the sources: evaluate.py did not change, but the kernels
    # package's stamp did, so the cached machine code of the old threat.py is not used.
    assert _run(copy, "default") == [1.75, 1.625]
