"""The ``Resume with:`` line printed after an interrupted run, pasted back as it is.

The sweep is stopped from inside (``Store.write_task`` raises ``KeyboardInterrupt`` once a
few tasks are written, the in-process equivalent of Ctrl-C), the printed command is split
with ``shlex`` the way a shell would, run, and the finished store must be byte-identical to
an uninterrupted run with the same options. The options used here change the config hash
(``--systems``, and ``--systems`` below ``run.chunk``, which lowers the chunk): a resume
command that dropped them is refused ("made from a different config"), which the last test
shows.
"""

from __future__ import annotations

import shlex

import pytest
from conftest import (
    assert_datasets_identical,
    assert_store_files_identical,
    force_plan,
    run_cli,
    write_config,
)

import mc_threat as mt
from mc_threat import store as store_module

CONFIG = {"model": {"n_states": 5},
          "run": {"seed": 11, "systems": 4000, "chunk": 1000},
          "sweep": {"design": "grid", "factors": {"model.weights.intent": [0.0, 1.0]}}}


def _interrupt_after(monkeypatch, tasks: int) -> None:
    real = store_module.Store.write_task
    calls = {"n": 0}

    def write_task(self, *args, **kwargs):
        if calls["n"] >= tasks:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(store_module.Store, "write_task", write_task)


def _printed_resume(err: str) -> list[str]:
    lines = [line for line in err.splitlines() if line.startswith("Resume with: ")]
    assert len(lines) == 1, err
    words = shlex.split(lines[0].removeprefix("Resume with: "))
    assert words[:2] == ["mc-threat", "sweep"], words
    return words[1:]


@pytest.mark.parametrize("systems", ["1500", "600"])  # 600 < run.chunk: the chunk is lowered
def test_pasted_resume_command_finishes_the_run_exactly(tmp_path, capsys, monkeypatch,
                                                         systems):
    force_plan(monkeypatch, block=1)  # one point per task: two tasks even with one chunk
    cfg = write_config(tmp_path / "my config.yaml", CONFIG)  # a space: the line is quoted
    ref = tmp_path / "ref.zarr"
    code, _, err = run_cli(["sweep", cfg, "--out", ref, "--workers", "0", "--quiet",
                            "--systems", systems], capsys)
    assert code == 0, err
    out = tmp_path / "run.zarr"
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        code, _, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0", "--quiet",
                                "--systems", systems], capsys)
    assert code == 130, err
    if int(systems) < 1000:
        assert f"run.chunk was lowered to {systems}" in err
    argv = _printed_resume(err)
    assert "--resume" in argv and "--overwrite" not in argv
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    assert_store_files_identical(out, ref)


def test_resume_without_the_systems_option_is_refused(tmp_path, capsys, monkeypatch):
    """What the printed command used to be: the config alone, which hashes differently."""
    cfg = write_config(tmp_path / "c.yaml", CONFIG)
    out = tmp_path / "run.zarr"
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        code, _, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0", "--quiet",
                                "--systems", "1500"], capsys)
    assert code == 130, err
    argv = _printed_resume(err)
    assert argv[argv.index("--systems") + 1] == "1500"
    code, _, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0", "--resume"], capsys)
    assert code == 2 and "different config" in err, err


def test_pasted_sensitivity_resume_command_keeps_design_and_systems(tmp_path, capsys,
                                                                    monkeypatch):
    """``--design morris`` (no sweep section: the default factors) and ``--systems`` both
    enter the config hash; the printed command keeps them and finishes the run."""
    force_plan(monkeypatch, block=16)  # several tasks
    cfg = write_config(tmp_path / "plain.yaml", {"model": {"n_states": 5},
                                                 "run": {"seed": 8, "systems": 4000}})
    out = tmp_path / "m.zarr"
    argv = ["sensitivity", cfg, "--out", out, "--workers", "0", "--quiet", "--design",
            "morris", "--systems", "40"]
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        code, _, err = run_cli(argv, capsys)
    assert code == 130, err
    lines = [line for line in err.splitlines() if line.startswith("Resume with: ")]
    words = shlex.split(lines[0].removeprefix("Resume with: "))
    assert words[:2] == ["mc-threat", "sensitivity"] and "--resume" in words
    assert words[words.index("--design") + 1] == "morris"
    assert words[words.index("--systems") + 1] == "40"
    code, _, err = run_cli(words[1:], capsys)
    assert code == 0, err
    ref = tmp_path / "ref.zarr"
    code, _, err = run_cli([*argv[:3], ref, *argv[4:]], capsys)
    assert code == 0, err
    a, b = mt.open_results(out).load(), mt.open_results(ref).load()
    for ds in (a, b):
        ds.attrs.clear()
    assert_datasets_identical(a, b)
