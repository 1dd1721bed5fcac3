"""The primitive rule tests' table: one row per case, generated tests in test_rules.py.

A row names the function under test (written with autodiff.numpy / autodiff.scipy.special), how
to draw valid inputs for each argument (a domain and a shape), and whether the function is
differentiable.  Every registered primitive must appear in at least one row (the registry
completeness test stages each row and collects the primitives it uses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autodiff
import autodiff.numpy as anp
import autodiff.ops.special as _sp
import autodiff.scipy.special as asp

REAL = (-2.0, 2.0)
POS = (0.5, 3.0)
UNIT = (0.05, 0.95)
SYM = (-0.9, 0.9)


@dataclass
class Case:
    name: str
    fn: Callable[..., Any]
    args: list[tuple[tuple[float, float] | str, tuple[int, ...]]]
    differentiable: bool = True
    rtol: float = 1e-5
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        shapes = "-".join("x".join(map(str, s)) or "s" for _, s in self.args)
        return f"{self.name}[{shapes}]"

    def draw(self, rng: np.random.Generator) -> list[np.ndarray]:
        return [draw(rng, dom, shape) for dom, shape in self.args]


def draw(rng, dom, shape):
    if dom == "spd":  # symmetric positive definite matrices (..., n, n)
        a = rng.normal(size=shape)
        return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    if dom == "tril":  # well-conditioned lower-triangular
        return np.tril(rng.normal(size=shape) * 0.3) + 2.0 * np.eye(shape[-1])
    if dom == "triu":
        return np.triu(rng.normal(size=shape) * 0.3) + 2.0 * np.eye(shape[-1])
    if dom == "distinct":  # symmetric, eigenvalues 1.5, 3, 4.5, ... (well separated)
        *batch, n, _ = shape
        q = np.linalg.qr(rng.normal(size=(*batch, n, n)))[0]
        return (q * (1.5 * np.arange(1, n + 1))) @ np.swapaxes(q, -1, -2)
    if dom == "rect":  # (..., m, n) of full rank, singular values k + 0.5, ..., 1.5
        *batch, m, n = shape
        k = min(m, n)
        u = np.linalg.qr(rng.normal(size=(*batch, m, k)))[0]
        v = np.linalg.qr(rng.normal(size=(*batch, n, k)))[0]
        return (u * (np.arange(k, 0, -1) + 0.5)) @ np.swapaxes(v, -1, -2)
    if dom == "bool":
        return rng.random(shape) > 0.5
    if dom == "gen":  # general well-conditioned square matrix
        return rng.normal(size=shape) * 0.3 + 2.0 * np.eye(shape[-1])
    lo, hi = dom
    return rng.uniform(lo, hi, size=shape)


def _eigh_invariants(a):
    """Eigenvalues and the sign-invariant ``V diag(c) Vᵀ`` of the symmetrised ``a``."""
    w, v = anp.linalg.eigh((a + anp.swapaxes(a, -1, -2)) / 2)
    c = np.arange(1.0, w.shape[-1] + 1.0) ** 2
    return anp.concatenate([w[..., None, :], anp.matmul(v * c, anp.swapaxes(v, -1, -2))], -2)


def _svd_invariants(a):
    """Singular values and the sign-invariant ``U C Vᵀ``, ``U C Uᵀ``, ``V C Vᵀ``."""
    u, s, vt = anp.linalg.svd(a, full_matrices=False)
    c = np.arange(1.0, s.shape[-1] + 1.0) ** 2
    v = anp.swapaxes(vt, -1, -2)
    parts = [s, u * c @ vt, u * c @ anp.swapaxes(u, -1, -2), v * c @ vt]
    return anp.concatenate([anp.reshape(p, (*p.shape[: a.ndim - 2], -1)) for p in parts], -1)


def _qr_invariants(a):
    """``Q D`` and ``D R`` with ``D = sign(diag R)``: the QR factors with a positive diagonal."""
    q, r = anp.linalg.qr(a)
    d = anp.sign(anp.diagonal(r, axis1=-2, axis2=-1))
    return anp.concatenate([q * d[..., None, :], d[..., :, None] * r], -2)


UNARY_SHAPES = [(), (3,), (2, 3)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3))]

UNARY = {
    "neg": (anp.negative, REAL),
    "exp": (anp.exp, REAL),
    "log": (anp.log, POS),
    "log1p": (anp.log1p, POS),
    "log2": (anp.log2, POS),
    "expm1": (anp.expm1, REAL),
    "sqrt": (anp.sqrt, POS),
    "sin": (anp.sin, REAL),
    "cos": (anp.cos, REAL),
    "tan": (anp.tan, SYM),
    "tanh": (anp.tanh, REAL),
    "arctan": (anp.arctan, REAL),
    "arcsin": (anp.arcsin, SYM),
    "arccos": (anp.arccos, SYM),
    "sinh": (anp.sinh, REAL),
    "cosh": (anp.cosh, REAL),
    "arcsinh": (anp.arcsinh, REAL),
    "arctanh": (anp.arctanh, SYM),
    "abs": (anp.abs, POS),
    "square": (anp.square, REAL),
    "gammaln": (asp.gammaln, POS),
    "digamma": (asp.digamma, POS),
    "trigamma": (asp.trigamma, POS),
    "polygamma2": (lambda x: asp.polygamma(2, x), POS),
    "erf": (asp.erf, REAL),
    "erfc": (asp.erfc, REAL),
    "erfcx": (asp.erfcx, REAL),
    "ndtr": (asp.ndtr, REAL),
    "ndtri": (asp.ndtri, UNIT),
    "log_ndtr": (asp.log_ndtr, REAL),
    "dlog_ndtr": (_sp.dlog_ndtr, (-6.0, 2.0)),
    "expit": (asp.expit, REAL),
    "logit": (asp.logit, UNIT),
    "log1pexp": (asp.log1pexp, REAL),
    "log1mexp": (asp.log1mexp, POS),
    "erfinv": (asp.erfinv, SYM),
    "erfcinv": (asp.erfcinv, (0.1, 1.9)),
    "i0": (asp.i0, REAL),
    "i1": (asp.i1, REAL),
    "iv_x": (lambda x: asp.iv(1.3, x), POS),
    "zeta_q": (lambda q: asp.zeta(2.5, q), POS),
    "multigammaln": (lambda a: asp.multigammaln(a, 3), (1.5, 4.0)),
    "gammainc_x": (lambda x: asp.gammainc(1.7, x), POS),
    "gammaincc_x": (lambda x: asp.gammaincc(0.8, x), POS),
    "betainc_x": (lambda x: asp.betainc(1.7, 2.4, x), UNIT),
    "i0e": (asp.i0e, REAL),
    "i1e": (asp.i1e, REAL),
    "sum_all": (anp.sum, REAL),
    "mean": (anp.mean, REAL),
    "var": (anp.var, REAL),
    "std": (anp.std, REAL),
    "max": (anp.max, REAL),
    "min": (anp.min, REAL),
    "prod": (anp.prod, REAL),
    "logsumexp": (asp.logsumexp, REAL),
    "cumsum": (anp.cumsum, REAL),
    "cumprod": (anp.cumprod, POS),
    "sort": (anp.sort, REAL),
    "flip": (anp.flip, REAL),
    "ravel": (anp.ravel, REAL),
    "transpose": (anp.transpose, REAL),
}

BINARY = {
    "add": (anp.add, REAL, REAL),
    "sub": (anp.subtract, REAL, REAL),
    "mul": (anp.multiply, REAL, REAL),
    "div": (anp.divide, REAL, POS),
    "pow": (anp.power, POS, REAL),
    "maximum": (anp.maximum, REAL, REAL),
    "minimum": (anp.minimum, REAL, REAL),
    "logaddexp": (anp.logaddexp, REAL, REAL),
    "arctan2": (anp.arctan2, REAL, POS),
    "mod": (anp.mod, (0.1, 0.9), (1.0, 1.0 + 1e-12)),
    "xlogy": (asp.xlogy, REAL, POS),
    "xlog1py": (asp.xlog1py, REAL, POS),
    "betaln": (asp.betaln, POS, POS),
    "gammainc": (asp.gammainc, POS, POS),
    "gammaincc": (asp.gammaincc, POS, POS),
}

CASES: list[Case] = []
NEEDS_AXIS = {"std", "sort", "flip"}  # undefined (or a zero-variance sqrt) on a scalar
for name, (fn, dom) in UNARY.items():
    for shape in UNARY_SHAPES:
        if name in NEEDS_AXIS and shape == ():
            continue
        CASES.append(Case(name, fn, [(dom, shape)]))
for name, (fn, d1, d2) in BINARY.items():
    for s1, s2 in BINARY_SHAPES:
        CASES.append(Case(name, fn, [(d1, s1), (d2, s2)]))

CASES += [
    # iv and zeta: differentiable in x and q only, so their first argument is a constant here
    Case("iv_v_const", lambda x: asp.iv(np.array([0.0, -1.5, 2.0]), x), [(POS, (3,))]),
    Case("zeta_s_const", lambda q: asp.zeta(np.array([1.5, 2.0, 6.0]), q), [(POS, (2, 3))]),
    *[
        Case("betainc", asp.betainc, [(POS, s1), (POS, s2), (UNIT, s3)])
        for s1, s2, s3 in [((), (), ()), ((3,), (3,), (3,)), ((2, 1), (3,), (2, 3))]
    ],
    # the derivative primitives themselves (their own x partials are closed form, any order)
    Case("gammainc_da", lambda x: _sp.gammainc_da(np.array([0.3, 2.0, 9.0]), x), [(POS, (3,))]),
    Case("gammainc_daa", lambda x: _sp.gammainc_daa(np.array([0.3, 2.0, 9.0]), x), [(POS, (3,))]),
    *[
        Case(f.__name__, lambda x, f=f: f(np.array([0.7, 2.0]), 3.5, x), [(UNIT, (2,))])
        for f in (_sp.betainc_da, _sp.betainc_db, _sp.betainc_daa, _sp.betainc_dab, _sp.betainc_dbb)
    ],
    Case(
        "betainc_ab_const",
        lambda x: asp.betainc(np.array([0.7, 2.0, 9.0]), np.array([[1.3], [4.0]]), x),
        [(UNIT, (2, 3))],
    ),
    Case(
        "where",
        lambda x, y: anp.where(np.array([True, False, True]), x, y),
        [(REAL, (3,)), (REAL, (2, 3))],
    ),
    Case("sum_axis", lambda x: anp.sum(x, axis=1, keepdims=True), [(REAL, (2, 3, 2))]),
    Case("max_axis", lambda x: anp.max(x, axis=(0, 2)), [(REAL, (2, 3, 2))]),
    Case("min_axis", lambda x: anp.min(x, axis=-1), [(REAL, (2, 3))]),
    Case("prod_axis", lambda x: anp.prod(x, axis=0), [(REAL, (3, 2))]),
    Case("cumsum_axis", lambda x: anp.cumsum(x, axis=0), [(REAL, (3, 2))]),
    Case("cumprod_axis", lambda x: anp.cumprod(x, axis=1), [(POS, (2, 3))]),
    Case(
        "logsumexp_axis",
        lambda x: asp.logsumexp(x, axis=0, b=np.array([1.0, 2.0, 3.0])[:, None]),
        [(REAL, (3, 2))],
    ),
    Case("reshape", lambda x: anp.reshape(x, (3, 2)), [(REAL, (2, 3))]),
    Case("transpose_perm", lambda x: anp.transpose(x, (1, 2, 0)), [(REAL, (2, 3, 4))]),
    Case("broadcast_to", lambda x: anp.broadcast_to(x, (2, 3, 3)), [(REAL, (3, 1))]),
    Case(
        "concatenate",
        lambda x, y: anp.concatenate([x, y, x], axis=1),
        [(REAL, (2, 3)), (REAL, (2, 1))],
    ),
    Case("stack", lambda x, y: anp.stack([x, y], axis=1), [(REAL, (3,)), (REAL, (3,))]),
    Case("expand_squeeze", lambda x: anp.squeeze(anp.expand_dims(x, 0) * 2.0), [(REAL, (3,))]),
    Case("getitem_int", lambda x: x[1], [(REAL, (3, 2))]),
    Case("getitem_slice", lambda x: x[::-1, 1:], [(REAL, (4, 3))]),
    Case("getitem_none", lambda x: x[None, :, None], [(REAL, (3,))]),
    Case("getitem_repeated", lambda x: x[np.array([0, 2, 0, 0])], [(REAL, (3,))]),
    Case("getitem_2d_adv", lambda x: x[np.array([0, 1, 1]), np.array([2, 0, 2])], [(REAL, (2, 3))]),
    Case(
        "getitem_separated", lambda x: x[np.array([0, 1]), :, np.array([1, 0])], [(REAL, (2, 3, 2))]
    ),
    Case("getitem_mixed", lambda x: x[:, np.array([[0, 1], [1, 1]])], [(REAL, (2, 3))]),
    Case("getitem_mask", lambda x: x[np.array([True, False, True])], [(REAL, (3, 2))]),
    Case(
        "at_add", lambda x, v: anp.at(x)[np.array([0, 0, 2])].add(v), [(REAL, (3,)), (REAL, (3,))]
    ),
    Case("at_set", lambda x, v: anp.at(x)[1:].set(v), [(REAL, (3, 2)), (REAL, (2,))]),
    Case(
        "take_along_axis",
        lambda x: anp.take_along_axis(x, np.array([[1, 0], [0, 0]]), 1),
        [(REAL, (2, 3))],
    ),
    Case("log_softmax", asp.log_softmax, [(REAL, (2, 3))]),
    Case("log_softmax_axis0", lambda x: asp.log_softmax(x, axis=0), [(REAL, (3, 2))]),
    Case("softmax", asp.softmax, [(REAL, (4,))]),
    Case("softplus", asp.softplus, [((-30.0, 30.0), (5,))]),
    Case("diff", lambda x: anp.diff(x, axis=0), [(REAL, (4, 3))]),
    Case("diff2_prepend", lambda x, p: anp.diff(x, n=2, prepend=p), [(REAL, (2, 4)), (REAL, ())]),
    Case("pad_constant", lambda x: anp.pad(x, ((1, 0), (2, 1)), constant_values=0.5), [(REAL, (2, 3))]),
    Case("pad_traced_value", lambda x, c: anp.pad(x, 2, constant_values=c), [(REAL, (3,)), (REAL, ())]),
    Case("pad_edge", lambda x: anp.pad(x, ((0, 2), (1, 1)), mode="edge"), [(REAL, (2, 3))]),
    Case("pad_reflect", lambda x: anp.pad(x, (2, 3), mode="reflect"), [(REAL, (4,))]),
    Case("roll", lambda x: anp.roll(x, (1, -2), axis=(0, 1)), [(REAL, (3, 4))]),
    Case("roll_flat", lambda x: anp.roll(x, 5), [(REAL, (2, 3))]),
    Case("kron", anp.kron, [(REAL, (2, 3)), (REAL, (2, 2))]),
    Case("kron_vec_mat", anp.kron, [(REAL, (3,)), (REAL, (2, 2))]),
    Case(
        "interp",
        lambda x, fp: anp.interp(x, np.array([0.0, 0.7, 1.5, 2.2, 3.0]), fp),
        [((-0.5, 3.5), (2, 4)), (REAL, (5,))],
    ),
    Case(
        "interp_xp",
        lambda x, fp, dxp: anp.interp(x, anp.cumsum(dxp), fp, left=-3.0),
        [((0.0, 5.0), (6,)), (REAL, (4,)), ((0.5, 1.5), (4,))],
    ),
    Case("meshgrid", lambda x, y: anp.stack(anp.meshgrid(x, y), 0), [(REAL, (3,)), (REAL, (2,))]),
    Case(
        "meshgrid_ij",
        lambda x, y, z: anp.stack(anp.meshgrid(x, y, z, indexing="ij"), 0),
        [(REAL, (2,)), (REAL, (3,)), (REAL, (2,))],
    ),
    Case("diagonal", lambda x: anp.diagonal(x), [(REAL, (3, 3))]),
    Case("tril", lambda x: anp.tril(x), [(REAL, (3, 3))]),
    Case("triu", lambda x: anp.triu(x, 1), [(REAL, (3, 3))]),
    Case("outer", anp.outer, [(REAL, (3,)), (REAL, (2,))]),
    Case("matmul", anp.matmul, [(REAL, (2, 3)), (REAL, (3, 4))]),
    Case("matmul_vec", anp.matmul, [(REAL, (2, 3)), (REAL, (3,))]),
    Case("matmul_batched", anp.matmul, [(REAL, (2, 2, 3)), (REAL, (3, 2))]),
    Case("dot_vv", anp.dot, [(REAL, (3,)), (REAL, (3,))]),
    Case("einsum_mm", lambda a, b: anp.einsum("ij,jk->ik", a, b), [(REAL, (2, 3)), (REAL, (3, 2))]),
    Case("einsum_sum", lambda a: anp.einsum("ij->j", a), [(REAL, (2, 3))]),
    Case(
        "einsum_batch",
        lambda a, b: anp.einsum("bij,bj->bi", a, b),
        [(REAL, (2, 3, 2)), (REAL, (2, 2))],
    ),
    Case(
        "cholesky",
        lambda a: anp.linalg.cholesky((a + anp.swapaxes(a, -1, -2)) / 2),
        [("spd", (3, 3))],
    ),
    Case(
        "cholesky_batched",
        lambda a: anp.linalg.cholesky((a + anp.swapaxes(a, -1, -2)) / 2),
        [("spd", (2, 3, 3))],
    ),
    Case(
        "solve_tri_lower",
        lambda a, b: anp.linalg.solve_triangular(a, b, lower=True),
        [("tril", (3, 3)), (REAL, (3, 2))],
    ),
    Case(
        "solve_tri_upper_t",
        lambda a, b: anp.linalg.solve_triangular(a, b, lower=False, trans=True),
        [("triu", (3, 3)), (REAL, (3,))],
    ),
    Case("solve", anp.linalg.solve, [("gen", (3, 3)), (REAL, (3,))]),
    Case("inv", anp.linalg.inv, [("gen", (3, 3))]),
    Case("slogdet", lambda a: anp.linalg.slogdet(a)[1], [("gen", (3, 3))]),
    Case("det", anp.linalg.det, [("gen", (3, 3))]),
    # the variants of one function share its name: the compiled tests take the first row of
    # each name (the batched lowering is compiled in test_linalg_derivatives.py)
    Case("eigh", _eigh_invariants, [("distinct", (3, 3))]),
    Case("eigh", _eigh_invariants, [("distinct", (2, 3, 3))]),
    Case("svd", _svd_invariants, [("rect", (4, 3))]),
    Case("svd", _svd_invariants, [("rect", (3, 4))]),
    Case("svd", _svd_invariants, [("rect", (2, 3, 3))]),
    Case("qr", _qr_invariants, [("rect", (4, 3))]),
    Case("qr", _qr_invariants, [("gen", (2, 3, 3))]),
    Case("expm", anp.linalg.expm, [(REAL, (3, 3))]),
    Case("expm", anp.linalg.expm, [((-3.0, 3.0), (4, 4))], rtol=1e-4),
    Case("pinv", anp.linalg.pinv, [("rect", (4, 3))]),
    Case("pinv", anp.linalg.pinv, [("rect", (3, 4))]),
    Case("lstsq", lambda a, b: anp.linalg.lstsq(a, b)[0], [("rect", (4, 3)), (REAL, (4,))]),
    Case("lstsq", lambda a, b: anp.linalg.lstsq(a, b)[0], [("rect", (3, 4)), (REAL, (3, 2))]),
    Case("lstsq", lambda a, b: anp.linalg.lstsq(a, b)[1], [("rect", (4, 2)), (REAL, (4,))]),
    Case("matrix_power", lambda a: anp.linalg.matrix_power(a, 5), [("gen", (3, 3))]),
    Case("matrix_power", lambda a: anp.linalg.matrix_power(a, -2), [("gen", (2, 2))]),
    Case(
        "cho_solve",
        lambda c, b: anp.linalg.cho_solve((c, True), b),
        [("tril", (3, 3)), (REAL, (3, 2))],
    ),
    Case(
        "cho_solve",
        lambda c, b: anp.linalg.cho_solve((c, False), b),
        [("triu", (3, 3)), (REAL, (3,))],
    ),
    Case(
        "astype",
        lambda x: anp.astype(anp.astype(x, np.float32), np.float64) * 0.0 + x,
        [(REAL, (3,))],
    ),
    Case(
        "cond",
        lambda p, x: autodiff.cond(p > 0.0, lambda a: anp.sin(a) * p, lambda a: a * a, x),
        [(REAL, ()), (REAL, (3,))],
    ),
    Case(
        "scan",
        lambda x, w: autodiff.scan(lambda c, xi: (c * w + anp.sin(xi), c * xi), 0.5, x)[1],
        [(REAL, (4,)), (SYM, ())],
    ),
    Case(
        "odeint",
        lambda y0, k: autodiff.odeint(lambda y, t, k: -k * y + 0.3 * anp.sin(y[::-1] + t), y0,
                                      np.array([0.0, 0.5, 1.0]), k, rtol=1e-10, atol=1e-10),
        [(REAL, (2,)), (POS, (2,))],
    ),
    Case(
        "ode_adjoint",
        lambda y0, k: autodiff.odeint(lambda y, t, k: -k * y + 0.3 * anp.sin(y[::-1] + t), y0,
                                      np.array([0.0, 0.5, 1.0]), k, rtol=1e-10, atol=1e-10,
                                      sensitivity="adjoint"),
        [(REAL, (2,)), (POS, (2,))],
        extra={"first_order_only": "the adjoint gradient is first order only"},
    ),
    Case(
        "ode_adjoint_stiff",
        lambda y0, k: autodiff.odeint(lambda y, t, k: -k * y + 0.3 * anp.sin(y[::-1] + t), y0,
                                      np.array([0.0, 0.5, 1.0]), k, rtol=1e-10, atol=1e-10,
                                      method="rosenbrock", sensitivity="adjoint"),
        [(REAL, (2,)), (POS, (2,))],
        extra={"first_order_only": "the adjoint gradient is first order only"},
    ),
]

# Non-differentiable primitives: (autodiff function, NumPy oracle).
NONDIFF = {
    "sign": (anp.sign, np.sign),
    "floor": (anp.floor, np.floor),
    "ceil": (anp.ceil, np.ceil),
    "round": (anp.round, np.round),
    "lt": (lambda x: x < 0.1, lambda x: x < 0.1),
    "le": (lambda x: x <= 0.1, lambda x: x <= 0.1),
    "gt": (lambda x: x > 0.1, lambda x: x > 0.1),
    "ge": (lambda x: x >= 0.1, lambda x: x >= 0.1),
    "eq": (lambda x: anp.equal(x, x[0]), lambda x: x == x[0]),
    "ne": (lambda x: anp.not_equal(x, x[0]), lambda x: x != x[0]),
    "logical": (
        lambda x: anp.logical_xor(anp.logical_or(x > 0, x < -1), anp.logical_not(x > 0.5)),
        lambda x: np.logical_xor((x > 0) | (x < -1), ~(x > 0.5)),
    ),
    "isnan_isfinite": (
        lambda x: anp.logical_and(anp.isfinite(x), anp.logical_not(anp.isnan(x))),
        lambda x: np.isfinite(x) & ~np.isnan(x),
    ),
    "floor_divide": (lambda x: anp.floor_divide(x, 0.7), lambda x: x // 0.7),
    "argsort": (lambda x: anp.argsort(x, axis=1), lambda x: np.argsort(x, axis=1)),
    "argmax": (lambda x: anp.argmax(x, axis=0), lambda x: np.argmax(x, axis=0)),
    "argmin": (lambda x: anp.argmin(x), lambda x: np.argmin(x)),
    "searchsorted": (
        lambda x: anp.searchsorted(np.array([-1.0, 0.0, 0.0, 0.5, 1.5]), x),
        lambda x: np.searchsorted(np.array([-1.0, 0.0, 0.0, 0.5, 1.5]), x),
    ),
    "searchsorted_right": (
        # a traced sorted array with ties (rounding), searched for values equal to its entries
        lambda x: anp.searchsorted(anp.sort(anp.round(x[0])), anp.round(x), side="right"),
        lambda x: np.searchsorted(np.sort(np.round(x[0])), np.round(x), side="right"),
    ),
}
NONDIFF_CASES = [
    Case(name, fn, [(REAL, (2, 3))], differentiable=False, extra={"oracle": oracle})
    for name, (fn, oracle) in NONDIFF.items()
]
