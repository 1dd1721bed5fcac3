"""Typed pointers from raw addresses, for compiled code that receives data through a ``void*``.

A model kernel receives its data as one ``void*`` that points to an ``int64`` table of array
addresses (see ``autodiff.codegen.compile_logp_grad``).  These intrinsics turn an address (an
integer or an untyped pointer) into a typed pointer that ``numba.carray`` can view as an array.
They compile to a single ``inttoptr``/``bitcast`` and keep the caller cacheable (no ctypes
globals).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_LLVM_TYPES = {
    types.float64: ir.DoubleType(),
    types.int64: ir.IntType(64),
    types.uint64: ir.IntType(64),
    types.boolean: ir.IntType(8),  # NumPy bools are one byte
}


def _pointer_intrinsic(element: types.Type):
    llvm_target = _LLVM_TYPES[element].as_pointer()

    def typer(typingctx, address):
        if not isinstance(address, (types.Integer, types.CPointer, types.RawPointer)):
            return None
        sig = types.CPointer(element)(address)

        def codegen(context, builder, signature, args):
            (value,) = args
            if isinstance(value.type, ir.PointerType):
                return builder.bitcast(value, llvm_target)
            return builder.inttoptr(value, llvm_target)

        return sig, codegen

    typer.__name__ = f"as_{element}_pointer"
    return intrinsic(typer)


as_f8_pointer = _pointer_intrinsic(types.float64)
as_i8_pointer = _pointer_intrinsic(types.int64)
as_b1_pointer = _pointer_intrinsic(types.boolean)
as_u8_pointer = _pointer_intrinsic(types.uint64)

