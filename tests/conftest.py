"""Shared helpers for the sweep, store, CLI and design tests.

Everything here works on real components: real zarr stores on disk, the real CLI entry
point (in process through ``mc_threat.cli.main`` or as a subprocess), and the real
``write_region`` of ``mc_threat.store`` (wrapped, never replaced, to record and check
every region a sweep writes).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # (none of these imports numba)
import pytest
import yaml

# ---------------------------------------------------------------------------------------------
# The test run owns its compiled code
# ---------------------------------------------------------------------------------------------


def isolate_numba_cache() -> str:
    """Give this process (and every process it starts) a fresh, empty numba cache.

    numba revalidates a cached kernel against the timestamp of its own source file only, so
    a kernel that inlines a function from another file (``evaluate.py`` inlines
    ``threat.py``) keeps old machine code after that other file changes. A run that starts
    from an empty cache compiles every kernel from the sources as they are now. This must
    happen before numba is imported (numba reads ``NUMBA_CACHE_DIR`` once, at import); it
    goes into ``os.environ`` so that subprocesses and dask workers inherit it.

    An already set ``NUMBA_CACHE_DIR`` is kept (``make test`` sets a fresh one; set your own
    only to reuse compiled kernels across runs, at the price of the staleness above). The
    directory made here is removed when the process exits. Returns the directory in use.
    """
    current = os.environ.get("NUMBA_CACHE_DIR")
    if current:
        return current
    if "numba" in sys.modules:
        raise RuntimeError("numba was imported before the test run could isolate its cache")
    path = tempfile.mkdtemp(prefix="mc-threat-numba-")
    os.environ["NUMBA_CACHE_DIR"] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


NUMBA_CACHE_DIR = isolate_numba_cache()

ROOT = Path(__file__).resolve().parents[1]

# Attributes that legitimately differ between two runs of the same config.
TIME_ATTRS = ("started", "finished")


# ---------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------


def write_config(path: Path, data: dict) -> Path:
    """Write ``data`` as a YAML config file and return its path."""
    path = Path(path)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def reference_sweep(base: Path, name: str, data: dict):
    """Write ``data`` as ``base/NAME.yaml`` and sweep it without dask (uninterrupted) into
    ``base/reference.zarr``. Returns the config path, the store path and the sweep's report."""
    from mc_threat.config import load_config
    from mc_threat.engine.sweep import run_sweep

    cfg = write_config(Path(base) / f"{name}.yaml", data)
    ref = Path(base) / "reference.zarr"
    return cfg, ref, run_sweep(load_config(cfg), ref, workers=0, progress=False)


