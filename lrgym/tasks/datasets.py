"""scikit-learn's bundled data sets (diabetes, digits, breast cancer), read once per process.

scikit-learn is a core dependency: it ships these data sets (nothing is downloaded) and is
imported only when a data-set instance is first built. Reading and parsing a data set costs
≈ 10 – 50 ms, more than building the rest of an instance, so :func:`bundled` keeps the raw
arrays per process (read-only; a few hundred KB in all). Every instance derives its own
standardised, split copies from them, so a build from the kept arrays is the same, to the bit,
as one from a fresh read (``tests/tasks/test_datasets.py``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

NAMES = ("diabetes", "digits", "breast_cancer")


@lru_cache(maxsize=None)
def bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a bundled scikit-learn data set, as scikit-learn returns them, read-only."""
    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; valid choices: {', '.join(NAMES)}")
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y
