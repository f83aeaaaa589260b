"""One table of slow equivalents, :data:`COMPARISONS` (as numbagg's): each compiled kernel,
reached through its Python entry point, beside its vectorized NumPy baseline and its
plain-Python reference.

The exactness tests (``tests/test_comparisons.py``) run all three on the same adversarial
inputs and require bit-for-bit agreement; the benchmark times a kernel against its NumPy
baseline. The plain-Python references are not part of the package (they are the tests'
independent reimplementation of MODEL.md, ``tests/reference.py``); the table names them as
``"module:function"`` and the tests resolve the name. To add a kernel: give its entry point
``(systems, params) -> result``, its NumPy twin with the same signature (using the NumPy
twins of the engine's elementary functions, ``mc_threat.model.elementary``, so that it is
bit-exact), and its reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model.baseline_numpy import evaluate_numpy, threat_matrix_numpy
from ..model.batch import evaluate, threat_matrix

EVALUATION_FIELDS = ("target", "choice", "bloc", "bop_target", "bop_choice")


@dataclass(frozen=True)
class Comparison:
    """A kernel and its slow equivalents.

    Attributes
    ----------
    kernel : ``(systems, params) -> result``, the compiled path
    numpy : the same with vectorized NumPy (bit-exact: the elementary functions' NumPy twins),
        or None
    python : ``"module:function"`` of the plain-Python reference in ``tests/``
    per_system : the reference takes one system's ``(power, position, offense, intent,
        params)`` rather than a batch ``(systems_dict, params)``
    what : one line saying what is compared
    """

    kernel: Callable
    numpy: Callable | None
    python: str
    per_system: bool
    what: str


def evaluation_dict(ev) -> dict:
    """An :class:`~mc_threat.model.batch.Evaluation` as the dict the NumPy baseline returns."""
    out = {f: getattr(ev, f) for f in EVALUATION_FIELDS}
    out["outcomes"] = dict(ev.outcomes)
    out["choice_by_power"] = ev.choice_by_power
    return out


def _evaluate_kernel(systems, params):
    return evaluation_dict(evaluate(systems, params))


COMPARISONS: dict[str, Comparison] = {
    "evaluate": Comparison(
        kernel=_evaluate_kernel,
        numpy=evaluate_numpy,
        python="reference:ref_evaluate_batch",
        per_system=False,
        what="principal threats, choices, blocs (threat and power), every outcome and the "
             "choice-by-power counts of a batch of systems"),
    "threat_matrix": Comparison(
        kernel=threat_matrix,
        numpy=threat_matrix_numpy,
        python="reference:ref_threat_matrix",
        per_system=True,
        what="the threat matrices T[s, i, j] (NaN on the diagonal)"),
}
"""Every kernel with slow equivalents, by name."""
