"""Seeded random streams for the simulator: one numpy ``Generator`` per purpose and symbol.

Every stream is seeded from ``(seed, stream name, symbol)`` through numpy's ``SeedSequence``,
so adding a symbol or a kind of record never changes what another stream draws: the same
seed gives the same tape. Draws are taken from numpy in blocks and handed out one Python
float at a time, because the simulator asks for a few numbers per event and a numpy call per
number would cost more than the event itself.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

_BLOCK = 2048


def stream_seed(seed: int, *names: str) -> np.random.SeedSequence:
    """A SeedSequence for ``seed`` and a stream's names (CRC-32 of each, stable across runs)."""
    return np.random.SeedSequence([seed & 0xFFFFFFFF, *(zlib.crc32(n.encode()) for n in names)])


class Draws:
    """One seeded stream of uniforms and standard normals, drawn in blocks."""

    __slots__ = ("_i", "_j", "_normals", "_uniforms", "gen")

    def __init__(self, seed: int, *names: str) -> None:
        self.gen = np.random.default_rng(stream_seed(seed, *names))
        self._uniforms: list[float] = []
        self._normals: list[float] = []
        self._i = 0
        self._j = 0

    def uniform(self) -> float:
        """A float in [0, 1)."""
        if self._i >= len(self._uniforms):
            self._uniforms = self.gen.random(_BLOCK).tolist()
            self._i = 0
        value = self._uniforms[self._i]
        self._i += 1
        return value

    def normal(self) -> float:
        """A standard normal."""
        if self._j >= len(self._normals):
            self._normals = self.gen.standard_normal(_BLOCK).tolist()
            self._j = 0
        value = self._normals[self._j]
        self._j += 1
        return value

    def between(self, low: float, high: float) -> float:
        """A float uniform in [low, high)."""
        return low + (high - low) * self.uniform()

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.uniform() < p

    def index(self, n: int) -> int:
        """An int uniform in [0, n)."""
        return min(n - 1, int(self.uniform() * n))

    def pick(self, cumulative: Sequence[float]) -> int:
        """An index drawn from cumulative weights ending at 1.0."""
        u = self.uniform()
        for i, c in enumerate(cumulative):
            if u < c:
                return i
        return len(cumulative) - 1

    def poisson(self, lam: float) -> int:
        """A Poisson count with mean ``lam``."""
        return int(self.gen.poisson(lam)) if lam > 0 else 0


def cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Normalised cumulative weights for ``Draws.pick``."""
    total = float(sum(weights))
    out: list[float] = []
    running = 0.0
    for w in weights:
        running += w / total
        out.append(running)
    out[-1] = 1.0
    return tuple(out)
