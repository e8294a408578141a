"""Stable-Baselines3 agents (DQN, PPO) as policies of the common protocol.

A trained agent is a pair of files in ``baselines/weights/``: ``<name>.zip`` (SB3's
``model.save``: network weights, no replay buffer) and ``<name>.json``, its sidecar (what the agent
needs to act: algorithm, the env options it chose — :data:`SIDECAR_CHOICES` — observation
clipping, and the training config; see :func:`is_sidecar`).
:class:`SB3Policy` loads them lazily on first use, so importing this module (and the baseline
registry) does not import torch.

Both agents see the env's observation clipped to ``[-OBS_CLIP, OBS_CLIP]``
(:class:`lrgym.baselines.wrappers.ClipObservation`), in training and when acting.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lrgym.baselines.wrappers import OBS_CLIP, ClipObservation, HorizonIsTerminal, clip_obs  # noqa: F401 (re-exported)
from lrgym.brief import brief
from lrgym.settings import POLICY_CHOICES

ALGOS = ("dqn", "ppo")
#: what an SB3 policy runs on beyond lrgym's own requirements (pip names; their versions are recorded
#: with its leaderboard entries: an agent's actions depend on torch's arithmetic)
SB3_PACKAGES = ("torch", "stable-baselines3")
ACTION_MODES = {"dqn": "discrete", "ppo": "log_lr"}


#: the env options a train_sb3 sidecar records under ``env_options``: every one that defines the control
#: problem the agent learned and that a policy may choose (the leaderboard's
#: :data:`lrgym.settings.POLICY_CHOICES`, under this module's name). The settings a suite fixes
#: (lr range, cap, horizon, inner steps, reward, ...) are recorded, under ``trained_on``, never taken: no
#: policy can choose them, every entry is graded under the suite's (``submit`` notes those apart and the
#: board marks the entry: :func:`lrgym.leaderboard.trained_apart.settings_apart`).
SIDECAR_CHOICES = POLICY_CHOICES
#: the key train_sb3 writes into its sidecar (value: the format version, :data:`SIDECAR_VERSION`)
SIDECAR_MARK = "lrgym_sb3_sidecar"
#: 2: ``env_options`` holds every :data:`SIDECAR_CHOICES` the agent was trained with (1, unmarked:
#: only ``factors``; the others are read from ``trained_on``)
SIDECAR_VERSION = 2
#: the default inner optimizer of the env (and of a policy that names none)
DEFAULT_OPTIMIZER = "sgd"


def is_sidecar(meta) -> bool:
    """Whether a parsed ``.json`` is train_sb3's sidecar: it carries :data:`SIDECAR_MARK`, or
    (written before the mark, like the shipped ``dqn_mixed.json``) the three keys the trainer
    always wrote: ``algo`` (a string), ``env_options`` and ``trained_on`` (objects). Any other json
    beside a zip (a user's notes) is no sidecar."""
    if not isinstance(meta, dict):
        return False
    if SIDECAR_MARK in meta:
        return True
    return (isinstance(meta.get("algo"), str) and isinstance(meta.get("env_options"), dict)
            and isinstance(meta.get("trained_on"), dict))


def parse_sidecar(raw: bytes) -> dict | None:
    """A ``<stem>.json``'s bytes as train_sb3's sidecar (:func:`is_sidecar`), parsed as JSON
    only; None if it is none: over :data:`MAX_JSON_BYTES` (never parsed: a hostile one of 60 MB
    took 1.6 GB), no UTF-8 JSON, too deeply nested, or another JSON."""
    if len(raw) > MAX_JSON_BYTES:
        return None
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError, MemoryError):  # (UnicodeDecodeError is a ValueError)
        return None
    return meta if is_sidecar(meta) else None


