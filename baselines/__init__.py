"""Baseline learning-rate policies and the evaluation function they share.

=====================  ===================================================================
module                 contents
=====================  ===================================================================
``policy``             the Policy protocol and the :class:`~lrgym.baselines.policy.LRPolicy` base
``evaluation``         :func:`~lrgym.baselines.evaluation.run_episode` / ``evaluate``: THE evaluation
``schedules``          fixed, step, exponential, inverse sqrt, linear, cosine / SGDR, one-cycle
``heuristics``         bold driver, reduce-on-plateau, hypergradient descent (+ multiplicative)
``qlearning``          tabular Q-learning (train: ``python -m lrgym.baselines.qlearning``)
``sb3_agents``         SB3 DQN / PPO as policies (train: ``python -m lrgym.baselines.train_sb3``)
``registry``           ``BASELINES``, ``LEARNED``, ``HAND_DESIGNED``, ``make_baseline(name, family)``
``tune``               grid tuning on train instances → ``tuned.json`` (``python -m lrgym.baselines.tune``)
=====================  ===================================================================

The validation table of the baselines is scored like the leaderboard, so it lives one floor up:
``python -m lrgym.leaderboard.val_table``.
"""
