"""The one compile point: how every compiled function of mc-threat is compiled and cached.

Every kernel is decorated with one of

* :func:`kernel`: a compiled function called from Python or from other kernels
  (``nogil=True`` for the case kernels, which run in threads);
* :func:`inline`: a building block inlined into the kernels that call it (numba IR
  inlining, ``inline="always"``), so that the engine's loop is one compiled function;
* :func:`parallel_kernel`: a kernel whose ``prange`` loops run on numba's threads;
* :func:`vector_kernel`: a kernel whose divisions cannot divide by zero by construction (the
  engine's elementary functions, the generator, the profile's plain loops), compiled
  without numba's zero-division checks (error model ``"numpy"``): a check inside a loop is
  a branch that keeps the loop from running as vector code. The results are the same
  either way.

and nothing else sets numba flags: the cache (on), the error model (numba's default,
``"python"``: the kernels were written and tested with it, and a division by zero raises
rather than returning inf) and fastmath (off: results must be bit-identical to the NumPy and
plain-Python references) are decided here for all.

How caches are invalidated
--------------------------
numba keeps compiled machine code beside the sources (``kernels/__pycache__``) or in
``NUMBA_CACHE_DIR``, and by default checks it only against the modification time and size
of the file that defines the cached function. A kernel that inlines a building block from
another file (``evaluate.py`` inlining ``threat.py``) would then keep running the old
building block after an edit. Here every kernel's cache is stamped instead with one hash of
the text of every ``.py`` file in this package (:data:`KERNELS_STAMP`): editing any kernel,
or this file, invalidates every cached kernel, and the next call compiles afresh (about a
minute on 2 cores). Nothing else is needed; ``make clean-cache`` only frees the disk space.
The test run also compiles into a fresh, empty ``NUMBA_CACHE_DIR`` (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba import njit
from numba.core import caching

KERNELS_DIR = Path(__file__).resolve().parent

CACHE = True
ERROR_MODEL = "python"
FASTMATH = False


def kernels_stamp(directory: Path = KERNELS_DIR) -> str:
    """sha256 of the names and texts of every ``.py`` file in ``directory`` (sorted)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


KERNELS_STAMP = kernels_stamp()
"""The stamp every cached kernel is checked against (see the module docstring)."""


def _in_kernels(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().parent == KERNELS_DIR
    except OSError:
        return False


class _KernelsStamped:
    """Cache locator mix-in: the stamp of the whole kernels package, not of one file."""

    def get_source_stamp(self):
        return KERNELS_STAMP

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _in_kernels(py_file):
            return None
        return super().from_function(py_func, py_file)


class _KernelsInCacheDir(_KernelsStamped, caching.UserProvidedCacheLocator):
    """Kernels cached in ``NUMBA_CACHE_DIR`` when it is set."""


class _KernelsInTree(_KernelsStamped, caching.InTreeCacheLocator):
    """Kernels cached in ``kernels/__pycache__`` otherwise."""


def _install_locators() -> None:
    classes = caching.CacheImpl._locator_classes
    for cls in (_KernelsInTree, _KernelsInCacheDir):  # the cache dir one ends up first
        if cls not in classes:
            classes.insert(0, cls)


_install_locators()


def kernel(fn=None, *, nogil: bool = False):
    """Compile ``fn`` as a cached kernel (``@kernel`` or ``@kernel(nogil=True)``)."""
    decorate = njit(cache=CACHE, nogil=nogil, error_model=ERROR_MODEL, fastmath=FASTMATH)
    return decorate if fn is None else decorate(fn)


def inline(fn):
    """Compile ``fn`` as a building block inlined into the kernels that call it."""
    return njit(inline="always", cache=CACHE, error_model=ERROR_MODEL, fastmath=FASTMATH)(fn)


def vector_kernel(fn):
    """Compile ``fn`` as a cached kernel without zero-division checks (see above)."""
    return njit(cache=CACHE, error_model="numpy", fastmath=FASTMATH)(fn)


def parallel_kernel(fn):
    """Compile ``fn`` as a cached kernel whose ``prange`` loops run in parallel."""
    return njit(parallel=True, cache=CACHE, error_model=ERROR_MODEL, fastmath=FASTMATH)(fn)