def sidecar_choices(meta: dict) -> dict:
    """The env options a sidecar's agent was trained with (:data:`SIDECAR_CHOICES`): its
    ``env_options``; an unmarked (version 1) sidecar kept only ``factors`` there and the others
    under ``trained_on``, read from there. ``ValueError`` for a sidecar whose parts are not
    objects."""
    if SIDECAR_MARK in meta:
        version = meta[SIDECAR_MARK]
        if type(version) is not int or not 2 <= version <= SIDECAR_VERSION:  # (a bool is no version)
            raise ValueError(f"its format version {SIDECAR_MARK}={brief(version)} is not one this lrgym "
                             f"reads; valid: {', '.join(map(str, range(2, SIDECAR_VERSION + 1)))} (or unmarked, "
                             "version 1): train it with this lrgym's train_sb3, or grade it with the lrgym that wrote it")
    options = meta.get("env_options", {})
    trained_on = meta.get("trained_on", {})
    if not isinstance(options, dict) or not isinstance(trained_on, dict):
        raise ValueError("its env_options and trained_on must be JSON objects")
    if SIDECAR_MARK not in meta:  # version 1: the choices survive in trained_on
        options = {**{k: trained_on[k] for k in SIDECAR_CHOICES if k in trained_on}, **options}
    return dict(options)


def read_sidecar(path: str | Path) -> dict | None:
    """The sidecar of the zip ``path`` if it has one (:func:`parse_sidecar`, as the grader reads it), else None: no
    ``<stem>.json``, or one that is no sidecar (a warning says it is ignored)."""
    import warnings

    json_path = Path(path).with_suffix(".json")
    if not json_path.exists():
        return None
    meta = parse_sidecar(json_path.read_bytes())  # as the grader reads it (submission_files.is_sidecar_file)
    if meta is not None:
        return meta
    warnings.warn(f"{json_path} is not a train_sb3 sidecar (no JSON object of at most 1 MB with the "
                  f"{SIDECAR_MARK!r} mark, nor with algo, env_options and trained_on); ignored: {Path(path).name} is loaded as a zip trained elsewhere (zip_meta: "
                  "algorithm and action mode from the zip, no observation clipping, the env's defaults)",
                  stacklevel=3)
    return None


#: every algorithm Stable-Baselines3 ships, as ``--algo`` names them
SB3_ALGOS = ("a2c", "ddpg", "dqn", "ppo", "sac", "td3")


#: the most a ``data`` JSON of a model zip (:func:`zip_data`) or a sidecar (:func:`parse_sidecar`)
#: may hold, and the most members and central-directory bytes a model zip may have, for the grader
#: to read them: SB3 writes ≈ 15 KB of ``data``, 6 members and a directory of < 1 KB, train_sb3 a
#: sidecar of < 1 KB. A submission is hostile files too: a 1 MB zip whose ``data`` inflates to 1 GB
#: (deflate packs whitespace ≈ 1000:1), or 600,000 empty members, took gigabytes or seconds of the
#: grader's own memory and time (reviews, 2026-12-05). Above them nothing is read here: the
#: sandbox loads the zip under its limits.
MAX_JSON_BYTES = 1 << 20
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_DIRECTORY_BYTES = 1 << 16


#: how far from its end :mod:`zipfile` looks for the end-of-central-directory record (its
#: ``_EndRecData``: the record's 22 bytes and up to 2**16 bytes after it)
_ZIP_END_SEARCH = (1 << 16) + 22


def _zip_directory(fp) -> tuple[int, int]:
    """(members, central-directory bytes) the zip's end-of-central-directory record states, found
    as :mod:`zipfile` finds it (the record at the very end, else the last one in the trailing
    :data:`_ZIP_END_SEARCH` bytes), before ``ZipFile`` parses the directory. ``zipfile`` reads the
    directory by its byte size, whatever the member count says (a count patched to 5 let 700,000
    members through: a review), so both are capped. A ZIP64 archive (its locator right before the
    record; ``zipfile`` would take the ZIP64 record's sizes) is stated as unbounded: SB3's zips
    never are one. ``ValueError`` if no record is found: nothing is left for ``zipfile`` to find
    in a place this search missed (a window one byte short let a record 2**16 bytes before the end,
    and 300,000 members, through: a review, 2026-12-05)."""
    fp.seek(0, 2)
    size = fp.tell()
    tail = min(size, _ZIP_END_SEARCH)
    fp.seek(size - tail)
    end = fp.read(tail)
    at = len(end) - 22 if end[-22:-18] == b"PK\x05\x06" else end.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(end):
        raise ValueError("not a zip file (no end-of-central-directory record in its last 64 KB)")
    record = size - tail + at  # where the record starts in the file
    if record >= 20:
        fp.seek(record - 20)
        if fp.read(4) == b"PK\x06\x07":  # a ZIP64 locator
            return 0xFFFFFFFF, 0xFFFFFFFF
    return int.from_bytes(end[at + 10:at + 12], "little"), int.from_bytes(end[at + 12:at + 16], "little")


