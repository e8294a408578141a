"""Episode settings of a graded run: the suite decides, the policy may choose a few things.

(What a board notes of a policy trained at other settings than it is graded at:
:mod:`lrgym.leaderboard.trained_apart`.)

A graded episode is built from the suite's env keywords (:meth:`Suite.env_kwargs`: family,
instance set, horizon, inner steps, ...) plus the few *policy choices* below, which describe how
the policy acts, not how hard the problem is. Anything else a policy asks for (``inner_steps``,
``horizon``, ``cap_factor``, ``lr_max``, ``reward``, ``family_options``, ...) is refused with an
error that names the key and the allowed ones: a policy cannot change the episode. A key that is
no env keyword at all (``lr_int``, meant ``lr_init``) is named as unknown, with the closest choice.

==========================  ==================================================================
choice                      allowed values
==========================  ==================================================================
``optimizer``               a name from :data:`ALLOWED_OPTIMIZERS` (the suite may narrow it
                            with an ``optimizers`` attribute); default ``"sgd"``
``action_mode``             ``"discrete"`` or ``"log_lr"``; default ``"discrete"`` (the env's)
``lr_init``                 the LR the episode starts from, within the suite's LR range
``factors``                 the discrete action's LR multipliers: 1 to 16 numbers in
                            [1e-3, 1e3]
``rejection_threshold``     ``None`` or a number in [0, 10]: undo a step whose loss rises by
                            more than this fraction (the bold driver's mechanism)
==========================  ==================================================================

The policy sees copies of the observation and of :func:`public_info`: the keys of the env's info
schema (:data:`lrgym.info.INFO_KEYS`) listed in :data:`PUBLIC_INFO_KEYS`, every one but the
instance id (a policy must not look up per-instance answers). An allowlist: a key the schema
does not list (a wrapper's, a future one) reaches no policy until it is added here.
"""

from __future__ import annotations

from lrgym.brief import brief
from lrgym.info import ACTION_MODES, INFO_KEYS
from lrgym.optim import OPTIMIZERS
from lrgym.settings import DEFAULT_LR_MAX, DEFAULT_LR_MIN, POLICY_CHOICES, range_or_type
from lrgym.tasks.base import is_real

__all__ = ["ALLOWED_OPTIMIZERS", "HIDDEN_INFO_KEYS", "POLICY_CHOICES", "PUBLIC_INFO_KEYS", "SettingsError",
           "allowed_optimizers", "check_choices", "episode_kwargs", "episode_kwargs_from", "public_info"]

ALLOWED_OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZERS)
#: info keys a graded policy never sees (the instance id would let it look answers up)
HIDDEN_INFO_KEYS = frozenset({"instance"})
#: the info keys a graded policy sees (:func:`public_info`): the schema's, but the hidden ones
PUBLIC_INFO_KEYS = frozenset(INFO_KEYS) - HIDDEN_INFO_KEYS
MAX_FACTORS = 16


class SettingsError(ValueError):
    """A policy asked for an episode setting it may not choose, or a value out of range."""


def public_info(info: dict) -> dict:
    """The part of an env info dict a graded policy may see, a fresh dict in the info's order:
    the keys of :data:`PUBLIC_INFO_KEYS` only (an allowlist: any other key is left out)."""
    return {k: v for k, v in info.items() if k in PUBLIC_INFO_KEYS}


def _number(name: str, value, low: float, high: float) -> float:
    """``value`` as a float if it is an int or float in ``[low, high]`` (an int beyond the largest
    float, ``10**400``, is out of range like any other, not an ``OverflowError``)."""
    if not (is_real(value) and low <= value <= high):  # '0.1' is no LR
        # (reprlib: a hostile value of 900 KB is not repeated whole in the error)
        raise SettingsError(f"{name}={brief(value)} {range_or_type(value)}; valid: a number in "
                            f"[{low:g}, {high:g}]")
    return float(value)


