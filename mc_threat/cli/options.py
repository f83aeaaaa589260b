"""What the commands share: exit statuses, argument types, the options of every command that
runs a sweep, the ``--resume`` line printed when a run is interrupted, and the model options
(``--weights``, ``--reach``, ...) of ``case`` and ``history``."""

from __future__ import annotations

import argparse
import math

from ..config import ConfigError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130



def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_sweep_options(s: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a sweep (``sweep``, ``sensitivity``)."""
    s.add_argument("--workers", type=nonnegative_int,
                   help="worker processes of the local dask cluster (default: one per core); "
                   "0 runs in this process without dask")
    s.add_argument("--scheduler", help="address of an existing dask scheduler, e.g. "
                   "tcp://host:8786")
    s.add_argument("--cluster", metavar="FILE", help="start a SLURM cluster with dask-jobqueue "
                   "from FILE (see configs/cluster_slurm.yaml)")
    s.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    s.add_argument("--overwrite", action="store_true", help="replace an existing store")
    s.add_argument("--systems", type=positive_int, help="systems per point (overrides "
                   "run.systems; a larger run.chunk is lowered to it, and the run says so)")
    s.add_argument("--samples", type=positive_int, metavar="N", help="base sample of an lhs "
                   "or sobol design (overrides sweep.samples); with --resume, a larger N "
                   "extends a Sobol store, computing only the new points")


def resume_command(args, out, command: str = "sweep") -> str:
    """The command that continues an interrupted run: the same config and store with
    ``--resume``, and every option of the interrupted command that changes what is computed
    (``--systems``, ``--samples``, ``--design``: they enter the config hash the store keeps,
    so without them ``--resume`` would refuse the store) or where (``--workers``, ``--scheduler``,
    ``--cluster``) or how it is reported (``--quiet`` and the analysis options). Paths are
    quoted for a POSIX shell, so the line can be pasted as it is."""
    import shlex

    words = ["mc-threat", command, str(args.config), "--out", str(out), "--resume"]
    for option in _RESUME_OPTIONS:
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if value is None or value is False:
            continue
        if command == "sensitivity" and option == "--design" and value == "sobol":
            continue  # the default
        if command == "sensitivity" and option == "--conf-level" and value == 0.95:
            continue
        words.append(option)
        if value is not True:
            words.append(",".join(value) if isinstance(value, list) else str(value))
    return " ".join(shlex.quote(w) for w in words)


# Options repeated by resume_command, in this order (those a command lacks are skipped).
_RESUME_OPTIONS = ("--systems", "--samples", "--design", "--workers", "--scheduler", "--cluster",
                   "--outcomes", "--conf-level", "--resamples", "--quiet")


# Model options of `case` and `history` (--weights, --reach, ...)

WEIGHT_NAMES = ("power", "proximity", "offense", "intent")


def _parse_weights(text: str) -> dict:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    msg = (f"--weights: give four numbers A,D,O,I or name=value pairs with names "
           f"{', '.join(WEIGHT_NAMES)}; got {text!r}")
    if parts and all("=" in p for p in parts):
        out = {}
        for p in parts:
            name, _, val = p.partition("=")
            name = name.strip()
            if name not in WEIGHT_NAMES:
                raise ConfigError(f"--weights: unknown weight {name!r} (names: "
                                  f"{', '.join(WEIGHT_NAMES)})")
            out[name] = _number(val, f"--weights: {name}")
        return out
    if len(parts) != 4 or any("=" in p for p in parts):
        raise ConfigError(msg)
    return {n: _number(v, f"--weights: {n}") for n, v in zip(WEIGHT_NAMES, parts, strict=True)}


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"{what}: must be a number, got {text.strip()!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{what}: must be finite, got {text.strip()!r}")
    return v


def model_overrides(args) -> dict:
    upd: dict = {}
    if args.weights is not None:
        upd["weights"] = _parse_weights(args.weights)
    for key in ("form", "reach", "bandwagon_ratio", "viability", "neutral_below"):
        v = getattr(args, key)
        if v is not None:
            upd[key] = v
    return upd


def option_error(line: str) -> str:
    """``model.reach: ...`` -> ``--reach: ...``; ``model.weights.power: ...`` ->
    ``--weights: power: ...`` (errors of command-line overrides name the option)."""
    path, sep, message = line.partition(": ")
    if not sep or not path.startswith("model"):
        return line
    parts = path.split(".")[1:]
    if not parts:
        return f"model options: {message}"
    if parts[0] == "weights":
        return f"--weights: {parts[1]}: {message}" if len(parts) > 1 else f"--weights: {message}"
    return f"--{parts[0].replace('_', '-')}: {message}"