def make_config(data: dict):
    from mc_threat.config import config_from_dict

    return config_from_dict(data)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def cli_command() -> list[str]:
    """The installed ``mc-threat`` console script of this interpreter's venv (or ``-m``)."""
    exe = Path(sys.executable).with_name("mc-threat")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "mc_threat.cli"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``mc_threat.cli.main(argv)`` in this process; return ``(status, stdout, stderr)``.

    argparse errors end in ``SystemExit``; any other exception propagates (and fails the
    test), which is the in-process equivalent of "a traceback was printed".
    """
    from mc_threat.cli import main

    capsys.readouterr()  # drop anything printed before
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mc-threat: error:")]


def assert_clean_error(code: int, out: str, err: str, *fields: str, usage_ok: bool = False,
                       single: bool = True) -> list[str]:
    """Exit status 2, ``mc-threat: error:`` lines naming every field, no traceback."""
    assert code == 2, f"exit status {code}, stderr:\n{err}"
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = error_lines(err)
    assert lines, f"no 'mc-threat: error:' line in stderr:\n{err}"
    others = [line for line in err.splitlines() if line and line not in lines]
    if usage_ok:
        # argparse prints its usage (which may wrap) before the error line
        assert not others or others[0].startswith("usage: mc-threat"), err
    else:
        assert not others, f"stderr has lines besides the error lines:\n{err}"
    if single:
        assert len(lines) == 1, f"expected one error line, got:\n{err}"
    text = "\n".join(lines)
    for field in fields:
        assert field in text, f"{field!r} not named in:\n{text}"
    return lines


# ---------------------------------------------------------------------------------------------
# Stores on disk
# ---------------------------------------------------------------------------------------------


def store_files(path: Path) -> dict[str, bytes]:
    """Every file of a store (relative path -> bytes), without zarr's ``*.partial`` temp files
    (left behind only by a process killed mid-write; zarr never reads them)."""
    path = Path(path)
    out = {}
    for f in sorted(path.rglob("*")):
        if f.is_file() and not f.name.endswith(".partial"):
            out[f.relative_to(path).as_posix()] = f.read_bytes()
    return out


def snapshot(path: Path) -> dict[str, tuple]:
    """Bytes and mtimes of every file and directory below ``path`` (to prove it untouched)."""
    path = Path(path)
    if path.is_file():
        st = path.stat()
        return {".": ("file", path.read_bytes(), st.st_mtime_ns)}
    out = {".": ("dir", None, path.stat().st_mtime_ns)}
    for f in sorted(path.rglob("*")):
        st = f.stat()
        rel = f.relative_to(path).as_posix()
        out[rel] = ("file", f.read_bytes(), st.st_mtime_ns) if f.is_file() else \
            ("dir", None, st.st_mtime_ns)
    return out


def _root_meta(raw: bytes) -> dict:
    meta = json.loads(raw)
    for name in TIME_ATTRS:
        meta.get("attributes", {}).pop(name, None)
    return meta


def assert_store_files_identical(a: Path, b: Path) -> None:
    """Same files, byte for byte; the root ``zarr.json`` equal apart from the run times."""
    fa, fb = store_files(a), store_files(b)
    assert sorted(fa) == sorted(fb), (
        f"file sets differ: only in {a}: {sorted(set(fa) - set(fb))}; "
        f"only in {b}: {sorted(set(fb) - set(fa))}")
    chunk_files = [k for k in fa if not k.endswith("zarr.json")]
    assert any(k.startswith("share_balance/c/") for k in chunk_files), "no result chunks"
    differ = [k for k in fa if k != "zarr.json" and fa[k] != fb[k]]
    assert not differ, f"files differ between {a} and {b}: {differ}"
    assert _root_meta(fa["zarr.json"]) == _root_meta(fb["zarr.json"])
    ta = json.loads(fa["zarr.json"])["attributes"]
    tb = json.loads(fb["zarr.json"])["attributes"]
    assert ta["finished"] and tb["finished"], "a store was not finished"


def _equal(x: np.ndarray, y: np.ndarray) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind in "fc" or y.dtype.kind in "fc":
        return x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
    if x.dtype.kind in "iub" and y.dtype.kind in "iub":
        return np.array_equal(x, y)
    return x.shape == y.shape and [str(v) for v in x.ravel()] == [str(v) for v in y.ravel()]


def assert_datasets_identical(a, b) -> None:
    """Every data variable and coordinate equal (NaN == NaN), same dims, dtypes and attrs."""
    assert sorted(a.data_vars) == sorted(b.data_vars)
    assert sorted(a.coords) == sorted(b.coords)
    assert dict(a.sizes) == dict(b.sizes)
    for name in list(a.data_vars) + list(a.coords):
        va, vb = a[name], b[name]
        assert va.dims == vb.dims, name
        assert va.dtype == vb.dtype, (name, va.dtype, vb.dtype)
        assert _equal(va.values, vb.values), f"{name} differs"
        assert va.attrs == vb.attrs, name
    drop = set(TIME_ATTRS)
    assert {k: v for k, v in a.attrs.items() if k not in drop} == \
        {k: v for k, v in b.attrs.items() if k not in drop}


def open_store(path):
    from mc_threat.store import open_results

    return open_results(path).load()


def assert_stores_identical(a: Path, b: Path) -> None:
    """Byte-identical chunk files and equal Datasets."""
    assert_store_files_identical(a, b)
    assert_datasets_identical(open_store(a), open_store(b))


# ---------------------------------------------------------------------------------------------
# Task layout and write checks
# ---------------------------------------------------------------------------------------------


def force_plan(monkeypatch, **fields) -> None:
    """Make ``run_sweep`` use the real plan with some fields replaced (for example
    ``block=4``: four points per task), so that small sweeps have several point blocks
    and partial last blocks. Fields the Plan does not have are ignored. The plan is made
    in the client, so dask workers need nothing; results must not depend on it."""
    import dataclasses

    import mc_threat.engine.sweep as sweep

    real = sweep.make_plan

    def planned(*args, **kwargs):
        plan = real(*args, **kwargs)
        names = {f.name for f in dataclasses.fields(plan)}
        return dataclasses.replace(plan, **{k: v for k, v in fields.items() if k in names})

    monkeypatch.setattr(sweep, "make_plan", planned)


def chunks_touched(arr, region) -> list[tuple[int, ...]]:
    """Chunk indices a region covers, after checking (independently of ``write_region``)
    that the region starts on a chunk boundary and ends on one or at the array's end."""
    full = tuple(region) + (slice(None),) * (len(arr.shape) - len(region))
    ranges = []
    for s, size, ch in zip(full, arr.shape, arr.chunks, strict=True):
        start, stop, step = s.indices(size)
        assert step == 1, f"strided write to {arr.path}"
        assert start % ch == 0, f"write to {arr.path} starts inside a chunk: {start} (chunk {ch})"
        assert stop % ch == 0 or stop == size, \
            f"write to {arr.path} ends inside a chunk: {stop} (chunk {ch}, size {size})"
        ranges.append(range(start // ch, -(-stop // ch)))
    out = [()]
    for r in ranges:
        out = [t + (i,) for t in out for i in r]
    return out


class WriteLog:
    """Records every ``write_region`` call: (array path, chunk indices written), and the
    chunk grid of every array written."""

    def __init__(self):
        self.calls: list[tuple[str, list[tuple[int, ...]]]] = []
        self.grids: dict[str, tuple[int, ...]] = {}

    def clear(self):
        self.calls.clear()
        self.grids.clear()

    def by_array(self) -> dict[str, list[tuple[int, ...]]]:
        out: dict[str, list[tuple[int, ...]]] = {}
        for path, chunks in self.calls:
            out.setdefault(path, []).extend(chunks)
        return out

    def all_chunks(self, path: str) -> list[tuple[int, ...]]:
        """Every chunk index of array ``path``."""
        out = [()]
        for n in self.grids[path]:
            out = [t + (i,) for t in out for i in range(n)]
        return out


@pytest.fixture
def aligned_writes(monkeypatch):
    """Wrap the store's real ``write_region``: check every region against the array's
    chunks, record it, then let the real function write."""
    import mc_threat.store as store

    log = WriteLog()
    real = store.write_region

    def recording(arr, region, data):
        touched = chunks_touched(arr, region)
        log.calls.append((arr.path, touched))
        log.grids[arr.path] = tuple(-(-n // c) for n, c in zip(arr.shape, arr.chunks,
                                                                strict=True))
        return real(arr, region, data)

    monkeypatch.setattr(store, "write_region", recording)
    return log


# ---------------------------------------------------------------------------------------------
# Subprocesses
# ---------------------------------------------------------------------------------------------


def tasks_done(store: Path) -> int:
    """Tasks the store's manifest records as finished, or -1 while it is being created (or
    is damaged by an earlier kill): for tests that act once a running sweep has stored some."""
    from mc_threat.store import Store

    try:
        return int(Store(store).done_tasks().sum())
    except Exception:  # noqa: BLE001
        return -1


def group_alive(pgid: int) -> list[int]:
    """Pids (not zombies) still in process group ``pgid``."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        state, pg = fields[0], int(fields[2])
        if pg == pgid and state != "Z":
            alive.append(int(entry.name))
    return alive


def kill_group(proc, timeout: float = 20.0) -> None:
    """SIGKILL ``proc``'s process group (it was started with ``start_new_session=True``) and
    wait until no process of the group is left."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
    except Exception:  # noqa: BLE001
        pass
    deadline = time.monotonic() + timeout
    while group_alive(proc.pid) and time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        time.sleep(0.1)
