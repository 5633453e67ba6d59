"""Unique, time-sortable message ids (ULID layout: 48-bit milliseconds + 80 random bits).

Ids made in one process sort in the order they were made, even within one millisecond,
because the random part is incremented instead of redrawn when the clock has not moved.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
# Two digits (10 bits) per table look-up: an id is made on every publish, and digit-by-digit
# encoding in Python cost more than the rest of making one.
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1


class IdGenerator:
    """Makes 26-character ids whose lexical order is their creation order."""

    __slots__ = ("_last_ms", "_last_rand", "_prefix")

    def __init__(self) -> None:
        self._last_ms = -1
        self._last_rand = 0
        self._prefix = ""  # the 10 digits of _last_ms

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
        p = _PAIRS
        if ms != self._last_ms:
            # 48 bits of milliseconds as 10 digits (the top two bits are zero).
            self._prefix = (
                "".join(
                    (p[ms >> 40], p[(ms >> 30) & 1023], p[(ms >> 20) & 1023], p[(ms >> 10) & 1023])
                )
                + p[ms & 1023]
            )
            self._last_ms = ms
        self._last_rand = rand
        # 80 random bits as 16 digits.
        return self._prefix + "".join(
            (
                p[rand >> 70],
                p[(rand >> 60) & 1023],
                p[(rand >> 50) & 1023],
                p[(rand >> 40) & 1023],
                p[(rand >> 30) & 1023],
                p[(rand >> 20) & 1023],
                p[(rand >> 10) & 1023],
                p[rand & 1023],
            )
        )


_default = IdGenerator()
new_id = _default.new