def zip_data(source) -> dict:
    """The ``data`` JSON of a Stable-Baselines3 ``model.save`` zip (a path, or a binary file
    object such as ``io.BytesIO`` of its bytes), parsed as JSON only: its ``:serialized:``
    entries (base64 pickles) are never decoded. ``ValueError`` if there is none, or if the zip
    has more than :data:`MAX_ZIP_MEMBERS` members or :data:`MAX_ZIP_DIRECTORY_BYTES` of central
    directory (:func:`_zip_directory`), or its ``data`` more than
    :data:`MAX_JSON_BYTES` bytes (read no further than that, whatever the zip states)."""
    import contextlib
    import zipfile
    import zlib

    try:
        from lzma import LZMAError
    except ImportError:  # pragma: no cover - a Python built without lzma: zipfile refuses such members
        LZMAError = zlib.error

    label = source if isinstance(source, (str, Path)) else getattr(source, "name", "the zip")
    try:
        with (open(source, "rb") if isinstance(source, (str, Path)) else contextlib.nullcontext(source)) as fp:
            directory = _zip_directory(fp)
            if directory[0] > MAX_ZIP_MEMBERS:
                raise ValueError(f"{directory[0]} members, over the {MAX_ZIP_MEMBERS} read here")
            if directory[1] > MAX_ZIP_DIRECTORY_BYTES:
                raise ValueError(f"a central directory of {directory[1]} bytes, over the {MAX_ZIP_DIRECTORY_BYTES} "
                                 "read here")
            fp.seek(0)
            with zipfile.ZipFile(fp) as zf, zf.open("data") as member:
                raw = member.read(MAX_JSON_BYTES + 1)  # a stated size can lie: read at most this
            if len(raw) > MAX_JSON_BYTES:
                raise ValueError(f"its 'data' is over the {MAX_JSON_BYTES} bytes read here")
            data = json.loads(raw)
    except (OSError, KeyError, ValueError, RecursionError, MemoryError, zipfile.BadZipFile,
            # what zipfile raises reading a member: encrypted (RuntimeError), an unknown compression
            # method (NotImplementedError), a damaged stream (zlib.error, lzma.LZMAError, EOFError)
            RuntimeError, EOFError, zlib.error, LZMAError) as exc:
        raise ValueError(f"{label} is not a Stable-Baselines3 model zip (no readable 'data' entry: {exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{label} is not a Stable-Baselines3 model zip (its 'data' is no JSON object)")
    return data


def algo_of_data(data: dict) -> str | None:
    """The algorithm (one of :data:`SB3_ALGOS`) a zip's ``data`` JSON (:func:`zip_data`) names,
    None if it names none SB3 ships (see :func:`algo_of_zip`)."""
    policy_class = data.get("policy_class")
    module = str(policy_class.get("__module__", "")) if isinstance(policy_class, dict) else ""
    parts = module.split(".")
    if len(parts) >= 3 and parts[0] == "stable_baselines3" and parts[2] == "policies":
        if parts[1] in ("dqn", "sac"):
            return parts[1]
        if parts[1] == "td3":
            return "ddpg" if data.get("policy_delay") == 1 and data.get("target_noise_clip") == 0.0 else "td3"
        if parts[1] == "common":
            return "ppo" if "n_epochs" in data or "clip_range" in data else "a2c"
    return None


def discrete_actions_of_data(data: dict) -> int | None:
    """How many actions a zip's model picks from, from the plain ``n`` of its ``Discrete``
    action space in the ``data`` JSON (``'5'``); None for another space or nothing readable."""
    space = data.get("action_space")
    if action_mode_of_data(data) != "discrete" or not isinstance(space, dict):
        return None
    n = space.get("n")
    # (ASCII digits: str.isdigit takes '²', which int() refuses)
    return int(n) if isinstance(n, str) and n.isascii() and n.isdigit() and len(n) < 7 else None


def observation_shape_of_data(data: dict) -> tuple[int, ...] | None:
    """The observation shape a zip's model takes, from the plain ``_shape`` of its ``Box``
    observation space in the ``data`` JSON (``[12]``); None for another space or nothing readable
    (the model, loaded in the sandbox, decides)."""
    space = data.get("observation_space")
    kind = space.get(":type:") if isinstance(space, dict) else None
    if not isinstance(kind, str) or kind.strip().removesuffix("'>").rsplit(".", 1)[-1] != "Box":
        return None
    shape = space.get("_shape")
    if not isinstance(shape, list) or not 0 < len(shape) <= 8:
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in shape):
        return None
    return tuple(shape)


