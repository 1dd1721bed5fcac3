r"""Per-chain random streams held in plain arrays: xoshiro256** seeded through NumPy's SeedSequence.

Every chain owns one row of a ``(n_chains, 4)`` ``uint64`` array -- the 256-bit state of a
xoshiro256** generator (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
ACM TOMS 2021). All draw functions take **one row** (a 1-D ``uint64`` array of length 4) and
advance it in place, so

* chains never share state: draws do not depend on which thread runs which chain, on the number
  of threads, or on the order in which chains are scheduled;
* the state is 32 bytes per chain and lives with the rest of the chain's state, so a run split
  into chunks (or checkpointed and resumed) continues the very same stream.

Seeding
-------
:func:`seed_streams` gives chain ``c`` of seed ``s`` the 256 bits
``numpy.random.SeedSequence(s, spawn_key=(c,)).generate_state(4, uint64)`` -- the state of the
``c``-th child of ``SeedSequence(s).spawn(n)``, whatever ``n`` is. SeedSequence hashes the seed
and the chain index so that nearby seeds and chain indices give unrelated streams (no
"seed n chain i+1 == seed n+1 chain i" overlaps). An all-zero state (the one fixed point of
xoshiro) is replaced, which happens with probability :math:`2^{-256}`.

Variates
--------
* :func:`next_uint64` -- the raw generator output: ``rotl(s1 * 5, 7) * 9`` and the xoshiro256
  state transition.
* :func:`uniform` -- ``(x >> 11) * 2**-53``: 53 random bits, uniform on ``[0, 1)``.
* :func:`normal` -- one standard normal by Marsaglia's polar method (two uniforms on
  ``(-1, 1)``, rejected unless ``0 < s = u^2 + v^2 < 1``, then ``u * sqrt(-2 log(s) / s)``); the
  second normal of the pair is discarded so that the state stays 256 bits.
* :func:`normal_fill` -- fills an array with standard normals using *both* values of each
  polar pair (half the cost per normal of :func:`normal`).
* :func:`exponential` -- ``-log1p(-u)``, a standard exponential (finite, since ``u < 1``).

All functions are compiled with :func:`kernels.jit.njit` (``nogil``, disk-cached).
"""

from __future__ import annotations

import math

import numpy as np

from kernels.jit import JIT_DISABLED, njit, signature

__all__ = [
    "seed_streams",
    "next_uint64",
    "uniform",
    "normal",
    "normal_fill",
    "exponential",
]

_TWO_POW_M53 = 1.0 / 9007199254740992.0  # 2**-53


def seed_streams(seed: int, n_chains: int, first_chain: int = 0) -> np.ndarray:
    """Build the xoshiro256** states of ``n_chains`` chains from one seed.

    Parameters
    ----------
    seed : int
        Non-negative integer seed (anything ``numpy.random.SeedSequence`` accepts as entropy).
    n_chains : int
        Number of chains.
    first_chain : int, optional
        Global index of the first chain (so chains ``k..k+n-1`` of a larger run can be seeded
        separately, e.g. on another worker, and still get the streams they would get together).

    Returns
    -------
    numpy.ndarray
        ``(n_chains, 4)`` ``uint64`` array; row ``c`` is the state of chain ``first_chain + c``.
    """
    states = np.empty((n_chains, 4), dtype=np.uint64)
    for c in range(n_chains):
        ss = np.random.SeedSequence(seed, spawn_key=(first_chain + c,))
        row = ss.generate_state(4, np.uint64)
        if not row.any():  # xoshiro's only invalid state; probability 2**-256
            row[0] = np.uint64(0x9E3779B97F4A7C15)
        states[c] = row
    return states


_MASK64 = (1 << 64) - 1


def _py_next_uint64(state: np.ndarray) -> int:
    """Pure-Python xoshiro256** step on Python integers (used when JIT is disabled).

    NumPy ``uint64`` scalar arithmetic would warn on the (intended) wrap-around, so the plain
    Python path works on unbounded integers masked to 64 bits; the output is identical.
    """
    s0, s1, s2, s3 = (int(x) for x in state)
    x = (s1 * 5) & _MASK64
    result = ((((x << 7) | (x >> 57)) & _MASK64) * 9) & _MASK64
    t = (s1 << 17) & _MASK64
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = ((s3 << 45) | (s3 >> 19)) & _MASK64
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@njit(borrow=True)
def _rotl(x: np.uint64, k: int) -> np.uint64:
    """Rotate a 64-bit word left by ``k`` bits (``0 < k < 64``)."""
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(borrow=True)
def next_uint64(state: np.ndarray) -> np.uint64:
    """Advance a xoshiro256** state by one step and return the 64-bit output.

    Parameters
    ----------
    state : uint64[4]
        One chain's state, modified in place.

    Returns
    -------
    uint64
        ``rotl(s1 * 5, 7) * 9`` computed from the state before the step.
    """
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s1 * np.uint64(5), np.int64(7)) * np.uint64(9)  # int64: one compile
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, np.int64(45))
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@signature(lambda t: (t.rng,))
@njit(borrow=True)
def uniform(state: np.ndarray) -> float:
    """Draw a uniform variate on ``[0, 1)`` with 53 random bits.

    Parameters
    ----------
    state : uint64[4]
        One chain's state, advanced by one step.

    Returns
    -------
    float
        ``(next >> 11) * 2**-53``.
    """
    return float(next_uint64(state) >> np.uint64(11)) * _TWO_POW_M53


if JIT_DISABLED:
    next_uint64 = _py_next_uint64  # noqa: F811 -- same function, Python integers

    def uniform(state: np.ndarray) -> float:  # noqa: F811
        """Uniform on ``[0, 1)`` (pure-Python path, identical values)."""
        return float(_py_next_uint64(state) >> 11) * _TWO_POW_M53


@njit(borrow=True)
def _polar_pair(state: np.ndarray) -> tuple[float, float]:
    """Two independent standard normals by Marsaglia's polar method."""
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            f = math.sqrt(-2.0 * math.log(s) / s)
            return u * f, v * f


@njit(borrow=True)
def normal(state: np.ndarray) -> float:
    """Draw one standard normal variate (polar method; the pair's second value is dropped).

    Parameters
    ----------
    state : uint64[4]
        One chain's state, advanced in place (on average 2.55 steps).

    Returns
    -------
    float
        A draw from :math:`N(0, 1)`.
    """
    x, _ = _polar_pair(state)
    return x


@njit(borrow=True)
def normal_fill(state: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` with independent standard normals, two per polar-method pair.

    Element ``2k`` and ``2k+1`` come from the same pair; for odd lengths the last pair's second
    value is dropped. The consumption of the stream depends only on ``len(out)``.

    Parameters
    ----------
    state : uint64[4]
        One chain's state, advanced in place.
    out : float64[:]
        Output array (1-D), overwritten.
    """
    n = out.shape[0]
    i = 0
    while i + 1 < n:
        a, b = _polar_pair(state)
        out[i] = a
        out[i + 1] = b
        i += 2
    if i < n:
        a, _ = _polar_pair(state)
        out[i] = a


@njit(borrow=True)
def exponential(state: np.ndarray) -> float:
    """Draw a standard exponential variate, ``-log1p(-u)`` with ``u`` uniform on ``[0, 1)``.

    Parameters
    ----------
    state : uint64[4]
        One chain's state, advanced by one step.

    Returns
    -------
    float
        A draw from :math:`\\mathrm{Exp}(1)` (always finite).
    """
    return -math.log1p(-uniform(state))
