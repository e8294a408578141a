"""Benchmark suites: which problems a policy is scored on.

A :class:`Suite` is a fixed, versioned list of *tasks* — (family, instance seed) pairs drawn
from one instance set of the environment — and of the env seeds every task is run with, plus
the episode length (``horizon`` env steps of ``inner_steps`` minibatch updates each). Results
are only compared within one suite version (:attr:`Suite.version`, e.g. ``"v1/r1"``).

==========  ============  ====================  =====  ======================================
suite       instance set  instances / family    seeds  use
==========  ============  ====================  =====  ======================================
``v2``      test          up to 16, selected    5      the leaderboard (default)
``v1``      test          8 (the first)         5      the previous leaderboard (frozen)
``val``     val           8                     5      public validation set: tune on this
``quick``   test          1 (horizon 12)        2      CI and smoke tests (seconds)
==========  ============  ====================  =====  ======================================

v2's instances are the test instances that discriminate, chosen by the documented rule of
:mod:`lrgym.leaderboard.selection` (reference not at the precision floor, not at the LR-range
edge, a simple schedule beats the best constant LR) and frozen in the shipped
``leaderboard/suites/v2.json``.

Families: ``linreg``, ``quadratic``, ``mlp``, ``recsys`` (each with its default horizon and
inner steps unless the suite says otherwise). The test and val instance seeds are disjoint
from each other and from the ``train`` set policies learn on (see :mod:`lrgym.tasks.base`).

A suite is frozen: changing anything in it (instances, seeds, horizon, env options) means a new
revision (``quick/r2``) or, for the leaderboard suite, a new suite (``v2``). Stored results and
cached references are keyed by :attr:`Suite.version`; cached references are checked against
:meth:`Suite.fingerprint` (computed again on a mismatch), a stored entry's runs against the
suite's tasks and seeds when it is ranked (one whose runs do not match is skipped, and the board
says so: :func:`lrgym.leaderboard.ranking.build_leaderboard`). The families of ``v1``, ``val``
and ``quick`` are ``LRControl-v1``'s members (:data:`lrgym.tasks.MIXED_V1`, frozen with that id:
a test holds them to the four).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from lrgym.tasks import MIXED_V1
from lrgym.tasks.base import instance_set as lookup_instance_set

__all__ = ["DEFAULT_SUITE", "PRIVATE_PREFIX", "SUITES", "FamilySuite", "Suite", "Task", "get_suite", "suite_v2"]


@dataclass(frozen=True)
class FamilySuite:
    """The part of a suite on one family: its instances and episode settings.

    ``horizon`` / ``inner_steps`` of ``None`` mean the family's defaults; ``env_options`` are
    further :class:`lrgym.env.LRControlEnv` keywords as ``(name, value)`` pairs (frozen).
    """

    family: str
    instances: tuple[int, ...]
    horizon: int | None = None
    inner_steps: int | None = None
    env_options: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Task:
    """One problem of a suite: a family and an instance seed (a column of the score matrix)."""

    family: str
    instance: int

    @property
    def label(self) -> str:
        return f"{self.family}/{self.instance}"


@dataclass(frozen=True)
class Suite:
    """A versioned benchmark suite (see the module docstring).

    ``name`` is what ``--suite`` takes; ``revision`` is bumped on any change;
    ``version`` = ``"{name}/r{revision}"`` keys stored results and cached references.
    """

    name: str
    revision: int
    description: str
    instance_set: str
    families: tuple[FamilySuite, ...]
    seeds: tuple[int, ...]
    common_env_options: tuple[tuple[str, object], ...] = field(default=())
    #: a tuned.json of your own (a suite file's ``"tuned"``, its path resolved) the tuned baselines
    #: run with, None: the shipped values. Not part of the definition (:meth:`to_dict`,
    #: :meth:`fingerprint`): references and submissions do not depend on it; the baseline entries
    #: record its hash (``env_spec["inputs"]``), so a retune shows as stale rows
    tuned: str | None = field(default=None, compare=False)
    #: the key file a private suite was drawn from (:func:`lrgym.leaderboard.private.private_suite`,
    #: its absolute path), None for every other suite. Not part of the definition either (the suite's
    #: name carries the key's id): :func:`lrgym.leaderboard.runner.run_suite` refuses a key lying where
    #: a sandbox shows it, as every command taking ``--private`` does, and covers it and its
    #: references (``KEYFILE.references/``) in every sandbox of the run
    key_file: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        allowed = lookup_instance_set(self.instance_set)
        for fs in self.families:
            bad = [k for k in fs.instances if k not in allowed]
            if bad:
                raise ValueError(f"suite {self.name}: instances {bad} of {fs.family} are not in the {self.instance_set!r} set")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"suite {self.name}: duplicate seeds")

    @property
    def version(self) -> str:
        return f"{self.name}/r{self.revision}"

    @property
    def family_names(self) -> tuple[str, ...]:
        return tuple(fs.family for fs in self.families)

    def family_suite(self, family: str) -> FamilySuite:
        for fs in self.families:
            if fs.family == family:
                return fs
        raise KeyError(f"family {family!r} is not in suite {self.name}; valid: {', '.join(self.family_names)}")

    def tasks(self) -> list[Task]:
        """Every (family, instance) of the suite, family by family: the score-matrix columns."""
        return [Task(fs.family, k) for fs in self.families for k in fs.instances]

    @property
    def n_runs(self) -> int:
        """Episodes per policy: tasks × seeds."""
        return len(self.tasks()) * len(self.seeds)

    def env_kwargs(self, family: str) -> dict:
        """:class:`lrgym.env.LRControlEnv` keywords of this suite's env for ``family``
        (without the policy's own ones: optimizer, action mode, ...)."""
        fs = self.family_suite(family)
        kwargs: dict = {"family": family, "instance_set": self.instance_set, **dict(self.common_env_options)}
        if fs.horizon is not None:
            kwargs["horizon"] = fs.horizon
        if fs.inner_steps is not None:
            kwargs["inner_steps"] = fs.inner_steps
        kwargs.update(dict(fs.env_options))
        return kwargs

    def restrict(self, families: list[str] | tuple[str, ...]) -> "Suite":
        """This suite on a subset of its families (same version: for development only)."""
        return Suite(
            self.name, self.revision, self.description, self.instance_set,
            tuple(self.family_suite(f) for f in families), self.seeds, self.common_env_options, self.tuned,
            self.key_file,
        )

    def to_dict(self) -> dict:
        """Plain-JSON description (stored with every entry as part of its env spec)."""
        return {
            "name": self.name,
            "revision": self.revision,
            "version": self.version,
            "instance_set": self.instance_set,
            "seeds": list(self.seeds),
            "families": [
                {"family": fs.family, "instances": list(fs.instances), "env_kwargs": self.env_kwargs(fs.family)}
                for fs in self.families
            ],
        }

    def fingerprint(self) -> str:
        """Hash of the definition (not of the family code; references also record specs)."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


TEST_START = lookup_instance_set("test").start
VAL_START = lookup_instance_set("val").start


def _first(start: int, n: int) -> tuple[int, ...]:
    return tuple(range(start, start + n))


def _families(start: int, n: int, **kw) -> tuple[FamilySuite, ...]:
    return tuple(FamilySuite(f, _first(start, n), **kw) for f in MIXED_V1)  # LRControl-v1's members


V2_SELECTION = Path(__file__).parent / "suites" / "v2.json"


def suite_v2(instances: dict[str, list[int]]) -> Suite:
    """Suite v2 on the given test instances per family (families without any are left out)."""
    fams = tuple(FamilySuite(f, tuple(int(k) for k in instances[f])) for f in MIXED_V1 if instances.get(f))
    return Suite(
        name="v2",
        revision=3,
        description="the leaderboard: the test instances that discriminate (lrgym.leaderboard.selection) x 5 seeds, "
                    "family-default horizons",
        instance_set="test",
        families=fams,
        seeds=(0, 1, 2, 3, 4),
    )


def _shipped_v2() -> tuple[Suite, ...]:
    """v2 from the shipped selection (absent until the selection was shipped)."""
    try:
        data = json.loads(V2_SELECTION.read_text())
    except (OSError, ValueError):
        return ()
    return (suite_v2({f: d["instances"] for f, d in data["families"].items()}),)


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        *_shipped_v2(),
        Suite(
            name="v1",
            revision=1,
            description="the previous leaderboard (frozen): the first 8 test instances per family x 5 seeds, "
                        "family-default horizons",
            instance_set="test",
            families=_families(TEST_START, 8),
            seeds=(0, 1, 2, 3, 4),
        ),
        Suite(
            name="val",
            revision=1,
            description="public validation set (the shape of v1, val instances): tune here, report v2",
            instance_set="val",
            families=_families(VAL_START, 8),
            seeds=(0, 1, 2, 3, 4),
        ),
        Suite(
            name="quick",
            revision=1,
            description="CI smoke suite: 1 test instance per family x 2 seeds, 12 steps of 5 updates",
            instance_set="test",
            families=_families(TEST_START, 1, horizon=12, inner_steps=5),
            seeds=(0, 1),
        ),
    )
}
DEFAULT_SUITE = "v2" if "v2" in SUITES else "v1"
#: what every private suite's name starts with (``private-<key id>``:
#: :func:`lrgym.leaderboard.private.private_suite`), which no other suite's name may (a suite
#: file's name is refused in any case: :mod:`lrgym.leaderboard.suite_file`)
PRIVATE_PREFIX = "private-"


def get_suite(name: str | Suite, grading: bool = True) -> Suite:
    """A suite by name (``v2``, ``v1``, ``val``, ``quick``), or the suite of a suite file (a path
    ending in ``.json``: :mod:`lrgym.leaderboard.suite_file`), with a clear error for unknown names.
    ``grading=False``: to read its results only, a suite file's ``"tuned"`` file is not read (it
    may be gone: :func:`~lrgym.leaderboard.suite_file.load_suite_file`)."""
    if isinstance(name, Suite):
        return name
    if name not in SUITES:
        from lrgym.leaderboard.suite_file import is_suite_file, load_suite_file

        if is_suite_file(name):
            return load_suite_file(name, grading=grading)
        raise ValueError(f"unknown suite {name!r}; valid choices: {', '.join(SUITES)}, or a suite file (PATH.json: "
                         "lrgym.leaderboard.suite_file)")
    return SUITES[name]
