"""Keyword arguments checked by name: a misspelt one names itself, the closest valid name and
every valid one, where Python says only ``__init__() got an unexpected keyword argument 'horizn'``
(the message starts with Python's words: other libraries read them).

The valid names always come from a signature (:func:`keyword_names`), never from a hand-kept
list, so they cannot drift from what the callee takes. Used by the ids' entry point
(:func:`lrgym.registry.make_env`), the vector env, the baselines' registry, and by the classes
users build directly (``LRControlEnv(horizn=5)``, ``TorchTrainingEnv``, ``PolicyScheduler``)
through :func:`checked_keywords` on their ``__init__``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import reprlib
from typing import Callable, Iterable

__all__ = ["UnknownKeywordError", "check_keywords", "checked_keywords", "keyword_names"]

#: the most further unknown names an error lists, each shortened to :data:`_NAME`'s limit: a
#: hostile mapping (a submission's 1 MB sidecar of 60,000 keys, or one key of 900 KB) made a
#: message of 600 KB (a review, 2026-12-05)
_LISTED = 10
_NAME = reprlib.Repr()
_NAME.maxstring = _NAME.maxother = 80


class UnknownKeywordError(TypeError, ValueError):
    """A keyword argument the callee does not take. A ``TypeError``, as Python's own error for it
    is (gymnasium's ``make`` catches that and re-raises ``type(e)(message)``: keep the one-string
    constructor), and a ``ValueError``, as lrgym's other argument errors are."""


def keyword_names(*callables: Callable) -> list[str]:
    """The names ``callables`` take as keywords, in signature order, first callable first
    (``self``, ``*args`` and ``**kwargs`` are not names; a class gives its ``__init__``'s)."""
    names: list[str] = []
    for fn in callables:
        for name, p in inspect.signature(fn).parameters.items():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in names:
                names.append(name)
    return names


def check_keywords(what: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Raise :class:`UnknownKeywordError` if a name in ``given`` is not in ``valid``::

        check_keywords("LRControlEnv()", ["horizn"], keyword_names(LRControlEnv))
        # UnknownKeywordError: LRControlEnv() got an unexpected keyword argument 'horizn'
        #   (did you mean 'horizon'?); valid: family, family_options, instance_set, ...

    The message starts as Python's own does (``got an unexpected keyword argument 'horizn'``),
    since libraries read it: gymnasium's ``make`` looks for ``render_mode`` in it, TorchRL's
    ``GymEnv`` retries without ``frameskip`` when it names that keyword. Each further unknown
    name is listed after the first (ten of them at most, then how many more; a name over 80
    characters shortened).
    """
    valid = list(valid)
    unknown = [k for k in given if k not in valid]
    if not unknown:
        return

    def hint(k) -> str:
        close = difflib.get_close_matches(str(k), valid, n=1)
        return _NAME.repr(k) + (f" (did you mean {close[0]!r}?)" if close else "")

    listed, more = unknown[1:1 + _LISTED], len(unknown) - 1 - _LISTED
    also = f"; also unexpected: {', '.join(hint(k) for k in listed)}" if listed else ""
    also += f" and {more} more" if more > 0 else ""
    raise UnknownKeywordError(f"{what} got an unexpected keyword argument {hint(unknown[0])}{also}; "
                              f"valid: {', '.join(valid) or 'none'}")


def checked_keywords(init: Callable) -> Callable:
    """Decorate a class's ``__init__`` so that a misspelt keyword is :func:`check_keywords`' error
    (``LRControlEnv() got an unexpected keyword argument 'horizn' (did you mean 'horizon'?); valid:
    ...``) where Python names neither the closest nor the valid names.

    The wrapper keeps the signature (``functools.wraps``: ``inspect.signature``, ``help`` and
    :func:`keyword_names` read the original's through ``__wrapped__``; no ``**kwargs`` in it) and
    costs one set test per call (the valid names are read once, here). It checks the keywords given
    to this ``__init__`` only: a subclass's own ``__init__`` takes its own, and passes the base's on
    to be checked. Pickling and copying never call ``__init__``; positional arguments are Python's
    to check, as before."""
    valid = keyword_names(functools.partial(init, None))  # without self
    names = frozenset(valid)
    what = init.__qualname__.rsplit(".", 1)[0] + "()"

    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        if not names.issuperset(kwargs):
            check_keywords(what, kwargs, valid)
        return init(self, *args, **kwargs)

    return checked
