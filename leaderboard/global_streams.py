"""The global random streams a submission's process starts with: Python's ``random``, NumPy's
legacy ``np.random.*`` and torch's default generator (step 5 of
:mod:`lrgym.leaderboard.policy_host`).

A policy that draws from them without seeding them (an ε-greedy ``random.random() < eps``) got
the streams its process inherited: Python and NumPy seed theirs from the OS's entropy when they
are imported, and torch (2.x) its generator likewise, so the same submission got another grade
at every grading (a probe: 0.358 and 0.461). Seeded here, a grading repeats:

* the **job process** seeds them with :data:`POLICY_RANDOM_SEED` before it imports the policy's
  module, so what the module draws at import (``W = np.random.randn(4)``) is the same in every
  job;
* each **episode process** seeds them again after its fork, before the policy is built, with
  its run's own seed, :func:`episode_stream_seed` of the suite and the run's (family, instance,
  seed): computed by the grader (:func:`lrgym.leaderboard.runner.run_suite` puts it in each
  job), passed into the sandbox as an opaque integer. So each episode draws its own numbers
  (a stochastic policy's variance is in the board's confidence intervals: with one seed for
  all, every episode made the same draws), and an episode's draws are the same whichever job
  holds it, in which place, beside which others, on how many workers and with which backend (a
  job's cut depends on ``--workers``: :func:`lrgym.leaderboard.runner.job_layout`; a seed of the
  episode's place in its job would not be), and on any store or machine that grades the suite.

What the seed tells the policy: it is a keyed hash (BLAKE2b) of the run's instance and seed,
keyed with the whole family's part of the suite (its version, the family's instances, the
suite's seeds). So it is as secret as the suite: of a **private** suite, whose instances and
seeds are drawn from the grader's key (:mod:`lrgym.leaderboard.private`), a policy can compute
nothing, even knowing its own instance and seed (the other instances and seeds are the key); of a
public suite anyone can compute it, which tells the policy its run, but a public run is no
secret already (its first ``train_loss`` is the shipped references' initial loss of one
instance and seed: README, "Grading and its threat model"; a failure reason names it). Two
stores and two machines grade a suite with the same streams.

torch is seeded only where it is imported (importing it costs ≈ 1 s of CPU): one imported already
is seeded at once, and one imported later (at the module's import, or in ``__init__``) right after
its import, with the seed of the last :func:`seed_global_streams` (:class:`_SeedTorchOnImport`).
A module named ``torch`` of the submission's own is seeded only if its namespace holds a
``manual_seed`` (looked up running none of its code: a stub's lazy ``__getattr__`` is not asked);
an error of that ``manual_seed`` fails the entry, naming the module.
Not covered: generators a policy makes without a seed
(``np.random.default_rng()``, ``random.Random()``, ``torch.Generator()`` then ``.seed()``), Numba's
own stream in jitted code, ``os.urandom``, ``secrets``, time and addresses, and Python's ``random``
in a process the policy forks itself (CPython seeds it again from the OS's entropy in every forked
child; that is why each episode's process, itself forked, is seeded after its fork): a policy that
reads them can still draw differently at every grading.
"""

from __future__ import annotations

import sys

__all__ = ["POLICY_RANDOM_SEED", "STREAM_SEEDS", "episode_stream_seed", "seed_global_streams"]

#: the seed of the job process's streams (the policy's module is imported with them), and of an
#: episode's when it is given none (the sandbox driven by hand: ``("policies", family, n)``)
POLICY_RANDOM_SEED = 0
#: every seed is an integer in ``range(STREAM_SEEDS)``: what all three streams take as it is
STREAM_SEEDS = 2**32

_seed = POLICY_RANDOM_SEED  # the last seed_global_streams' (the torch finder seeds with it)


def episode_stream_seed(suite, family: str, instance: int, seed: int) -> int:
    """The seed of the global streams of the episode of ``suite``'s run (``family``, ``instance``,
    ``seed``): BLAKE2b of ``"instance/seed"`` keyed with the family's part of the suite (its
    version, the family's instances, the suite's seeds; see the module's docstring for what it
    tells a policy). Not the families the suite has: a suite restricted to some of them (same
    version, :meth:`~lrgym.leaderboard.suite.Suite.restrict`) grades them alike."""
    import hashlib
    import json

    context = json.dumps({"version": suite.version, "family": family, "seeds": [int(s) for s in suite.seeds],
                          "instances": [int(k) for k in suite.family_suite(family).instances]}, sort_keys=True)
    key = hashlib.blake2b(context.encode(), person=b"lrgym streams").digest()
    digest = hashlib.blake2b(f"{int(instance)}/{int(seed)}".encode(), key=key, digest_size=4).digest()
    return int.from_bytes(digest, "big")


