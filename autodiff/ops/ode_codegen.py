r"""The generated Dormand-Prince solve: the whole integration in the function that needs it.

For ``method="dopri5"`` the lowering of ``odeint``, of its forward sensitivities
(:mod:`autodiff.ops.ode_sensitivity`) and of its adjoint writes, per right-hand side:

* the right-hand side as a function of the generated module, ``rhs(W, row_in, row_out, t,
  *operands, ...)``: :math:`f` of the row ``W[row_in]`` written into the row ``W[row_out]``
  (:func:`rhs_function`); for sensitivities the statements that do not depend on the direction
  first, then a loop over the directions;
* the step loop of Dormand & Prince around calls of it, as lines of the function being written
  (:func:`solve_lines`): a function of its own would be compiled once more, and once more
  again when linked into its caller.

The method itself -- the tableau, the initial step, the error norm, the step-size controller,
the dense output -- is written once, as functions of :mod:`kernels.ode_dopri5` that the
generated loop calls (compiled once and cached, the sizes passed as values; the stage sums
compiled per system size, with the size a literal).

Why generated rather than a hand-written solver asking for :math:`f` by reverse communication
(:mod:`kernels.ode_common`, as the stiff solver still does): on a small system the return to the
caller at every stage, with the solver's state stored into and reloaded from arrays, cost as much
as the whole hand-written gradient.  A Numba function cannot take the right-hand side as an
argument and still be cached (:mod:`kernels.ode_common` says why), so the loop is generated with
the right-hand side's name in it; the generated module is cached as any other.

Failures are statuses (:mod:`kernels.ode_common`): the solve's info is ``[status, time reached,
steps attempted, right-hand side evaluations]``, and the outputs it did not reach are NaN.
"""

from __future__ import annotations

import re
from typing import Any

from autodiff.ir import Graph, Var
from autodiff.lowering import LoweringContext, dtype_src
from kernels import ode_common
from kernels import ode_dopri5 as dp

# ---------------------------------------------------------------------------------------------
# the right-hand side as a function writing into the solver's rows
# ---------------------------------------------------------------------------------------------


def rhs_function(ctx: LoweringContext, graph: Graph, n: int, n_ops: int, n_dirs: int = 0,
                 blocks: tuple = (), op_avals: list | None = None
                 ) -> tuple[str, list[str], list[str], list[str]]:
    """``def rhs<k>(W_, rin_, rout_, t, *operands, *seed buffers, [ws_], *consts)``: writes the
    derivative of the row ``W_[rin_]`` into ``W_[rout_]``.  ``graph`` is ``(y, t, *operands) ->
    [f]``, or with ``n_dirs`` directions the tangent graph ``(y, t, *operands, s_d, *seeds) ->
    [f, J s_d + sum_k J_k seed_k]`` (:mod:`autodiff.ops.ode_sensitivity`) and the row is
    ``(y, S^T)``: the statements that do not depend on the direction come first, the others
    inside a loop over the directions (one call per stage: a call per direction cost more than
    the arithmetic).  Returns the function's name, the lines that allocate what it takes after
    the operands (seed buffers, workspace), those arguments' names, and the constants it takes
    last."""
    graph, pieces = _scalar_outputs(graph, n)
    if n_dirs:
        parts, consts, ws = ctx.scope.emit_subgraph_bodies(list(_split_primal(graph, n_ops)))
        (_, hoisted, _), (args, body, result) = parts
    else:
        ((args, hoisted, result),), consts, ws = ctx.scope.emit_subgraph_bodies([graph])
        body = []
    y, t, op_names = args[0], args[1], args[2: 2 + n_ops]
    lines = [
        # rows of the solver's workspace, viewed here: a view made by the caller at each call
        # costs a reference count
        "    zin_ = W_[rin_]",
        "    zout_ = W_[rout_]",
        f"    {y} = zin_[0:{n}]",
    ]
    params, allocs = [], []
    if n_dirs:
        s_d, seed_names = args[2 + n_ops], args[3 + n_ops:]
        pre, set_, clear = [], [], []
        for j, ((k, off), name) in enumerate(zip(blocks, seed_names)):
            aval = op_avals[k]
            if aval.ndim == 0:
                set_.append(f"{name} = 1.0 if dir_ == {off} else 0.0")
                continue
            buf = f"e{j}_"
            allocs.append(f"{buf} = np.zeros({aval.size}, {dtype_src(aval)})")
            params.append(buf)
            pre.append(f"{name} = {_reshaped(buf, aval.shape)}")
            hit = f"if {off} <= dir_ < {off + aval.size}:"
            set_ += [hit, f"    {buf}[dir_ - {off}] = 1.0"]
            clear += [hit, f"    {buf}[dir_ - {off}] = 0.0"]
        lines += [
            *["    " + line for line in pre],
            *hoisted,
            f"    for dir_ in range({n_dirs}):",
            f"        {s_d} = zin_[{n} + dir_ * {n}:{2 * n} + dir_ * {n}]",
            *["        " + line for line in set_],
            *["    " + line for line in body],
            *["        " + line for line in _stores(pieces[1], result, f"{n} + dir_ * {n}", n)],
            *["        " + line for line in clear],
        ]
    else:
        lines += hoisted
    lines += ["    " + line for line in _stores(pieces[0], result, "0", n)]
    if ws:
        allocs.append(f"ws_ = np.empty({ws})")
        params.append("ws_")
    fn = ctx.scope.add_function("rhs", ["W_", "rin_", "rout_", t, *op_names, *params], lines,
                                consts)
    return fn, allocs, params, consts


