"""The Monte Carlo kernel: generate a chunk of systems and evaluate many parameter rows.

One call handles one chunk of systems (indices ``start .. start + count - 1``) for ``P``
parameter rows that share the generator settings and ``n``. Each system is generated once
into per-thread scratch and evaluated under every row (common random numbers), with the
work that does not depend on the weights shared between rows:

* the power and offense criteria, once per system;
* the proximity matrix, recomputed only when ``reach`` changes from one row to the next;
* the balance-of-power pass, recomputed only when ``bandwagon_ratio``, ``viability`` or
  ``neutral_below`` change from one row to the next;
* choices, blocs and outcomes, reused from the previous row when the two rows differ only
  in weights, form or ``reach``, ``neutral_below`` is 0 and every state's principal threat
  is the same: then they depend on those settings only through the principal threats.

So order rows to keep equal values adjacent (the engine does). Nothing is stored per
system: each fixed-size sub-block of ``SUB_BLOCK`` systems accumulates shifted sums in
system order, and sub-blocks are merged in index order at the end. The result is the same
for any number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange, types

from .decorators import inline, parallel_kernel
from .evaluate import (
    alignment_of,
    bop_pass,
    count_choices,
    finish_system,
    prepare_system,
    threats_of,
    workspace,
)
from .generate import generate_one
from .outcomes import N_CHOICES, N_OUTCOMES, N_POWER_BINS
from .rng import DRAWS_PER_STATE, seed_key
from .stats import M_COUNT, M_M2, M_MAX, M_MEAN, M_MIN, empty_moments, merge_moments
from .threat import P_ALPHA, P_BETA, P_NEUTRAL, P_REACH, proximity_matrix

SUB_BLOCK = 512  # systems per accumulation sub-block; changing it changes the last bits

RUN_CHUNK_SIGNATURE = (
    types.uint64, types.int64, types.int64, types.int64,  # seed, start, count, n
    types.float64[::1], types.float64[:, ::1], types.float64[::1],  # gen, params, edges
    types.float64[:, :, ::1], types.int64[:, :, ::1],  # moments, cbp (out)
)
"""The one signature :func:`run_chunk` is compiled for (C-contiguous arrays throughout).
``mc_threat.engine.tasks.sweep_kernel`` compiles exactly this one before any worker starts."""


@inline
def system_scratch(n):
    """Arrays to generate and evaluate one system of ``n`` states at a time, reused.

    Returns ``power, position, offense, intent (1, n), comp, u`` (the scratch of
    :func:`generate_one`), the evaluation workspace, and ``target, choice, bloc``.
    """
    return (np.empty(n), np.empty((n, 2)), np.empty(n), np.empty((1, n)), np.empty((3, n)),
            np.empty(n * DRAWS_PER_STATE), workspace(n), np.empty(n, np.int32),
            np.empty(n, np.int8), np.empty(n, np.int32))


@parallel_kernel
def run_chunk(seed, start, count, n, gen, params, edges, moments, cbp):
    """Generate ``count`` systems and accumulate the outcomes of every parameter row.

    Parameters
    ----------
    seed : uint64 run seed
    start, count : index of the first system of the chunk, systems in the chunk
    n : states per system
    gen : (6,) generator vector (see ``mc_threat.model.generate.generator_vector``)
    params : (P, N_PARAMS) parameter rows
    edges : (10,) relative-power bin edges
    moments : (P, N_OUTCOMES, 5) float64 out, moment records of the chunk
    cbp : (P, 10, 3) int64 out, choice-by-power counts of the chunk
    """
    n_rows = params.shape[0]
    nsub = (count + SUB_BLOCK - 1) // SUB_BLOCK
    # Per sub-block: shift, sum and sum of squares of (x - shift), min, max.
    acc = np.zeros((nsub, n_rows, N_OUTCOMES, 5))
    sub_cbp = np.zeros((nsub, n_rows, N_POWER_BINS, N_CHOICES), np.int64)
    key = seed_key(seed)
    sigma = gen[0]
    rho = gen[1]
    inv_oa = 1.0 / gen[2]
    inv_ob = 1.0 / gen[3]
    inv_ia = 1.0 / gen[4]
    inv_ib = 1.0 / gen[5]
    for b in prange(nsub):
        lo = b * SUB_BLOCK
        hi = min(count, lo + SUB_BLOCK)
        power, position, offense, intent, comp, u, ws, target, choice, bloc = \
            system_scratch(n)
        prox = ws[3]
        prev = np.empty(n, np.int32)
        row = np.empty(N_OUTCOMES)
        a = acc[b]
        for s in range(lo, hi):
            generate_one(key, start + s, sigma, rho, inv_oa, inv_ob, inv_ia, inv_ib,
                         power, position, offense, intent[0], comp, u)
            h = prepare_system(power, offense, edges, ws)
            for p in range(n_rows):
                prm = params[p]
                if p == 0 or prm[P_REACH] != params[p - 1, P_REACH]:
                    proximity_matrix(position, prm[P_REACH], prox, ws[7])
                new_bop = (p == 0 or prm[P_BETA] != params[p - 1, P_BETA]
                           or prm[P_ALPHA] != params[p - 1, P_ALPHA]
                           or prm[P_NEUTRAL] != params[p - 1, P_NEUTRAL])
                if new_bop:
                    bop_pass(power, prm, h, ws)
                # With the same bandwagon_ratio, viability and neutral_below <= 0 (so no
                # threat level matters), the same principal threats give the same choices,
                # blocs and outcomes as the previous row: keep its outcomes in ``row``.
                same = not new_bop and prm[P_NEUTRAL] <= 0.0
                if same:
                    prev[:] = target
                threats_of(intent, prm, ws, target)
                if same:
                    for i in range(n):
                        if target[i] != prev[i]:
                            same = False
                            break
                if same:
                    count_choices(ws, choice, sub_cbp[b, p])
                else:
                    alignment_of(power, prm, ws, target, choice, bloc)
                    finish_system(power, ws, h, target, choice, bloc, row, sub_cbp[b, p])
                for o in range(N_OUTCOMES):
                    x = row[o]
                    if s == lo:
                        a[p, o, 0] = x
                        a[p, o, 3] = x
                        a[p, o, 4] = x
                    d = x - a[p, o, 0]
                    a[p, o, 1] += d
                    a[p, o, 2] += d * d
                    if x < a[p, o, 3]:
                        a[p, o, 3] = x
                    if x > a[p, o, 4]:
                        a[p, o, 4] = x
    # Serial, ordered merge of the sub-blocks.
    moments[:, :, :] = empty_moments(n_rows, N_OUTCOMES)
    cbp[:, :, :] = 0
    part = np.empty((n_rows, N_OUTCOMES, 5))
    for b in range(nsub):
        m = min(count, (b + 1) * SUB_BLOCK) - b * SUB_BLOCK
        for p in range(n_rows):
            for o in range(N_OUTCOMES):
                shift = acc[b, p, o, 0]
                sx = acc[b, p, o, 1]
                sxx = acc[b, p, o, 2]
                part[p, o, M_COUNT] = m
                part[p, o, M_MEAN] = shift + sx / m
                part[p, o, M_M2] = max(sxx - sx * (sx / m), 0.0)
                part[p, o, M_MIN] = acc[b, p, o, 3]
                part[p, o, M_MAX] = acc[b, p, o, 4]
        merge_moments(moments, part)
        cbp += sub_cbp[b]
