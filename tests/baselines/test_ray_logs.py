"""What of Ray's and RLlib's own logging train_rllib shows (lrgym.baselines.ray_logs).

RLlib's notices on every run (the new API stack, its own deprecated RLModuleConfig, Tune's gputil
advice) are produced here by RLlib's own code paths, without a cluster, in a fresh process (RLlib
says the first once per process): a stand-in for ``connect`` builds what a run builds and is
then refused, as an unreachable cluster is."""

import importlib.util
import os
import subprocess
import sys

import pytest

pytest.importorskip("ray.rllib")

from lrgym.baselines import train_rllib  # noqa: E402

_RUN = """
import logging, sys
import gymnasium as gym
import numpy as np
from lrgym.baselines import backend, train_rllib as t

algo, flags = sys.argv[1], sys.argv[2:]

def connect(address=None, **kwargs):  # what a run builds once Ray is there, then no cluster
    from ray.tune.utils.util import UtilMonitor
    config = t.algo_config(t.RLlibConfig(algo=algo))
    config.validate()  # RLlib: "You are running PPO on the new API stack! ..."
    spec = config.get_default_rl_module_spec()  # the module as the learner builds it: "RLModule(config=...)"
    spec.observation_space = gym.spaces.Box(-10.0, 10.0, (4,), np.float32)
    spec.action_space, spec.model_config = gym.spaces.Discrete(5), config.model_config
    spec.build()
    UtilMonitor(start=True).stop()  # Tune: "Install gputil for GPU system monitoring."
    logging.getLogger("ray.rllib.algorithms.algorithm_config").warning("a warning of RLlib's that is no notice")
    logging.getLogger("ray._common.deprecation").warning("DeprecationWarning: `other` has been deprecated.")
    raise ConnectionError("no cluster here")

backend.connect = connect
try:
    t.main(["--algo", algo, "--env-runners", "0", *flags])
except SystemExit as exc:
    print("exit", exc.code, file=sys.stderr)
logging.getLogger("ray.tune.utils.util").warning("Install gputil for GPU system monitoring.")  # after the run
"""

NOTICES = ("on the new API stack! This is the new default", "DeprecationWarning: `RLModule(config=[RLModuleConfig object])`",
           "Install gputil for GPU system monitoring.")


def _run(algo: str, *flags: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", _RUN, algo, *flags], capture_output=True, text=True, timeout=240,
                          env={**{k: v for k, v in os.environ.items() if k != "LRGYM_RAY_LOGS"}, **(env or {})})
    assert done.stdout == "" and "exit 2" in done.stderr and "no cluster here" in done.stderr, done.stderr
    return done.stderr


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_rllibs_notices_are_not_said_and_its_other_warnings_are(algo):
    """A tiny train_rllib run printed RLlib's and Tune's notices (the new API stack, RLlib's
    deprecation of the RLModuleConfig it builds itself, gputil) among its own lines. They are
    dropped while the run lasts; other records of the same loggers are kept, and the filters go
    with the run (the gputil line logged after it is said)."""
    err = _run(algo)
    before_exit = err.split("exit 2")[0]
    assert not [n for n in NOTICES if n in before_exit], err
    assert "a warning of RLlib's that is no notice" in err and "`other` has been deprecated" in err
    assert "Install gputil for GPU system monitoring." in err.split("exit 2")[1]


@pytest.mark.parametrize("how", [("--verbose",), "LRGYM_RAY_LOGS=all"])
def test_verbose_or_the_variable_shows_everything(how):
    """``--verbose`` or ``$LRGYM_RAY_LOGS=all`` (what every Ray command reads) shows the notices,
    as Ray and RLlib say them by themselves."""
    flags, env = (how, None) if isinstance(how, tuple) else ((), dict([how.split("=")]))
    err = _run("ppo", *flags, env=env)
    before_exit = err.split("exit 2")[0]
    shown = [n for n in NOTICES if n in before_exit]
    gputil = importlib.util.find_spec("GPUtil") is None  # (asked for only where it is missing)
    assert shown == list(NOTICES if gputil else NOTICES[:2]), err


def test_a_bad_value_of_the_variable_is_the_parsers_error_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRGYM_RUNS", str(tmp_path))
    monkeypatch.setenv("LRGYM_RAY_LOGS", "loud")
    with pytest.raises(SystemExit) as exc:
        train_rllib.main(["--steps", "10", "--no-progress"])
    assert exc.value.code == 2
    assert "$LRGYM_RAY_LOGS='loud' is no choice; valid: quiet, all (unset: quiet)" in capsys.readouterr().err
