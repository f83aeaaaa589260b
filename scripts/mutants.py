"""Mutation testing of the kernels and the case scoring: does the test suite kill wrong rules?

Each mutant is one small source replacement at a rule of the model (a comparison, a tie-break,
a threshold, a sum, a label) in ``mc_threat/kernels/*.py``, the case scoring
(``mc_threat/kernels/cases.py``) included. A general mutation tool (mutmut, cosmic-ray)
mutates every operator and reruns the tests per mutant; with numba each run first compiles
the kernels from scratch (a minute or more of CPU), so hundreds of generic mutants do not
fit, and a curated list aimed at the model's rules does.

For every mutant the script copies the package, the tests, the configs and
``pyproject.toml`` into a temporary directory (the worktree's files are never touched),
applies the replacement there, and runs a fast subset of the tests (``SUBSET``) with a
fresh, empty ``NUMBA_CACHE_DIR`` and a time limit. A mutant is

* **killed** when a test fails (or the tests cannot even be collected),
* **timeout** when the run exceeds the limit (a hang counts as killed, but is reported),
* **survived** when every test passes.

The unmutated copy runs first and must pass. Usage::

    python scripts/mutants.py                     # every mutant, stop at the first failure
    python scripts/mutants.py --only A1,A2 --all  # run the whole subset: which tests kill
    python scripts/mutants.py --tests OLD/tests   # score another version of the test suite
    make mutants                                  # the first form, niced

It prints one line per mutant, the score and the survivors, and writes everything to
``results/mutants.json`` (``--out``).

Cost: the compile dominates. On the 2-core reference machine under load from other jobs, a
mutant took 1 to 3 minutes (killed ones stop at their first failing test; the unmutated
subset takes 2 to 5 minutes), so a full run takes 1.5 to 2 hours; ``--only`` splits it into
pieces that can run side by side. Measured on 2026-12-02: all 49 mutants killed, none by
timeout; the tests as they were before issue 13 killed 45 (the four case-scoring mutants
survived a subset that did not yet hold the case-matching tests).
The six mutants of the engine's own arithmetic (M1-M6, version 0.2.0), measured the same
day: all killed, by the elementary-function tests and the generator's exact reference
(2.3 minutes with ``--only M1,M2,M3,M4,M5,M6``). The 13 rule-level mutants whose lines
0.2.0 rewrote (A3-A8, A12, O1, O2, T11, T13-T15), re-aimed at the new lines: all killed
(15.5 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The tests each mutant runs: every test that exercises the kernels and the case path
# without a dask cluster or a sweep (those compile the sweep kernel too, another minute).
# Ordered so that the quick, sharp tests run first (a killed mutant stops at its first
# failure).
SUBSET = [
    "tests/test_elementary.py",
    "tests/test_generate.py::test_matches_the_exact_reference_bit_for_bit",
    "tests/test_reference_hand.py",
    "tests/test_threat_kernel.py",
    "tests/test_boundaries.py",
    "tests/test_doc_tables.py",
    "tests/test_properties.py",
    "tests/test_kernels_vs_reference.py",
    "tests/test_cases.py::test_best_matching_hand",
    "tests/test_cases.py::test_landscape_prediction_scores_15_of_17",
]

K = "mc_threat/kernels/"
# (id, file, original text (must occur exactly once), replacement, what the mutant breaks)
MUTANTS = [
    # --- principal threats (kernels/threat.py)
    ("T1", K + "threat.py", "take = (v > theta[i]) & (i != j)",
     "take = (v >= theta[i]) & (i != j)", "threat tie goes to the largest index (additive)"),
    ("T2", K + "threat.py", "if j != skip and t[j] > t[best]:",
     "if j != skip and t[j] >= t[best]:", "threat tie goes to the largest index (first_max)"),
    ("T3", K + "threat.py", "for j in range(jm):\n        if j != skip and num[j] >= cut",
     "for j in range(0):\n        if j != skip and num[j] >= cut",
     "quotient near-ties not re-checked (dyadic additive)"),
    ("T4", K + "threat.py", "take = (v > theta[i]) & (i != j)", "take = v > theta[i]",
     "a state may name itself its principal threat"),
    ("T5", K + "threat.py", "        theta[i] = -1.0\n", "        theta[i] = 0.0\n",
     "threat level start 0: an all-zero threat row names nobody"),
    ("T6", K + "threat.py", "if agg[j] > agg[m1]:", "if agg[j] >= agg[m1]:",
     "balance-of-power hegemon tie to the largest index"),
    ("T7", K + "threat.py", "(m2 < 0 or agg[j] > agg[m2])", "(m2 < 0 or agg[j] >= agg[m2])",
     "balance-of-power runner-up tie to the largest index"),
    ("T8", K + "threat.py", "        t = m1 if i != m1 else m2\n",
     "        t = m1 if i != m1 else 0\n",
     "the strongest state fears state 0 under balance of power"),
    ("T9", K + "threat.py", "        if omax > 0.0:\n", "        if omax >= 0.0:\n",
     "offensive capability 0/0 when nobody has offense"),
    ("T10", K + "threat.py", "off[j] = (offense[j] * power[j]) / omax",
     "off[j] = offense[j] / omax", "offensive capability ignores power"),
    ("T11", K + "threat.py", "row[j] = -math.sqrt(dx * dx + dy * dy) / reach",
     "row[j] = -(dx * dx + dy * dy) / reach", "proximity from the squared distance"),
    ("T12", K + "threat.py", "            hi = intent[i]\n", "            hi = intent[:, i]\n",
     "dyadic intent read transposed (additive)"),
    ("T13", K + "threat.py", "x = x * pow_(intent[i, j], ei)", "x = x * pow_(intent[j, i], ei)",
     "dyadic intent read transposed (multiplicative)"),
    ("T14", K + "threat.py", "t = t * pow_(d, ed)", "t = t * pow_(d, ea)",
     "wrong exponent for proximity (threat matrix, multiplicative)"),
    ("T15", K + "threat.py", "jh[j] = pow_(intent[0, j], ei) if wi != 0.0 else 1.0",
     "jh[j] = pow_(intent[0, j], ei) if wi != 0.0 else 0.0",
     "a zero intent weight zeroes every threat (multiplicative)"),
    ("T16", K + "threat.py", "return (((wa * a + wd * d) + wo * o) + wi * h) / wsum",
     "return (((wa * a + wd * d) + wo * a) + wi * h) / wsum",
     "threat matrix uses power for offense (additive)"),
    ("T17", K + "threat.py", "if power[k] > pmax:", "if power[k] < pmax:",
     "aggregate power relative to the weakest state"),
    # --- choices, ally availability, blocs (kernels/alignment.py)
    ("A1", K + "alignment.py", "if s_bal[t] < alpha * s_wag[t] and power[i] < power[t]:",
     "if s_bal[t] <= alpha * s_wag[t] and power[i] < power[t]:",
     "ally availability S_B < alpha S_W made non-strict"),
    ("A2", K + "alignment.py", "if s_bal[t] < alpha * s_wag[t] and power[i] < power[t]:",
     "if s_bal[t] < alpha * s_wag[t] and power[i] <= power[t]:",
     "members as strong as the threat also switch (makes bandwagon cycles)"),
    ("A3", K + "alignment.py", "if theta[i] < neutral_below else wag",
     "if theta[i] <= neutral_below else wag",
     "neutral threshold made non-strict"),
    ("A4", K + "alignment.py", "if power[i] < beta * power[t] else",
     "if power[i] <= beta * power[t] else", "bandwagon threshold made non-strict"),
    ("A5", K + "alignment.py", "        s_wag[t] = power[t]\n", "        s_wag[t] = 0.0\n",
     "S_W leaves out the threat itself"),
    ("A6", K + "alignment.py", "        s_wag[t] += power[i] * wag\n", "        pass\n",
     "S_W leaves out the bandwagoners"),
    ("A7", K + "alignment.py", "        s_bal[t] += power[i] * bal\n",
     "        s_bal[t] += bal\n",
     "S_B counts balancers instead of summing their power"),
    ("A8", K + "alignment.py", "        n_bal[t] += np.int32(c == BALANCE)\n",
     "        n_bal[t] += 0\n", "|B_t| never counted"),
    ("A9", K + "alignment.py", "    if changed:\n", "    if False:\n",
     "sums not recomputed after the availability pass"),
    ("A10", K + "alignment.py", "            bloc[i] = n + target[cur]\n",
     "            bloc[i] = target[cur]\n", "coalition label collides with state labels"),
    ("A11", K + "alignment.py", "            bloc[i] = cur\n", "            bloc[i] = i\n",
     "a chain ending at a neutral root is not in the root's bloc"),
    ("A12", K + "alignment.py", "if power[i] < beta * power[t] else",
     "if power[i] < beta * power[i] else", "bandwagon test against own power"),
    # --- outcomes (kernels/outcomes.py)
    ("O1", K + "outcomes.py", "for b in range(1, nbins):",
     "for b in range(1, nbins - 1):", "power-bin off-by-one: the top bin is never used"),
    ("O2", K + "outcomes.py", "k += 1 if r >= edges[b] else 0", "k += 1 if r > edges[b] else 0",
     "a relative power on a bin edge falls in the bin below"),
    ("O3", K + "outcomes.py", "if power[k] > power[h]:", "if power[k] >= power[h]:",
     "hegemon tie to the largest index"),
    ("O4", K + "outcomes.py", "if counts[t] > counts[best]:", "if counts[t] >= counts[best]:",
     "most-named threat tie to the largest index"),
    ("O5", K + "outcomes.py", "if i != h and bloc[i] == bloc[h]:", "if bloc[i] == bloc[h]:",
     "the hegemon counts as its own ally"),
    ("O6", K + "outcomes.py", "if n_bal[i] > 0:", "if n_bal[i] > 1:",
     "a one-member coalition is not counted"),
    ("O7", K + "outcomes.py", "out[1] = 1.0 if ratio >= 1.0 else 0.0",
     "out[1] = 1.0 if ratio > 1.0 else 0.0", "balance-of-power containment made strict"),
    ("O8", K + "outcomes.py", "out[O_CONTAINED] = 1.0 if ratio >= 1.0 else 0.0",
     "out[O_CONTAINED] = 1.0 if ratio > 1.0 else 0.0", "containment made strict"),
    ("O9", K + "outcomes.py", "out[O_HEGEMON_FAVOURED] = 1.0 if allies > opposed else 0.0",
     "out[O_HEGEMON_FAVOURED] = 1.0 if allies >= opposed else 0.0",
     "hegemon favoured on a tie"),
    ("O10", K + "outcomes.py", "out[2] = 1.0 if allies > opposed else 0.0",
     "out[2] = 1.0 if allies >= opposed else 0.0", "balance-of-power hegemon favoured on a tie"),
    ("O11", K + "outcomes.py", "change += (not same_target) or choice[i] != bop_choice[i]",
     "change += not same_target", "alignment change ignores a changed choice"),
    ("O12", K + "outcomes.py", "out[O_HEGEMON_ALLIES] = allies / (fn - 1.0)",
     "out[O_HEGEMON_ALLIES] = allies / fn", "hegemon allies divided by n instead of n - 1"),
    ("O13", K + "outcomes.py", "            if target[i] == h:\n",
     "            if target[i] == h or target[i] != h:\n",
     "every balancer counts as opposing the hegemon"),
    ("O14", K + "outcomes.py", "out[O_TOP_IS_HEGEMON] = 1.0 if t_star == h else 0.0",
     "out[O_TOP_IS_HEGEMON] = 1.0 if target[h] == t_star else 0.0",
     "top threat compared with the hegemon's threat"),
    # --- the batch kernel (kernels/evaluate.py)
    ("E1", K + "evaluate.py", "cbp[bins[i], choice[i]] += 1", "cbp[bins[i], 0] += 1",
     "choice-by-power counts ignore the choice"),
    ("E2", K + "evaluate.py",
     "power_threats(f[0], k[3], f[4])\n    choose(power, k[3], f[4], params[P_BETA], "
     "params[P_ALPHA], params[P_NEUTRAL],",
     "power_threats(f[0], k[3], f[4])\n    choose(power, k[3], f[4], params[P_BETA], "
     "params[P_ALPHA], 0.0,", "balance of power ignores neutral_below"),
    # --- case scoring (kernels/cases.py)
    ("C1", K + "cases.py", "if side[i] >= 0 and p == side[i]:", "if p == side[i]:",
     "unscored states matched to no side count as correct"),
    ("C2", K + "cases.py",
     "                if (mask & bit) == 0 and counts[b, s] > 0:\n",
     "                if counts[b, s] > 0:\n",
     "one side may take several blocs (rewards fragmentation)"),
    ("C3", K + "cases.py", "v = exp(-dist[i, j] / reach)",
     "v = exp(-dist[i, j] / (2.0 * reach))", "case proximity with twice the reach"),
    ("C4", K + "cases.py",
     "            if (mask & bit) == 0 and counts[b, s] > 0 and \\\n",
     "            if (mask & bit) == 0 and \\\n",
     "a bloc may be matched to a side it has no scored member of"),
    # --- the engine's own arithmetic (kernels/elementary.py, kernels/generate.py; 0.2.0)
    ("M1", K + "elementary.py", 'E5 = float.fromhex("0x1.1111111111111p-7")',
     'E5 = float.fromhex("0x1.1111111111110p-7")', "an exp coefficient off in its last bit"),
    ("M2", K + "elementary.py", "    r = hi - lo\n", "    r = hi\n",
     "exp's reduction drops the low part of ln 2"),
    ("M3", K + "elementary.py", "        k = k - 54.0\n", "        k = k - 53.0\n",
     "log of a subnormal scaled back by the wrong power of 2"),
    ("M4", K + "elementary.py", "    if (q & _TWO_U) != 0:\n", "    if (q & _ONE_U) != 0:\n",
     "sine's sign taken from the wrong quadrant bit"),
    ("M5", K + "elementary.py", "    t = t + t * ((r - t) / ((t + t) + r))\n",
     "    t = t + t * ((r - t) / (t + r))\n", "cbrt's last Halley step made a Newton-like step"),
    ("M6", K + "generate.py", "        sin1, cos1 = sincos2pi(u[n + i])\n",
     "        cos1, sin1 = sincos2pi(u[n + i])\n", "Box-Muller's sine and cosine swapped"),
]

# The four mutants of issue 13's audit.
NAMED = ("T1", "A1", "A2", "O1")


IGNORE = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc")


def snapshot(dest: Path, tests: Path) -> None:
    """Copy what the tests need once, at the start, so that edits to the checkout during a
    long run do not leak into later mutants."""
    for name in ("mc_threat", "configs", "docs", "scripts"):
        shutil.copytree(ROOT / name, dest / name, ignore=IGNORE)
    shutil.copytree(tests, dest / "tests", ignore=IGNORE)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)


def copy_tree(dest: Path, source: Path) -> None:
    shutil.copytree(source, dest, ignore=IGNORE, dirs_exist_ok=True)


def apply(dest: Path, mutant) -> None:
    _id, rel, old, new, _what = mutant
    path = dest / rel
    text = path.read_text()
    count = text.count(old)
    if count != 1:
        raise SystemExit(f"mutants: error: {_id}: the original text occurs {count} times in "
                         f"{rel} (expected once); update the mutant list")
    path.write_text(text.replace(old, new))


def run_one(mutant, source: Path, subset: list[str], timeout: float, stop_first: bool) -> dict:
    """Copy, mutate, run the subset; returns the outcome, the failing tests and the time."""
    with tempfile.TemporaryDirectory(prefix="mc-threat-mutant-") as tmp:
        dest = Path(tmp)
        copy_tree(dest, source)
        if mutant is not None:
            apply(dest, mutant)
        cache = dest / "numba-cache"
        cache.mkdir()
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(dest),
               "PYTHONDONTWRITEBYTECODE": "1"}
        present = [t for t in subset if (dest / t.split("::")[0]).exists()]
        cmd = [sys.executable, "-m", "pytest", *present, "-q", "-p", "no:cacheprovider",
               "-o", "addopts=-m 'not bench'", "--timeout", str(int(timeout)),
               "-rf", "--no-header"]
        if stop_first:
            cmd.append("-x")
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=dest, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            status = "survived" if proc.returncode == 0 else "killed"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            status = "timeout"
        finally:  # interrupted: take the test run (and its workers) down too
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        elapsed = time.monotonic() - t0
    failed = sorted({line.split(" ")[1] for line in out.splitlines()
                     if line.startswith(("FAILED ", "ERROR "))})
    if status == "killed" and not failed:
        failed = ["(no test reported: " + out.strip().splitlines()[-1][:200] + ")"] \
            if out.strip() else ["(no output)"]
    return {"status": status, "failed": failed, "seconds": round(elapsed, 1),
            "tail": out.strip().splitlines()[-3:] if status != "survived" else []}


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # unwinds, so the temporary copies are removed


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _terminated)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated mutant ids (default: all)")
    ap.add_argument("--all", action="store_true",
                    help="run the whole subset for each mutant (lists every killing test)")
    ap.add_argument("--tests", type=Path, default=ROOT / "tests",
                    help="the tests directory to score (default: this checkout's)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds per mutant, compile included (default 900)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "mutants.json")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)

    mutants = MUTANTS
    if args.only:
        ids = args.only.split(",")
        unknown = sorted(set(ids) - {m[0] for m in MUTANTS})
        if unknown:
            print(f"mutants: error: --only: unknown mutant ids {unknown}", file=sys.stderr)
            return 2
        mutants = [m for m in MUTANTS if m[0] in ids]
    if args.list:
        for m in mutants:
            print(f"{m[0]:4s} {m[1]:32s} {m[4]}")
        return 0
    tests = args.tests.resolve()
    t_start = time.monotonic()
    print(f"tests: {tests}; subset: {' '.join(SUBSET)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mc-threat-mutants-source-") as source:
        return _run_all(args, mutants, tests, Path(source), t_start)


def _run_all(args, mutants, tests: Path, source: Path, t_start: float) -> int:
    snapshot(source, tests)
    base = run_one(None, source, SUBSET, args.timeout, stop_first=False)
    print(f"unmutated: {base['status']} in {base['seconds']} s", flush=True)
    if base["status"] != "survived":
        print("mutants: error: the unmutated copy fails its tests:\n  "
              + "\n  ".join(base["failed"] + base["tail"]), file=sys.stderr)
        return 1
    results = []
    for m in mutants:
        r = run_one(m, source, SUBSET, args.timeout, stop_first=not args.all)
        r.update(id=m[0], file=m[1], what=m[4])
        results.append(r)
        first = r["failed"][0] if r["failed"] else ""
        extra = f" ({len(r['failed'])} tests)" if args.all and r["failed"] else ""
        print(f"{m[0]:4s} {r['status']:8s} {r['seconds']:6.1f} s  {m[4]}  {first}{extra}",
              flush=True)
    killed = sum(r["status"] != "survived" for r in results)
    total = time.monotonic() - t_start
    print(f"\nmutation score: {killed}/{len(results)} killed "
          f"({100.0 * killed / max(1, len(results)):.0f} %), "
          f"{sum(r['status'] == 'timeout' for r in results)} by timeout; "
          f"{total / 60:.1f} min in all")
    survivors = [r for r in results if r["status"] == "survived"]
    for r in survivors:
        print(f"  survived: {r['id']} {r['file']}: {r['what']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"tests": str(tests), "subset": SUBSET,
                                    "unmutated_seconds": base["seconds"],
                                    "total_seconds": round(total, 1), "killed": killed,
                                    "mutants": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
