"""Every command that writes a store keeps the one ``--overwrite`` rule (it replaces only an
mc-threat store or an empty directory, never a directory of someone else's files), and
``info`` and ``plot`` recognise a case calibration store (``mc-threat case NAME --calibrate
--out DIR``): ``info`` describes it, ``plot`` draws its accuracy over the design and its side
probabilities, where both once refused it as "not a results store" or "damaged".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, run_cli, snapshot, write_config

GOOD = {"run": {"seed": 3, "systems": 200, "chunk": 100}}


def users_directory(path: Path) -> Path:
    """A directory of someone's own work (not an mc-threat store)."""
    path.mkdir()
    (path / "thesis.tex").write_text("\\documentclass{article}\n")
    (path / "data").mkdir()
    (path / "data" / "survey.csv").write_text("a,b\n1,2\n")
    return path


def writing_commands(tmp_path: Path) -> dict[str, list]:
    config = write_config(tmp_path / "c.yaml", GOOD)
    return {
        "sweep": ["sweep", config, "--workers", "0", "--quiet", "--overwrite", "--out"],
        "sensitivity": ["sensitivity", config, "--workers", "0", "--quiet", "--overwrite",
                        "--out"],
        "case --calibrate": ["case", "europe_1936", "--calibrate", "--samples", "4",
                             "--draws", "0", "--quiet", "--overwrite", "--out"],
        "history --out": ["history", "--region", "europe", "--years", "1936", "--overwrite",
                          "--out"],
        # discover writes its group into an existing store: a user's directory is refused
        "discover": ["discover", "--outcome", "share_balance", "--above", "0.5"],
    }


@pytest.mark.parametrize("command", ["sweep", "sensitivity", "case --calibrate",
                                     "history --out", "discover"])
def test_overwrite_never_deletes_a_users_files(tmp_path, capsys, command):
    theirs = users_directory(tmp_path / "theirs")
    before = snapshot(theirs)
    code, out, err = run_cli([*writing_commands(tmp_path)[command], theirs], capsys)
    assert_clean_error(code, out, err, str(theirs))
    assert "not an mc-threat" in err, err
    assert snapshot(theirs) == before


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """A small calibration store of europe_1936, made through the command line."""
    from mc_threat.cli import main

    out = tmp_path_factory.mktemp("cal") / "europe_1936.zarr"
    code = main(["case", "europe_1936", "--calibrate", "--samples", "8", "--draws", "4",
                 "--quiet", "--out", str(out)])
    assert code == 0
    return out


def test_info_describes_a_calibration_store(calibration, capsys):
    import mc_threat.cases as C

    code, out, err = run_cli(["info", calibration], capsys)
    assert code == 0, err
    assert "calibration of the case europe_1936" in out
    ds = C.open_calibration(calibration)
    best = int(np.lexsort((np.arange(ds.sizes["point"]), -ds["accuracy_mc"].values[:, 0],
                           -ds["correct"].values))[0])
    m = int(ds.attrs["n_scored"])
    assert f"best point #{best}: balance of threat {int(ds['correct'][best])}/{m}" in out
    assert "damaged" not in out and "not an mc-threat" not in err


def test_plot_draws_a_calibration_store(calibration, tmp_path, capsys):
    from mc_threat.analysis import plot_calibration as pc

    code, out, err = run_cli(["plot", calibration, "--out", tmp_path / "fig", "--format",
                              "png"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert names == ["calibration_accuracy.png", "side_probability.png"]
    ds = pc.open_calibration_store(calibration).load()
    # the side figure's bars are the stored probabilities of the best point, stacked to 1
    fig = pc.side_probability_figure(ds)
    widths = np.array([p.get_width() for p in fig.axes[0].patches])
    n, sides = ds.sizes["state"], ds.sizes["side"]
    bars = widths.reshape(sides, n).T
    assert np.allclose(bars, ds["side_probability"].values[pc.best_point(ds)])
    assert np.allclose(bars.sum(axis=1), 1.0)
    # the accuracy figure's dots are the design's accuracies, best first
    dots = fig_line(pc.calibration_accuracy_figure(ds), "balance of threat")
    assert list(dots) == sorted(ds["accuracy"].values, reverse=True)


def fig_line(fig, label):
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == label)
    return line.get_ydata()


def test_plot_options_of_a_results_store_are_refused_for_a_calibration(calibration,
                                                                       tmp_path, capsys):
    code, out, err = run_cli(["plot", calibration, "--out", tmp_path / "f", "--heatmap",
                              "a,b"], capsys)
    assert_clean_error(code, out, err, "--heatmap")
    assert not (tmp_path / "f").exists()


def test_store_kind(calibration, tmp_path):
    from mc_threat.store import store_kind

    assert store_kind(calibration) == "calibration"
    assert store_kind(users_directory(tmp_path / "u")) is None
    assert store_kind(tmp_path / "missing") is None
