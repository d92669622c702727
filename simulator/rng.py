"""Counter-based random numbers: the value at (stream, counter) depends on nothing else.

Every random quantity of the simulated market is drawn as ``f(stream key, counter)``: the
stream names what is drawn (the seed, a symbol, "minute shocks", ...) and the counter says
where (an hour index, a minute index). Any range can therefore be computed in any order, by
any process, and a re-computation gives identical bits: the property that lets the server
answer a kline request for any window without simulating what came before it.

The mixer is SplitMix64 (Steele, Lea and Flood, 2014), vectorised with numpy's wrapping
uint64 arithmetic; normals come from the Box-Muller transform of two independent counters.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_MINUS_53 = 1.0 / (1 << 53)


def stream_key(seed: int, *labels: object) -> int:
    """A 64-bit key for the stream named by ``labels`` under ``seed`` (stable across runs and platforms)."""
    text = "\x1f".join([str(seed), *map(str, labels)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


Key = int | np.ndarray  # one stream, or one stream per counter (uint64 keys of the same shape)


def _splitmix64(key: Key, counters: np.ndarray) -> np.ndarray:
    # In-place steps: the same bits as the textbook expression, with fewer temporaries.
    with np.errstate(over="ignore"):
        z = counters.astype(np.uint64)
        z += np.uint64(1)
        z *= _GOLDEN
        z += np.asarray(key, dtype=np.uint64)
        z ^= z >> np.uint64(30)
        z *= _MIX1
        z ^= z >> np.uint64(27)
        z *= _MIX2
        z ^= z >> np.uint64(31)
        return z


def uniforms(key: Key, counters: np.ndarray | int) -> np.ndarray:
    """Uniform draws in the open interval (0, 1), one per counter.

    ``key`` may be an array of stream keys, one per counter: the trades of many contracts are
    then drawn in one vectorised call, each from its own stream.
    """
    bits = _splitmix64(key, np.atleast_1d(np.asarray(counters, dtype=np.int64)))
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * _TWO_POW_MINUS_53


def normals(key: Key, counters: np.ndarray | int) -> np.ndarray:
    """Standard normal draws, one per counter (Box-Muller on counters 2c and 2c + 1)."""
    c = np.atleast_1d(np.asarray(counters, dtype=np.int64)) * 2
    u1 = uniforms(key, c)
    u2 = uniforms(key, c + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
