"""Every code block of README.md and docs/*.md runs as written.

The blocks are taken from the Markdown files themselves (fenced with a language), in
document order, and run in one fresh directory prepared with ``mc-threat init`` (the example
configs and cases, as a user who installed the package would have them):

* ``bash``: each command line runs through the ``mc-threat`` of this environment and must
  exit 0. ``make run`` runs the command of the Makefile's ``run`` recipe; ``make test`` is
  this test suite and is not run again. Long commands get a small size appended
  (``--systems`` for sweeps and sensitivity runs, ``--samples``/``--draws`` for a
  calibration); nothing else is changed.
* ``python``: the block is saved as a script and run with this interpreter (``__main__``,
  so a missing ``if __name__ == "__main__":`` guard would show as it does for a user). Only
  the size is made small: lines put before the block give ``run_sweep`` and
  ``run_sensitivity`` a default ``systems``, and ``cases.calibrate_case`` 16 samples and 2
  draws, which a block that sets them keeps.
* ``yaml``: must parse; a block with config sections (``model``, ``generator``, ``run``,
  ``sweep``) must be a valid config.
* ``text``: command synopses; each ``mc-threat COMMAND`` named must exist
  (``mc-threat COMMAND --help`` exits 0).

A block in another language, or without one, fails the test: say what it is.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SMALL_SYSTEMS = 200
FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
CONFIG_KEYS = {"model", "generator", "run", "sweep"}


def blocks() -> list[tuple[str, str, str]]:
    """(id, language, text) of every fenced block, file by file in document order."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", m.group(1), m.group(2)))
    return found


BLOCKS = blocks()
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    _run([BIN / "mc-threat", "init", "."], work)
    return work


def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": ""}


def _run(argv, cwd, timeout=600) -> str:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env())
    assert proc.returncode == 0, (f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
                                  f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _make_recipe(target: str) -> list[str]:
    """The command lines of a Makefile target, with $(BIN) this environment's bin/."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)", str(BIN)))
    return recipe


def _smaller(words: list[str]) -> list[str]:
    """A long command made small: fewer systems per point (or calibration samples)."""
    command = words[1] if len(words) > 1 else ""
    if command in ("sweep", "sensitivity") and "--systems" not in words and not \
            (len(words) > 2 and words[2].endswith(".zarr")):
        return [*words, "--systems", str(SMALL_SYSTEMS)]
    if command == "case" and "--calibrate" in words:
        return [*words, "--samples", "16", "--draws", "2"]
    return words


def _commands(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.split(r"\s+#", line, maxsplit=1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


HARNESS = f"""\
# --- test harness: fewer systems per point, a smaller calibration (a block that sets
# systems, draws or sweep keeps its own) ---
import mc_threat.cases as _ca, mc_threat.analysis.sensitivity as _se, mc_threat.engine.sweep as _sw
def _small(f):
    def g(*a, **k):
        k.setdefault("systems", {SMALL_SYSTEMS})
        return f(*a, **k)
    return g
_sw.run_sweep = _small(_sw.run_sweep)
_se.run_sensitivity = _small(_se.run_sensitivity)
_calibrate = _ca.calibrate_case
def _small_calibration(case, *a, **k):
    sweep = case.calibrate.sweep if case.calibrate.sweep is not None else _ca.DEFAULT_SWEEP
    k.setdefault("sweep", {{**sweep, "samples": 16}})
    k.setdefault("draws", 2)
    return _calibrate(case, *a, **k)
_ca.calibrate_case = _small_calibration
# --- the block ---
"""


def test_every_block_has_a_language_this_test_runs():
    assert BLOCKS, "no code blocks found"
    odd = [(where, lang) for where, lang, _ in BLOCKS
           if lang not in ("bash", "python", "yaml", "text")]
    assert not odd, odd
    assert any(where.startswith("README.md") and lang == "python"
               and "run_sweep" in text for where, lang, text in BLOCKS)


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("where,lang,text", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_block_runs_as_written(workdir, where, lang, text):
    if lang == "yaml":
        data = yaml.safe_load(text)
        assert isinstance(data, dict), where
        if set(data) & CONFIG_KEYS:
            from mc_threat.config import config_from_dict

            config_from_dict(data)  # raises ConfigError naming the field
        return
    if lang == "text":
        names = re.findall(r"^mc-threat (\w+)", text, re.M)
        assert names, where
        for name in names:
            _run([BIN / "mc-threat", name, "--help"], workdir)
        return
    if lang == "python":
        script = workdir / f"block_{where.replace('/', '_').replace(':', '_')}.py"
        script.write_text(HARNESS + text)
        _run([sys.executable, script.name], workdir, timeout=900)
        return
    assert lang == "bash", where
    ran = 0
    for line in _commands(text):
        words = shlex.split(line)
        if words == ["make", "test"]:
            continue  # the test suite itself
        if words == ["make", "run"]:
            for recipe in _make_recipe("run"):
                words = shlex.split(recipe.replace(f"{BIN}/", ""))
                assert words[0] == "mc-threat", recipe
                _run([BIN / "mc-threat", *_smaller(words)[1:]], workdir)
                ran += 1
            continue
        assert words[0] == "mc-threat", f"{where}: {line}"
        _run([BIN / "mc-threat", *_smaller(words)[1:]], workdir, timeout=900)
        ran += 1
    assert ran, f"{where}: nothing ran"
