"""``LRControlEnv``: one training run of a real model as a Gymnasium episode."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lrgym._env_copies import EnvCopies
from lrgym._env_instances import InstanceOrder
from lrgym._env_tasks import TASK_CACHE_SIZE, TaskSupply  # noqa: F401 (TASK_CACHE_SIZE re-exported)
from lrgym.brief import brief
from lrgym.actions import DEFAULT_ACTION_MODE, action_mode_hint, factor_lr, log_lr_action, next_lr  # noqa: F401 (re-exported: lrgym.env.next_lr, log_lr_action)
from lrgym.features import (
    FEATURE_NAMES,
    M_CAP,
    N_FEATURES,
    N_MEMORY,
    features,
    observation_space_bounds,
    start_episode,
)
from lrgym.info import ACTION_MODES, N_STEP_VALUES, episode_constants, family_index, make_info, step_info  # noqa: F401 (ACTION_MODES re-exported)
from lrgym.keywords import check_keywords, checked_keywords, keyword_names
from lrgym.optim import OptimizerConfig
from lrgym.render import RENDER_FPS, RENDER_MODES, EpisodeRecorder, check_render_mode
from lrgym.settings import (  # noqa: F401 (ADAPTIVE_OPTIMIZERS, DEFAULT_FACTORS, default_lr_init re-exported)
    ADAPTIVE_OPTIMIZERS,
    DEFAULT_CAP_FACTOR,
    DEFAULT_FACTORS,
    DEFAULT_LR_MAX,
    DEFAULT_LR_MIN,
    DEFAULT_REWARD_ALPHAS,
    EnvSettings,
    check_lr_init,
    default_lr_init,
    with_setting_attributes,
)
from lrgym.spec_kwargs import jsonable_spec
from lrgym.step import (  # noqa: F401 (observe re-exported: lrgym.env.observe is the env's observation and reward)
    F_MEMORY,
    F_STATS,
    F_VALUES,
    I_STEP,
    I_UPDATES,
    bind_episode,
    new_buffers,
    observe,
    train_and_observe,
)
from lrgym.tasks.batched import FALLBACK, BoundKernel, kind_of
from lrgym.tasks.blas import blas_single_thread
from lrgym.tasks.ahead import check_depth
from lrgym.tasks.instance_order import CYCLED, warn_incomplete_pass
from lrgym.tasks.base import (
    N_STATS,
    S_DIVERGED,
    S_TRAIN_LOSS,
    S_UPDATES,
    S_VAL_LOSS,
    S_VAL_METRIC,
    Task,
    TaskFamily,
)

#: the keys of ``reset(options=...)``
RESET_OPTIONS = ("instance", "lr_init")
#: action types whose valid values take the step's fast path of next_lr's discrete rule (the
#: same rule, :func:`lrgym.actions.factor_lr`, on the factors as Python floats): Python's int and
#: the NumPy integers that ``Discrete.sample()`` and agents' ``argmax`` return
_PLAIN_INTS = frozenset((int, np.int64, np.int32, np.intp))


@with_setting_attributes
class LRControlEnv(InstanceOrder, TaskSupply, EnvCopies, gym.Env):
    """Control the learning rate of a real training run.

    An episode is one training run of an instance of a task family (linear regression, noisy
    quadratic, MLP classifier, logistic recommender, or a mixture). Each step the agent sets the
    learning rate; the environment then runs ``inner_steps`` minibatch updates of the chosen
    inner optimizer in a compiled loop, evaluates the model, and returns training statistics.

    ## Action Space

    ``action_mode="discrete"`` (default): ``Discrete(len(factors))``; action ``a`` multiplies
    the LR by ``factors[a]`` (default ``(0.5, 0.8, 1.0, 1.25, 2.0)``, so action 2 keeps it).

    ``action_mode="log_lr"``: ``Box(-1, 1, (1,), float32)``; ``a`` sets
    ``log10(lr) = log10(lr_min) + (a + 1)/2 · (log10(lr_max) − log10(lr_min))``.

    In both modes the LR stays within ``[lr_min, lr_max]`` (default ``[1e-6, 10]``). An action
    outside the space, NaN, or not a number (a bool, a string, a complex) raises ``ValueError``.
    A discrete action is an integer: an ``int``, a NumPy integer, or an integer array of shape
    ``()`` or ``(1,)`` (SB3's ``predict`` of one observation without or with its batch axis); a
    float, even ``2.0``, is refused (:func:`lrgym.actions.discrete_index`).

    ## Observation Space

    ``Box((12,), float32)`` of named features, clipped to ±100 (``grad_cos`` to [−1, 1],
    ``progress`` to [0, 1]; ``env.observation_space`` has the bounds of each; ``env.feature_names``; see
    :mod:`lrgym.features`): log training and validation losses relative to their initial
    values, their last changes, minibatch loss, generalisation gap, per-example loss spread,
    gradient-norm features, consecutive-gradient cosine, log10 of the LR, progress t/T. Always
    finite.

    ## Rewards

    ``reward="log_improvement"`` (default): log(L_{t-1}/L_t) of the training objective, which
    sums to log(L_0/L_T). Also ``sign_delta``, ``final`` and ``metric_delta``
    (see :mod:`lrgym.rewards`).

    ## Starting State

    ``reset`` draws an instance uniformly from ``instance_set`` with the env's ``np_random`` —
    or from the ``instances=`` list of seeds of that set, if given (``env.instances``: what
    resets draw from); with ``instance_order="cycle"`` it takes them in turn instead — or takes
    ``options={"instance": k}`` for seed ``k`` of the set (any seed of it, listed or not; for
    that reset only). It then draws initial parameters from
    ``np_random`` and sets the LR to ``lr_init`` (or ``options={"lr_init": x}``). Bad options
    raise ``ValueError`` and change nothing (:meth:`check_reset_options`).

    ## Episode End

    Truncated after ``horizon`` steps. Terminated when training diverges: a non-finite loss or
    parameter, or a loss above the cap ``cap_factor · max(L₀, loss_scale)`` (``cap_factor``
    default 1e4; L₀ the episode's initial training loss; ``loss_scale`` the instance's typical
    loss, :attr:`~lrgym.tasks.base.Task.loss_scale`: the expected initial loss over the
    initial-parameter distribution, plus for the noisy quadratic the loss minibatch noise holds
    SGD at with η = 1/L). The kernels check the cap on every update's minibatch loss (the exact
    objective for the quadratic) and on the training loss after the step. Measuring against
    max(L₀, loss_scale) rather than L₀ alone keeps an episode that starts by chance near the
    optimum from ending after one healthy noisy step (with L₀ alone, 0.35 % of the seeds of a
    1-D noisy quadratic did), while a real divergence grows geometrically and passes any fixed
    cap (SGD above 2/L on a noise-free quadratic terminates; tested for every family). The
    diverging step gets the reward's documented penalty (``log_improvement``: the episode's
    return becomes log(L₀ / cap), i.e. −log(cap_factor) when L₀ ≥ loss_scale); its
    observation is finite.

    ## Info

    A fixed schema (:mod:`lrgym.info`): ``reset`` and every ``step`` return the same 22 keys
    with the same NumPy scalar types on every family — ``np.float64``, ``np.int64`` and
    ``np.bool_``; NaN where a value does not apply; no strings:

    * float64: ``lr`` (in force during the step; ``lr_init`` at reset), ``train_loss``,
      ``val_loss``, ``val_metric``, ``batch_loss``, ``loss_var``, ``grad_norm``, ``grad_dot``
      (mean g_k·g_{k−1}, for hypergradient methods), ``grad_cos`` (the five step statistics
      are 0 at reset), ``excess_loss`` (train loss − the known optimum; NaN where none is
      known: mlp, recsys), ``lr_min``, ``lr_max``;
    * bool: ``diverged``, ``rejected``;
    * int64: ``updates`` (inner updates so far), ``family`` (index into
      ``lrgym.info.FAMILY_NAMES`` = ``("linreg", "quadratic", "mlp", "recsys")``; a family of
      your own: ``lrgym.info.family_index(name)``, 2**32 + the CRC-32 of its name), ``instance``
      (instance seed), ``step``, ``horizon``, ``inner_steps``, ``optimizer`` (index into
      ``lrgym.optim.OPTIMIZERS`` = ``("sgd", "momentum", "nesterov", "adam", "rmsprop",
      "adagrad")``), ``action_mode`` (index into ``("discrete", "log_lr")``).

    ## Arguments

    All keyword arguments; or one mapping of them as the only positional argument
    (``LRControlEnv({"family": "mixed", "horizon": 20})``), which is how RLlib passes its
    ``EnvContext``. ``family`` name or :class:`~lrgym.tasks.base.TaskFamily` (``"linreg"``, ``"quadratic"``,
    ``"mlp"``, ``"recsys"``, ``"mixed"``); ``family_options`` dict of spec overrides (e.g.
    ``{"dim": 32}``; with a family name, not beside a built family); ``instance_set`` ``"train"`` |
    ``"val"`` | ``"test"`` | ``"private"`` (a grader's seeds 2**40 … 2**62 − 1);
    ``instances`` (default None: the whole set; or a fixed list of instance seeds of the set,
    e.g. ``(3, 7, 11)``, which every reset without ``options={"instance": k}`` — automatic
    resets of the vector env and the SB3 adapter too — draws from, uniformly with
    ``np_random`` as it draws from the whole set: the same seed gives the same instance
    sequence, and ``instances=range(0, 10_000)`` on ``train`` the default's episodes to the bit.
    Seeds, not indices, as ``options={"instance": k}`` takes them (on ``LRControl-v1`` each
    seed keeps the family the mixture gives it, ``family.member_of(k)``); distinct, non-empty;
    :func:`lrgym.settings.check_instances`); ``instance_order`` (``"draw"``, the default: those
    uniform draws; ``"cycle"``: each of ``instances`` in turn, from the first, DACBench's round
    robin — a seed does not move the cycle, a reset given a listed seed moves it to the seed
    after; :attr:`cycle_position`; ``"each_once"``: the cycle in passes, each of ``instances``
    once per pass, a seeded reset (or one after :meth:`start_pass`) starting a pass at the
    list's first seed, an unseeded pass start replaying the draws of the last:
    :mod:`lrgym.tasks.instance_order`);
    ``optimizer`` name,
    dict or :class:`~lrgym.optim.OptimizerConfig`; ``action_mode``; ``factors``; ``horizon`` and
    ``inner_steps`` (family defaults); ``reward``; ``reward_alphas`` (α1, α2 of ``sign_delta``);
    ``lr_init`` (default 1e-3 for adam/rmsprop, else 1e-2); ``lr_min``, ``lr_max``;
    ``cap_factor``; ``rejection_threshold`` (None, or e.g. 0.04: a step whose training loss
    rises by more than this fraction is undone — parameters and optimizer state restored,
    ``info["rejected"] = True`` — as the bold-driver heuristic needs); ``task_cache`` (an
    ``OrderedDict`` shared by several envs of the same family and options, so each instance is
    built once: built tasks are immutable, the training state lives in the env; by default every
    env of the process shares the byte-bounded cache of :mod:`lrgym.tasks.cache`, sized by
    ``LRGYM_TASK_CACHE_MB``); ``build_ahead`` (default 0: off; n ≥ 1: a background thread builds
    the next n instances this env will draw while it steps, so a reset finds its instance built —
    the same episodes to the bit, a second core's time; :mod:`lrgym.tasks.ahead`). The arguments
    are checked once into a frozen :class:`~lrgym.settings.EnvSettings`, ``env.settings``
    (:meth:`from_settings` builds an env from one; the vector env shares one between its
    sub-environments).

    ## Rendering

    ``render_mode="ansi"``: :meth:`render` returns the current step as one line of text (step, LR,
    training and validation loss, metric). ``"rgb_array"``: an image of the LR and of the
    training and validation losses so far (drawn with NumPy; see :mod:`lrgym.render`). Other
    modes raise :class:`~lrgym.render.RenderModeError` (a ``ValueError`` and ``TypeError``).

    ## Version History

    * v1 (2026-12-06, same id): the settings shown as attributes (``horizon``, ``factors``,
      ``lr_max``, ...) are read-only (:class:`lrgym.settings.Setting`): an assigned one was taken
      and half applied (the Python step truncated at the new ``horizon``, the compiled features and
      the info kept the old one). Every episode runs as before.
    * v1 (2026-12-06, same id): a recommender ``data_path`` file of more than 2 GiB
      (:data:`lrgym.tasks.recsys.ratings.MAX_RATINGS_BYTES`) is refused by its size before it is
      read, a line of more than 4,096 characters by its number, and a file whose (n_users +
      n_items) × (rank + 1) parameters pass 2²⁸ when the family is made; they were minutes of
      reading, a MemoryError or a build of gigabytes. Every file within them reads as before.
      A pipe or terminal as ``data_path`` (``/dev/stdin``) is refused as what it is (read once,
      its rows went to the format check and the parse found none), and the file is parsed a
      block at a time: the same rows, with about the result's memory.
    * v1 (2026-12-06, same id): ``family_options`` whose worst case (an override, else the
      largest value the family samples) makes a build no machine can do — linreg's or the MLP's
      data of more than 2²⁸ float64s (2 GiB), an MLP episode's buffers (max(batch, 256) rows of
      its layers) of as many, a recommender of more than 2³¹ users × items,
      2²⁸ positives or parameters — or leaves the recommender no user to hold out for
      validation (n_items < max(3, n_items // 4) + 2·n_negatives; n_items now from 5) are a
      ``ValueError`` naming the options, the size and the bound when the family is made; they
      were a MemoryError, a build of minutes or a split error at the first reset. No instance
      of the default distribution changes.
    * v1 (2026-12-06, same id): a discrete action given as a float (``2.0``, ``np.array([2.0])``)
      or as an array of more than one axis (``[[2]]``) is refused, as ``Discrete.contains``
      refuses it; it used to be taken when whole. Integer actions are unchanged.
    * v1 (2026-12-06, same id): ``instance_order="each_once"`` (passes over the instances, each
      once per pass, the same episodes at every pass: an evaluation set); the other orders as
      before, to the bit.
    * v1 (2026-12-06, same id): the ``instance_order`` keyword (``"cycle"``: resets take the
      instances in turn); the default ``"draw"`` draws as before, to the bit.
    * v1 (2026-12-06, same id): the ``instances`` keyword (a fixed list of instance seeds that
      resets draw from); without it every episode is as before, to the bit.
    * v1 (2026-12-02, same id): fix — a recommender built with a tiny item count through
      ``family_options`` (e.g. ``n_items=4``) could, for about 2 in 10⁶ of its users, hold a
      stale item of an earlier user instead of the user's own top item; those instances now
      hold the right items. No instance of the train, val or test sets changes (it needs all
      but one of a user's groups of items to draw u ≥ 1 − 2⁻⁷; ``benchmarks/bit_identity``: 720
      built instances and 126 env runs identical).
    * v1 (2026-12-02, same id): the recommender's gradient features (``grad_norm``,
      ``grad_dot``, ``grad_cos``) are summed in another relaxed order and differ from before in
      the last bits; parameters, losses and rewards are unchanged for fixed actions.
    * v1: suite-v2 dynamics and a fixed info schema; the ``-v0`` ids are gone (gymnasium names
      ``-v1``). Dynamics: (1) divergence cap ``cap_factor · max(L₀, loss_scale)`` instead of
      ``cap_factor · L₀`` (each task states its ``loss_scale``); the divergence penalty of
      ``log_improvement`` / ``final`` is log(L₀ / cap). (2) LR ranges: the recommender's and
      the MLP's optimizer descend the minibatch's summed loss instead of its mean (best
      constant SGD LRs of train instances: recsys 0.04 – 0.5 instead of 1.3 – 320, mlp
      0.0013 – 0.06 instead of 0.1 – 5.6); the largest eigenvalue / feature scale of
      ``quadratic`` and ``linreg`` instances is drawn from [1, 100] instead of [0.1, 10], so
      every train instance's best constant SGD LR lies inside [1e-6, 10] with at least a
      quarter decade to spare (``tests/test_lr_ranges.py``). (3) Inner optimizers clip the loss
      gradient first (``clip_grad_norm_``'s c / (‖g‖ + 1e-6)) and then add ``wd·p``, as PyTorch
      does; before, the decay was added before clipping. Normalisation acts on the decayed
      gradient.
    * v0: initial release.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}

    @checked_keywords
    def __init__(
        self,
        family: str | TaskFamily | Mapping = "linreg",
        family_options: dict | None = None,
        instance_set: str = "train",
        optimizer: str | dict | OptimizerConfig = "sgd",
        action_mode: str = DEFAULT_ACTION_MODE,
        factors: tuple[float, ...] = DEFAULT_FACTORS,
        horizon: int | None = None,
        inner_steps: int | None = None,
        reward: str = "log_improvement",
        reward_alphas: tuple[float, float] = DEFAULT_REWARD_ALPHAS,
        lr_init: float | None = None,
        lr_min: float = DEFAULT_LR_MIN,
        lr_max: float = DEFAULT_LR_MAX,
        cap_factor: float = DEFAULT_CAP_FACTOR,
        rejection_threshold: float | None = None,
        instances: Sequence[int] | None = None,
        instance_order: str = "draw",
        render_mode: str | None = None,
        task_cache: OrderedDict | None = None,
        build_ahead: int = 0,
    ):
        if isinstance(family, Mapping):  # one config mapping (RLlib's EnvContext): its items are the kwargs
            passed = sorted(k for k, v in locals().items() if k in _INIT_DEFAULTS and v is not _INIT_DEFAULTS[k])
            if passed:
                raise ValueError(f"LRControlEnv got a config mapping and the keyword arguments {passed}; pass one or the other")
            config = dict(family)
            if "num_envs" in config:  # RLlib's vector_entry_point mode calls the class with num_envs
                raise ValueError(f"LRControlEnv(config) got num_envs={brief(config['num_envs'])}: RLlib's "
                                 "gym_env_vectorize_mode='vector_entry_point' asks the class for a vector env, "
                                 "which is lrgym.vector.LRControlVectorEnv; valid: the id "
                                 "config.environment('lrgym:LRControl-v1', env_config=...) with that mode, or the "
                                 "class with gym_env_vectorize_mode='sync'")
            # named as gym.make names them (a bare TypeError before: RLlib's env_config={"horizn": 10})
            check_keywords("LRControlEnv(config)", config, keyword_names(LRControlEnv))
            self.__init__(**config)
            return
        self.render_mode = check_render_mode(render_mode)
        self._apply_settings(EnvSettings.build(
            family=family, family_options=family_options, instance_set=instance_set, optimizer=optimizer,
            action_mode=action_mode, factors=factors, horizon=horizon, inner_steps=inner_steps, reward=reward,
            reward_alphas=reward_alphas, lr_init=lr_init, lr_min=lr_min, lr_max=lr_max, cap_factor=cap_factor,
            rejection_threshold=rejection_threshold, instances=instances, instance_order=instance_order,
        ), task_cache, build_ahead)

    @classmethod
    def from_settings(cls, settings: EnvSettings, *, render_mode: str | None = None,
                      task_cache: OrderedDict | None = None, build_ahead: int = 0,
                      cycle_start: int = 0, pass_size: int | None = None) -> "LRControlEnv":
        """An env with already built :class:`~lrgym.settings.EnvSettings` (shared, not copied:
        the vector env gives every sub-environment the same object). ``cycle_start``: the
        position in ``settings.instances`` (modulo its length) of the first instance a reset
        takes with ``instance_order="cycle"`` (the vector env starts sub-environment i at i), and
        where every pass starts with ``"each_once"`` (the vector env: sub-environment i's block,
        :func:`lrgym.tasks.instance_order.pass_starts`); ``pass_size``: how many seeds from there a
        pass takes (:attr:`pass_block`; the vector env: sub-environment i's block's, None: the
        whole list)."""
        env = cls.__new__(cls)
        env.render_mode = check_render_mode(render_mode)
        env._apply_settings(settings, task_cache, build_ahead, cycle_start, pass_size)
        return env

    def _apply_settings(self, settings: EnvSettings, task_cache: OrderedDict | None, build_ahead: int = 0,
                        cycle_start: int = 0, pass_size: int | None = None) -> None:
        """Set up the env from its settings: spaces, episode arrays, task cache, build-ahead."""
        # its own copy of the class's metadata: gymnasium's SyncVectorEnv writes its
        # "autoreset_mode" into its first env's metadata, which was then every LRControlEnv's
        self.metadata = dict(type(self).metadata)
        self.settings = settings
        # the settings under their public names (self.family, self.horizon, ...) read self.settings
        # and refuse assignment (lrgym.settings.Setting); self.instances is what a reset draws
        # from (the whole set, or the list), self.instance_range what options={"instance": k} may
        # ask for, self.instance_order "draw", "cycle" or "each_once" (lrgym.tasks.instance_order)
        self._cycle_position = int(cycle_start) % len(self.instances) if self.instance_order in CYCLED else 0
        # "each_once": where a pass starts (this env's block of the list), np_random's state when
        # the last pass started (None: none yet), the generator it is the state of, and whether
        # the next reset starts one (start_pass)
        self._pass_start = self._cycle_position if self.instance_order == "each_once" else 0
        self._pass_rng_state = None
        self._pass_rng = None
        self._pass_pending = False
        # "each_once": the seeds a pass takes, those of them no episode of this pass has ended on
        # yet, and how many episodes of this pass have ended (made a pass start: as its first reset)
        n = len(self.instances)
        size = 0 if self.instance_order != "each_once" else n if pass_size is None else int(pass_size)
        self._pass_block = tuple(int(self.instances[(self._pass_start + j) % n]) for j in range(size))
        self._pass_left = set(self._pass_block)
        self._pass_episodes = 0
        #: the factors as Python floats, for the step's fast path of a plain ``int`` action
        self._factor_values = tuple(float(f) for f in self.factors) if settings.action_mode == "discrete" else ()
        # what the compiled step reads, derived once in the settings
        self._reward_code = settings.reward_code
        self._reward_params = settings.reward_params
        self._opt_code = settings.opt_code
        self._hyper = settings.hyper
        self._bound_kernel = None  # lrgym.tasks.batched.BoundKernel, reused across episodes
        #: this episode's arguments of train_and_observe after (lr, t), if the fast step applies
        #: (_bind_kernel); None otherwise
        self._step_args = None
        self._step_template = None  # this episode's info with rejected False (lrgym.info.step_info)
        self._blas_single_thread = False
        self._constant_info = settings.constant_info
        action_mode = settings.action_mode

        if action_mode == "discrete":
            self.action_space = spaces.Discrete(len(self.factors))
        else:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        low, high = observation_space_bounds()
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.feature_names = FEATURE_NAMES

        #: None: the process-wide, byte-bounded cache of built tasks (lrgym.tasks.cache); else
        #: a mapping instance → task given by the caller (shared with its other envs)
        self._tasks: OrderedDict | None = None
        if task_cache is not None:
            self.task_cache = task_cache  # (the setter checks it)
        #: how many next instances a background thread builds ahead (lrgym.tasks.ahead; 0: off)
        self.build_ahead = check_depth(build_ahead)
        self._ahead = self._new_build_ahead()
        self.task: Task | None = None
        self.state = None
        #: what the compiled step reads and writes (lrgym.step): the statistics, the features'
        #: memory and the info's step values are views into ``_step_floats``
        self._step_ints, self._step_floats = new_buffers(
            settings.hyper, settings.reward_params, settings.inner_steps, settings.opt_code, settings.horizon,
            settings.reward_code,
        )
        self._view_buffers()
        self._obs = np.zeros(N_FEATURES, dtype=np.float32)
        self.t = 0
        self.lr = self.lr_init
        self.updates = 0
        self._done = True  # no episode going on (none yet, or the last one ended: end_episode)
        self._recorder = None if self.render_mode is None else EpisodeRecorder(self.horizon, self.lr_min, self.lr_max)

    @property
    def spec(self):
        """The env's ``EnvSpec`` (``gym.make`` sets it: the id's, with the kwargs the env was made
        with), None if made directly. A kwarg JSON has no type for (``instances=range(0, 100)``,
        a NumPy array) is recorded as the JSON value that makes the same env, so that
        ``spec.to_json()`` works (:mod:`lrgym.spec_kwargs`)."""
        return self.__dict__.get("_spec")

    @spec.setter
    def spec(self, spec) -> None:
        self._spec = jsonable_spec(spec)

    # ---- the step state (read by the vector env, which steps many envs in one call) ----------

    @property
    def stats(self) -> np.ndarray:
        """The last step's statistics (float64, indexed by ``lrgym.tasks.base.S_*``); live array."""
        return self._stats

    @property
    def feature_memory(self) -> np.ndarray:
        """What the features and rewards remember between steps (float64, indexed by
        ``lrgym.features.M_*``); live array."""
        return self._memory

    @property
    def family_index(self) -> np.int64:
        """``info["family"]`` of the current episode (:func:`lrgym.info.family_index` of its family)."""
        return self._episode_info[0]

    def load_step(self, stats, memory, obs, lr: float, t: int, updates: int, done: bool) -> None:
        """Bring the env to a step computed elsewhere (the vector env's batched step of this
        sub-environment), so that it can be inspected or stepped on as a single env."""
        self._stats[:] = stats
        self._memory[:] = memory
        self._obs[:] = obs
        self.lr = float(lr)
        self.t = int(t)
        self.updates = int(updates)
        self._done = bool(done)

    def record_step(self, info: dict) -> None:
        """Feed a step computed elsewhere (the vector env's) to the render recorder, if any."""
        if self._recorder is not None:
            self._recorder.record(info)

    def check_reset_options(self, options) -> tuple[int | None, float]:
        """``reset``'s ``options`` checked, before the reset changes anything: (the instance seed
        asked for, or None to draw one; the episode's start LR). Bad options raise ``ValueError``
        naming the value and the valid choices, and leave the env as it was (the vector env
        checks every sub-environment's options this way before it resets any)."""
        if options is None:
            options = {}
        elif not isinstance(options, Mapping):
            raise ValueError(f"options={options!r} invalid; valid: None or a dict with the keys "
                             f"{', '.join(RESET_OPTIONS)}")
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: {', '.join(RESET_OPTIONS)}")
        instance = None
        if "instance" in options:
            k = options["instance"]  # an integer of the set (a bool is not one: True was instance 1)
            # int(k): a range tests a Python int in O(1), a NumPy integer by scanning it (≈ 1 ms)
            if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or int(k) not in self.instance_range:
                r = self.instance_range
                raise ValueError(
                    f"instance {brief(k)} not in the {self.instance_set!r} set; valid: integers {r.start}..{r.stop - 1}"
                )
            instance = int(k)
        return instance, check_lr_init(options.get("lr_init", self.lr_init), self.lr_min, self.lr_max)

    # ---- gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        asked, lr_init = self.check_reset_options(options)  # first: a refused reset changes nothing
        super().reset(seed=seed)
        if self.t:  # the episode before, if its step did not end it, has ended now: cut short by a
            # wrapper (gymnasium's TimeLimit of gym.make(..., max_episode_steps=k) truncates it
            # outside this env) or by the caller, on its instance (counted in its "each_once" pass)
            self.end_episode()
        if self.instance_order == "each_once" and (seed is not None or self._pass_pending):
            if not self._pass_pending:  # (the vector env's pass starts warn in the vector env)
                warn_incomplete_pass(self._unfinished_pass())
            self._begin_pass(seed is not None)
        ahead = self._ahead
        prediction = None
        if ahead is None:
            self.instance = self._choose_instance(asked)
        else:
            state_before, position_before = self.np_random.bit_generator.state, self._cycle_position
            self.instance = self._choose_instance(asked)
            prediction = self._prediction(self.instance, asked is None, state_before, position_before)
        if prediction is None:
            self.task = self.task_for(self.instance)
            self.state = self.task.new_state(self.np_random)
        else:  # made ahead from the same draws: the generator goes where those draws left it
            self.task, self.state = prediction.task, prediction.state
            self.np_random.bit_generator.state = prediction.rng_state
        self._episode_info = episode_constants(family_index(self.task.spec.family), self.instance, self.task.optimal_loss)
        self.lr = lr_init
        self.t = 0
        self.updates = 0
        self._stats[:] = 0.0
        self._bind_kernel()
        if prediction is None:
            self.task.evaluate(self.state, self._stats)
        else:
            self._stats[:] = prediction.stats
        start_episode(self._stats, self.cap_factor, self.task.loss_scale, self._memory)
        features(self._stats, self._memory, 0, self.horizon, self.lr, False, self._obs)
        self._done = False
        info = self._info(rejected=False)
        self._step_template = info.copy()
        if self._recorder is not None:
            self._recorder.start(info)
        if ahead is not None:  # np_random (and the cycle) is where the next reset starts: queue its
            # builds (last, so that the builder's Python does not slow this reset's)
            ahead.refill(self.np_random, self._cycle_position)
        return self._obs.copy(), info

    def step(self, action):
        if self._done:
            raise RuntimeError("step() called before the first reset(); call reset() first" if self.task is None
                               else "step() called on a finished episode; call reset() first")
        # the settings straight from self.settings: the public attributes (self.horizon, ...) are
        # read-only Setting descriptors, a Python call per read, which cost a linreg step 3-6 %
        # when it read three (benchmarks/settings_read_cost.py, RESULTS.md)
        s = self.settings
        factors = self._factor_values
        if type(action) in _PLAIN_INTS and 0 <= action < len(factors):  # next_lr's rule, for an integer
            lr = factor_lr(self.lr, factors[action], s.lr_min, s.lr_max)
        else:
            lr = next_lr(action, self.lr, s.action_mode, s.factors, s.lr_min, s.lr_max)
        self.lr = lr
        args = self._step_args
        if args is not None:  # the common case, in one compiled call (see _bind_kernel)
            t = self.t = self.t + 1
            if self._blas_single_thread:
                with blas_single_thread():
                    reward, terminated, done = train_and_observe(lr, t, self.updates, *args)
            else:
                reward, terminated, done = train_and_observe(lr, t, self.updates, *args)
            self.updates += done
            truncated = (not terminated) and t >= s.horizon
            if terminated or truncated:
                self.end_episode()
            info = step_info(self._step_template, self._step_values, self._step_counts, terminated)
            if self._recorder is not None:
                self._recorder.record(info)
            return self._obs.copy(), reward, terminated, truncated, info
        if s.rejection_threshold is not None:
            before, stats_before = self.state.copy(), self._stats.copy()
        self.task.run(
            self.state, self.lr, s.inner_steps, self._opt_code, self._hyper, self._memory[M_CAP], self._stats
        )
        self.updates += int(self._stats[S_UPDATES])
        self.t += 1
        rejected = False
        if s.rejection_threshold is not None and self._stats[S_DIVERGED] == 0.0:
            if self._stats[S_TRAIN_LOSS] > (1.0 + s.rejection_threshold) * stats_before[S_TRAIN_LOSS]:
                self.state.restore(before)
                self._stats[[S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC]] = stats_before[[S_TRAIN_LOSS, S_VAL_LOSS, S_VAL_METRIC]]
                rejected = True
        reward = observe(
            self._stats, self._memory, self.t, s.horizon, self.lr, self._reward_code, self._reward_params, self._obs
        )
        terminated = bool(self._stats[S_DIVERGED] > 0.0)
        truncated = (not terminated) and self.t >= s.horizon
        if terminated or truncated:
            self.end_episode()
        info = self._info(rejected)
        if self._recorder is not None:
            self._recorder.record(info)
        return self._obs.copy(), float(reward), terminated, truncated, info

    def render(self):
        """The current step as text (``render_mode="ansi"``) or the episode so far as an image
        (``"rgb_array"``); None without a render mode. See :mod:`lrgym.render`."""
        if self._recorder is None:
            return None
        return self._recorder.ansi() if self.render_mode == "ansi" else self._recorder.rgb_array()

    def _bind_kernel(self) -> None:
        """Bind this episode's kernel arguments once (:class:`lrgym.tasks.batched.BoundKernel`) and
        the other arguments of :func:`train_and_observe` after ``(lr, t)`` into ``self._step_args``,
        for a task run by its family kernel (the class's own :meth:`KernelTask.run
        <lrgym.tasks.base.KernelTask.run>`, not patched) in an env without rejection (which
        copies the state around the kernel call); ``self._step_args`` is None otherwise.

        The arguments are the env's own arrays (stats, feature memory, observation, step values),
        filled in place every step: they must keep their identity for the episode (they do:
        :meth:`load_step` and :meth:`reset` write into them)."""
        self._step_args = None
        if self.rejection_threshold is not None or "run" in vars(self.task):
            return
        kind = kind_of(self.task)
        if kind is FALLBACK:
            return
        if self._bound_kernel is None:
            self._bound_kernel = BoundKernel()
        b = self._bound_kernel
        b.bind(kind, kind.item(self.task, self.state), self.lr, self.inner_steps, self._opt_code, self._hyper,
               self._memory[M_CAP], self._stats)
        self._blas_single_thread = kind.single_thread_blas
        bind_episode(self._step_ints, self._step_floats, b, float(self.task.optimal_loss))
        self._step_args = (self._step_ints, self._step_floats, self._obs)

    def _view_buffers(self) -> None:
        """The statistics, the features' memory and the step's info values and counts as views
        into the compiled step's buffers (:mod:`lrgym.step`)."""
        floats, ints = self._step_floats, self._step_ints
        self._stats = floats[F_STATS:F_STATS + N_STATS]
        self._memory = floats[F_MEMORY:F_MEMORY + N_MEMORY]
        self._step_values = floats[F_VALUES:F_VALUES + N_STEP_VALUES]
        self._step_counts = ints[I_UPDATES:I_STEP + 1]

    def close(self):
        """Drop the builds queued ahead (``build_ahead``) and release the BLAS libraries' one-thread
        hold they need (:mod:`lrgym.tasks.ahead`); the env can still be reset after."""
        if self._ahead is not None:
            self._ahead.close()
        super().close()

    def lr_to_action(self, lr: float) -> np.ndarray:
        """The ``log_lr`` action that sets ``lr`` (clipped to the LR range)."""
        return log_lr_action(lr, self.lr_min, self.lr_max)

    def _info(self, rejected: bool) -> dict:
        """The info dict: :data:`lrgym.info.INFO_SCHEMA`'s keys and types, every call."""
        return make_info(self._stats, self.lr, rejected, self.updates, self.t, self._episode_info, self._constant_info)


#: LRControlEnv's keyword arguments other than ``family`` and their defaults (to tell a config
#: mapping from a call that also passes keywords)
_INIT_DEFAULTS = {
    name: p.default for name, p in inspect.signature(LRControlEnv.__init__).parameters.items() if name not in ("self", "family")
}
