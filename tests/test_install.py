"""A plain (not editable) install ships what the README's commands need.

How this proves it, without downloading the dependencies again:

1. The tracked source tree is copied to a temporary directory (no ``.venv``, no build
   leftovers, no numba caches), so nothing of this checkout can leak into the build.
2. ``pip wheel --no-deps`` builds the wheel from that copy, exactly as ``pip install .``
   would before installing it (with build isolation: pip fetches the build backend from
   the package index or its cache).
3. A new virtual environment is made from the base interpreter, empty (no
   ``--system-site-packages``), and the wheel is installed into it with ``--no-deps
   --no-index``. The dependencies (numba, dask, xarray, ...) are reached through one
   ``.pth`` line naming the site-packages of the environment running the tests. A ``.pth``
   line only appends a directory to ``sys.path``; it does not run the ``.pth`` files inside
   it, so this checkout's editable install (a ``.pth`` hook there) is *not* active: the
   test checks that ``mc_threat`` is imported from the new environment's copy.
4. From an empty temporary directory (no ``configs/`` near it), the installed
   ``mc-threat`` script runs ``case europe_1936`` (the case must come from package data)
   and ``init`` (the example configs must be in the package), then a small sweep of the
   copied ``configs/default.yaml``.

The installed package compiles its numba kernels afresh (its files are new to numba's
cache), which is most of this test's time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "build", "results", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _copy_source(dest: Path) -> None:
    def ignore(_dir, names):
        return [n for n in names if n in SKIP or n.endswith((".egg-info", ".nbi", ".nbc"))]

    shutil.copytree(ROOT, dest, symlinks=True, ignore=ignore)


def _run(argv, cwd, timeout=600, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, f"{argv} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_plain_install_runs_a_case_and_init_from_any_directory(tmp_path):
    src = tmp_path / "src"
    _copy_source(src)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, src],
         cwd=tmp_path)
    (wheel,) = wheels.glob("mc_threat-*.whl")

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    py = venv / "bin" / "python"
    purelib = _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=tmp_path).stdout.strip()
    Path(purelib, "mc_threat_test_deps.pth").write_text(sysconfig.get_paths()["purelib"]
                                                         + "\n")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps",
          "--no-index", wheel], cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = _run([py, "-c", "import mc_threat; print(mc_threat.__file__)"], cwd=work,
                 env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), f"mc_threat imported from {where}"
    script = venv / "bin" / "mc-threat"

    case = _run([script, "case", "europe_1936"], cwd=work, env=env).stdout
    assert case.startswith("case europe_1936:") and "GMY" in case, case[:2000]
    assert Path(purelib, "mc_threat", "data", "configs", "cases",
                "europe_1936.yaml").is_file()

    _run([script, "init", "."], cwd=work, env=env)
    assert (work / "configs" / "default.yaml").is_file()
    assert (work / "configs" / "cases" / "europe_1914_states.csv").is_file()
    assert not (work / "configs" / "invalid").exists()
    out = _run([script, "sweep", "configs/default.yaml", "--systems", "2000", "--workers",
                "0", "--quiet"], cwd=work, env=env)
    assert out.returncode == 0
    info = _run([script, "info", "results/default.zarr"], cwd=work, env=env).stdout
    assert "status:    complete" in info
