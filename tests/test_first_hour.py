"""What a new user meets in the first hour (issue 15): ``mc-threat init``, ``info``'s help
and its analysis line, the message for a store that does not exist, the summary table's
title, and rerunning ``case --calibrate``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli, write_config

ROOT = Path(__file__).resolve().parents[1]


def test_init_copies_the_shipped_configs_and_cases_and_never_replaces(tmp_path, capsys):
    dest = tmp_path / "work"
    code, out, err = run_cli(["init", dest], capsys)
    assert code == 0, err
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    # the repository's configs/ (invalid/ is the tests' corpus, not an example)
    shipped = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*")
                     if p.is_file() and "invalid" not in p.parts)
    assert copied == shipped and "configs/cases/europe_1936.yaml" in copied
    for rel in copied:
        assert (dest / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
    assert "mc-threat sweep configs/default.yaml" in out
    # a second init refuses and writes nothing, even after the user edited a copy
    (dest / "configs" / "default.yaml").write_text("# mine\n")
    (dest / "configs" / "weights_grid.yaml").unlink()
    code, out, err = run_cli(["init", dest], capsys)
    assert_clean_error(code, out, err, str(dest), "already exist", "nothing was copied")
    assert (dest / "configs" / "default.yaml").read_text() == "# mine\n"
    assert not (dest / "configs" / "weights_grid.yaml").exists()


def test_init_into_a_file_is_a_clean_error(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    code, out, err = run_cli(["init", target], capsys)
    assert_clean_error(code, out, err, str(target), "cannot write")
    assert target.read_text() == "x"


def test_a_missing_store_is_said_not_to_exist(tmp_path, capsys):
    for cmd in (["info"], ["plot"]):
        code, out, err = run_cli([*cmd, tmp_path / "nothere.zarr"], capsys)
        assert_clean_error(code, out, err, "nothere.zarr", "does not exist")
    (tmp_path / "f.zarr").write_text("x")
    code, out, err = run_cli(["info", tmp_path / "f.zarr"], capsys)
    assert_clean_error(code, out, err, "f.zarr", "is a file")


def test_info_help_says_what_it_reports(capsys):
    code, out, _ = run_cli(["info", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    for words in ("complete, incomplete", "damaged", "sensitivity analysis", "--resume",
                  "STORE"):
        assert words in text, words


def test_summary_says_what_plus_minus_is_and_info_names_the_analysis(tmp_path, capsys):
    cfg = write_config(tmp_path / "s.yaml", {
        "model": {"n_states": 5}, "run": {"seed": 2, "systems": 200, "chunk": 100},
        "sweep": {"design": "sobol", "samples": 4, "second_order": False,
                  "factors": {"model.weights.power": [0, 1], "model.reach": [0.1, 0.5]}}})
    store = tmp_path / "s.zarr"
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0"], capsys)
    assert code == 0, err
    assert "± their Monte Carlo standard errors (sem) over 200 systems per point" in out
    code, out, err = run_cli(["info", store], capsys)
    assert code == 0, err
    assert f"analysis:  none yet; compute it with: mc-threat sensitivity {store}" in out
    code, out, err = run_cli(["sensitivity", store, "--quiet"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["info", store], capsys)
    assert "analysis:  Sobol indices stored" in out and f"mc-threat plot {store}" in out


@pytest.mark.timeout(300)
def test_rerunning_case_calibrate_says_how_to_run_it_again(tmp_path, capsys):
    out = tmp_path / "cal.zarr"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, stdout, err = run_cli(["case", "europe_1936", "--calibrate", "--samples", "4",
                                 "--draws", "0", "--out", out], capsys)
    assert_clean_error(code, stdout, err, str(out), "already exists", "--overwrite",
                       "calibrate again", "--out")
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.timeout(300)
def test_run_sweep_at_the_top_of_a_script_without_the_guard_runs_in_process(tmp_path):
    """Without ``if __name__ == "__main__":`` dask's spawned workers would import the script
    again and fail to start ("Nanny failed to start"); run_sweep notices, says so, and runs
    the sweep in this process: same store as an in-process run."""
    import subprocess
    import sys

    from conftest import assert_store_files_identical

    cfg = write_config(tmp_path / "c.yaml", {"model": {"n_states": 5},
                                             "run": {"seed": 4, "systems": 400, "chunk": 200}})
    script = tmp_path / "noguard.py"
    script.write_text(
        "import mc_threat as mt\n"
        "from mc_threat.engine.sweep import run_sweep\n"
        f"run_sweep(mt.load_config({str(cfg)!r}), 'a.zarr', workers=2, progress=False)\n"
        "print('finished')\n")
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "finished"
    assert "line 3 of" in proc.stderr and "__main__" in proc.stderr and \
        "runs in this process" in proc.stderr, proc.stderr
    from mc_threat.config import load_config
    from mc_threat.engine.sweep import run_sweep

    run_sweep(load_config(cfg), tmp_path / "b.zarr", workers=0, progress=False)
    assert_store_files_identical(tmp_path / "a.zarr", tmp_path / "b.zarr")
