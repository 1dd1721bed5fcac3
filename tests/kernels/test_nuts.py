"""The compiled iterative NUTS equals a plain recursive NUTS, transition for transition.

The reference below is written from the description of Stan's recursive ``build_tree``
(multinomial sampling, uniform inside subtrees and biased at the top level, the three U-turn
checks per merge, divergence when H - H0 > max_energy_error), in the forward/backward
bookkeeping of Stan rather than the build-order bookkeeping of ``kernels.nuts_transition``. It
uses plain Python loops in index order so that every floating-point operation happens in the
same order as in the
compiled kernel, and it draws from the same xoshiro stream (``kernels.rng``), so both must
produce bit-identical states and statistics.
"""

import math

import numpy as np
import pytest

from kernels import nuts_transition as nuts
from kernels import rng
from kernels.metric import DENSE, DIAG, Metric, cholesky_lower
from kernels.model_abi import Model, evaluate
from tests.cfunc_models import gauss_data as _gauss_data
from tests.cfunc_models import gaussian_precision, normal_with_hole

# ----------------------------------------------------------------------------------------------
# Recursive reference NUTS (plain Python)
# ----------------------------------------------------------------------------------------------


def _dot(a, b):
    s = 0.0
    for i in range(len(a)):
        s += a[i] * b[i]
    return s


def _lse(a, b):
    if a == -math.inf:
        return b
    if a == math.inf and b == math.inf:
        return math.inf
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


class RecursiveNUTS:
    def __init__(self, address, data, metric_kind, inv_diag, inv_dense, chol, max_depth, max_dh):
        self.address = address
        self.data = data
        self.kind = metric_kind
        self.inv_diag = inv_diag
        self.inv_dense = inv_dense
        self.chol = chol
        self.max_depth = max_depth
        self.max_dh = max_dh

    def sharp(self, p):
        n = len(p)
        out = np.empty(n)
        for i in range(n):
            if self.kind == DENSE:
                s = 0.0
                for j in range(n):
                    s += self.inv_dense[i, j] * p[j]
                out[i] = s
            else:
                out[i] = self.inv_diag[i] * p[i]
        return out

    def momentum(self, state, n):
        z = np.empty(n)
        rng.normal_fill(state, z)
        p = np.empty(n)
        if self.kind == DENSE:  # solve L^T p = z
            for i in range(n - 1, -1, -1):
                s = z[i]
                for j in range(i + 1, n):
                    s -= self.chol[j, i] * p[j]
                p[i] = s / self.chol[i, i]
        else:
            for i in range(n):
                p[i] = z[i] / math.sqrt(self.inv_diag[i])
        return p

    def energy(self, logp, p):
        h = -logp + 0.5 * _dot(p, self.sharp(p))
        return math.inf if math.isnan(h) else h

    def leapfrog(self, z, eps):
        half = 0.5 * eps
        z["p"] = z["p"] + half * z["g"]
        z["q"] = z["q"] + eps * self.sharp(z["p"])
        status, lp = evaluate(self.address, self.data.ctypes.data, z["q"], z["g"])
        if status != 0:
            return False, lp
        z["p"] = z["p"] + half * z["g"]
        return True, lp

    @staticmethod
    def crit(ps_minus, ps_plus, rho):
        return _dot(ps_plus, rho) > 0 and _dot(ps_minus, rho) > 0

    def build_tree(self, depth, z, eps, H0, st, state):
        """Returns (valid, proposal, log_w, rho, p_beg, ps_beg, p_end, ps_end)."""
        if depth == 0:
            ok, lp = self.leapfrog(z, eps)
            st["n_leapfrog"] += 1
            h = self.energy(lp, z["p"]) if ok else math.inf
            if abs(h - H0) > abs(st["max_err"]):
                st["max_err"] = h - H0
            if h - H0 > self.max_dh:
                st["divergent"] = True
            st["sum_metro"] += 1.0 if H0 - h > 0 else math.exp(H0 - h)
            prop = (z["q"].copy(), z["g"].copy(), lp, h)
            ps = self.sharp(z["p"])
            p = z["p"].copy()
            return not st["divergent"], prop, H0 - h, p.copy(), p, ps, p, ps
        ok_i, prop_i, lw_i, rho_i, p_beg, ps_beg, p_ie, ps_ie = self.build_tree(
            depth - 1, z, eps, H0, st, state
        )
        if not ok_i:
            return False, None, None, None, None, None, None, None
        ok_f, prop_f, lw_f, rho_f, p_fb, ps_fb, p_end, ps_end = self.build_tree(
            depth - 1, z, eps, H0, st, state
        )
        if not ok_f:
            return False, None, None, None, None, None, None, None
        lw = _lse(lw_i, lw_f)
        if lw_f > lw:
            prop = prop_f
        elif rng.uniform(state) < math.exp(lw_f - lw):
            prop = prop_f
        else:
            prop = prop_i
        rho = rho_i + rho_f
        persist = (
            self.crit(ps_beg, ps_end, rho)
            and self.crit(ps_beg, ps_fb, rho_i + p_fb)
            and self.crit(ps_ie, ps_end, rho_f + p_ie)
        )
        return persist, prop, lw, rho, p_beg, ps_beg, p_end, ps_end

    def transition(self, q, g, logp, eps, state):
        n = len(q)
        p = self.momentum(state, n)
        H0 = self.energy(logp, p)
        ps = self.sharp(p)
        fwd = {"q": q.copy(), "p": p.copy(), "g": g.copy()}
        bck = {"q": q.copy(), "p": p.copy(), "g": g.copy()}
        p_ff = p_fb = p_bf = p_bb = p.copy()
        ps_ff = ps_fb = ps_bf = ps_bb = ps
        rho = p.copy()
        log_w = 0.0
        sample = (q.copy(), g.copy(), logp, H0)
        st = {"n_leapfrog": 0, "sum_metro": 0.0, "max_err": 0.0, "divergent": False}
        depth = 0
        while depth < self.max_depth:
            if rng.uniform(state) > 0.5:
                rho_bck, p_bf, ps_bf = rho, p_ff, ps_ff
                ok, prop, lw_sub, rho_fwd, p_fb, ps_fb, p_ff, ps_ff = self.build_tree(
                    depth, fwd, eps, H0, st, state
                )
            else:
                rho_fwd, p_fb, ps_fb = rho, p_bb, ps_bb
                ok, prop, lw_sub, rho_bck, p_bf, ps_bf, p_bb, ps_bb = self.build_tree(
                    depth, bck, -eps, H0, st, state
                )
            if not ok:
                break
            depth += 1
            if lw_sub > log_w:
                sample = prop
            elif rng.uniform(state) < math.exp(lw_sub - log_w):
                sample = prop
            log_w = _lse(log_w, lw_sub)
            rho = rho_bck + rho_fwd
            persist = (
                self.crit(ps_bb, ps_ff, rho)
                and self.crit(ps_bb, ps_fb, rho_bck + p_fb)
                and self.crit(ps_bf, ps_ff, rho_fwd + p_bf)
            )
            if not persist:
                break
        q_new, g_new, lp_new, h_new = sample
        stats = (
            st["sum_metro"] / st["n_leapfrog"],
            depth,
            st["n_leapfrog"],
            st["divergent"],
            h_new,
            h_new - H0,
            st["max_err"],
        )
        return q_new, g_new, lp_new, stats


