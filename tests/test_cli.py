"""The ``mc-threat`` command line: bad input gives ``mc-threat: error: <field>: <problem>``
lines, exit status 2, no traceback, and leaves every stored result untouched.

Most cases run ``mc_threat.cli.main`` in process (an escaping exception fails the test, the
in-process form of a traceback); a few run the installed console script as a subprocess to
check the real exit status and stderr.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import (
    assert_clean_error,
    cli_command,
    error_lines,
    open_store,
    run_cli,
    snapshot,
    write_config,
)

from mc_threat.store import Store

GOOD = {"run": {"seed": 3, "systems": 400, "chunk": 200}}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A complete store that every bad invocation below targets (with --overwrite)."""
    from mc_threat.config import config_from_dict
    from mc_threat.engine.sweep import run_sweep

    base = tmp_path_factory.mktemp("stored")
    out = base / "stored.zarr"
    run_sweep(config_from_dict(GOOD), out, workers=0, progress=False)
    return out


# (name, config text or None for "no file", extra args, fields the error must name, argparse?)
BAD_INPUT = [
    ("broken_yaml", "model: {n_states: [1, 2\n", [], ["invalid YAML", "line 2"], False),
    ("unknown_key", "model:\n  n_statez: 5\n", [], ["model.n_statez", "unknown key",
                                                    "n_states"], False),
    ("negative_weight", "model:\n  weights: {intent: -0.2}\n", [],
     ["model.weights.intent", ">= 0", "-0.2"], False),
    ("not_a_number", "run:\n  systems: many\n", [], ["run.systems", "integer"], False),
    ("unknown_factor", "sweep:\n  design: grid\n  factors: {model.foo: [1, 2]}\n", [],
     ["sweep.factors", "model.foo", "unknown factor"], False),
    ("reversed_sobol_bounds",
     "sweep:\n  design: sobol\n  samples: 8\n  factors: {model.reach: [0.5, 0.1]}\n", [],
     ["sweep.factors", "model.reach", "low bound"], False),
    ("sobol_not_power_of_2",
     "sweep:\n  design: sobol\n  samples: 6\n  factors: {model.reach: [0.1, 0.5]}\n", [],
     ["sweep.samples", "power of 2"], False),
    ("duplicate_grid_value",
     "sweep:\n  design: grid\n  factors: {model.reach: [0.1, 0.2, 0.1]}\n", [],
     ["sweep.factors", "model.reach", "duplicate value 0.1"], False),
    ("unknown_design", "sweep:\n  design: spiral\n  factors: {model.reach: [0.1, 0.2]}\n", [],
     ["sweep", "spiral"], False),
    ("invalid_point_value",
     "sweep:\n  design: points\n  points: [{model.n_states: 4}, {model.n_states: 1}]\n", [],
     ["sweep point 1", "model.n_states=1", "model.n_states: must be >= 2"], False),
    ("invalid_grid_point",
     "sweep:\n  design: grid\n  factors: {model.bandwagon_ratio: [0.5, 1.5]}\n", [],
     ["sweep point 1", "model.bandwagon_ratio", "<= 1"], False),
    ("systems_zero", "run: {systems: 100}\n", ["--systems", "0"], ["--systems", ">= 1"], True),
    ("systems_text", "run: {systems: 100}\n", ["--systems", "ten"], ["--systems", "integer"],
     True),
    ("workers_negative", "run: {systems: 100}\n", ["--workers", "-1"], ["--workers", ">= 0"],
     True),
    ("missing_config", None, [], ["missing.yaml", "not found"], False),
    ("empty_config", "", [], ["empty"], False),
]


@pytest.mark.parametrize(("text", "extra", "fields", "usage"),
                         [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_clean_error_and_modifies_nothing(stored, tmp_path, capsys, text,
                                                           extra, fields, usage):
    cfg = tmp_path / "missing.yaml"
    if text is not None:
        cfg = tmp_path / "bad.yaml"
        cfg.write_text(text)
    before = snapshot(stored)
    new = tmp_path / "new.zarr"
    # against the existing store, even with --overwrite, and against a new path
    for out, flags in ((stored, ["--overwrite"]), (stored, ["--resume"]), (new, [])):
        code, out_text, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0",
                                       "--quiet", *flags, *extra], capsys)
        lines = assert_clean_error(code, out_text, err, *fields, usage_ok=usage)
        if text is not None and not usage and "sweep point" not in lines[0]:
            assert str(cfg) in lines[0], "config errors name the file"
        assert out_text == ""
    assert snapshot(stored) == before
    assert not new.exists()


