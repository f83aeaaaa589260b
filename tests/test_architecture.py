"""The package's architecture is checked by a tool, not by hand (docs/architecture.md).

The import-linter contracts in pyproject.toml (layers that import one way, kernels that
import nothing of the package, no import circle inside any package, imports written inside
functions included) must hold; a copy of the package with one import against the arrows must
break them, so the check is known to bite. And no module takes a private name (``_name``)
from another module.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mc_threat"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, env_path: Path | None = None) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: import-linter is in the test extra")
    env = None
    if env_path is not None:
        import os

        env = {**os.environ, "PYTHONPATH": str(env_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize("module, line, broken", [
    # the store planning a run (it once asked the sweep to check a config's size)
    ("store.py", "    from .engine import tasks  # noqa\n", "layers"),
    # a kernel reaching into the configuration
    ("kernels/stats.py", "    from ..config import ConfigError  # noqa\n", "kernels"),
    # a circle inside one package: the analysis helpers importing the Sobol' module
    ("analysis/common.py", "    from . import sensitivity  # noqa\n", "circle"),
])
def test_import_contracts_catch_a_wrong_arrow(tmp_path, module, line, broken):
    """One import against the arrows, written inside a function, breaks the contracts."""
    shutil.copytree(PACKAGE, tmp_path / "mc_threat",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "mc_threat" / module
    target.write_text(target.read_text() + "\n\ndef _against_the_arrows():\n" + line)
    proc = lint_imports(tmp_path, env_path=tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    names = {"layers": "layers import one way", "kernels": "Compiled kernels",
             "circle": "No import circle"}
    broken_part = proc.stdout.split("Broken contracts", 1)[-1]
    assert names[broken] in broken_part, proc.stdout


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``from X import _name`` in this module where X is another module of the package."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(
                "mc_threat")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    out.append(f"{path.relative_to(root)}:{node.lineno}: {alias.name}")
    return out


def test_no_private_name_imported_across_modules():
    found = [hit for p in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(p)]
    assert found == []


def test_the_private_name_check_sees_one(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from .store import _secret, public\n"
                 "    from .x import __version__\n")
    assert private_imports(f, tmp_path) == ["m.py:2: _secret"]


def test_compiled_code_only_in_kernels_through_one_compile_point():
    """No numba compilation outside ``mc_threat/kernels``, and inside it every kernel goes
    through ``kernels/decorators.py`` (which alone imports numba's ``njit``). The one
    documented exception: the two bit-cast intrinsics of ``kernels/elementary.py``."""
    compile_point = PACKAGE / "kernels" / "decorators.py"
    bit_casts = PACKAGE / "kernels" / "elementary.py"
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == compile_point:
            continue
        compilers = {"njit", "jit", "vectorize", "guvectorize", "cfunc", "stencil",
                     "generated_jit", "overload", "overload_method"}
        if path != bit_casts:
            compilers.add("intrinsic")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("numba"):
                bad = {a.name for a in node.names} & compilers
                if bad:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {sorted(bad)}")
            if isinstance(node, ast.Attribute) and node.attr in ("njit", "jit") and \
                    isinstance(node.value, ast.Name) and node.value.id == "numba":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: numba.{node.attr}")
    assert found == []


def test_every_kernel_cache_is_stamped_by_the_whole_kernels_package(tmp_path):
    """The stamp that invalidates cached kernels changes with any kernel file's text."""
    from mc_threat.kernels import decorators, stats

    locator = stats.merge_moments._cache._impl.locator
    assert isinstance(locator, decorators._KernelsStamped)
    assert locator.get_source_stamp() == decorators.KERNELS_STAMP == decorators.kernels_stamp()
    copy = tmp_path / "kernels"
    shutil.copytree(PACKAGE / "kernels", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = decorators.kernels_stamp(copy)
    assert before == decorators.KERNELS_STAMP
    threat = copy / "threat.py"
    threat.write_text(threat.read_text() + "\n# an edit\n")
    assert decorators.kernels_stamp(copy) != before