# ----------------------------------------------------------------------------------------------


def _compare(address, data, q0, metric_kind, inv_diag, inv_dense, eps, max_depth, n_trans, seed):
    d = len(q0)
    chol = np.zeros_like(inv_dense)
    if metric_kind == DENSE:
        assert cholesky_lower(inv_dense, chol)
    ref = RecursiveNUTS(address, data, metric_kind, inv_diag, inv_dense, chol, max_depth, 1000.0)
    state_ref = rng.seed_streams(seed, 1)
    state_it = state_ref.copy()
    q_ref = np.array(q0, float)
    g_ref = np.empty(d)
    status, lp_ref = evaluate(address, data.ctypes.data, q_ref, g_ref)
    assert status == 0
    q_it, g_it, lp_it = q_ref.copy(), g_ref.copy(), lp_ref
    work = nuts.nuts_workspace(d, max_depth)
    model, metric = Model(address, data.ctypes.data), Metric(metric_kind, inv_diag, inv_dense, chol)
    depths = []
    divergent = 0
    for _ in range(n_trans):
        q_ref, g_ref, lp_ref, st_ref = ref.transition(q_ref, g_ref, lp_ref, eps, state_ref[0])
        out = nuts.nuts_transition(model, metric, q_it, g_it, lp_it, eps, max_depth, 1000.0,
                                   state_it[0], work)
        lp_it = out.lp
        assert np.array_equal(q_it, q_ref)
        assert np.array_equal(g_it, g_ref)
        assert lp_it == lp_ref
        assert tuple(out[1:]) == st_ref
        assert np.array_equal(state_it, state_ref)
        depths.append(out.tree_depth)
        divergent += out.diverging
    return np.array(depths), divergent


CORR3 = np.array([[1.0, 0.8, 0.3], [0.8, 2.0, -0.4], [0.3, -0.4, 0.7]])


