"""Covariances with a chosen spectrum: H = U diag(λ) Uᵀ with a Haar-random rotation U and
log-spaced eigenvalues λ (linreg's feature covariance, the quadratic's Hessian)."""

from __future__ import annotations

import numpy as np

from lrgym.tasks import pcg64


def random_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian matrix with sign correction)."""
    q, r = np.linalg.qr(pcg64.standard_normal(rng, (d, d)))
    return q * np.sign(np.diag(r))


def spectrum(dim: int, condition: float, scale: float) -> np.ndarray:
    """Eigenvalues log-spaced from ``scale`` down to ``scale / condition``."""
    if dim == 1:
        return np.array([scale])
    return scale * condition ** (-np.arange(dim) / (dim - 1))

