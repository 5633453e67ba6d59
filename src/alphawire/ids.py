"""Unique, time-sortable message ids (ULID layout: 48-bit milliseconds + 80 random bits).

Ids made in one process sort in the order they were made, even within one millisecond,
because the random part is incremented instead of redrawn when the clock has not moved.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1


class IdGenerator:
    """Makes 26-character ids whose lexical order is their creation order."""

    __slots__ = ("_last_ms", "_last_rand")

    def __init__(self) -> None:
        self._last_ms = -1
        self._last_rand = 0

    def new(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms <= self._last_ms:
            # Same (or an earlier, if the wall clock stepped back) millisecond: keep the
            # previous timestamp and count up so that order is preserved.
            ms = self._last_ms
            rand = self._last_rand + 1
            if rand > _RANDOM_MAX:  # 2**80 ids in one millisecond: move to the next one
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            # Top bit clear leaves room to count up within the millisecond.
            rand = int.from_bytes(os.urandom(10), "big") >> 1
        self._last_ms = ms
        self._last_rand = rand
        value = (ms << _RANDOM_BITS) | rand
        chars = []
        for _ in range(26):
            chars.append(_ALPHABET[value & 31])
            value >>= 5
        return "".join(reversed(chars))


_default = IdGenerator()
new_id = _default.new