@pytest.mark.parametrize(
    "metric_kind, eps, max_depth",
    [(DIAG, 0.3, 10), (DIAG, 0.9, 10), (DENSE, 0.5, 10), (DIAG, 0.05, 4)],
)
def test_iterative_equals_recursive_gaussian(metric_kind, eps, max_depth):
    prec = np.linalg.inv(CORR3)
    data = _gauss_data([0.5, -1.0, 0.0], prec)
    inv_diag = np.array([1.0, 2.0, 0.7])
    inv_dense = CORR3.copy() if metric_kind == DENSE else np.empty((0, 0))
    depths, _ = _compare(
        gaussian_precision.address,
        data,
        [1.0, 0.0, -0.5],
        metric_kind,
        inv_diag,
        inv_dense,
        eps,
        max_depth,
        150,
        seed=11,
    )
    assert len(set(depths.tolist())) >= 2  # a variety of tree shapes was exercised
    if max_depth == 4:
        assert (depths == max_depth).any()


def test_iterative_equals_recursive_with_divergences():
    # unstable step size on a narrow Gaussian: energy errors explode -> divergences
    prec = np.diag([1.0, 400.0])
    data = _gauss_data([0.0, 0.0], prec)
    _, divergent = _compare(
        gaussian_precision.address,
        data,
        [0.5, 0.01],
        DIAG,
        np.ones(2),
        np.empty((0, 0)),
        0.12,
        10,
        120,
        seed=5,
    )
    assert divergent > 0


def test_iterative_equals_recursive_with_model_failures():
    data = np.array([3.0, 1.0])
    _, divergent = _compare(
        normal_with_hole.address,
        data,
        [0.0, 0.0, 0.0],
        DIAG,
        np.ones(3),
        np.empty((0, 0)),
        0.8,
        10,
        150,
        seed=2,
    )
    assert divergent > 0


def test_transition_reports_divergence_at_model_failure():
    data = np.array([2.0, 0.2])
    q = np.array([0.1, 0.0])
    g = np.empty(2)
    _, lp = evaluate(normal_with_hole.address, data.ctypes.data, q, g)
    work = nuts.nuts_workspace(2, 10)
    state = rng.seed_streams(0, 1)
    model = Model(normal_with_hole.address, data.ctypes.data)
    metric = Metric(DIAG, np.ones(2), np.empty((0, 0)), np.empty((0, 0)))
    n_div = 0
    for _ in range(50):
        out = nuts.nuts_transition(model, metric, q, g, lp, 1.0, 10, 1000.0, state[0], work)
        lp = out.lp
        n_div += out.diverging
        assert math.isfinite(lp) and q[0] <= 0.2
        if out.diverging:
            assert out.max_energy_error == math.inf  # the failed leaf has infinite energy error
    assert n_div > 0


def test_log_sum_exp():
    assert nuts.log_sum_exp(-math.inf, 1.5) == 1.5
    assert nuts.log_sum_exp(math.inf, math.inf) == math.inf
    assert nuts.log_sum_exp(0.0, 0.0) == pytest.approx(math.log(2.0))
    assert nuts.log_sum_exp(-1000.0, 3.0) == pytest.approx(3.0)


def test_index_in_trajectory_and_symmetric_acceptance():
    # the selected state is the one |index| leapfrog steps from the start, forward or backward
    # by the index's sign, with the transition's momentum: integrated here again step by step
    # (the same operations in the same order, so the positions are bit-identical)
    from kernels.integrators import draw_momentum, leapfrog, phase_point

    prec = np.linalg.inv(CORR3)
    data = _gauss_data(np.zeros(3), prec)
    model = Model(gaussian_precision.address, data.ctypes.data)
    metric = Metric(DIAG, np.ones(3), np.zeros((0, 0)), np.zeros((0, 0)))
    stream = rng.seed_streams(11, 1)[0]
    work = nuts.nuts_workspace(3, 10)
    q, g = np.array([0.5, -1.0, 0.2]), np.empty(3)
    _, lp = evaluate(gaussian_precision.address, data.ctypes.data, q, g)
    indices = []
    for _ in range(40):
        z = phase_point.py_func(3)
        z.q[:], z.grad[:] = q, g
        draw_momentum.py_func(metric, stream.copy(), z, lp)
        out = nuts.nuts_transition(model, metric, q, g, lp, 0.4, 10, 1000.0, stream, work)
        lp = out.lp
        index = work.info[nuts.INFO_INDEX]
        for _ in range(int(abs(index))):
            leapfrog(model, metric, z, 0.4 if index > 0 else -0.4)
        np.testing.assert_array_equal(z.q, q)
        assert 0.0 < work.info[nuts.INFO_SYM_ACCEPT] <= 1.0
        indices.append(index)
    assert min(indices) < 0 < max(indices)  # both directions occur
