"""Robustness: bad input, damaged stores, crashes, lost workers, Ctrl-C and extreme numbers.

* **Bad input.** Every entry of the corpus ``tests/bad_inputs/cases.yaml`` (configs, case
  files and command lines of every subcommand) goes through the real CLI: exit status 2,
  ``mc-threat: error:`` lines naming the field, no traceback, and no file created, deleted or
  modified. A few go through the installed console script as well, and hypothesis mutates
  valid configs (structure and bytes) into more.
* **Store safety.** ``mc-threat info`` finds damaged stores (lost or truncated chunk files, a
  corrupted ``zarr.json``, a lost ``_work`` group, a manifest vouching for NaN data, ...)
  and says what is wrong; ``--resume`` repairs them into stores byte-identical to an
  uninterrupted run. Nothing in a store is unpickled.
* **Faults.** SIGKILL at several random moments with a resume after each; a dask worker
  process killed mid-sweep; SIGINT sent to the whole process group as a terminal does.
  Each ends in a store byte-identical to an uninterrupted run.
* **Numerics.** Extreme but valid settings give finite statistics where MODEL.md defines
  finite values.

Everything runs real components: the CLI, zarr stores on disk, dask ``LocalCluster`` worker
processes and real signals.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import (
    assert_clean_error,
    assert_stores_identical,
    cli_command,
    force_plan,
    group_alive,
    kill_group,
    make_config,
    open_store,
    reference_sweep,
    run_cli,
    snapshot,
    tasks_done,
    write_config,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mc_threat as mt
import mc_threat.engine.sweep as sweep_mod
from mc_threat.config import ConfigError, load_config
from mc_threat.engine.check import check_store
from mc_threat.engine.sweep import run_sweep
from mc_threat.store import (
    SAFE_CODECS,
    SAFE_DATA_TYPES,
    Store,
    StoreError,
    open_results,
)

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
ENTRIES = yaml.safe_load((CORPUS / "cases.yaml").read_text())
GOOD = {"run": {"seed": 3, "systems": 400, "chunk": 200}}  # = bad_inputs/good.yaml


def _entry_id(entry: dict) -> str:
    if "config" in entry:
        return entry["config"].removesuffix(".yaml")
    text = "_".join(re.sub(r"^--", "", a.strip("{}")).replace("/", ".")
                    for a in entry["args"]) or "no_args"
    return re.sub(r"[^\w.=-]+", "_", text)[:70]


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    """A scratch copy of the corpus, the files its placeholders name, and a complete store."""
    import zarr

    work = tmp_path_factory.mktemp("arena") / "work"
    shutil.copytree(CORPUS, work)
    (work / "latin1.yaml").write_bytes("model: {form: caf\u00e9}\n".encode("latin-1"))
    (work / "dir").mkdir()
    (work / "dir" / "notes.txt").write_text("do not delete")
    (work / "empty_dir").mkdir()
    zarr.create_group(store=str(work / "foreign.zarr"), attributes={"made_by": "someone else"})
    run_sweep(make_config(GOOD), work / "store.zarr", workers=0, progress=False)
    unsafe = work / "unsafe.zarr"
    shutil.copytree(work / "store.zarr", unsafe)
    meta_file = unsafe / "share_balance" / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["codecs"][-1] = {"name": "numcodecs.pickle", "configuration": {}}
    meta_file.write_text(json.dumps(meta))
    return work


PLACES = {"good": "good.yaml", "store": "store.zarr", "new": "new.zarr",
          "missing": "missing.yaml", "dir": "dir", "empty_dir": "empty_dir",
          "through": "good.yaml/x", "latin1": "latin1.yaml", "foreign": "foreign.zarr",
          "unsafe": "unsafe.zarr"}


def _fill(text: str) -> str:
    """Placeholders -> paths relative to the arena (the working directory of every run)."""
    return re.sub(r"\{([^{}]+)\}", lambda m: PLACES.get(m.group(1), m.group(1)), text)


def _runs(entry: dict) -> list[list[str]]:
    if "config" in entry:
        base = ["sweep", entry["config"], "--workers", "0", "--quiet", "--out"]
        return [base + ["new.zarr"], base + ["store.zarr", "--overwrite"],
                base + ["store.zarr", "--resume"]]
    return [[_fill(a) for a in entry["args"]]]


def _check_entry(entry: dict, code: int, out: str, err: str) -> None:
    expect = [_fill(e) for e in entry["expect"]]
    lines = assert_clean_error(code, out, err, *expect, usage_ok=entry.get("usage", False),
                               single=entry.get("lines", 1) == 1)
    assert len(lines) == entry.get("lines", 1), err
    assert out == "", out
    if "config" in entry:  # config errors name the file first
        for line in lines:
            assert line.startswith(f"mc-threat: error: {entry['config']}: "), line


@pytest.mark.parametrize("entry", ENTRIES, ids=[_entry_id(e) for e in ENTRIES])
def test_bad_input_corpus(arena, monkeypatch, capsys, entry):
    monkeypatch.chdir(arena)
    before = snapshot(arena)
    for argv in _runs(entry):
        code, out, err = run_cli(argv, capsys)
        _check_entry(entry, code, out, err)
    assert snapshot(arena) == before, "a bad input created, deleted or changed a file"


def test_corpus_is_complete_and_its_references_are_valid(arena, monkeypatch, capsys):
    """Every file of the corpus is used; the valid files the bad ones vary are valid."""
    named = {e["config"] for e in ENTRIES if "config" in e}
    named |= {m for e in ENTRIES for a in e.get("args", []) + e["expect"]
              for m in re.findall(r"\{([^{}]+)\}", a) if m not in PLACES}
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.yaml")}
    unused = files - named - {"cases.yaml", "good.yaml"}
    assert not unused, f"corpus files no entry uses: {sorted(unused)}"
    case_text = "".join(p.read_text() for p in (CORPUS / "cases").glob("*.yaml"))
    tables = [p.name for p in (CORPUS / "cases").glob("*.csv")]
    assert tables and all(t in case_text for t in tables), "a case table no case file uses"
    assert load_config(CORPUS / "good.yaml") == make_config(GOOD)
    monkeypatch.chdir(arena)
    code, out, err = run_cli(["case", "cases/valid_mini.yaml"], capsys)
    assert code == 0, err
    assert "3 states, 3 scored" in out
    kinds = {("config" if "config" in e else (e["args"] or ["(none)"])[0]) for e in ENTRIES}
    assert {"config", "sweep", "info", "bench", "sensitivity", "plot", "case"} <= kinds


# A handful through the installed console script: the real exit status and stderr.
SCRIPT_ENTRIES = ["weight_nan", "yaml_python_object", "systems_absurd",
                  "sweep_good_out_good_workers_0_overwrite", "info_unsafe",
                  "case_cases.negative_power.yaml", "sensitivity_good_out_new_conf-level_1.5",
                  "plot_store_out_new_format_gif", "bogus"]


@pytest.mark.timeout(180)
def test_bad_input_through_the_console_script(arena):
    by_id = {_entry_id(e): e for e in ENTRIES}
    assert set(SCRIPT_ENTRIES) <= set(by_id), set(SCRIPT_ENTRIES) - set(by_id)
    before = snapshot(arena)
    procs = []
    for name in SCRIPT_ENTRIES:
        argv = _runs(by_id[name])[0]
        procs.append((name, subprocess.Popen([*cli_command(), *argv], cwd=arena,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True)))
    try:
        for name, proc in procs:
            out, err = proc.communicate(timeout=150)
            _check_entry(by_id[name], proc.returncode, out, err)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert snapshot(arena) == before


def test_unsafe_yaml_is_never_executed(arena, monkeypatch, capsys):
    monkeypatch.chdir(arena)
    for name in ("yaml_python_object.yaml", "yaml_python_name.yaml"):
        code, _, err = run_cli(["sweep", name, "--out", "new.zarr", "--workers", "0"], capsys)
        assert code == 2 and "invalid YAML" in err
    assert not (arena / "pwned_marker").exists()


# ---------------------------------------------------------------------------------------------
# Fuzzing the config loader through the CLI
# ---------------------------------------------------------------------------------------------

BASE_CONFIGS = [
    {},
    {"model": {"n_states": 6, "form": "multiplicative", "weights": {"power": 1.0, "intent": 2.0},
               "reach": 0.3, "bandwagon_ratio": 0.2, "viability": 0.5, "neutral_below": 0.1},
     "run": {"seed": 1, "systems": 1000, "chunk": 500}},
    {"generator": {"power_sigma": 2.0, "power_corr": 0.5, "offense": {"a": 2.0, "b": 2.0},
                   "intent": {"a": 1.0, "b": 3.0}}},
    {"sweep": {"design": "grid", "factors": {"model.reach": [0.1, 0.2],
                                             "model.form": ["additive", "multiplicative"]}}},
    {"sweep": {"design": "points", "points": [
        {"model.reach": 0.1, "generator.power_sigma": 1.0},
        {"model.reach": 0.3, "generator.power_sigma": 2.0}]}},
    {"sweep": {"design": "lhs", "samples": 4, "seed": 1,
               "factors": {"model.viability": [0.1, 1.0]}}},
    {"sweep": {"design": "sobol", "samples": 4, "second_order": False,
               "factors": {"model.weights.power": [0.0, 1.0], "model.reach": [0.1, 0.5]}}},
    {"sweep": {"design": "morris", "trajectories": 2, "levels": 4,
               "factors": {"model.bandwagon_ratio": [0.0, 0.5]}}},
]
# Integers stay small or absurd: a valid mid-sized design would be drawn in full.
LEAVES = st.one_of(
    st.sampled_from([None, True, False, -1, 0, 1, 2, 3, 7, 8, 2**22, 10**18, 2**64, -0.5, 0.0,
                     0.5, 1.5, 1.0e308, math.nan, math.inf, -math.inf, "", "x", "additive",
                     "multiplicative", "1.0", "1e-3", "model.reach", "grid", "sobol",
                     "points"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)
KEYS = st.sampled_from(["model", "run", "sweep", "generator", "weights", "n_states", "reach",
                        "systems", "chunk", "seed", "design", "factors", "points", "samples",
                        "a", "b", "model.reach", "model.n_states", "model.foo", "intnet",
                        "generator.intent.a", "run.seed", "", "x y"])


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _mutate(doc, data):
    """Apply one random structural mutation to ``doc`` (a deep copy is passed)."""
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths))
    op = data.draw(st.sampled_from(["set", "set", "delete", "rename", "insert", "wrap"]))
    if not path:
        return data.draw(VALUES) if op == "set" else doc
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    leaf = path[-1]
    if op == "set":
        parent[leaf] = data.draw(VALUES)
    elif op == "delete":
        del parent[leaf]
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(KEYS)] = parent.pop(leaf)
    elif op == "insert" and isinstance(parent[leaf], dict):
        parent[leaf][data.draw(KEYS)] = data.draw(VALUES)
    elif op == "wrap":
        parent[leaf] = [parent[leaf]]
    return doc


def _cli_quiet(argv):
    from mc_threat.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fuzz_dir(arena, tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz"), arena / "store.zarr", snapshot(arena / "store.zarr")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_configs_through_the_cli(fuzz_dir, data):
    """Mutated valid configs, through ``mc-threat sweep`` aimed at an existing store: every
    one ends in exit status 2, either with errors that name the file and a field or, for a
    config that is still valid, with 'already exists' (after its design was drawn and
    planned). Never a traceback, never a change to the store."""
    import copy

    from mc_threat.design import design_points

    base, store, before = fuzz_dir
    doc = copy.deepcopy(data.draw(st.sampled_from(BASE_CONFIGS)))
    for _ in range(data.draw(st.integers(1, 3))):
        doc = _mutate(doc, data)
    cfg = base / "fuzz.yaml"
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, err = _cli_quiet(["sweep", cfg, "--out", store, "--workers", "0", "--quiet"])
    assert code == 2, (doc, err)
    lines = err.splitlines()
    assert lines and all(line.startswith("mc-threat: error: ") for line in lines), err
    if "already exists" in err:
        load_config(cfg)  # valid indeed
        assert len(lines) == 1
    else:
        with pytest.raises(ConfigError):  # the loader, the size check or the design says so
            config = load_config(cfg)
            sweep_mod.check_size(config)
            design_points(config)
        for line in lines:
            assert line.startswith(f"mc-threat: error: {cfg}: "), line
    assert snapshot(store) == before


FUZZ_TEXT = (CORPUS.parent.parent / "configs" / "default.yaml").read_bytes() + (
    b"sweep:\n  design: grid\n  factors: {model.reach: [0.1, 0.2], model.n_states: [4, 8]}\n")


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, len(FUZZ_TEXT) - 1),
                                st.sampled_from(["flip", "delete", "insert"]),
                                st.binary(min_size=1, max_size=3)), min_size=1, max_size=4))
def test_fuzz_corrupted_config_bytes(tmp_path_factory, edits):
    """A valid config file with bytes flipped, deleted or inserted: a Config (whose design
    resolves or fails with a ConfigError) or a ConfigError naming the file; nothing else."""
    from mc_threat.design import design_points

    raw = bytearray(FUZZ_TEXT)
    for pos, op, blob in edits:
        pos = min(pos, len(raw) - 1)
        if op == "flip":
            raw[pos] ^= blob[0] or 1
        elif op == "delete":
            del raw[pos:pos + len(blob)]
        else:
            raw[pos:pos] = blob
    path = tmp_path_factory.getbasetemp() / "bytes_fuzz.yaml"
    path.write_bytes(bytes(raw))
    try:
        config = load_config(path)
        sweep_mod.check_size(config)
        design_points(config)
    except ConfigError as exc:
        assert exc.errors and all(line and "\n" not in line for line in exc.errors)
        assert all(line.startswith((f"{path}: ", "sweep point")) for line in exc.errors), \
            exc.errors


# ---------------------------------------------------------------------------------------------
# Store safety: nothing unpickled, --overwrite replaces only stores, damage found and repaired
# ---------------------------------------------------------------------------------------------


def test_stores_hold_nothing_pickled(arena):
    """Every array of a store is a plain number or zarr v3 string array: no object dtype,
    no pickle codec; string coordinates read back as str."""
    store = arena / "store.zarr"
    metas = [json.loads(f.read_text()) for f in store.rglob("zarr.json")]
    arrays = [m for m in metas if m.get("node_type") == "array"]
    assert len(arrays) > 20
    for m in arrays:
        assert m["data_type"] in SAFE_DATA_TYPES, m["data_type"]
        assert {c["name"] for c in m["codecs"]} <= SAFE_CODECS, m["codecs"]
    strings = [m for m in arrays if m["data_type"] == "string"]
    assert strings and all(m["codecs"][0]["name"] == "vlen-utf8" for m in strings)
    ds = open_store(store)
    assert [type(v) for v in ds["stat"].values.tolist()] == [str] * 6


def test_store_naming_a_pickle_codec_is_refused_before_opening(arena):
    unsafe = arena / "unsafe.zarr"
    for call in (Store, open_results, check_store):
        with pytest.raises(StoreError, match="refused.*numcodecs.pickle"):
            call(unsafe)


# 6 points in blocks of 4 (the last block partial), 4 chunks in runs of 2: 4 tasks.
DAMAGE_CONFIG = {
    "model": {"n_states": 6},
    "run": {"seed": 31, "systems": 1200, "chunk": 300},
    "sweep": {"design": "grid",
              "factors": {"model.n_states": [4, 6], "model.weights.offense": [0.5, 1.0, 2.0]}},
}


@pytest.fixture(scope="module")
def damage_reference(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        force_plan(mp, block=4, chunks_per_task=2)
        cfg, ref, report = reference_sweep(tmp_path_factory.mktemp("damage"), "damage",
                                           DAMAGE_CONFIG)
    assert report.tasks_total == 4
    return cfg, ref


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(random.Random(str(path)).randrange(256) for _ in range(40)))


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _edit_array(store: Path, node: str, region, change) -> None:
    import zarr

    arr = zarr.open_array(store=str(store), path=node, mode="r+")
    block = arr[region]
    change(block)
    arr[region] = block


def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _set(d, keys, value):
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


# (name, damage, fragment of the report) - chunk keys: _work/moments/c/<block>/<run>/0/0
DAMAGES = [
    ("moments_chunk_deleted", lambda s: (s / "_work/moments/c/0/1/0/0").unlink(),
     "moments missing"),
    ("moments_chunk_truncated", lambda s: _truncate(s / "_work/moments/c/1/0/0/0"),
     "moments unreadable"),
    ("moments_hold_nan", lambda s: _edit_array(
        s, "_work/moments", np.s_[0:4, 0:2], lambda b: b.__setitem__((1, 0, 3, 1), np.nan)),
     "moments not finite"),
    ("moments_wrong_counts", lambda s: _edit_array(
        s, "_work/moments", np.s_[4:6, 2:4], lambda b: b.__setitem__((0, 1, slice(None), 0), 299)),
     "wrong system counts"),
    ("choice_chunk_garbage", lambda s: _garbage(s / "_work/choice_by_power/c/0/0/0/0"),
     "choice counts unreadable"),
    ("choice_chunk_deleted", lambda s: (s / "_work/choice_by_power/c/1/1/0/0").unlink(),
     "choice counts missing or wrong"),
    ("root_zarr_json_garbage", lambda s: _garbage(s / "zarr.json"), "zarr.json (the root"),
    ("root_zarr_json_truncated", lambda s: _truncate(s / "zarr.json"), "not valid JSON"),
    ("root_zarr_json_deleted", lambda s: (s / "zarr.json").unlink(), "missing"),
    ("root_attribute_changed", lambda s: _edit_json(
        s / "zarr.json", lambda d: _set(d, ["attributes", "seed"], 5)), "attribute(s) seed"),
    ("consolidated_metadata_stale", lambda s: _edit_json(s / "zarr.json", lambda d: _set(
        d, ["consolidated_metadata", "metadata", "share_balance", "shape"], [5, 6])),
     "consolidated copy"),
    ("array_zarr_json_garbage", lambda s: _garbage(s / "share_balance/zarr.json"),
     "share_balance/zarr.json"),
    ("work_array_zarr_json_deleted", lambda s: (s / "_work/moments/zarr.json").unlink(),
     "_work/moments/zarr.json (missing)"),
    ("work_group_deleted", lambda s: shutil.rmtree(s / "_work"), "the _work group is gone"),
    ("result_chunk_deleted", lambda s: (s / "share_balance/c/1/0").unlink(),
     "share_balance: stored results missing"),
    ("result_values_changed", lambda s: _edit_array(
        s, "contained", np.s_[4:6], lambda b: b.__setitem__((0, 0), 0.5)), "contained"),
    ("result_counts_deleted", lambda s: (s / "choice_by_power/c/0/0/0").unlink(),
     "choice_by_power: stored counts"),
    ("coordinate_chunk_deleted", lambda s: (s / "stat/c/0").unlink(),
     "stat/zarr.json (its coordinate values"),
    ("coordinate_chunk_garbage", lambda s: _garbage(s / "model.weights.offense/c/0"),
     "model.weights.offense"),
    ("manifest_chunk_truncated", lambda s: _truncate(s / "_work/task_done/c/0/1"),
     "_work/task_done[0, 1]"),
    ("manifest_value_garbled", lambda s: _edit_array(
        s, "_work/task_done", np.s_[1:2, 1:2], lambda b: b.__setitem__((0, 0), 7)),
     "_work/task_done[1, 1]"),
    ("manifest_entry_deleted", lambda s: (s / "_work/task_done/c/1/0").unlink(),
     "marked merged but some of its tasks are not done"),
]


@pytest.mark.parametrize(("damage", "fragment"), [d[1:] for d in DAMAGES],
                         ids=[d[0] for d in DAMAGES])
def test_info_reports_damage_and_resume_repairs_it(damage_reference, tmp_path, monkeypatch,
                                                   capsys, damage, fragment):
    cfg, ref = damage_reference
    force_plan(monkeypatch, block=4, chunks_per_task=2)
    store = tmp_path / "damaged.zarr"
    shutil.copytree(ref, store)
    damage(store)

    code, out, err = run_cli(["info", store], capsys)
    assert code == 0 and err == "", err
    assert "status:    damaged" in out and "--resume" in out, out
    damage_lines = [line for line in out.splitlines() if line.startswith("damage:")]
    assert damage_lines and fragment in "\n".join(damage_lines), out
    assert "Traceback" not in out

    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert code == 0, err
    assert f"{store} is damaged" in err and f"repairing {store}" in err, err
    assert_stores_identical(store, ref)
    code, out, _ = run_cli(["info", store], capsys)
    assert "status:    complete" in out, out


def test_damaged_partial_store_is_repaired(damage_reference, tmp_path, monkeypatch, capsys):
    """Interrupted after two tasks, then a finished task's data lost: info says damaged and
    incomplete at once; --resume recomputes the lost task and the missing ones."""
    cfg, ref = damage_reference
    force_plan(monkeypatch, block=4, chunks_per_task=2)
    store = tmp_path / "partial.zarr"
    real = Store.write_task
    calls = []

    def stop_after_two(self, b, r, *data):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append((b, r))
        return real(self, b, r, *data)

    with monkeypatch.context() as mp:
        mp.setattr(Store, "write_task", stop_after_two)
        with pytest.raises(sweep_mod.SweepInterrupted):
            run_sweep(load_config(cfg), store, workers=0, progress=False)
    b, r = calls[0]
    (store / f"_work/moments/c/{b}/{r}/0/0").unlink()
    chk = check_store(store)
    assert chk.status == "damaged" and chk.tasks_done == 1 and chk.bad_tasks == [(b, r)]
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--resume"],
                             capsys)
    assert code == 0, err
    assert re.search(r"\b3/4 tasks run", out), out
    assert_stores_identical(store, ref)


def test_resume_refuses_damaged_store_of_other_config(damage_reference, tmp_path, capsys):
    """With its root metadata lost, the config hash kept in _work still tells configs
    apart: --resume with another config refuses and changes nothing."""
    cfg, ref = damage_reference
    store = tmp_path / "s.zarr"
    shutil.copytree(ref, store)
    _garbage(store / "zarr.json")
    other = write_config(tmp_path / "other.yaml", {**DAMAGE_CONFIG, "run": {
        **DAMAGE_CONFIG["run"], "seed": 32}})
    before = snapshot(store)
    code, out, err = run_cli(["sweep", other, "--out", store, "--workers", "0", "--resume"],
                             capsys)
    assert_clean_error(code, out, err, str(store), "different config")
    assert snapshot(store) == before


def test_store_damaged_beyond_repair(damage_reference, tmp_path, capsys):
    """Root metadata and _work both lost: nothing says which config made the store. info
    says so, --resume refuses untouched, --overwrite replaces it."""
    cfg, ref = damage_reference
    store = tmp_path / "s.zarr"
    shutil.copytree(ref, store)
    _garbage(store / "zarr.json")
    shutil.rmtree(store / "_work")
    code, out, err = run_cli(["info", store], capsys)
    assert code == 0 and "status:    damaged" in out and "cannot be read" in out, out
    before = snapshot(store)
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--resume"],
                             capsys)
    assert_clean_error(code, out, err, str(store), "damaged beyond repair", "--overwrite")
    assert snapshot(store) == before
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--overwrite"], capsys)
    assert code == 0, err
    assert Store(store).done_tasks().all()


def test_resume_into_an_empty_directory_creates_the_store(tmp_path, capsys):
    """A run killed right after making the directory leaves it empty: --resume uses it."""
    cfg = write_config(tmp_path / "c.yaml", GOOD)
    out = tmp_path / "o.zarr"
    out.mkdir()
    code, _, err = run_cli(["sweep", cfg, "--out", out, "--workers", "0", "--quiet",
                            "--resume"], capsys)
    assert code == 0, err
    assert check_store(out).status == "complete"


# ---------------------------------------------------------------------------------------------
# Faults: SIGKILL at random moments, a lost dask worker, Ctrl-C
# ---------------------------------------------------------------------------------------------

# 2 points x 24 chunks of 10,000 systems of 64 states: 8 tasks of about half a second each
# (one core; with 16 states 0.2.0 finishes a task in 0.05 s, before a kill can land).
FAULT_CONFIG = {
    "model": {"n_states": 64},  # tasks long enough (~0.5 s) for kills to land mid-run
    "run": {"seed": 99, "systems": 240000, "chunk": 10000},
    "sweep": {"design": "grid", "factors": {"model.weights.intent": [0.5, 1.0]}},
}


@pytest.fixture(scope="module")
def fault_reference(tmp_path_factory):
    cfg, ref, report = reference_sweep(tmp_path_factory.mktemp("faults"), "faults",
                                       FAULT_CONFIG)
    assert report.tasks_total >= 8
    return cfg, ref, report.tasks_total


def _sigkill_when(cmd: list[str], ready, log: Path, timeout: float = 150.0) -> float:
    """Start ``cmd`` in a new process group, wait until ``ready()``, SIGKILL the group.
    Returns how long the process ran."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    t0 = time.monotonic()
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"the sweep ended (status {proc.returncode}) before the planned "
                            f"kill:\n{log.read_text()}")
            if time.monotonic() - t0 > timeout:
                pytest.fail(f"no progress in {timeout} s:\n{log.read_text()}")
            time.sleep(0.005)
        kill_group(proc)
    finally:
        if proc.poll() is None or group_alive(proc.pid):
            kill_group(proc)
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    assert not group_alive(proc.pid)
    return time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_sigkill_at_random_moments_then_resume_each_time(fault_reference, tmp_path, capsys):
    """Five SIGKILLs, each run resuming the store the previous one left: (1) while the store
    is being created, (2) at a random time while the resumed run starts up (imports, store
    check, kernel loading), (3-5) a random delay after the run finished one more task. The
    final --resume computes exactly the tasks the manifest lacks, and the store is
    byte-identical to an uninterrupted run."""
    cfg, ref, tasks = fault_reference
    rng = random.Random(20260101)
    store = tmp_path / "killed.zarr"
    base = [*cli_command(), "sweep", str(cfg), "--out", str(store), "--quiet", "--workers", "0"]
    history = []

    # 1: the template is being written beside the store (then renamed into place)
    staging = store.with_name(f".{store.name}.creating")
    _sigkill_when(base, lambda: staging.exists() or store.exists(), tmp_path / "kill1.log")
    history.append(("creating", tasks_done(store)))
    # 2: a random moment of the resumed run's start-up
    after = rng.uniform(0.3, 1.5)
    t0 = time.monotonic()
    _sigkill_when([*base, "--resume"], lambda: time.monotonic() - t0 >= after,
                  tmp_path / "kill2.log")
    history.append((f"start-up +{after:.2f} s", tasks_done(store)))
    # 3-5: a random delay after one more task is recorded
    for k in range(3, 6):
        start = max(tasks_done(store), 0)
        delay = rng.uniform(0.0, 0.2)
        state = {"at": None}

        def ready(start=start, delay=delay, state=state):
            if state["at"] is None and tasks_done(store) > start:
                state["at"] = time.monotonic()
            return state["at"] is not None and time.monotonic() - state["at"] >= delay

        _sigkill_when([*base, "--resume"], ready, tmp_path / f"kill{k}.log")
        history.append((f"1 task +{delay:.2f} s", tasks_done(store)))

    chk = check_store(store, load_config(cfg))  # a killed store is never refused
    assert chk.status == "incomplete", (history, chk.problems)
    assert chk.tasks_done < tasks, f"the kills came too late to matter: {history}"
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--resume"],
                             capsys)
    assert code == 0, err
    m = re.search(r"(\d+)/(\d+) tasks run", out)
    assert m and int(m.group(2)) == tasks, out
    assert int(m.group(1)) == tasks - chk.tasks_done, (history, out)
    assert_stores_identical(store, ref)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_dask_worker_is_replaced_and_results_are_exact(fault_reference, tmp_path,
                                                              monkeypatch):
    """SIGKILL one worker process of a 2-worker LocalCluster while it computes a task, then
    the other one later: the nanny restarts them, the scheduler reruns their tasks, the
    sweep finishes with a store byte-identical to an uninterrupted run."""
    cfg, ref, tasks = fault_reference
    executors = []
    real_init = sweep_mod.DaskExecutor.__init__

    def capture(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        executors.append(self)

    monkeypatch.setattr(sweep_mod.DaskExecutor, "__init__", capture)
    killed = []
    writes = []
    real_write = Store.write_task

    def kill_busy_worker():
        client = executors[0].client
        pids = client.run(os.getpid, on_error="ignore")  # a restarting worker is skipped
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        target = next((w for w in busy if pids[w] not in killed), None)
        if target is not None:
            os.kill(pids[target], signal.SIGKILL)
            killed.append(pids[target])

    def write_and_kill(self, b, r, *data):
        writes.append((b, r))
        if len(writes) in (1, tasks // 2):
            kill_busy_worker()
        return real_write(self, b, r, *data)

    monkeypatch.setattr(Store, "write_task", write_and_kill)
    out = tmp_path / "lost_worker.zarr"
    report = run_sweep(load_config(cfg), out, workers=2, progress=False)
    assert len(killed) == 2, f"expected to kill two busy workers, killed {killed}"
    assert report.tasks_run == tasks and sorted(writes) == sorted(set(writes))
    for pid in killed:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert_stores_identical(out, ref)


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("moment", ["workers_starting", "mid_sweep"])
def test_ctrl_c_stops_cleanly_and_resume_completes(fault_reference, tmp_path, capsys, moment):
    """SIGINT to the foreground process group (client and dask workers), as Ctrl-C in a
    terminal sends it: exit status 130, a message saying how to resume, no traceback from
    any process, no process left, a consistent store that --resume completes exactly."""
    cfg, ref, tasks = fault_reference
    store = tmp_path / "interrupted.zarr"
    proc = subprocess.Popen([*cli_command(), "sweep", str(cfg), "--out", str(store),
                             "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        if moment == "workers_starting":  # worker processes exist, no task is done yet
            ready = lambda: len(_children(proc.pid)) >= 2  # noqa: E731
        else:
            ready = lambda: tasks_done(store) >= 2  # noqa: E731
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.01)
        if moment == "workers_starting":
            time.sleep(0.5)  # the workers are importing their modules now
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None or group_alive(proc.pid):
            kill_group(proc)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "mc-threat: interrupted" in err and "--resume" in err, err
    assert f"Resume with: mc-threat sweep {cfg} --out {store} --resume" in err
    time.sleep(0.5)
    assert not group_alive(proc.pid), "worker processes survived Ctrl-C"

    if store.exists():
        chk = check_store(store)
        assert chk.status in ("incomplete", "complete"), chk.problems
        if moment == "mid_sweep":
            assert 2 <= chk.tasks_done < tasks or chk.status == "complete"
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--quiet",
                              "--resume"], capsys)
    assert code == 0, err
    assert_stores_identical(store, ref)


# ---------------------------------------------------------------------------------------------
# Numerics: extreme but valid settings
# ---------------------------------------------------------------------------------------------

NUMERIC_BASE = {
    "model.n_states": 8, "model.form": "additive", "model.reach": 0.25,
    "model.neutral_below": 0.0, "model.bandwagon_ratio": 0.1, "model.viability": 0.5,
    "model.weights.power": 1.0, "model.weights.proximity": 1.0, "model.weights.offense": 1.0,
    "model.weights.intent": 1.0, "generator.power_sigma": 1.0, "generator.power_corr": 0.7,
    "generator.intent.a": 1.0, "generator.intent.b": 3.0, "generator.offense.a": 2.0,
    "generator.offense.b": 2.0,
}
ONLY = {"power": ("proximity", "offense", "intent"), "proximity": ("power", "offense", "intent"),
        "offense": ("power", "proximity", "intent"), "intent": ("power", "proximity", "offense")}
NUMERIC_EXTREMES = [
    {"generator.power_sigma": 20.0},                                  # very unequal power
    {"generator.power_sigma": 20.0, "generator.power_corr": 0.0},
    {"generator.power_sigma": 20.0, "generator.power_corr": 1.0, "model.form": "multiplicative"},
    {"generator.power_sigma": 0.0},                                   # all powers equal
    {"model.reach": 1.0e-9}, {"model.reach": 1.0e9},                  # tiny and huge reach
    {"model.reach": 1.0e-300, "model.form": "multiplicative"},        # proximity factor 0
    {"generator.intent.a": 0.001, "generator.intent.b": 1000.0},      # intents ~ 0
    {"generator.intent.a": 0.001, "generator.intent.b": 1000.0, "model.form": "multiplicative"},
    {"generator.offense.a": 0.001, "generator.offense.b": 1000.0, "model.form": "multiplicative"},
    {"generator.offense.a": 1000.0, "generator.offense.b": 0.001},    # offense ~ 1
    {"model.n_states": 2},
    {"model.n_states": 2, "model.form": "multiplicative", "generator.power_sigma": 20.0},
    {"model.n_states": 48, "generator.power_sigma": 20.0},
    {"model.neutral_below": 1.0}, {"model.neutral_below": 1.0e9},     # everyone neutral
    *[{f"model.weights.{w}": 0.0 for w in ONLY[c]} for c in ONLY],    # one criterion only
    *[{**{f"model.weights.{w}": 0.0 for w in ONLY[c]}, "model.form": "multiplicative"}
      for c in ONLY],
    {"model.weights.power": 1.0e-300, "model.weights.intent": 1.0e300},
    {"model.bandwagon_ratio": 1.0, "model.viability": 1.0e9},
    {"model.bandwagon_ratio": 0.0, "model.viability": 0.0},
    {"model.form": "multiplicative", "model.reach": 1.0e-9, "generator.intent.a": 0.001,
     "generator.intent.b": 1000.0, "generator.offense.a": 0.001, "generator.offense.b": 1000.0},
]


@pytest.mark.timeout(240)
def test_extreme_valid_settings_store_only_finite_statistics(tmp_path):
    points = [{**NUMERIC_BASE, **e} for e in NUMERIC_EXTREMES]
    config = make_config({"run": {"seed": 7, "systems": 2000, "chunk": 700},
                          "sweep": {"design": "points", "points": points}})
    out = tmp_path / "extremes.zarr"
    run_sweep(config, out, workers=0, progress=False)
    ds = open_store(out)
    for name in mt.OUTCOMES:
        for stat in ("mean", "std", "sem", "min", "max"):
            values = ds[name].sel(stat=stat).values
            bad = np.flatnonzero(~np.isfinite(values))
            assert bad.size == 0, (name, stat, [NUMERIC_EXTREMES[p] for p in bad])
        assert (ds[name].sel(stat="count").values == 2000).all()
    shares = [f"share_{c}" for c in ("balance", "bandwagon", "neutral")]
    total = sum(ds[s].sel(stat="mean").values for s in shares)
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    assert (ds["coalition_ratio"].sel(stat="min").values >= 0).all()
    n = ds["n_states"].values
    assert (ds["choice_by_power"].values.sum(axis=(1, 2)) == 2000 * n).all()
    everyone_neutral = [k for k, e in enumerate(NUMERIC_EXTREMES)
                        if e.get("model.neutral_below", 0) >= 1]
    assert (ds["share_neutral"].sel(stat="min").values[everyone_neutral] == 1).all()
    assert (ds["coalition_ratio"].sel(stat="max").values[everyone_neutral] == 0).all()


def _tied(n: int, count: int = 3, **over):
    """Systems whose states are all alike: equal powers, one position, equal offense/intent."""
    d = {"power": np.full((count, n), 0.25), "position": np.full((count, n, 2), 0.5),
         "offense": np.full((count, n), 0.5), "intent": np.full((count, n), 0.5)}
    d.update(over)
    return mt.Systems(**d)


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("form", ["additive", "multiplicative"])
@pytest.mark.parametrize("weights", [None, {"power": 1, "proximity": 0, "offense": 0,
                                            "intent": 0},
                                     {"power": 0, "proximity": 0, "offense": 0, "intent": 1}],
                         ids=["equal", "power_only", "intent_only"])
def test_many_tied_systems_follow_the_tie_rules_with_finite_outcomes(n, form, weights):
    """Every threat ties: each state's principal threat is the first other state, state 0
    is named by everyone else (t* = 0 = the hegemon), everybody balances, and the outcomes
    MODEL.md defines are the finite values the tie rules give."""
    params = {"form": form, **({"weights": weights} if weights else {})}
    res = mt.evaluate(_tied(n), params)
    for name, values in res.outcomes.items():
        assert np.isfinite(values).all(), name
    want_target = np.array([1] + [0] * (n - 1))
    assert (res.target == want_target).all()
    assert (res.choice == 0).all()
    o = res.outcomes
    expect = {"share_balance": 1.0, "share_bandwagon": 0.0, "share_neutral": 0.0,
              "bop_agreement": 1.0, "top_threat_is_hegemon": 1.0,
              "coalition_ratio": float(n - 1), "contained": 1.0, "n_coalitions": 2.0,
              "hegemon_allies": 0.0, "hegemon_opposed": 1.0, "hegemon_favoured": 0.0,
              "alignment_change": 0.0, "bop_share_balance": 1.0, "bop_contained": 1.0,
              "bop_hegemon_favoured": 0.0}
    assert set(expect) == set(mt.OUTCOMES)
    for name, value in expect.items():
        np.testing.assert_array_equal(o[name], value, err_msg=name)


@pytest.mark.parametrize("form", ["additive", "multiplicative"])
def test_zero_threat_everywhere_is_finite(form):
    """Intent 0, offense 0 and proximity 0 (states far apart, tiny reach): in the
    multiplicative form every threat is exactly 0; with neutral_below > 0 everyone stays
    neutral and the coalition ratio is 0, as MODEL.md decision 13 says."""
    n = 5
    far = np.stack([np.arange(n) * 1.0e6, np.zeros(n)], axis=1)
    systems = _tied(n, intent=np.zeros((3, n)), offense=np.zeros((3, n)),
                    position=np.broadcast_to(far, (3, n, 2)).copy())
    params = {"form": form, "reach": 1.0e-9, "neutral_below": 0.5,
              "weights": {"power": 0, "proximity": 1, "offense": 1, "intent": 1}}
    res = mt.evaluate(systems, params)
    for name, values in res.outcomes.items():
        assert np.isfinite(values).all(), name
    assert (res.choice == 2).all()
    np.testing.assert_array_equal(res.outcomes["coalition_ratio"], 0.0)
    np.testing.assert_array_equal(res.outcomes["contained"], 0.0)
    T = mt.threat_matrix(systems[:1], params)[0]
    off_diagonal = T[~np.eye(n, dtype=bool)]
    assert np.isfinite(off_diagonal).all() and (off_diagonal == 0).all()


def test_very_unequal_hand_made_powers_are_finite():
    """Powers from 1e-300 to 1 (a 300-decade spread) and positions 1e300 apart."""
    n = 6
    power = np.array([[1.0, 1e-300, 1e-200, 1e-100, 1e-10, 0.5]])
    position = np.array([[[0, 0], [1e300, 0], [-1e300, 0], [0, 1e300], [0, -1e300], [0, 0]]],
                        dtype=float)
    systems = mt.Systems(power=power, position=position, offense=np.full((1, n), 0.7),
                         intent=np.linspace(0, 1, n)[None, :])
    for form in ("additive", "multiplicative"):
        res = mt.evaluate(systems, {"form": form, "reach": 1e-9})
        for name, values in res.outcomes.items():
            assert np.isfinite(values).all(), (form, name)


@pytest.mark.xfail(strict=True, reason="known limitation, reported: a hand-made system whose "
                   "powers sum beyond the largest float (or span more than ~308 decades) gets "
                   "coalition_ratio = inf; MODEL.md decision 13 says it is always finite. "
                   "Generated systems never reach this (power shares are <= 1).")
def test_coalition_ratio_of_powers_near_the_float_limit_is_finite():
    res = mt.evaluate(_tied(3, power=np.full((3, 3), 1e308)), {})
    assert np.isfinite(res.outcomes["coalition_ratio"]).all()


def test_ctrl_c_during_a_dask_wait_is_deferred_to_a_safe_point():
    """Inside ``_sigint_deferred`` a first SIGINT only sets the event (the sweep loop raises
    KeyboardInterrupt itself between waits, never inside distributed's ``Client.sync``, whose
    clean-up then logs a NameError traceback); a second one raises at once; the previous
    handler is back afterwards."""
    before = signal.getsignal(signal.SIGINT)
    with sweep_mod._sigint_deferred() as interrupted:
        assert not interrupted.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs in the main thread between bytecodes
        assert interrupted.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before


def test_resume_refuses_a_store_made_by_a_version_with_other_arithmetic(damage_reference,
                                                                        tmp_path, capsys):
    """A store whose recorded mc-threat version predates the engine's own elementary
    functions (0.2.0) holds numbers that differ in the last bits from what this version
    computes: --resume would mix the two, so it refuses and changes nothing (a store of this
    version resumes as usual: the other resume tests)."""
    import zarr

    cfg, ref = damage_reference
    store = tmp_path / "old.zarr"
    shutil.copytree(ref, store)
    root = zarr.open_group(store, mode="r+")
    versions = json.loads(root.attrs["versions"])
    assert versions["mc-threat"] == mt.__version__
    root.attrs["versions"] = json.dumps({**versions, "mc-threat": "0.1.0"})
    before = snapshot(store)
    code, out, err = run_cli(["sweep", cfg, "--out", store, "--workers", "0", "--resume"],
                             capsys)
    assert_clean_error(code, out, err, str(store), "mc-threat 0.1.0", "--overwrite")
    assert snapshot(store) == before


def test_local_cluster_workers_drop_only_the_shutdown_heartbeat_traceback():
    """The worker preload filters the one record a heartbeat in flight logs when the sweep
    closes its own LocalCluster on a busy machine (a traceback on the terminal); every other
    record of the worker's logger passes."""
    import logging

    from mc_threat.engine.sweep import _NoHeartbeatTraceback

    f = _NoHeartbeatTraceback()

    def rec(msg):
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, msg, None,
                                 None)

    assert not f.filter(rec("Failed to communicate with scheduler during heartbeat."))
    assert f.filter(rec("Compute Failed"))
    assert f.filter(rec("Worker stream died during communication: %s"))