def action_mode_of_data(data: dict) -> str | None:
    """The env action mode a zip's model acts in, from the plain ``:type:`` string of its
    ``action_space`` in the ``data`` JSON (``<class 'gymnasium.spaces.discrete.Discrete'>``):
    ``"discrete"`` for a Discrete space, ``"log_lr"`` for a Box, None for anything else or
    nothing readable (the model, loaded in the sandbox, decides)."""
    space = data.get("action_space")
    kind = space.get(":type:") if isinstance(space, dict) else None
    if not isinstance(kind, str):
        return None
    name = kind.strip().removesuffix("'>").rsplit(".", 1)[-1]
    return {"Discrete": "discrete", "Box": "log_lr"}.get(name)


def algo_of_zip(path: str | Path) -> str:
    """The algorithm of any Stable-Baselines3 ``model.save`` zip (one of :data:`SB3_ALGOS`).

    Read from the zip's ``data`` JSON without unpickling anything: the policy class's module
    names DQN, SAC and TD3 (``stable_baselines3.dqn.policies``); PPO and A2C share
    ``stable_baselines3.common.policies`` and PPO alone saves ``n_epochs`` and ``clip_range``;
    DDPG is TD3 with ``policy_delay`` 1 and no target noise clipping (TD3's defaults are 2 and
    0.5; either class loads and acts the same way). ``ValueError`` for anything else.
    """
    data = zip_data(path)
    found = algo_of_data(data)
    if found is None:
        policy_class = data.get("policy_class")
        module = str(policy_class.get("__module__", "")) if isinstance(policy_class, dict) else ""
        raise ValueError(f"cannot tell the algorithm of {path} (policy module {module!r}); valid: a zip saved by "
                         f"Stable-Baselines3's {', '.join(a.upper() for a in SB3_ALGOS)}, or pass --algo")
    return found


def same_algo(a: str, b: str) -> bool:
    """Whether two algorithm names load the same model (DDPG is a TD3: either class loads it)."""
    return a.lower() == b.lower() or {a.lower(), b.lower()} == {"ddpg", "td3"}


def zip_meta(path: str | Path, algo: str | None = None) -> dict:
    """What :class:`SB3Policy` needs for a zip without a sidecar (trained elsewhere): its
    algorithm, no observation clipping; the action mode follows the model's action space.
    An ``algo`` that contradicts the zip's own (:func:`algo_of_zip`) is a ``ValueError``."""
    try:
        found = algo_of_zip(path)
    except ValueError:
        if algo is None:
            raise
        found = None  # not one SB3 ships: the caller's algo is all there is
    if algo is not None and found is not None and not same_algo(algo, found):
        raise ValueError(f"--algo {algo!r} but {Path(path).name} was saved by {found.upper()}; "
                         f"pass --algo {found} or leave --algo out")
    return {"algo": (algo or found).lower(), "clip_obs": False, "env_options": {}}


def _load_keeping_random_streams(cls, path):
    """``cls.load(path)`` on the CPU, with Python's, NumPy's and torch's global random streams
    where they were: SB3's ``load`` seeds all three with the seed saved in the model
    (``set_random_seed`` in ``_setup_model``), which made every run that built a ``dqn`` or
    ``ppo`` policy (a :class:`lrgym.torch.PolicyScheduler`'s, at its first decision and again
    after a checkpoint's reload) draw the same dropout masks and batch orders whatever its seed.
    The policy acts deterministically, so nothing of it depends on those streams."""
    import random

    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    python, numpy = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            return cls.load(path, device="cpu")
    finally:
        random.setstate(python)
        np.random.set_state(numpy)