def _split_primal(graph: Graph, n_ops: int) -> tuple[Graph, Graph]:
    """``(P, T)``: ``P`` computes, from ``(y, t, *operands)``, the equations of ``graph`` that do
    not depend on the direction (on ``s_d`` or the seeds), its outputs the values of those that
    the others or ``graph``'s outputs read; ``T`` computes the rest, taking ``graph``'s inputs
    and ``P``'s outputs, and gives ``graph``'s outputs."""
    varying = {v.id for v in graph.inputs[2 + n_ops:]}
    primal, tangent = [], []
    for eqn in graph.eqns:
        if any(isinstance(a, Var) and a.id in varying for a in eqn.inputs):
            tangent.append(eqn)
            varying.update(v.id for v in eqn.outputs)
        else:
            primal.append(eqn)
    computed = {v.id for eqn in primal for v in eqn.outputs}
    needed: dict[int, Var] = {}
    for atom in [a for eqn in tangent for a in eqn.inputs] + list(graph.outputs):
        if isinstance(atom, Var) and atom.id in computed:
            needed.setdefault(atom.id, atom)
    shared = list(needed.values())
    return (Graph(graph.inputs[: 2 + n_ops], primal, shared),
            Graph(graph.inputs + shared, tangent, graph.outputs))


def _scalar_outputs(graph: Graph, n: int) -> tuple[Graph, list[list[int] | int]]:
    """``graph`` with each output that is a stack of scalars (``concatenate`` of ``(1,)``
    reshapes of scalars: ``anp.stack([du, dv])``) replaced by those scalars, which the generated
    code stores straight into the solver's row: an array for them (a workspace view per call and
    direction) cost more than the right-hand side.  Also, per original output, the positions
    of its scalars among the new outputs, or the position of the array kept."""
    from autodiff.passes import dce

    producer = graph.producers()
    outputs: list = []
    pieces: list[list[int] | int] = []
    for out in graph.outputs:
        eqn = producer.get(getattr(out, "id", None))
        scalars = None
        if eqn is not None and eqn.primitive.name == "concatenate" and out.aval.ndim == 1:
            parts = [producer.get(getattr(a, "id", None)) for a in eqn.inputs]
            if all(e is not None and e.primitive.name == "reshape" and e.inputs[0].aval.ndim == 0
                   and e.outputs[0].aval.shape == (1,) for e in parts):
                scalars = [e.inputs[0] for e in parts]
        if scalars is None or len(scalars) != n:
            pieces.append(len(outputs))
            outputs.append(out)
        else:
            pieces.append(list(range(len(outputs), len(outputs) + n)))
            outputs += scalars
    return dce(Graph(graph.inputs, graph.eqns, outputs)), pieces


def _stores(piece: list[int] | int, result: list[str], offset: str, n: int) -> list[str]:
    """Lines storing one output (its scalars, or its array) at ``zout_[offset:offset + n]``."""
    if isinstance(piece, int):
        return [f"for k_ in range({n}):", f"    zout_[{offset} + k_] = {result[piece]}[k_]"]
    return [f"zout_[{offset} + {i}] = {result[j]}" for i, j in enumerate(piece)]


def _reshaped(src: str, shape: tuple[int, ...]) -> str:
    from autodiff.lowering import reshaped

    return src if len(shape) == 1 else reshaped(src, shape)


# ---------------------------------------------------------------------------------------------
# the step loop
# ---------------------------------------------------------------------------------------------


