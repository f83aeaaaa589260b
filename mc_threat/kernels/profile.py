"""Kernels of the per-stage profile (:mod:`mc_threat.perf.profile`): the sweep kernel's
pipeline cut after any stage, the uniforms alone, and plain loops over each of the engine's
elementary functions, over the C library's counterparts and over a division (the floors)."""

from __future__ import annotations

import math

import numpy as np

from .decorators import kernel, vector_kernel
from .elementary import cbrt as el_cbrt
from .elementary import exp as el_exp
from .elementary import log as el_log
from .elementary import sincos2pi as el_sincos2pi
from .engine import system_scratch
from .evaluate import bop_pass, finish_system, prepare_system, threat_pass
from .generate import generate_one
from .outcomes import N_CHOICES, N_OUTCOMES, N_POWER_BINS
from .rng import DRAWS_PER_STATE, seed_key, system_base, uniform_at
from .threat import P_REACH, principal_threats, proximity_matrix


@kernel
def pipeline(stage, count, n, gen, params, edges):
    """Run the first ``stage + 1`` stages on ``count`` systems, every row of ``params``."""
    key = seed_key(np.uint64(1))
    inv_oa = 1.0 / gen[2]
    inv_ob = 1.0 / gen[3]
    inv_ia = 1.0 / gen[4]
    inv_ib = 1.0 / gen[5]
    power, position, offense, intent, comp, u, ws, target, choice, bloc = system_scratch(n)
    f = ws[0]
    row = np.zeros(N_OUTCOMES)
    cbp = np.zeros((N_POWER_BINS, N_CHOICES), np.int64)
    sink = 0.0
    for s in range(count):
        generate_one(key, s, gen[0], gen[1], inv_oa, inv_ob, inv_ia, inv_ib,
                     power, position, offense, intent[0], comp, u)
        sink += power[0]
        if stage < 1:
            continue
        h = prepare_system(power, offense, edges, ws)
        if stage < 2:
            continue
        proximity_matrix(position, params[0, P_REACH], ws[3], ws[7])
        if stage < 3:
            continue
        bop_pass(power, params[0], h, ws)
        if stage < 4:
            continue
        for p in range(params.shape[0]):
            if stage == 4:
                principal_threats(params[p], f[0], f[1], ws[3], intent, target, ws[5],
                                  ws[6])
            else:
                threat_pass(power, intent, params[p], ws, target, choice, bloc)
                if stage >= 6:
                    finish_system(power, ws, h, target, choice, bloc, row, cbp)
                    for o in range(N_OUTCOMES):
                        sink += row[o]
            sink += target[0]
    return sink


@kernel
def uniforms_only(count, n):
    """The random-number cost alone: every hashed uniform of ``count`` systems."""
    key = seed_key(np.uint64(1))
    u = np.empty(n * DRAWS_PER_STATE)
    sink = 0.0
    for s in range(count):
        base = system_base(key, s)
        for d in range(DRAWS_PER_STATE):  # as in generate_one: stored draw-major
            for i in range(n):
                u[d * n + i] = uniform_at(base, i * DRAWS_PER_STATE + d)
        sink += u[s % u.shape[0]]
    return sink


@vector_kernel
def libm_loop(which, x, out, reps):
    """``reps`` passes of one C-library function over ``x`` into ``out``."""
    for _ in range(reps):
        if which == 0:
            for j in range(x.shape[0]):
                out[j] = math.exp(-x[j])
        elif which == 1:
            for j in range(x.shape[0]):
                out[j] = math.log(x[j])
        elif which == 2:
            for j in range(x.shape[0]):
                out[j] = math.sin(6.283185307179586 * x[j])
        elif which == 3:
            for j in range(x.shape[0]):
                out[j] = math.cos(6.283185307179586 * x[j])
        elif which == 4:
            for j in range(x.shape[0]):
                out[j] = np.cbrt(x[j])
        else:
            for j in range(x.shape[0]):
                out[j] = math.sqrt(x[j])
    return out[0]


@vector_kernel
def elementary_loop(which, x, out, reps):
    """``reps`` passes of one of the engine's elementary functions over ``x`` into ``out``
    (``sincos2pi`` stores the sum of its two results)."""
    for _ in range(reps):
        if which == 0:
            for j in range(x.shape[0]):
                out[j] = el_exp(-x[j])
        elif which == 1:
            for j in range(x.shape[0]):
                out[j] = el_log(x[j])
        elif which == 2:
            for j in range(x.shape[0]):
                s, c = el_sincos2pi(x[j])
                out[j] = s + c
        elif which == 3:
            for j in range(x.shape[0]):
                out[j] = el_cbrt(x[j])
        else:
            for j in range(x.shape[0]):
                out[j] = math.sqrt(x[j])
    return out[0]


@kernel
def division_loop(x, out, w, reps):
    """``out = x / w`` elementwise, ``reps`` times: a loop the compiler vectorizes, so this
    is the division unit's throughput, the arithmetic bound of the threat values."""
    for _ in range(reps):
        for j in range(x.shape[0]):
            out[j] = x[j] / w
    return out[0]
