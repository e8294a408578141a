"""A suite of your own, from a JSON file: ``lrgym leaderboard run-baselines --suite my_suite.json``.

The shipped suites (``v2``, ``v1``, ``val``, ``quick``) are defined in :mod:`lrgym.leaderboard.suite`;
a researcher with a family of their own (:func:`lrgym.tasks.register_family`, named to lrgym's
processes by ``$LRGYM_FAMILIES``) or another choice of instances writes one as a file that every
``--suite`` of the leaderboard CLI takes (a path ending in ``.json``)::

    {
      "name": "logreg",
      "revision": 1,
      "description": "my logistic regressions, 2 val instances x 2 seeds",
      "instance_set": "val",
      "seeds": [0, 1],
      "env_options": {"cap_factor": 1e4},
      "families": [
        {"family": "logreg", "instances": [10000, 10001], "horizon": 30, "inner_steps": 5}
      ]
    }

``name``, ``revision``, ``instance_set``, ``seeds`` and ``families`` are required; ``description``,
the suite's ``env_options`` (every family's) and a family's ``horizon``, ``inner_steps`` and
``env_options`` are not (a family's defaults). ``"tuned": "runs/tuned.json"`` (a path relative to
the suite file's folder) grades the tuned baselines with the values of a tuned.json of your own
(``python -m lrgym.baselines.tune --families logreg``'s), not the shipped ones, which know no family
of yours; it is no part of the definition (references and submissions do not depend on it), and
each baseline entry records the file's SHA-256, so after a retune the board marks the rows stale
until ``run-baselines`` runs them again. Results and cached references are keyed by
``name/r<revision>``, as the shipped suites' are: change anything and bump ``revision`` (a board
built from results of another definition under the same version skips those entries:
:func:`lrgym.leaderboard.ranking.other_definition`; and the references are recomputed when the
definition's fingerprint changed; both say so).

Checked when read, each error naming the value and the valid choices: the description (one line of
printable text, at most 500 characters), the name (letters, digits,
``. _ -``; at most 64 characters; no shipped suite's name and no private suite's ``private-``
prefix, whose results it would mix with), the instance set (``train``, ``val`` or ``test``: the
``private`` set is the grader's secret), the instances (in that set, no duplicates), the seeds
(distinct integers from 0 to 2**63 - 1, what the store keeps), registered families, and env
options that are :class:`lrgym.env.LRControlEnv` keywords the suite may fix: not the family,
instance set or instances (the file's own fields), nor a policy's choices
(:data:`lrgym.leaderboard.settings.POLICY_CHOICES`); each family's env is then built from the
suite's keywords, so a value the env refuses (``cap_factor`` NaN) is refused when read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lrgym.brief import brief
from lrgym.leaderboard.suite import PRIVATE_PREFIX, SUITES, FamilySuite, Suite

__all__ = ["SUITE_FILE_SUFFIX", "is_suite_file", "load_suite_file", "suite_from_dict"]

#: what makes a ``--suite`` value a suite file rather than a shipped suite's name
SUITE_FILE_SUFFIX = ".json"
#: the largest suite file read (a suite of 10,000 tasks is ≈ 100 KB)
MAX_BYTES = 1 << 20
#: a suite file's name: it names output files (``LEADERBOARD-<name>.md``) and store versions
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: the instance sets a suite file may use (``private``: the grader's secret set, by key only)
INSTANCE_SETS = ("train", "val", "test")
_FIELDS = ("name", "revision", "description", "instance_set", "seeds", "env_options", "families", "tuned")
_REQUIRED = ("name", "revision", "instance_set", "seeds", "families")
_FAMILY_FIELDS = ("family", "instances", "horizon", "inner_steps", "env_options")


class SuiteFileError(ValueError):
    """A suite file that is not one: the message names the file, the field and what is valid."""


def is_suite_file(value) -> bool:
    """Whether a ``--suite`` value names a suite file (it ends in ``.json``) rather than a suite."""
    return isinstance(value, (str, Path)) and str(value).endswith(SUITE_FILE_SUFFIX)


def load_suite_file(path: str | Path, grading: bool = True) -> Suite:
    """The :class:`~lrgym.leaderboard.suite.Suite` of the JSON file ``path`` (the module
    docstring's format); :class:`SuiteFileError` naming the file and the problem otherwise.

    ``grading=False`` (``show``, ``report``, ``export``: results are read, none is made): its
    ``"tuned"`` file is not read, only its path resolved; the board needs no more than the SHA-256
    each baseline entry recorded of it, and says when the file is gone
    (:func:`lrgym.leaderboard.provenance.stale_note`). Grading (the default) reads and checks it."""
    from lrgym.files import read_regular_file

    valid = "a suite file (JSON; see lrgym.leaderboard.suite_file)"
    try:
        text = read_regular_file(path, "--suite", valid, binary=True)
    except ValueError as exc:
        raise SuiteFileError(str(exc)) from None
    if len(text) > MAX_BYTES:
        raise SuiteFileError(f"--suite {path}: {len(text):,} bytes, more than a suite file's {MAX_BYTES:,}; valid: {valid}")
    try:
        data = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise SuiteFileError(f"--suite {path}: not JSON ({exc}); valid: {valid}") from None
    try:
        return suite_from_dict(data, Path(path).parent, grading)
    except SuiteFileError as exc:
        raise SuiteFileError(f"--suite {path}: {exc}") from None


def suite_from_dict(data, folder: str | Path | None = None, grading: bool = True) -> Suite:
    """A :class:`Suite` from a suite file's parsed JSON (:func:`load_suite_file`); a relative
    ``tuned`` path is relative to ``folder`` (the suite file's; None: the working directory),
    and the file is read and checked only if ``grading``."""
    from lrgym.keywords import UnknownKeywordError, check_keywords

    if not isinstance(data, dict):
        raise SuiteFileError(f"a JSON {type(data).__name__}; valid: an object with {', '.join(_REQUIRED)}")
    try:
        check_keywords("the suite file", data, _FIELDS)
    except UnknownKeywordError as exc:
        raise SuiteFileError(str(exc)) from None
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise SuiteFileError(f"no {', '.join(missing)}; valid: an object with {', '.join(_REQUIRED)} "
                             f"(and optionally description, env_options, tuned)")
    name = _name(data["name"])
    revision = _count("revision", data["revision"])
    description = _description(data.get("description", f"suite file {name}"))
    instance_set = data["instance_set"]
    if instance_set not in INSTANCE_SETS:
        raise SuiteFileError(f"instance_set {brief(instance_set)} unknown; valid: {', '.join(INSTANCE_SETS)} "
                             "(the private set is the grader's secret: lrgym leaderboard --private KEYFILE)")
    seeds = _integers("seeds", data["seeds"])
    families = data["families"]
    if not isinstance(families, list) or not families:
        raise SuiteFileError(f"families {brief(families)}; valid: a non-empty list of objects with family and instances")
    parts = tuple(_family_suite(k, item, instance_set) for k, item in enumerate(families))
    names = [fs.family for fs in parts]
    if len(set(names)) != len(names):
        raise SuiteFileError(f"families {names} name a family twice; valid: each family once (its instances in one list)")
    common = _env_options("env_options", data.get("env_options", {}))
    try:
        suite = Suite(name, revision, description, instance_set, parts, tuple(seeds), common,
                      _tuned(data["tuned"], folder, grading) if "tuned" in data else None)
    except ValueError as exc:
        raise SuiteFileError(str(exc)) from None
    for k, fs in enumerate(parts):
        _check_env(suite, fs.family, k)
    return suite


def _tuned(value, folder, grading: bool = True) -> str:
    """The absolute path of the suite's tuned.json of your own, read and checked now if
    ``grading`` (:func:`lrgym.baselines.registry.read_tuned_file`): a missing or malformed file is
    refused when the suite file is read, not after the references ran. To read results, the path
    alone: a tuned file deleted after grading made ``show`` and ``report`` of the suite fail."""
    from lrgym.baselines.registry import read_tuned_file

    if not isinstance(value, str) or not value:
        raise SuiteFileError(f"tuned {brief(value)}; valid: the path of a tuned.json (python -m lrgym.baselines.tune "
                             "--out's), relative to the suite file's folder")
    path = Path(value) if Path(value).is_absolute() else Path(folder or ".") / value
    if not grading:
        return str(path.absolute())
    try:
        read_tuned_file(path)
    except ValueError as exc:
        raise SuiteFileError(f"tuned: {exc}") from None
    return str(path.absolute())


def _check_env(suite: Suite, family: str, k: int) -> None:
    """The env of ``family`` is built from the suite's keywords, as the grader's workers build it
    (cheap: no task is made): a value the env refuses (``cap_factor`` NaN, ``lr_min`` above
    ``lr_max``, an unknown family option) is refused here, naming the family, not by a traceback
    of the first worker after the grader started."""
    from lrgym.env import LRControlEnv

    try:
        LRControlEnv(**suite.env_kwargs(family)).close()
    except (ValueError, TypeError) as exc:
        raise SuiteFileError(f"families[{k}] ({family}) with the suite's env_options: {exc}") from None


def _family_suite(k: int, item, instance_set: str) -> FamilySuite:
    from lrgym.keywords import UnknownKeywordError, check_keywords
    from lrgym.tasks import FAMILIES, FamilyImportError, family_class

    where = f"families[{k}]"
    if not isinstance(item, dict) or "family" not in item or "instances" not in item:
        raise SuiteFileError(f"{where} {brief(item)}; valid: an object with family and instances")
    try:
        check_keywords(f"the suite file's {where}", item, _FAMILY_FIELDS)
    except UnknownKeywordError as exc:
        raise SuiteFileError(str(exc)) from None
    family = item["family"]
    if family == "mixed" or not isinstance(family, str):
        raise SuiteFileError(f"{where}.family {brief(family)}; valid: a registered family other than the "
                             f"mixture: {', '.join(f for f in FAMILIES if f != 'mixed')} (one of your own: "
                             "register_family, named to lrgym's processes by $LRGYM_FAMILIES)")
    try:
        family_class(family)
    except FamilyImportError as exc:  # registered, but its module is not importable here: the error says why
        raise SuiteFileError(f"{where}.family: {exc}") from None
    except ValueError as exc:
        raise SuiteFileError(f"{where}.family: {exc} (one of your own: register_family in this process, or "
                             "$LRGYM_FAMILIES=name=module:Class)") from None
    instances = _integers(f"{where}.instances", item["instances"])
    horizon = _count(f"{where}.horizon", item["horizon"]) if item.get("horizon") is not None else None
    inner = _count(f"{where}.inner_steps", item["inner_steps"]) if item.get("inner_steps") is not None else None
    return FamilySuite(family, tuple(instances), horizon, inner, _env_options(f"{where}.env_options",
                                                                              item.get("env_options", {})))


def _env_options(where: str, options) -> tuple[tuple[str, object], ...]:
    """The env keywords a suite fixes, as frozen pairs; the file's own fields and a policy's
    choices are refused by name."""
    from lrgym.env import LRControlEnv
    from lrgym.keywords import UnknownKeywordError, check_keywords, keyword_names
    from lrgym.leaderboard.settings import POLICY_CHOICES

    if not isinstance(options, dict):
        raise SuiteFileError(f"{where} {brief(options)}; valid: an object of LRControlEnv keywords")
    owned = {"family": "the family's own field", "instance_set": "the suite's instance_set",
             "instances": "the family's instances field (the grader resets each run to its instance)",
             "instance_order": "the family's instances field (the grader resets each run to its instance)",
             "horizon": "the family's horizon field", "inner_steps": "the family's inner_steps field",
             **{k: "a policy's choice (lrgym.leaderboard.settings)" for k in POLICY_CHOICES}}
    for key in options:
        if key in owned:
            raise SuiteFileError(f"{where} sets {key!r}, which is {owned[key]}; valid: another LRControlEnv keyword")
    valid = [k for k in keyword_names(LRControlEnv) if k not in owned]
    try:
        check_keywords(f"the suite file's {where}", options, valid)
    except UnknownKeywordError as exc:
        raise SuiteFileError(str(exc)) from None
    return tuple(sorted(options.items()))


def _name(value) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise SuiteFileError(f"name {brief(value)}; valid: letters, digits and . _ - (starting with a letter or "
                             "digit), at most 64 characters")
    low = value.lower()  # (V2-r3.json is v2-r3.json's file on a file system that ignores case)
    if low in {*SUITES, "all"} or low.startswith(PRIVATE_PREFIX):
        raise SuiteFileError(f"name {value!r} is a shipped suite's (or 'all', or a private suite's {PRIVATE_PREFIX} prefix) "
                             f"in some case, whose results and references it would mix with; valid: another name "
                             f"than {', '.join(SUITES)}, all, in any case")
    return value


#: the longest description (a line of the board's files and of ``suites``)
MAX_DESCRIPTION = 500


def _description(value) -> str:
    """A description the board's files can hold as one line: UTF-8 text (JSON's ``"\\ud800"`` is a
    lone surrogate, which no file can be written with: ``run-baselines`` ran every baseline, stored
    them and then stopped in a ``UnicodeEncodeError`` traceback writing the ranking, and ``report``
    could never write it), without control or format characters (terminal escapes, newlines, a
    right-to-left override)."""
    from lrgym.leaderboard.text import clean

    if not isinstance(value, str):
        raise SuiteFileError(f"description {brief(value)} is no string; valid: a text")
    bad = next((i for i, c in enumerate(value) if clean(c, keep_newlines=False) != c), None)
    if bad is not None or len(value) > MAX_DESCRIPTION:
        where = (f"has the character {ascii(value[bad])} at position {bad}" if bad is not None
                 else f"has {len(value):,} characters")
        raise SuiteFileError(f"description {where}; valid: one line of printable text, at most "
                             f"{MAX_DESCRIPTION} characters")
    return value


def _count(where: str, value) -> int:
    if type(value) is not int or value < 1:
        raise SuiteFileError(f"{where} {brief(value)}; valid: an integer >= 1")
    return value


def _integers(where: str, values) -> list[int]:
    from lrgym.settings import MAX_INT64

    # (at most MAX_INT64: the store keeps a run's seed and instance as SQLite's 64-bit INTEGER, and a
    # larger one lost every entry's results to an OverflowError after its runs)
    if not isinstance(values, list) or not values or any(type(v) is not int or not 0 <= v <= MAX_INT64
                                                         for v in values):
        raise SuiteFileError(f"{where} {brief(values)}; valid: a non-empty list of integers from 0 to {MAX_INT64:,}")
    if len(set(values)) != len(values):
        raise SuiteFileError(f"{where} {brief(values)} repeats a value; valid: distinct integers")
    return values