def solve_lines(ctx: LoweringContext, rhs: tuple[str, list[str], list[str], list[str]],
                n: int, params: dict[str, Any], y0: str, ts: str, ys: str, ops: list[str],
                info: str, tag: str) -> list[str]:
    """Lines (for the function being written) solving by Dormand-Prince from ``y0`` over the
    times ``ts`` into the preallocated ``ys`` (``ys[0] = y0``), the statistics into ``info``,
    calling the right-hand side described by ``rhs`` (what :func:`rhs_function` returns: the
    lines allocate the arguments it takes after the operands ``ops``, and pass its constants).
    The order of the steps is that of Hairer et al.'s DOPRI5 (the module docstring of
    :mod:`kernels.ode_dopri5`); ``params`` give ``rtol`` and ``atol`` (written as literals),
    ``mxstep`` and ``n_err``; the lines' own names end with ``tag``.

    Written into the caller rather than as a function of its own: a function of the generated
    module costs a compile of its own and another when it is linked into its caller."""
    fn, allocs, rhs_params, consts = rhs
    rtol, atol = repr(params["rtol"]), repr(params["atol"])
    # a literal int makes Numba compile the callee once per value: the parts called at every
    # step take the sizes as literals (compiled once per size and cached, their loops unrolled),
    # the others and the counts int64 values (compiled once for every system)
    mxstep, ne, size = (f"np.int64({v})" for v in (params["mxstep"], params["n_err"], n))
    ne_lit = params["n_err"]
    Y, YNEW = dp.Y, dp.YNEW
    sc = ode_common

    def f(row_in: int | str, t: str, row_out: int | str) -> str:
        # rows as int64 values, not literals: Numba compiles a function once per literal
        # argument (three right-hand sides for three call sites)
        rows = [f"np.int64({r})" if isinstance(r, int) else r for r in (row_in, row_out)]
        args = ["W_", *rows, t, *[f"@{k}@" for k in range(len(ops))], *rhs_params, *consts]
        return f"{fn}({', '.join(args)})"

    body = [
        "y0_ = @y0@",
        "ts_ = @ts@",
        "ys_ = @ys@",
        f"W_ = np.empty(({dp.ROWS}, {n}))",
        *allocs,
        f"for i_ in range({n}):",
        f"    W_[{Y}, i_] = y0_[i_]",
        "    ys_[0, i_] = y0_[i_]",
        "m_ = ts_.shape[0]",
        "t_ = ts_[0]",
        "t_end_ = ts_[m_ - 1]",
        "d_ = 1.0 if t_end_ >= t_ else -1.0",
        "span_ = abs(t_end_ - t_)",
        f"status_ = {sc.SOLVED}",
        "nsteps_ = 0",
        "nfev_ = 0",
        "k_ = 1",
        "if m_ > 1:",
        f"    {f(Y, 't_', 0)}",
        "    nfev_ += 1",
        f"    h0_ = dopri5.initial_probe(W_, span_, d_, {rtol}, {atol}, {ne}, {size})",
        "    if h0_ < 0.0:",
        f"        status_ = {sc.NONFINITE}",
        "    else:",
        f"        {f(YNEW, 't_ + d_ * h0_', 1)}",
        "        nfev_ += 1",
        f"        h_ = dopri5.initial_step(W_, h0_, span_, d_, {rtol}, {atol}, {ne})",
        "        facold_ = 1e-4",
        "        rejected_ = False",
        "        interval_ = 0",
        "        while True:",
        f"            status_ = dopri5.step_status(t_, h_, interval_, {mxstep})",
        f"            if status_ != {sc.RUNNING}:",
        "                break",
        "            h_ = dopri5.clipped_step(t_, h_, t_end_, d_)",
        "            nsteps_ += 1",
        "            interval_ += 1",
        "            for s_ in range(1, 7):",
        f"                dopri5.stage_input(W_, s_, h_, {n})",
        f"                {f(YNEW, 't_ + dopri5.C[s_] * h_', 's_')}",
        "            nfev_ += 6",
        f"            err_ = dopri5.error_norm(W_, h_, {rtol}, {atol}, {ne_lit})",
        "            ok_, h_next_, facold_ = dopri5.control(err_, facold_, h_, rejected_, d_)",
        "            rejected_ = not ok_",
        "            if ok_:",
        "                t_new_ = t_ + h_",
        f"                k_new_ = dopri5.dense_outputs(W_, ts_, ys_, k_, t_, h_, t_new_, d_, "
        f"{n})",
        "                if k_new_ != k_:",
        "                    interval_ = 0",
        "                k_ = k_new_",
        f"                dopri5.accept(W_, {n})",
        "                t_ = t_new_",
        "                if k_ >= m_:",
        f"                    status_ = {sc.SOLVED}",
        "                    break",
        "            h_ = h_next_",
        # the outputs not reached are NaN: a log density that reads them is not finite, which a
        # sampler takes for a divergence
        "for j_ in range(k_, m_):",
        f"    for i_ in range({n}):",
        "        ys_[j_, i_] = np.nan",
        "@info@ = ode.solve_info(status_, t_, nsteps_, nfev_)",
    ]
    # the caller's names (operands, y0...) go in after the lines' own names (every name ending
    # in "_") have taken the tag
    given = {"@y0@": y0, "@ts@": ts, "@ys@": ys, "@info@": info,
             **{f"@{k}@": op for k, op in enumerate(ops)}}

    def rename(line: str) -> str:
        line = re.sub(r"\b(\w+_)(?!\w)", lambda m: m.group(1) + tag, line)
        return re.sub(r"@\w+@", lambda m: given[m.group(0)], line)

    return [rename(line) for line in body]
