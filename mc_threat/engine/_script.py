"""Is the sweep being started from the top level of a script that lacks the
``if __name__ == "__main__":`` guard?

dask's worker processes are started with multiprocessing's *spawn* method, which imports
the main script again in every new process (as ``__mp_main__``). A script that calls
``run_sweep`` at its top level without the guard would then start a sweep inside each
worker while it boots, which Python refuses ("An attempt has been made to start a new
process before the current process has finished its bootstrapping phase", then dask's
"Nanny failed to start"). :func:`unguarded_script_line` finds that situation before any
process is started, so that :func:`mc_threat.engine.sweep.run_sweep` can run in this process
instead; :func:`in_spawned_import` finds the re-import itself, as a last resort.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def in_spawned_import() -> bool:
    """True while a spawned child process (a dask worker starting up) imports the parent's
    main script: starting processes there cannot work."""
    main = sys.modules.get("__main__")
    return getattr(main, "__name__", None) == "__mp_main__"


def unguarded_script_line() -> int | None:
    """The line of the main script whose top-level code (outside an ``if __name__ ==
    "__main__":`` block) is running the caller, or None: when the main module is not a
    script file (interactive Python, Jupyter, ``python -c``, the ``mc-threat`` command),
    when the call comes from inside the guard, or when the script cannot be read."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py"):
        return None
    frame = sys._getframe(1)
    line = None
    while frame is not None:  # the outermost frame running the script's top level
        if frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return None
    try:
        tree = ast.parse(Path(path).read_text(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test) and \
                node.lineno <= line <= (node.end_lineno or node.lineno):
            return None
    return line


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either side)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1
