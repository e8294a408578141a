"""The learned controller's optimiser (part of :mod:`lrgym.baselines.train_controller`, which
re-exports it): antithetic OpenAI-ES (Salimans et al. 2017) with centred-rank fitness shaping and
Adam on the parameter vector (:func:`train`), model selection on a held-out block of train
instances, the whole ES state checkpointed after every generation
(:mod:`lrgym.baselines.controller_checkpoint`)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from lrgym.baselines.controller import ControllerNet
from lrgym.baselines.controller_checkpoint import ESState, write_checkpoint
from lrgym.baselines.outputs import status
from lrgym.baselines.train_controller_config import ControllerConfig
from lrgym.baselines.train_controller_episodes import (episode_scores, episode_set, evaluate_theta, references_version,
                                                       run_batch)


def centred_ranks(f: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(f))
    ranks[np.argsort(f)] = np.arange(len(f))
    return ranks / (len(f) - 1) - 0.5


def train(cfg: ControllerConfig, seed: int, log=status, *, checkpoint: str | Path | None = None,
          resume: ESState | None = None, stop_after: int | None = None) -> tuple[ControllerNet, dict]:
    """Train by ES (:mod:`lrgym.baselines.train_controller`'s docstring); returns the net with the best holdout generation's θ
    and a record (``best_generation``, ``history``, ...).

    ``checkpoint``: after every generation the whole ES state is written there
    (:mod:`lrgym.baselines.controller_checkpoint`); ``resume``: a state read back from one, from
    which the run goes on to the same θ, holdout history and kept generation as the run never
    stopped (the same config and seed; :func:`main` checks them). ``stop_after``: stop after that
    generation (its checkpoint written) if the run has not ended by then; the record then has
    ``stopped_after`` and the net the current θ.

    **Extension**: ``cfg.generations`` may be more than the checkpoint's run had (a completed
    run's checkpoint too), never fewer than its ``generation``; the run then trains what a run of
    ``cfg.generations`` from the start trains, to the bit. Nothing of a generation depends on the
    run's length (σ and Adam's step size are constant, Adam's bias correction and the draws follow
    the generation's number) but the holdout judging the last generation when it is no multiple
    of ``holdout_every``: that happens after the last checkpoint is written, so the checkpoint
    holds the state a longer run has at that generation, and a longer run never judges it."""
    rng = np.random.default_rng(seed)
    net = ControllerNet(hidden=cfg.hidden, max_step=cfg.max_step, base_lr=cfg.resolved_base_lr(),
                        rejection_threshold=cfg.rejection_threshold, family_progress=cfg.family_progress,
                        mask=cfg.mask)
    if cfg.hidden:
        # small random first layers (an all-zero MLP has no ES gradient through its hidden units)
        layers, _, _ = net.unpack(net.theta)
        for w, _b in layers[:-1]:
            w[...] = rng.normal(0, 1.0 / np.sqrt(w.shape[0]), w.shape)
    # parameters the mask keeps from acting (weights on masked inputs; with "family" masked, the
    # family terms): ES gets no fitness signal there, so it leaves them at their start
    inert = net.inert_parameters()
    t_start = time.time()
    log(f"train_controller: seed {seed}, {net.n_params} parameters, families {list(cfg.families)}")
    pools = {f: episode_set(cfg, f, cfg.train_start, int(cfg.pool[f]), log) for f in cfg.families}
    holdout = [episode_set(cfg, f, cfg.holdout_start, cfg.holdout, log) for f in cfg.families]
    if resume is None:
        state = ESState(generation=0, theta=net.theta.copy(), adam_m=np.zeros(net.n_params),
                        adam_v=np.zeros(net.n_params), rng={}, best_theta=net.theta.copy(), best_score=-np.inf,
                        best_generation=0, history=[], seconds=0.0)
    else:
        if resume.generation > cfg.generations:
            raise ValueError(f"the checkpoint is at generation {resume.generation}, past this config's "
                             f"{cfg.generations} generations")
        if resume.theta.shape != (net.n_params,):
            raise ValueError(f"the checkpoint holds {resume.theta.size} parameters, this config's net {net.n_params}")
        state = resume
        rng.bit_generator.state = resume.rng
        log(f"resumed after generation {state.generation} of {cfg.generations} (best holdout so far: generation "
            f"{state.best_generation})")
    theta, m, v = state.theta.copy(), state.adam_m.copy(), state.adam_v.copy()
    b1, b2 = 0.9, 0.999
    clock = state.seconds - time.time()  # + time.time(): seconds of training, across resumes

    def select(gen: int):
        ev = evaluate_theta(net, holdout, theta, cfg.env_options)
        state.history.append({"generation": gen, "holdout": ev, "seconds": round(clock + time.time(), 1)})
        sel = ev["all"]["mean"] - cfg.div_penalty * np.mean([ev[f]["div"] for f in cfg.families])
        tag = ""
        if sel > state.best_score:
            state.best_score, state.best_theta, state.best_generation = float(sel), theta.copy(), gen
            tag = " *"
        fam = "  ".join(f"{f} {ev[f]['mean']:.3f}/{ev[f]['div']:.0%}" for f in cfg.families)
        log(f"gen {gen:4d}  holdout mean {ev['all']['mean']:.3f} IQM {ev['all']['iqm']:.3f}  {fam}"
            f"  ({clock + time.time():.0f} s){tag}")

    def save(gen: int):
        state.generation, state.theta, state.adam_m, state.adam_v = gen, theta, m, v
        state.rng, state.seconds = rng.bit_generator.state, round(clock + time.time(), 1)
        state.finished = False  # (main marks it once the weights are written)
        if checkpoint is not None:
            write_checkpoint(checkpoint, state, {"config": dataclasses.asdict(cfg), "seed": seed,
                                                 "code": references_version()})

    if resume is None:
        select(0)
        save(0)
    for gen in range(state.generation + 1, cfg.generations + 1):
        if stop_after is not None and gen > stop_after:
            break
        eps = rng.normal(size=(cfg.pairs, theta.size))
        eps[:, inert] = 0.0  # (drawn all the same: the stream of draws does not depend on the mask)
        cands = np.concatenate([theta + cfg.sigma * eps, theta - cfg.sigma * eps])
        fitness = np.zeros(len(cands))
        for f in cfg.families:
            pool = pools[f]
            idx = rng.choice(len(pool.instances), size=min(int(cfg.batch[f]), len(pool.instances)), replace=False)
            res = run_batch(net, f, [pool.instances[i] for i in idx], [pool.seeds[i] for i in idx], cands,
                            env_options=cfg.env_options)
            s = episode_scores(res, pool.reference[idx]) - cfg.div_penalty * res["diverged"]
            fitness += s.sum(axis=1)
        total = sum(min(int(cfg.batch[f]), len(pools[f].instances)) for f in cfg.families)
        fitness /= total
        shaped = centred_ranks(fitness)
        grad = ((shaped[:cfg.pairs] - shaped[cfg.pairs:])[:, None] * eps).sum(axis=0) / (2 * cfg.pairs * cfg.sigma)
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad ** 2
        theta = theta + cfg.step_size * (m / (1 - b1 ** gen)) / (np.sqrt(v / (1 - b2 ** gen)) + 1e-8)
        if gen % 5 == 0:
            log(f"gen {gen:4d}  train fitness mean {fitness.mean():.3f} max {fitness.max():.3f}"
                f"  ({clock + time.time():.0f} s)")
        if gen % cfg.holdout_every == 0:
            select(gen)
        save(gen)
    if state.generation == cfg.generations and cfg.generations % cfg.holdout_every:
        # the last generation is judged on the holdout too, after its checkpoint: a longer run
        # (--generations M --resume) goes on from the state a run of M generations has there
        select(cfg.generations)
    info = {"seed": seed, "best_generation": state.best_generation, "holdout_selection_score": state.best_score,
            "seconds": round(clock + time.time(), 1), "history": state.history}
    if state.generation < cfg.generations:
        net.theta = theta.copy()
        info["stopped_after"] = state.generation
    else:
        net.theta = state.best_theta
    return net, info