class SB3Policy:
    """A trained SB3 agent: ``act`` is the deterministic ``model.predict`` of the clipped obs.

    ``path`` is the ``.zip``; ``meta`` defaults to its ``.json`` sidecar (written by
    :mod:`lrgym.baselines.train_sb3`, :func:`is_sidecar`), and the policy acts in the env it was
    trained in: ``optimizer``, ``lr_init``, ``action_mode`` and ``env_options`` (``factors``,
    ``rejection_threshold``) are the sidecar's (:func:`sidecar_choices`). A zip without a sidecar
    (trained elsewhere; a ``<stem>.json`` that is no sidecar is ignored with a warning) loads as the
    leaderboard grades it, ``meta=zip_meta(path)``: any SB3 algorithm, no observation clipping,
    action mode from the model's action space, the env's defaults (SGD). ``algo`` (optional: a
    baseline's name, ``make_baseline("dqn", path=...)``) must match the zip's algorithm, else
    ``ValueError`` naming both. ``threads`` sets ``torch.set_num_threads`` when the model loads
    (1: best for these tiny networks).
    """

    optimizer = DEFAULT_OPTIMIZER
    lr_init = None

    def __init__(self, path: str | Path, name: str | None = None, threads: int | None = 1,
                 meta: dict | None = None, algo: str | None = None):
        self.path = Path(path)
        self.threads = threads
        self._model = None
        if meta is None:
            meta = read_sidecar(self.path)
        if meta is None:  # no sidecar: as the leaderboard loads it
            try:
                meta = zip_meta(self.path)
            except ValueError:
                if algo is None:
                    raise
                meta = zip_meta(self.path, algo)  # an algorithm SB3 does not ship: the caller's
        self.meta = dict(meta)
        self.sidecar = is_sidecar(self.meta)
        self.algo = str(self.meta["algo"]).lower()
        self.clip = bool(self.meta.get("clip_obs", True))
        if algo is not None and not same_algo(algo, self.algo):
            raise ValueError(f"{self.path.name} holds a {self.algo.upper()} agent (its "
                             f"{'sidecar' if self.sidecar else 'zip'} says so), not {algo.upper()}; valid: "
                             f"load it as {self.algo!r}")
        options: dict = {}
        if self.sidecar:
            if self.algo not in ACTION_MODES:
                raise ValueError(f"unknown algo {self.algo!r} in {self.path.with_suffix('.json')}; valid choices: "
                                 f"{', '.join(ALGOS)}")
            try:
                options = sidecar_choices(self.meta)
            except ValueError as exc:
                raise ValueError(f"sidecar {self.path.with_suffix('.json')}: {exc}") from None
            self.action_mode = options.pop("action_mode", ACTION_MODES[self.algo])
            if self.action_mode != ACTION_MODES[self.algo]:
                raise ValueError(f"sidecar {self.path.with_suffix('.json')} says action_mode={self.action_mode!r} "
                                 f"but {self.algo.upper()} acts in {ACTION_MODES[self.algo]!r}")
        else:  # a foreign zip: the action space decides
            from gymnasium import spaces

            options = dict(self.meta.get("env_options", {}))
            discrete = isinstance(self.model.action_space, spaces.Discrete)
            self.action_mode = "discrete" if discrete else "log_lr"
        self.optimizer = options.pop("optimizer", DEFAULT_OPTIMIZER)
        self.lr_init = options.pop("lr_init", None)
        self.name = name or self.algo
        self.env_options = options
        if "factors" in self.env_options:
            self.env_options["factors"] = tuple(self.env_options["factors"])
        #: the settings it was trained under (the sidecar's ``trained_on``; empty for a foreign zip)
        self.trained_on = dict(self.meta.get("trained_on", {}))

    @property
    def model(self):
        if self._model is None:
            from lrgym.extras import import_extra

            import_extra("stable_baselines3", "rl", f"the SB3 policy {self.path.name!r}", torch_first=True)
            import torch
            from stable_baselines3 import DQN, PPO

            if self.threads is not None:
                torch.set_num_threads(self.threads)
            import stable_baselines3

            cls = {"dqn": DQN, "ppo": PPO}.get(self.algo) or getattr(stable_baselines3, self.algo.upper(), None)
            if cls is None:
                raise ValueError(f"unknown SB3 algorithm {self.algo!r} of {self.path}")
            self._model = _load_keeping_random_streams(cls, self.path)
        return self._model

    def reset(self, info: dict) -> None:
        self.model  # load before the first step

    def act(self, obs: np.ndarray, info: dict):
        action, _ = self.model.predict(clip_obs(obs) if self.clip else obs, deterministic=True)
        if self.action_mode == "discrete":
            return int(action)
        return np.asarray(action, dtype=np.float32).reshape(1)

    def __getstate__(self):  # picklable for process pools: the model reloads in the child
        state = dict(self.__dict__)
        state["_model"] = None
        return state