def test_several_problems_give_one_line_each(stored, tmp_path, capsys):
    cfg = write_config(tmp_path / "bad.yaml", {
        "model": {"reach": 0, "weights": {"power": -1}},
        "run": {"systems": 0},
    })
    before = snapshot(stored)
    code, out, err = run_cli(["sweep", cfg, "--out", stored, "--overwrite", "--quiet"], capsys)
    lines = assert_clean_error(code, out, err, "model.reach", "model.weights.power",
                               "run.systems", single=False)
    assert len(lines) == 3, err
    assert snapshot(stored) == before


def test_systems_override(tmp_path, capsys):
    cfg = write_config(tmp_path / "c.yaml", {"run": {"seed": 3, "systems": 5000,
                                                     "chunk": 2000}})
    out = tmp_path / "o.zarr"
    code, _, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0", "--quiet",
                            "--systems", "300"], capsys)
    assert code == 0, err
    ds = open_store(out)
    assert ds.attrs["systems_per_point"] == 300 and ds.attrs["chunk"] == 300
    assert (ds["share_balance"].sel(stat="count").values == 300).all()


def test_default_output_path_and_summary(tmp_path, monkeypatch, capsys):
    cfg = write_config(tmp_path / "my_run.yaml", {"run": {"systems": 300, "chunk": 100}})
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["sweep", cfg, "--workers", "0"], capsys)
    assert code == 0, err
    assert (tmp_path / "results" / "my_run.zarr" / "zarr.json").exists()
    assert "share_balance" in out and "±" in out
    assert re.search(r"\b(\d+)/\1 tasks run", out), out
    assert Store(tmp_path / "results" / "my_run.zarr").done_tasks().all()


def test_no_command_is_a_usage_error(capsys):
    code, out, err = run_cli([], capsys)
    assert code == 2
    assert error_lines(err) and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# The real console script
# ---------------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_console_script_errors(stored, tmp_path):
    """Exit status 2 and clean stderr from the installed ``mc-threat`` process."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: {n_states: [1, 2\n")
    good = write_config(tmp_path / "good.yaml", GOOD)
    before = snapshot(stored)
    cases = {
        "broken_yaml": (["sweep", broken, "--out", stored, "--overwrite"],
                        ["invalid YAML"], False),
        "workers": (["sweep", good, "--out", tmp_path / "x.zarr", "--workers", "-1"],
                    ["--workers"], True),
        "missing": (["sweep", tmp_path / "nope.yaml", "--out", stored, "--overwrite"],
                    ["nope.yaml", "not found"], False),
        "exists": (["sweep", good, "--out", stored, "--workers", "0"],
                   ["already exists"], False),
        "other_config": (["sweep", good, "--out", stored,
                          "--resume", "--systems", "100", "--workers", "0"],
                         ["different config"], False),
        "info": (["info", tmp_path / "none.zarr"], ["not an mc-threat results store"], False),
    }
    procs = {name: subprocess.Popen([*cli_command(), *map(str, argv)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, (argv, _, _) in cases.items()}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=90)
            _, fields, usage = cases[name]
            assert_clean_error(proc.returncode, out, err, *fields, usage_ok=usage)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert snapshot(stored) == before
    assert not (tmp_path / "x.zarr").exists()


# ---------------------------------------------------------------------------------------------
# Bad --cluster / --scheduler input must not touch the store either
# ---------------------------------------------------------------------------------------------


def test_bad_cluster_file_leaves_existing_store_untouched(tmp_path, capsys):
    cfg = write_config(tmp_path / "good.yaml", GOOD)
    stored = tmp_path / "own.zarr"  # not the shared store: this bug destroys it
    code, _, err = run_cli(["sweep", cfg, "--out", stored, "--workers", "0", "--quiet"], capsys)
    assert code == 0, err
    before = snapshot(stored)
    code, out, err = run_cli(["sweep", cfg, "--out", stored, "--overwrite", "--quiet",
                              "--cluster", tmp_path / "missing_cluster.yaml"], capsys)
    assert_clean_error(code, out, err, "missing_cluster.yaml", "cannot read cluster file")
    assert snapshot(stored) == before, "the existing results were replaced"


def test_bad_cluster_file_creates_no_store(tmp_path, capsys):
    cfg = write_config(tmp_path / "good.yaml", GOOD)
    bad = tmp_path / "cluster.yaml"
    bad.write_text("slurm: {cores: 4}\nworkers: 3\n")
    out = tmp_path / "new.zarr"
    code, stdout, err = run_cli(["sweep", cfg, "--out", out, "--quiet", "--cluster", bad],
                                capsys)
    assert_clean_error(code, stdout, err, str(bad), "workers")
    assert not out.exists(), "a store was created although the run never started"