def _refuse_unknown(choices: dict) -> None:
    """Refuse a key that is no env keyword at all (a misspelt choice: ``lr_int``), naming the
    closest choice and every one (:func:`lrgym.keywords.check_keywords`); a real env keyword the
    suite fixes (``horizon``) is left to the "fixed by the suite" message."""
    if all(k in POLICY_CHOICES for k in choices):
        return
    from lrgym.env import LRControlEnv
    from lrgym.keywords import UnknownKeywordError, check_keywords, keyword_names

    env_keywords = set(keyword_names(LRControlEnv))
    try:
        check_keywords("the policy's env_options", [k for k in choices if k not in env_keywords],
                       POLICY_CHOICES)
    except UnknownKeywordError as exc:
        raise SettingsError(str(exc)) from None


def check_choices(choices: dict, allowed_optimizers: tuple[str, ...] = ALLOWED_OPTIMIZERS,
                  lr_range: tuple[float, float] = (DEFAULT_LR_MIN, DEFAULT_LR_MAX)) -> dict:
    """``choices`` validated and normalised (plain JSON values); raises :class:`SettingsError`.

    ``lr_init`` must lie in ``lr_range``, the suite's ``[lr_min, lr_max]`` (the env's default range
    unless the suite sets its own), as the env requires: so the command line refuses an SB3 zip's
    ``--env-options '{"lr_init": 100}'`` before anything runs, instead of a failed entry.
    """
    if not isinstance(choices, dict):
        raise SettingsError(f"the policy's env options {str(choices)[:200]} are a {type(choices).__name__}; valid: "
                            f"a dict (a JSON object) of {', '.join(POLICY_CHOICES)}")
    _refuse_unknown(choices)
    fixed = sorted(str(k) for k in choices if k not in POLICY_CHOICES)
    if fixed:
        raise SettingsError(
            f"env option(s) {', '.join(fixed)} are fixed by the suite; a policy may choose only "
            f"{', '.join(POLICY_CHOICES)}")
    out: dict = {}
    optimizer = choices.get("optimizer", "sgd")
    if not isinstance(optimizer, str) or optimizer not in allowed_optimizers:
        raise SettingsError(f"optimizer={brief(optimizer)} not allowed; valid choices: "
                            f"{', '.join(allowed_optimizers)}")
    out["optimizer"] = optimizer
    mode = choices.get("action_mode", "discrete")
    if mode not in ACTION_MODES:
        raise SettingsError(f"action_mode={brief(mode)} invalid; valid choices: {', '.join(ACTION_MODES)}")
    out["action_mode"] = mode
    if choices.get("lr_init") is not None:
        out["lr_init"] = _number("lr_init", choices["lr_init"], *lr_range)
    if "factors" in choices:
        factors = choices["factors"]
        if not isinstance(factors, (list, tuple)) or not 1 <= len(factors) <= MAX_FACTORS:
            # (reprlib: a hostile policy's million factors are not repeated whole in its failure reason)
            raise SettingsError(f"factors={brief(factors)} invalid; valid: 1 to {MAX_FACTORS} numbers in "
                                "[1e-3, 1e3]")
        out["factors"] = tuple(_number(f"factors[{i}]", f, 1e-3, 1e3) for i, f in enumerate(factors))
    if choices.get("rejection_threshold") is not None:
        out["rejection_threshold"] = _number("rejection_threshold", choices["rejection_threshold"], 0.0, 10.0)
    return out


def allowed_optimizers(suite) -> tuple[str, ...]:
    """The inner optimizers a policy may pick on ``suite`` (its ``optimizers`` attribute, if any)."""
    return tuple(getattr(suite, "optimizers", None) or ALLOWED_OPTIMIZERS)


def episode_kwargs_from(suite_kwargs: dict, choices: dict, optimizers=None) -> dict:
    """:class:`lrgym.env.LRControlEnv` keywords of a graded episode: the suite's keywords, then
    the policy's validated choices (a suite that fixes one of the choices itself wins)."""
    lr_range = (suite_kwargs.get("lr_min", DEFAULT_LR_MIN), suite_kwargs.get("lr_max", DEFAULT_LR_MAX))
    chosen = check_choices(choices, tuple(optimizers or ALLOWED_OPTIMIZERS), lr_range)
    return {**suite_kwargs, **{k: v for k, v in chosen.items() if k not in suite_kwargs}}


def episode_kwargs(suite, family: str, choices: dict) -> dict:
    """:func:`episode_kwargs_from` for ``family`` of ``suite``."""
    return episode_kwargs_from(suite.env_kwargs(family), choices, allowed_optimizers(suite))
