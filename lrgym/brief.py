"""A short repr of any value for an error message: the one way lrgym quotes a bad value.

A hostile or careless value can be huge (a 900 KB string, a 10,000-tensor tuple, an integer of
5,000 digits): :func:`brief` quotes it as :func:`reprlib.repr` does (strings, lists, dicts cut
short with ``...``), and never raises while doing so — ``reprlib.repr(10**5000)`` raises Python's
own ``ValueError: Exceeds the limit (4300 digits) for integer string conversion``, which then
replaced the message that was to name the bad option.
"""

from __future__ import annotations

import reprlib

__all__ = ["brief"]


class _Brief(reprlib.Repr):
    def repr_int(self, x, level):
        try:
            return super().repr_int(x, level)
        except ValueError:  # beyond sys.get_int_max_str_digits()
            return f"<an integer of {x.bit_length():,} bits>"


_BRIEF = _Brief()


def brief(value) -> str:
    """``reprlib.repr(value)``, with an integer too long to print as ``<an integer of N bits>``."""
    return _BRIEF.repr(value)
