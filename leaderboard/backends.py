"""Which pool runs the grader's jobs: the local :class:`~lrgym.leaderboard.pool.WorkerPool`
or, with ``--backend ray``, :class:`~lrgym.leaderboard.ray_pool.RayWorkerPool` (same interface,
same results). Backends themselves are :mod:`lrgym.baselines.backend`'s."""

from __future__ import annotations

from lrgym.baselines.backend import Backend, get_backend

__all__ = ["grader_pool"]


def grader_pool(backend: Backend | str | None = None, n_workers: int | None = None, **kwargs):
    """A worker pool of ``backend`` (default local) with ``n_workers`` workers; ``kwargs`` are the
    pools' common options (``time_limit``, ``isolate_groups``, ``quiet``)."""
    backend = get_backend(backend)
    if backend.is_ray:
        from lrgym.leaderboard.ray_pool import RayWorkerPool

        return RayWorkerPool(n_workers, address=backend.address, **kwargs)
    from lrgym.leaderboard.pool import WorkerPool

    return WorkerPool(n_workers, **kwargs)