def seed_global_streams(seed: int = POLICY_RANDOM_SEED) -> None:
    """Seed Python's ``random``, NumPy's legacy global stream and torch's default generator with
    ``seed`` (an int in ``range(STREAM_SEEDS)``); torch, when it is not imported yet, as soon as
    it is."""
    import random

    import numpy as np

    global _seed
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < STREAM_SEEDS):
        raise ValueError(f"stream seed {seed!r}; valid: an int in [0, 2**32)")
    _seed = seed
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None and _manual_seed_of(torch) is not None:
        _seed_torch(torch, seed)
    elif not any(isinstance(finder, _SeedTorchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SeedTorchOnImport())


def _manual_seed_of(module):
    """The ``manual_seed`` function of the module named ``torch`` (torch's own is in its
    namespace), found without running any code of the module, else None. The module may be the
    submission's own (a ``torch.py`` beside the policy file, a stub put in ``sys.modules``):
    ``hasattr`` ran its ``__getattr__``, and a stub's lazy ``__getattr__`` raising anything but
    ``AttributeError`` (an ``ImportError`` "install torch", a ``SystemExit``) failed the entry
    with that error, of a lookup the policy never made. A module without one in its namespace has
    no generator to seed and is left as it is."""
    try:
        namespace = object.__getattribute__(module, "__dict__")
    except AttributeError:
        return None
    found = dict.get(namespace, "manual_seed") if isinstance(namespace, dict) else None
    return found if callable(found) else None


def _seed_torch(module, seed: int) -> None:
    """Call the ``manual_seed`` of the module named ``torch`` (:func:`_manual_seed_of`) with
    ``seed``; what it raises (the code of a submission's own ``torch``) is a
    :class:`~lrgym.leaderboard.failures.PolicyError` naming the module, its file and the error."""
    from lrgym.brief import brief
    from lrgym.leaderboard.failures import PolicyError, describe

    try:
        _manual_seed_of(module)(seed)
    except BaseException as exc:  # noqa: BLE001 - the submission's code: its failure, said as such
        where = dict.get(object.__getattribute__(module, "__dict__"), "__file__")
        raise PolicyError(f"the module 'torch' the policy imported ({brief(where)}) raised {brief(describe(exc))} "
                          f"in manual_seed({seed}), called to seed its generator (lrgym seeds torch's global "
                          "stream); valid: torch, or a module named torch whose manual_seed takes a seed, or "
                          "one without manual_seed (left unseeded)") from None


class _SeedTorchOnImport:
    """An import finder that seeds torch right after it is imported for the first time, then
    leaves ``sys.meta_path``: it finds ``torch`` through the other finders and runs the module
    they load, then ``torch.manual_seed`` with the last seed :func:`seed_global_streams` was given
    (the job process installs it; an episode that imports torch seeds it with its own). A module
    named ``torch`` without a ``manual_seed`` in its namespace (a submission's own ``torch.py``
    beside its policy file, first on its ``sys.path``; looked up running none of its code,
    :func:`_manual_seed_of`) is left as it is, as :func:`seed_global_streams` leaves one imported
    already: it has no generator to seed, and calling it failed the policy's import.

    It leaves ``sys.meta_path`` once torch has run, not when it is first asked: a policy that
    checks for torch before importing it (``importlib.util.find_spec("torch")``, the usual test of
    an optional dependency, which asks every finder and imports nothing) took the finder out
    before the import, so torch started from the OS's entropy (its draws at the module's import
    changed from one grading to the next). While it asks the other finders it is not one of them
    (the ``_asking`` flag of the thread asking)."""

    def __init__(self):
        import threading

        self._asking = threading.local()

    def find_spec(self, name, path=None, target=None):
        if name != "torch" or getattr(self._asking, "now", False):
            return None
        import importlib.util

        self._asking.now = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._asking.now = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        if getattr(loader.exec_module, "seeds_torch", False):  # asked before, a loader shared by each spec
            return spec
        exec_module = loader.exec_module
        own_attribute = "exec_module" in vars(loader)
        finder = self

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
            if finder in sys.meta_path:  # torch has run: nothing more to seed
                sys.meta_path.remove(finder)
            if _manual_seed_of(module) is not None:
                _seed_torch(module, _seed)

        exec_then_seed.seeds_torch = True
        loader.exec_module = exec_then_seed
        return spec
