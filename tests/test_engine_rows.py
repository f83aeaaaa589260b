"""The sweep kernel shares work between the parameter rows of a block (proximity, the
balance-of-power pass, and the choices and outcomes of a row whose principal threats equal
the previous row's). Sharing must change nothing: every row of a block gives bit for bit
the moments and counts it gives when computed alone."""

from __future__ import annotations

import numpy as np
import pytest

from mc_threat.config import coerce_generator
from mc_threat.engine.tasks import Group, compute_task
from mc_threat.model.batch import params_vector
from mc_threat.model.generate import generator_vector


def _w(power, proximity, offense, intent, **other):
    return {"weights": {"power": power, "proximity": proximity, "offense": offense,
                        "intent": intent}, **other}


# Consecutive rows that must reuse (weights scaled: identical threats up to rounding of the
# division, the same principal threats), rows that nearly always differ, and changes of
# reach, neutral_below and bandwagon_ratio between them.
ROWS = [
    _w(1, 1, 1, 1),
    _w(2, 2, 2, 2),  # scaled: same principal threats, reused
    _w(2, 2, 2, 2.000001),  # tiny change: mostly the same
    _w(1, 0, 0, 0),  # balance of power
    _w(3, 0, 0, 0),  # scaled again
    _w(0, 1, 0, 0),  # proximity only: different threats
    _w(0, 1, 0, 0, reach=0.5),  # new proximity matrix, often the same nearest state
    _w(0, 1, 0, 0, reach=0.5, neutral_below=0.3),  # threat levels matter: no reuse
    _w(0, 1, 0, 0, reach=0.5, neutral_below=0.3),  # same row again, still no reuse
    # Proximities all 0 (reach tiny): the second row's threats are the first's halved, so
    # the principal threats agree but the levels, and with them the neutral states, do not.
    _w(1, 0, 0, 0, reach=1e-6, neutral_below=0.4),
    _w(1, 1, 0, 0, reach=1e-6, neutral_below=0.4),
    _w(0, 0, 1, 1, bandwagon_ratio=0.5),  # new balance-of-power pass
    _w(0, 0, 2, 2, bandwagon_ratio=0.5),  # scaled: reused
    _w(1, 2, 0, 1, form="multiplicative"),
    _w(2, 4, 0, 2, form="multiplicative"),  # exponents equal: same threats, reused
]


@pytest.mark.parametrize("n", [2, 7, 16])
def test_rows_of_a_block_equal_rows_alone(n):
    gen = generator_vector(coerce_generator(None))
    rows = np.stack([params_vector(r) for r in ROWS])
    chunks = [(0, 700), (700, 600)]
    moments, cbp = compute_task(5, chunks, [Group(0, len(ROWS), n, gen, rows)])
    for p in range(len(ROWS)):
        m1, c1 = compute_task(5, chunks, [Group(p, p + 1, n, gen, rows[p:p + 1])])
        assert np.array_equal(moments[p], m1[0]), f"row {p}: {ROWS[p]}"
        assert np.array_equal(cbp[p], c1[0]), f"row {p}: {ROWS[p]}"
    if n > 2:  # with two states each fears the other whatever the weights
        # The rows really differ from one another where they should (the test has teeth).
        assert not np.array_equal(moments[0], moments[5])
        assert not np.array_equal(moments[6], moments[7])
        assert not np.array_equal(moments[9], moments[10])
