"""The notebook workflow: notebooks/explore_results.ipynb runs, for real, on a small store.

The notebook is executed with nbclient in a Jupyter kernel (``python3``, which must be this
virtual environment's interpreter, checked below) against a store made here, so that it
cannot silently rot as the store or the plotting code change. Its jupytext twin
(``explore_results.py``) must hold the same cells.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mc_threat.analysis.sensitivity import run_sensitivity
from mc_threat.config import config_from_dict
from mc_threat.engine.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore_results.ipynb"
TWIN = ROOT / "notebooks" / "explore_results.py"

SMALL = {
    "model": {"n_states": 6},
    "run": {"seed": 99, "systems": 200, "chunk": 100},
    "sweep": {"design": "sobol", "samples": 8, "seed": 1,
              "factors": {"model.weights.power": [0.0, 1.0],
                          "model.weights.offense": [0.0, 1.0],
                          "model.bandwagon_ratio": [0.0, 0.5]}},
}


GRID = {
    "model": {"n_states": 6},
    "run": {"seed": 98, "systems": 200, "chunk": 100},
    "sweep": {"design": "grid", "factors": {"model.weights.offense": [0.0, 1.0],
                                            "model.weights.intent": [0.0, 0.5, 1.0]}},
}


def code_cells(nb) -> list[str]:
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


def test_ipynb_and_py_twins_hold_the_same_cells():
    import jupytext
    import nbformat

    ipynb = nbformat.read(NOTEBOOK, as_version=4)
    py = jupytext.read(TWIN)
    assert code_cells(ipynb) == code_cells(py)
    assert [c.source.strip() for c in ipynb.cells if c.cell_type == "markdown"] == \
        [c.source.strip() for c in py.cells if c.cell_type == "markdown"]
    # committed without outputs, for the kernel named python3
    assert all(not c.get("outputs") for c in ipynb.cells if c.cell_type == "code")
    assert ipynb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.timeout(400)
def test_notebook_runs_on_a_small_store(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    store = tmp_path / "small.zarr"
    run_sensitivity(config_from_dict(SMALL), store, workers=0, progress=False)
    grid = tmp_path / "grid.zarr"
    run_sweep(config_from_dict(GRID), grid, workers=0, progress=False)
    figures = tmp_path / "figures"
    # the kernel inherits this environment
    monkeypatch.setenv("MC_THREAT_STORE", str(store))
    monkeypatch.setenv("MC_THREAT_GRID_STORE", str(grid))
    monkeypatch.setenv("MC_THREAT_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    n_cells = len(nb.cells)
    probe = nbformat.v4.new_code_cell("import sys; print(repr(sys.prefix))")
    nb.cells.insert(0, probe)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    assert len(nb.cells) == n_cells + 1
    # the kernel is this virtual environment's interpreter
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert printed.strip() == repr(sys.prefix)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning:" not in stderr, stderr  # no Python warning from the notebook's code
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # scatter, S1/ST bars, ST overview, binned heatmap, grid heatmap, choices, BoT/BoP, 4
    # paper figures
    assert len(images) >= 11, len(images)
    text = "".join(o.get("text", "") for o in outputs)
    assert "design:  sobol" in text
    # the grid section: groupby on a factor, then one dimension per factor
    assert "contained by model.weights.intent, averaged over the other factors:" in text
    assert ("{'model.weights.offense': 2, 'model.weights.intent': 3, 'stat': 6}" in text), text
    # plot_store wrote the paper figures where the notebook was told to
    written = sorted(p.name for p in figures.iterdir())
    for name in ("indices_contained.png", "indices_contained.pdf", "choice_by_power.pdf",
                 "bot_vs_bop.png", "heatmap_contained.png", "indices_overview.pdf"):
        assert name in written, (name, written)
    assert f"{len(written)} files in {figures}" in text
