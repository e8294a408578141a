"""The global random streams a submission's process starts with: Python's ``random``, NumPy's
legacy ``np.random.*`` and torch's default generator, each seeded with :data:`POLICY_RANDOM_SEED`
(step 5 of :mod:`lrgym.leaderboard.policy_host`).

A policy that draws from them without seeding them (an ε-greedy ``random.random() < eps``) got
the streams its process inherited: Python and NumPy seed theirs from the OS's entropy when they
are imported, and torch (2.x) its generator likewise, so the same submission got another grade
at every grading (a probe: 0.358 and 0.461). Seeded here, a grading repeats:

* the **job process** seeds them before it imports the policy's module, so what the module draws
  at import (``W = np.random.randn(4)``) is the same in every job;
* each **episode process** seeds them again after its fork, before the policy is built, so every
  episode starts from the same state, whichever job holds it, in which place, beside which
  others, on how many workers and with which backend (a job's cut depends on ``--workers``:
  :func:`lrgym.leaderboard.runner.job_layout`; a seed of the episode's place in its job would not).

The value is a constant, so the streams say nothing of the episode: not its instance or seed (a
private suite's are hidden), not its place in the suite. The price is that every episode's
streams are the same: a policy wanting different draws per episode derives a seed from what it
sees (its first observation) and seeds a generator of its own.

torch is seeded only where it is imported (importing it costs ≈ 1 s of CPU): one imported already
is seeded at once, and one imported later (at the module's import, or in ``__init__``) right after
its import (:class:`_SeedTorchOnImport`). Not covered: generators a policy makes without a seed
(``np.random.default_rng()``, ``random.Random()``, ``torch.Generator()`` then ``.seed()``), Numba's
own stream in jitted code, ``os.urandom``, ``secrets``, time and addresses, and Python's ``random``
in a process the policy forks itself (CPython seeds it again from the OS's entropy in every forked
child; that is why each episode's process, itself forked, is seeded after its fork): a policy that
reads them can still draw differently at every grading.
"""

from __future__ import annotations

import sys

__all__ = ["POLICY_RANDOM_SEED", "seed_global_streams"]

#: the seed of every global stream of a submission's process (see the module's docstring)
POLICY_RANDOM_SEED = 0


def seed_global_streams() -> None:
    """Seed Python's ``random``, NumPy's legacy global stream and torch's default generator with
    :data:`POLICY_RANDOM_SEED`; torch, when it is not imported yet, as soon as it is."""
    import random

    import numpy as np

    random.seed(POLICY_RANDOM_SEED)
    np.random.seed(POLICY_RANDOM_SEED)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(POLICY_RANDOM_SEED)
    elif not any(isinstance(finder, _SeedTorchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SeedTorchOnImport())


class _SeedTorchOnImport:
    """An import finder that seeds torch right after it is imported for the first time, then
    leaves ``sys.meta_path``: it finds ``torch`` through the other finders and runs the module
    they load, then ``torch.manual_seed(POLICY_RANDOM_SEED)``. A module named ``torch`` without a
    ``manual_seed`` (a submission's own ``torch.py`` beside its policy file, first on its
    ``sys.path``) is left as it is, as :func:`seed_global_streams` leaves one imported already:
    it has no generator to seed, and calling it failed the policy's import."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        import importlib.util

        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module
        own_attribute = "exec_module" in vars(loader)

        def exec_then_seed(module):
            # the loader is as it was once torch has run (a loader shared by other modules, a
            # zip importer's, must not seed after each of them)
            try:
                exec_module(module)
            finally:
                if own_attribute:
                    loader.exec_module = exec_module
                else:
                    del loader.exec_module
            if hasattr(module, "manual_seed"):
                module.manual_seed(POLICY_RANDOM_SEED)

        loader.exec_module = exec_then_seed
        return spec
