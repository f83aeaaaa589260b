"""Sweeps on a real SLURM cluster through dask-jobqueue (``--cluster FILE``).

The fixture starts a one-node SLURM on this machine: ``munged`` (authentication),
``slurmctld`` (the controller) and ``slurmd`` (the node daemon), each with its files in a
temporary directory and on free ports, from Debian's ``slurm-wlm`` and ``munge`` packages
(``.ci/run`` installs them when it runs as root). Without them, or without root, the tests
are skipped with the reason. Nothing here imitates SLURM: jobs are submitted with
``sbatch`` by dask-jobqueue, run by ``slurmd``, and cancelled with ``scancel``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import (
    assert_stores_identical,
    cli_command,
    kill_group,
    reference_sweep,
    tasks_done,
)

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")

# 2 points x 48 chunks of 10,000 systems: 8 tasks of about 0.8 s each on one core.
SLURM_SWEEP = {
    "model": {"n_states": 16},
    "run": {"seed": 77, "systems": 480000, "chunk": 10000},
    "sweep": {"design": "grid", "factors": {"model.weights.intent": [0.25, 1.0]}},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.exists()), None)


class LocalSlurm:
    """munged + slurmctld + slurmd on this machine, with a partition ``mcthreat``."""

    def __init__(self, base: Path):
        self.base = base
        self.procs: list[subprocess.Popen] = []
        host = socket.gethostname()
        for d in ("state", "spool", "log", "munge"):
            (base / d).mkdir(mode=0o700)
        key = base / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.socket = base / "munge" / "munge.socket"
        self._run([_which("munged"), "--force", f"--socket={self.socket}",
                   f"--key-file={key}", f"--log-file={base / 'log' / 'munged.log'}",
                   f"--pid-file={base / 'munge' / 'munged.pid'}",
                   f"--seed-file={base / 'munge' / 'munged.seed'}"])
        self.conf = base / "slurm.conf"
        cpus = os.cpu_count() or 1
        self.conf.write_text("\n".join([
            "ClusterName=mcthreat-test",
            f"SlurmctldHost={host}(127.0.0.1)",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={self.socket}",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SchedulerType=sched/backfill", "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core", "ReturnToService=2",
            "SlurmUser=root", "SlurmdUser=root",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none", "MpiDefault=none",
            f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
            f"SlurmctldPidFile={base / 'slurmctld.pid'}",
            f"SlurmdPidFile={base / 'slurmd.pid'}",
            f"SlurmdSpoolDir={base / 'spool'}", f"StateSaveLocation={base / 'state'}",
            f"SlurmctldLogFile={base / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={base / 'log' / 'slurmd.log'}",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN",
            f"PartitionName=mcthreat Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._daemon([_which("slurmctld"), "-D", "-f", str(self.conf)], "slurmctld")
        self._daemon([_which("slurmd"), "-D", "-f", str(self.conf)], "slurmd")
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env,
                                 capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip() == "idle":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"SLURM did not come up: {out.stdout}{out.stderr}\n"
                                   f"{self.logs()}")
            time.sleep(0.5)

    def _run(self, cmd) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.strip()}")

    def _daemon(self, cmd, name) -> None:
        with open(self.base / "log" / f"{name}.out", "ab") as fh:
            self.procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                               env=self.env, start_new_session=True))

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                         for p in sorted((self.base / "log").iterdir()))

    def jobs(self) -> list[str]:
        out = subprocess.run(["squeue", "-h", "-o", "%i %t"], env=self.env,
                             capture_output=True, text=True, check=True).stdout
        return [line.split()[0] for line in out.splitlines() if line.split()[1:] == ["R"]]

    def cancel_all(self) -> None:
        subprocess.run(["scancel", "--partition", "mcthreat"], env=self.env,
                       capture_output=True)

    def close(self) -> None:
        self.cancel_all()
        for proc in self.procs:
            kill_group(proc)
        pidfile = self.base / "munge" / "munged.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text().strip()), 9)
            except (ValueError, ProcessLookupError):
                pass


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = [d for d in DAEMONS if _which(d) is None]
    if missing:
        pytest.skip(f"SLURM is not installed here (no {', '.join(missing)}); "
                    "`apt-get install slurm-wlm munge` (done by .ci/run as root)")
    if os.geteuid() != 0:
        pytest.skip("a one-node SLURM needs root to run slurmd")
    pytest.importorskip("dask_jobqueue")
    from mc_threat.engine.sweep import warm_kernels

    warm_kernels()  # the jobs' workers load the kernel from the cache
    base = tmp_path_factory.mktemp("slurm", numbered=True)
    try:
        cluster = LocalSlurm(base)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"SLURM is installed but would not start: {exc}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)  # for sbatch/squeue/scancel of jobqueue
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        cluster.close()


@pytest.fixture(scope="module")
def slurm_reference(tmp_path_factory):
    cfg, ref, report = reference_sweep(tmp_path_factory.mktemp("slurm-ref"), "slurm",
                                       SLURM_SWEEP)
    return cfg, ref, report.tasks_total


def _cluster_file(slurm: LocalSlurm, path: Path, jobs: int = 2) -> Path:
    """A ``--cluster`` file like ``configs/cluster_slurm.yaml``, sized for this machine."""
    spec = {
        "slurm": {
            "queue": "mcthreat", "cores": 1, "processes": 1, "memory": "1GB",
            "walltime": "00:15:00", "python": sys.executable,
            "log_directory": str(path.parent / "slurm-logs"),
            "local_directory": str(path.parent / "dask-worker-space"),
            "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"},
            "job_script_prologue": ["export NUMBA_NUM_THREADS=1", "export OMP_NUM_THREADS=1"],
            "worker_extra_args": ["--lifetime", "14m", "--lifetime-stagger", "30s"],
        },
        "jobs": jobs,
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def _start_sweep(cmd, log: Path, env) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _wait(pred, proc, log: Path, timeout: float = 180.0) -> None:
    t0 = time.monotonic()
    while not pred():
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended (status {proc.returncode}) too early:\n"
                        f"{log.read_text()}")
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"nothing happened in {timeout} s:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_slurm_sweep_job_killed_mid_run_then_client_killed_and_resumed(slurm, slurm_reference,
                                                                       tmp_path):
    """Through dask-jobqueue on a real SLURM: (1) a sweep whose SLURM job is cancelled
    mid-run, as a walltime would end it, still finishes on the other job, byte-identical
    to ``--workers 0``; (2) a sweep whose client is SIGKILLed mid-run resumes with
    ``--resume --cluster`` to the same bytes."""
    cfg, ref, tasks = slurm_reference
    cluster_file = _cluster_file(slurm, tmp_path / "cluster.yaml")
    out = tmp_path / "slurm.zarr"
    cmd = [*cli_command(), "sweep", str(cfg), "--cluster", str(cluster_file), "--quiet",
           "--out", str(out)]

    # (1) one of the two jobs is cancelled once the first task is stored
    log1 = tmp_path / "sweep1.log"
    sweep = _start_sweep(cmd, log1, slurm.env)
    try:
        _wait(lambda: tasks_done(out) >= 1 and len(slurm.jobs()) == 2, sweep, log1)
        victim = slurm.jobs()[0]
        subprocess.run(["scancel", victim], env=slurm.env, check=True)
        assert tasks_done(out) < tasks, "the job was cancelled too late to matter"
        assert sweep.wait(timeout=300) == 0, log1.read_text()
    finally:
        if sweep.poll() is None:
            kill_group(sweep)
        slurm.cancel_all()
    assert "Traceback" not in log1.read_text(), log1.read_text()
    assert_stores_identical(out, ref)

    # (2) the client dies mid-run; its jobs are gone with it; --resume starts new ones
    out2 = tmp_path / "slurm2.zarr"
    cmd2 = [*cmd[:-1], str(out2)]
    log2 = tmp_path / "sweep2.log"
    sweep = _start_sweep(cmd2, log2, slurm.env)
    try:
        _wait(lambda: tasks_done(out2) >= 1, sweep, log2)
    finally:
        kill_group(sweep)
        slurm.cancel_all()  # what the jobs' --death-timeout would do a minute later
    assert 1 <= tasks_done(out2) < tasks
    resumed = subprocess.run([*cmd2, "--resume"], env=slurm.env, capture_output=True,
                             text=True, timeout=400)
    slurm.cancel_all()
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert_stores_identical(out2, ref)


def test_shipped_cluster_file_makes_a_job_script_that_retires_workers_before_walltime():
    """``configs/cluster_slurm.yaml`` as dask-jobqueue reads it (no SLURM needed): the job
    script sets numba's threads, activates the environment, and starts workers with a
    lifetime and stagger that end before the walltime."""
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    spec = yaml.safe_load((Path(__file__).parents[1] / "configs" / "cluster_slurm.yaml")
                          .read_text())
    settings = {k: v for k, v in spec["slurm"].items() if v is not None}
    with SLURMCluster(scheduler_options={"host": "127.0.0.1", "dashboard_address": ":0"},
                      **settings) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p normal" in script and "#SBATCH -t 02:00:00" in script, script
    assert "export NUMBA_NUM_THREADS=1" in script and "source .venv/bin/activate" in script
    args = settings["worker_extra_args"]
    assert " ".join(args) in script
    lifetime = int(args[args.index("--lifetime") + 1].rstrip("m"))
    stagger = int(args[args.index("--lifetime-stagger") + 1].rstrip("m"))
    hours, minutes, _ = map(int, settings["walltime"].split(":"))
    assert lifetime + stagger < 60 * hours + minutes
